//===- TestBuildGemm.cpp - mb-cuda-test-build-gemm ------------------------===//
#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDGEMM
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildGemmPass
    : public impl::CudaTestBuildGemmBase<CudaTestBuildGemmPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] {
      return module.emitError("mb-cuda-test-build-gemm: ");
    };
    cuda::GemmSpec spec;
    spec.m = m;
    spec.n = n;
    spec.k = k;
    Builder builder(module.getContext());
    if (elementType == "bf16")
      spec.inputType = builder.getBF16Type();
    else if (elementType == "f16")
      spec.inputType = builder.getF16Type();
    else
      return fail(emitError() << "element-type = '" << elementType
                              << "' (expected bf16 or f16)");
    if (bLayout == "nk")
      spec.bLayout = cuda::BLayout::NK;
    else if (bLayout == "kn")
      spec.bLayout = cuda::BLayout::KN;
    else
      return fail(emitError()
                  << "b-layout = '" << bLayout << "' (expected nk or kn)");
    if (gelu == "none")
      spec.activation = cuda::Activation::None;
    else if (gelu == "erf")
      spec.activation = cuda::Activation::GeluErf;
    else if (gelu == "tanh")
      spec.activation = cuda::Activation::GeluTanh;
    else if (gelu == "relu")
      spec.activation = cuda::Activation::Relu;
    else
      return fail(emitError() << "gelu = '" << gelu
                              << "' (expected none, erf, tanh or relu)");
    spec.bias = bias;
    spec.biasType =
        cuda::parseFloatTypeOption(builder, "bias-type", biasType, emitError);
    if (!spec.biasType)
      return signalPassFailure();
    spec.residual = residual;
    if (mma == "wgmma")
      spec.config.mma = cuda::MmaKind::Wgmma;
    else if (mma == "mma_sync")
      spec.config.mma = cuda::MmaKind::MmaSync;
    else
      return fail(emitError()
                  << "mma = '" << mma << "' (expected wgmma or mma_sync)");
    spec.config.tileM = tileM;
    spec.config.tileN = tileN;
    spec.config.tileK = tileK;
    spec.config.stages = stages;
    spec.config.consumers = consumers;
    spec.config.persistentCtas = persistent;
    spec.pairedN = pairedN;
    spec.rotaryColumns = rotaryColumns;
    spec.rotaryHeadDim = rotaryHeadDim;
    spec.rotaryPositions = rotaryPositions > 0 ? rotaryPositions : m;
    spec.rotaryTheta = rotaryTheta;
    spec.logSoftmax = logSoftmax;
    if (mergePositions > 0) {
      spec.mergePositions = mergePositions;
      spec.mergeSequences = mergeSequences;
    }
    if (norm != "none") {
      FailureOr<cuda::NormSpec> normSpec =
          normOption(builder, "norm", norm, normPositions, k, normEpsilon,
                     normWeightType, emitError);
      if (failed(normSpec))
        return signalPassFailure();
      normSpec->tokenShift = normTokenShift;
      normSpec->outputType = spec.inputType;
      if (normGatherVocabulary > 0) {
        cuda::NormGatherSpec gather;
        gather.vocabulary = normGatherVocabulary;
        gather.slots = normGatherSlots;
        gather.tableType = cuda::parseFloatTypeOption(
            builder, "norm-gather-table-type", normGatherTableType, emitError);
        if (!gather.tableType)
          return signalPassFailure();
        normSpec->gather = gather;
      }
      spec.norm = *normSpec;
    }
    if (outNorm != "none") {
      FailureOr<cuda::NormSpec> normSpec =
          normOption(builder, "out-norm", outNorm, outNormPositions, n,
                     outNormEpsilon, outNormWeightType, emitError);
      if (failed(normSpec))
        return signalPassFailure();
      normSpec->outputType = builder.getF32Type();
      if (!outNormStartType.empty()) {
        normSpec->startType = cuda::parseFloatTypeOption(
            builder, "out-norm-start-type", outNormStartType, emitError);
        if (!normSpec->startType)
          return signalPassFailure();
      }
      spec.outputNorm = *normSpec;
    }

    OpBuilder b(module.getContext());
    gpu::GPUModuleOp kernels = cuda::getOrCreateKernelModule(module);
    if (failed(cuda::buildGemmKernel(b, kernels, kernelName, spec,
                                     module.getLoc())))
      return signalPassFailure();
  }

  void fail(InFlightDiagnostic diagnostic) { signalPassFailure(); }

  /// The norm of M rows of `dim` features that the `option` options name
  /// (norm or out-norm): `kind`, rows per sequence (0: M), epsilon and the
  /// weights' stored type (`option`-weight-type); failure after an error.
  FailureOr<cuda::NormSpec>
  normOption(Builder &builder, StringRef option, StringRef kind,
             int64_t positions, int64_t dim, double epsilon,
             StringRef weightType,
             function_ref<InFlightDiagnostic()> emitError) {
    std::optional<cuda::NormKind> parsed = cuda::parseNormKind(kind);
    if (!parsed) {
      emitError() << option << " = '" << kind
                  << "' (expected none, rms, rms_clamp or layer)";
      return failure();
    }
    cuda::NormSpec normSpec;
    normSpec.rows = m;
    normSpec.positions = positions > 0 ? positions : m;
    normSpec.dim = dim;
    normSpec.norm = *parsed;
    normSpec.epsilon = epsilon;
    std::string weightOption = (option + "-weight-type").str();
    normSpec.weightType =
        cuda::parseFloatTypeOption(builder, weightOption, weightType, emitError);
    if (!normSpec.weightType)
      return failure();
    return normSpec;
  }
};

} // namespace
} // namespace mbc
