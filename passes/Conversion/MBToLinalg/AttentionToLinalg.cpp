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
// With an attention block B (convert-mb-to-linalg's attention-block option)
// and sequences of at least 2B positions, the scores are never materialized:
// causal attention with online softmax (flash attention) runs one workgroup
// per (sequence x head, block of B queries), looping over the blocks of B
// keys up to the diagonal with a running max, sum and output.
//
//===----------------------------------------------------------------------===//
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"
#include "passes/Conversion/MBToLinalg/Patterns.h"

#include "dialects/MB/MBDialect.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Transforms/DialectConversion.h"

#include <algorithm>
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

/// The lowest finite value of `elementType`: masked scores get it
/// (PyTorch's masked_fill(-finfo.max)), so their exponential is exactly 0.
double lowestFinite(Type elementType) {
  return APFloat::getLargest(cast<FloatType>(elementType).getFloatSemantics(),
                             /*Negative=*/true)
      .convertToDouble();
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
  Value lowest =
      createFloatConstant(builder, loc, elementType, lowestFinite(elementType));
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

/// An all-parallel linalg.generic that overwrites `init` (identity map):
/// the body gets (inputs..., the init's element) and returns the new value.
Value createElementwiseInto(OpBuilder &builder, Location loc, Value init,
                            ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                            ScalarBody body) {
  unsigned rank = tensorTypeOf(init).getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(identityMap(builder.getContext(), rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, loc, TypeRange{init.getType()}, inputs, ValueRange{init},
             maps, iterators,
             [&](OpBuilder &b, Location bodyLoc, ValueRange args) {
               linalg::YieldOp::create(b, bodyLoc, body(b, bodyLoc, args));
             })
      .getResult(0);
}

/// Causal softmax(q k^T * scale) v over q, k, v [B, S, dh] with online
/// softmax (flash attention), never materializing the [S, S] scores.
///
/// S is padded with zero rows to a multiple of `block`; an scf.forall runs
/// one workgroup per (batch row, query block) and an scf.for over the key
/// blocks 0..query block (the causal upper triangle of blocks is skipped).
/// Per key block: s = q_t k_t^T * scale, masked where key > query (padded
/// keys are always later than every real query); m' = max(m, rowmax(s));
/// p = exp(s - m'); l' = l exp(m - m') + rowsum(p); o' = o exp(m - m') + p v_t.
/// The tile's result is o / l; padded query rows are dropped.
Value createOnlineSoftmaxAttention(OpBuilder &builder, Location loc, Value q,
                                   Value k, Value v, double scale,
                                   int64_t block) {
  MLIRContext *context = builder.getContext();
  RankedTensorType type = tensorTypeOf(q);
  Type elementType = type.getElementType();
  int64_t batch = type.getDimSize(0);
  int64_t positions = type.getDimSize(1);
  int64_t headDim = type.getDimSize(2);
  int64_t blocks = llvm::divideCeil(positions, block);
  int64_t padded = blocks * block;
  auto pad = [&](Value x) -> Value {
    if (padded == positions)
      return x;
    Value zeros =
        createFilled(builder, loc, {batch, padded, headDim}, elementType, 0.0);
    return insertSlice(builder, loc, x, zeros, {0, 0, 0});
  };
  q = pad(q);
  k = pad(k);
  v = pad(v);

  Value init = createEmpty(builder, loc, {batch, padded, headDim}, elementType);
  auto forall = scf::ForallOp::create(
      builder, loc,
      ArrayRef<OpFoldResult>{builder.getIndexAttr(batch),
                             builder.getIndexAttr(blocks)},
      ValueRange{init}, /*mapping=*/std::nullopt);
  forall->setAttr("mb.attention_block", builder.getI64IntegerAttr(block));

  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(forall.getBody());
  Value row = forall.getInductionVars()[0];
  Value queryBlock = forall.getInductionVars()[1];
  Value blockSize = arith::ConstantIndexOp::create(builder, loc, block);
  Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
  Value one = arith::ConstantIndexOp::create(builder, loc, 1);
  Value firstQuery = arith::MulIOp::create(builder, loc, queryBlock, blockSize);
  auto tileType = RankedTensorType::get({block, headDim}, elementType);
  auto scoresType = RankedTensorType::get({block, block}, elementType);
  auto statsType = RankedTensorType::get({block}, elementType);
  auto tileOffsets = [&](Value first) {
    return SmallVector<OpFoldResult>{row, first, builder.getIndexAttr(0)};
  };
  SmallVector<OpFoldResult> tileSizes = {builder.getIndexAttr(1),
                                         builder.getIndexAttr(block),
                                         builder.getIndexAttr(headDim)};
  SmallVector<OpFoldResult> unitStrides(3, builder.getIndexAttr(1));
  auto tileOf = [&](OpBuilder &b, Value source, Value first) -> Value {
    return tensor::ExtractSliceOp::create(
        b, loc, tileType, source, tileOffsets(first), tileSizes, unitStrides);
  };
  Value queries = tileOf(builder, q, firstQuery);
  double lowestValue = lowestFinite(elementType);
  Value lowest = createFloatConstant(builder, loc, elementType, lowestValue);
  Value scaleValue = createFloatConstant(builder, loc, elementType, scale);
  AffineMap tileIdentity = identityMap(context, 2);
  AffineMap tileRows = rowMap(context, 2);
  AffineMap statsIdentity = identityMap(context, 1);

  Value lastBlock = arith::AddIOp::create(builder, loc, queryBlock, one);
  auto loop = scf::ForOp::create(
      builder, loc, zero, lastBlock, one,
      ValueRange{
          createFilled(builder, loc, {block}, elementType, lowestValue),
          createFilled(builder, loc, {block}, elementType, 0.0),
          createFilled(builder, loc, {block, headDim}, elementType, 0.0)},
      [&](OpBuilder &b, Location loc, Value keyBlock, ValueRange running) {
        Value firstKey = arith::MulIOp::create(b, loc, keyBlock, blockSize);
        Value keys = tileOf(b, k, firstKey);
        Value values = tileOf(b, v, firstKey);
        Value scores =
            createMatmulTransposedWeight(b, loc, queries, keys, nullptr);
        Value masked = createElementwise(
            b, loc, scoresType, scores, tileIdentity,
            [&](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              Value query = arith::AddIOp::create(
                  eb, loc, firstQuery, linalg::IndexOp::create(eb, loc, 0));
              Value key = arith::AddIOp::create(
                  eb, loc, firstKey, linalg::IndexOp::create(eb, loc, 1));
              Value visible = arith::CmpIOp::create(
                  eb, loc, arith::CmpIPredicate::ule, key, query);
              Value scaled =
                  arith::MulFOp::create(eb, loc, args[0], scaleValue);
              return arith::SelectOp::create(eb, loc, visible, scaled, lowest);
            });
        // Each running value is overwritten by its own update (the update's
        // init is the loop's iter_arg), after its last other use, so the
        // loop updates its buffers in place.
        Value blockMax = createLastDimensionReduction(
            b, loc, masked, {}, -std::numeric_limits<double>::infinity(),
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              return arith::MaximumFOp::create(eb, loc, args[0], args.back());
            });
        Value rescale = createElementwise(
            b, loc, statsType, {running[0], blockMax},
            {statsIdentity, statsIdentity},
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              Value newMax =
                  arith::MaximumFOp::create(eb, loc, args[0], args[1]);
              return math::ExpOp::create(
                  eb, loc, arith::SubFOp::create(eb, loc, args[0], newMax));
            });
        Value newMax = createElementwiseInto(
            b, loc, running[0], {blockMax}, {statsIdentity},
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              return arith::MaximumFOp::create(eb, loc, args[1], args[0]);
            });
        Value probabilities = createElementwise(
            b, loc, scoresType, {masked, newMax}, {tileIdentity, tileRows},
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              return math::ExpOp::create(
                  eb, loc, arith::SubFOp::create(eb, loc, args[0], args[1]));
            });
        Value blockSum = createLastDimensionReduction(
            b, loc, probabilities, {}, 0.0,
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              return arith::AddFOp::create(eb, loc, args[0], args.back());
            });
        Value newSum = createElementwiseInto(
            b, loc, running[1], {rescale, blockSum},
            {statsIdentity, statsIdentity},
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              Value kept = arith::MulFOp::create(eb, loc, args[2], args[0]);
              return arith::AddFOp::create(eb, loc, kept, args[1]);
            });
        Value rescaled = createElementwiseInto(
            b, loc, running[2], {rescale}, {tileRows},
            [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
              return arith::MulFOp::create(eb, loc, args[1], args[0]);
            });
        Value newOutput =
            linalg::MatmulOp::create(b, loc, tileType,
                                     ValueRange{probabilities, values},
                                     ValueRange{rescaled})
                .getResult(0);
        scf::YieldOp::create(b, loc, ValueRange{newMax, newSum, newOutput});
      });
  Value output = createElementwise(
      builder, loc, tileType, {loop.getResult(2), loop.getResult(1)},
      {tileIdentity, tileRows},
      [](OpBuilder &eb, Location loc, ValueRange args) -> Value {
        return arith::DivFOp::create(eb, loc, args[0], args[1]);
      });
  builder.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(
      builder, loc, output, forall.getRegionIterArgs()[0],
      tileOffsets(firstQuery), tileSizes, unitStrides);
  builder.setInsertionPointAfter(forall);
  Value result = forall.getResult(0);
  if (padded != positions)
    result = extractSlice(builder, loc, result, {0, 0, 0},
                          {batch, positions, headDim});
  return result;
}

template <typename AttentionOp>
struct AttentionLowering : OpConversionPattern<AttentionOp> {
  AttentionLowering(MLIRContext *context, int64_t attentionBlock)
      : OpConversionPattern<AttentionOp>(context),
        attentionBlock(attentionBlock) {}
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

    Value attended;
    if (attentionBlock > 0 && shape.positions >= 2 * attentionBlock) {
      attended = createOnlineSoftmaxAttention(
          rewriter, loc, q, k, v, op.getSoftmaxScale(), attentionBlock);
    } else {
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
      attended = linalg::BatchMatmulOp::create(rewriter, loc, zeros.getType(),
                                               ValueRange{probabilities, v},
                                               ValueRange{zeros})
                     .getResult(0);
    }
    Value merged = toPositionMajor(rewriter, loc, attended, shape);
    Value projected = createMatmulTransposedWeight(rewriter, loc, merged,
                                                   adaptor.getWo(), nullptr);
    rewriter.replaceOp(op, reshape(rewriter, loc, projected, inputShape));
    return success();
  }
  /// Query and key block of online-softmax attention; 0: scores whole.
  int64_t attentionBlock;
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
/// rows [M, K] f32 * weight [N, K]^T on a selected GEMV kernel, reading
/// `original` (the op's weight operand before conversion) as stored, when
/// the spec is supported; null otherwise.
Value projectWithGemv(OpBuilder &builder, Location loc, Operation *op,
                      Value rows, Value original) {
  RankedTensorType rowsType = tensorTypeOf(rows);
  cuda::GemvSpec spec;
  spec.m = rowsType.getDimSize(0);
  spec.k = rowsType.getDimSize(1);
  spec.n = tensorTypeOf(original).getDimSize(0);
  spec.weightType = cuda::gemvWeightType(original);
  {
    ScopedDiagnosticHandler quiet(builder.getContext(),
                                  [](Diagnostic &) { return success(); });
    if (failed(cuda::verifyGemvSpec(spec, [&] { return op->emitError(); })))
      return {};
  }
  Value weight = cuda::narrowTo(builder, loc, original, spec.weightType);
  return cuda::callSelectedGemv(builder, loc, op->getParentOfType<ModuleOp>(),
                                spec, ValueRange{rows, weight})
      .getResult(0);
}

/// The tensor<1xi64> a decode position was read from (the entry point's
/// `position` argument), or one made from the index.
Value positionTensor(OpBuilder &builder, Location loc, Value position) {
  if (auto cast = position.getDefiningOp<arith::IndexCastOp>())
    if (auto extract = cast.getIn().getDefiningOp<tensor::ExtractOp>())
      if (auto type = dyn_cast<RankedTensorType>(extract.getTensor().getType());
          type && type.getShape() == ArrayRef<int64_t>{1} &&
          type.getElementType().isInteger(64))
        return extract.getTensor();
  Value value =
      arith::IndexCastOp::create(builder, loc, builder.getI64Type(), position);
  return tensor::FromElementsOp::create(
      builder, loc, RankedTensorType::get({1}, builder.getI64Type()),
      ValueRange{value});
}

/// Decode attention over caches this long or longer splits its keys.
constexpr int64_t kMinSplitCacheLength = 512;
/// CTAs a split decode attention aims at (two per SM of an H100/H200).
constexpr int64_t kTargetDecodeBlocks = 256;

/// The decode attention of `query` [N, H * D] against the caches (this
/// step's rows written) on one selected kernel (CUDA), or null when its
/// spec is not supported.
Value attendWithKernel(OpBuilder &builder, Location loc,
                       mb::CachedAttentionOp op, Value query, Value kCache,
                       Value vCache, Value position) {
  RankedTensorType cacheType = tensorTypeOf(kCache);
  cuda::DecodeAttentionSpec spec;
  spec.sequences = cacheType.getDimSize(0);
  spec.cacheLength = cacheType.getDimSize(1);
  spec.heads = op.getHeads();
  spec.headDim = op.getHeadDim();
  spec.scale = op.getSoftmaxScale();
  // Long caches: split the keys of a head over several CTAs (a second
  // kernel merges them), aiming at about two CTAs per SM of a 132-SM GPU
  // with at least 128 keys a split; more warps share a long split.
  if (spec.cacheLength >= kMinSplitCacheLength) {
    int64_t blocks = spec.heads * spec.sequences;
    spec.splits = std::clamp<int64_t>(
        llvm::divideCeil(kTargetDecodeBlocks, blocks), 1,
        std::min<int64_t>(cuda::kMaxDecodeAttentionSplits,
                          spec.cacheLength / 128));
  }
  spec.warps = spec.cacheLength / spec.splits >= 512 ? 8 : 4;
  spec.cacheRows = spec.sequences;
  // A layer's caches are a static slice of the step's cache arguments: the
  // kernel reads those whole (a slice would be copied into a buffer of its
  // own for the call, and the new row with it). The whole cache with this
  // slice inserted is what the step builds right after this op (the same
  // insert_slice, merged by CSE).
  // The extract_slice a cache is the row-updated slice of, when that slice
  // is a static row range of a whole cache of the same positions.
  auto sliceOf = [&](Value cache) -> tensor::ExtractSliceOp {
    auto insert = cache.getDefiningOp<tensor::InsertSliceOp>();
    auto extract =
        insert ? insert.getDest().getDefiningOp<tensor::ExtractSliceOp>()
               : tensor::ExtractSliceOp();
    if (!extract || extract.getSourceType().getRank() != 3 ||
        !extract.hasUnitStride() || !extract.getSourceType().hasStaticShape())
      return {};
    ArrayRef<int64_t> offsets = extract.getStaticOffsets();
    RankedTensorType source = extract.getSourceType();
    if (ShapedType::isDynamic(offsets[0]) || offsets[1] != 0 ||
        offsets[2] != 0 || source.getDimSize(1) != cacheType.getDimSize(1) ||
        source.getDimSize(2) != cacheType.getDimSize(2))
      return {};
    return extract;
  };
  tensor::ExtractSliceOp kSlice = sliceOf(kCache), vSlice = sliceOf(vCache);
  if (kSlice && vSlice &&
      kSlice.getStaticOffsets()[0] == vSlice.getStaticOffsets()[0] &&
      kSlice.getSourceType() == vSlice.getSourceType()) {
    auto whole = [&](Value cache, tensor::ExtractSliceOp slice) -> Value {
      return tensor::InsertSliceOp::create(
          builder, loc, cache, slice.getSource(), slice.getMixedOffsets(),
          slice.getMixedSizes(), slice.getMixedStrides());
    };
    kCache = whole(kCache, kSlice);
    vCache = whole(vCache, vSlice);
    spec.cacheRows = kSlice.getSourceType().getDimSize(0);
    spec.firstRow = kSlice.getStaticOffsets()[0];
  }
  {
    ScopedDiagnosticHandler quiet(builder.getContext(),
                                  [](Diagnostic &) { return success(); });
    if (failed(cuda::verifyDecodeAttentionSpec(
            spec, [&] { return op->emitError(); })))
      return {};
  }
  return cuda::callSelectedDecodeAttention(
      builder, loc, op->getParentOfType<ModuleOp>(), spec,
      ValueRange{query, kCache, vCache,
                 positionTensor(builder, loc, position)});
}

struct CachedAttentionLowering : OpConversionPattern<mb::CachedAttentionOp> {
  CachedAttentionLowering(MLIRContext *context, bool decodeGemvs)
      : OpConversionPattern<mb::CachedAttentionOp>(context),
        decodeGemvs(decodeGemvs) {}
  bool decodeGemvs;

  LogicalResult
  matchAndRewrite(mb::CachedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
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
    // Decode GEMVs (CUDA) for the projections whose weights allow them.
    bool gemvs = decodeGemvs && shape.sequences <= cuda::kMaxGemvRows &&
                 elementType.isF32();
    SmallVector<int64_t> headsShape = {shape.sequences, 1, shape.heads,
                                       shape.headDim};
    auto project = [&](Value original, Value converted) -> Value {
      if (gemvs)
        if (Value product = projectWithGemv(rewriter, loc, op, rows, original))
          return reshape(rewriter, loc, product, headsShape);
      return projectToHeads(rewriter, loc, rows, converted, shape);
    };
    Value q = project(op.getWq(), adaptor.getWq());
    Value k, v;
    Value kvSource =
        gemvs ? cuda::kvWeightSource(op.getWk(), op.getWv(), inner) : Value();
    Value kv =
        kvSource ? projectWithGemv(rewriter, loc, op, rows, kvSource) : Value();
    if (kv) {
      k = reshape(
          rewriter, loc,
          extractSlice(rewriter, loc, kv, {0, 0}, {shape.sequences, inner}),
          headsShape);
      v = reshape(
          rewriter, loc,
          extractSlice(rewriter, loc, kv, {0, inner}, {shape.sequences, inner}),
          headsShape);
    } else {
      k = project(op.getWk(), adaptor.getWk());
      v = project(op.getWv(), adaptor.getWv());
    }
    SmallVector<OpFoldResult> rowOffsets = {rewriter.getIndexAttr(0), position,
                                            rewriter.getIndexAttr(0)};
    SmallVector<OpFoldResult> rowSizes = {
        rewriter.getIndexAttr(shape.sequences), rewriter.getIndexAttr(1),
        rewriter.getIndexAttr(inner)};
    SmallVector<OpFoldResult> unitStrides(3, rewriter.getIndexAttr(1));
    if (FloatAttr theta = op.getRotaryThetaAttr()) {
      Value inverseFrequencies = createInverseFrequencies(
          rewriter, loc, elementType, theta.getValueAsDouble(), shape.headDim);
      if (decodeGemvs) {
        // CUDA: q and k rotated, and v copied, by one kernel that writes k
        // and v straight into the caches' rows (applyRotary is two
        // kernels each, the rows' copies one more).
        SmallVector<int64_t> rowsShape = {shape.sequences, 1, inner};
        auto cacheRow = [&](Value cache) -> Value {
          return tensor::ExtractSliceOp::create(
              rewriter, loc, cache, rowOffsets, rowSizes, unitStrides);
        };
        auto flat = [&](Value x) {
          return reshape(rewriter, loc, x, rowsShape);
        };
        SmallVector<Value> rotated = applyRotaryTogether(
            rewriter, loc, ValueRange{flat(q), flat(k)}, shape.headDim,
            inverseFrequencies, position, ValueRange{flat(v)},
            ValueRange{createEmpty(rewriter, loc, rowsShape, elementType),
                       cacheRow(adaptor.getKCache()),
                       cacheRow(adaptor.getVCache())});
        q = reshape(rewriter, loc, rotated[0], headsShape);
        k = rotated[1];
        v = rotated[2];
      } else {
        q = applyRotary(rewriter, loc, q, inverseFrequencies, position);
        k = applyRotary(rewriter, loc, k, inverseFrequencies, position);
      }
    }

    auto writeRow = [&](Value cache, Value row) -> Value {
      Value flat = reshape(rewriter, loc, row, {shape.sequences, 1, inner});
      return tensor::InsertSliceOp::create(rewriter, loc, flat, cache,
                                           rowOffsets, rowSizes, unitStrides);
    };
    Value kCache = writeRow(adaptor.getKCache(), k);
    Value vCache = writeRow(adaptor.getVCache(), v);
    // CUDA: the core on one kernel (the decode path's f32 caches).
    Value merged;
    if (decodeGemvs && elementType.isF32())
      merged =
          attendWithKernel(rewriter, loc, op,
                           reshape(rewriter, loc, q, {shape.sequences, inner}),
                           kCache, vCache, position);
    if (!merged)
      merged = attendGeneric(rewriter, loc, op, shape, q, kCache, vCache,
                             position, cachePositions);
    Value projected =
        gemvs ? projectWithGemv(rewriter, loc, op, merged, op.getWo())
              : Value();
    if (!projected)
      projected = createMatmulTransposedWeight(rewriter, loc, merged,
                                               adaptor.getWo(), nullptr);
    rewriter.replaceOp(op,
                       {reshape(rewriter, loc, projected, inputType.getShape()),
                        kCache, vCache});
    return success();
  }

  /// The core as linalg: scores, masked softmax, weighted values; returns
  /// [N, H * D].
  static Value attendGeneric(ConversionPatternRewriter &rewriter, Location loc,
                             mb::CachedAttentionOp op,
                             const AttentionShape &shape, Value q, Value kCache,
                             Value vCache, Value position,
                             int64_t cachePositions) {
    MLIRContext *context = rewriter.getContext();
    int64_t inner = shape.heads * shape.headDim;
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
    return reshape(rewriter, loc, attended, {shape.sequences, inner});
  }
};

} // namespace

void populateAttentionPatterns(RewritePatternSet &patterns,
                               int64_t attentionBlock, bool decodeGemvs) {
  patterns.add<AttentionLowering<mb::GlobalAttentionOp>,
               AttentionLowering<mb::LocalAttentionOp>>(patterns.getContext(),
                                                        attentionBlock);
  patterns.add<CachedAttentionLowering>(patterns.getContext(), decodeGemvs);
}

} // namespace mbc::mb_to_linalg
