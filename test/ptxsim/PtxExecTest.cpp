//===- PtxExecTest.cpp - TEST ONLY: ptxsim's interpreter and its checks ---===//
//
// Small hand-written kernels: the interpreter computes what PTX says
// (special registers, parameters, guards, branches, warp shuffles), and it
// reports what would fault or hang on a GPU instead of running on: a global
// access outside the allocations, a barrier that not enough threads reach,
// an mbarrier phase that never completes, shared memory read before its
// cp.async or TMA copy completed (stale bytes, not the copy), a wgmma
// accumulator used before its wait_group, unknown PTX; and races on shared
// memory: accesses by threads no synchronization orders, copies and wgmmas
// whose asynchronous accesses overlap others, a wgmma reading generic
// stores without a proxy fence; the memory-access profile (bank conflicts,
// coalescing).
//
//===----------------------------------------------------------------------===//
#include "PtxSim.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

std::string module(const std::string &body) {
  return ".version 8.0\n.target sm_90a\n.address_size 64\n\n" + body;
}

struct Module {
  explicit Module(const std::string &ptx) {
    char log[1024] = {};
    module = ptxsim_load(ptx.c_str(), log, sizeof log);
    this->log = log;
  }
  ~Module() { ptxsim_unload(module); }
  ptxsim_module *module = nullptr;
  std::string log;
};

/// Device memory as the fake driver provides it: host memory it tracks.
struct Buffer {
  explicit Buffer(size_t bytes) : data(bytes) {
    ptxsim_track(data.data(), bytes);
  }
  ~Buffer() { ptxsim_untrack(data.data()); }
  uint64_t address() { return reinterpret_cast<uint64_t>(data.data()); }
  /// The buffer as an array of T: element `index`, read or written.
  template <typename T> T get(size_t index) const {
    T value;
    std::memcpy(&value, data.data() + sizeof(T) * index, sizeof value);
    return value;
  }
  template <typename T> void set(size_t index, T value) {
    std::memcpy(data.data() + sizeof(T) * index, &value, sizeof value);
  }
  std::vector<uint8_t> data;
};

/// Expects `text` (an error or a profile line) to contain `part`.
void expectMentions(const std::string &text, const std::string &part) {
  EXPECT_NE(text.find(part), std::string::npos)
      << "'" << part << "' not in: " << text;
}

/// Launches with cuLaunchKernel-style parameter pointers; returns "" or the
/// error.
std::string launchWith(const Module &m, const char *kernel, unsigned blocks,
                       unsigned threads, std::vector<void *> params) {
  unsigned char buffer[4096];
  if (ptxsim_pack_params(m.module, kernel, params.data(), buffer,
                         sizeof buffer) < 0)
    return "no such kernel";
  unsigned grid[3] = {blocks, 1, 1}, block[3] = {threads, 1, 1};
  char error[4096] = {};
  if (ptxsim_launch(m.module, kernel, grid, block, 0, 0, buffer, error,
                    sizeof error) != 0)
    return error;
  return "";
}

/// Launches with `arguments` (addresses and 32-bit values as u64 slots).
std::string launch(const Module &m, const char *kernel, unsigned blocks,
                   unsigned threads, std::vector<uint64_t> arguments) {
  std::vector<void *> pointers;
  for (uint64_t &argument : arguments)
    pointers.push_back(&argument);
  return launchWith(m, kernel, blocks, threads, pointers);
}

const char *addKernel = R"(
.visible .entry add(
	.param .u64 .ptr .align 1 add_param_0,
	.param .u64 .ptr .align 1 add_param_1,
	.param .u32 add_param_2
)
.maxntid 64, 1, 1
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<6>;
	ld.param.b64 	%rd1, [add_param_0];
	ld.param.b64 	%rd2, [add_param_1];
	ld.param.b32 	%r1, [add_param_2];
	mov.u32 	%r2, %tid.x;
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mad.lo.s32 	%r5, %r3, %r4, %r2;
	setp.ge.u32 	%p1, %r5, %r1;
	@%p1 bra 	$L__BB0_2;
	mul.wide.u32 	%rd3, %r5, 4;
	add.s64 	%rd4, %rd1, %rd3;
	ld.global.b32 	%r6, [%rd4];
	add.s64 	%rd5, %rd2, %rd3;
	ld.global.b32 	%r7, [%rd5];
	add.rn.f32 	%r6, %r6, %r7;
	st.global.b32 	[%rd4], %r6;
$L__BB0_2:
	ret;
}
)";

TEST(PtxExec, ComputesAndChecksGlobalBounds) {
  Module m(module(addKernel));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer x(150 * 4), y(150 * 4);
  for (int i = 0; i < 150; ++i) {
    x.set<float>(i, float(i));
    y.set<float>(i, 0.5f);
  }
  EXPECT_EQ(launch(m, "add", 3, 64, {x.address(), y.address(), 150}), "");
  for (int i = 0; i < 150; ++i)
    EXPECT_EQ(x.get<float>(i), float(i) + 0.5f) << i;
  // Two threads too many: their loads fall outside the allocations.
  std::string error = launch(m, "add", 3, 64, {x.address(), y.address(), 152});
  EXPECT_NE(error.find("outside every device allocation"), std::string::npos)
      << error;
  EXPECT_NE(error.find("ld.global.b32"), std::string::npos) << error;
  // .maxntid: a launch with more threads would fail on a GPU.
  error = launch(m, "add", 1, 128, {x.address(), y.address(), 1});
  EXPECT_NE(error.find(".maxntid 64"), std::string::npos) << error;
}

TEST(PtxExec, LaysParametersOutAtTheirNaturalAlignment) {
  // NVPTX's ".ptr .align 1" is the pointee's alignment: the pointer after
  // a 4-byte float still starts at byte 8 (cuLaunchKernel's layout).
  Module m(module(R"(
.visible .entry store(
	.param .f32 store_param_0,
	.param .u64 .ptr .align 1 store_param_1
)
{
	.reg .b32 	%r<2>;
	.reg .b64 	%rd<3>;
	ld.param.b32 	%r1, [store_param_0];
	ld.param.b64 	%rd1, [store_param_1];
	cvta.to.global.u64 	%rd2, %rd1;
	st.global.b32 	[%rd2], %r1;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  float value = 2.5f;
  Buffer out(4);
  uint64_t pointer = out.address();
  EXPECT_EQ(launchWith(m, "store", 1, 1, {&value, &pointer}), "");
  EXPECT_EQ(out.get<float>(0), 2.5f);
}

TEST(PtxExec, WarpShuffleSums) {
  Module m(module(R"(
.visible .entry warpsum(
	.param .u64 .ptr .align 1 warpsum_param_0
)
{
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<4>;
	ld.param.b64 	%rd1, [warpsum_param_0];
	mov.u32 	%r1, %tid.x;
	shfl.sync.bfly.b32 	%r2, %r1, 16, 31, -1;
	add.s32 	%r1, %r1, %r2;
	shfl.sync.bfly.b32 	%r2, %r1, 8, 31, -1;
	add.s32 	%r1, %r1, %r2;
	shfl.sync.bfly.b32 	%r2, %r1, 4, 31, -1;
	add.s32 	%r1, %r1, %r2;
	shfl.sync.bfly.b32 	%r2, %r1, 2, 31, -1;
	add.s32 	%r1, %r1, %r2;
	shfl.sync.bfly.b32 	%r2, %r1, 1, 31, -1;
	add.s32 	%r1, %r1, %r2;
	mov.u32 	%r3, %tid.x;
	mul.wide.u32 	%rd2, %r3, 4;
	add.s64 	%rd3, %rd1, %rd2;
	st.global.b32 	[%rd3], %r1;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer out(64 * 4);
  ASSERT_EQ(launch(m, "warpsum", 1, 64, {out.address()}), "");
  for (int i = 0; i < 64; ++i) // 0+..+31, 32+..+63
    EXPECT_EQ(out.get<int32_t>(i), i < 32 ? 496 : 1520) << i;
}

TEST(PtxExec, ShufflesInAPartialLastWarp) {
  // 13 threads, member mask 0x1fff, clamp 12: lane l reads lane l ^ 4 when
  // it is at most 12 (lanes 9..11 read their own value, predicate false),
  // as MLIR's shuffle integration test expects from a GPU.
  Module m(module(R"(
.visible .entry partial(
	.param .u64 .ptr .align 1 partial_param_0
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<5>;
	.reg .b64 	%rd<4>;
	ld.param.b64 	%rd1, [partial_param_0];
	mov.u32 	%r1, %tid.x;
	shfl.sync.bfly.b32 	%r2|%p1, %r1, 4, 12, 8191;
	selp.b32 	%r3, %r2, -1, %p1;
	mul.wide.u32 	%rd2, %r1, 4;
	add.s64 	%rd3, %rd1, %rd2;
	st.global.b32 	[%rd3], %r3;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer out(13 * 4);
  ASSERT_EQ(launch(m, "partial", 1, 13, {out.address()}), "");
  const int32_t expected[13] = {4, 5, 6, 7, 0, 1, 2, 3, 12, -1, -1, -1, 8};
  for (int i = 0; i < 13; ++i)
    EXPECT_EQ(out.get<int32_t>(i), expected[i]) << i;
  // A member mask naming lanes the warp does not have is refused.
  Module wide(module(R"(
.visible .entry wide()
{
	.reg .b32 	%r<3>;
	mov.u32 	%r1, %tid.x;
	shfl.sync.bfly.b32 	%r2, %r1, 4, 31, -1;
	ret;
}
)"));
  ASSERT_NE(wide.module, nullptr) << wide.log;
  expectMentions(launch(wide, "wide", 1, 13, {}),
                 "member mask is every thread of the warp");
}

TEST(PtxExec, ReportsABarrierTooFewThreadsReach) {
  Module m(module(R"(
.visible .entry half(
	.param .u32 half_param_0
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<2>;
	mov.u32 	%r1, %tid.x;
	setp.lt.u32 	%p1, %r1, 32;
	@%p1 bra 	$L__BB0_2;
	bar.sync 	1, 64;
$L__BB0_2:
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  std::string error = launch(m, "half", 1, 64, {0});
  EXPECT_NE(error.find("deadlock: 32 threads at line"), std::string::npos)
      << error;
  EXPECT_NE(error.find("bar.sync"), std::string::npos) << error;
}

const char *stageKernel = R"(
.visible .entry stage(
	.param .u64 .ptr .align 1 stage_param_0,
	.param .u32 stage_param_1
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<4>;
	.reg .b64 	%rd<6>;
	.shared .align 16 .b8 buffer[512];
	ld.param.b64 	%rd1, [stage_param_0];
	ld.param.b32 	%r3, [stage_param_1];
	mov.u32 	%r1, %tid.x;
	mul.wide.u32 	%rd2, %r1, 16;
	add.s64 	%rd3, %rd1, %rd2;
	mov.b64 	%rd4, buffer;
	add.s64 	%rd5, %rd4, %rd2;
	cp.async.cg.shared.global 	[%rd5], [%rd3], 16;
	cp.async.commit_group;
	setp.eq.b32 	%p1, %r3, 0;
	@%p1 bra 	$L__BB0_2;
	cp.async.wait_group 	0;
$L__BB0_2:
	bar.sync 	0;
	ld.shared.b32 	%r2, [%rd5];
	st.global.b32 	[%rd3+4], %r2;
	ret;
}
)";

TEST(PtxExec, CpAsyncLandsAtItsWait) {
  Module m(module(stageKernel));
  ASSERT_NE(m.module, nullptr) << m.log;
  for (uint64_t wait : {1, 0}) {
    Buffer data(32 * 16);
    for (int i = 0; i < 32 * 4; ++i)
      data.set<uint32_t>(i, 1000 + i);
    ASSERT_EQ(launch(m, "stage", 1, 32, {data.address(), wait}), "");
    // Without the wait the load sees shared memory's initial NaN bytes.
    for (int i = 0; i < 32; ++i)
      EXPECT_EQ(data.get<uint32_t>(4 * i + 1),
                wait ? uint32_t(1000 + 4 * i) : 0xFFFFFFFFu)
          << i;
  }
}

TEST(PtxExec, ReportsAnMbarrierPhaseThatNeverCompletes) {
  Module m(module(R"(
.visible .entry waiting(
	.param .u32 waiting_param_0
)
{
	.reg .pred 	%p<3>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<3>;
	.shared .align 8 .b8 full[8];
	ld.param.b32 	%r4, [waiting_param_0];
	mov.u32 	%r1, %tid.x;
	setp.eq.b32 	%p1, %r1, 0;
	mov.b32 	%r3, 1;
	mov.b64 	%rd1, full;
	cvt.u32.u64 	%r2, %rd1;
	@%p1 mbarrier.init.shared.b64 [%r2], %r3;
	bar.sync 	0;
	@%p1 mbarrier.arrive.expect_tx.shared.b64 %rd2, [%r2], %r4;
	mov.b32 	%r5, 0;
	{
	.reg .pred 	P1;
	LAB_WAIT:
	mbarrier.try_wait.parity.shared.b64 P1, [%r2], %r5;
	@P1 bra.uni DONE;
	bra.uni 	LAB_WAIT;
	DONE:
	}
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  // No transaction bytes expected: the arrival completes the phase.
  EXPECT_EQ(launch(m, "waiting", 1, 64, {0}), "");
  // 64 bytes expected and no copy brings them: every thread waits forever.
  std::string error = launch(m, "waiting", 1, 64, {64});
  EXPECT_NE(error.find("deadlock: 64 threads at line"), std::string::npos)
      << error;
  EXPECT_NE(error.find("mbarrier.try_wait"), std::string::npos) << error;
  // The report says what the phase still waits for.
  expectMentions(error, "mbarrier at shared offset 0: phase 0, 0 of 1 "
                        "arrivals and 64 transaction bytes pending");
}

/// One mbarrier: `init` initializes it, the first thread arrives expecting
/// 64 bytes, and `store` (a shared store to its bytes, or nothing) follows.
std::string mbarrierKernel(const std::string &init, const std::string &store) {
  return R"(
.visible .entry misuse()
{
	.reg .pred 	%p<3>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<3>;
	.shared .align 8 .b8 full[8];
	mov.u32 	%r1, %tid.x;
	setp.eq.b32 	%p1, %r1, 0;
	mov.b32 	%r3, 1;
	mov.b32 	%r4, 64;
	mov.b64 	%rd1, full;
	cvt.u32.u64 	%r2, %rd1;
	)" +
         init + R"(
	@%p1 mbarrier.arrive.expect_tx.shared.b64 %rd2, [%r2], %r4;
	)" +
         store + R"(
	ret;
}
)";
}

TEST(PtxExec, ReportsAnMbarrierInitializedWhileInUse) {
  // Every thread initializes it and nothing orders the inits before the
  // first thread's arrival (MLIR's sm90 GEMM integration test does this):
  // a later init would drop the arrival and the expected bytes.
  Module m(module(mbarrierKernel("mbarrier.init.shared.b64 [%r2], %r3;", "")));
  ASSERT_NE(m.module, nullptr) << m.log;
  std::string error = launch(m, "misuse", 1, 64, {});
  expectMentions(error, "mbarrier.init at shared offset 0 while its phase is "
                        "under way (1 of 1 arrivals, 64 transaction bytes)");
  expectMentions(error, "the init races with its use");
}

TEST(PtxExec, ReportsAStoreOverAnMbarrier) {
  // On a GPU the store would corrupt the mbarrier; ptxsim keeps its state
  // apart from the bytes, so it reports the store instead.
  std::string init = "@%p1 mbarrier.init.shared.b64 [%r2], %r3;\n\tbar.sync 0;";
  Module fine(module(mbarrierKernel(init, "")));
  ASSERT_NE(fine.module, nullptr) << fine.log;
  EXPECT_EQ(launch(fine, "misuse", 1, 64, {}), "");
  Module m(module(mbarrierKernel(init, "st.shared.b32 [%r2+4], %r1;")));
  ASSERT_NE(m.module, nullptr) << m.log;
  std::string error = launch(m, "misuse", 1, 64, {});
  expectMentions(error, "a write to shared bytes 0x4..0x7 overwrites the "
                        "mbarrier at shared offset 0");
}

TEST(PtxExec, WgmmaResultsLandAtTheirWaitGroup) {
  Module m(module(R"(
.visible .entry early(
	.param .u32 early_param_0
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<3>;
	.shared .align 1024 .b8 tiles[4096];
	ld.param.b32 	%r5, [early_param_0];
	mov.b64 	%rd1, tiles;
	shr.u64 	%rd2, %rd1, 4;
	wgmma.fence.sync.aligned;
	{
	.reg .pred p;
	setp.ne.b32 p, 0, 0;
	wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%r1, %r2, %r3, %r4}, %rd2, %rd2, p, 1, 1, 0, 0;
	}
	wgmma.commit_group.sync.aligned;
	setp.eq.b32 	%p1, %r5, 0;
	@%p1 bra 	$L__BB0_2;
	wgmma.wait_group.sync.aligned 	0;
$L__BB0_2:
	add.rn.f32 	%r6, %r1, %r2;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  EXPECT_EQ(launch(m, "early", 1, 128, {1}), "");
  // Without the wait the add reads an accumulator still in flight.
  std::string error = launch(m, "early", 1, 128, {0});
  EXPECT_NE(error.find("reads a wgmma accumulator before the "
                       "wgmma.wait_group"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("add.rn.f32"), std::string::npos) << error;
}

TEST(PtxExec, TensorCopiesLandForTheirMbarrier) {
  Module m(module(R"(
.visible .entry tma(
	.param .align 64 .b8 tma_param_0[128],
	.param .u64 .ptr .align 1 tma_param_1,
	.param .u32 tma_param_2
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<8>;
	.shared .align 1024 .b8 tile[1024];
	.shared .align 8 .b8 full[8];
	mov.b64 	%rd1, tma_param_0;
	cvta.param.u64 	%rd2, %rd1;
	ld.param.b64 	%rd3, [tma_param_1];
	ld.param.b32 	%r6, [tma_param_2];
	mov.b64 	%rd4, full;
	cvt.u32.u64 	%r1, %rd4;
	mov.b32 	%r2, 1;
	mbarrier.init.shared.b64 [%r1], %r2;
	mov.b32 	%r3, 1024;
	mbarrier.arrive.expect_tx.shared.b64 %rd5, [%r1], %r3;
	mov.b64 	%rd6, tile;
	mov.b32 	%r4, 0;
	cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%rd6], [%rd2, {%r4, %r4}], [%r1];
	setp.eq.b32 	%p1, %r6, 0;
	@%p1 bra 	$L__BB0_2;
	{
	.reg .pred 	P1;
	LAB_WAIT:
	mbarrier.try_wait.parity.shared.b64 P1, [%r1], %r4;
	@P1 bra.uni DONE;
	bra.uni 	LAB_WAIT;
	DONE:
	}
$L__BB0_2:
	ld.shared.b32 	%r5, [%rd6+132];
	st.global.b32 	[%rd3], %r5;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer matrix(32 * 8 * 4), out(4);
  for (int i = 0; i < 32 * 8; ++i)
    matrix.set<float>(i, float(i));
  alignas(64) unsigned char map[128];
  uint64_t dims[2] = {32, 8}, strides[1] = {128};
  unsigned box[2] = {32, 8}, elementStrides[2] = {1, 1};
  char error[512] = {};
  ASSERT_EQ(ptxsim_encode_tensor_map(map, 7, 2, matrix.data.data(), dims,
                                     strides, box, elementStrides, 0, 0, 0, 0,
                                     error, sizeof error),
            0)
      << error;
  for (uint32_t wait : {1u, 0u}) {
    uint64_t outAddress = out.address();
    ASSERT_EQ(launchWith(m, "tma", 1, 1, {map, &outAddress, &wait}), "");
    uint32_t got = out.get<uint32_t>(0);
    // Row 1, column 1 (byte 132) once the mbarrier says the box is there;
    // NaN bytes when the kernel reads without waiting.
    float expected = 33.0f;
    uint32_t expectedBits;
    std::memcpy(&expectedBits, &expected, 4);
    EXPECT_EQ(got, wait ? expectedBits : 0xFFFFFFFFu);
  }
}

//--- shared-memory races ----------------------------------------------------//

TEST(PtxExec, ReportsAMissingBarrierAsARace) {
  // Each thread stores its id, then reads its neighbour's: only the
  // barrier orders the neighbour's store before the load.
  Module m(module(R"(
.visible .entry neighbour(
	.param .u64 .ptr .align 1 neighbour_param_0,
	.param .u32 neighbour_param_1
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<6>;
	.shared .align 4 .b8 slots[256];
	ld.param.b64 	%rd1, [neighbour_param_0];
	ld.param.b32 	%r5, [neighbour_param_1];
	mov.u32 	%r1, %tid.x;
	shl.b32 	%r2, %r1, 2;
	mov.u32 	%r3, slots;
	add.s32 	%r4, %r3, %r2;
	st.shared.b32 	[%r4], %r1;
	setp.eq.b32 	%p1, %r5, 0;
	@%p1 bra 	$L__BB0_2;
	bar.sync 	0;
$L__BB0_2:
	add.s32 	%r6, %r2, 4;
	and.b32 	%r6, %r6, 255;
	add.s32 	%r6, %r3, %r6;
	ld.shared.b32 	%r7, [%r6];
	mul.wide.u32 	%rd2, %r1, 4;
	add.s64 	%rd3, %rd1, %rd2;
	st.global.b32 	[%rd3], %r7;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer out(64 * 4);
  ASSERT_EQ(launch(m, "neighbour", 1, 64, {out.address(), 1}), "");
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(out.get<uint32_t>(i), uint32_t((i + 1) % 64)) << i;
  std::string error = launch(m, "neighbour", 1, 64, {out.address(), 0});
  expectMentions(error, "shared-memory race on byte");
  expectMentions(error, "no synchronization orders the two");
  expectMentions(error, "st.shared.b32");
  expectMentions(error, "ld.shared.b32");
}

TEST(PtxExec, ReportsBlocksThatShareGlobalBytes) {
  Module m(module(addKernel));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer x(192 * 4);
  // In place: each block reads and writes its own elements.
  EXPECT_EQ(launch(m, "add", 2, 64, {x.address(), x.address(), 128}), "");
  // y = x + 64: block 0 reads x[64..127], which block 1 reads and writes.
  std::string error =
      launch(m, "add", 2, 64, {x.address(), x.address() + 64 * 4, 128});
  expectMentions(error, "block (1,0,0): global-memory race on address");
  expectMentions(error, "st.global.b32");
  expectMentions(error, "writes it, read by other blocks (the first: block "
                        "(0,0,0)) in the same launch");
  // Every block stores to the same 64 words.
  Module same(module(R"(
.visible .entry same(
	.param .u64 .ptr .align 1 same_param_0
)
{
	.reg .b32 	%r<3>;
	.reg .b64 	%rd<4>;
	ld.param.b64 	%rd1, [same_param_0];
	mov.u32 	%r1, %tid.x;
	mov.u32 	%r2, %ctaid.x;
	mul.wide.u32 	%rd2, %r1, 4;
	add.s64 	%rd3, %rd1, %rd2;
	st.global.b32 	[%rd3], %r2;
	ret;
}
)"));
  ASSERT_NE(same.module, nullptr) << same.log;
  EXPECT_EQ(launch(same, "same", 1, 64, {x.address()}), "");
  error = launch(same, "same", 3, 64, {x.address()});
  expectMentions(error, "block (1,0,0): global-memory race on address");
  expectMentions(error, "writes it, written by block (0,0,0)");
  // PTXSIM_RACECHECK=0 turns this check off too.
  setenv("PTXSIM_RACECHECK", "0", 1);
  error = launch(same, "same", 3, 64, {x.address()});
  unsetenv("PTXSIM_RACECHECK");
  EXPECT_EQ(error, "");
}

TEST(PtxExec, ACpAsyncCopyMustBeIssuedAfterTheReadsItOverwrites) {
  // Every thread reads word 0 of the buffer, then thread 0 refills it with
  // cp.async. A barrier between the reads and the issue orders them; one
  // only between the issue and the wait does not (the copy may land as
  // soon as it is issued).
  Module m(module(R"(
.visible .entry refill(
	.param .u64 .ptr .align 1 refill_param_0,
	.param .u32 refill_param_1
)
{
	.reg .pred 	%p<3>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<4>;
	.shared .align 16 .b8 buffer[16];
	ld.param.b64 	%rd1, [refill_param_0];
	ld.param.b32 	%r5, [refill_param_1];
	mov.u32 	%r1, %tid.x;
	mov.u32 	%r2, buffer;
	ld.shared.b32 	%r3, [%r2];
	setp.eq.b32 	%p2, %r5, 0;
	@%p2 bra 	$L__BB0_2;
	bar.sync 	0;
$L__BB0_2:
	setp.eq.b32 	%p1, %r1, 0;
	@%p1 cp.async.cg.shared.global 	[%r2], [%rd1], 16;
	cp.async.commit_group;
	@!%p2 bra 	$L__BB0_4;
	bar.sync 	0;
$L__BB0_4:
	cp.async.wait_group 	0;
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer source(16);
  EXPECT_EQ(launch(m, "refill", 1, 64, {source.address(), 1}), "");
  std::string error = launch(m, "refill", 1, 64, {source.address(), 0});
  expectMentions(error, "shared-memory race on byte 0x0");
  expectMentions(error, "cp.async.cg.shared.global");
  expectMentions(error, "writes it, read by");
}

/// A warpgroup's wgmma reads `tiles`; thread 0 then stores into them after a
/// barrier, with or without the wgmma.wait_group before it (parameter 0),
/// and the tiles were first written by st.shared with or without a
/// fence.proxy.async (parameter 1).
const char *wgmmaTilesKernel = R"(
.visible .entry tiles(
	.param .u32 tiles_param_0,
	.param .u32 tiles_param_1
)
{
	.reg .pred 	%p<4>;
	.reg .b32 	%r<12>;
	.reg .b64 	%rd<3>;
	.shared .align 1024 .b8 tiles[4096];
	ld.param.b32 	%r5, [tiles_param_0];
	ld.param.b32 	%r6, [tiles_param_1];
	mov.u32 	%r7, %tid.x;
	mov.u32 	%r8, tiles;
	shl.b32 	%r9, %r7, 5;
	add.s32 	%r9, %r8, %r9;
	mov.b32 	%r10, 0;
	st.shared.v4.b32 	[%r9], {%r10, %r10, %r10, %r10};
	st.shared.v4.b32 	[%r9+16], {%r10, %r10, %r10, %r10};
	setp.eq.b32 	%p2, %r6, 0;
	@%p2 bra 	$L__BB0_1;
	fence.proxy.async.shared::cta;
$L__BB0_1:
	bar.sync 	0;
	mov.b64 	%rd1, tiles;
	shr.u64 	%rd2, %rd1, 4;
	wgmma.fence.sync.aligned;
	{
	.reg .pred p;
	setp.ne.b32 p, 0, 0;
	wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%r1, %r2, %r3, %r4}, %rd2, %rd2, p, 1, 1, 0, 0;
	}
	wgmma.commit_group.sync.aligned;
	setp.eq.b32 	%p1, %r5, 0;
	@%p1 bra 	$L__BB0_2;
	wgmma.wait_group.sync.aligned 	0;
$L__BB0_2:
	bar.sync 	0;
	setp.ne.b32 	%p3, %r7, 0;
	@%p3 bra 	$L__BB0_3;
	st.shared.b32 	[%r8], %r10;
$L__BB0_3:
	wgmma.wait_group.sync.aligned 	0;
	ret;
}
)";

TEST(PtxExec, AWgmmaReadsItsSharedOperandsUntilItsWaitGroup) {
  Module m(module(wgmmaTilesKernel));
  ASSERT_NE(m.module, nullptr) << m.log;
  EXPECT_EQ(launch(m, "tiles", 1, 128, {1, 1}), "");
  std::string error = launch(m, "tiles", 1, 128, {0, 1});
  expectMentions(error, "writes it while the wgmma of thread (0,0,0)");
  expectMentions(error, "may still read it");
}

TEST(PtxExec, AWgmmaNeedsAProxyFenceAfterGenericStores) {
  Module m(module(wgmmaTilesKernel));
  ASSERT_NE(m.module, nullptr) << m.log;
  std::string error = launch(m, "tiles", 1, 128, {1, 0});
  expectMentions(error, "reads it through the async proxy");
  expectMentions(error, "not followed by a fence.proxy.async");
  expectMentions(error, "st.shared.v4.b32");
}

//--- memory-access profile --------------------------------------------------//

TEST(PtxExec, ProfilesBankConflictsAndCoalescing) {
  // Each thread stores one word at index tid * stride into shared memory
  // and loads one word at tid * stride from global memory.
  Module m(module(R"(
.visible .entry strided(
	.param .u64 .ptr .align 1 strided_param_0,
	.param .u32 strided_param_1
)
{
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<6>;
	.shared .align 4 .b8 words[8192];
	ld.param.b64 	%rd1, [strided_param_0];
	ld.param.b32 	%r1, [strided_param_1];
	mov.u32 	%r2, %tid.x;
	mul.lo.s32 	%r3, %r2, %r1;
	shl.b32 	%r4, %r3, 2;
	mov.u32 	%r5, words;
	add.s32 	%r6, %r5, %r4;
	st.shared.b32 	[%r6], %r2;
	mul.wide.u32 	%rd2, %r4, 1;
	add.s64 	%rd3, %rd1, %rd2;
	ld.global.b32 	%r7, [%rd3];
	ret;
}
)"));
  ASSERT_NE(m.module, nullptr) << m.log;
  Buffer data(64 * 32 * 4 + 32);
  uint64_t aligned = (data.address() + 31) / 32 * 32; // sectors: 32 bytes
  std::string path = ::testing::TempDir() + "ptxsim_profile.jsonl";
  auto profileOf = [&](uint64_t stride) {
    std::remove(path.c_str());
    setenv("PTXSIM_PROFILE", path.c_str(), 1);
    if (stride == 0) // every thread stores to one word: a race
      setenv("PTXSIM_RACECHECK", "0", 1);
    std::string error = launch(m, "strided", 1, 64, {aligned, stride});
    unsetenv("PTXSIM_PROFILE");
    unsetenv("PTXSIM_RACECHECK");
    EXPECT_EQ(error, "");
    std::string line;
    if (FILE *file = std::fopen(path.c_str(), "r")) {
      char buffer[8192];
      if (std::fgets(buffer, sizeof buffer, file))
        line = buffer;
      std::fclose(file);
    }
    return line;
  };
  // Consecutive words: one wavefront and 4 sectors per warp, as ideal.
  std::string line = profileOf(1);
  expectMentions(line, "\"kernel\": \"strided\"");
  expectMentions(line, "\"shared\": {\"requests\": 2, \"wavefronts\": 2, "
                       "\"ideal\": 2}");
  expectMentions(line, "\"global\": {\"requests\": 2, \"sectors\": 8, "
                       "\"ideal\": 8}");
  // Stride 32 words: every lane in bank 0 (32 wavefronts a warp), and a
  // sector per lane.
  line = profileOf(32);
  expectMentions(line, "\"shared\": {\"requests\": 2, \"wavefronts\": 64, "
                       "\"ideal\": 2}");
  expectMentions(line, "\"global\": {\"requests\": 2, \"sectors\": 64, "
                       "\"ideal\": 8}");
  expectMentions(line, "\"text\": \"st.shared.b32  [%r6], %r2\"");
  // Stride 2: lanes l and l + 16 share a bank (2 wavefronts).
  line = profileOf(2);
  expectMentions(line, "\"wavefronts\": 4, \"ideal\": 2");
  // Stride 0: one word for all (a broadcast; one sector).
  line = profileOf(0);
  expectMentions(line, "\"wavefronts\": 2, \"ideal\": 2");
  expectMentions(line, "\"sectors\": 2, \"ideal\": 2");
}

TEST(PtxExec, RejectsWhatItDoesNotKnow) {
  Module unknown(module(R"(
.visible .entry odd()
{
	.reg .b32 	%r<2>;
	popc.b32 	%r1, %r1;
	ret;
}
)"));
  EXPECT_EQ(unknown.module, nullptr);
  EXPECT_NE(unknown.log.find("line 9: unsupported instruction 'popc.b32'"),
            std::string::npos)
      << unknown.log;
  Module undefined(module(R"(
.visible .entry jump()
{
	bra.uni 	$L__nowhere;
}
)"));
  EXPECT_EQ(undefined.module, nullptr);
  EXPECT_NE(undefined.log.find("undefined label '$L__nowhere'"),
            std::string::npos)
      << undefined.log;
}

} // namespace
