//===- MBOps.cpp - verifiers of the mb dialect's operations ---------------===//
//
// Every verifier checks the shape relations of ../shared/MEGABYTE.md and names
// the operand and the dimension that break them, e.g.
//   'mb.global_attention' op wq dimension 0 (heads * head_dim) is 96,
//   expected 128
//
//===----------------------------------------------------------------------===//
#include "dialects/MB/MBDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace mbc::mb;

namespace {

/// Checks one operand or result for rank, dimensions and element type, and
/// reports the first violation on the op. Keeps each verifier a flat list of
/// the shape relations it enforces.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// `value` has rank `rank`; `layout` describes the expected dims.
  LogicalResult rank(StringRef name, Value value, int64_t rank,
                     StringRef layout) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == rank)
      return success();
    return op->emitOpError() << name << " must have rank " << rank << " ("
                             << layout << "), got " << type;
  }

  /// `value` has rank at least `rank`.
  LogicalResult minRank(StringRef name, Value value, int64_t rank) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() >= rank)
      return success();
    return op->emitOpError()
           << name << " must have rank >= " << rank << ", got " << type;
  }

  /// Dimension `dim` of `value` (negative counts from the back) is
  /// `expected`; `meaning` names what that dimension is.
  LogicalResult dim(StringRef name, Value value, int64_t dim, int64_t expected,
                    StringRef meaning) {
    auto type = cast<RankedTensorType>(value.getType());
    int64_t index = dim < 0 ? type.getRank() + dim : dim;
    int64_t actual = type.getDimSize(index);
    if (actual == expected)
      return success();
    return op->emitOpError()
           << name << " dimension " << index << " (" << meaning << ") is "
           << actual << ", expected " << expected;
  }

  /// `value` has the element type of the op's input.
  LogicalResult elementType(StringRef name, Value value, Type expected) {
    Type actual = cast<RankedTensorType>(value.getType()).getElementType();
    if (actual == expected)
      return success();
    return op->emitOpError()
           << name << " has element type " << actual << ", expected "
           << expected << " like the input (convert weights explicitly)";
  }

  /// `value`'s shape is exactly `shape`; dims are named by `dimNames`.
  LogicalResult shape(StringRef name, Value value, ArrayRef<int64_t> shape,
                      ArrayRef<StringRef> dimNames) {
    if (failed(rank(name, value, shape.size(), llvm::join(dimNames, ", "))))
      return failure();
    for (auto [index, expected] : llvm::enumerate(shape))
      if (failed(dim(name, value, index, expected, dimNames[index])))
        return failure();
    return success();
  }

private:
  Operation *op;
};

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

Type elementTypeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType();
}

/// The result has the input's type (norms, attention, FFN, token shift).
LogicalResult checkResultLikeInput(Operation *op, Value input, Value result) {
  if (input.getType() == result.getType())
    return success();
  return op->emitOpError() << "result type " << result.getType()
                           << " must equal the input type " << input.getType();
}

/// `[..., D]` input with `[D]` per-feature parameters.
LogicalResult checkNormOperands(Operation *op, Value input,
                                ArrayRef<std::pair<StringRef, Value>> params,
                                Value result, double epsilon) {
  ShapeChecker check(op);
  if (failed(check.minRank("input", input, 1)))
    return failure();
  int64_t features = shapeOf(input).back();
  for (auto [name, param] : params)
    if (failed(check.shape(name, param, {features}, {"features"})) ||
        failed(check.elementType(name, param, elementTypeOf(input))))
      return failure();
  if (!(epsilon > 0.0) || !std::isfinite(epsilon))
    return op->emitOpError()
           << "epsilon must be positive and finite, got " << epsilon;
  return checkResultLikeInput(op, input, result);
}

} // namespace

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError() << "name must not be empty";
  if (std::optional<ElementsAttr> value = getValue()) {
    if (value->getType() != getType())
      return emitOpError() << "inline value of type " << value->getType()
                           << " does not match the result type " << getType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp, PositionEmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("table", getTable(), 2, "vocabulary, features")))
    return failure();
  ArrayRef<int64_t> ids = shapeOf(getIds());
  int64_t features = shapeOf(getTable())[1];
  if (failed(check.rank("result", getResult(), ids.size() + 1,
                        "ids dims, features")))
    return failure();
  for (auto [index, size] : llvm::enumerate(ids))
    if (failed(check.dim("result", getResult(), index, size, "ids dimension")))
      return failure();
  if (failed(check.dim("result", getResult(), -1, features, "features")))
    return failure();
  return check.elementType("result", getResult(), elementTypeOf(getTable()));
}

LogicalResult PositionEmbeddingOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("input", getInput(), 3,
                        "sequences, positions, features")) ||
      failed(check.rank("table", getTable(), 2, "positions, features")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(getInput());
  if (failed(check.dim("table", getTable(), 1, input[2], "features")) ||
      failed(check.elementType("table", getTable(), elementTypeOf(getInput()))))
    return failure();
  if (shapeOf(getTable())[0] < input[1])
    return emitOpError() << "table dimension 0 (positions) is "
                         << shapeOf(getTable())[0]
                         << ", fewer than the input's " << input[1]
                         << " positions";
  return checkResultLikeInput(*this, getInput(), getResult());
}

//===----------------------------------------------------------------------===//
// PatchifyOp, StartTokenOp, GlobalToLocalOp, MergePatchesOp
//===----------------------------------------------------------------------===//

LogicalResult PatchifyOp::verify() {
  ShapeChecker check(*this);
  if (failed(
          check.rank("input", getInput(), 3, "sequences, positions, features")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(getInput());
  int64_t patch = getPatchSize();
  if (input[1] % patch != 0)
    return emitOpError() << "input dimension 1 (positions) is " << input[1]
                         << ", not a multiple of patch_size " << patch;
  int64_t width = patch * input[2];
  if (failed(check.shape(
          "result", getResult(), {input[0], input[1] / patch, width},
          {"sequences", "positions / patch_size", "patch_size * features"})) ||
      failed(
          check.elementType("result", getResult(), elementTypeOf(getInput()))))
    return failure();
  if (Value shift = getShift())
    if (failed(
            check.shape("shift", shift, {width}, {"patch_size * features"})) ||
        failed(check.elementType("shift", shift, elementTypeOf(getInput()))))
      return failure();
  return success();
}

LogicalResult StartTokenOp::verify() {
  ShapeChecker check(*this);
  if (failed(
          check.rank("input", getInput(), 3, "sequences, positions, features")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(getInput());
  if (failed(check.shape("start", getStart(), {input[2]}, {"features"})) ||
      failed(
          check.elementType("start", getStart(), elementTypeOf(getInput()))) ||
      failed(check.shape("result", getResult(),
                         {input[0], input[1] + 1, input[2]},
                         {"sequences", "positions + 1", "features"})) ||
      failed(
          check.elementType("result", getResult(), elementTypeOf(getInput()))))
    return failure();
  return success();
}

LogicalResult GlobalToLocalOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("input", getInput(), 3,
                        "sequences, positions, features")) ||
      failed(check.rank("weight", getWeight(), 2, "out, in")))
    return failure();
  ArrayRef<int64_t> input = shapeOf(getInput());
  ArrayRef<int64_t> weight = shapeOf(getWeight());
  int64_t patch = getPatchSize();
  Type elementType = elementTypeOf(getInput());
  if (failed(check.elementType("weight", getWeight(), elementType)) ||
      failed(check.elementType("result", getResult(), elementType)))
    return failure();

  if (getMode() == ProjectionMode::shared) {
    if (getBias())
      return emitOpError() << "the shared projection takes no bias";
    if (input[2] % patch != 0)
      return emitOpError() << "input dimension 2 (features) is " << input[2]
                           << ", not a multiple of patch_size " << patch;
    int64_t slice = input[2] / patch;
    if (failed(check.dim("weight", getWeight(), 1, slice,
                         "input features / patch_size")))
      return failure();
    return check.shape("result", getResult(),
                       {input[0] * input[1], patch, weight[0]},
                       {"sequences * positions", "patch_size", "out features"});
  }

  // Dense: the coarser stage has a start token, its last position is dropped.
  if (input[1] < 2)
    return emitOpError() << "input dimension 1 (positions incl. start token) "
                            "is "
                         << input[1] << ", expected at least 2";
  if (failed(check.dim("weight", getWeight(), 1, input[2], "input features")))
    return failure();
  if (weight[0] % patch != 0)
    return emitOpError() << "weight dimension 0 (patch_size * out features) is "
                         << weight[0] << ", not a multiple of patch_size "
                         << patch;
  if (Value bias = getBias())
    if (failed(check.shape("bias", bias, {weight[0]},
                           {"patch_size * out features"})) ||
        failed(check.elementType("bias", bias, elementType)))
      return failure();
  return check.shape(
      "result", getResult(),
      {input[0] * (input[1] - 1), patch + 1, weight[0] / patch},
      {"sequences * (positions - 1)", "patch_size + 1", "out features"});
}

LogicalResult MergePatchesOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("input", getInput(), 3,
                        "sequences, positions, vocabulary")) ||
      failed(
          check.rank("result", getResult(), 3, "batch, bytes, vocabulary")) ||
      failed(
          check.elementType("result", getResult(), elementTypeOf(getInput()))))
    return failure();
  ArrayRef<int64_t> input = shapeOf(getInput());
  int64_t batch = shapeOf(getResult())[0];
  if (input[0] % batch != 0)
    return emitOpError() << "input dimension 0 (sequences) is " << input[0]
                         << ", not a multiple of the result's batch " << batch;
  int64_t patch = input[1];
  if (getAlignment() == Alignment::start_token) {
    if (patch < 2)
      return emitOpError() << "input dimension 1 (patch_size + 1) is " << patch
                           << ", expected at least 2";
    patch -= 1;
  }
  return check.shape("result", getResult(),
                     {batch, input[0] / batch * patch, input[2]},
                     {"batch", "bytes", "vocabulary"});
}

//===----------------------------------------------------------------------===//
// LayerNormOp, RMSNormOp, LinearOp, TokenShiftOp, FFNOp
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  return checkNormOperands(*this, getInput(),
                           {{"weight", getWeight()}, {"bias", getBias()}},
                           getResult(), getEpsilon().convertToDouble());
}

LogicalResult RMSNormOp::verify() {
  return checkNormOperands(*this, getInput(), {{"weight", getWeight()}},
                           getResult(), getEpsilon().convertToDouble());
}

LogicalResult LinearOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.minRank("input", getInput(), 1)) ||
      failed(check.rank("weight", getWeight(), 2, "out, in")))
    return failure();
  Type elementType = elementTypeOf(getInput());
  int64_t out = shapeOf(getWeight())[0];
  if (failed(check.dim("weight", getWeight(), 1, shapeOf(getInput()).back(),
                       "input features")) ||
      failed(check.elementType("weight", getWeight(), elementType)))
    return failure();
  if (Value bias = getBias())
    if (failed(check.shape("bias", bias, {out}, {"out features"})) ||
        failed(check.elementType("bias", bias, elementType)))
      return failure();
  SmallVector<int64_t> expected(shapeOf(getInput()));
  expected.back() = out;
  SmallVector<StringRef> names(expected.size(), "input dimension");
  names.back() = "out features";
  if (failed(check.shape("result", getResult(), expected, names)))
    return failure();
  return check.elementType("result", getResult(), elementType);
}

LogicalResult TokenShiftStepOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("input", getInput(), 3, "sequences, 1, features")))
    return failure();
  return check.dim("input", getInput(), 1, 1, "one new position");
}

LogicalResult TokenShiftOp::verify() {
  return ShapeChecker(*this).rank("input", getInput(), 3,
                                  "sequences, positions, features");
}

LogicalResult FFNOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.minRank("input", getInput(), 1)) ||
      failed(check.rank("up_weight", getUpWeight(), 2, "hidden, features")))
    return failure();
  int64_t features = shapeOf(getInput()).back();
  int64_t hidden = shapeOf(getUpWeight())[0];
  Type elementType = elementTypeOf(getInput());
  std::pair<StringRef, Value> params[] = {{"up_weight", getUpWeight()},
                                          {"up_bias", getUpBias()},
                                          {"down_weight", getDownWeight()},
                                          {"down_bias", getDownBias()}};
  for (auto [name, value] : params)
    if (failed(check.elementType(name, value, elementType)))
      return failure();
  if (failed(check.dim("up_weight", getUpWeight(), 1, features, "features")) ||
      failed(check.shape("up_bias", getUpBias(), {hidden}, {"hidden"})) ||
      failed(check.shape("down_weight", getDownWeight(), {features, hidden},
                         {"features", "hidden"})) ||
      failed(check.shape("down_bias", getDownBias(), {features}, {"features"})))
    return failure();
  return checkResultLikeInput(*this, getInput(), getResult());
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

namespace {

template <typename AttentionOp>
LogicalResult verifyAttentionWeights(AttentionOp op, ShapeChecker &check) {
  int64_t features = shapeOf(op.getInput())[2];
  int64_t inner = op.getHeads() * op.getHeadDim();
  Type elementType = elementTypeOf(op.getInput());
  std::pair<StringRef, Value> projections[] = {
      {"wq", op.getWq()}, {"wk", op.getWk()}, {"wv", op.getWv()}};
  for (auto [name, weight] : projections)
    if (failed(check.shape(name, weight, {inner, features},
                           {"heads * head_dim", "features"})) ||
        failed(check.elementType(name, weight, elementType)))
      return failure();
  if (failed(check.shape("wo", op.getWo(), {features, inner},
                         {"features", "heads * head_dim"})) ||
      failed(check.elementType("wo", op.getWo(), elementType)))
    return failure();
  if (FloatAttr thetaAttr = op.getRotaryThetaAttr()) {
    double theta = thetaAttr.getValueAsDouble();
    if (!(theta > 0.0) || !std::isfinite(theta))
      return op.emitOpError()
             << "rotary_theta must be positive and finite, got " << theta;
    if (op.getHeadDim() % 2 != 0)
      return op.emitOpError() << "rotary embedding needs an even head_dim, got "
                              << op.getHeadDim();
  }
  if (FloatAttr scaleAttr = op.getScaleAttr()) {
    double scale = scaleAttr.getValueAsDouble();
    if (!(scale > 0.0) || !std::isfinite(scale))
      return op.emitOpError()
             << "scale must be positive and finite, got " << scale;
  }
  return checkResultLikeInput(op, op.getInput(), op.getResult());
}

template <typename AttentionOp> LogicalResult verifyAttention(AttentionOp op) {
  ShapeChecker check(op);
  if (failed(check.rank("input", op.getInput(), 3,
                        "sequences, positions, features")))
    return failure();
  return verifyAttentionWeights(op, check);
}

template <typename AttentionOp> double softmaxScale(AttentionOp op) {
  if (FloatAttr scale = op.getScaleAttr())
    return scale.getValueAsDouble();
  return 1.0 / std::sqrt(static_cast<double>(op.getHeadDim()));
}

} // namespace

LogicalResult GlobalAttentionOp::verify() { return verifyAttention(*this); }
LogicalResult CachedAttentionOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("input", getInput(), 3, "sequences, 1, features")) ||
      failed(check.dim("input", getInput(), 1, 1, "one new position")) ||
      failed(check.rank("k_cache", getKCache(), 3,
                        "sequences, positions, heads * head_dim")))
    return failure();
  int64_t sequences = shapeOf(getInput())[0];
  int64_t positions = shapeOf(getKCache())[1];
  int64_t inner = getHeads() * getHeadDim();
  Type elementType = elementTypeOf(getInput());
  std::pair<StringRef, Value> caches[] = {{"k_cache", getKCache()},
                                          {"v_cache", getVCache()},
                                          {"new_k_cache", getNewKCache()},
                                          {"new_v_cache", getNewVCache()}};
  for (auto [name, cache] : caches)
    if (failed(check.shape(name, cache, {sequences, positions, inner},
                           {"sequences", "positions", "heads * head_dim"})) ||
        failed(check.elementType(name, cache, elementType)))
      return failure();
  return verifyAttentionWeights(*this, check);
}
double CachedAttentionOp::getSoftmaxScale() { return softmaxScale(*this); }
LogicalResult LocalAttentionOp::verify() { return verifyAttention(*this); }
double GlobalAttentionOp::getSoftmaxScale() { return softmaxScale(*this); }
double LocalAttentionOp::getSoftmaxScale() { return softmaxScale(*this); }

//===----------------------------------------------------------------------===//
// HeadOp
//===----------------------------------------------------------------------===//

LogicalResult HeadOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.minRank("input", getInput(), 1)) ||
      failed(check.rank("weight", getWeight(), 2, "vocabulary, features")))
    return failure();
  Type elementType = elementTypeOf(getInput());
  int64_t vocabulary = shapeOf(getWeight())[0];
  if (failed(check.dim("weight", getWeight(), 1, shapeOf(getInput()).back(),
                       "features")) ||
      failed(check.elementType("weight", getWeight(), elementType)))
    return failure();
  if (Value bias = getBias())
    if (failed(check.shape("bias", bias, {vocabulary}, {"vocabulary"})) ||
        failed(check.elementType("bias", bias, elementType)))
      return failure();
  SmallVector<int64_t> expected(shapeOf(getInput()));
  expected.back() = vocabulary;
  SmallVector<StringRef> names(expected.size(), "input dimension");
  names.back() = "vocabulary";
  if (failed(check.shape("result", getResult(), expected, names)))
    return failure();
  return check.elementType("result", getResult(), elementType);
}

//===----------------------------------------------------------------------===//
// SequenceTilesOp
//===----------------------------------------------------------------------===//

LogicalResult SequenceTilesOp::verify() {
  if (getResults().empty())
    return emitOpError("must have at least one result");
  int64_t sequences = shapeOf(getResult(0))[0];
  int64_t tile = getTile();
  auto checkLeading = [&](StringRef kind, unsigned index,
                          Value value) -> LogicalResult {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() < 1)
      return emitOpError() << kind << " " << index
                           << " must have rank >= 1 (sequences first)";
    if (type.getDimSize(0) != sequences)
      return emitOpError() << kind << " " << index
                           << " dimension 0 (sequences) is "
                           << type.getDimSize(0) << ", expected " << sequences
                           << " like result 0";
    return success();
  };
  for (auto [index, input] : llvm::enumerate(getInputs()))
    if (failed(checkLeading("input", index, input)))
      return failure();
  for (auto [index, result] : llvm::enumerate(getResults()))
    if (failed(checkLeading("result", index, result)))
      return failure();
  if (sequences % tile != 0)
    return emitOpError() << "tile " << tile << " does not divide the "
                         << sequences << " sequences";
  return success();
}

RankedTensorType SequenceTilesOp::getTileType(Type type, int64_t tile) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  shape[0] = tile;
  return RankedTensorType::get(shape, tensor.getElementType());
}

LogicalResult SequenceTilesOp::verifyRegions() {
  Block &body = getBody().front();
  int64_t tile = getTile();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "body has " << body.getNumArguments()
                         << " arguments, expected one per input ("
                         << getInputs().size() << ")";
  for (auto [index, input] : llvm::enumerate(getInputs())) {
    RankedTensorType expected = getTileType(input.getType(), tile);
    if (body.getArgument(index).getType() != expected)
      return emitOpError() << "body argument " << index << " has type "
                           << body.getArgument(index).getType() << ", expected "
                           << expected << " (a tile of input " << index << ")";
  }
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().size() != getResults().size())
    return emitOpError() << "body yields " << yield.getValues().size()
                         << " values, expected one per result ("
                         << getResults().size() << ")";
  for (auto [index, result] : llvm::enumerate(getResults())) {
    RankedTensorType expected = getTileType(result.getType(), tile);
    if (yield.getValues()[index].getType() != expected)
      return emitOpError() << "body yields "
                           << yield.getValues()[index].getType()
                           << " for result " << index << ", expected "
                           << expected;
  }
  return success();
}

#define GET_OP_CLASSES
#include "dialects/MB/MBOps.cpp.inc"
