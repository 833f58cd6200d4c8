//===- SequenceLayoutToLinalg.cpp - embeddings, patches, stage boundaries -===//
//
// The ops that gather bytes into vectors and move positions between stages.
// Apart from the embedding gather they only move data, so they lower to
// reshapes, slices and insertions that bufferize to copies (or to nothing).
//
//===----------------------------------------------------------------------===//
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"
#include "passes/Conversion/MBToLinalg/Patterns.h"

#include "dialects/MB/MBDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;

namespace mbc::mb_to_linalg {
namespace {

/// result[i..., d] = table[ids[i...], d]: a parallel generic over the result
/// that reads the id through its indexing map and gathers with tensor.extract.
struct EmbeddingLowering : OpConversionPattern<mb::EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       createEmbedding(rewriter, op.getLoc(),
                                       adaptor.getTable(), adaptor.getIds()));
    return success();
  }
};

} // namespace

Value createEmbedding(OpBuilder &builder, Location loc, Value table,
                      Value ids) {
  auto idsType = cast<RankedTensorType>(ids.getType());
  auto tableType = cast<RankedTensorType>(table.getType());
  SmallVector<int64_t> shape(idsType.getShape());
  shape.push_back(tableType.getDimSize(1));
  auto resultType = RankedTensorType::get(shape, tableType.getElementType());
  unsigned rank = resultType.getRank();
  return createElementwise(
      builder, loc, resultType, ids, rowMap(builder.getContext(), rank),
      [&](OpBuilder &builder, Location loc, ValueRange args) -> Value {
        // Ids are in [0, V) (the runtime checks); zero extension keeps
        // byte ids 128..255 right when they are stored as i8.
        Value row = arith::IndexCastUIOp::create(
            builder, loc, builder.getIndexType(), args[0]);
        Value feature = linalg::IndexOp::create(builder, loc, rank - 1);
        return tensor::ExtractOp::create(builder, loc, table,
                                         ValueRange{row, feature});
      });
}

namespace {

/// result[n, s, :] = input[n, s, :] + table[firstRow + s, :]; `firstRow` is
/// a constant 0 for the whole-sequence forms and may be a runtime index
/// (a decode step's position).
Value addPositionRows(OpBuilder &builder, Location loc, Value input,
                      Value table, OpFoldResult firstRow) {
  RankedTensorType inputType = tensorTypeOf(input);
  int64_t positions = inputType.getDimSize(1);
  int64_t features = inputType.getDimSize(2);
  Value rows = table;
  if (!isZeroInteger(firstRow) ||
      tensorTypeOf(table).getDimSize(0) != positions)
    rows = tensor::ExtractSliceOp::create(
        builder, loc, table, {firstRow, builder.getIndexAttr(0)},
        {builder.getIndexAttr(positions), builder.getIndexAttr(features)},
        {builder.getIndexAttr(1), builder.getIndexAttr(1)});
  MLIRContext *context = builder.getContext();
  AffineExpr n, s, d;
  bindDims(context, n, s, d);
  return createElementwise(
      builder, loc, inputType, {input, rows},
      {identityMap(context, 3), AffineMap::get(3, 0, {s, d}, context)},
      [](OpBuilder &builder, Location loc, ValueRange args) -> Value {
        return arith::AddFOp::create(builder, loc, args[0], args[1]);
      });
}

struct PositionEmbeddingLowering
    : OpConversionPattern<mb::PositionEmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::PositionEmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, addPositionRows(
                rewriter, op.getLoc(), adaptor.getInput(), adaptor.getTable(),
                adaptor.getOffset() ? OpFoldResult(adaptor.getOffset())
                                    : OpFoldResult(rewriter.getIndexAttr(0))));
    return success();
  }
};

/// Regrouping [N, L, E] -> [N, L/P, P*E] is a reshape. The one-patch shift
/// puts the pad at position 0 and drops the last patch.
struct PatchifyLowering : OpConversionPattern<mb::PatchifyOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::PatchifyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape = cast<RankedTensorType>(op.getType()).getShape();
    int64_t sequences = shape[0], patches = shape[1], width = shape[2];
    Value grouped = reshape(rewriter, loc, adaptor.getInput(), shape);
    if (!adaptor.getShift()) {
      rewriter.replaceOp(op, grouped);
      return success();
    }
    Value pad = broadcastLastDimension(rewriter, loc, adaptor.getShift(),
                                       {sequences, 1, width});
    Value earlier = extractSlice(rewriter, loc, grouped, {0, 0, 0},
                                 {sequences, patches - 1, width});
    rewriter.replaceOp(op, concatenate(rewriter, loc, {pad, earlier}, 1));
    return success();
  }
};

struct StartTokenLowering : OpConversionPattern<mb::StartTokenOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::StartTokenOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    ArrayRef<int64_t> shape = tensorTypeOf(adaptor.getInput()).getShape();
    Value start = broadcastLastDimension(rewriter, loc, adaptor.getStart(),
                                         {shape[0], 1, shape[2]});
    rewriter.replaceOp(
        op, concatenate(rewriter, loc, {start, adaptor.getInput()}, 1));
    return success();
  }
};

/// The first ceil(D/2) features stay; the other floor(D/2) come from the
/// previous position (zeros at position 0), as torch.chunk(2) splits them.
struct TokenShiftLowering : OpConversionPattern<mb::TokenShiftOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::TokenShiftOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = adaptor.getInput();
    RankedTensorType type = tensorTypeOf(input);
    int64_t sequences = type.getDimSize(0), positions = type.getDimSize(1),
            features = type.getDimSize(2);
    int64_t kept = (features + 1) / 2, moved = features - kept;
    Value result = createFilled(rewriter, loc, type.getShape(),
                                type.getElementType(), 0.0);
    Value stay = extractSlice(rewriter, loc, input, {0, 0, 0},
                              {sequences, positions, kept});
    result = insertSlice(rewriter, loc, stay, result, {0, 0, 0});
    if (moved > 0 && positions > 1) {
      Value later = extractSlice(rewriter, loc, input, {0, 0, kept},
                                 {sequences, positions - 1, moved});
      result = insertSlice(rewriter, loc, later, result, {0, 1, kept});
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct GlobalToLocalLowering : OpConversionPattern<mb::GlobalToLocalOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::GlobalToLocalOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    ArrayRef<int64_t> input = tensorTypeOf(adaptor.getInput()).getShape();
    int64_t patch = op.getPatchSize();
    int64_t out = resultType.getDimSize(2);

    if (op.getMode() == mb::ProjectionMode::shared) {
      // Every P-th slice of width C is one row of a [N*S*P, C] matrix.
      int64_t slice = input[2] / patch;
      Value rows = reshape(rewriter, loc, adaptor.getInput(),
                           {input[0] * input[1] * patch, slice});
      Value projected = createMatmulTransposedWeight(
          rewriter, loc, rows, adaptor.getWeight(), /*bias=*/nullptr);
      rewriter.replaceOp(
          op, reshape(rewriter, loc, projected, resultType.getShape()));
      return success();
    }

    // Dense: drop the last position, project each to P vectors of width D,
    // and prepend the zero vector of the finer stage's start position.
    int64_t sequences = input[0], positions = input[1] - 1;
    Value used = extractSlice(rewriter, loc, adaptor.getInput(), {0, 0, 0},
                              {sequences, positions, input[2]});
    Value rows =
        reshape(rewriter, loc, used, {sequences * positions, input[2]});
    Value projected = createMatmulTransposedWeight(
        rewriter, loc, rows, adaptor.getWeight(), adaptor.getBias());
    Value perSequence =
        reshape(rewriter, loc, projected, {sequences * positions, patch, out});
    Value zeros = createFilled(rewriter, loc, {sequences * positions, 1, out},
                               resultType.getElementType(), 0.0);
    rewriter.replaceOp(op, concatenate(rewriter, loc, {zeros, perSequence}, 1));
    return success();
  }
};

struct MergePatchesLowering : OpConversionPattern<mb::MergePatchesOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::MergePatchesOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto resultType = cast<RankedTensorType>(op.getType());
    if (op.getAlignment() == mb::Alignment::shifted) {
      rewriter.replaceOp(op, reshape(rewriter, loc, adaptor.getInput(),
                                     resultType.getShape()));
      return success();
    }
    rewriter.replaceOp(op,
                       mergeStartTokenRows(rewriter, loc, adaptor.getInput(),
                                           resultType.getDimSize(0),
                                           resultType.getDimSize(1)));
    return success();
  }
};

/// Decode form: the first ceil(D/2) features of the new position, the rest
/// from the previous position's input, as one elementwise select on the
/// feature index (not a concatenation of two slices, which bufferizes to an
/// empty buffer and two copies).
struct TokenShiftStepLowering : OpConversionPattern<mb::TokenShiftStepOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::TokenShiftStepOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = tensorTypeOf(adaptor.getInput());
    int64_t features = type.getDimSize(2);
    int64_t kept = (features + 1) / 2;
    if (kept == features) {
      rewriter.replaceOp(op, adaptor.getInput());
      return success();
    }
    AffineMap identity = rewriter.getMultiDimIdentityMap(type.getRank());
    Value result = createElementwise(
        rewriter, loc, type, {adaptor.getInput(), adaptor.getPrevious()},
        {identity, identity},
        [&](OpBuilder &builder, Location loc, ValueRange args) -> Value {
          Value feature = linalg::IndexOp::create(builder, loc, 2);
          Value firstShifted = arith::ConstantIndexOp::create(builder, loc, kept);
          Value isKept = arith::CmpIOp::create(
              builder, loc, arith::CmpIPredicate::ult, feature, firstShifted);
          return arith::SelectOp::create(builder, loc, isKept, args[0],
                                         args[1]);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void populateSequenceLayoutPatterns(RewritePatternSet &patterns) {
  patterns.add<EmbeddingLowering, PositionEmbeddingLowering, PatchifyLowering,
               StartTokenLowering, TokenShiftLowering, TokenShiftStepLowering,
               GlobalToLocalLowering, MergePatchesLowering>(
      patterns.getContext());
}

} // namespace mbc::mb_to_linalg
