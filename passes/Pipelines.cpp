//===- Pipelines.cpp - mbc's named pass pipelines -------------------------===//
//
// mbc-cpu-pipeline: mb -> linalg on tensors -> buffers -> loops -> LLVM
// dialect with the entry-point ABI of docs/artifact.md. mbc runs it; mbc-opt
// exposes it for tests (`mbc-opt --mbc-cpu-pipeline`).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace mbc {

void buildCpuTensorPipeline(OpPassManager &pm) {
  pm.addPass(createWeightsToArguments());
  pm.addPass(createConvertMBToLinalg());
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildCpuLoweringPipeline(OpPassManager &pm) {
  pm.addPass(createWriteBackUpdates());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Results become runtime-owned out-params; allocations that only feed a
  // result are replaced by the out-param itself.
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createMemRefCopyToLinalg());
  pm.addPass(createConvertLinalgToLoopsPass());
  // Strided-metadata expansion creates affine.apply for dynamic offsets
  // (decode positions), so affine is lowered after it.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  ConvertFuncToLLVMPassOptions funcToLLVM;
  // Static shapes: each buffer crosses the ABI as one pointer.
  funcToLLVM.useBarePtrCallConv = true;
  pm.addPass(createConvertFuncToLLVMPass(funcToLLVM));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createEntryWrappers());
  pm.addPass(createCanonicalizerPass());
}

void buildCpuPipeline(OpPassManager &pm) {
  buildCpuTensorPipeline(pm);
  buildCpuLoweringPipeline(pm);
}

void registerPipelines() {
  PassPipelineRegistration<>(
      "mbc-cpu-pipeline",
      "lower an mb module to the LLVM dialect for the host CPU, with the "
      "entry-point ABI of docs/artifact.md",
      buildCpuPipeline);
  PassPipelineRegistration<>(
      "mbc-cpu-tensor-pipeline",
      "first half of mbc-cpu-pipeline: entry-point ABI and mb -> linalg on "
      "tensors",
      buildCpuTensorPipeline);
}

} // namespace mbc
