//===- FuseElementwise.cpp - elementwise fusion without recomputation -----===//
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/CastInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mbc {
#define GEN_PASS_DEF_CPUFUSEELEMENTWISE
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// A producer whose body only converts element types: redoing it per use is
/// cheaper than a round trip through memory.
bool isPureConversion(linalg::GenericOp producer) {
  return llvm::all_of(producer.getBody()->without_terminator(),
                      [](Operation &op) { return isa<CastOpInterface>(op); });
}

/// Fuses `fusedOperand`'s single-use elementwise producer into its consumer
/// only when the consumer evaluates each producer element once (the
/// operand's indexing map is a permutation of the consumer's loops) or the
/// producer is a pure conversion.
bool fusesWithoutRecomputation(OpOperand *fusedOperand) {
  auto producer = fusedOperand->get().getDefiningOp<linalg::GenericOp>();
  if (!producer || !producer->hasOneUse())
    return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(fusedOperand->getOwner());
  if (!consumer)
    return false;
  if (consumer.getMatchingIndexingMap(fusedOperand).isPermutation())
    return true;
  return isPureConversion(producer);
}

/// An op that is cheap to evaluate again wherever an element is read:
/// conversions, index arithmetic, constants and reads of other tensors.
bool isCheap(Operation &op) {
  if (isa<CastOpInterface, tensor::ExtractOp, linalg::IndexOp,
          arith::ConstantOp>(op))
    return true;
  return isa<arith::ArithDialect>(op.getDialect()) &&
         llvm::all_of(op.getResultTypes(),
                      [](Type type) { return type.isIntOrIndex(); });
}

/// A producer that can be evaluated per element where the element is read
/// (tensor.extract): all loops parallel, its output written at the loop
/// indices and never read. Its conversions redo cheaply for every read
/// (an embedding table stored in bf16, gathered by token); other cheap
/// bodies (a gather, a broadcast) only when this read is its one use.
bool evaluatesPerElement(linalg::GenericOp producer) {
  if (!producer || producer.getNumDpsInits() != 1 ||
      producer->getNumResults() != 1 ||
      producer.getNumParallelLoops() != producer.getNumLoops() ||
      !producer.getMatchingIndexingMap(producer.getDpsInitOperand(0))
           .isIdentity() ||
      !producer.getMatchingBlockArgument(producer.getDpsInitOperand(0))
           .use_empty())
    return false;
  if (isPureConversion(producer))
    return true;
  return producer->hasOneUse() &&
         llvm::all_of(producer.getBody()->without_terminator(), isCheap);
}

/// tensor.extract from such a producer evaluates the producer's body for
/// that element instead: the producer's whole tensor, its buffer and its
/// launch go away.
struct ExtractFromElementwise : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractOp extract,
                                PatternRewriter &rewriter) const override {
    auto producer = extract.getTensor().getDefiningOp<linalg::GenericOp>();
    if (!evaluatesPerElement(producer))
      return failure();
    // Beyond conversions, only into another op's per-element body (a
    // gather, a concatenation): never onto the host side of a kernel.
    if (!isPureConversion(producer) &&
        !extract->getParentOfType<linalg::GenericOp>())
      return failure();
    Location loc = extract.getLoc();
    SmallVector<Value> indices(extract.getIndices());
    SmallVector<OpFoldResult> operands = getAsOpFoldResult(indices);
    Block *body = producer.getBody();
    IRMapping mapping;
    for (OpOperand *input : producer.getDpsInputOperands()) {
      SmallVector<Value> at = getValueOrCreateConstantIndexOp(
          rewriter, loc,
          affine::makeComposedFoldedMultiResultAffineApply(
              rewriter, loc, producer.getMatchingIndexingMap(input), operands));
      mapping.map(producer.getMatchingBlockArgument(input),
                  tensor::ExtractOp::create(rewriter, loc, input->get(), at));
    }
    for (Operation &op : body->without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(op)) {
        mapping.map(index.getResult(), indices[index.getDim()]);
        continue;
      }
      rewriter.clone(op, mapping);
    }
    rewriter.replaceOp(extract,
                       mapping.lookup(body->getTerminator()->getOperand(0)));
    return success();
  }
};

/// tensor.extract from a fill is the fill value.
struct ExtractFromFill : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractOp extract,
                                PatternRewriter &rewriter) const override {
    auto fill = extract.getTensor().getDefiningOp<linalg::FillOp>();
    if (!fill)
      return failure();
    rewriter.replaceOp(extract, fill.getInputs().front());
    return success();
  }
};

/// One part of a concatenation: `source` at `offset` along the dimension.
struct ConcatenationPart {
  Value source;
  int64_t offset;
};

/// The parts of the concatenation ending in `last`, sorted by offset: a
/// chain of tensor.insert_slice into a tensor.empty, each insert's result
/// only the next one's destination, the parts covering the whole tensor
/// along `dimension` and all of it along the others. Returns the chain's
/// tensor.empty; failure for anything else.
FailureOr<tensor::EmptyOp>
concatenationParts(tensor::InsertSliceOp last, int64_t &dimension,
                   SmallVectorImpl<ConcatenationPart> &parts) {
  auto type = cast<RankedTensorType>(last.getType());
  if (!type.hasStaticShape())
    return failure();
  dimension = -1;
  SmallVector<tensor::InsertSliceOp> inserts;
  Value current = last.getResult();
  while (auto insert = current.getDefiningOp<tensor::InsertSliceOp>()) {
    if ((insert != last && !insert->hasOneUse()) || !insert.hasUnitStride() ||
        insert.getSourceType().getRank() != type.getRank())
      return failure();
    std::optional<SmallVector<int64_t>> offsets =
        getConstantIntValues(insert.getMixedOffsets());
    std::optional<SmallVector<int64_t>> sizes =
        getConstantIntValues(insert.getMixedSizes());
    if (!offsets || !sizes)
      return failure();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if ((*offsets)[d] == 0 && (*sizes)[d] == type.getDimSize(d))
        continue;
      if (dimension != -1 && dimension != d)
        return failure();
      dimension = d;
    }
    inserts.push_back(insert);
    current = insert.getDest();
  }
  auto empty = current.getDefiningOp<tensor::EmptyOp>();
  if (!empty || dimension == -1 || inserts.size() < 2)
    return failure();
  for (tensor::InsertSliceOp insert : inserts)
    parts.push_back(
        {insert.getSource(),
         *getConstantIntValue(insert.getMixedOffsets()[dimension])});
  llvm::sort(parts, [](const ConcatenationPart &a, const ConcatenationPart &b) {
    return a.offset < b.offset;
  });
  // Contiguous, no overlap, the whole extent.
  int64_t next = 0;
  for (const ConcatenationPart &part : parts) {
    if (part.offset != next)
      return failure();
    next += cast<RankedTensorType>(part.source.getType()).getDimSize(dimension);
  }
  if (next != type.getDimSize(dimension))
    return failure();
  return empty;
}

/// tensor.extract inside an op's per-element body from a reshape or slice
/// of a tensor reads that tensor at the corresponding indices (the
/// concatenation generic reading a slice of the head's rows, say), so the
/// view is never materialized by a copy.
struct ExtractThroughViews : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractOp extract,
                                PatternRewriter &rewriter) const override {
    if (!extract->getParentOfType<linalg::GenericOp>())
      return failure();
    Location loc = extract.getLoc();
    SmallVector<OpFoldResult> indices = getAsOpFoldResult(extract.getIndices());
    Value source;
    SmallVector<OpFoldResult> at;
    auto apply = [&](AffineExpr expr, ArrayRef<OpFoldResult> operands) {
      return affine::makeComposedFoldedAffineApply(
          rewriter, loc, AffineMap::get(operands.size(), 0, expr), operands);
    };
    Operation *view = extract.getTensor().getDefiningOp();
    if (auto collapse = dyn_cast_or_null<tensor::CollapseShapeOp>(view)) {
      RankedTensorType type = collapse.getSrcType();
      if (!type.hasStaticShape())
        return failure();
      source = collapse.getSrc();
      // Each collapsed index splits into its group's source indices.
      for (auto [group, index] :
           llvm::zip(collapse.getReassociationIndices(), indices)) {
        int64_t inner = 1;
        SmallVector<OpFoldResult> parts;
        for (int64_t dim : llvm::reverse(group)) {
          AffineExpr i = rewriter.getAffineDimExpr(0);
          parts.push_back(
              apply(i.floorDiv(inner) % type.getDimSize(dim), {index}));
          inner *= type.getDimSize(dim);
        }
        at.append(parts.rbegin(), parts.rend());
      }
    } else if (auto expand = dyn_cast_or_null<tensor::ExpandShapeOp>(view)) {
      RankedTensorType type = expand.getResultType();
      if (!type.hasStaticShape())
        return failure();
      source = expand.getSrc();
      // Each source index is its group's indices linearized.
      for (ReassociationIndices group : expand.getReassociationIndices()) {
        AffineExpr sum = rewriter.getAffineConstantExpr(0);
        SmallVector<OpFoldResult> operands;
        int64_t inner = 1;
        for (int64_t dim : llvm::reverse(group)) {
          sum = sum + rewriter.getAffineDimExpr(operands.size()) * inner;
          operands.push_back(indices[dim]);
          inner *= type.getDimSize(dim);
        }
        at.push_back(apply(sum, operands));
      }
    } else if (auto slice = dyn_cast_or_null<tensor::ExtractSliceOp>(view)) {
      if (ShapedType::isDynamicShape(slice.getStaticStrides()))
        return failure();
      source = slice.getSource();
      llvm::SmallBitVector dropped = slice.getDroppedDims();
      size_t next = 0;
      AffineExpr offset = rewriter.getAffineDimExpr(0);
      AffineExpr i = rewriter.getAffineDimExpr(1);
      for (auto [dim, base] : llvm::enumerate(slice.getMixedOffsets())) {
        if (dropped.test(dim)) {
          at.push_back(base);
          continue;
        }
        at.push_back(apply(offset + i * slice.getStaticStrides()[dim],
                           {base, indices[next++]}));
      }
    } else {
      return failure();
    }
    rewriter.replaceOpWithNewOp<tensor::ExtractOp>(
        extract, source, getValueOrCreateConstantIndexOp(rewriter, loc, at));
    return success();
  }
};

/// A concatenation becomes one linalg.generic reading, per element, the
/// part that holds it.
struct ConcatenationToGeneric : OpRewritePattern<tensor::InsertSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::InsertSliceOp last,
                                PatternRewriter &rewriter) const override {
    // Only at the chain's last insert.
    for (Operation *user : last->getUsers())
      if (auto insert = dyn_cast<tensor::InsertSliceOp>(user))
        if (insert.getDest() == last.getResult())
          return failure();
    int64_t dimension;
    SmallVector<ConcatenationPart> parts;
    FailureOr<tensor::EmptyOp> empty =
        concatenationParts(last, dimension, parts);
    if (failed(empty))
      return failure();
    auto type = cast<RankedTensorType>(last.getType());
    int64_t rank = type.getRank();
    Location loc = last.getLoc();
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{},
        ValueRange{empty->getResult()}, maps, iterators,
        [&](OpBuilder &b, Location bodyLoc, ValueRange) {
          SmallVector<Value> indices;
          for (int64_t d = 0; d < rank; ++d)
            indices.push_back(linalg::IndexOp::create(b, bodyLoc, d));
          linalg::YieldOp::create(
              b, bodyLoc, readPart(b, bodyLoc, parts, 0, indices, dimension));
        });
    rewriter.replaceOp(last, generic.getResults());
    return success();
  }

  /// The element at `indices` from parts[first...]: an scf.if per boundary.
  static Value readPart(OpBuilder &b, Location loc,
                        ArrayRef<ConcatenationPart> parts, size_t first,
                        ArrayRef<Value> indices, int64_t dimension) {
    auto read = [&](OpBuilder &rb, const ConcatenationPart &part) -> Value {
      SmallVector<Value> at(indices);
      if (part.offset != 0)
        at[dimension] = arith::SubIOp::create(
            rb, loc, at[dimension],
            arith::ConstantIndexOp::create(rb, loc, part.offset));
      return tensor::ExtractOp::create(rb, loc, part.source, at);
    };
    if (first + 1 == parts.size())
      return read(b, parts[first]);
    Value inside = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult, indices[dimension],
        arith::ConstantIndexOp::create(b, loc, parts[first + 1].offset));
    auto ifOp = scf::IfOp::create(
        b, loc, inside,
        [&](OpBuilder &tb, Location) {
          scf::YieldOp::create(tb, loc, read(tb, parts[first]));
        },
        [&](OpBuilder &eb, Location) {
          scf::YieldOp::create(
              eb, loc, readPart(eb, loc, parts, first + 1, indices, dimension));
        });
    return ifOp.getResult(0);
  }
};

/// A broadcast of a converted tensor (a bf16 start token or bias widened
/// to f32) becomes a linalg.generic, so the conversion fuses into it.
struct GeneralizeBroadcastOfConversion : OpRewritePattern<linalg::BroadcastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::BroadcastOp broadcast,
                                PatternRewriter &rewriter) const override {
    auto producer = broadcast.getInput().getDefiningOp<linalg::GenericOp>();
    if (!evaluatesPerElement(producer) || !isPureConversion(producer) ||
        !producer->hasOneUse())
      return failure();
    return linalg::generalizeNamedOp(rewriter, broadcast);
  }
};

struct CpuFuseElementwisePass
    : impl::CpuFuseElementwiseBase<CpuFuseElementwisePass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    linalg::populateElementwiseOpsFusionPatterns(patterns,
                                                 fusesWithoutRecomputation);
    patterns.add<ExtractFromElementwise, ExtractFromFill,
                 GeneralizeBroadcastOfConversion>(context);
    if (concatenations)
      patterns.add<ConcatenationToGeneric, ExtractThroughViews>(context);
    linalg::ControlFusionFn singleUseProducer = [](OpOperand *fusedOperand) {
      Operation *producer = fusedOperand->get().getDefiningOp();
      return producer && producer->hasOneUse();
    };
    // A generic whose result is inserted into a bigger tensor (a decode
    // step's rows of the KV caches) is written there in place by
    // bufferization (empty-tensor elimination) only while nothing reshapes
    // the result on its way: such a generic keeps its shape.
    linalg::ControlFusionFn keepsInsertedResults =
        [singleUseProducer](OpOperand *fusedOperand) {
          if (!singleUseProducer(fusedOperand))
            return false;
          for (Operation *op :
               {fusedOperand->get().getDefiningOp(), fusedOperand->getOwner()})
            if (isa<linalg::GenericOp>(op))
              for (Operation *user : op->getUsers())
                if (isa<tensor::InsertSliceOp>(user))
                  return false;
          return true;
        };
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      keepsInsertedResults);
    linalg::populateConstantFoldLinalgOperations(patterns, singleUseProducer);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, context);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, context);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, context);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, context);
    context->getLoadedDialect<linalg::LinalgDialect>()
        ->getCanonicalizationPatterns(patterns);
    GreedyRewriteConfig config;
    config.setUseTopDownTraversal(true);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
