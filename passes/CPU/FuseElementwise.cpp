//===- FuseElementwise.cpp - elementwise fusion without recomputation -----===//
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
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

/// A producer computing each element from the same element of its one
/// input (identity maps) by conversions only.
bool isElementwiseConversion(linalg::GenericOp producer) {
  return producer && producer.getNumDpsInputs() == 1 &&
         producer.getNumDpsInits() == 1 && producer->getNumResults() == 1 &&
         producer.getNumParallelLoops() == producer.getNumLoops() &&
         llvm::all_of(producer.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); }) &&
         producer.getMatchingBlockArgument(producer.getDpsInitOperand(0))
             .use_empty() &&
         isPureConversion(producer);
}

/// tensor.extract from a converted tensor (an embedding table stored in
/// bf16, gathered by token) reads the original and converts the element:
/// the conversion of the whole table, its buffer and its launch go away.
struct ExtractFromConversion : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractOp extract,
                                PatternRewriter &rewriter) const override {
    auto producer = extract.getTensor().getDefiningOp<linalg::GenericOp>();
    if (!isElementwiseConversion(producer))
      return failure();
    Value element = tensor::ExtractOp::create(rewriter, extract.getLoc(),
                                              producer.getDpsInputs().front(),
                                              extract.getIndices());
    IRMapping mapping;
    mapping.map(producer.getBody()->getArgument(0), element);
    for (Operation &op : producer.getBody()->without_terminator())
      rewriter.clone(op, mapping);
    rewriter.replaceOp(
        extract,
        mapping.lookup(producer.getBody()->getTerminator()->getOperand(0)));
    return success();
  }
};

/// A broadcast of a converted tensor (a bf16 start token or bias widened
/// to f32) becomes a linalg.generic, so the conversion fuses into it.
struct GeneralizeBroadcastOfConversion : OpRewritePattern<linalg::BroadcastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::BroadcastOp broadcast,
                                PatternRewriter &rewriter) const override {
    auto producer = broadcast.getInput().getDefiningOp<linalg::GenericOp>();
    if (!isElementwiseConversion(producer) || !producer->hasOneUse())
      return failure();
    return linalg::generalizeNamedOp(rewriter, broadcast);
  }
};

struct CpuFuseElementwisePass
    : impl::CpuFuseElementwiseBase<CpuFuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    linalg::populateElementwiseOpsFusionPatterns(patterns,
                                                 fusesWithoutRecomputation);
    patterns.add<ExtractFromConversion, GeneralizeBroadcastOfConversion>(
        context);
    linalg::ControlFusionFn singleUseProducer = [](OpOperand *fusedOperand) {
      Operation *producer = fusedOperand->get().getDefiningOp();
      return producer && producer->hasOneUse();
    };
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      singleUseProducer);
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
