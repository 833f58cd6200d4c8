//===- FuseGemmNorms.cpp - mb-cuda-fuse-gemm-norms ------------------------===//
//
// A norm kernel's call whose only readers are GEMM calls becomes those
// GEMMs' prologue (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFUSEGEMMNORMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaFuseGemmNormsPass
    : public impl::CudaFuseGemmNormsBase<CudaFuseGemmNormsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::SetVector<func::FuncOp> touched;
    for (func::CallOp normCall : cuda::callsOfSelectedKernels(
             module, symbols, cuda::kSelectedNormAttrName))
      if (fuse(normCall, symbols, touched))
        touched.insert(symbols.lookup<func::FuncOp>(normCall.getCallee()));
    // Declarations (or emulation bodies) nothing calls any more.
    cuda::eraseUncalled(touched.getArrayRef(), module);
  }

  bool fuse(func::CallOp normCall, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    FailureOr<cuda::NormSpec> norm = cuda::normSpecOfCall(normCall, symbols);
    if (failed(norm) || norm->outputType.isF32() ||
        normCall.getNumResults() != 1 ||
        // x, weight (and a LayerNorm's bias).
        normCall.getNumOperands() !=
            (norm->norm == cuda::NormKind::Layer ? 3u : 2u))
      return false;
    SmallVector<func::CallOp> gemmCalls;
    SmallVector<Operation *> reshapes;
    if (failed(cuda::selectedReaders(normCall.getResult(0), symbols,
                                     cuda::kSelectedGemmAttrName, gemmCalls,
                                     reshapes)) ||
        gemmCalls.empty())
      return false;
    // Every reader must take the prologue, or the norm stays for all.
    SmallVector<cuda::GemmSpec, 2> specs;
    for (func::CallOp call : gemmCalls) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      FailureOr<cuda::GemmSpec> spec = cuda::gemmSpecFromAttribute(
          callee->getAttrOfType<DictionaryAttr>(cuda::kSelectedGemmAttrName),
          [&] { return call.emitOpError(); });
      if (failed(spec))
        return false;
      if (spec->norm || spec->m != norm->rows || spec->k != norm->dim ||
          spec->inputType != norm->outputType)
        return false;
      spec->norm = *norm;
      // The resident A takes shared memory the A stages no longer do; B
      // keeps as many stages as still fit (at least 2).
      if (!cuda::fitGemmStages(&getContext(), *spec))
        return false;
      specs.push_back(*spec);
    }
    Value x = normCall.getOperand(0);
    for (auto [call, spec] : llvm::zip(gemmCalls, specs)) {
      OpBuilder b(call);
      // x, the GEMM's own operands (b, bias, residual), the norm's weight
      // and bias, then a paired GEMM's b2: callSelectedGemm's order.
      OperandRange own = call.getOperands().drop_front();
      unsigned paired = spec.pairedN > 0 ? 1 : 0;
      SmallVector<Value> operands = {x};
      llvm::append_range(operands, own.drop_back(paired));
      llvm::append_range(operands, normCall.getOperands().drop_front());
      llvm::append_range(operands, own.take_back(paired));
      touched.insert(symbols.lookup<func::FuncOp>(call.getCallee()));
      func::CallOp fused = cuda::callSelectedGemmOp(
          b, call.getLoc(), getOperation(), spec, operands);
      call.replaceAllUsesWith(fused.getResults());
      call.erase();
    }
    for (Operation *reshape : llvm::reverse(reshapes))
      if (reshape->use_empty())
        reshape->erase();
    normCall.erase();
    return true;
  }
};

} // namespace
} // namespace mbc
