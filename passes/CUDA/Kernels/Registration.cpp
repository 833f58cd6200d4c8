//===- Registration.cpp - registers mbc's CUDA kernel passes --------------===//
#include "passes/CUDA/Kernels/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

namespace mbc {
namespace {
#define GEN_PASS_REGISTRATION
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace

void registerCudaKernelPasses() {
  registerMBCCudaKernelsPasses();
  mlir::PassPipelineRegistration<CudaKernelsToPtxOptions>(
      "mb-cuda-kernels-to-ptx",
      "lower gpu.module(s) of built kernels (gpu, nvgpu, nvvm, vector, scf, "
      "memref) to gpu.binary holding PTX from LLVM's NVPTX backend",
      buildCudaKernelsToPtxPipeline);
}

void registerCudaKernelTranslations(mlir::DialectRegistry &registry) {
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerGPUDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerNVVMDialectTranslation(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

} // namespace mbc
