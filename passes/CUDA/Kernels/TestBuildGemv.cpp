//===- TestBuildGemv.cpp - mb-cuda-test-build-gemv ------------------------===//
#include "passes/CUDA/Kernels/GemvKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDGEMV
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildGemvPass
    : public impl::CudaTestBuildGemvBase<CudaTestBuildGemvPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] {
      return module.emitError("mb-cuda-test-build-gemv: ");
    };
    Builder builder(module.getContext());
    cuda::GemvSpec spec;
    spec.m = m;
    spec.n = n;
    spec.k = k;
    spec.weightType = cuda::parseFloatTypeOption(builder, "element-type",
                                                 elementType, emitError);
    if (!spec.weightType)
      return signalPassFailure();
    std::optional<cuda::Activation> parsed = cuda::parseActivation(activation);
    if (!parsed) {
      emitError() << "activation = '" << activation
                  << "' (expected none, gelu, gelu_tanh or relu)";
      return signalPassFailure();
    }
    spec.activation = *parsed;
    spec.bias = bias;
    spec.biasType =
        cuda::parseFloatTypeOption(builder, "bias-type", biasType, emitError);
    if (!spec.biasType)
      return signalPassFailure();
    spec.residual = residual;
    if (norm != "none") {
      std::optional<cuda::NormKind> kind = cuda::parseNormKind(norm);
      if (!kind) {
        emitError() << "norm = '" << norm
                    << "' (expected none, rms, rms_clamp or layer)";
        return signalPassFailure();
      }
      spec.normPrologue = true;
      spec.normKind = *kind;
      spec.normEpsilon = normEpsilon;
      spec.normWeightType = cuda::parseFloatTypeOption(
          builder, "norm-weight-type", normWeightType, emitError);
      if (!spec.normWeightType)
        return signalPassFailure();
    }
    spec.warps = warps;
    spec.columnsPerWarp = columnsPerWarp;
    spec.pairedN = pairedN;
    spec.thirdN = thirdN;
    if (attentionHeads > 0) {
      spec.attentionPrologue = true;
      spec.attention.sequences = m;
      spec.attention.heads = attentionHeads;
      spec.attention.headDim = attentionHeadDim;
      spec.attention.cacheLength = attentionCacheLength;
      spec.attention.cacheRows =
          attentionCacheRows > 0 ? attentionCacheRows : int64_t(m);
      spec.attention.firstRow = attentionFirstRow;
    }
    OpBuilder b(module.getContext());
    gpu::GPUModuleOp kernels = cuda::getOrCreateKernelModule(module);
    if (failed(cuda::buildGemvKernel(b, kernels, kernelName, spec,
                                     module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
