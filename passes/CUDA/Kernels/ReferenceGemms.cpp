//===- ReferenceGemms.cpp - mb-cuda-reference-gemms -----------------------===//
//
// Bodies for the @mbc_gemm_<n> declarations of mb-cuda-select-gemms, so the
// CPU can run a model with the CUDA pipeline's GEMM selection (see
// Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

#include <cmath>

namespace mbc {
#define GEN_PASS_DEF_CUDAREFERENCEGEMMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

Value constantF32(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// GELU of `x` as the kernels' epilogue computes it (exact erf form, or the
/// tanh approximation).
Value gelu(OpBuilder &b, Location loc, Value x, cuda::Activation kind) {
  Value half = constantF32(b, loc, 0.5);
  Value one = constantF32(b, loc, 1.0);
  Value inner;
  if (kind == cuda::Activation::GeluErf) {
    Value scaled =
        arith::MulFOp::create(b, loc, x, constantF32(b, loc, M_SQRT1_2));
    inner = math::ErfOp::create(b, loc, scaled);
  } else {
    Value cube = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, x), x);
    Value sum = arith::AddFOp::create(
        b, loc, x,
        arith::MulFOp::create(b, loc, cube, constantF32(b, loc, 0.044715)));
    inner = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, sum,
                              constantF32(b, loc, std::sqrt(2.0 / M_PI))));
  }
  Value halfX = arith::MulFOp::create(b, loc, x, half);
  return arith::MulFOp::create(b, loc, halfX,
                               arith::AddFOp::create(b, loc, inner, one));
}

struct CudaReferenceGemmsPass
    : public impl::CudaReferenceGemmsBase<CudaReferenceGemmsPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>()) {
      auto attr =
          function->getAttrOfType<DictionaryAttr>(cuda::kSelectedGemmAttrName);
      if (!attr || !function.isExternal())
        continue;
      FailureOr<cuda::GemmSpec> spec = cuda::gemmSpecFromAttribute(
          attr, [&] { return function.emitOpError(); });
      if (failed(spec))
        return signalPassFailure();
      define(function, *spec);
    }
  }

  void define(func::FuncOp function, const cuda::GemmSpec &spec) {
    MLIRContext *ctx = function.getContext();
    OpBuilder b(ctx);
    Location loc = function.getLoc();
    Block *body = function.addEntryBlock();
    b.setInsertionPointToStart(body);
    Value a = body->getArgument(0);
    Value w = body->getArgument(1);
    unsigned next = 2;
    Value bias = spec.bias ? body->getArgument(next++) : Value();
    Value residual = spec.residual ? body->getArgument(next++) : Value();
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      function.removeArgAttr(
          i, bufferization::BufferizationDialect::kBufferAccessAttrName);

    Type f32 = b.getF32Type();
    auto resultType = RankedTensorType::get({spec.m, spec.n}, f32);
    Value empty = tensor::EmptyOp::create(b, loc, resultType.getShape(), f32);
    Value zero = linalg::FillOp::create(b, loc, constantF32(b, loc, 0.0), empty)
                     .getResult(0);
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    auto map = [&](ArrayRef<AffineExpr> exprs, unsigned dims) {
      return AffineMap::get(dims, 0, exprs, ctx);
    };
    Value product =
        linalg::GenericOp::create(
            b, loc, resultType, ValueRange{a, w}, ValueRange{zero},
            ArrayRef<AffineMap>{map({m, k}, 3), map({n, k}, 3),
                                map({m, n}, 3)},
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                          utils::IteratorType::parallel,
                                          utils::IteratorType::reduction},
            [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
              Value x = arith::ExtFOp::create(nested, nestedLoc, f32, args[0]);
              Value y = arith::ExtFOp::create(nested, nestedLoc, f32, args[1]);
              Value sum = arith::AddFOp::create(
                  nested, nestedLoc, args[2],
                  arith::MulFOp::create(nested, nestedLoc, x, y));
              linalg::YieldOp::create(nested, nestedLoc, sum);
            })
            .getResult(0);

    SmallVector<Value> inputs = {product};
    SmallVector<AffineMap> maps = {map({m, n}, 2)};
    AffineExpr row, column;
    bindDims(ctx, row, column);
    maps[0] = map({row, column}, 2);
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(map({column}, 2));
    }
    if (residual) {
      inputs.push_back(residual);
      maps.push_back(map({row, column}, 2));
    }
    maps.push_back(map({row, column}, 2));
    Value result =
        linalg::GenericOp::create(
            b, loc, resultType, inputs, ValueRange{empty}, maps,
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                          utils::IteratorType::parallel},
            [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
              Value value = args[0];
              unsigned index = 1;
              if (bias)
                value = arith::AddFOp::create(nested, nestedLoc, value,
                                              args[index++]);
              if (spec.activation == cuda::Activation::Relu)
                value = arith::MaximumFOp::create(
                    nested, nestedLoc, value,
                    constantF32(nested, nestedLoc, 0.0));
              else if (spec.activation != cuda::Activation::None)
                value = gelu(nested, nestedLoc, value, spec.activation);
              if (residual)
                value = arith::AddFOp::create(nested, nestedLoc, value,
                                              args[index++]);
              linalg::YieldOp::create(nested, nestedLoc, value);
            })
            .getResult(0);
    func::ReturnOp::create(b, loc, result);
    function->removeAttr(cuda::kSelectedGemmAttrName);
  }
};

} // namespace
} // namespace mbc
