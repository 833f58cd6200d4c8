//===- LinalgBuilders.h - building blocks of MBToLinalg ---------*- C++ -*-===//
//
// The few shapes of IR every mb lowering is made of: reshapes and slices of
// static tensors, element-wise and last-dimension-reduction linalg.generic
// ops, and the transposed-weight matmul behind every projection. Each helper
// is used by more than one op family.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CONVERSION_MBTOLINALG_LINALGBUILDERS_H
#define MBC_PASSES_CONVERSION_MBTOLINALG_LINALGBUILDERS_H

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"

namespace mbc::mb_to_linalg {

/// Builds the scalar body of a linalg.generic from its block arguments
/// (inputs, then outputs) and returns the value to yield.
using ScalarBody = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

mlir::RankedTensorType tensorTypeOf(mlir::Value value);

/// A scalar constant `value` of float type `type`.
mlir::Value createFloatConstant(mlir::OpBuilder &builder, mlir::Location loc,
                                mlir::Type type, double value);

/// tensor.empty of a static shape.
mlir::Value createEmpty(mlir::OpBuilder &builder, mlir::Location loc,
                        llvm::ArrayRef<int64_t> shape, mlir::Type elementType);

/// A static tensor filled with `value` (linalg.fill).
mlir::Value createFilled(mlir::OpBuilder &builder, mlir::Location loc,
                         llvm::ArrayRef<int64_t> shape, mlir::Type elementType,
                         double value);

/// Reshapes a static tensor to `shape` (same number of elements, row-major):
/// one tensor.collapse_shape or tensor.expand_shape where the dims group,
/// else an expand to the shapes' common refinement and a collapse (so no
/// dim is flattened needlessly), else through 1-D.
mlir::Value reshape(mlir::OpBuilder &builder, mlir::Location loc,
                    mlir::Value value, llvm::ArrayRef<int64_t> shape);

/// tensor.extract_slice with unit strides; the result keeps the source rank.
mlir::Value extractSlice(mlir::OpBuilder &builder, mlir::Location loc,
                         mlir::Value source, llvm::ArrayRef<int64_t> offsets,
                         llvm::ArrayRef<int64_t> sizes);

/// tensor.insert_slice of all of `source` (same rank as `dest`) at `offsets`.
mlir::Value insertSlice(mlir::OpBuilder &builder, mlir::Location loc,
                        mlir::Value source, mlir::Value dest,
                        llvm::ArrayRef<int64_t> offsets);

/// Concatenates static tensors of one rank along `dimension` by inserting
/// them into one tensor.empty; parts of size 0 along `dimension` are skipped.
mlir::Value concatenate(mlir::OpBuilder &builder, mlir::Location loc,
                        mlir::ValueRange parts, int64_t dimension);

/// mb.merge_patches <start_token> of `input` [B*K, P+1, V] into [B, T, V]
/// (T = `bytes` = K P): row 0 is position 0 of sequence 0; rows 1..T-1 are
/// positions 1..P of each sequence in order, without the very last one
/// (the prediction after the last byte).
mlir::Value mergeStartTokenRows(mlir::OpBuilder &builder, mlir::Location loc,
                                mlir::Value input, int64_t batch,
                                int64_t bytes);

/// Broadcasts `vector` ([D]) to `shape` (`[..., D]`) with linalg.broadcast.
mlir::Value broadcastLastDimension(mlir::OpBuilder &builder, mlir::Location loc,
                                   mlir::Value vector,
                                   llvm::ArrayRef<int64_t> shape);

/// Maps over the loops of a rank-`rank` iteration space.
mlir::AffineMap identityMap(mlir::MLIRContext *context, unsigned rank);
/// (d0, ..., dr-1) -> (d0, ..., dr-2): one value per row of the last dim.
mlir::AffineMap rowMap(mlir::MLIRContext *context, unsigned rank);
/// (d0, ..., dr-1) -> (dr-1): a per-feature parameter.
mlir::AffineMap lastDimensionMap(mlir::MLIRContext *context, unsigned rank);

/// An all-parallel linalg.generic whose result has `resultType` (identity
/// map); `inputMaps[i]` maps the iteration space to `inputs[i]`.
mlir::Value createElementwise(mlir::OpBuilder &builder, mlir::Location loc,
                              mlir::RankedTensorType resultType,
                              mlir::ValueRange inputs,
                              llvm::ArrayRef<mlir::AffineMap> inputMaps,
                              ScalarBody body);

/// `result[i..., d] = table[ids[i...], d]` (mb.embedding): `ids` integer
/// ids in [0, V), `table` [V, D]; the result has the ids' shape with D
/// appended and the table's element type.
mlir::Value createEmbedding(mlir::OpBuilder &builder, mlir::Location loc,
                            mlir::Value table, mlir::Value ids);

/// Reduces the last dimension of `inputs` (all of one shape `[..., D]`, the
/// row statistics in `rowInputs` of shape `[...]`) into a `[...]` tensor
/// initialised with `init`. The body gets (inputs..., rowInputs..., acc).
mlir::Value createLastDimensionReduction(mlir::OpBuilder &builder,
                                         mlir::Location loc,
                                         mlir::ValueRange inputs,
                                         mlir::ValueRange rowInputs,
                                         double init, ScalarBody body);

/// `lhs [M, K] * weight [N, K]^T (+ bias [N])` as one linalg.matmul whose
/// indexing maps read the weight transposed (PyTorch's [out, in] layout, no
/// transpose copy). The bias, when present, initialises the accumulator.
mlir::Value createMatmulTransposedWeight(mlir::OpBuilder &builder,
                                         mlir::Location loc, mlir::Value lhs,
                                         mlir::Value weight, mlir::Value bias);

/// `input [..., In] * weight [Out, In]^T (+ bias [Out])` -> `[..., Out]`:
/// leading dims collapsed to one, createMatmulTransposedWeight, expanded back.
mlir::Value createLinear(mlir::OpBuilder &builder, mlir::Location loc,
                         mlir::Value input, mlir::Value weight,
                         mlir::Value bias);

/// LayerNorm over the last dimension of `input`: (x - mean(x)) /
/// sqrt(var(x) + eps) * weight + bias, the biased variance computed in two
/// passes around the mean; `weight` and `bias` [D] of the input's element
/// type or narrower (widened element by element).
mlir::Value createLayerNorm(mlir::OpBuilder &builder, mlir::Location loc,
                            mlir::Value input, mlir::Value weight,
                            mlir::Value bias, double epsilonValue);

/// RMSNorm over the last dimension of `input`, scaled by `weight` [D] (of
/// the input's element type, or narrower: widened element by element). Plain: x * (1 / sqrt(mean(x^2) + eps)) * w;
/// clamp (MEGABYTE-pytorch): x / max(||x||_2 * D^-1/2, eps) * w.
mlir::Value createRMSNorm(mlir::OpBuilder &builder, mlir::Location loc,
                          mlir::Value input, mlir::Value weight,
                          double epsilonValue, bool clamp);

/// log_softmax over the last dimension of `logits`, stable:
/// z - max - log(sum(exp(z - max))) (two row reductions, one elementwise op).
mlir::Value createLogSoftmax(mlir::OpBuilder &builder, mlir::Location loc,
                             mlir::Value logits);

/// inv_freq[i] = 1 / theta^(2i / dh) of MEGABYTE-pytorch's RotaryEmbedding,
/// computed in f32 as PyTorch does.
float rotaryInverseFrequency(double theta, int64_t headDim, int64_t i);

/// The [dh / 2] constant of rotaryInverseFrequency values.
mlir::Value createInverseFrequencies(mlir::OpBuilder &builder,
                                     mlir::Location loc, mlir::Type elementType,
                                     double theta, int64_t headDim);

/// NeoX rotate-half rotary on x [N, S, H, dh] at positions
/// firstPosition + s (a constant or a runtime index, e.g. a decode step's
/// position).
mlir::Value applyRotary(mlir::OpBuilder &builder, mlir::Location loc,
                        mlir::Value x, mlir::Value inverseFrequencies,
                        mlir::OpFoldResult firstPosition);

/// applyRotary on several tensors of one shape [N, S, H * dh] (heads of
/// `headDim` side by side) in a single elementwise op (one kernel for a
/// decode step's q and k): each output element reads its partner dh / 2
/// away in its head with tensor.extract and computes what applyRotary
/// computes for it, in the same order. `copies` (the same shape) are
/// passed through unchanged as further results; `destinations` (empty, or
/// one per x then per copy) are the results' inits, e.g. the KV-cache rows
/// a decode step writes, so the op writes them in place.
llvm::SmallVector<mlir::Value> applyRotaryTogether(
    mlir::OpBuilder &builder, mlir::Location loc, mlir::ValueRange xs,
    int64_t headDim, mlir::Value inverseFrequencies,
    mlir::OpFoldResult firstPosition, mlir::ValueRange copies = {},
    mlir::ValueRange destinations = {});

} // namespace mbc::mb_to_linalg

#endif // MBC_PASSES_CONVERSION_MBTOLINALG_LINALGBUILDERS_H
