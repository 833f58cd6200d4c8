//===- TestBuildNorm.cpp - mb-cuda-test-build-norm ------------------------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/NormKernel.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDNORM
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildNormPass
    : public impl::CudaTestBuildNormBase<CudaTestBuildNormPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] {
      return module.emitError("mb-cuda-test-build-norm: ");
    };
    Builder builder(module.getContext());
    cuda::NormSpec spec;
    spec.rows = rows;
    spec.positions = positions;
    spec.dim = dim;
    spec.epsilon = epsilon;
    spec.tokenShift = tokenShift;
    spec.weightType = cuda::parseFloatTypeOption(builder, "weight-type",
                                                 weightType, emitError);
    if (!spec.weightType)
      return signalPassFailure();
    if (!startType.empty()) {
      spec.startType = cuda::parseFloatTypeOption(builder, "start-type",
                                                  startType, emitError);
      if (!spec.startType)
        return signalPassFailure();
    }
    spec.outputType = cuda::parseFloatTypeName(builder, elementType);
    if (!spec.outputType) {
      emitError() << "element-type = '" << elementType
                  << "' (expected bf16, f16 or f32)";
      return signalPassFailure();
    }
    std::optional<cuda::NormKind> parsed = cuda::parseNormKind(norm);
    if (!parsed) {
      emitError() << "norm = '" << norm
                  << "' (expected rms, rms_clamp or layer)";
      return signalPassFailure();
    }
    spec.norm = *parsed;
    OpBuilder b(module.getContext());
    if (failed(cuda::buildNormKernel(b, cuda::getOrCreateKernelModule(module),
                                     kernelName, spec, module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
