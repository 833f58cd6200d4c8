//===- ExpandMath.cpp - mb-cuda-expand-math -------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAEXPANDMATH
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// The approximations are built from math.fma, which convert-gpu-to-nvvm
/// also sends to libdevice (__nv_fmaf); llvm.intr.fma is PTX's fma.rn.
struct FmaToLLVMIntrinsic : public OpRewritePattern<math::FmaOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::FmaOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<LLVM::FMAOp>(op, op.getA(), op.getB(),
                                             op.getC());
    return success();
  }
};

/// The tanh approximation uses math.absf, likewise sent to libdevice
/// (__nv_fabsf), and convert-gpu-to-nvvm rejects llvm.intr.fabs: clear the
/// sign bit instead.
struct AbsFToSignBitClear : public OpRewritePattern<math::AbsFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::AbsFOp op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    Type element = getElementTypeOrSelf(type);
    if (!element.isF32())
      return rewriter.notifyMatchFailure(op, "only f32 is expanded");
    Type bits = rewriter.getI32Type();
    if (auto vectorType = dyn_cast<VectorType>(type))
      bits = vectorType.clone(bits);
    Location loc = op.getLoc();
    Value asBits =
        arith::BitcastOp::create(rewriter, loc, bits, op.getOperand());
    Attribute maskAttr = rewriter.getI32IntegerAttr(0x7fffffff);
    if (auto vectorType = dyn_cast<VectorType>(bits))
      maskAttr = SplatElementsAttr::get(vectorType, maskAttr);
    Value mask =
        arith::ConstantOp::create(rewriter, loc, cast<TypedAttr>(maskAttr));
    Value cleared = arith::AndIOp::create(rewriter, loc, asBits, mask);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, type, cleared);
    return success();
  }
};

/// arith.maxnumf, which convert-gpu-to-nvvm also sends to libdevice
/// (__nv_fmaxf), as the LLVM intrinsic (PTX max.f32).
struct MaxNumToLLVMIntrinsic : public OpRewritePattern<arith::MaxNumFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::MaxNumFOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<LLVM::MaxNumOp>(op, op.getLhs(), op.getRhs());
    return success();
  }
};

/// Scalar f32 math.sqrt, which convert-gpu-to-nvvm also sends to libdevice
/// (__nv_sqrtf) and which it does not accept as llvm.intr.sqrt, as the
/// NVVM intrinsic llvm.nvvm.sqrt.rn.f (PTX sqrt.rn.f32, correctly rounded
/// like __nv_sqrtf).
struct SqrtToNVVMIntrinsic : public OpRewritePattern<math::SqrtOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::SqrtOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return rewriter.notifyMatchFailure(op, "only scalar f32 is expanded");
    rewriter.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, op.getType(), rewriter.getStringAttr("llvm.nvvm.sqrt.rn.f"),
        ValueRange{op.getOperand()});
    return success();
  }
};

/// Scalar f32 math.floor (from the sin/cos range reduction), which
/// convert-gpu-to-nvvm also sends to libdevice (__nv_floorf), as the NVVM
/// intrinsic llvm.nvvm.floor.f (PTX cvt.rmi.f32.f32).
struct FloorToNVVMIntrinsic : public OpRewritePattern<math::FloorOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::FloorOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return rewriter.notifyMatchFailure(op, "only scalar f32 is expanded");
    rewriter.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, op.getType(), rewriter.getStringAttr("llvm.nvvm.floor.f"),
        ValueRange{op.getOperand()});
    return success();
  }
};

struct CudaExpandMathPass
    : public impl::CudaExpandMathBase<CudaExpandMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populatePolynomialApproximateErfPattern(patterns);
    populatePolynomialApproximateTanhPattern(patterns);
    // The fused local layer's rotary angles.
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          return name == math::SinOp::getOperationName() ||
                 name == math::CosOp::getOperationName();
        });
    patterns.add<FmaToLLVMIntrinsic, AbsFToSignBitClear, MaxNumToLLVMIntrinsic,
                 SqrtToNVVMIntrinsic, FloorToNVVMIntrinsic>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation()->walk([](Operation *op) {
      return isa<math::ErfOp, math::TanhOp, math::FmaOp, math::AbsFOp>(op)
                 ? WalkResult::interrupt()
                 : WalkResult::advance();
    });
    if (left.wasInterrupted()) {
      getOperation()->emitError()
          << "mb-cuda-expand-math: a math.erf, math.tanh, math.fma or "
             "math.absf "
             "on a type "
             "without a polynomial approximation (f32 and vectors of f32) "
             "remains";
      return signalPassFailure();
    }
  }
};

} // namespace
} // namespace mbc
