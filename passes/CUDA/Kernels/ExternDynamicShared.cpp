//===- ExternDynamicShared.cpp - mb-cuda-extern-dynamic-shared ------------===//
#include "passes/CUDA/Kernels/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAEXTERNDYNAMICSHARED
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// The global convert-gpu-to-nvvm makes for gpu.dynamic_shared_memory: a
/// zero-length array in shared memory with no value.
bool isDynamicSharedBase(LLVM::GlobalOp global) {
  auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
  return global.getAddrSpace() ==
             static_cast<unsigned>(NVVM::NVVMMemorySpace::Shared) &&
         array && array.getNumElements() == 0 && !global.getValueOrNull() &&
         global.getInitializerRegion().empty();
}

struct CudaExternDynamicSharedPass
    : public impl::CudaExternDynamicSharedBase<CudaExternDynamicSharedPass> {
  void runOnOperation() override {
    for (auto global : getOperation().getOps<LLVM::GlobalOp>())
      if (isDynamicSharedBase(global)) {
        global.setLinkage(LLVM::Linkage::External);
        global.setDsoLocal(false);
      }
  }
};

} // namespace
} // namespace mbc
