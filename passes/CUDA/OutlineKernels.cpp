//===- OutlineKernels.cpp - gpu.launch -> gpu.func in @mbc_kernels --------===//
#include "passes/CUDA/Passes.h"

#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAOUTLINEKERNELS
#include "passes/CUDA/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

constexpr StringLiteral kKernelModuleName = "mbc_kernels";

struct CudaOutlineKernelsPass
    : impl::CudaOutlineKernelsBase<CudaOutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<func::FuncOp, SmallVector<gpu::LaunchOp>>> work;
    for (auto function : module.getOps<func::FuncOp>()) {
      SmallVector<gpu::LaunchOp> launches;
      function.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
      if (!launches.empty())
        work.push_back({function, std::move(launches)});
    }
    if (work.empty())
      return;

    OpBuilder builder(&getContext());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    builder.getUnitAttr());
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelModuleName);
    if (!kernels) {
      builder.setInsertionPointToEnd(module.getBody());
      kernels =
          gpu::GPUModuleOp::create(builder, module.getLoc(), kKernelModuleName);
    }
    SymbolTable kernelSymbols(kernels);
    SymbolTable moduleSymbols(module);

    for (auto &[function, launches] : work) {
      for (auto [index, launch] : llvm::enumerate(launches)) {
        std::string name =
            (function.getName() + "_dispatch_" + llvm::Twine(index)).str();
        if (kernelSymbols.lookup(name)) {
          launch.emitOpError("mb-cuda-outline-kernels: kernel '")
              << name << "' already exists in @" << kKernelModuleName;
          return signalPassFailure();
        }
        // Canonicalization hoists constants out of launches (they are not
        // isolated from above); they go back in rather than becoming
        // parameters a plan cannot express.
        (void)sinkOperationsIntoLaunchOp(launch, [](Operation *op) {
          return op->getNumRegions() == 0 &&
                 (isa<memref::GetGlobalOp>(op) || isMemoryEffectFree(op));
        });
        SmallVector<Value> operands;
        gpu::GPUFuncOp kernel = outlineKernelFunc(launch, name, operands);
        kernelSymbols.insert(kernel);
        // Globals (constant tables) the kernel reads move along with it.
        WalkResult copied = kernel.walk([&](memref::GetGlobalOp get) {
          if (kernelSymbols.lookup(get.getName()))
            return WalkResult::advance();
          auto global = moduleSymbols.lookup<memref::GlobalOp>(get.getName());
          if (!global) {
            get.emitOpError("mb-cuda-outline-kernels: no memref.global @")
                << get.getName();
            return WalkResult::interrupt();
          }
          kernelSymbols.insert(global->clone());
          return WalkResult::advance();
        });
        if (copied.wasInterrupted())
          return signalPassFailure();

        OpBuilder host(launch);
        gpu::LaunchFuncOp::create(
            host, launch.getLoc(), kernel, launch.getGridSizeOperandValues(),
            launch.getBlockSizeOperandValues(),
            launch.getDynamicSharedMemorySize(), operands);
        launch.erase();
      }
    }
    // Host globals only kernels read are dead now.
    for (auto global :
         llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (SymbolTable::symbolKnownUseEmpty(global, module))
        global.erase();
  }
};

} // namespace
} // namespace mbc
