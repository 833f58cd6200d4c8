//===- FuseGemvNorms.cpp - mb-cuda-fuse-gemv-norms ------------------------===//
//
// A decode row's norm call (RMSNorm or LayerNorm) whose only readers are
// GEMV calls becomes those GEMVs' prologue (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFUSEGEMVNORMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaFuseGemvNormsPass
    : public impl::CudaFuseGemvNormsBase<CudaFuseGemvNormsPass> {
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
    if (failed(norm) || norm->rows > cuda::kMaxGemvRows ||
        !norm->outputType.isF32() || norm->tokenShift ||
        normCall.getNumResults() != 1 ||
        // x, weight (and a LayerNorm's bias).
        normCall.getNumOperands() !=
            (norm->norm == cuda::NormKind::Layer ? 3u : 2u))
      return false;
    SmallVector<func::CallOp> gemvCalls;
    SmallVector<Operation *> reshapes;
    if (failed(cuda::selectedReaders(normCall.getResult(0), symbols,
                                     cuda::kSelectedGemvAttrName, gemvCalls,
                                     reshapes)) ||
        gemvCalls.empty())
      return false;
    // Every reader must take the prologue, or the norm stays for all.
    SmallVector<cuda::GemvSpec> specs;
    for (func::CallOp call : gemvCalls) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      FailureOr<cuda::GemvSpec> spec = cuda::gemvSpecFromAttribute(
          callee->getAttrOfType<DictionaryAttr>(cuda::kSelectedGemvAttrName),
          [&] { return call.emitOpError(); });
      if (failed(spec))
        return false;
      if (spec->normPrologue || spec->m != norm->rows || spec->k != norm->dim)
        return false;
      spec->normPrologue = true;
      spec->normKind = norm->norm;
      spec->normEpsilon = norm->epsilon;
      spec->normWeightType = norm->weightType;
      if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
            return cuda::verifyGemvSpec(*spec, emitError);
          }))
        return false;
      specs.push_back(*spec);
    }
    Value x = normCall.getOperand(0);
    for (auto [call, spec] : llvm::zip(gemvCalls, specs)) {
      OpBuilder b(call);
      SmallVector<Value> operands = {x};
      llvm::append_range(operands, call.getOperands().drop_front());
      llvm::append_range(operands, normCall.getOperands().drop_front());
      touched.insert(symbols.lookup<func::FuncOp>(call.getCallee()));
      func::CallOp fused = cuda::callSelectedGemv(
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
