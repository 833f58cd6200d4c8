//===- TestBuildDecodeAttention.cpp - mb-cuda-test-build-decode-attention -===//
#include "passes/CUDA/Kernels/DecodeAttentionKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDDECODEATTENTION
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildDecodeAttentionPass
    : public impl::CudaTestBuildDecodeAttentionBase<
          CudaTestBuildDecodeAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    cuda::DecodeAttentionSpec spec;
    spec.sequences = sequences;
    spec.heads = heads;
    spec.headDim = headDim;
    spec.cacheLength = cacheLength;
    spec.cacheRows = cacheRows ? cacheRows : sequences;
    spec.firstRow = firstRow;
    spec.scale = scale;
    spec.warps = warps;
    spec.splits = splits;
    spec.keysPerStep = keysPerStep;
    OpBuilder b(module.getContext());
    gpu::GPUModuleOp kernels = cuda::getOrCreateKernelModule(module);
    if (failed(cuda::buildDecodeAttentionKernel(b, kernels, kernelName, spec,
                                                module.getLoc())))
      return signalPassFailure();
    if (spec.splits > 1 &&
        failed(cuda::buildDecodeAttentionCombineKernel(
            b, kernels, kernelName + "_combine", spec, module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
