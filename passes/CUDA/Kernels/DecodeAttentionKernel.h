//===- DecodeAttentionKernel.h - one new position against a KV cache -*- C++
//-*-===//
//
// Builds one gpu.func computing, for each of N sequences and each head h,
// the attention of one new query against the keys and values of positions
// 0..position of its cache (mb.cached_attention's core; the new row is
// already written):
//   out[n, h] = sum_j softmax_j(scale * q[n, h] . K[n, j, h]) V[n, j, h]
// One CTA per (head, sequence), `warps` warps: warp w takes keys w,
// w + warps, ... (keysPerStep of them per loop step); its lanes hold head-dim / 32 consecutive features each
// (a warp reads one key row of a head as one coalesced segment), the dot
// product is a butterfly shuffle sum, and each warp keeps an online softmax
// (running max, sum and weighted values, FlashAttention style) that the
// CTA merges through shared memory at the end. f32 throughout (the caches
// are f32); exponentials are ex2.approx with log2(e) folded into q.
//
// Parameters: q [N, H * D], k cache [R, L, H * D], v cache [R, L, H * D]
// (sequence n at cache row firstRow + n: the whole cache of every layer,
// so a layer's slice needs no copy), position [1] i64 (device memory, so a
// captured CUDA graph replays any step), out [N, H * D]. Keys past
// min(position, L - 1) are not read. With splits (flash-decoding), the
// keys of a (head, sequence) are shared by several CTAs and a second,
// small kernel merges their partial softmax states.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_DECODEATTENTIONKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_DECODEATTENTIONKERNEL_H

#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mbc::cuda {

struct DecodeAttentionSpec {
  int64_t sequences = 1;   // N
  int64_t heads = 1;       // H
  int64_t headDim = 64;    // D: 32, 64 or 128
  int64_t cacheLength = 0; // L
  /// Rows of the cache buffers (R >= firstRow + N) and this call's first.
  int64_t cacheRows = 1;
  int64_t firstRow = 0;
  /// Softmax scale; 0 means 1 / sqrt(headDim).
  double scale = 0;
  /// Warps per CTA (keys are dealt round-robin to them): 1 to 32, and
  /// 32 x warps >= headDim (the merge gives each feature a thread).
  int64_t warps = 4;
  /// Key splits (flash-decoding), 1 to kMaxDecodeAttentionSplits: with
  /// more than one, CTA (head, sequence, s) takes the s-th of `splits`
  /// equal runs of keys 0..position and writes its unnormalized partial
  /// (weighted values, max, sum) to a partials buffer, and a second kernel
  /// (buildDecodeAttentionCombineKernel) merges the splits: a long cache
  /// with few heads then spreads over heads x splits CTAs, not heads.
  int64_t splits = 1;
  /// Keys a warp takes per loop step (1, 2 or 4): independent loads and
  /// shuffle sums in flight together, one online-softmax update.
  int64_t keysPerStep = 4;
};

inline constexpr int64_t kMaxDecodeAttentionSplits = 64;

/// The partials buffer of a split decode attention: [N, H, splits, D + 2]
/// f32 (per split: weighted values, max, sum; max and sum in the log2
/// domain of the scores).
mlir::MemRefType decodeAttentionPartialsType(mlir::MLIRContext *context,
                                             const DecodeAttentionSpec &spec);

mlir::LogicalResult verifyDecodeAttentionSpec(
    const DecodeAttentionSpec &spec,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// Appends kernel `name` to `module`. Parameters: q, k_cache, v_cache,
/// position, out (with splits > 1: partials instead of out).
mlir::FailureOr<KernelInfo>
buildDecodeAttentionKernel(mlir::OpBuilder &builder,
                           mlir::gpu::GPUModuleOp module, llvm::StringRef name,
                           const DecodeAttentionSpec &spec, mlir::Location loc);

/// Appends the kernel `name` that merges a split decode attention's
/// partials into out [N, H * D]: one CTA per (head, sequence), thread t
/// feature t. Parameters: partials, out.
mlir::FailureOr<KernelInfo> buildDecodeAttentionCombineKernel(
    mlir::OpBuilder &builder, mlir::gpu::GPUModuleOp module,
    llvm::StringRef name, const DecodeAttentionSpec &spec, mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_DECODEATTENTIONKERNEL_H
