//===- Profile.h - TEST ONLY: memory-access efficiency of a launch -*- C++ -*-//
//
// Part of ptxsim. Without a GPU, the two memory costs of a kernel that its
// addresses alone decide can still be counted: shared-memory bank conflicts
// and global-memory coalescing. Each warp-wide memory instruction's lane
// addresses are gathered (lanes run one after another in ptxsim: the n-th
// execution of an instruction by each lane of a warp is one warp-wide
// request; a lane whose guard is false takes part without an access), then
// counted as the hardware model in NVIDIA's profiling guide does:
//  - shared: a request of B bytes per lane is served in phases of 128 bytes
//    (32 lanes for B <= 4, 16 for 8, 8 for 16); a phase takes as many
//    wavefronts as the most distinct 4-byte words any of the 32 banks holds
//    (lanes reading one word share it). Ideal: one per phase that has an
//    active lane. ldmatrix: one phase per 8x8 matrix (its 8 row addresses).
//  - global: the distinct 32-byte sectors a request touches. Ideal: its
//    distinct bytes / 32, rounded up.
// cp.async counts for both (its global source, its shared destination).
// TMA copies and wgmma operand reads are the hardware's own and not counted.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_TEST_PTXSIM_PROFILE_H
#define MBC_TEST_PTXSIM_PROFILE_H

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace ptxsim {

class Profile {
public:
  struct Counts {
    uint64_t requests = 0; // warp-wide instructions with an active lane
    uint64_t cost = 0;     // shared: wavefronts; global: sectors
    uint64_t ideal = 0;
  };
  enum Space : uint8_t { Shared, Global };

  /// A CTA of `threads` threads starts (its last warp may be partial).
  void beginCta(uint32_t threads) { threads_ = threads; }
  /// Lane `thread` executes the memory instruction at pc: an access of
  /// `bytes` at `address` in `space` (shared offset or global address).
  void access(uint32_t thread, uint32_t pc, Space space, uint64_t address,
              uint32_t bytes);
  /// cp.async: its two accesses as one request.
  void copy(uint32_t thread, uint32_t pc, uint64_t sharedOffset,
            uint64_t globalAddress, uint32_t bytes);
  /// Lane `thread` skips the memory instruction at pc (guard false).
  void skip(uint32_t thread, uint32_t pc);
  /// ldmatrix: the row addresses of each of `matrices` 8x8 matrices.
  void matrixRows(uint32_t pc, const uint32_t *rows, int matrices);
  /// Counts the requests still waiting for lanes (divergent or exited).
  void finishCta();

  const std::map<uint32_t, Counts> &counts(Space space) const {
    return counts_[space];
  }

private:
  struct Access {
    uint64_t address;
    uint32_t bytes;
    Space space;
    uint8_t lane;
  };
  struct Request {
    std::vector<Access> accesses;
    uint32_t lanes = 0; // that took part
  };
  struct Stream { // one warp's executions of one instruction
    uint32_t next[32] = {};
    uint64_t first = 0; // the request requests.front() is
    std::deque<Request> requests;
  };
  /// Lane `thread` takes part in its next request at pc with `accesses`.
  void take(uint32_t thread, uint32_t pc,
            std::initializer_list<Access> accesses);
  void count(uint32_t pc, const Request &r);

  uint32_t lanesOf(uint32_t warp) const {
    return std::min<uint32_t>(32, threads_ - 32 * warp);
  }

  uint32_t threads_ = 0;
  std::unordered_map<uint64_t, Stream> streams_; // (warp, pc)
  std::map<uint32_t, Counts> counts_[2];
};

/// Shared wavefronts of one phase: `words` the 4-byte word indices touched.
uint64_t sharedWavefronts(std::vector<uint64_t> &words);

} // namespace ptxsim

#endif // MBC_TEST_PTXSIM_PROFILE_H
