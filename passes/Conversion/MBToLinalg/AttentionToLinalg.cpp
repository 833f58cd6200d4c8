//===- AttentionToLinalg.cpp - causal multi-head self-attention -----------===//
//
// mb.global_attention and mb.local_attention share one lowering:
//   q/k/v = x W^T (linalg.matmul, transposed weight maps) -> [N, S, H, dh]
//   rotary on q and k (optional)                          -> [N*H, S, dh]
//   scores = q k^T (linalg.batch_matmul, transposed k map) * scale
//   causal select, stable softmax (max, sum of exp, divide)
//   out = p v (linalg.batch_matmul) -> [N, S, H*dh] -> out-projection.
// The sequences of the local model are just more batch rows here; packing
// patches into tiles is a later pass's business. mb.cached_attention (one
// decode step against KV caches) shares the projections, rotary and masked
// softmax.
//
//===----------------------------------------------------------------------===//
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"
#include "passes/Conversion/MBToLinalg/Patterns.h"

#include "dialects/MB/MBDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mbc::mb_to_linalg {
namespace {

/// Shapes of one attention op.
struct AttentionShape {
  int64_t sequences, positions, features, heads, headDim;
};

/// x [N*S, D] -> x W^T reshaped to [N, S, H, dh].
Value projectToHeads(OpBuilder &builder, Location loc, Value rows, Value weight,
                     const AttentionShape &shape) {
  Value projected =
      createMatmulTransposedWeight(builder, loc, rows, weight, nullptr);
  return reshape(
      builder, loc, projected,
      {shape.sequences, shape.positions, shape.heads, shape.headDim});
}

/// MEGABYTE-pytorch's RotaryEmbedding buffer, computed in f32 as PyTorch
/// does: inv_freq[i] = 1 / theta^(2i / dh).
Value createInverseFrequencies(OpBuilder &builder, Location loc,
                               Type elementType, double theta,
                               int64_t headDim) {
  SmallVector<Attribute> values;
  for (int64_t i = 0; i < headDim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(headDim);
    float frequency = 1.0f / powf(static_cast<float>(theta), exponent);
    values.push_back(builder.getFloatAttr(elementType, frequency));
  }
  auto type = RankedTensorType::get({headDim / 2}, elementType);
  return arith::ConstantOp::create(builder, loc, type,
                                   DenseElementsAttr::get(type, values));
}

/// NeoX rotate-half rotary on x [N, S, H, dh] at positions
/// firstPosition + s: with a = (firstPosition + s) * inv_freq[i] and the
/// halves x1 = x[..., :dh/2], x2 = x[..., dh/2:],
///   out[..., i]        = x1 * cos(a) + (-x2) * sin(a)
///   out[..., dh/2 + i] = x2 * cos(a) + x1 * sin(a)
/// which is x * cos(cat(f, f)) + rotate_half(x) * sin(cat(f, f)).
/// `firstPosition` is 0 for whole sequences and may be a runtime index (a
/// decode step's position).
Value applyRotary(OpBuilder &builder, Location loc, Value x,
                  Value inverseFrequencies, OpFoldResult firstPosition) {
  RankedTensorType type = tensorTypeOf(x);
  ArrayRef<int64_t> shape = type.getShape();
  Type elementType = type.getElementType();
  int64_t half = shape[3] / 2;
  SmallVector<int64_t> halfShape{shape[0], shape[1], shape[2], half};
  Value first = extractSlice(builder, loc, x, {0, 0, 0, 0}, halfShape);
  Value second = extractSlice(builder, loc, x, {0, 0, 0, half}, halfShape);

  MLIRContext *context = builder.getContext();
  AffineMap identity = identityMap(context, 4);
  SmallVector<AffineMap> maps{identity, identity, lastDimensionMap(context, 4),
                              identity, identity};
  SmallVector<utils::IteratorType> iterators(4, utils::IteratorType::parallel);
  // Two results, two inits: a shared init would bufferize into one buffer.
  Value firstInit = createEmpty(builder, loc, halfShape, elementType);
  Value secondInit = createEmpty(builder, loc, halfShape, elementType);
  auto rotary = linalg::GenericOp::create(
      builder, loc, TypeRange{firstInit.getType(), secondInit.getType()},
      ValueRange{first, second, inverseFrequencies},
      ValueRange{firstInit, secondInit}, maps, iterators,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value position = linalg::IndexOp::create(b, loc, 1);
        if (!isZeroInteger(firstPosition))
          position = arith::AddIOp::create(
              b, loc, position,
              getValueOrCreateConstantIndexOp(b, loc, firstPosition));
        Value positionFloat = arith::UIToFPOp::create(
            b, loc, elementType,
            arith::IndexCastUIOp::create(b, loc, b.getI64Type(), position));
        Value angle = arith::MulFOp::create(b, loc, positionFloat, args[2]);
        Value cos = math::CosOp::create(b, loc, angle);
        Value sin = math::SinOp::create(b, loc, angle);
        Value x1 = args[0], x2 = args[1];
        Value negatedX2 = arith::NegFOp::create(b, loc, x2);
        Value rotatedFirst = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, x1, cos),
            arith::MulFOp::create(b, loc, negatedX2, sin));
        Value rotatedSecond = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, x2, cos),
            arith::MulFOp::create(b, loc, x1, sin));
        linalg::YieldOp::create(b, loc,
                                ValueRange{rotatedFirst, rotatedSecond});
      });
  return concatenate(builder, loc, rotary.getResults(), 3);
}

/// [N, S, H, dh] -> [N*H, S, dh] (one batch row per sequence and head).
Value toHeadMajor(OpBuilder &builder, Location loc, Value x) {
  ArrayRef<int64_t> shape = tensorTypeOf(x).getShape();
  Value init =
      createEmpty(builder, loc, {shape[0], shape[2], shape[1], shape[3]},
                  tensorTypeOf(x).getElementType());
  Value transposed = linalg::TransposeOp::create(builder, loc, x, init,
                                                 ArrayRef<int64_t>{0, 2, 1, 3})
                         .getResult()[0];
  return reshape(builder, loc, transposed,
                 {shape[0] * shape[2], shape[1], shape[3]});
}

/// [N*H, S, dh] -> [N*S, H*dh] (heads concatenated per position).
Value toPositionMajor(OpBuilder &builder, Location loc, Value x,
                      const AttentionShape &shape) {
  Value split =
      reshape(builder, loc, x,
              {shape.sequences, shape.heads, shape.positions, shape.headDim});
  Value init = createEmpty(
      builder, loc,
      {shape.sequences, shape.positions, shape.heads, shape.headDim},
      tensorTypeOf(x).getElementType());
  Value transposed = linalg::TransposeOp::create(builder, loc, split, init,
                                                 ArrayRef<int64_t>{0, 2, 1, 3})
                         .getResult()[0];
  return reshape(
      builder, loc, transposed,
      {shape.sequences * shape.positions, shape.heads * shape.headDim});
}

/// q [B, S, dh] * k [B, S, dh]^T -> [B, S, S] as a linalg.batch_matmul whose
/// map reads k transposed.
Value createScores(OpBuilder &builder, Location loc, Value q, Value k) {
  ArrayRef<int64_t> shape = tensorTypeOf(q).getShape();
  Value zeros = createFilled(builder, loc, {shape[0], shape[1], shape[1]},
                             tensorTypeOf(q).getElementType(), 0.0);
  auto scores = linalg::BatchMatmulOp::create(
      builder, loc, zeros.getType(), ValueRange{q, k}, ValueRange{zeros});
  MLIRContext *context = builder.getContext();
  AffineExpr b, i, j, d;
  bindDims(context, b, i, j, d);
  scores.setIndexingMapsAttr(builder.getAffineMapArrayAttr(
      {AffineMap::get(4, 0, {b, i, d}, context),
       AffineMap::get(4, 0, {b, j, d}, context),
       AffineMap::get(4, 0, {b, i, j}, context)}));
  return scores.getResult(0);
}

/// Builds, inside the masking generic, the i1 "this key is visible" of the
/// current element; the key is the last loop (linalg.index rank - 1).
using VisibilityBuilder = llvm::function_ref<Value(OpBuilder &, Location)>;

/// softmax(scores * scale, masked) over the last dim (the keys). Masked
/// entries get the lowest finite value (PyTorch's masked_fill(-finfo.max)),
/// so their exponential is exactly 0 and, as every query sees at least one
/// key, a row never divides 0 by 0.
Value createMaskedSoftmax(OpBuilder &builder, Location loc, Value scores,
                          double scale, VisibilityBuilder visible) {
  RankedTensorType type = tensorTypeOf(scores);
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  MLIRContext *context = builder.getContext();
  Value scaleValue = createFloatConstant(builder, loc, elementType, scale);
  Value lowest = createFloatConstant(
      builder, loc, elementType,
      APFloat::getLargest(cast<FloatType>(elementType).getFloatSemantics(),
                          /*Negative=*/true)
          .convertToDouble());
  Value masked = createElementwise(
      builder, loc, type, scores, identityMap(context, rank),
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value isVisible = visible(b, loc);
        Value scaled = arith::MulFOp::create(b, loc, args[0], scaleValue);
        return arith::SelectOp::create(b, loc, isVisible, scaled, lowest);
      });
  Value maximum = createLastDimensionReduction(
      builder, loc, masked, {}, -std::numeric_limits<double>::infinity(),
      [](OpBuilder &b, Location loc, ValueRange args) -> Value {
        return arith::MaximumFOp::create(b, loc, args[0], args.back());
      });
  Value sum = createLastDimensionReduction(
      builder, loc, masked, maximum, 0.0,
      [](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value exponential = math::ExpOp::create(
            b, loc, arith::SubFOp::create(b, loc, args[0], args[1]));
        return arith::AddFOp::create(b, loc, args[2], exponential);
      });
  return createElementwise(
      builder, loc, type, {masked, maximum, sum},
      {identityMap(context, rank), rowMap(context, rank),
       rowMap(context, rank)},
      [](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value exponential = math::ExpOp::create(
            b, loc, arith::SubFOp::create(b, loc, args[0], args[1]));
        return arith::DivFOp::create(b, loc, exponential, args[2]);
      });
}

template <typename AttentionOp>
struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern<AttentionOp>::OpConversionPattern;
  using OpAdaptor = typename AttentionOp::Adaptor;

  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType inputType = tensorTypeOf(adaptor.getInput());
    ArrayRef<int64_t> inputShape = inputType.getShape();
    AttentionShape shape{inputShape[0], inputShape[1], inputShape[2],
                         static_cast<int64_t>(op.getHeads()),
                         static_cast<int64_t>(op.getHeadDim())};
    Value rows = reshape(rewriter, loc, adaptor.getInput(),
                         {shape.sequences * shape.positions, shape.features});
    Value q = projectToHeads(rewriter, loc, rows, adaptor.getWq(), shape);
    Value k = projectToHeads(rewriter, loc, rows, adaptor.getWk(), shape);
    Value v = projectToHeads(rewriter, loc, rows, adaptor.getWv(), shape);
    if (FloatAttr theta = op.getRotaryThetaAttr()) {
      Value inverseFrequencies =
          createInverseFrequencies(rewriter, loc, inputType.getElementType(),
                                   theta.getValueAsDouble(), shape.headDim);
      q = applyRotary(rewriter, loc, q, inverseFrequencies,
                      rewriter.getIndexAttr(0));
      k = applyRotary(rewriter, loc, k, inverseFrequencies,
                      rewriter.getIndexAttr(0));
    }
    q = toHeadMajor(rewriter, loc, q);
    k = toHeadMajor(rewriter, loc, k);
    v = toHeadMajor(rewriter, loc, v);

    Value scores = createScores(rewriter, loc, q, k);
    // Causal: query i (loop 1) sees keys j <= i (loop 2).
    Value probabilities = createMaskedSoftmax(
        rewriter, loc, scores, op.getSoftmaxScale(),
        [](OpBuilder &b, Location loc) -> Value {
          Value query = linalg::IndexOp::create(b, loc, 1);
          Value key = linalg::IndexOp::create(b, loc, 2);
          return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, key,
                                       query);
        });
    Value zeros = createFilled(
        rewriter, loc,
        {shape.sequences * shape.heads, shape.positions, shape.headDim},
        inputType.getElementType(), 0.0);
    Value attended = linalg::BatchMatmulOp::create(
                         rewriter, loc, zeros.getType(),
                         ValueRange{probabilities, v}, ValueRange{zeros})
                         .getResult(0);
    Value merged = toPositionMajor(rewriter, loc, attended, shape);
    Value projected = createMatmulTransposedWeight(rewriter, loc, merged,
                                                   adaptor.getWo(), nullptr);
    rewriter.replaceOp(op, reshape(rewriter, loc, projected, inputShape));
    return success();
  }
};

/// A contraction as a linalg.generic: result[maps[2]] += lhs[maps[0]] *
/// rhs[maps[1]] over `loops` loops, the last one the reduction, into a
/// zero-filled `resultShape`. For operand layouts no named op reads without
/// a transpose copy.
Value createContraction(OpBuilder &builder, Location loc, Value lhs, Value rhs,
                        ArrayRef<int64_t> resultShape, unsigned loops,
                        ArrayRef<AffineMap> maps) {
  Value zeros = createFilled(builder, loc, resultShape,
                             tensorTypeOf(lhs).getElementType(), 0.0);
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  return linalg::GenericOp::create(
             builder, loc, zeros.getType(), ValueRange{lhs, rhs}, zeros, maps,
             iterators,
             [](OpBuilder &b, Location loc, ValueRange args) {
               Value product = arith::MulFOp::create(b, loc, args[0], args[1]);
               linalg::YieldOp::create(
                   b, loc,
                   ValueRange{arith::AddFOp::create(b, loc, args[2], product)});
             })
      .getResult(0);
}

/// One new position against the KV caches [N, L, H*dh]: the new key and
/// value are written at row `position`, then q attends over rows
/// 0..position (later rows are masked, whatever they hold). The two
/// contractions read the caches in place as [N, L, H, dh]: decode attention
/// is bandwidth-bound, and a head-major transpose would copy both caches on
/// every step.
struct CachedAttentionLowering : OpConversionPattern<mb::CachedAttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::CachedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *context = rewriter.getContext();
    RankedTensorType inputType = tensorTypeOf(adaptor.getInput());
    Type elementType = inputType.getElementType();
    int64_t cachePositions = tensorTypeOf(adaptor.getKCache()).getDimSize(1);
    AttentionShape shape{inputType.getDimSize(0), 1, inputType.getDimSize(2),
                         static_cast<int64_t>(op.getHeads()),
                         static_cast<int64_t>(op.getHeadDim())};
    int64_t inner = shape.heads * shape.headDim;
    Value position = adaptor.getPosition();

    Value rows = reshape(rewriter, loc, adaptor.getInput(),
                         {shape.sequences, shape.features});
    Value q = projectToHeads(rewriter, loc, rows, adaptor.getWq(), shape);
    Value k = projectToHeads(rewriter, loc, rows, adaptor.getWk(), shape);
    Value v = projectToHeads(rewriter, loc, rows, adaptor.getWv(), shape);
    if (FloatAttr theta = op.getRotaryThetaAttr()) {
      Value inverseFrequencies = createInverseFrequencies(
          rewriter, loc, elementType, theta.getValueAsDouble(), shape.headDim);
      q = applyRotary(rewriter, loc, q, inverseFrequencies, position);
      k = applyRotary(rewriter, loc, k, inverseFrequencies, position);
    }

    auto writeRow = [&](Value cache, Value row) -> Value {
      Value flat = reshape(rewriter, loc, row, {shape.sequences, 1, inner});
      return tensor::InsertSliceOp::create(
          rewriter, loc, flat, cache,
          {rewriter.getIndexAttr(0), position, rewriter.getIndexAttr(0)},
          {rewriter.getIndexAttr(shape.sequences), rewriter.getIndexAttr(1),
           rewriter.getIndexAttr(inner)},
          {rewriter.getIndexAttr(1), rewriter.getIndexAttr(1),
           rewriter.getIndexAttr(1)});
    };
    Value kCache = writeRow(adaptor.getKCache(), k);
    Value vCache = writeRow(adaptor.getVCache(), v);
    SmallVector<int64_t> cacheHeads{shape.sequences, cachePositions,
                                    shape.heads, shape.headDim};
    Value keys = reshape(rewriter, loc, kCache, cacheHeads);
    Value values = reshape(rewriter, loc, vCache, cacheHeads);
    Value query = reshape(rewriter, loc, q,
                          {shape.sequences, shape.heads, shape.headDim});

    // scores[n, h, j] = sum_d q[n, h, d] * keys[n, j, h, d]; loops n, h, j, d.
    AffineExpr n, h, j, d;
    bindDims(context, n, h, j, d);
    Value scores =
        createContraction(rewriter, loc, query, keys,
                          {shape.sequences, shape.heads, cachePositions}, 4,
                          {AffineMap::get(4, 0, {n, h, d}, context),
                           AffineMap::get(4, 0, {n, j, h, d}, context),
                           AffineMap::get(4, 0, {n, h, j}, context)});
    // Keys after `position` are stale or unwritten.
    Value probabilities = createMaskedSoftmax(
        rewriter, loc, scores, op.getSoftmaxScale(),
        [&](OpBuilder &b, Location loc) -> Value {
          Value key = linalg::IndexOp::create(b, loc, 2);
          return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, key,
                                       position);
        });
    // out[n, h, d] = sum_j p[n, h, j] * values[n, j, h, d]; loops n, h, d, j.
    bindDims(context, n, h, d, j);
    Value attended =
        createContraction(rewriter, loc, probabilities, values,
                          {shape.sequences, shape.heads, shape.headDim}, 4,
                          {AffineMap::get(4, 0, {n, h, j}, context),
                           AffineMap::get(4, 0, {n, j, h, d}, context),
                           AffineMap::get(4, 0, {n, h, d}, context)});
    Value merged = reshape(rewriter, loc, attended, {shape.sequences, inner});
    Value projected = createMatmulTransposedWeight(rewriter, loc, merged,
                                                   adaptor.getWo(), nullptr);
    rewriter.replaceOp(op,
                       {reshape(rewriter, loc, projected, inputType.getShape()),
                        kCache, vCache});
    return success();
  }
};

} // namespace

void populateAttentionPatterns(RewritePatternSet &patterns) {
  patterns
      .add<AttentionLowering<mb::GlobalAttentionOp>,
           AttentionLowering<mb::LocalAttentionOp>, CachedAttentionLowering>(
          patterns.getContext());
}

} // namespace mbc::mb_to_linalg
