//===- PairGemvs.cpp - mb-cuda-pair-gemvs, mb-cuda-pair-gemms -------------===//
//
// Two GEMV (or two GEMM) calls reading the same rows become one paired
// call (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/IR/Dominance.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <type_traits>

namespace mbc {
#define GEN_PASS_DEF_CUDAPAIRGEMVS
#define GEN_PASS_DEF_CUDAPAIRGEMMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Whether two GEMV specs differ only in N (and may share one launch).
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

/// Whether two GEMM specs differ only in N: the same rows, K, types and
/// kernel configuration, no epilogue but the same rotary (q and kv).
bool pairable(const cuda::GemmSpec &a, const cuda::GemmSpec &b) {
  auto plain = [](const cuda::GemmSpec &spec) {
    return !spec.bias && !spec.residual &&
           spec.activation == cuda::Activation::None && spec.pairedN == 0 &&
           spec.bLayout == cuda::BLayout::NK;
  };
  const cuda::GemmConfig &x = a.config, &y = b.config;
  return plain(a) && plain(b) && a.m == b.m && a.k == b.k &&
         a.inputType == b.inputType && a.outputType == b.outputType &&
         x.mma == y.mma && x.tileM == y.tileM && x.tileN == y.tileN &&
         x.tileK == y.tileK && x.stages == y.stages &&
         x.consumers == y.consumers && a.rotaryColumns == b.rotaryColumns &&
         a.rotaryHeadDim == b.rotaryHeadDim &&
         a.rotaryPositions == b.rotaryPositions &&
         a.rotaryTheta == b.rotaryTheta;
}

FailureOr<cuda::GemvSpec>
specFromAttribute(DictionaryAttr attr, cuda::GemvSpec *,
                  function_ref<InFlightDiagnostic()> emitError) {
  return cuda::gemvSpecFromAttribute(attr, emitError);
}
FailureOr<cuda::GemmSpec>
specFromAttribute(DictionaryAttr attr, cuda::GemmSpec *,
                  function_ref<InFlightDiagnostic()> emitError) {
  return cuda::gemmSpecFromAttribute(attr, emitError);
}

/// Pairs the calls of one kind of selected projection (GemvSpec: the
/// `mb.cuda_gemv` kernels, GemmSpec: `mb.cuda_gemm`).
template <typename Spec> class Pairing {
public:
  Pairing(ModuleOp module, StringRef attrName) : module(module) {
    SymbolTable symbols(module);
    // Calls by block, in order.
    llvm::MapVector<Block *, SmallVector<Candidate, 2>> byBlock;
    for (func::CallOp call :
         cuda::callsOfSelectedKernels(module, symbols, attrName)) {
      if (call.getNumResults() != 1)
        continue;
      auto attr = symbols.lookup<func::FuncOp>(call.getCallee())
                      ->template getAttrOfType<DictionaryAttr>(attrName);
      FailureOr<Spec> spec = [&]() -> FailureOr<Spec> {
        ScopedDiagnosticHandler quiet(module.getContext(),
                                      [](Diagnostic &) { return success(); });
        return specFromAttribute(attr, static_cast<Spec *>(nullptr),
                                 [&] { return call.emitOpError(); });
      }();
      if (succeeded(spec))
        byBlock[call->getBlock()].push_back({call, *spec});
    }
    DominanceInfo dominance(module);
    llvm::SetVector<func::FuncOp> touched;
    // From the last call backwards, each with the nearest earlier call it
    // pairs with: of a decode layer's q, k and v projections (separate
    // weights, the paper's) k and v pair, so the cache rows both write join
    // one launch's epilogue (mb-cuda-fuse-epilogues); q and kv (one to_kv
    // weight) pair either way. A GEMV pair takes a third call that pairs
    // with both (q, k and v in one launch).
    for (auto &[block, candidates] : byBlock) {
      SmallVector<bool> used(candidates.size(), false);
      for (size_t i = candidates.size(); i-- > 0;) {
        if (used[i])
          continue;
        for (size_t j = i; j-- > 0;) {
          SmallVector<Operation *> hoisted;
          if (used[j] ||
              !canPair(candidates[j], candidates[i], dominance, hoisted))
            continue;
          if constexpr (std::is_same_v<Spec, cuda::GemvSpec>) {
            if (std::optional<size_t> l =
                    findThird(candidates, used, j, i, dominance)) {
              triple(candidates[*l], candidates[j], candidates[i], symbols,
                     touched);
              used[*l] = used[i] = used[j] = true;
              break;
            }
          }
          for (Operation *op : hoisted)
            op->moveBefore(candidates[j].call);
          pair(candidates[j], candidates[i], symbols, touched);
          used[i] = used[j] = true;
          break;
        }
      }
    }
    cuda::eraseUncalled(touched.getArrayRef(), module);
  }

private:
  /// A call that can be one half of a pair, with its spec.
  struct Candidate {
    func::CallOp call;
    Spec spec;
  };

  /// Same A (and norm weight), pairable specs, and every operand of the
  /// second call available at the first: defined before it, or made there
  /// by ops without side effects (an f32 weight's rounding) that
  /// `hoisted` collects, in order, to move before the first call.
  static bool canPair(Candidate first, Candidate second,
                      DominanceInfo &dominance,
                      SmallVectorImpl<Operation *> &hoisted) {
    if (!pairable(first.spec, second.spec) ||
        first.call.getOperand(0) != second.call.getOperand(0))
      return false;
    if constexpr (std::is_same_v<Spec, cuda::GemvSpec>) {
      // The norm's weight (and a LayerNorm's bias): the last operands.
      unsigned normOperands = cuda::gemvNormOperandCount(first.spec);
      if (!llvm::equal(first.call.getOperands().take_back(normOperands),
                       second.call.getOperands().take_back(normOperands)))
        return false;
    }
    hoisted.clear();
    return llvm::all_of(second.call.getOperands(), [&](Value operand) {
      return availableAt(operand, first.call, dominance, hoisted,
                         /*depth=*/3);
    });
  }

  static bool availableAt(Value value, Operation *at, DominanceInfo &dominance,
                          SmallVectorImpl<Operation *> &hoisted, int depth) {
    if (dominance.properlyDominates(value, at))
      return true;
    Operation *producer = value.getDefiningOp();
    if (!producer || depth == 0 || producer->getBlock() != at->getBlock() ||
        producer->getNumRegions() != 0 || !isMemoryEffectFree(producer))
      return false;
    if (llvm::is_contained(hoisted, producer))
      return true;
    for (Value operand : producer->getOperands())
      if (!availableAt(operand, at, dominance, hoisted, depth - 1))
        return false;
    hoisted.push_back(producer); // after what it reads
    return true;
  }

  /// The nearest unused call before `j` that pairs with both `j` and `i`
  /// (the ops their operands need moved before it), if any.
  static std::optional<size_t> findThird(MutableArrayRef<Candidate> candidates,
                                         ArrayRef<bool> used, size_t j,
                                         size_t i, DominanceInfo &dominance) {
    for (size_t l = j; l-- > 0;) {
      SmallVector<Operation *> forJ, forI;
      if (used[l] || !canPair(candidates[l], candidates[j], dominance, forJ) ||
          !canPair(candidates[l], candidates[i], dominance, forI))
        continue;
      for (Operation *op : llvm::concat<Operation *>(forJ, forI))
        op->moveBefore(candidates[l].call);
      return l;
    }
    return std::nullopt;
  }

  /// One call of a GEMV with three products, in place of `first`.
  void triple(Candidate first, Candidate second, Candidate third,
              SymbolTable &symbols, llvm::SetVector<func::FuncOp> &touched) {
    cuda::GemvSpec spec = first.spec;
    spec.pairedN = second.spec.n;
    spec.thirdN = third.spec.n;
    // a, w, [norm weight, [norm bias]], w2, w3.
    SmallVector<Value> operands(first.call.getOperands());
    operands.push_back(second.call.getOperand(1));
    operands.push_back(third.call.getOperand(1));
    OpBuilder b(first.call);
    func::CallOp merged =
        cuda::callSelectedGemv(b, first.call.getLoc(), module, spec, operands);
    Candidate *parts[] = {&first, &second, &third};
    for (auto [index, part] : llvm::enumerate(parts)) {
      touched.insert(symbols.lookup<func::FuncOp>(part->call.getCallee()));
      part->call.getResult(0).replaceAllUsesWith(merged.getResult(index));
      part->call.erase();
    }
  }

  void pair(Candidate first, Candidate second, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    Spec spec = first.spec;
    spec.pairedN = second.spec.n;
    // GEMV: a, w, [norm weight, [norm bias]], w2. GEMM: a, b, b2.
    SmallVector<Value> operands(first.call.getOperands());
    operands.push_back(second.call.getOperand(1));
    OpBuilder b(first.call);
    func::CallOp paired;
    if constexpr (std::is_same_v<Spec, cuda::GemvSpec>)
      paired = cuda::callSelectedGemv(b, first.call.getLoc(), module, spec,
                                      operands);
    else
      paired = cuda::callSelectedGemmOp(b, first.call.getLoc(), module, spec,
                                        operands);
    for (Candidate *half : {&first, &second})
      touched.insert(symbols.lookup<func::FuncOp>(half->call.getCallee()));
    first.call.getResult(0).replaceAllUsesWith(paired.getResult(0));
    second.call.getResult(0).replaceAllUsesWith(paired.getResult(1));
    first.call.erase();
    second.call.erase();
  }

  ModuleOp module;
};

struct CudaPairGemvsPass : public impl::CudaPairGemvsBase<CudaPairGemvsPass> {
  void runOnOperation() override {
    Pairing<cuda::GemvSpec>(getOperation(), cuda::kSelectedGemvAttrName);
  }
};

struct CudaPairGemmsPass : public impl::CudaPairGemmsBase<CudaPairGemmsPass> {
  void runOnOperation() override {
    Pairing<cuda::GemmSpec>(getOperation(), cuda::kSelectedGemmAttrName);
  }
};

} // namespace
} // namespace mbc
