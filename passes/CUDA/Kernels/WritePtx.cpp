//===- WritePtx.cpp - mb-cuda-write-ptx -----------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAWRITEPTX
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaWritePtxPass : public impl::CudaWritePtxBase<CudaWritePtxPass> {
  using Base::Base;

  void runOnOperation() override {
    std::string text;
    WalkResult result = getOperation().walk([&](gpu::BinaryOp binary) {
      for (Attribute attr : binary.getObjects()) {
        auto object = dyn_cast<gpu::ObjectAttr>(attr);
        if (!object || object.getFormat() != gpu::CompilationTarget::Assembly) {
          binary.emitError()
              << "mb-cuda-write-ptx: an object of @" << binary.getSymName()
              << " is not PTX text (run gpu-module-to-binary "
                 "with format=isa)";
          return WalkResult::interrupt();
        }
        text += object.getObject().getValue();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    if (text.empty()) {
      getOperation().emitError()
          << "mb-cuda-write-ptx: no gpu.binary with PTX in the module";
      return signalPassFailure();
    }
    std::string message;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(output, &message);
    if (!file) {
      getOperation().emitError()
          << "mb-cuda-write-ptx: cannot write '" << output << "': " << message;
      return signalPassFailure();
    }
    file->os() << text;
    file->keep();
  }
};

} // namespace
} // namespace mbc
