//===- LinalgBuilders.cpp - linalg/tensor building blocks of MBToLinalg ---===//
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>
#include <limits>
#include <set>

using namespace mlir;

namespace mbc::mb_to_linalg {

RankedTensorType tensorTypeOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

Value createFloatConstant(OpBuilder &builder, Location loc, Type type,
                          double value) {
  return arith::ConstantOp::create(builder, loc, type,
                                   builder.getFloatAttr(type, value));
}

Value createEmpty(OpBuilder &builder, Location loc, ArrayRef<int64_t> shape,
                  Type elementType) {
  return tensor::EmptyOp::create(builder, loc, shape, elementType);
}

Value createFilled(OpBuilder &builder, Location loc, ArrayRef<int64_t> shape,
                   Type elementType, double value) {
  Value scalar = createFloatConstant(builder, loc, elementType, value);
  Value empty = createEmpty(builder, loc, shape, elementType);
  return linalg::FillOp::create(builder, loc, ValueRange{scalar},
                                ValueRange{empty})
      .getResult(0);
}

namespace {

/// The coarsest shape that both `source` and `target` are collapses of, if
/// there is one: its dim boundaries are the union of the boundaries
/// (running products) of both shapes, e.g. [8, 4, 256] and [2, 16, 256]
/// -> [2, 4, 4, 256].
std::optional<SmallVector<int64_t>> commonRefinement(ArrayRef<int64_t> source,
                                                     ArrayRef<int64_t> target) {
  std::set<int64_t> boundaries;
  int64_t product = 1;
  for (int64_t dim : source)
    boundaries.insert(product *= dim);
  product = 1;
  for (int64_t dim : target)
    boundaries.insert(product *= dim);
  SmallVector<int64_t> refined;
  int64_t previous = 1;
  for (int64_t boundary : boundaries) {
    if (boundary == previous)
      continue;
    if (previous == 0 || boundary % previous != 0)
      return std::nullopt;
    refined.push_back(boundary / previous);
    previous = boundary;
  }
  return refined;
}

/// One collapse_shape or expand_shape from `value` to `targetType`, if the
/// dims group.
std::optional<Value> reshapeByGrouping(OpBuilder &builder, Location loc,
                                       Value value,
                                       RankedTensorType targetType) {
  RankedTensorType sourceType = tensorTypeOf(value);
  if (sourceType == targetType)
    return value;
  std::optional<SmallVector<ReassociationIndices>> groups =
      getReassociationIndicesForReshape(sourceType, targetType);
  if (!groups)
    return std::nullopt;
  if (targetType.getRank() < sourceType.getRank())
    return tensor::CollapseShapeOp::create(builder, loc, targetType, value,
                                           *groups)
        .getResult();
  return tensor::ExpandShapeOp::create(builder, loc, targetType, value, *groups)
      .getResult();
}

} // namespace

Value reshape(OpBuilder &builder, Location loc, Value value,
              ArrayRef<int64_t> shape) {
  RankedTensorType sourceType = tensorTypeOf(value);
  auto targetType = RankedTensorType::get(shape, sourceType.getElementType());
  if (std::optional<Value> direct =
          reshapeByGrouping(builder, loc, value, targetType))
    return *direct;
  // Expand to the common refinement, then collapse to the target.
  if (std::optional<SmallVector<int64_t>> refined =
          commonRefinement(sourceType.getShape(), shape)) {
    auto refinedType =
        RankedTensorType::get(*refined, sourceType.getElementType());
    if (getReassociationIndicesForReshape(sourceType, refinedType) &&
        getReassociationIndicesForReshape(refinedType, targetType)) {
      Value expanded = *reshapeByGrouping(builder, loc, value, refinedType);
      return *reshapeByGrouping(builder, loc, expanded, targetType);
    }
  }
  // Otherwise go through 1-D.
  auto flatType = RankedTensorType::get({sourceType.getNumElements()},
                                        sourceType.getElementType());
  Value flat = *reshapeByGrouping(builder, loc, value, flatType);
  return *reshapeByGrouping(builder, loc, flat, targetType);
}

Value extractSlice(OpBuilder &builder, Location loc, Value source,
                   ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes) {
  SmallVector<int64_t> strides(offsets.size(), 1);
  return tensor::ExtractSliceOp::create(
      builder, loc, source,
      getAsIndexOpFoldResult(builder.getContext(), offsets),
      getAsIndexOpFoldResult(builder.getContext(), sizes),
      getAsIndexOpFoldResult(builder.getContext(), strides));
}

Value insertSlice(OpBuilder &builder, Location loc, Value source, Value dest,
                  ArrayRef<int64_t> offsets) {
  ArrayRef<int64_t> sizes = tensorTypeOf(source).getShape();
  SmallVector<int64_t> strides(offsets.size(), 1);
  return tensor::InsertSliceOp::create(
      builder, loc, source, dest,
      getAsIndexOpFoldResult(builder.getContext(), offsets),
      getAsIndexOpFoldResult(builder.getContext(), sizes),
      getAsIndexOpFoldResult(builder.getContext(), strides));
}

Value mergeStartTokenRows(OpBuilder &builder, Location loc, Value input,
                          int64_t batch, int64_t bytes) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(input.getType()).getShape();
  int64_t patches = shape[0] / batch, patch = shape[1] - 1,
          vocabulary = shape[2];
  Value grouped =
      reshape(builder, loc, input, {batch, patches, patch + 1, vocabulary});
  Value first = reshape(builder, loc,
                        extractSlice(builder, loc, grouped, {0, 0, 0, 0},
                                     {batch, 1, 1, vocabulary}),
                        {batch, 1, vocabulary});
  Value predictions = reshape(builder, loc,
                              extractSlice(builder, loc, grouped, {0, 0, 1, 0},
                                           {batch, patches, patch, vocabulary}),
                              {batch, patches * patch, vocabulary});
  Value rest = extractSlice(builder, loc, predictions, {0, 0, 0},
                            {batch, bytes - 1, vocabulary});
  return concatenate(builder, loc, {first, rest}, 1);
}

Value concatenate(OpBuilder &builder, Location loc, ValueRange parts,
                  int64_t dimension) {
  RankedTensorType firstType = tensorTypeOf(parts.front());
  SmallVector<int64_t> shape(firstType.getShape());
  shape[dimension] = 0;
  for (Value part : parts)
    shape[dimension] += tensorTypeOf(part).getDimSize(dimension);
  Value result = createEmpty(builder, loc, shape, firstType.getElementType());
  SmallVector<int64_t> offsets(shape.size(), 0);
  for (Value part : parts) {
    int64_t size = tensorTypeOf(part).getDimSize(dimension);
    if (size == 0)
      continue;
    result = insertSlice(builder, loc, part, result, offsets);
    offsets[dimension] += size;
  }
  return result;
}

Value broadcastLastDimension(OpBuilder &builder, Location loc, Value vector,
                             ArrayRef<int64_t> shape) {
  Value init =
      createEmpty(builder, loc, shape, tensorTypeOf(vector).getElementType());
  auto leadingDims = llvm::to_vector(llvm::seq<int64_t>(0, shape.size() - 1));
  return linalg::BroadcastOp::create(builder, loc, vector, init, leadingDims)
      .getResult()[0];
}

AffineMap identityMap(MLIRContext *context, unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, context);
}

AffineMap rowMap(MLIRContext *context, unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, context)
      .getMajorSubMap(rank - 1);
}

AffineMap lastDimensionMap(MLIRContext *context, unsigned rank) {
  return AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, context));
}

namespace {

/// Wraps a ScalarBody as the region builder of linalg.generic.
auto yieldingBody(ScalarBody body) {
  return [body](OpBuilder &builder, Location loc, ValueRange args) {
    linalg::YieldOp::create(builder, loc, body(builder, loc, args));
  };
}

} // namespace

Value createElementwise(OpBuilder &builder, Location loc,
                        RankedTensorType resultType, ValueRange inputs,
                        ArrayRef<AffineMap> inputMaps, ScalarBody body) {
  unsigned rank = resultType.getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(identityMap(builder.getContext(), rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  Value init = createEmpty(builder, loc, resultType.getShape(),
                           resultType.getElementType());
  return linalg::GenericOp::create(builder, loc, resultType, inputs, init, maps,
                                   iterators, yieldingBody(body))
      .getResult(0);
}

Value createLastDimensionReduction(OpBuilder &builder, Location loc,
                                   ValueRange inputs, ValueRange rowInputs,
                                   double init, ScalarBody body) {
  RankedTensorType inputType = tensorTypeOf(inputs.front());
  unsigned rank = inputType.getRank();
  MLIRContext *context = builder.getContext();
  SmallVector<AffineMap> maps(inputs.size(), identityMap(context, rank));
  maps.append(rowInputs.size() + 1, rowMap(context, rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  Value accumulator =
      createFilled(builder, loc, inputType.getShape().drop_back(),
                   inputType.getElementType(), init);
  SmallVector<Value> operands(inputs);
  llvm::append_range(operands, rowInputs);
  return linalg::GenericOp::create(builder, loc, accumulator.getType(),
                                   operands, accumulator, maps, iterators,
                                   yieldingBody(body))
      .getResult(0);
}

Value createMatmulTransposedWeight(OpBuilder &builder, Location loc, Value lhs,
                                   Value weight, Value bias) {
  RankedTensorType lhsType = tensorTypeOf(lhs);
  int64_t rows = lhsType.getDimSize(0);
  int64_t out = tensorTypeOf(weight).getDimSize(0);
  Type elementType = lhsType.getElementType();
  Value accumulator =
      bias ? broadcastLastDimension(builder, loc, bias, {rows, out})
           : createFilled(builder, loc, {rows, out}, elementType, 0.0);
  auto matmul = linalg::MatmulOp::create(builder, loc, accumulator.getType(),
                                         ValueRange{lhs, weight},
                                         ValueRange{accumulator});
  // (m, n, k): lhs[m, k], weight[n, k], result[m, n].
  MLIRContext *context = builder.getContext();
  AffineExpr m, n, k;
  bindDims(context, m, n, k);
  matmul.setIndexingMapsAttr(
      builder.getAffineMapArrayAttr({AffineMap::get(3, 0, {m, k}, context),
                                     AffineMap::get(3, 0, {n, k}, context),
                                     AffineMap::get(3, 0, {m, n}, context)}));
  return matmul.getResult(0);
}

Value createLinear(OpBuilder &builder, Location loc, Value input, Value weight,
                   Value bias) {
  ArrayRef<int64_t> shape = tensorTypeOf(input).getShape();
  int64_t in = shape.back();
  int64_t rows = tensorTypeOf(input).getNumElements() / in;
  Value flat = reshape(builder, loc, input, {rows, in});
  Value product =
      createMatmulTransposedWeight(builder, loc, flat, weight, bias);
  SmallVector<int64_t> resultShape(shape);
  resultShape.back() = tensorTypeOf(weight).getDimSize(0);
  return reshape(builder, loc, product, resultShape);
}

/// MEGABYTE-pytorch's RotaryEmbedding buffer, computed in f32 as PyTorch
/// does: inv_freq[i] = 1 / theta^(2i / dh).
float rotaryInverseFrequency(double theta, int64_t headDim, int64_t i) {
  float exponent = static_cast<float>(2 * i) / static_cast<float>(headDim);
  return 1.0f / powf(static_cast<float>(theta), exponent);
}

Value createInverseFrequencies(OpBuilder &builder, Location loc,
                               Type elementType, double theta,
                               int64_t headDim) {
  SmallVector<Attribute> values;
  for (int64_t i = 0; i < headDim / 2; ++i)
    values.push_back(builder.getFloatAttr(
        elementType, rotaryInverseFrequency(theta, headDim, i)));
  auto type = RankedTensorType::get({headDim / 2}, elementType);
  return arith::ConstantOp::create(builder, loc, type,
                                   DenseElementsAttr::get(type, values));
}

/// cos and sin of (firstPosition + position) x frequency in `elementType`,
/// as PyTorch computes the rotary angle (the position converted to float,
/// then one multiply).
static std::pair<Value, Value> rotaryCosSin(OpBuilder &b, Location loc,
                                            Value position,
                                            OpFoldResult firstPosition,
                                            Value frequency, Type elementType) {
  if (!isZeroInteger(firstPosition))
    position = arith::AddIOp::create(
        b, loc, position,
        getValueOrCreateConstantIndexOp(b, loc, firstPosition));
  Value positionFloat = arith::UIToFPOp::create(
      b, loc, elementType,
      arith::IndexCastUIOp::create(b, loc, b.getI64Type(), position));
  Value angle = arith::MulFOp::create(b, loc, positionFloat, frequency);
  return {math::CosOp::create(b, loc, angle),
          math::SinOp::create(b, loc, angle)};
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
        auto [cos, sin] =
            rotaryCosSin(b, loc, linalg::IndexOp::create(b, loc, 1),
                         firstPosition, args[2], elementType);
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

SmallVector<Value> applyRotaryTogether(OpBuilder &builder, Location loc,
                                       ValueRange xs, int64_t headDim,
                                       Value inverseFrequencies,
                                       OpFoldResult firstPosition,
                                       ValueRange copies,
                                       ValueRange destinations) {
  RankedTensorType type = tensorTypeOf(xs.front());
  ArrayRef<int64_t> shape = type.getShape();
  Type elementType = type.getElementType();
  int64_t half = headDim / 2;
  MLIRContext *context = builder.getContext();
  SmallVector<Value> inputs(xs);
  llvm::append_range(inputs, copies);
  SmallVector<Value> inits(destinations);
  if (inits.empty())
    for (size_t i = 0; i < inputs.size(); ++i)
      inits.push_back(createEmpty(builder, loc, shape, elementType));
  SmallVector<Type> resultTypes(inputs.size(), type);
  SmallVector<AffineMap> maps(2 * inputs.size(), identityMap(context, 3));
  SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
  auto rotary = linalg::GenericOp::create(
      builder, loc, resultTypes, inputs, inits, maps, iterators,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value n = linalg::IndexOp::create(b, loc, 0);
        Value s = linalg::IndexOp::create(b, loc, 1);
        Value c = linalg::IndexOp::create(b, loc, 2);
        Value halfIndex = arith::ConstantIndexOp::create(b, loc, half);
        // d = c mod dh; the first half pairs with c + dh / 2, the second
        // with c - dh / 2; the frequency index is d mod dh / 2.
        Value d = arith::RemUIOp::create(
            b, loc, c, arith::ConstantIndexOp::create(b, loc, headDim));
        Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            d, halfIndex);
        Value i = arith::RemUIOp::create(b, loc, d, halfIndex);
        Value partner = arith::SelectOp::create(
            b, loc, first, arith::AddIOp::create(b, loc, c, halfIndex),
            arith::SubIOp::create(b, loc, c, halfIndex));
        auto [cos, sin] = rotaryCosSin(
            b, loc, s, firstPosition,
            tensor::ExtractOp::create(b, loc, inverseFrequencies, i),
            elementType);
        SmallVector<Value> results;
        for (auto [index, x] : llvm::enumerate(xs)) {
          Value own = args[index];
          Value other =
              tensor::ExtractOp::create(b, loc, x, ValueRange{n, s, partner});
          // First half: x1 cos + (-x2) sin; second: x2 cos + x1 sin.
          Value term = arith::SelectOp::create(
              b, loc, first, arith::NegFOp::create(b, loc, other), other);
          results.push_back(arith::AddFOp::create(
              b, loc, arith::MulFOp::create(b, loc, own, cos),
              arith::MulFOp::create(b, loc, term, sin)));
        }
        for (size_t index = xs.size(); index < inputs.size(); ++index)
          results.push_back(args[index]);
        linalg::YieldOp::create(b, loc, results);
      });
  return SmallVector<Value>(rotary.getResults());
}

Value createLayerNorm(OpBuilder &builder, Location loc, Value input,
                      Value weight, Value bias, double epsilonValue) {
  RankedTensorType type = tensorTypeOf(input);
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  MLIRContext *context = builder.getContext();
  Value features =
      createFloatConstant(builder, loc, elementType, type.getShape().back());
  Value epsilon = createFloatConstant(builder, loc, elementType, epsilonValue);
  Value one = createFloatConstant(builder, loc, elementType, 1.0);

  Value sum = createLastDimensionReduction(
      builder, loc, input, {}, 0.0,
      [](OpBuilder &b, Location l, ValueRange args) -> Value {
        return arith::AddFOp::create(b, l, args[0], args.back());
      });
  Value squaredDeviations = createLastDimensionReduction(
      builder, loc, input, sum, 0.0,
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        Value mean = arith::DivFOp::create(b, l, args[1], features);
        Value deviation = arith::SubFOp::create(b, l, args[0], mean);
        Value square = arith::MulFOp::create(b, l, deviation, deviation);
        return arith::AddFOp::create(b, l, args[2], square);
      });
  return createElementwise(
      builder, loc, type, {input, sum, squaredDeviations, weight, bias},
      {identityMap(context, rank), rowMap(context, rank), rowMap(context, rank),
       lastDimensionMap(context, rank), lastDimensionMap(context, rank)},
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        Value mean = arith::DivFOp::create(b, l, args[1], features);
        Value variance = arith::DivFOp::create(b, l, args[2], features);
        Value root = math::SqrtOp::create(
            b, l, arith::AddFOp::create(b, l, variance, epsilon));
        Value inverse = arith::DivFOp::create(b, l, one, root);
        Value centered = arith::SubFOp::create(b, l, args[0], mean);
        Value normalized = arith::MulFOp::create(b, l, centered, inverse);
        auto widened = [&](Value element) -> Value {
          return element.getType() == elementType
                     ? element
                     : arith::ExtFOp::create(b, l, elementType, element);
        };
        Value scaled =
            arith::MulFOp::create(b, l, normalized, widened(args[3]));
        return arith::AddFOp::create(b, l, scaled, widened(args[4]));
      });
}

Value createRMSNorm(OpBuilder &builder, Location loc, Value input,
                    Value weight, double epsilonValue, bool clamp) {
  RankedTensorType type = tensorTypeOf(input);
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  MLIRContext *context = builder.getContext();
  int64_t featureCount = type.getShape().back();
  Value epsilon = createFloatConstant(builder, loc, elementType, epsilonValue);
  Value one = createFloatConstant(builder, loc, elementType, 1.0);
  // Plain form: divide the sum by D; clamp form: scale the norm by D^-1/2.
  Value featureFactor = createFloatConstant(
      builder, loc, elementType,
      clamp ? std::pow(static_cast<double>(featureCount), -0.5)
            : static_cast<double>(featureCount));

  Value sumOfSquares = createLastDimensionReduction(
      builder, loc, input, {}, 0.0,
      [](OpBuilder &b, Location l, ValueRange args) -> Value {
        Value square = arith::MulFOp::create(b, l, args[0], args[0]);
        return arith::AddFOp::create(b, l, args.back(), square);
      });
  return createElementwise(
      builder, loc, type, {input, sumOfSquares, weight},
      {identityMap(context, rank), rowMap(context, rank),
       lastDimensionMap(context, rank)},
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        Value normalized;
        if (clamp) {
          Value norm = arith::MulFOp::create(
              b, l, math::SqrtOp::create(b, l, args[1]), featureFactor);
          Value clamped = arith::MaximumFOp::create(b, l, norm, epsilon);
          normalized = arith::DivFOp::create(b, l, args[0], clamped);
        } else {
          Value meanSquare =
              arith::DivFOp::create(b, l, args[1], featureFactor);
          // rsqrt spelled 1 / sqrt (PyTorch's CPU rsqrt): math.rsqrt has
          // no libm function, so math-to-libm would emit a call to rsqrtf.
          Value root = math::SqrtOp::create(
              b, l, arith::AddFOp::create(b, l, meanSquare, epsilon));
          Value inverse = arith::DivFOp::create(b, l, one, root);
          normalized = arith::MulFOp::create(b, l, args[0], inverse);
        }
        Value weightElement = args[2];
        if (weightElement.getType() != elementType)
          weightElement = arith::ExtFOp::create(b, l, elementType, weightElement);
        return arith::MulFOp::create(b, l, normalized, weightElement);
      });
}

Value createLogSoftmax(OpBuilder &builder, Location loc, Value logits) {
  MLIRContext *context = builder.getContext();
  RankedTensorType type = tensorTypeOf(logits);
  unsigned rank = type.getRank();
  Value maximum = createLastDimensionReduction(
      builder, loc, logits, {}, -std::numeric_limits<double>::infinity(),
      [](OpBuilder &builder, Location loc, ValueRange args) -> Value {
        return arith::MaximumFOp::create(builder, loc, args[0], args.back());
      });
  Value sumOfExponentials = createLastDimensionReduction(
      builder, loc, logits, maximum, 0.0,
      [](OpBuilder &builder, Location loc, ValueRange args) -> Value {
        Value shifted = arith::SubFOp::create(builder, loc, args[0], args[1]);
        Value exponential = math::ExpOp::create(builder, loc, shifted);
        return arith::AddFOp::create(builder, loc, args[2], exponential);
      });
  Value result = createElementwise(
      builder, loc, type, {logits, maximum, sumOfExponentials},
      {identityMap(context, rank), rowMap(context, rank),
       rowMap(context, rank)},
      [](OpBuilder &builder, Location loc, ValueRange args) -> Value {
        Value shifted = arith::SubFOp::create(builder, loc, args[0], args[1]);
        Value logSum = math::LogOp::create(builder, loc, args[2]);
        return arith::SubFOp::create(builder, loc, shifted, logSum);
      });
  return result;
}

} // namespace mbc::mb_to_linalg
