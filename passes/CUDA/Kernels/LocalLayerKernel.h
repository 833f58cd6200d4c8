//===- LocalLayerKernel.h - one fused local transformer layer ---*- C++ -*-===//
//
// Builds one gpu.func computing a whole pre-norm layer of MEGABYTE's local
// model for every patch:
//   x1 = x  + Wo  attention(norm1(shift(x)))      (per-head q, k, v)
//   x2 = x1 + W2 act(W1 norm2(shift(x1)) + b1) + b2
// (`shift` is MEGABYTE-pytorch's token shift, when enabled). A CTA of 4
// warps owns 64 rows: as many whole patches of S positions (P or P + 1,
// at most 64) as fit, packed (7 patches of 9 rows use 63), each warp 16
// rows. When S divides 16 a warp's rows are whole patches whose attention
// never leaves the warp (S = Q K^T is one 16 x 16 block with a
// block-diagonal causal mask, P V one mma row); otherwise a warp's keys are
// the 16-row blocks back to its first row's patch start, in shared memory.
// Every activation stays on chip: the residual stream x in shared memory
// (f32), normalized rows, q/k/v of one head, the attention output and a
// 64-wide chunk of the FFN's hidden activation in shared memory (16-bit),
// GEMM accumulators in registers. The 4H-wide hidden activation never
// exists whole.
//
// Weights stream through shared memory as [rows <= 128][64] tiles in one
// statically unrolled schedule (q, k, v per head, the output projection,
// then per hidden chunk the up and down projections) with a `stages`-deep
// cp.async pipeline that runs across projection boundaries. Products are
// mma.sync m16n8k16 (sm_80 and newer) with f32 accumulation; q, k, v, the
// attention probabilities and output, the normalized rows and the hidden
// activation are rounded to the weights' 16-bit type, as the unfused GEMM
// and attention kernels round them.
//
// Layouts: x and out are [sequences * positions, dim] f32 (the model's
// [N, S, D] tensor), weights are nn.Linear's [out, in] in bf16/f16, norm
// weights and biases f32. With an input spec (LocalInputSpec), context is
// [sequences / K * (K + 1), (positions - 1) * dim] f32, bytes [sequences,
// positions - 1] i32, the embedding table [vocabulary, dim] and the start
// token [dim] as stored.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_LOCALLAYERKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_LOCALLAYERKERNEL_H

#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace mbc::cuda {

/// The first layer's input rows built in the kernel's prologue instead of
/// read as x (MEGABYTE-pytorch's finest stage; mb-cuda-select-kernels):
/// position 0 of patch n is the start token; position p >= 1 is the
/// embedding of byte bytes[n, p - 1] plus columns [(p - 1) D, p D) of
/// context row n + n / patchesPerSequence. The context is the
/// global-to-local projection over every position of the coarser stage,
/// its start token included: patchesPerSequence + 1 rows per batch entry,
/// whose last the local model never reads.
struct LocalInputSpec {
  int64_t vocabulary = 0;         // rows of the embedding table
  int64_t patchesPerSequence = 0; // K: patches of one batch entry
  mlir::Type tableType;           // the embedding table's: f32, bf16, f16
  mlir::Type startType;           // the start token's: f32, bf16, f16

  bool operator==(const LocalInputSpec &other) const {
    return vocabulary == other.vocabulary &&
           patchesPerSequence == other.patchesPerSequence &&
           tableType == other.tableType && startType == other.startType;
  }
};

struct LocalLayerSpec {
  int64_t sequences = 0; // N: patches (x batch)
  int64_t positions = 0; // S: rows per patch (P, or P + 1), at most 16
  int64_t dim = 0;       // D, a multiple of 64
  int64_t heads = 0;
  int64_t headDim = 0; // 32, 64 or 128; heads * headDim a multiple of 64
  int64_t hidden = 0;  // FFN width, a multiple of 64
  mlir::Type weightType; // bf16 or f16
  /// Norm weights and biases, FFN biases: f32, or 16-bit as stored (null:
  /// f32).
  mlir::Type vectorType;
  NormKind norm = NormKind::RmsClamp;
  double epsilon = 1e-8;
  bool tokenShift = false;
  Activation activation = Activation::GeluErf;
  /// k and v are the two row halves of one [2 * heads * headDim, D] weight
  /// (MEGABYTE-pytorch's to_kv): one parameter instead of two.
  bool fusedKeyValue = false;
  /// Softmax scale; 0 means 1 / sqrt(headDim).
  double scale = 0;
  /// Rotary (NeoX rotate-half over the whole head, positions 0..S-1 of the
  /// patch) on q and k with this theta; 0: none.
  double rotaryTheta = 0;
  /// Weight tiles in flight (2 to 4).
  int64_t stages = 3;
  /// Consecutive layers of this shape in one kernel (the whole local
  /// transformer, mb-cuda-chain-local-layers): the residual stream stays
  /// in shared memory from one layer to the next, and the weights of all
  /// of them stream through one pipeline. Each layer takes its own
  /// parameters, in localLayerParamNames' order.
  int64_t layers = 1;
  /// The input built in the prologue (parameters context, bytes,
  /// embedding, start_token in place of x); none: x.
  std::optional<LocalInputSpec> input;

  int64_t inner() const { return heads * headDim; }
  /// Whole patches a CTA's 64-row tile holds (packed: a patch takes
  /// `positions` rows).
  int64_t patchesPerTile() const;
  /// Weight tiles the schedule streams (its unrolled length, every layer).
  int64_t weightTiles() const;
  int64_t sharedBytes() const;
};

/// Unrolled weight tiles allowed in one kernel (code size).
inline constexpr int64_t kMaxLocalLayerWeightTiles = 1024;

mlir::LogicalResult
verifyLocalLayerSpec(const LocalLayerSpec &spec,
                     llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// The kernel's parameter names in order (docs/cuda.md "ptr" params): x
/// (or, with an input spec, context, bytes, embedding, start_token),
/// norm1_weight, [norm1_bias], wq, wkv | wk, wv, wo, norm2_weight,
/// [norm2_bias], up_weight, up_bias, down_weight, down_bias, out; a chained
/// layer l >= 1's parameters follow the previous layer's, before out, as
/// "layer<l>_norm1_weight" and so on.
llvm::SmallVector<std::string> localLayerParamNames(const LocalLayerSpec &spec);

/// The parameters that stand for x: 1, or 4 with an input spec.
int64_t localLayerInputParams(const LocalLayerSpec &spec);

/// Appends kernel `name` to `module`.
mlir::FailureOr<KernelInfo> buildLocalLayerKernel(mlir::OpBuilder &builder,
                                                  mlir::gpu::GPUModuleOp module,
                                                  llvm::StringRef name,
                                                  const LocalLayerSpec &spec,
                                                  mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_LOCALLAYERKERNEL_H
