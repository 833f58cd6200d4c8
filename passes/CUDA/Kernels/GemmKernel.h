//===- GemmKernel.h - tensor-core GEMM kernels for NVIDIA GPUs --*- C++ -*-===//
//
// Builds one gpu.func computing C[M,N] = epilogue(A[M,K] * B + ...) on
// tensor cores, for two machine generations:
//   "wgmma"    (sm_90a): A and B tiles arrive in shared memory through TMA
//              (nvgpu.tma.async.load, 128-byte swizzle), stages are tracked
//              with nvgpu.mbarrier transaction counts, products are
//              nvgpu.warpgroup.mma (wgmma.mma_async m64nNk16). With
//              `consumers` = 2 the kernel is warp-specialized: a producer
//              warpgroup issues the TMA loads, two consumer warpgroups
//              (64 or 128 rows each) run the wgmmas, stages are handed
//              back through a second set of mbarriers, and setmaxnreg
//              moves registers from the producer to the consumers.
//   "mma_sync" (sm_80):  tiles arrive through cp.async
//              (nvgpu.device_async_copy), fragments through nvgpu.ldmatrix,
//              products are nvgpu.mma.sync m16n8k16.
// Both use one CTA per [tile-m, tile-n] output tile (128 threads, or 128 x
// (consumers + 1)), f32 accumulation and an f32 output.
//
// Remainders: M and N may end in a partial tile (the grid rounds up; loads
// past the end are zero-filled: TMA's out-of-bounds fill on sm_90a, cp.async
// with source size 0 on sm_80; stores are guarded). N must be a multiple of 8
// (16-byte rows) and K a multiple of tile-k: those are rejected with an
// error naming the dimension, its size and what to pad it to.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_GEMMKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_GEMMKERNEL_H

#include "passes/CUDA/Kernels/KernelInfo.h"
#include "passes/CUDA/Kernels/NormKernel.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"

namespace mbc::cuda {

enum class MmaKind { Wgmma, MmaSync };

/// Layout of B in global memory.
enum class BLayout {
  NK, // [N, K] row-major: nn.Linear weights (K contiguous)
  KN, // [K, N] row-major (N contiguous)
};

/// The epilogue's activation: exact (erf) GELU, its tanh approximation,
/// or ReLU.
enum class Activation { None, GeluErf, GeluTanh, Relu };

struct GemmConfig {
  MmaKind mma = MmaKind::Wgmma;
  int64_t tileM = 128;
  int64_t tileN = 128;
  int64_t tileK = 64;
  int64_t stages = 3;
  /// wgmma only: warpgroups that compute. 1: one warpgroup loads and
  /// computes; 2: a producer warpgroup and two consumers, tile-m 128 or
  /// 256 split between them (warp specialization).
  int64_t consumers = 1;
  /// wgmma with 2 consumers only: > 0 makes the kernel persistent: at most
  /// this many CTAs (the GPU's SM count: 132 on H100/H200 SXM), each
  /// walking the output tiles blockIdx.x, + gridDim.x, ... (N tiles of an
  /// M row in turn). The producer runs ahead into the next tile's K blocks
  /// while the consumers store the previous one, from an epilogue tile of
  /// its own (not overlaying the stages). 0: one CTA per tile.
  int64_t persistentCtas = 0;
};

struct GemmSpec {
  int64_t m = 0, n = 0, k = 0;
  /// Element type of A and B: bf16 or f16 (both the same).
  mlir::Type inputType;
  BLayout bLayout = BLayout::NK;
  /// Epilogue, applied in this order: + bias[N] (f32), activation, +
  /// residual[M, N] (f32). C may alias the residual.
  bool bias = false;
  Activation activation = Activation::None;
  bool residual = false;
  /// C's element type: f32 (null means f32), or the input type, rounded
  /// after the epilogue (a 16-bit result that feeds another GEMM).
  mlir::Type outputType;
  /// The bias's element type: f32 (null means f32), bf16 or f16 (a bias
  /// stored in 16 bits, read as stored and widened in the epilogue).
  mlir::Type biasType;
  /// > 0: a second product C2 [M, pairedN] = A B2^T of the same A in the
  /// same launch (its N tiles after the first's: grid x covers both), with
  /// B2 [pairedN, K]; no bias, activation or residual. An attention layer's
  /// q and kv projections are one launch.
  int64_t pairedN = 0;
  /// > 0: NeoX rotate-half rotary on C's (and C2's) first rotaryColumns
  /// columns, whole heads of rotaryHeadDim, before rounding: column i < dh
  /// / 2 of a head pairs with i + dh / 2, the angle is position x
  /// theta^(-2 (i mod dh / 2) / dh), the position row % rotaryPositions.
  /// An attention layer's q (all of it) and k (the first half of the kv
  /// rows) leave the GEMM rotated and rounded. wgmma only (its epilogue
  /// tile holds both halves of every head); no bias, activation or
  /// residual.
  int64_t rotaryColumns = 0, rotaryHeadDim = 0, rotaryPositions = 0;
  double rotaryTheta = 0;
  /// A norm prologue (mb-cuda-fuse-gemm-norms): A is not an operand but
  /// norm(shift(x)) of the f32 rows x [M, K] that this spec describes (its
  /// rows M, dim K, output type the input type). Each CTA normalizes its
  /// tile-m rows once, rounds them to the input type and keeps them in
  /// shared memory ([K / 64][tile-m][64], the layout A's TMA loads make,
  /// or [tile-m][K + 8] for mma_sync) for every K block; only B streams.
  /// The norm kernel's launch and its rounded rows in global memory go.
  /// Not with `persistent`.
  std::optional<NormSpec> norm;
  /// The head's log-softmax in the epilogue (mb-cuda-fuse-head-log-softmax):
  /// after + bias, C is each row's log-softmax over its N columns (f32),
  /// computed as the log-softmax kernel computes it (LogSoftmaxKernel.h).
  /// wgmma with one warpgroup and N <= tile-n, so a CTA holds whole rows
  /// (its staged f32 tile: a warp a row); no activation, residual, rotary
  /// or paired product.
  bool logSoftmax = false;
  /// With logSoftmax, > 0: C's rows are stored in the order
  /// mb.merge_patches <start_token> gives them (the log-probabilities of
  /// the bytes): row r = s (P + 1) + p (sequence s, position p; P =
  /// mergePositions, K = mergeSequences sequences per batch entry) is row
  /// s P + p of C when p >= 1 or s % K = 0, except p = P of the last
  /// sequence of an entry (the prediction after its last byte); the
  /// others are not stored. C then has M / (P + 1) x P rows.
  int64_t mergeSequences = 0, mergePositions = 0;
  /// A norm epilogue (mb-cuda-fuse-gemm-norms' epilogue-norms): after +
  /// bias, C's rows are norm(row) * weight (+ bias) in f32, computed as the
  /// norm kernel computes them (buildWarpRowNorm); with the spec's start
  /// type, C is mb.start_token's result (NormSpec::startType: M + M /
  /// positions rows). The spec's rows are M, its dim N, its output f32.
  /// wgmma with one warpgroup and N = tile-n <= 256, so a CTA holds whole
  /// rows (its staged f32 tile: a warp a row); no activation, residual,
  /// rotary, paired product or log-softmax.
  std::optional<NormSpec> outputNorm;
  GemmConfig config;
};

/// C's rows: M, or fewer when merged (GemmSpec::mergePositions).
int64_t gemmOutputRows(const GemmSpec &spec);

/// Checks `spec` against what the builders support; the message names the
/// offending field and value.
mlir::LogicalResult
verifyGemmSpec(const GemmSpec &spec,
               llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// Appends a kernel `name` to `module` and returns its launch facts. The
/// kernel's parameters are, in order: for "wgmma" the A and B tensor maps,
/// for "mma_sync" the A and B pointers (with a norm prologue, A is the
/// pointer x); then C, then bias and residual when enabled, then the norm's
/// weight (and a LayerNorm's bias), then a norm epilogue's weight, [bias]
/// and [start row]; a paired GEMM ends in B2 (a tensor map or pointer) and
/// C2. Fails
/// (with a diagnostic at `loc`) on an unsupported spec.
mlir::FailureOr<KernelInfo>
buildGemmKernel(mlir::OpBuilder &builder, mlir::gpu::GPUModuleOp module,
                llvm::StringRef name, const GemmSpec &spec, mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_GEMMKERNEL_H
