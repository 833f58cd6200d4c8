//===- GridConstantParams.cpp - mb-cuda-grid-constant-params --------------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAGRIDCONSTANTPARAMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// sizeof(CUtensorMap) and its alignment (cuda.h: CU_TENSOR_MAP_NUM_QWORDS
/// = 16, alignas(64)).
constexpr int64_t kTensorMapBytes = 128;
constexpr int64_t kTensorMapAlignment = 64;

struct CudaGridConstantParamsPass
    : public impl::CudaGridConstantParamsBase<CudaGridConstantParamsPass> {
  void runOnOperation() override {
    LLVM::LLVMFuncOp func = getOperation();
    auto indices =
        func->getAttrOfType<DenseI64ArrayAttr>(cuda::kTensorMapParamsAttrName);
    if (!indices)
      return;
    MLIRContext *ctx = func.getContext();
    Builder b(ctx);
    auto byvalType =
        LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), kTensorMapBytes);
    for (int64_t index : indices.asArrayRef()) {
      if (index < 0 || index >= func.getNumArguments() ||
          !isa<LLVM::LLVMPointerType>(func.getArgument(index).getType())) {
        func.emitError() << cuda::kTensorMapParamsAttrName << ": argument #"
                         << index << " is not a pointer argument of @"
                         << func.getSymName();
        return signalPassFailure();
      }
      func.setArgAttr(index, LLVM::LLVMDialect::getByValAttrName(),
                      TypeAttr::get(byvalType));
      func.setArgAttr(index, LLVM::LLVMDialect::getAlignAttrName(),
                      b.getI64IntegerAttr(kTensorMapAlignment));
      func.setArgAttr(index, NVVM::NVVMDialect::getGridConstantAttrName(),
                      b.getUnitAttr());
    }
    func->removeAttr(cuda::kTensorMapParamsAttrName);
  }
};

} // namespace
} // namespace mbc
