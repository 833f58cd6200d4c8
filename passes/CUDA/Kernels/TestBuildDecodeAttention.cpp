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
    OpBuilder b(module.getContext());
    if (failed(cuda::buildDecodeAttentionKernel(
            b, cuda::getOrCreateKernelModule(module), kernelName, spec,
            module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
