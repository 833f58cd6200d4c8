//===- FuseGemvAttention.cpp - mb-cuda-fuse-gemv-attention ----------------===//
//
// A decode attention over a short cache whose only reader is a GEMV becomes
// that GEMV's prologue (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFUSEGEMVATTENTION
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaFuseGemvAttentionPass
    : public impl::CudaFuseGemvAttentionBase<CudaFuseGemvAttentionPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::SetVector<func::FuncOp> touched;
    for (func::CallOp attentionCall : cuda::callsOfSelectedKernels(
             module, symbols, cuda::kSelectedDecodeAttentionAttrName))
      if (fuse(attentionCall, symbols, touched))
        touched.insert(symbols.lookup<func::FuncOp>(attentionCall.getCallee()));
    cuda::eraseUncalled(touched.getArrayRef(), module);
  }

  /// The one GEMV call reading `value` as its A operand, through reshapes
  /// with no other users (collected), or null.
  static func::CallOp onlyGemvReader(Value value, SymbolTable &symbols,
                                     SmallVectorImpl<Operation *> &reshapes) {
    if (!value.hasOneUse())
      return {};
    OpOperand &use = *value.getUses().begin();
    Operation *user = use.getOwner();
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user)) {
      reshapes.push_back(user);
      return onlyGemvReader(user->getResult(0), symbols, reshapes);
    }
    auto call = dyn_cast<func::CallOp>(user);
    auto callee =
        call ? symbols.lookup<func::FuncOp>(call.getCallee()) : func::FuncOp();
    if (!callee || !callee->hasAttr(cuda::kSelectedGemvAttrName) ||
        use.getOperandNumber() != 0)
      return {};
    return call;
  }

  bool fuse(func::CallOp attentionCall, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    auto attentionFunction =
        symbols.lookup<func::FuncOp>(attentionCall.getCallee());
    FailureOr<cuda::DecodeAttentionSpec> attention =
        [&]() -> FailureOr<cuda::DecodeAttentionSpec> {
      ScopedDiagnosticHandler silence(&getContext(),
                                      [](Diagnostic &) { return success(); });
      return cuda::decodeAttentionSpecFromAttribute(
          attentionFunction->getAttrOfType<DictionaryAttr>(
              cuda::kSelectedDecodeAttentionAttrName),
          [&] { return attentionCall.emitOpError(); });
    }();
    // q, the caches, the position.
    if (failed(attention) || attentionCall.getNumResults() != 1 ||
        attentionCall.getNumOperands() != 4)
      return false;
    SmallVector<Operation *> reshapes;
    func::CallOp gemvCall =
        onlyGemvReader(attentionCall.getResult(0), symbols, reshapes);
    if (!gemvCall)
      return false;
    auto gemvFunction = symbols.lookup<func::FuncOp>(gemvCall.getCallee());
    FailureOr<cuda::GemvSpec> spec =
        cuda::gemvSpecFromAttribute(gemvFunction->getAttrOfType<DictionaryAttr>(
                                        cuda::kSelectedGemvAttrName),
                                    [&] { return gemvCall.emitOpError(); });
    if (failed(spec) || spec->normPrologue || spec->attentionPrologue ||
        spec->pairedN > 0)
      return false;
    spec->attentionPrologue = true;
    spec->attention = *attention;
    if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
          return cuda::verifyGemvSpec(*spec, emitError);
        }))
      return false;
    // The fused call takes the GEMV's place: the attention's operands
    // dominate it.
    OpBuilder b(gemvCall);
    SmallVector<Value> operands = {attentionCall.getOperand(0)};
    llvm::append_range(operands, gemvCall.getOperands().drop_front());
    llvm::append_range(operands, attentionCall.getOperands().drop_front());
    touched.insert(gemvFunction);
    func::CallOp fused = cuda::callSelectedGemv(
        b, gemvCall.getLoc(), getOperation(), *spec, operands);
    gemvCall.replaceAllUsesWith(fused.getResults());
    gemvCall.erase();
    for (Operation *reshape : llvm::reverse(reshapes))
      reshape->erase();
    attentionCall.erase();
    return true;
  }
};

} // namespace
} // namespace mbc
