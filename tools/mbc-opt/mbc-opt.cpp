//===- mbc-opt.cpp - mlir-opt for mbc's dialects and passes ---------------===//
#include "dialects/MB/MBDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  // The upstream dialects and passes mbc's pipelines use, plus mb.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // mbc-cuda-pipeline serializes gpu modules: LLVM IR translation and the
  // NVVM target.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  mlir::registerAllPasses();
  registry.insert<mbc::mb::MBDialect>();
  mbc::registerPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "mbc optimizer driver\n", registry));
}
