//===- TestBuildAttention.cpp - mb-cuda-test-build-attention --------------===//
#include "passes/CUDA/Kernels/AttentionKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDATTENTION
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildAttentionPass
    : public impl::CudaTestBuildAttentionBase<CudaTestBuildAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder builder(module.getContext());
    cuda::AttentionSpec spec;
    spec.batchHeads = batchHeads;
    spec.seqLen = seqLen;
    spec.headDim = headDim;
    if (elementType == "bf16") {
      spec.inputType = builder.getBF16Type();
    } else if (elementType == "f16") {
      spec.inputType = builder.getF16Type();
    } else {
      module.emitError() << "mb-cuda-test-build-attention: element-type = '"
                         << elementType << "' (expected bf16 or f16)";
      return signalPassFailure();
    }
    spec.causal = causal;
    spec.scale = scale;
    spec.keyBlock = keyBlock;
    spec.patchLength = patchLength;
    spec.rowTiles = rowTiles;
    spec.reloadQuery = reloadQuery;
    spec.heads = heads;
    int64_t inner = heads * headDim;
    spec.qRowElements = qRow ? qRow : inner;
    spec.kRowElements = kRow ? kRow : inner;
    spec.vRowElements = vRow ? vRow : inner;
    spec.kColumn = kColumn;
    spec.vColumn = vColumn;
    if (outputType == elementType) {
      spec.outputType = spec.inputType;
    } else if (outputType != "f32") {
      module.emitError() << "mb-cuda-test-build-attention: output-type = '"
                         << outputType << "' (expected f32 or "
                         << elementType << ")";
      return signalPassFailure();
    }
    if (mma == "wgmma") {
      spec.mma = cuda::MmaKind::Wgmma;
    } else if (mma != "mma_sync") {
      module.emitError() << "mb-cuda-test-build-attention: mma = '" << mma
                         << "' (expected mma_sync or wgmma)";
      return signalPassFailure();
    }
    spec.pingpong = pingpong;
    OpBuilder b(module.getContext());
    if (failed(cuda::buildAttentionKernel(b,
                                          cuda::getOrCreateKernelModule(module),
                                          kernelName, spec, module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
