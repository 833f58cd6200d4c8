//===- CollapseContractionRows.cpp - one M loop per contraction -----------===//
#include "passes/CPU/ContractionAnalysis.h"
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mbc {
#define GEN_PASS_DEF_CPUCOLLAPSECONTRACTIONROWS
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// The run of M loops that ends with the result's innermost M loop and is
/// contiguous (in order) in every operand, when it has two loops or more.
std::optional<ReassociationIndices> collapsibleRows(linalg::LinalgOp op) {
  std::optional<ContractionLoops> loops = getOuterProductLoops(op);
  if (!loops)
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  AffineMap resultMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  std::optional<unsigned> position =
      resultMap.getResultPosition(getAffineDimExpr(loops->m, op.getContext()));
  if (failed(dims) || !position)
    return std::nullopt;
  ReassociationIndices rows;
  for (int64_t p = *position; p >= 0; --p) {
    auto dim = dyn_cast<AffineDimExpr>(resultMap.getResult(p));
    if (!dim || !llvm::is_contained(dims->m, dim.getPosition()))
      break;
    rows.insert(rows.begin(), dim.getPosition());
  }
  if (rows.size() < 2 ||
      !linalg::areDimSequencesPreserved(op.getIndexingMapsArray(), {rows}))
    return std::nullopt;
  return rows;
}

struct CpuCollapseContractionRowsPass
    : impl::CpuCollapseContractionRowsBase<CpuCollapseContractionRowsPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::LinalgOp, ReassociationIndices>> candidates;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics())
        if (std::optional<ReassociationIndices> rows = collapsibleRows(op))
          candidates.emplace_back(op, *rows);
    });
    IRRewriter rewriter(&getContext());
    SmallVector<Operation *> initReshapes;
    for (auto &[op, rows] : candidates) {
      rewriter.setInsertionPoint(op);
      FailureOr<linalg::CollapseResult> collapsed =
          linalg::collapseOpIterationDims(op, {rows}, rewriter);
      if (failed(collapsed))
        continue;
      rewriter.replaceOp(op, collapsed->results);
      if (Operation *reshape =
              collapsed->collapsedOp.getDpsInitOperand(0)->get().getDefiningOp())
        initReshapes.push_back(reshape);
    }
    // The init's producer (a fill, a broadcast bias) is collapsed too, so
    // tiling can still fuse it into the register tiles.
    if (initReshapes.empty())
      return;
    RewritePatternSet patterns(&getContext());
    linalg::populateFoldReshapeOpsByCollapsingPatterns(
        patterns, [](OpOperand *operand) {
          Operation *producer = operand->get().getDefiningOp();
          return producer && producer->hasOneUse();
        });
    linalg::FillOp::getCanonicalizationPatterns(patterns, &getContext());
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    (void)applyOpPatternsGreedily(initReshapes, std::move(patterns), config);
  }
};

} // namespace
} // namespace mbc
