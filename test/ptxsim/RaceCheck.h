//===- RaceCheck.h - TEST ONLY: shared/global race detection ----*- C++ -*-===//
//
// Part of ptxsim. The interpreter runs a CTA's threads in one fixed
// interleaving, so a kernel that forgets a barrier can still compute the
// right numbers there and fail on a GPU. This checker looks at orderings
// instead of values: every thread has a vector clock that the CTA's
// synchronization joins (bar.sync and bar.arrive, mbarrier arrive and wait,
// the warp- and warpgroup-wide instructions), and every byte of shared
// memory remembers its last write and its latest unordered reads. Two
// accesses to a byte, at least one a write, by threads that no
// synchronization orders, are a race.
//
// Asynchronous accesses take the ordering the PTX memory model gives them:
//  - cp.async writes are checked against the issuing thread's clock when it
//    issued them (the copy may land any time after) and count as its writes
//    from its cp.async.wait_group on;
//  - a TMA copy likewise, and its mbarrier carries that clock to waiters;
//  - a wgmma reads its shared operands until a wgmma.wait_group of the
//    warpgroup retires it: a write must be ordered after such a retirement.
// A wgmma reading bytes that generic stores (st.shared, cp.async) wrote also
// needs the writer's fence.proxy.async in between.
//
// Reads of one byte by up to `kReaders` unordered threads are remembered;
// beyond that the oldest is forgotten (a race may go unreported, none is
// invented).
//
// GlobalRaceCheck, below, checks global memory between the CTAs of a launch.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_TEST_PTXSIM_RACECHECK_H
#define MBC_TEST_PTXSIM_RACECHECK_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ptxsim {

/// A conflicting earlier access, for the report.
struct Race {
  enum Kind {
    ReadAfterWrite,
    WriteAfterRead,
    WriteAfterWrite,
    WgmmaRead,
    MissingProxyFence
  };
  Kind kind;
  uint64_t offset;      // the shared byte
  uint32_t otherThread; // linear thread id of the earlier access
  uint32_t otherPc;     // its instruction
};

class RaceCheck {
public:
  static constexpr int kReaders = 4;
  using Clock = std::vector<uint32_t>;

  RaceCheck(uint32_t threads, uint64_t sharedBytes);

  /// t's clock (one entry per thread of the CTA).
  const uint32_t *clockOf(uint32_t t) const {
    return clocks_.data() + size_t(t) * threads_;
  }
  Clock snapshot(uint32_t t) const {
    return Clock(clockOf(t), clockOf(t) + threads_);
  }

  /// A release: joins t's clock into `into`, then t's own entry ticks.
  void release(uint32_t t, Clock &into);
  /// An acquire: t's clock joins `from`.
  void acquire(uint32_t t, const Clock &from);
  /// Joins `from` into `into` (an empty `into`: nothing joined yet).
  void join(Clock &into, const Clock &from) const;
  /// A warp- or warpgroup-wide instruction: threads first..first+count-1
  /// converge (each acquires all the others' clocks).
  void converge(uint32_t first, uint32_t count);
  /// fence.proxy.async by t.
  void proxyFence(uint32_t t) { ++fences_[t]; }

  /// A load or store by t at instruction pc.
  std::optional<Race> read(uint32_t t, uint32_t pc, uint64_t offset,
                           uint64_t bytes);
  std::optional<Race> write(uint32_t t, uint32_t pc, uint64_t offset,
                            uint64_t bytes);
  /// An asynchronous write issued by t at pc when t's clock was `issued`,
  /// landing now. A TMA copy (`asyncProxy`: wgmma may read it without a
  /// proxy fence) counts as t's write at the issue, a cp.async one as t's
  /// write now, at its wait.
  std::optional<Race> asyncWrite(uint32_t t, uint32_t pc, const Clock &issued,
                                 uint64_t offset, uint64_t bytes,
                                 bool asyncProxy);

  /// A wgmma issued by the warpgroup led by `leader` (whose threads have
  /// converged) at pc: returns its id for the reads and the retirements.
  uint32_t beginWgmma(uint32_t leader, uint32_t pc);
  std::optional<Race> wgmmaRead(uint32_t wgmma, uint64_t offset,
                                uint64_t bytes);
  /// t's wgmma.wait_group retired it: t's later releases order its reads.
  void retireWgmma(uint32_t wgmma, uint32_t t);

private:
  struct Reader {
    uint32_t clock;
    uint32_t pc;
    uint16_t thread;
  };
  struct Cell {
    uint32_t writeClock = 0, writePc = 0, writerFences = 0;
    uint32_t wgmma = 0; // the last wgmma reading it (an id), or 0
    uint16_t writer = 0;
    uint8_t written = 0; // 0: never, 1: generic proxy, 2: async proxy
    uint8_t readers = 0;
    Reader reader[kReaders];
  };
  struct Wgmma {
    uint32_t leader, pc;
    std::vector<std::pair<uint16_t, uint32_t>> retired; // thread, clock
  };

  /// Whether the access (thread u at clock c) is ordered before a thread
  /// whose clock is `now`.
  static bool before(const uint32_t *now, uint32_t u, uint32_t c) {
    return now[u] >= c;
  }
  /// Whether that access is another thread's than t's and not ordered
  /// before t (clock `now`): a conflict if one of the two writes.
  static bool unordered(const uint32_t *now, uint32_t t, uint32_t u,
                        uint32_t c) {
    return u != t && !before(now, u, c);
  }
  /// The cell's last write, when `unordered` with t.
  static bool unorderedWrite(const Cell &cell, const uint32_t *now,
                             uint32_t t) {
    return cell.written && unordered(now, t, cell.writer, cell.writeClock);
  }
  std::optional<Race> checkWrite(uint32_t t, const uint32_t *now,
                                 uint64_t offset, Cell &cell);
  void recordWrite(uint32_t t, uint32_t pc, uint32_t clock, Cell &cell,
                   uint8_t proxy);

  uint32_t threads_;
  std::vector<uint32_t> clocks_; // threads_ x threads_
  std::vector<uint32_t> fences_; // fence.proxy.async count per thread
  std::vector<Cell> cells_;      // one per shared byte
  std::vector<Wgmma> wgmmas_;    // id - 1
  // The last wgmma whose retirements were found to order the current write
  // (reset for each), to spare the search for its next bytes.
  uint32_t orderedWgmma_ = 0;
};

/// Global memory across the CTAs of one launch. ptxsim runs the CTAs one
/// after another; a GPU runs them in any order or at once, and mbc's kernels
/// order no CTA after another (no atomics, no grid-wide barrier). So a byte
/// that one CTA writes and another reads or writes in the same launch is a
/// race, whatever the order ptxsim happened to take.
class GlobalRaceCheck {
public:
  /// The earlier access of another CTA to `address`.
  struct Conflict {
    uint64_t address;
    uint32_t otherCta; // linear CTA id
    bool otherWrote;   // else read (by it, and by others when `several`)
    bool several;
  };
  /// Bytes of device memory tracked at most (4 bytes of state each); past
  /// that the launch is no longer checked (`overflowed`).
  static constexpr uint64_t kMaxTrackedBytes = uint64_t(256) << 20;

  /// An access of `bytes` at `address` by CTA `cta` (< 2^30).
  std::optional<Conflict> access(uint32_t cta, uint64_t address, uint64_t bytes,
                                 bool write);
  bool overflowed() const { return overflowed_; }

private:
  static constexpr uint64_t kPageBytes = 4096;
  // A byte's state: 0 untouched, else the kind in the top 2 bits and the
  // (first) CTA in the low 30.
  enum : uint32_t { kReadOnce = 1, kReadMany = 2, kWritten = 3 };
  std::unordered_map<uint64_t, std::unique_ptr<uint32_t[]>> pages_;
  bool overflowed_ = false;
};

} // namespace ptxsim

#endif // MBC_TEST_PTXSIM_RACECHECK_H
