//===- KernelsToPtx.cpp - the mb-cuda-kernels-to-ptx pipeline -------------===//
//
// The device half of upstream's gpu-lower-to-nvvm-pipeline (LLVM 22), with
// bare-pointer kernel arguments, mb-cuda-merge-wgmma-groups after the
// conversion of nvgpu, mb-cuda-extern-dynamic-shared and
// mb-cuda-grid-constant-params after the conversion to NVVM, ending in PTX
// text (gpu-module-to-binary, isa).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/OptimizeForNVVM.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace mbc {

void buildCudaKernelsToPtxPipeline(OpPassManager &pm,
                                   const CudaKernelsToPtxOptions &options) {
  pm.addNestedPass<gpu::GPUModuleOp>(createCudaExpandMath());
  pm.addPass(createConvertNVGPUToNVVMPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createCudaMergeWgmmaGroups());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  OpPassManager &gpuModule = pm.nest<gpu::GPUModuleOp>();
  gpuModule.addPass(createStripDebugInfoPass());
  ConvertGpuOpsToNVVMOpsOptions toNvvm;
  toNvvm.useBarePtrCallConv = true;
  gpuModule.addPass(createConvertGpuOpsToNVVMOps(toNvvm));
  gpuModule.addPass(createCudaExternDynamicShared());
  gpuModule.addNestedPass<LLVM::LLVMFuncOp>(createCudaGridConstantParams());
  gpuModule.addPass(LLVM::createNVVMOptimizeForTargetPass());
  gpuModule.addPass(createCanonicalizerPass());
  gpuModule.addPass(createCSEPass());
  gpuModule.addPass(createReconcileUnrealizedCastsPass());

  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

} // namespace mbc
