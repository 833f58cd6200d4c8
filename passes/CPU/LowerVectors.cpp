//===- LowerVectors.cpp - vector ops to what convert-vector-to-llvm takes -===//
#include "passes/CPU/KernelConfig.h"
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mbc {
#define GEN_PASS_DEF_CPULOWERVECTORS
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Math functions that get polynomial approximations on vectors (libm has no
/// vector entry points; math-to-libm would unroll them to scalar calls).
bool isApproximated(StringRef name) {
  static constexpr StringLiteral approximated[] = {
      "tanh", "exp", "expm1", "log", "log1p", "log2", "erf"};
  name.consume_front("math.");
  return llvm::is_contained(approximated, name);
}

LogicalResult approximateVectorMath(Operation *root) {
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "math" &&
        op->getNumResults() == 1 && isa<VectorType>(op->getResult(0).getType()) &&
        isApproximated(op->getName().getStringRef()))
      ops.push_back(op);
  });
  if (ops.empty())
    return success();
  RewritePatternSet patterns(root->getContext());
  populateMathPolynomialApproximationPatterns(patterns, isApproximated);
  GreedyRewriteConfig config;
  config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
  return applyOpPatternsGreedily(ops, std::move(patterns), config);
}

struct CpuLowerVectorsPass : impl::CpuLowerVectorsBase<CpuLowerVectorsPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    Operation *root = getOperation();
    int64_t bits = vectorBits > 0 ? vectorBits : hostVectorBits();

    // Transfers through subviews are rewritten onto the base buffer, then
    // loop-invariant ones leave their loops (hoisting does not see through
    // subviews).
    {
      SmallVector<Operation *> transfers;
      root->walk([&](VectorTransferOpInterface transfer) {
        if (transfer.getBase().getDefiningOp<memref::SubViewOp>())
          transfers.push_back(transfer);
      });
      RewritePatternSet patterns(context);
      memref::populateFoldMemRefAliasOpPatterns(patterns);
      GreedyRewriteConfig config;
      config.setStrictness(GreedyRewriteStrictness::ExistingOps);
      if (failed(applyOpPatternsGreedily(transfers, std::move(patterns),
                                         config)))
        return signalPassFailure();
    }
    root->walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
    linalg::hoistRedundantVectorTransfers(root, /*verifyNonZeroTrip=*/true);

    // Contractions as outer products (then FMAs), multi-reductions as
    // reductions, n-D vector ops unrolled towards 1-D. (Casting away leading
    // unit dimensions here loops with these patterns until memory runs out.)
    {
      RewritePatternSet patterns(context);
      vector::populateVectorContractLoweringPatterns(
          patterns, vector::VectorContractLowering::OuterProduct);
      vector::populateVectorOuterProductLoweringPatterns(patterns);
      vector::populateVectorMultiReductionLoweringPatterns(
          patterns, vector::VectorMultiReductionLowering::InnerReduction);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      vector::populateVectorTransposeLoweringPatterns(
          patterns, bits >= 512 ? vector::VectorTransposeLowering::Shuffle16x16
                                : vector::VectorTransposeLowering::Shuffle1D);
      vector::populateVectorBroadcastLoweringPatterns(patterns);
      vector::populateVectorShapeCastLoweringPatterns(patterns);
      vector::populateVectorMaskOpLoweringPatterns(patterns);
      vector::populateVectorStepLoweringPatterns(patterns);
      vector::populateVectorGatherLoweringPatterns(patterns);
      vector::populateVectorTransferLoweringPatterns(patterns,
                                                     /*maxTransferRank=*/1);
      vector::populateVectorInsertExtractStridedSliceTransforms(patterns);
      vector::TransferReadOp::getCanonicalizationPatterns(patterns, context);
      vector::TransferWriteOp::getCanonicalizationPatterns(patterns, context);
      if (failed(applyPatternsGreedily(root, std::move(patterns))))
        return signalPassFailure();
    }
    if (failed(approximateVectorMath(root)))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
