//===- AttachTargets.cpp - #nvvm.target per CUDA architecture -------------===//
#include "passes/CUDA/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAATTACHTARGETS
#include "passes/CUDA/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {

bool isSupportedCudaArch(llvm::StringRef arch) {
  if (!arch.consume_front("sm_"))
    return false;
  arch.consume_back("a");
  unsigned version = 0;
  return !arch.getAsInteger(10, version) && version >= 80 && version < 1000;
}

namespace {

struct CudaAttachTargetsPass
    : impl::CudaAttachTargetsBase<CudaAttachTargetsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (archs.empty()) {
      module.emitError("mb-cuda-attach-targets: no architecture given "
                       "(archs=sm_90a,...)");
      return signalPassFailure();
    }
    SmallVector<Attribute> targets;
    for (const std::string &arch : archs) {
      if (!isSupportedCudaArch(arch)) {
        module.emitError("mb-cuda-attach-targets: unsupported CUDA "
                         "architecture '")
            << arch << "' (expected sm_<NN> or sm_<NN>a with NN >= 80, "
            << "e.g. sm_90a, sm_80)";
        return signalPassFailure();
      }
      // PTX ISA 8.0: the oldest that has sm_90a; LLVM aborts on sm_90a
      // with the default (older) ISA.
      targets.push_back(NVVM::NVVMTargetAttr::get(&getContext(), /*optLevel=*/3,
                                                  "nvptx64-nvidia-cuda", arch,
                                                  "+ptx80"));
    }
    ArrayAttr targetList = ArrayAttr::get(&getContext(), targets);
    module.walk(
        [&](gpu::GPUModuleOp kernels) { kernels.setTargetsAttr(targetList); });
  }
};

} // namespace
} // namespace mbc
