//===- AttentionKernel.h - flash attention on tensor cores ------*- C++ -*-===//
//
// Builds one gpu.func computing, for every (batch x head) slice,
//   O[q] = sum_k softmax_k(scale * Q[q] . K[k]) V[k]   (k <= q when causal)
// in one pass over K/V blocks with the online softmax (FlashAttention-2
// scheme): a CTA of 4 warps owns 64 query rows, each warp 16 rows whose Q
// fragments stay in registers; K and V blocks are double-buffered in shared
// memory through cp.async; both products are mma.sync m16n8k16 (sm_80 and
// newer); exponentials are ex2 with log2(e) folded into the scale. With
// rowTiles = 2 each warp owns two 16-row tiles (128 rows a CTA) that share
// every K/V fragment it loads; with reloadQuery the Q fragments are read
// from the Q tile in shared memory for every key block instead. Only the key
// blocks that cross some row's causal (or ragged-end) boundary are masked;
// the others run without a compare per score.
//
// Layouts:
// - packed: Q, K, V are [batchHeads, seqLen, headDim] bf16/f16 row-major, O
//   is [batchHeads, seqLen, headDim]; seqLen must be a multiple of the query
//   and key blocks (pad it: with the causal mask, padded keys come after
//   every real query and are masked for them).
// - token-major (heads > 0): the projections' own rows. Q, K, V are
//   [sequences, seqLen, rowElements] with head h of a sequence at columns
//   column + h * headDim (K and V may be the two halves of one buffer), O is
//   [sequences, seqLen, heads * headDim], ready for the output projection.
//   seqLen is any length: rows past it are zero-filled on load (cp.async
//   with source size 0), keys past it are masked, rows past it not stored.
//   So the pipeline's global attention needs no transposed, padded copies.
// O is f32 or, rounded at the store, the input type.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_ATTENTIONKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_ATTENTIONKERNEL_H

#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mbc::cuda {

struct AttentionSpec {
  int64_t batchHeads = 1;
  int64_t seqLen = 0;
  int64_t headDim = 64; // 32, 64 or 128
  mlir::Type inputType; // bf16 or f16
  bool causal = true;
  /// Softmax scale; 0 means 1 / sqrt(headDim).
  double scale = 0;
  /// Keys per block (32, 64 or 128); the query block is 64 rows.
  int64_t keyBlock = 64;
  /// MEGABYTE's local attention: when > 0, the sequence is a run of patches
  /// of this many rows and a row attends only to earlier rows of its own
  /// patch (block-diagonal causal mask), so several patches share one MMA
  /// tile (64 / patchLength per CTA) and each CTA reads one K/V block.
  int64_t patchLength = 0;
  /// Token-major layout when > 0 (batchHeads = sequences x heads).
  int64_t heads = 0;
  /// Token-major: elements per row of Q, K and V, and the first column of
  /// head 0 in K and V (Q's is 0).
  int64_t qRowElements = 0, kRowElements = 0, vRowElements = 0;
  int64_t kColumn = 0, vColumn = 0;
  /// O's element type: f32 (null means f32) or the input type.
  mlir::Type outputType;
  /// 16-row MMA tiles of queries per warp (1 or 2): the query block is
  /// 64 x rowTiles rows. With 2, each K and V fragment a warp reads from
  /// shared memory feeds two MMAs, halving the ldmatrix traffic per
  /// product (FlashAttention-2's 128-row blocks); packed local attention
  /// (patch-length) keeps 1.
  int64_t rowTiles = 1;
  /// Reload Q's fragments from shared memory for every key block instead of
  /// holding them in registers for the whole pass (FlashAttention-2 does so
  /// by default): frees headDim / 2 registers per row tile, what two tiles
  /// of head dim 128 need to fit without spills.
  bool reloadQuery = false;
  /// The products' instructions: mma.sync (sm_80 and newer; the kernel
  /// above) or, on sm_90a, wgmma with TMA loads and a producer warpgroup
  /// (WgmmaAttention.h: 128-row query blocks, head dims 64 and 128, key
  /// blocks of 64 or 128; row-tiles and reload-query do not apply).
  MmaKind mma = MmaKind::MmaSync;
  /// wgmma: the two consumer warpgroups take turns issuing their products
  /// (named barriers), so one's softmax runs while the other's products
  /// use the tensor cores (FlashAttention-3's ping-pong schedule).
  bool pingpong = false;

  bool tokenMajor() const { return heads > 0; }
};

mlir::LogicalResult
verifyAttentionSpec(const AttentionSpec &spec,
                    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// Appends kernel `name` to `module`. Parameters: q, k, v, o pointers.
mlir::FailureOr<KernelInfo> buildAttentionKernel(mlir::OpBuilder &builder,
                                                 mlir::gpu::GPUModuleOp module,
                                                 llvm::StringRef name,
                                                 const AttentionSpec &spec,
                                                 mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_ATTENTIONKERNEL_H
