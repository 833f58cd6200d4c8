//===- PairGemvs.cpp - mb-cuda-pair-gemvs ---------------------------------===//
//
// Two GEMV calls reading the same rows become one paired GEMV call
// (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/IR/Dominance.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAPAIRGEMVS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// A GEMV call that can be one half of a pair, with its spec.
struct Candidate {
  func::CallOp call;
  cuda::GemvSpec spec;
};

/// Whether `a` and `b` differ only in N (and may share one launch).
bool pairable(const cuda::GemvSpec &a, const cuda::GemvSpec &b) {
  auto plain = [](const cuda::GemvSpec &spec) {
    return !spec.bias && !spec.residual &&
           spec.activation == cuda::Activation::None && spec.pairedN == 0;
  };
  return plain(a) && plain(b) && a.m == b.m && a.k == b.k &&
         a.weightType == b.weightType && a.warps == b.warps &&
         a.columnsPerWarp == b.columnsPerWarp &&
         a.normPrologue == b.normPrologue &&
         (!a.normPrologue ||
          (a.normKind == b.normKind && a.normEpsilon == b.normEpsilon &&
           a.normWeightType == b.normWeightType));
}

struct CudaPairGemvsPass : public impl::CudaPairGemvsBase<CudaPairGemvsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    // GEMV calls by block, in order.
    llvm::MapVector<Block *, SmallVector<Candidate>> byBlock;
    for (func::CallOp call : cuda::callsOfSelectedKernels(
             module, symbols, cuda::kSelectedGemvAttrName)) {
      if (call.getNumResults() != 1)
        continue;
      auto attr =
          symbols.lookup<func::FuncOp>(call.getCallee())
              ->getAttrOfType<DictionaryAttr>(cuda::kSelectedGemvAttrName);
      FailureOr<cuda::GemvSpec> spec = [&]() -> FailureOr<cuda::GemvSpec> {
        ScopedDiagnosticHandler quiet(&getContext(),
                                      [](Diagnostic &) { return success(); });
        return cuda::gemvSpecFromAttribute(attr,
                                           [&] { return call.emitOpError(); });
      }();
      if (succeeded(spec))
        byBlock[call->getBlock()].push_back({call, *spec});
    }
    DominanceInfo dominance(module);
    llvm::SetVector<func::FuncOp> touched;
    for (auto &[block, candidates] : byBlock) {
      SmallVector<bool> used(candidates.size(), false);
      for (size_t i = 0; i < candidates.size(); ++i) {
        if (used[i])
          continue;
        for (size_t j = i + 1; j < candidates.size(); ++j) {
          if (used[j] || !canPair(candidates[i], candidates[j], dominance))
            continue;
          pair(candidates[i], candidates[j], symbols, touched);
          used[i] = used[j] = true;
          break;
        }
      }
    }
    for (func::FuncOp function : touched)
      if (SymbolTable::symbolKnownUseEmpty(function, module))
        function.erase();
  }

  /// Same A (and norm weight), pairable specs, and every operand of the
  /// second call available at the first.
  static bool canPair(Candidate first, Candidate second,
                      DominanceInfo &dominance) {
    if (!pairable(first.spec, second.spec) ||
        first.call.getOperand(0) != second.call.getOperand(0))
      return false;
    if (first.spec.normPrologue &&
        first.call.getOperands().back() != second.call.getOperands().back())
      return false;
    return llvm::all_of(second.call.getOperands(), [&](Value operand) {
      return dominance.properlyDominates(operand, first.call);
    });
  }

  void pair(Candidate first, Candidate second, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    cuda::GemvSpec spec = first.spec;
    spec.pairedN = second.spec.n;
    // a, w, [norm weight], w2.
    SmallVector<Value> operands(first.call.getOperands());
    operands.push_back(second.call.getOperand(1));
    OpBuilder b(first.call);
    func::CallOp paired = cuda::callSelectedGemv(
        b, first.call.getLoc(), getOperation(), spec, operands);
    for (Candidate *half : {&first, &second})
      touched.insert(symbols.lookup<func::FuncOp>(half->call.getCallee()));
    first.call.getResult(0).replaceAllUsesWith(paired.getResult(0));
    second.call.getResult(0).replaceAllUsesWith(paired.getResult(1));
    first.call.erase();
    second.call.erase();
  }
};

} // namespace
} // namespace mbc
