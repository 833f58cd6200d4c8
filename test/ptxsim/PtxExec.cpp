//===- PtxExec.cpp - TEST ONLY: ptxsim's interpreter ----------------------===//
//
// Runs a grid one CTA at a time. Each thread has its own registers and
// program counter and runs until it reaches a point it must share with
// others: a CTA barrier (bar.sync/bar.arrive), a warp-wide instruction
// (shfl, ldmatrix, mma), a warpgroup-wide one (wgmma.mma_async), or an
// mbarrier wait that is not satisfied yet. When every live thread is parked,
// the shared operations whose participants have all arrived run, and the
// threads go on. Threads run in ascending order on even rounds and
// descending order on odd ones, so a missing barrier tends to show.
//
// Memory: global accesses must fall inside a tracked device allocation,
// shared ones inside the CTA's static + dynamic shared memory (which starts
// as NaN bytes), parameter reads inside the parameter buffer; naturally
// aligned, as the hardware requires. cp.async copies complete at their
// cp.async.wait_group, not before; TMA copies at the end of the round they
// were issued in (NaN bytes until then), when their mbarrier receives the
// bytes. wgmma results are in flight until the wgmma.wait_group that
// retires them: another instruction touching those registers is reported.
//
//===----------------------------------------------------------------------===//
#include "Fragments.h"
#include "Profile.h"
#include "Ptx.h"
#include "PtxSim.h"
#include "RaceCheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace ptxsim {
namespace {

constexpr uint64_t sharedWindow = 1ull << 60; // generic addresses of shared
constexpr uint64_t paramWindow = 1ull << 61;  // ... and of parameters
constexpr uint64_t windowSize = 1ull << 32;
constexpr uint64_t maxSharedBytes = 232448;  // sm_90's opt-in limit
constexpr uint64_t defaultSharedBytes = 49152;
constexpr uint64_t instructionLimit = 2000000000ull; // per CTA

std::mutex allocationsMutex;
std::map<uint64_t, uint64_t> &allocations() {
  static std::map<uint64_t, uint64_t> map; // base -> size
  return map;
}

uint64_t mask(uint64_t value, unsigned bits) {
  return bits >= 64 ? value : value & ((1ull << bits) - 1);
}
int64_t signExtend(uint64_t value, unsigned bits) {
  if (bits >= 64)
    return static_cast<int64_t>(value);
  uint64_t sign = 1ull << (bits - 1);
  return static_cast<int64_t>((mask(value, bits) ^ sign) - sign);
}
float asFloat(uint64_t bits) {
  uint32_t word = static_cast<uint32_t>(bits);
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}
uint64_t floatBits(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  return word;
}
uint16_t toBf16(float value) {
  uint32_t bits = static_cast<uint32_t>(floatBits(value));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}
/// f32 -> IEEE f16, round to nearest even (written out: not every host
/// compiler has _Float16).
uint16_t toF16(float value) {
  uint32_t x = static_cast<uint32_t>(floatBits(value));
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude > 0x7f800000u) // NaN stays a (quiet) NaN
    return sign | 0x7e00 | ((magnitude >> 13) & 0x3ff);
  if (magnitude >= 0x477ff000u) // rounds past 65504
    return sign | 0x7c00;
  if (magnitude >= 0x38800000u) // normal: rebias 127 -> 15, round at bit 13
    return sign | static_cast<uint16_t>((magnitude - 0x38000000u + 0xfffu +
                                         ((magnitude >> 13) & 1)) >>
                                        13);
  // Subnormal: k x 2^-24 with k = mantissa (implicit bit set) >> shift.
  uint32_t exponent = magnitude >> 23;
  uint32_t shift = 126 - exponent;
  if (shift > 24)
    return sign;
  uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
  uint32_t k = mantissa >> shift, rest = mantissa & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (k & 1)))
    ++k; // 1024 is the smallest normal's encoding
  return sign | static_cast<uint16_t>(k);
}

enum class State : uint8_t { Ready, Collective, Barrier, Spin, Done };

struct AsyncCopy {
  uint64_t destination; // shared offset
  uint64_t source;      // global address
  uint32_t bytes, sourceBytes;
  uint32_t pc;
};

/// cp.async copies committed together; `issued`: the issuing thread's clock
/// at the first of them (race checking only).
struct CopyGroup {
  std::vector<AsyncCopy> copies;
  std::vector<uint32_t> issued;
};

struct Thread {
  uint32_t x = 0, y = 0, z = 0, linear = 0;
  uint32_t pc = 0;
  State state = State::Ready;
  uint64_t *registers = nullptr;
  std::vector<CopyGroup> groups; // committed cp.async groups
  CopyGroup open;                // not yet committed
  // wgmma results in flight (kernels with wgmma only): a register's value
  // lands at the wgmma.wait_group that retires its last group; until then
  // any other instruction that reads or writes it is reported.
  std::vector<uint64_t> inFlight;                // the value it will have
  std::vector<uint16_t> inFlightGroups;          // groups still writing it
  std::vector<std::vector<int32_t>> wgmmaGroups; // committed, oldest first
  std::vector<int32_t> wgmmaOpen;                // not yet committed
  std::vector<uint32_t> openGroup; // the open group a register is in
  uint32_t groupSerial = 1;        // the open group's number
  // Race checking: the wgmmas (RaceCheck ids) of each group, as above.
  std::vector<std::vector<uint32_t>> wgmmaGroupIds;
  std::vector<uint32_t> wgmmaOpenIds;
};

struct Mbarrier {
  uint32_t expected = 0, pending = 0;
  int64_t transactions = 0;
  uint64_t phase = 0;
  // Race checking: what the current phase's arrivals released, and what
  // the last completed phase did (what a successful wait acquires).
  std::vector<uint32_t> clock, completed;
};

struct HardwareBarrier {
  uint32_t arrivals = 0;
  uint32_t count = 0; // 0: every live thread of the CTA
  std::vector<uint32_t> waiters;
  std::vector<uint32_t> clock; // race checking: the arrivals' clocks
};

class Error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Launch {
  const Function &function;
  unsigned grid[3], block[3];
  uint64_t dynamicShared;
  const unsigned char *params;
  bool raceCheck;
  Profile *profile;             // null: not profiling
  GlobalRaceCheck *globalRaces; // null: not checking
};

class Cta {
public:
  Cta(const Launch &launch, unsigned x, unsigned y, unsigned z)
      : launch_(launch), function_(launch.function), ctaid_{x, y, z},
        linearCta_(x + launch.grid[0] * (y + launch.grid[1] * z)) {
    uint64_t staticBytes = (function_.staticSharedBytes + 15) / 16 * 16;
    shared_.assign(staticBytes + launch.dynamicShared, 0xFF);
    unsigned count = launch.block[0] * launch.block[1] * launch.block[2];
    if (launch.raceCheck)
      race_ = std::make_unique<RaceCheck>(count, shared_.size());
    if (launch.profile)
      launch.profile->beginCta(count);
    registerFile_.assign(size_t(count) * std::max(1, function_.registerCount),
                         0);
    threads_.resize(count);
    for (unsigned i = 0; i < count; ++i) {
      Thread &t = threads_[i];
      t.linear = i;
      t.x = i % launch.block[0];
      t.y = i / launch.block[0] % launch.block[1];
      t.z = i / (launch.block[0] * launch.block[1]);
      t.registers = registerFile_.data() + size_t(i) * function_.registerCount;
      if (function_.usesWgmma) {
        t.inFlight.assign(function_.registerCount, 0);
        t.inFlightGroups.assign(function_.registerCount, 0);
        t.openGroup.assign(function_.registerCount, 0);
      }
    }
  }

  void run() {
    for (uint64_t round = 0;; ++round) {
      bool progress = false;
      size_t count = threads_.size();
      for (size_t k = 0; k < count; ++k) {
        Thread &t = threads_[round % 2 ? count - 1 - k : k];
        if (t.state == State::Ready || t.state == State::Spin)
          progress |= step(t);
      }
      progress |= landTensorCopies();
      progress |= releaseBarriers();
      progress |= runCollectives();
      bool done = std::all_of(threads_.begin(), threads_.end(),
                              [](const Thread &t) {
                                return t.state == State::Done;
                              });
      if (done)
        return;
      if (!progress)
        throw Error(where() + ": deadlock: " + parkedThreads());
    }
  }

private:
  std::string where() const {
    return "block (" + std::to_string(ctaid_[0]) + "," +
           std::to_string(ctaid_[1]) + "," + std::to_string(ctaid_[2]) + ")";
  }

  [[noreturn]] void fail(const Thread &t, const std::string &what) const {
    const Instruction &in = function_.code[t.pc];
    throw Error(where() + " thread (" + std::to_string(t.x) + "," +
                std::to_string(t.y) + "," + std::to_string(t.z) +
                "), line " + std::to_string(in.line) + " '" + in.text +
                "': " + what);
  }

  std::string parkedThreads() const {
    std::map<std::string, int> states;
    for (const Thread &t : threads_) {
      if (t.state == State::Done)
        continue;
      const Instruction &in = function_.code[t.pc];
      states["line " + std::to_string(in.line) + " '" + in.text + "'"]++;
    }
    std::string text;
    for (auto &[where, count] : states)
      text += (text.empty() ? "" : "; ") + std::to_string(count) +
              " threads at " + where;
    // What a waiter on an mbarrier waits for: arrivals or transaction bytes.
    for (auto &[offset, m] : mbarriers_)
      text += "; mbarrier at shared offset " + std::to_string(offset) +
              ": phase " + std::to_string(m.phase) + ", " +
              std::to_string(m.pending) + " of " + std::to_string(m.expected) +
              " arrivals and " + std::to_string(m.transactions) +
              " transaction bytes pending";
    return text;
  }

  //--- races ------------------------------------------------------------===//

  std::string describe(uint32_t thread, uint32_t pc) const {
    const Thread &t = threads_[thread];
    const Instruction &in = function_.code[pc];
    return "thread (" + std::to_string(t.x) + "," + std::to_string(t.y) + "," +
           std::to_string(t.z) + ") line " + std::to_string(in.line) + " '" +
           in.text + "'";
  }

  /// Stops at a race found for `thread`'s access at `pc`.
  void check(std::optional<Race> race, uint32_t thread, uint32_t pc) const {
    if (!race)
      return;
    std::string me = describe(thread, pc);
    std::string other = describe(race->otherThread, race->otherPc);
    std::string what;
    switch (race->kind) {
    case Race::ReadAfterWrite:
      what = me + " reads it, written by " + other;
      break;
    case Race::WriteAfterRead:
      what = me + " writes it, read by " + other;
      break;
    case Race::WriteAfterWrite:
      what = me + " writes it, written by " + other;
      break;
    case Race::WgmmaRead:
      what = me + " writes it while the wgmma of " + other +
             " may still read it (no wgmma.wait_group retiring that wgmma "
             "is ordered before the write)";
      break;
    case Race::MissingProxyFence:
      throw Error(where() + ": shared byte " + hex(race->offset) + ": " + me +
                  " reads it through the async proxy, but the generic store "
                  "of " +
                  other + " is not followed by a fence.proxy.async");
    }
    throw Error(where() + ": shared-memory race on byte " + hex(race->offset) +
                ": " + what + ", and no synchronization orders the two");
  }

  /// Records `thread`'s global access at `pc`; stops at a byte another
  /// CTA of the launch wrote, or read before this write.
  void checkGlobalAccess(uint32_t thread, uint32_t pc, uint64_t address,
                         uint64_t bytes, bool write) const {
    if (!launch_.globalRaces)
      return;
    std::optional<GlobalRaceCheck::Conflict> conflict =
        launch_.globalRaces->access(linearCta_, address, bytes, write);
    if (!conflict)
      return;
    uint32_t other = conflict->otherCta;
    std::string otherBlock =
        "block (" + std::to_string(other % launch_.grid[0]) + "," +
        std::to_string(other / launch_.grid[0] % launch_.grid[1]) + "," +
        std::to_string(other / (launch_.grid[0] * launch_.grid[1])) + ")";
    std::string earlier =
        conflict->otherWrote ? "written by " + otherBlock
        : conflict->several
            ? "read by other blocks (the first: " + otherBlock + ")"
            : "read by " + otherBlock;
    throw Error(where() + ": global-memory race on address " +
                hex(conflict->address) + ": " + describe(thread, pc) +
                (write ? " writes it, " : " reads it, ") + earlier +
                " in the same launch (blocks run in any order)");
  }

  //--- operands ---------------------------------------------------------===//

  uint64_t symbolAddress(int32_t index) const {
    return function_.symbols[index].offset;
  }

  uint64_t special(const Thread &t, Special which) const {
    switch (which) {
    case Special::TidX:
      return t.x;
    case Special::TidY:
      return t.y;
    case Special::TidZ:
      return t.z;
    case Special::NtidX:
      return launch_.block[0];
    case Special::NtidY:
      return launch_.block[1];
    case Special::NtidZ:
      return launch_.block[2];
    case Special::CtaidX:
      return ctaid_[0];
    case Special::CtaidY:
      return ctaid_[1];
    case Special::CtaidZ:
      return ctaid_[2];
    case Special::NctaidX:
      return launch_.grid[0];
    case Special::NctaidY:
      return launch_.grid[1];
    case Special::NctaidZ:
      return launch_.grid[2];
    case Special::LaneId:
      return t.linear % 32;
    case Special::WarpId:
      return t.linear / 32;
    case Special::DynamicSmemSize:
      return launch_.dynamicShared;
    }
    return 0;
  }

  uint64_t value(const Thread &t, const Operand &o) const {
    uint64_t result = 0;
    switch (o.kind) {
    case Operand::Reg:
      if (!t.inFlightGroups.empty() && t.inFlightGroups[o.reg])
        fail(t, "reads a wgmma accumulator before the wgmma.wait_group "
                "that retires it");
      result = t.registers[o.reg];
      break;
    case Operand::Imm:
      result = o.imm;
      break;
    case Operand::SpecialReg:
      result = special(t, o.special);
      break;
    case Operand::Symbol:
      result = symbolAddress(o.symbol) + o.imm;
      break;
    default:
      fail(t, "operand is not a value");
    }
    return o.negate ? !(result & 1) : result;
  }

  void set(Thread &t, const Operand &o, uint64_t bits) {
    if (o.kind != Operand::Reg)
      fail(t, "destination is not a register");
    if (!t.inFlightGroups.empty() && t.inFlightGroups[o.reg])
      fail(t, "writes a wgmma accumulator before the wgmma.wait_group that "
              "retires it");
    t.registers[o.reg] = bits;
  }

  /// A wgmma accumulator as the next wgmma sees it: the in-flight value of
  /// an earlier wgmma (the hardware chains them), else the register.
  static uint64_t accumulator(const Thread &t, const Operand &o) {
    if (o.kind == Operand::Reg && t.inFlightGroups[o.reg])
      return t.inFlight[o.reg];
    return o.kind == Operand::Reg ? t.registers[o.reg] : o.imm;
  }

  void retireWgmmaGroups(Thread &t, size_t keep) {
    while (t.wgmmaGroups.size() > keep) {
      for (int32_t reg : t.wgmmaGroups.front())
        if (--t.inFlightGroups[reg] == 0)
          t.registers[reg] = t.inFlight[reg];
      t.wgmmaGroups.erase(t.wgmmaGroups.begin());
      if (race_) {
        for (uint32_t id : t.wgmmaGroupIds.front())
          race_->retireWgmma(id, t.linear);
        t.wgmmaGroupIds.erase(t.wgmmaGroupIds.begin());
      }
    }
  }

  uint64_t address(const Thread &t, const Operand &o) const {
    if (o.kind != Operand::Memory)
      fail(t, "expected an address operand");
    uint64_t base = o.reg >= 0      ? t.registers[o.reg]
                    : o.symbol >= 0 ? symbolAddress(o.symbol)
                                    : 0;
    return base + o.imm;
  }

  /// The bytes at `address` in `space`, checked for range and alignment.
  uint8_t *memory(const Thread &t, Space space, uint64_t address,
                  uint64_t bytes, uint64_t align, bool write) {
    if (space == Space::Generic) {
      if (address >= sharedWindow && address < sharedWindow + windowSize)
        space = Space::Shared, address -= sharedWindow;
      else if (address >= paramWindow && address < paramWindow + windowSize)
        space = Space::Param, address -= paramWindow;
      else
        space = Space::Global;
    }
    if (align > 1 && address % align != 0)
      fail(t, "misaligned address " + hex(address) + " for a " +
                  std::to_string(bytes) + "-byte access");
    switch (space) {
    case Space::Shared:
      if (address + bytes > shared_.size() || address + bytes < address)
        fail(t, "shared address " + hex(address) + " (+" +
                    std::to_string(bytes) + ") outside the " +
                    std::to_string(shared_.size()) + " bytes of the block");
      if (write)
        checkMbarrierOverlap(t, address, bytes);
      return shared_.data() + address;
    case Space::Param:
      if (write)
        fail(t, "store to the parameter space");
      if (address + bytes > function_.parameterBytes)
        fail(t, "parameter offset " + std::to_string(address) +
                    " outside the " +
                    std::to_string(function_.parameterBytes) +
                    " bytes of parameters");
      return const_cast<uint8_t *>(launch_.params + address);
    default: {
      std::string problem = checkGlobal(address, bytes);
      if (!problem.empty())
        fail(t, problem);
      return reinterpret_cast<uint8_t *>(address);
    }
    }
  }

  /// A store, copy or TMA load into an initialized mbarrier's 8 bytes
  /// would corrupt it on a GPU (ptxsim keeps an mbarrier's state apart from
  /// the bytes, so it would not show otherwise): static mbarriers
  /// overlapping data placed from a dynamic shared memory base, say.
  void checkMbarrierOverlap(const Thread &t, uint64_t address,
                            uint64_t bytes) const {
    auto next = mbarriers_.lower_bound(address >= 7 ? address - 7 : 0);
    if (next != mbarriers_.end() && next->first < address + bytes)
      fail(t, "a write to shared bytes " + hex(address) + ".." +
                  hex(address + bytes - 1) + " overwrites the mbarrier at " +
                  "shared offset " + std::to_string(next->first));
  }

  static std::string hex(uint64_t value) {
    std::ostringstream out;
    out << "0x" << std::hex << value;
    return out.str();
  }

  static std::string checkGlobal(uint64_t address, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(allocationsMutex);
    auto &map = allocations();
    auto next = map.upper_bound(address);
    if (next != map.begin()) {
      auto it = std::prev(next);
      if (address >= it->first && address + bytes <= it->first + it->second)
        return "";
    }
    return "global address " + hex(address) + " (+" + std::to_string(bytes) +
           ") is outside every device allocation";
  }

  //--- one thread -------------------------------------------------------===//

  /// Runs `t` until it parks or ends; whether anything changed.
  bool step(Thread &t) {
    bool progress = false;
    while (true) {
      if (t.pc >= function_.code.size()) {
        t.state = State::Done;
        return true;
      }
      if (++instructions_ > instructionLimit)
        fail(t, "more than " + std::to_string(instructionLimit) +
                    " instructions in one block (a loop that never ends?)");
      const Instruction &in = function_.code[t.pc];
      if (in.guard >= 0 &&
          bool(t.registers[in.guard] & 1) == in.guardNegated) {
        if (launch_.profile && in.space != Space::Param &&
            (in.op == Op::Ld || in.op == Op::St || in.op == Op::CpAsync))
          launch_.profile->skip(t.linear, t.pc);
        ++t.pc;
        progress = true;
        continue;
      }
      switch (in.op) {
      case Op::Ret:
        t.state = State::Done;
        return true;
      case Op::Bra:
        t.pc = in.target;
        progress = true;
        continue;
      case Op::Bar:
      case Op::BarArrive:
        barrier(t, in);
        if (in.op == Op::Bar)
          return true;
        break;
      case Op::Shfl:
      case Op::Mma:
      case Op::Ldmatrix:
      case Op::Wgmma:
        t.state = State::Collective;
        return true;
      case Op::MbarrierTryWaitParity:
        if (!tryWait(t, in)) {
          bool changed = t.state != State::Spin;
          t.state = State::Spin;
          return progress || changed;
        }
        t.state = State::Ready;
        break;
      default:
        execute(t, in);
      }
      ++t.pc;
      progress = true;
    }
  }

  void barrier(Thread &t, const Instruction &in) {
    uint64_t id = value(t, in.operands.at(0));
    if (id >= 16)
      fail(t, "barrier id " + std::to_string(id) + " is not 0..15");
    HardwareBarrier &b = barriers_[id];
    uint32_t count = 0;
    if (in.operands.size() > 1) {
      count = static_cast<uint32_t>(value(t, in.operands[1]));
      if (count % 32 != 0 || count == 0)
        fail(t, "barrier thread count " + std::to_string(count) +
                    " is not a positive multiple of 32");
    }
    if (b.arrivals && b.count != count)
      fail(t, "threads arrive at barrier " + std::to_string(id) +
                  " with different thread counts");
    b.count = count;
    ++b.arrivals;
    if (race_)
      race_->release(t.linear, b.clock);
    if (in.op == Op::Bar) {
      t.state = State::Barrier;
      b.waiters.push_back(t.linear);
    }
  }

  bool releaseBarriers() {
    uint32_t live = 0;
    for (const Thread &t : threads_)
      live += t.state != State::Done;
    bool released = false;
    for (HardwareBarrier &b : barriers_) {
      uint32_t expected = b.count ? b.count : live;
      if (!b.arrivals || b.arrivals < expected)
        continue;
      if (b.arrivals > expected)
        throw Error(where() + ": " + std::to_string(b.arrivals) +
                    " arrivals at a barrier that expects " +
                    std::to_string(expected));
      for (uint32_t waiter : b.waiters) {
        threads_[waiter].state = State::Ready;
        ++threads_[waiter].pc;
        if (race_)
          race_->acquire(waiter, b.clock);
      }
      b = HardwareBarrier();
      released = true;
    }
    return released;
  }

  //--- shared operations -------------------------------------------------===//

  /// Runs every warp (or warpgroup) operation whose threads have all
  /// arrived.
  bool runCollectives() {
    bool ran = false;
    size_t count = threads_.size();
    for (size_t warp = 0; warp * 32 < count; ++warp) {
      Thread &first = threads_[warp * 32];
      if (first.state != State::Collective)
        continue;
      const Instruction &in = function_.code[first.pc];
      size_t width = in.op == Op::Wgmma ? 128 : 32;
      if (in.op == Op::Wgmma && warp % 4 != 0)
        continue; // the warpgroup's first warp leads
      size_t end = std::min(count, warp * 32 + width);
      // A block's last warp may be partial: shfl.sync then names only its
      // threads in the member mask; the matrix instructions need them all.
      size_t threads = end - warp * 32;
      if (threads != width && in.op != Op::Shfl)
        fail(first, "needs a full " + std::to_string(width) + "-thread group");
      // Not yet: a thread still to arrive. Threads parked elsewhere are a
      // divergent collective, which the deadlock report names.
      bool all = true;
      for (size_t i = warp * 32; i < end && all; ++i)
        all = threads_[i].state == State::Collective &&
              threads_[i].pc == first.pc;
      if (!all)
        continue;
      Thread *group = &threads_[warp * 32];
      if (race_)
        race_->converge(uint32_t(warp * 32), uint32_t(threads));
      switch (in.op) {
      case Op::Shfl:
        shuffle(group, int(threads), in);
        break;
      case Op::Mma:
        mma(group, in);
        break;
      case Op::Ldmatrix:
        loadMatrix(group, in);
        break;
      case Op::Wgmma:
        wgmma(group, in);
        break;
      default:
        break;
      }
      for (size_t i = 0; i < threads; ++i) {
        group[i].state = State::Ready;
        ++group[i].pc;
      }
      ran = true;
    }
    return ran;
  }

  /// shfl.sync over the `lanes` threads of a warp (32, or fewer in a
  /// block's last warp), all of them members.
  void shuffle(Thread *warp, int lanes, const Instruction &in) {
    if (in.operands.size() != 5)
      fail(warp[0], "shfl.sync needs d, a, b, c, membermask");
    uint32_t source[32];
    for (int lane = 0; lane < lanes; ++lane)
      source[lane] = static_cast<uint32_t>(value(warp[lane], in.operands[1]));
    uint32_t everyThread =
        lanes == 32 ? 0xffffffffu : (uint32_t(1) << lanes) - 1;
    for (int lane = 0; lane < lanes; ++lane) {
      Thread &t = warp[lane];
      uint32_t b = value(t, in.operands[2]) & 31;
      uint32_t c = static_cast<uint32_t>(value(t, in.operands[3]));
      uint32_t members = static_cast<uint32_t>(value(t, in.operands[4]));
      if (members != everyThread)
        fail(t, "ptxsim supports shfl.sync whose member mask is every "
                "thread of the warp only");
      uint32_t clamp = c & 31, segment = (c >> 8) & 31;
      uint32_t maxLane = (lane & segment) | (clamp & ~segment);
      uint32_t minLane = lane & segment;
      int32_t j = lane;
      bool valid = false;
      if (in.cmp == "up")
        j = lane - int32_t(b), valid = j >= int32_t(maxLane);
      else if (in.cmp == "down")
        j = lane + b, valid = j <= int32_t(maxLane);
      else if (in.cmp == "bfly")
        j = lane ^ b, valid = j <= int32_t(maxLane);
      else
        j = minLane | (b & ~segment), valid = j <= int32_t(maxLane);
      if (!valid)
        j = lane;
      if (j >= lanes)
        fail(t, "shfl.sync reads lane " + std::to_string(j) +
                    ", which has no thread (undefined)");
      set(t, in.operands[0], source[j]);
      if (in.operands[0].reg2 >= 0)
        t.registers[in.operands[0].reg2] = valid;
    }
  }

  void mma(Thread *warp, const Instruction &in) {
    const std::vector<Operand> &o = in.operands;
    if (o.size() != 4 || o[0].elements.size() != 4 ||
        o[1].elements.size() != 4 || o[2].elements.size() != 2 ||
        o[3].elements.size() != 4)
      fail(warp[0], "mma.sync m16n8k16 needs {4}, {4}, {2}, {4} registers");
    uint32_t a[32][4], b[32][2];
    float c[32][4], d[32][4];
    for (int lane = 0; lane < 32; ++lane) {
      for (int i = 0; i < 4; ++i) {
        a[lane][i] = uint32_t(value(warp[lane], o[1].elements[i]));
        c[lane][i] = asFloat(value(warp[lane], o[3].elements[i]));
      }
      for (int i = 0; i < 2; ++i)
        b[lane][i] = uint32_t(value(warp[lane], o[2].elements[i]));
    }
    mmaSyncM16N8K16(in.type == Type::F16 ? HalfType::F16 : HalfType::BF16, a,
                    b, c, d);
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < 4; ++i)
        set(warp[lane], o[0].elements[i], floatBits(d[lane][i]));
  }

  uint64_t sharedOffset(const Thread &t, uint64_t address) const {
    // A shared-window address, or a generic one that points into it.
    if (address >= sharedWindow && address < sharedWindow + windowSize)
      return address - sharedWindow;
    if (address >= windowSize)
      fail(t, "address " + hex(address) + " is not a shared address");
    return address;
  }

  void loadMatrix(Thread *warp, const Instruction &in) {
    const std::vector<Operand> &o = in.operands;
    if (o.size() != 2 || int(o[0].elements.size()) != in.shape)
      fail(warp[0], "ldmatrix needs .x" + std::to_string(in.shape) +
                        " destination registers");
    uint32_t addresses[32], d[32][4];
    for (int lane = 0; lane < 32; ++lane)
      addresses[lane] = uint32_t(sharedOffset(warp[lane],
                                              address(warp[lane], o[1])));
    std::string problem = ldmatrix(in.shape, in.flag, addresses,
                                   shared_.data(), shared_.size(), d);
    if (!problem.empty())
      fail(warp[0], problem);
    if (launch_.profile)
      launch_.profile->matrixRows(warp[0].pc, addresses, in.shape);
    if (race_) // lanes 8i..8i+7 give the rows of matrix i
      for (int lane = 0; lane < 8 * in.shape; ++lane)
        check(
            race_->read(warp[lane].linear, warp[lane].pc, addresses[lane], 16),
            warp[lane].linear, warp[lane].pc);
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < in.shape; ++i)
        set(warp[lane], o[0].elements[i], d[lane][i]);
  }

  void wgmma(Thread *group, const Instruction &in) {
    const std::vector<Operand> &o = in.operands;
    WgmmaOperands w;
    w.n = in.shape;
    w.type = in.type == Type::F16 ? HalfType::F16 : HalfType::BF16;
    w.aFromRegisters = o.size() > 1 && o[1].kind == Operand::Vector;
    size_t expected = w.aFromRegisters ? 7 : 8;
    if (o.size() != expected || int(o[0].elements.size()) != w.n / 2)
      fail(group[0], "wgmma operands do not match m64n" + std::to_string(w.n) +
                         "k16");
    std::vector<uint32_t> aRegisters(128 * 4);
    std::vector<float> d(128 * size_t(w.n / 2));
    for (int t = 0; t < 128; ++t) {
      for (int i = 0; i < w.n / 2; ++i)
        d[t * (w.n / 2) + i] = asFloat(accumulator(group[t], o[0].elements[i]));
      if (w.aFromRegisters) {
        if (o[1].elements.size() != 4)
          fail(group[0], "wgmma's register A needs four registers");
        for (int i = 0; i < 4; ++i)
          aRegisters[t * 4 + i] = uint32_t(value(group[t], o[1].elements[i]));
      }
    }
    const Thread &t0 = group[0];
    if (!w.aFromRegisters)
      w.descA = value(t0, o[1]);
    w.aRegisters = reinterpret_cast<const uint32_t(*)[4]>(aRegisters.data());
    w.descB = value(t0, o[2]);
    w.scaleD = value(t0, o[3]) & 1;
    w.scaleA = int32_t(value(t0, o[4])) == -1 ? -1 : 1;
    w.scaleB = int32_t(value(t0, o[5])) == -1 ? -1 : 1;
    if (w.aFromRegisters) {
      w.transB = int(value(t0, o[6]));
    } else {
      w.transA = int(value(t0, o[6]));
      w.transB = int(value(t0, o[7]));
    }
    std::vector<uint32_t> read;
    if (race_)
      w.sharedRead = &read;
    std::string problem =
        wgmmaMmaAsync(w, shared_.data(), shared_.size(), d.data());
    if (!problem.empty())
      fail(group[0], problem);
    if (race_) {
      uint32_t id = race_->beginWgmma(group[0].linear, group[0].pc);
      for (uint32_t offset : read)
        check(race_->wgmmaRead(id, offset, 2), group[0].linear, group[0].pc);
      for (int t = 0; t < 128; ++t)
        group[t].wgmmaOpenIds.push_back(id);
    }
    // The results are in flight until a wgmma.wait_group retires them.
    for (int t = 0; t < 128; ++t) {
      Thread &thread = group[t];
      for (int i = 0; i < w.n / 2; ++i) {
        const Operand &r = o[0].elements[i];
        if (r.kind != Operand::Reg)
          fail(thread, "wgmma accumulators must be registers");
        thread.inFlight[r.reg] = floatBits(d[t * (w.n / 2) + i]);
        if (thread.openGroup[r.reg] != thread.groupSerial) {
          thread.openGroup[r.reg] = thread.groupSerial;
          thread.wgmmaOpen.push_back(r.reg);
          ++thread.inFlightGroups[r.reg];
        }
      }
    }
  }

  //--- mbarriers, asynchronous copies -------------------------------------===//

  Mbarrier &mbarrier(const Thread &t, const Operand &o) {
    uint64_t offset = sharedOffset(t, address(t, o));
    memory(t, Space::Shared, offset, 8, 8, false);
    auto found = mbarriers_.find(offset);
    if (found == mbarriers_.end())
      fail(t, "mbarrier at shared offset " + std::to_string(offset) +
                  " was never initialized");
    return found->second;
  }

  static void completePhase(Mbarrier &m) {
    if (m.pending == 0 && m.transactions == 0) {
      ++m.phase;
      m.pending = m.expected;
      m.completed = std::move(m.clock);
      m.clock.clear();
    }
  }

  bool tryWait(Thread &t, const Instruction &in) {
    Mbarrier &m = mbarrier(t, in.operands.at(1));
    uint64_t parity = value(t, in.operands.at(2)) & 1;
    bool complete = (m.phase & 1) != parity;
    if (complete) {
      set(t, in.operands[0], 1);
      if (race_)
        race_->acquire(t.linear, m.completed);
    }
    return complete;
  }

  void completeCopies(Thread &t, size_t keep) {
    while (t.groups.size() > keep) {
      const CopyGroup &group = t.groups.front();
      for (const AsyncCopy &copy : group.copies) {
        uint8_t *destination =
            memory(t, Space::Shared, copy.destination, copy.bytes, 4, true);
        if (race_)
          check(race_->asyncWrite(t.linear, copy.pc, group.issued,
                                  copy.destination, copy.bytes, false),
                t.linear, copy.pc);
        if (copy.sourceBytes) {
          checkGlobalAccess(t.linear, copy.pc, copy.source, copy.sourceBytes,
                            false);
          std::memcpy(destination,
                      memory(t, Space::Global, copy.source, copy.sourceBytes,
                             1, false),
                      copy.sourceBytes);
        }
        std::memset(destination + copy.sourceBytes, 0,
                    copy.bytes - copy.sourceBytes);
      }
      t.groups.erase(t.groups.begin());
    }
  }

  /// cp.async.bulk.tensor: the box is read now and lands at the end of
  /// this round (when the mbarrier receives its bytes); until then its
  /// destination holds NaN bytes, so a read that does not wait for the
  /// mbarrier, or a copy into a stage still being read, shows.
  void tensorCopy(Thread &t, const Instruction &in) {
    const std::vector<Operand> &o = in.operands;
    if (o.size() != 3 || int(o[1].elements.size()) != in.shape)
      fail(t, "cp.async.bulk.tensor needs [dst], [map, {coordinates}], [mbar]");
    uint64_t destination = sharedOffset(t, address(t, o[0]));
    uint64_t mapAddress = address(t, o[1]);
    const uint8_t *map = memory(t, Space::Generic, mapAddress, 128, 64, false);
    int32_t coordinates[5];
    for (int i = 0; i < in.shape; ++i)
      coordinates[i] = int32_t(value(t, o[1].elements[i]));
    uint64_t total = tensorMapBoxBytes(map);
    if (!total)
      fail(t, "the tensor map operand is not an encoded tensor map");
    // The swizzle follows address bits 4..9: stage the box at the same
    // offset modulo 1024.
    uint64_t phase = destination % 1024, bytes = 0;
    std::vector<uint8_t> staged(phase + total);
    std::string problem = tmaLoadTile(
        map, in.shape, coordinates, staged.data(), staged.size(),
        uint32_t(phase),
        [&](uint64_t address, uint64_t size, void *out) {
          std::string bad = checkGlobal(address, size);
          if (bad.empty()) {
            checkGlobalAccess(t.linear, t.pc, address, size, false);
            std::memcpy(out, reinterpret_cast<const void *>(address), size);
          }
          return bad;
        },
        &bytes);
    if (!problem.empty())
      fail(t, problem);
    uint8_t *target = memory(t, Space::Shared, destination, total, 128, true);
    std::memset(target, 0xFF, total);
    tensorCopies_.push_back(
        {destination, &mbarrier(t, o[2]), bytes,
         std::vector<uint8_t>(staged.begin() + phase, staged.end()), t.linear,
         t.pc, race_ ? race_->snapshot(t.linear) : std::vector<uint32_t>()});
  }

  bool landTensorCopies() {
    for (PendingTensorCopy &copy : tensorCopies_) {
      std::memcpy(shared_.data() + copy.destination, copy.data.data(),
                  copy.data.size());
      if (race_) {
        check(race_->asyncWrite(copy.issuer, copy.pc, copy.issued,
                                copy.destination, copy.data.size(), true),
              copy.issuer, copy.pc);
        // Waiters on the mbarrier see the copy as of its issue.
        race_->join(copy.barrier->clock, copy.issued);
      }
      copy.barrier->transactions -= int64_t(copy.bytes);
      completePhase(*copy.barrier);
    }
    bool landed = !tensorCopies_.empty();
    tensorCopies_.clear();
    return landed;
  }

  //--- everything else: one thread's arithmetic and memory --------------===//

  void execute(Thread &t, const Instruction &in) {
    const std::vector<Operand> &o = in.operands;
    auto operand = [&](size_t i) -> const Operand & {
      if (i >= o.size())
        fail(t, "missing operand " + std::to_string(i));
      return o[i];
    };
    unsigned bits = bitsOf(in.type);
    auto arg = [&](size_t i) { return value(t, operand(i)); };
    auto farg = [&](size_t i) { return asFloat(arg(i)); };
    auto sarg = [&](size_t i) { return signExtend(arg(i), bits); };
    auto uarg = [&](size_t i) { return mask(arg(i), bits); };
    auto result = [&](uint64_t v) { set(t, operand(0), mask(v, bits)); };
    auto fresult = [&](float v) { set(t, operand(0), floatBits(v)); };
    bool f32 = in.type == Type::F32;
    if (isFloat(in.type) && !f32 && in.op != Op::Mov && in.op != Op::Ld &&
        in.op != Op::St && in.op != Op::Cvt && in.op != Op::Selp &&
        in.op != Op::Nop)
      fail(t, "ptxsim computes f32 arithmetic only");
    switch (in.op) {
    case Op::Nop:
      return;
    case Op::Mov:
      return move(t, in);
    case Op::Add:
      return f32 ? fresult(farg(1) + farg(2)) : result(arg(1) + arg(2));
    case Op::Sub:
      return f32 ? fresult(farg(1) - farg(2)) : result(arg(1) - arg(2));
    case Op::Mul:
    case Op::Mad: {
      bool mad = in.op == Op::Mad;
      if (f32)
        return fresult(mad ? std::fma(farg(1), farg(2), farg(3))
                           : farg(1) * farg(2));
      uint64_t addend = mad ? arg(3) : 0;
      if (in.flag) { // .wide: a 2*bits product (and addend); bits <= 32
        uint64_t product =
            isSigned(in.type) ? uint64_t(sarg(1) * sarg(2)) : uarg(1) * uarg(2);
        return set(t, o[0], mask(product + addend, 2 * bits));
      }
      if (in.hi) { // the upper half of the 2*bits product
        unsigned __int128 product =
            isSigned(in.type)
                ? static_cast<unsigned __int128>(__int128(sarg(1)) *
                                                 __int128(sarg(2)))
                : static_cast<unsigned __int128>(uarg(1)) * uarg(2);
        return result(uint64_t(product >> bits) + addend);
      }
      return result(arg(1) * arg(2) + addend);
    }
    case Op::Fma:
      return fresult(std::fma(farg(1), farg(2), farg(3)));
    case Op::Div:
    case Op::Rem: {
      if (f32 && in.op == Op::Div)
        return fresult(farg(1) / farg(2));
      if (uarg(2) == 0)
        fail(t, "integer division by zero");
      if (isSigned(in.type))
        return result(uint64_t(in.op == Op::Div ? sarg(1) / sarg(2)
                                                : sarg(1) % sarg(2)));
      return result(in.op == Op::Div ? uarg(1) / uarg(2) : uarg(1) % uarg(2));
    }
    case Op::Neg:
      return f32 ? fresult(-farg(1)) : result(0 - arg(1));
    case Op::Abs:
      return f32 ? fresult(std::fabs(farg(1)))
                 : result(uint64_t(std::llabs(sarg(1))));
    case Op::Min:
    case Op::Max: {
      bool isMax = in.op == Op::Max;
      if (f32) {
        float a = farg(1), b = farg(2);
        if (std::isnan(a) || std::isnan(b))
          return fresult(in.nanPropagating ? NAN : std::isnan(a) ? b : a);
        return fresult(isMax ? std::max(a, b) : std::min(a, b));
      }
      if (isSigned(in.type))
        return result(uint64_t(isMax ? std::max(sarg(1), sarg(2))
                                     : std::min(sarg(1), sarg(2))));
      return result(isMax ? std::max(uarg(1), uarg(2))
                          : std::min(uarg(1), uarg(2)));
    }
    case Op::And:
      return result(arg(1) & arg(2));
    case Op::Or:
      return result(arg(1) | arg(2));
    case Op::Xor:
      return result(arg(1) ^ arg(2));
    case Op::Not:
      return result(~arg(1));
    case Op::Shl: {
      uint64_t amount = mask(arg(2), 32);
      return result(amount >= bits ? 0 : arg(1) << amount);
    }
    case Op::Shr: {
      uint64_t amount = mask(arg(2), 32);
      if (isSigned(in.type))
        return result(uint64_t(sarg(1) >> std::min<uint64_t>(amount, 63)));
      return result(amount >= bits ? 0 : uarg(1) >> amount);
    }
    case Op::Bfe: {
      uint64_t position = arg(2) & 0xff, length = arg(3) & 0xff;
      uint64_t source = uarg(1);
      if (length == 0)
        return result(0);
      uint64_t field =
          position >= bits ? 0 : mask(source >> position, unsigned(length));
      if (isSigned(in.type) && length < 64) {
        bool sign = position + length - 1 >= bits
                        ? (source >> (bits - 1)) & 1
                        : (source >> (position + length - 1)) & 1;
        if (sign)
          field |= ~0ull << length;
      }
      return result(field);
    }
    case Op::Selp:
      return set(t, operand(0), (arg(3) & 1) ? arg(1) : arg(2));
    case Op::Setp:
      return compare(t, in);
    case Op::Cvt:
      return convert(t, in);
    case Op::Cvta: {
      uint64_t window = in.space == Space::Shared  ? sharedWindow
                        : in.space == Space::Param ? paramWindow
                                                   : 0;
      uint64_t a = arg(1);
      if (in.flag && window && (a < window || a >= window + windowSize))
        fail(t, "generic address " + hex(a) + " is not in that state space");
      return set(t, o[0], in.flag ? a - window : a + window);
    }
    case Op::Ld:
    case Op::St:
      return loadStore(t, in);
    case Op::Rcp:
      return fresult(1.0f / farg(1));
    case Op::Sqrt:
      return fresult(std::sqrt(farg(1)));
    case Op::Rsqrt:
      return fresult(1.0f / std::sqrt(farg(1)));
    case Op::Ex2:
      return fresult(std::exp2(farg(1)));
    case Op::Lg2:
      return fresult(std::log2(farg(1)));
    case Op::CpAsync: {
      uint64_t destination = sharedOffset(t, address(t, operand(0)));
      uint64_t source = address(t, operand(1));
      uint32_t bytes = uint32_t(arg(2));
      uint32_t sourceBytes = o.size() > 3 ? uint32_t(arg(3)) : bytes;
      if ((bytes != 4 && bytes != 8 && bytes != 16) || sourceBytes > bytes)
        fail(t, "cp.async copies 4, 8 or 16 bytes");
      if (destination % bytes || source % bytes)
        fail(t, "misaligned cp.async");
      if (race_ && t.open.copies.empty())
        t.open.issued = race_->snapshot(t.linear);
      t.open.copies.push_back({destination, source, bytes, sourceBytes, t.pc});
      if (launch_.profile)
        launch_.profile->copy(t.linear, t.pc, destination, source, bytes);
      return;
    }
    case Op::CpAsyncCommit:
      t.groups.push_back(std::move(t.open));
      t.open = CopyGroup();
      return;
    case Op::CpAsyncWait:
      if (in.flag) {
        t.groups.push_back(std::move(t.open));
        t.open = CopyGroup();
      }
      return completeCopies(t, in.flag ? 0 : size_t(arg(0)));
    case Op::CpAsyncBulkTensor:
      return tensorCopy(t, in);
    case Op::WgmmaCommit: // every commit makes a group, even an empty one
      t.wgmmaGroups.push_back(std::move(t.wgmmaOpen));
      t.wgmmaOpen.clear();
      ++t.groupSerial;
      if (race_) {
        t.wgmmaGroupIds.push_back(std::move(t.wgmmaOpenIds));
        t.wgmmaOpenIds.clear();
      }
      return;
    case Op::WgmmaWait:
      if (!t.wgmmaOpen.empty())
        fail(t, "wgmma.wait_group with uncommitted wgmma operations (no "
                "wgmma.commit_group after them)");
      return retireWgmmaGroups(t, size_t(arg(0)));
    case Op::MbarrierInit: {
      uint64_t offset = sharedOffset(t, address(t, operand(0)));
      memory(t, Space::Shared, offset, 8, 8, /*write=*/false); // its own
      Mbarrier &m = mbarriers_[offset];
      // Initializing an mbarrier whose phase has begun (arrivals or
      // transaction bytes counted) loses them: the init races with the
      // mbarrier's use (every thread initializing it, say, without a
      // barrier between the init and the first arrival).
      if (m.pending != m.expected || m.transactions != 0)
        fail(t, "mbarrier.init at shared offset " + std::to_string(offset) +
                    " while its phase is under way (" +
                    std::to_string(m.expected - m.pending) + " of " +
                    std::to_string(m.expected) + " arrivals, " +
                    std::to_string(m.transactions) +
                    " transaction bytes): the init races with its use");
      m = Mbarrier();
      m.expected = m.pending = uint32_t(arg(1));
      if (!m.expected)
        fail(t, "mbarrier.init with a count of 0");
      return;
    }
    case Op::MbarrierArrive: {
      Mbarrier &m = mbarrier(t, operand(1));
      if (in.flag)
        m.transactions += int64_t(arg(2));
      if (m.pending == 0)
        fail(t, "more arrivals than the mbarrier's count");
      if (o[0].kind == Operand::Reg)
        set(t, o[0], m.phase);
      if (race_)
        race_->release(t.linear, m.clock);
      --m.pending;
      completePhase(m);
      return;
    }
    case Op::FenceProxyAsync:
      if (race_)
        race_->proxyFence(t.linear);
      return;
    default:
      fail(t, "instruction not handled by ptxsim");
    }
  }

  void move(Thread &t, const Instruction &in) {
    const Operand &d = in.operands.at(0), &s = in.operands.at(1);
    unsigned bits = bitsOf(in.type);
    if (s.kind == Operand::Vector) { // pack, lowest element lowest
      unsigned part = bits / unsigned(s.elements.size());
      uint64_t packed = 0;
      for (size_t i = 0; i < s.elements.size(); ++i)
        packed |= mask(value(t, s.elements[i]), part) << (part * i);
      return set(t, d, packed);
    }
    if (d.kind == Operand::Vector) { // unpack
      unsigned part = bits / unsigned(d.elements.size());
      uint64_t packed = value(t, s);
      for (size_t i = 0; i < d.elements.size(); ++i)
        if (d.elements[i].kind == Operand::Reg)
          set(t, d.elements[i], mask(packed >> (part * i), part));
      return;
    }
    set(t, d, in.type == Type::Pred ? value(t, s) & 1 : mask(value(t, s), bits));
  }

  void compare(Thread &t, const Instruction &in) {
    const std::string &c = in.cmp;
    bool r;
    uint64_t a = value(t, in.operands.at(1)), b = value(t, in.operands.at(2));
    if (in.type == Type::F32) {
      float x = asFloat(a), y = asFloat(b);
      bool unordered = std::isnan(x) || std::isnan(y);
      std::string base = c;
      bool u = c.size() == 3 && c.back() == 'u' && c != "num" && c != "nan";
      if (u)
        base = c.substr(0, 2);
      if (c == "num")
        r = !unordered;
      else if (c == "nan")
        r = unordered;
      else if (unordered)
        r = u;
      else
        r = base == "eq"   ? x == y
            : base == "ne" ? x != y
            : base == "lt" ? x < y
            : base == "le" ? x <= y
            : base == "gt" ? x > y
                           : x >= y;
    } else {
      unsigned bits = bitsOf(in.type);
      bool signedCompare = isSigned(in.type) &&
                           (c == "lt" || c == "le" || c == "gt" || c == "ge");
      if (signedCompare) {
        int64_t x = signExtend(a, bits), y = signExtend(b, bits);
        r = c == "lt" ? x < y : c == "le" ? x <= y : c == "gt" ? x > y : x >= y;
      } else {
        uint64_t x = mask(a, bits), y = mask(b, bits);
        r = c == "eq"                 ? x == y
            : c == "ne"               ? x != y
            : c == "lt" || c == "lo" ? x < y
            : c == "le" || c == "ls" ? x <= y
            : c == "gt" || c == "hi" ? x > y
            : c == "ge" || c == "hs" ? x >= y
                                     : (fail(t, "unsupported comparison"), false);
      }
    }
    set(t, in.operands[0], r);
    if (in.operands[0].reg2 >= 0)
      t.registers[in.operands[0].reg2] = !r;
  }

  void convert(Thread &t, const Instruction &in) {
    Type to = in.type, from = in.source;
    const Operand &d = in.operands.at(0);
    if (to == Type::BF16x2 || to == Type::F16x2) {
      // d = {a -> upper half, b -> lower half}
      float a = asFloat(value(t, in.operands.at(1)));
      float b = asFloat(value(t, in.operands.at(2)));
      uint32_t hi = to == Type::BF16x2 ? toBf16(a) : toF16(a);
      uint32_t lo = to == Type::BF16x2 ? toBf16(b) : toF16(b);
      return set(t, d, (hi << 16) | lo);
    }
    uint64_t s = value(t, in.operands.at(1));
    float real = 0;
    bool fromFloat = isFloat(from);
    if (from == Type::F32)
      real = asFloat(s);
    else if (from == Type::BF16)
      real = asFloat(mask(s, 16) << 16);
    else if (from == Type::F16)
      real = halfToFloat(HalfType::F16, uint16_t(s));
    else if (fromFloat) {
      fail(t, "unsupported conversion source");
    }
    if (to == Type::F32) {
      if (!fromFloat)
        real = isSigned(from) ? float(signExtend(s, bitsOf(from)))
                              : float(mask(s, bitsOf(from)));
      const std::string &r = in.cmp;
      if (from == Type::F32 && !r.empty())
        real = r == "rmi"   ? std::floor(real)
               : r == "rpi" ? std::ceil(real)
               : r == "rzi" ? std::trunc(real)
               : r == "rni" ? std::nearbyint(real)
                            : real;
      return set(t, d, floatBits(real));
    }
    if (to == Type::BF16)
      return set(t, d, toBf16(real));
    if (to == Type::F16)
      return set(t, d, toF16(real));
    unsigned bits = bitsOf(to);
    if (fromFloat) { // float -> integer, saturating, NaN -> 0
      const std::string &r = in.cmp;
      double rounded = r == "rmi"   ? std::floor(real)
                       : r == "rpi" ? std::ceil(real)
                       : r == "rni" ? std::nearbyint(real)
                                    : std::trunc(real);
      if (std::isnan(rounded))
        return set(t, d, 0);
      if (isSigned(to)) {
        double lo = -std::ldexp(1.0, int(bits) - 1),
               hi = std::ldexp(1.0, int(bits) - 1) - 1;
        return set(t, d,
                   mask(uint64_t(int64_t(std::clamp(rounded, lo, hi))), bits));
      }
      double hi = std::ldexp(1.0, int(bits)) - 1;
      return set(t, d, uint64_t(std::clamp(rounded, 0.0, hi)));
    }
    uint64_t widened = isSigned(from) ? uint64_t(signExtend(s, bitsOf(from)))
                                      : mask(s, bitsOf(from));
    set(t, d, mask(widened, bits));
  }

  void loadStore(Thread &t, const Instruction &in) {
    bool load = in.op == Op::Ld;
    const Operand &addressOperand = in.operands.at(load ? 1 : 0);
    const Operand &data = in.operands.at(load ? 0 : 1);
    unsigned bytes = std::max(1u, bitsOf(in.type) / 8);
    uint64_t a = address(t, addressOperand);
    uint8_t *p = memory(t, in.space, a, uint64_t(bytes) * in.vector,
                        uint64_t(bytes) * in.vector, !load);
    uint64_t size = uint64_t(bytes) * in.vector;
    bool shared = p >= shared_.data() && p < shared_.data() + shared_.size();
    if (race_ && shared) {
      uint64_t offset = uint64_t(p - shared_.data());
      check(load ? race_->read(t.linear, t.pc, offset, size)
                 : race_->write(t.linear, t.pc, offset, size),
            t.linear, t.pc);
    }
    bool parameter =
        p >= launch_.params && p < launch_.params + function_.parameterBytes;
    if (!shared && !parameter)
      checkGlobalAccess(t.linear, t.pc, reinterpret_cast<uint64_t>(p), size,
                        !load);
    if (launch_.profile) {
      if (shared)
        launch_.profile->access(t.linear, t.pc, Profile::Shared,
                                uint64_t(p - shared_.data()), uint32_t(size));
      else if (!parameter)
        launch_.profile->access(t.linear, t.pc, Profile::Global,
                                reinterpret_cast<uint64_t>(p), uint32_t(size));
    }
    for (unsigned i = 0; i < in.vector; ++i) {
      const Operand &element =
          in.vector > 1 ? data.elements.at(i) : data;
      if (load) {
        uint64_t v = 0;
        std::memcpy(&v, p + i * bytes, bytes);
        if (isSigned(in.type))
          v = mask(uint64_t(signExtend(v, bytes * 8)), 64);
        if (element.kind == Operand::Reg)
          set(t, element, v);
      } else {
        uint64_t v = value(t, element);
        std::memcpy(p + i * bytes, &v, bytes);
      }
    }
  }

  const Launch &launch_;
  const Function &function_;
  unsigned ctaid_[3];
  uint32_t linearCta_; // the global race check's CTA id
  std::vector<uint8_t> shared_;
  std::vector<uint64_t> registerFile_;
  std::vector<Thread> threads_;
  std::map<uint64_t, Mbarrier> mbarriers_;
  struct PendingTensorCopy {
    uint64_t destination;
    Mbarrier *barrier; // a std::map node: stable
    uint64_t bytes;
    std::vector<uint8_t> data;
    uint32_t issuer, pc;          // race checking: who issued it, where
    std::vector<uint32_t> issued; // ... and the issuer's clock then
  };
  std::vector<PendingTensorCopy> tensorCopies_;
  HardwareBarrier barriers_[16];
  uint64_t instructions_ = 0;
  std::unique_ptr<RaceCheck> race_; // null: not checking
};

void copyMessage(const std::string &message, char *out, size_t size) {
  if (!out || !size)
    return;
  size_t n = std::min(message.size(), size - 1);
  std::memcpy(out, message.data(), n);
  out[n] = 0;
}

} // namespace
} // namespace ptxsim

using namespace ptxsim;

struct ptxsim_module {
  std::unique_ptr<Module> module;
};

extern "C" {

ptxsim_module *ptxsim_load(const char *ptx, char *log, size_t logSize) {
  try {
    auto result = std::make_unique<ptxsim_module>();
    result->module = parseModule(ptx);
    for (const Symbol &symbol : result->module->globalSymbols)
      ptxsim_track(reinterpret_cast<const void *>(symbol.offset), symbol.size);
    return result.release();
  } catch (const std::exception &error) {
    copyMessage(std::string("ptxsim: ") + error.what(), log, logSize);
    return nullptr;
  }
}

void ptxsim_unload(ptxsim_module *module) {
  if (!module)
    return;
  for (const Symbol &symbol : module->module->globalSymbols)
    ptxsim_untrack(reinterpret_cast<const void *>(symbol.offset));
  delete module;
}

static std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\t')
      out += ' ';
    else if (uint8_t(c) >= 0x20)
      out += c;
  }
  return out + "\"";
}

/// Appends one JSON line for the launch to `path` (PTXSIM_PROFILE): the
/// totals per space and the instructions that cost most over their ideal.
static void writeProfile(const char *path, const Function &function,
                         const char *kernel, const unsigned grid[3],
                         const unsigned block[3], const Profile &profile) {
  std::ostringstream out;
  out << "{\"kernel\": " << jsonString(kernel) << ", \"grid\": [" << grid[0]
      << ", " << grid[1] << ", " << grid[2] << "], \"block\": [" << block[0]
      << ", " << block[1] << ", " << block[2] << "]";
  struct Line {
    const char *space;
    uint32_t pc;
    Profile::Counts counts;
  };
  std::vector<Line> lines;
  for (auto [space, name, cost] :
       {std::tuple{Profile::Shared, "shared", "wavefronts"},
        std::tuple{Profile::Global, "global", "sectors"}}) {
    Profile::Counts total;
    for (auto &[pc, c] : profile.counts(space)) {
      total.requests += c.requests, total.cost += c.cost,
          total.ideal += c.ideal;
      lines.push_back({name, pc, c});
    }
    out << ", \"" << name << "\": {\"requests\": " << total.requests << ", \""
        << cost << "\": " << total.cost << ", \"ideal\": " << total.ideal
        << "}";
  }
  std::stable_sort(
      lines.begin(), lines.end(), [](const Line &a, const Line &b) {
        return a.counts.cost - a.counts.ideal > b.counts.cost - b.counts.ideal;
      });
  // The 8 worst (PTXSIM_PROFILE_LINES: another count).
  const char *count = std::getenv("PTXSIM_PROFILE_LINES");
  size_t shown = count ? std::strtoul(count, nullptr, 10) : 8;
  out << ", \"worst\": [";
  for (size_t i = 0; i < lines.size() && i < shown; ++i) {
    const Line &l = lines[i];
    const Instruction &in = function.code[l.pc];
    out << (i ? ", " : "") << "{\"space\": \"" << l.space
        << "\", \"line\": " << in.line << ", \"text\": " << jsonString(in.text)
        << ", \"requests\": " << l.counts.requests
        << ", \"cost\": " << l.counts.cost << ", \"ideal\": " << l.counts.ideal
        << "}";
  }
  out << "]}\n";
  if (FILE *file = std::fopen(path, "a")) {
    std::fputs(out.str().c_str(), file);
    std::fclose(file);
  }
}

/// Race checking is on unless PTXSIM_RACECHECK=0.
static bool raceCheckEnabled() {
  const char *setting = std::getenv("PTXSIM_RACECHECK");
  return !setting || std::strcmp(setting, "0") != 0;
}

static const Function *findKernel(const ptxsim_module *module,
                                  const char *kernel) {
  auto found = module->module->functions.find(kernel);
  return found == module->module->functions.end() ? nullptr
                                                  : found->second.get();
}

int ptxsim_has_kernel(const ptxsim_module *module, const char *kernel) {
  return findKernel(module, kernel) != nullptr;
}

long ptxsim_pack_params(const ptxsim_module *module, const char *kernel,
                        void **params, unsigned char *buffer,
                        size_t capacity) {
  const Function *function = findKernel(module, kernel);
  if (!function || function->parameterBytes > capacity)
    return -1;
  std::memset(buffer, 0, function->parameterBytes);
  for (size_t i = 0; i < function->parameters.size(); ++i)
    std::memcpy(buffer + function->parameters[i].offset, params[i],
                function->parameters[i].size);
  return long(function->parameterBytes);
}

int ptxsim_launch(const ptxsim_module *module, const char *kernel,
                  const unsigned grid[3], const unsigned block[3],
                  unsigned dynamicShared, unsigned maxDynamicShared,
                  const unsigned char *params, char *error,
                  size_t errorSize) {
  const Function *function = findKernel(module, kernel);
  std::string prefix = std::string("ptxsim: kernel ") + kernel + ": ";
  if (!function) {
    copyMessage(prefix + "not in the module", error, errorSize);
    return -1;
  }
  unsigned threads = block[0] * block[1] * block[2];
  for (int i = 0; i < 3; ++i)
    if (function->maxThreads[i] && block[i] > function->maxThreads[i]) {
      copyMessage(prefix + "block dimension " + std::to_string(i) + " of " +
                      std::to_string(block[i]) + " exceeds .maxntid " +
                      std::to_string(function->maxThreads[i]),
                  error, errorSize);
      return -1;
    }
  uint64_t limit = std::max<uint64_t>(defaultSharedBytes, maxDynamicShared);
  if (threads > 1024 || dynamicShared > limit ||
      function->staticSharedBytes + dynamicShared > maxSharedBytes) {
    copyMessage(prefix + std::to_string(threads) + " threads, " +
                    std::to_string(dynamicShared) +
                    " bytes of dynamic shared memory (allowed: " +
                    std::to_string(limit) + ", " +
                    std::to_string(function->staticSharedBytes) +
                    " static): the launch would fail",
                error, errorSize);
    return -1;
  }
  Launch launch{*function,
                {grid[0], grid[1], grid[2]},
                {block[0], block[1], block[2]},
                dynamicShared,
                params,
                raceCheckEnabled(),
                nullptr,
                nullptr};
  std::unique_ptr<GlobalRaceCheck> globalRaces;
  if (launch.raceCheck)
    launch.globalRaces =
        (globalRaces = std::make_unique<GlobalRaceCheck>()).get();
  const char *profilePath = std::getenv("PTXSIM_PROFILE");
  std::unique_ptr<Profile> profile;
  if (profilePath && *profilePath)
    launch.profile = (profile = std::make_unique<Profile>()).get();
  try {
    for (unsigned z = 0; z < grid[2]; ++z)
      for (unsigned y = 0; y < grid[1]; ++y)
        for (unsigned x = 0; x < grid[0]; ++x) {
          Cta(launch, x, y, z).run();
          if (profile)
            profile->finishCta();
        }
  } catch (const std::exception &failure) {
    copyMessage(prefix + failure.what(), error, errorSize);
    return -1;
  }
  if (globalRaces && globalRaces->overflowed())
    std::fprintf(stderr,
                 "ptxsim: kernel %s touched over %llu MiB of device memory: "
                 "its global accesses were not checked for races between "
                 "blocks\n",
                 kernel,
                 static_cast<unsigned long long>(
                     GlobalRaceCheck::kMaxTrackedBytes >> 20));
  if (profile)
    writeProfile(profilePath, *function, kernel, grid, block, *profile);
  return 0;
}

void ptxsim_track(const void *base, size_t size) {
  std::lock_guard<std::mutex> lock(allocationsMutex);
  allocations()[reinterpret_cast<uint64_t>(base)] = size;
}

void ptxsim_untrack(const void *base) {
  std::lock_guard<std::mutex> lock(allocationsMutex);
  allocations().erase(reinterpret_cast<uint64_t>(base));
}

int ptxsim_encode_tensor_map(void *map, int dataType, unsigned rank,
                             void *base, const uint64_t *dims,
                             const uint64_t *strides, const unsigned *box,
                             const unsigned *elementStrides, int interleave,
                             int swizzle, int promotion, int fill,
                             char *error, size_t errorSize) {
  std::string problem =
      encodeTensorMap(map, dataType, rank, base, dims, strides, box,
                      elementStrides, interleave, swizzle, promotion, fill);
  copyMessage(problem, error, errorSize);
  return problem.empty() ? 0 : -1;
}

} // extern "C"
