//===- TestBuildLogSoftmax.cpp - mb-cuda-test-build-log-softmax -----------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/LogSoftmaxKernel.h"
#include "passes/CUDA/Kernels/Passes.h"

namespace mbc {
#define GEN_PASS_DEF_CUDATESTBUILDLOGSOFTMAX
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaTestBuildLogSoftmaxPass
    : public impl::CudaTestBuildLogSoftmaxBase<CudaTestBuildLogSoftmaxPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    cuda::LogSoftmaxSpec spec;
    spec.rows = rows;
    spec.columns = columns;
    OpBuilder b(module.getContext());
    if (failed(cuda::buildLogSoftmaxKernel(
            b, cuda::getOrCreateKernelModule(module), kernelName, spec,
            module.getLoc())))
      return signalPassFailure();
  }
};

} // namespace
} // namespace mbc
