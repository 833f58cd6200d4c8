//===- WgmmaAttention.h - flash attention with wgmma on sm_90a --*- C++ -*-===//
//
// The sm_90a body of buildAttentionKernel (AttentionSpec::mma = wgmma): a
// CTA of three warpgroups owns 128 query rows of one (sequence, head)
// slice. Warpgroup 0 produces: one thread loads Q once and then every K and
// V block with TMA into a ring of shared-memory stages, each K and V stage
// with its own "full" and "empty" mbarriers. Warpgroups 1 and 2 each own 64
// query rows and run the FlashAttention-2 online softmax with both products
// on wgmma: S = Q K^T from shared memory (m64 x key-block, 16 of the head
// dimension per instruction), O += P V with P straight from the S registers
// (the register-A form of wgmma) and V read transposed from shared memory.
// Each consumer overlaps block j's softmax with block j-1's P V product
// (FlashAttention-3's intra-warpgroup pipelining). The layouts are
// AttentionKernel.h's, token-major or packed, any sequence length (Q, K and
// V are 3-D tensor maps, so rows past a sequence's end load as zeros).
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_WGMMAATTENTION_H
#define MBC_PASSES_CUDA_KERNELS_WGMMAATTENTION_H

#include "passes/CUDA/Kernels/AttentionKernel.h"

namespace mbc::cuda {

/// Threads of a CTA: a producer and two consumer warpgroups.
inline constexpr int64_t kWgmmaAttentionThreads = 3 * 128;
/// Query rows of a CTA: 64 per consumer warpgroup.
inline constexpr int64_t kWgmmaAttentionQueryRows = 128;

/// What the wgmma kernel requires beyond verifyAttentionSpec's checks.
mlir::LogicalResult verifyWgmmaAttentionSpec(
    const AttentionSpec &spec,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// Dynamic shared memory of a CTA, including the alignment pad.
int64_t wgmmaAttentionSharedBytes(const AttentionSpec &spec);

/// How the runtime encodes the q, k and v tensor maps (in that order).
llvm::SmallVector<TensorMapDescription, 3>
wgmmaAttentionTensorMaps(const AttentionSpec &spec);

/// Builds the kernel body at `b`'s insertion point: `maps` are the q, k and
/// v tensor-map parameters (llvm.ptr), `o` the output memref.
void buildWgmmaAttention(mlir::OpBuilder &b, mlir::Location loc,
                         const AttentionSpec &spec, mlir::ValueRange maps,
                         mlir::Value o);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_WGMMAATTENTION_H
