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
    for (func::FuncOp function : touched)
      if (SymbolTable::symbolKnownUseEmpty(function, module))
        function.erase();
  }

  /// The GEMV calls reading `value` as their A operand through reshapes
  /// (collected with the reshapes), or failure when anything else reads it.
  static LogicalResult gemvReaders(Value value, SymbolTable &symbols,
                                   SmallVectorImpl<func::CallOp> &gemvs,
                                   SmallVectorImpl<Operation *> &reshapes) {
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user)) {
        reshapes.push_back(user);
        if (failed(gemvReaders(user->getResult(0), symbols, gemvs, reshapes)))
          return failure();
        continue;
      }
      auto call = dyn_cast<func::CallOp>(user);
      auto callee = call ? symbols.lookup<func::FuncOp>(call.getCallee())
                         : func::FuncOp();
      if (!callee || !callee->hasAttr(cuda::kSelectedGemvAttrName) ||
          use.getOperandNumber() != 0)
        return failure();
      gemvs.push_back(call);
    }
    return success();
  }

  bool fuse(func::CallOp normCall, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    auto normFunction = symbols.lookup<func::FuncOp>(normCall.getCallee());
    auto quiet = [&] { return normCall.emitOpError(); };
    FailureOr<cuda::NormSpec> norm = [&]() -> FailureOr<cuda::NormSpec> {
      ScopedDiagnosticHandler silence(&getContext(),
                                      [](Diagnostic &) { return success(); });
      return cuda::normSpecFromAttribute(
          normFunction->getAttrOfType<DictionaryAttr>(
              cuda::kSelectedNormAttrName),
          quiet);
    }();
    if (failed(norm) || norm->rows > cuda::kMaxGemvRows ||
        !norm->outputType.isF32() || norm->tokenShift ||
        normCall.getNumResults() != 1 ||
        // x, weight (and a LayerNorm's bias).
        normCall.getNumOperands() !=
            (norm->norm == cuda::NormKind::Layer ? 3u : 2u))
      return false;
    SmallVector<func::CallOp> gemvCalls;
    SmallVector<Operation *> reshapes;
    if (failed(
            gemvReaders(normCall.getResult(0), symbols, gemvCalls, reshapes)) ||
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
