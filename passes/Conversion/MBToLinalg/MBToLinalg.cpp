//===- MBToLinalg.cpp - the convert-mb-to-linalg pass ---------------------===//
//
// Assembles the op-family pattern sets (Patterns.h) with upstream's
// element-wise-to-linalg patterns and runs them as a partial conversion:
// every mb op but mb.param, and every element-wise op on tensors, must go.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "passes/Conversion/MBToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mbc {
#define GEN_PASS_DEF_CONVERTMBTOLINALG
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// An element-wise op (arith.addf, math.exp, ...) applied to whole tensors.
bool isElementwiseOnTensors(Operation *op) {
  return OpTrait::hasElementwiseMappableTraits(op) &&
         llvm::any_of(op->getOperandTypes(), llvm::IsaPred<RankedTensorType>);
}

struct ConvertMBToLinalgPass
    : impl::ConvertMBToLinalgBase<ConvertMBToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    mb_to_linalg::populateSequenceLayoutPatterns(patterns);
    mb_to_linalg::populateLayerPatterns(patterns);
    mb_to_linalg::populateAttentionPatterns(patterns, attentionBlock,
                                            decodeGemvs);
    linalg::populateElementwiseToLinalgConversionPatterns(patterns);

    if (attentionBlock < 0) {
      getOperation().emitError("convert-mb-to-linalg: attention-block must "
                               "be >= 0, got ")
          << static_cast<int64_t>(attentionBlock);
      return signalPassFailure();
    }
    ConversionTarget target(*context);
    target.addIllegalDialect<mb::MBDialect>();
    target.addLegalOp<mb::ParamOp>();
    target.markUnknownOpDynamicallyLegal(
        [](Operation *op) { return !isElementwiseOnTensors(op); });
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace mbc
