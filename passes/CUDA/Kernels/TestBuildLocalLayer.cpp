//===- TestBuildLocalLayer.cpp - mb-cuda-test-build-local-layer -----------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/LocalLayerKernel.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDLOCALLAYER
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildLocalLayerPass
    : public impl::CudaTestBuildLocalLayerBase<CudaTestBuildLocalLayerPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] {
      return module.emitError("mb-cuda-test-build-local-layer: ");
    };
    Builder builder(module.getContext());
    cuda::LocalLayerSpec spec;
    spec.sequences = sequences;
    spec.positions = positions;
    spec.dim = dim;
    spec.heads = heads;
    spec.headDim = headDim;
    spec.hidden = hidden;
    spec.weightType = cuda::parseFloatTypeName(builder, elementType);
    if (!spec.weightType || spec.weightType.isF32()) {
      emitError() << "element-type = '" << elementType
                  << "' (expected bf16 or f16)";
      return signalPassFailure();
    }
    std::optional<cuda::NormKind> parsedNorm = cuda::parseNormKind(norm);
    if (!parsedNorm) {
      emitError() << "norm = '" << norm
                  << "' (expected rms, rms_clamp or layer)";
      return signalPassFailure();
    }
    spec.norm = *parsedNorm;
    std::optional<cuda::Activation> parsed = cuda::parseActivation(activation);
    if (!parsed) {
      emitError() << "activation = '" << activation
                  << "' (expected none, gelu, gelu_tanh or relu)";
      return signalPassFailure();
    }
    spec.activation = *parsed;
    spec.epsilon = epsilon;
    spec.tokenShift = tokenShift;
    spec.fusedKeyValue = fusedKeyValue;
    spec.scale = scale;
    spec.rotaryTheta = rotaryTheta;
    spec.vectorType = cuda::parseFloatTypeOption(builder, "vector-type",
                                                 vectorType, emitError);
    if (!spec.vectorType)
      return signalPassFailure();
    spec.stages = stages;
    spec.layers = layers;
    if (inputVocabulary > 0) {
      cuda::LocalInputSpec input;
      input.vocabulary = inputVocabulary;
      input.patchesPerSequence = inputPatches;
      input.tableType = cuda::parseFloatTypeOption(builder, "input-table-type",
                                                   inputTableType, emitError);
      input.startType = cuda::parseFloatTypeOption(builder, "input-start-type",
                                                   inputStartType, emitError);
      if (!input.tableType || !input.startType)
        return signalPassFailure();
      spec.input = input;
    }
    OpBuilder b(module.getContext());
    if (failed(cuda::buildLocalLayerKernel(
            b, cuda::getOrCreateKernelModule(module), kernelName, spec,
            module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
