//===- LayersToLinalg.cpp - norms, projections, FFN and head --------------===//
//
// Norms reduce over the last dimension with linalg.generic reductions and
// normalise in one element-wise generic; projections are linalg.matmul ops
// that read PyTorch's [out, in] weights through a transposed indexing map.
// The arithmetic follows PyTorch's order (see MEGABYTE.md and the reference
// in test/reference), so f32 results agree to rounding.
//
//===----------------------------------------------------------------------===//
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"
#include "passes/Conversion/MBToLinalg/Patterns.h"

#include "dialects/MB/MBDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mbc::mb_to_linalg {
namespace {

/// (x - mean(x)) / sqrt(var(x) + eps) * weight + bias (createLayerNorm).
struct LayerNormLowering : OpConversionPattern<mb::LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, createLayerNorm(rewriter, op.getLoc(), adaptor.getInput(),
                            adaptor.getWeight(), adaptor.getBias(),
                            op.getEpsilon().convertToDouble()));
    return success();
  }
};

/// Plain: x * (1 / sqrt(mean(x^2) + eps)) * w. Clamp (MEGABYTE-pytorch):
/// x / max(||x||_2 * D^-1/2, eps) * w.
struct RMSNormLowering : OpConversionPattern<mb::RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, createRMSNorm(rewriter, op.getLoc(),
                                         adaptor.getInput(), adaptor.getWeight(),
                                         op.getEpsilon().convertToDouble(),
                                         op.getClamp()));
    return success();
  }
};

struct LinearLowering : OpConversionPattern<mb::LinearOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       createLinear(rewriter, op.getLoc(), adaptor.getInput(),
                                    adaptor.getWeight(), adaptor.getBias()));
    return success();
  }
};

/// The activation of one element, in PyTorch's formulation.
Value activate(OpBuilder &builder, Location loc, mb::Activation activation,
               Value x) {
  Type type = x.getType();
  auto constant = [&](double value) {
    return createFloatConstant(builder, loc, type, value);
  };
  switch (activation) {
  case mb::Activation::relu:
    return arith::MaximumFOp::create(builder, loc, x, constant(0.0));
  case mb::Activation::gelu: {
    // 0.5 * x * (1 + erf(x / sqrt(2))), exact.
    Value erf = math::ErfOp::create(
        builder, loc,
        arith::MulFOp::create(builder, loc, x, constant(M_SQRT1_2)));
    Value halfX = arith::MulFOp::create(builder, loc, x, constant(0.5));
    return arith::MulFOp::create(
        builder, loc, halfX,
        arith::AddFOp::create(builder, loc, erf, constant(1.0)));
  }
  case mb::Activation::gelu_tanh: {
    // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))).
    Value cube = arith::MulFOp::create(
        builder, loc, arith::MulFOp::create(builder, loc, x, x), x);
    Value inner = arith::AddFOp::create(
        builder, loc, x,
        arith::MulFOp::create(builder, loc, cube, constant(0.044715)));
    Value tanh = math::TanhOp::create(
        builder, loc,
        arith::MulFOp::create(builder, loc, inner,
                              constant(M_SQRT2 * M_2_SQRTPI * 0.5)));
    Value halfX = arith::MulFOp::create(builder, loc, x, constant(0.5));
    return arith::MulFOp::create(
        builder, loc, halfX,
        arith::AddFOp::create(builder, loc, tanh, constant(1.0)));
  }
  }
  llvm_unreachable("unknown activation");
}

struct FFNLowering : OpConversionPattern<mb::FFNOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::FFNOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    mb::Activation activation = op.getActivation();
    // Up, activation and down all work on [M, D] rows; one reshape each way.
    RankedTensorType inputType = tensorTypeOf(adaptor.getInput());
    int64_t features = inputType.getShape().back();
    Value rows = reshape(rewriter, loc, adaptor.getInput(),
                         {inputType.getNumElements() / features, features});
    Value hidden = createMatmulTransposedWeight(
        rewriter, loc, rows, adaptor.getUpWeight(), adaptor.getUpBias());
    Value activated = createElementwise(
        rewriter, loc, tensorTypeOf(hidden), hidden,
        identityMap(rewriter.getContext(), 2),
        [&](OpBuilder &builder, Location loc, ValueRange args) {
          return activate(builder, loc, activation, args[0]);
        });
    Value output = createMatmulTransposedWeight(rewriter, loc, activated,
                                                adaptor.getDownWeight(),
                                                adaptor.getDownBias());
    rewriter.replaceOp(op,
                       reshape(rewriter, loc, output, inputType.getShape()));
    return success();
  }
};

/// log_softmax(x W^T + b) over V, stable: z - max - log(sum(exp(z - max))).
struct HeadLowering : OpConversionPattern<mb::HeadOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(mb::HeadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value logits = createLinear(rewriter, loc, adaptor.getInput(),
                                adaptor.getWeight(), adaptor.getBias());
    rewriter.replaceOp(op, createLogSoftmax(rewriter, loc, logits));
    return success();
  }
};

} // namespace

void populateLayerPatterns(RewritePatternSet &patterns) {
  patterns.add<LayerNormLowering, RMSNormLowering, LinearLowering, FFNLowering,
               HeadLowering>(patterns.getContext());
}

} // namespace mbc::mb_to_linalg
