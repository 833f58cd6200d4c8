//===- AttentionToLinalg.cpp - causal multi-head self-attention -----------===//
//
// mb.global_attention and mb.local_attention share one lowering:
//   q/k/v = x W^T (linalg.matmul, transposed weight maps) -> [N, S, H, dh]
//   rotary on q and k (optional)                          -> [N*H, S, dh]
//   scores = q k^T (linalg.batch_matmul, transposed k map) * scale
//   causal select, stable softmax (max, sum of exp, divide)
//   out = p v (linalg.batch_matmul) -> [N, S, H*dh] -> out-projection.
// The sequences of the local model are just more batch rows here; packing
// patches into tiles is a later pass's business.
//
//===----------------------------------------------------------------------===//
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"
#include "passes/Conversion/MBToLinalg/Patterns.h"

#include "dialects/MB/MBDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

/// softmax(scores * scale, causal) over the last dim. Masked entries get the
/// lowest finite value (PyTorch's masked_fill(-finfo.max)), so their
/// exponential is exactly 0 and a row never divides 0 by 0.
Value createCausalSoftmax(OpBuilder &builder, Location loc, Value scores,
                          double scale) {
  RankedTensorType type = tensorTypeOf(scores);
  Type elementType = type.getElementType();
  MLIRContext *context = builder.getContext();
  Value scaleValue = createFloatConstant(builder, loc, elementType, scale);
  Value lowest = createFloatConstant(
      builder, loc, elementType,
      APFloat::getLargest(cast<FloatType>(elementType).getFloatSemantics(),
                          /*Negative=*/true)
          .convertToDouble());
  Value masked = createElementwise(
      builder, loc, type, scores, identityMap(context, 3),
      [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
        Value query = linalg::IndexOp::create(b, loc, 1);
        Value key = linalg::IndexOp::create(b, loc, 2);
        Value visible = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                                              key, query);
        Value scaled = arith::MulFOp::create(b, loc, args[0], scaleValue);
        return arith::SelectOp::create(b, loc, visible, scaled, lowest);
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
      {identityMap(context, 3), rowMap(context, 3), rowMap(context, 3)},
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
    Value probabilities =
        createCausalSoftmax(rewriter, loc, scores, op.getSoftmaxScale());
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

/// One new position against the KV cache: the new key and value are written
/// at row `position`, then q attends over rows 0..position of the cache
/// (later rows are masked, whatever they hold).
struct CachedAttentionLowering : OpConversionPattern<mb::CachedAttentionOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::CachedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType inputType = tensorTypeOf(adaptor.getInput());
    Type elementType = inputType.getElementType();
    ArrayRef<int64_t> inputShape = inputType.getShape();
    int64_t cachePositions = tensorTypeOf(adaptor.getKCache()).getDimSize(1);
    AttentionShape shape{inputShape[0], 1, inputShape[2],
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
    // Append this position's key and value to the caches.
    auto appendRow = [&](Value cache, Value row) -> Value {
      Value flat = reshape(rewriter, loc, row, {shape.sequences, 1, inner});
      return tensor::InsertSliceOp::create(
          rewriter, loc, flat, cache,
          {rewriter.getIndexAttr(0), position, rewriter.getIndexAttr(0)},
          {rewriter.getIndexAttr(shape.sequences), rewriter.getIndexAttr(1),
           rewriter.getIndexAttr(inner)},
          {rewriter.getIndexAttr(1), rewriter.getIndexAttr(1),
           rewriter.getIndexAttr(1)});
    };
    Value kCache = appendRow(adaptor.getKCache(), k);
    Value vCache = appendRow(adaptor.getVCache(), v);

    AttentionShape cacheShape = shape;
    cacheShape.positions = cachePositions;
    auto headMajorCache = [&](Value cache) {
      return toHeadMajor(rewriter, loc,
                         reshape(rewriter, loc, cache,
                                 {shape.sequences, cachePositions, shape.heads,
                                  shape.headDim}));
    };
    Value keys = headMajorCache(kCache);
    Value values = headMajorCache(vCache);
    q = toHeadMajor(rewriter, loc, q);

    // scores [N*H, 1, L] = q k^T with k read transposed.
    int64_t batch = shape.sequences * shape.heads;
    Value zeros = createFilled(rewriter, loc, {batch, 1, cachePositions},
                               elementType, 0.0);
    auto scores = linalg::BatchMatmulOp::create(
        rewriter, loc, zeros.getType(), ValueRange{q, keys}, ValueRange{zeros});
    MLIRContext *context = rewriter.getContext();
    AffineExpr bDim, iDim, jDim, dDim;
    bindDims(context, bDim, iDim, jDim, dDim);
    scores.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(
        {AffineMap::get(4, 0, {bDim, iDim, dDim}, context),
         AffineMap::get(4, 0, {bDim, jDim, dDim}, context),
         AffineMap::get(4, 0, {bDim, iDim, jDim}, context)}));

    // Keys after `position` are masked; the rest is the causal softmax.
    Value scaleValue =
        createFloatConstant(rewriter, loc, elementType, op.getSoftmaxScale());
    Value lowest = createFloatConstant(
        rewriter, loc, elementType,
        APFloat::getLargest(cast<FloatType>(elementType).getFloatSemantics(),
                            /*Negative=*/true)
            .convertToDouble());
    RankedTensorType scoresType = tensorTypeOf(scores.getResult(0));
    Value masked = createElementwise(
        rewriter, loc, scoresType, scores.getResult(0), identityMap(context, 3),
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value key = linalg::IndexOp::create(b, loc, 2);
          Value visible = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ule, key, position);
          Value scaled = arith::MulFOp::create(b, loc, args[0], scaleValue);
          return arith::SelectOp::create(b, loc, visible, scaled, lowest);
        });
    Value maximum = createLastDimensionReduction(
        rewriter, loc, masked, {}, -std::numeric_limits<double>::infinity(),
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          return arith::MaximumFOp::create(b, loc, args[0], args.back());
        });
    Value sum = createLastDimensionReduction(
        rewriter, loc, masked, maximum, 0.0,
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value exponential = math::ExpOp::create(
              b, loc, arith::SubFOp::create(b, loc, args[0], args[1]));
          return arith::AddFOp::create(b, loc, args[2], exponential);
        });
    Value probabilities = createElementwise(
        rewriter, loc, scoresType, {masked, maximum, sum},
        {identityMap(context, 3), rowMap(context, 3), rowMap(context, 3)},
        [](OpBuilder &b, Location loc, ValueRange args) -> Value {
          Value exponential = math::ExpOp::create(
              b, loc, arith::SubFOp::create(b, loc, args[0], args[1]));
          return arith::DivFOp::create(b, loc, exponential, args[2]);
        });

    Value outputZeros = createFilled(rewriter, loc, {batch, 1, shape.headDim},
                                     elementType, 0.0);
    Value attended =
        linalg::BatchMatmulOp::create(rewriter, loc, outputZeros.getType(),
                                      ValueRange{probabilities, values},
                                      ValueRange{outputZeros})
            .getResult(0);
    Value merged = toPositionMajor(rewriter, loc, attended, shape);
    Value projected = createMatmulTransposedWeight(rewriter, loc, merged,
                                                   adaptor.getWo(), nullptr);
    rewriter.replaceOp(
        op, {reshape(rewriter, loc, projected, inputShape), kCache, vCache});
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
