//===- GemvKernel.h - decode-time matrix-vector products --------*- C++ -*-===//
//
// Builds one gpu.func computing C[M, N] = epilogue(A[M, K] * W[N, K]^T) for
// the few rows of a decode step (M <= 16): memory bound, so the kernel reads
// every weight once, coalesced, with many loads in flight. A warp owns
// `columnsPerWarp` output columns n and walks K once for all of them: its
// lanes take 16-byte chunks (8 bf16/f16 weights or 4 f32 ones,
// lane-interleaved so a warp reads 512 contiguous bytes per column and
// chunk), each lane issuing the loads of 8 chunks (4 steps x 2 columns by
// default) before the first FMA, multiplies them with the f32 activations
// of every row (A stays f32, f32 weights are read as stored: nothing is
// rounded; each x chunk loaded once for all columns) into per-(row,
// column) vector accumulators (a chunk's lanes wide, narrower for many
// rows, same FMA count), reduces each across the lanes with shuffles, and
// lane 0 applies the epilogue (+ bias[N], activation, + residual[M, N])
// and stores. No tensor cores: at M <= 16 they would idle on the weight
// stream.
//
// K must be a multiple of a chunk (8 weights; 4 for f32); N may be
// anything (the last block's warps past N do nothing; a warp's columns
// past N load column N - 1 and store nothing). rows x columnsPerWarp is at
// most 64.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_GEMVKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_GEMVKERNEL_H

#include "passes/CUDA/Kernels/DecodeAttentionKernel.h"
#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

namespace mbc::cuda {

struct GemvSpec {
  int64_t m = 1, n = 0, k = 0;
  /// The weights' element type: bf16, f16 or f32 (a model stored in f32
  /// decodes in f32). A, residual and C are f32.
  mlir::Type weightType;
  bool bias = false;
  /// The bias's element type: f32 (null means f32), bf16 or f16.
  mlir::Type biasType;
  Activation activation = Activation::None;
  bool residual = false;
  /// Warps per block and output columns per warp.
  int64_t warps = 8;
  int64_t columnsPerWarp = 2;
  /// A decode row's norm in the prologue: A is the norm's input and the
  /// product is taken with norm(A). The norm's own launch and its output
  /// buffer go away.
  /// - RMSNorm (Rms, RmsClamp), norm(A) = A * rstd * normWeight: as
  ///   W . (x * rstd * g) = rstd (W . (x * g)), the lanes multiply x by g
  ///   on the fly, accumulate the sum of squares of x from the same loads,
  ///   and the epilogue scales by rstd.
  /// - LayerNorm (Layer), norm(A) = (A - mean) * rstd * normWeight +
  ///   normBias: each block first normalizes the M rows into shared memory
  ///   (one global read of A; mean and variance in two passes over the
  ///   row, as the norm kernel computes them, a warp a row), then reads A
  ///   from there. M x K x 4 bytes must fit kMaxGemvLayerNormBytes.
  bool normPrologue = false;
  NormKind normKind = NormKind::Rms;
  double normEpsilon = 1e-5;
  /// The norm weight's (and LayerNorm bias's) type as stored: f32, bf16 or
  /// f16 (null: f32).
  mlir::Type normWeightType;
  /// A decode attention over a short KV cache in the prologue: A is the
  /// query rows q [M, heads x headDim], and the product is taken with the
  /// attention's output rows, which each block computes into shared memory
  /// first (a warp per (row, head): online softmax over keys 0..position,
  /// in f32 with ex2.approx, as the decode attention kernel computes it).
  /// The attention's own launch and its output buffer go away: for the
  /// local model, whose caches hold a patch (at most
  /// kMaxGemvAttentionPositions keys), recomputing them in every block
  /// reads a few KiB. `attention` describes the caches (splits 1, sequences
  /// M); M x K x 4 bytes must fit kMaxGemvLayerNormBytes.
  bool attentionPrologue = false;
  DecodeAttentionSpec attention;
  /// A paired GEMV when > 0: a second product of the same A (and norm)
  /// with its own weight W2 [pairedN, K] into its own C2 [M, pairedN], in
  /// the same launch (its blocks after the first product's): a decode
  /// layer's q and kv projections. Neither product has an epilogue.
  int64_t pairedN = 0;
  /// With pairedN: a third product W3 [thirdN, K] into C3 [M, thirdN], its
  /// blocks after the second's: separate q, k and v projections (the
  /// paper's) in one launch.
  int64_t thirdN = 0;
};

/// The largest M a GEMV kernel takes.
inline constexpr int64_t kMaxGemvRows = 16;
/// The most shared memory a LayerNorm prologue's normalized rows take.
inline constexpr int64_t kMaxGemvLayerNormBytes = 48 * 1024;

/// The longest KV cache a GEMV's attention prologue reads.
inline constexpr int64_t kMaxGemvAttentionPositions = 32;

/// How many norm operands a GEMV call takes after A, W, bias and residual:
/// the norm weight, and a LayerNorm's bias (0 without a norm prologue).
inline unsigned gemvNormOperandCount(const GemvSpec &spec) {
  if (!spec.normPrologue)
    return 0;
  return spec.normKind == NormKind::Layer ? 2 : 1;
}

/// The dynamic shared memory of a GEMV: the M x K f32 rows a LayerNorm or
/// attention prologue builds there (0 without one).
inline int64_t gemvPrologueSharedBytes(const GemvSpec &spec) {
  bool rows = spec.attentionPrologue ||
              (spec.normPrologue && spec.normKind == NormKind::Layer);
  return rows ? spec.m * spec.k * 4 : 0;
}

/// An attention prologue's operands after the norm's: the key and value
/// caches [cacheRows, cacheLength, heads x headDim] f32 and the position
/// [1] i64 (0 without one).
inline unsigned gemvAttentionOperandCount(const GemvSpec &spec) {
  return spec.attentionPrologue ? 3 : 0;
}

mlir::LogicalResult
verifyGemvSpec(const GemvSpec &spec,
               llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// Appends kernel `name` to `module`. Parameters: a, w, c, then bias,
/// residual and the norm weight (and a LayerNorm's bias) when enabled, then
/// k_cache, v_cache and position with an attention prologue, then w2 and
/// c2 when paired, w3 and c3 with a third product (all pointers).
mlir::FailureOr<KernelInfo>
buildGemvKernel(mlir::OpBuilder &builder, mlir::gpu::GPUModuleOp module,
                llvm::StringRef name, const GemvSpec &spec, mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_GEMVKERNEL_H
