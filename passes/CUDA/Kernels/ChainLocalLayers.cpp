//===- ChainLocalLayers.cpp - mb-cuda-chain-local-layers ------------------===//
//
// Consecutive fused local layers of one shape become one kernel call: the
// whole local transformer in one launch (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDACHAINLOCALLAYERS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaChainLocalLayersPass
    : public impl::CudaChainLocalLayersBase<CudaChainLocalLayersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::CallOp> calls = cuda::callsOfSelectedKernels(
        module, symbols, cuda::kSelectedLocalLayerAttrName);
    llvm::SmallPtrSet<Operation *, 8> chained;
    llvm::SetVector<func::FuncOp> replaced;
    for (func::CallOp first : calls) {
      if (chained.contains(first))
        continue;
      SmallVector<func::CallOp> chain = {first};
      while (func::CallOp next = successor(chain.back(), symbols))
        chain.push_back(next);
      // The longest prefix one kernel takes (its unrolled schedule is
      // bounded: LocalLayerKernel.h). Every layer has the first's spec.
      std::optional<cuda::LocalLayerSpec> spec = specOf(first, symbols);
      size_t length = spec ? chain.size() : 0;
      for (; length >= 2; --length) {
        spec->layers = static_cast<int64_t>(length);
        if (cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
              return cuda::verifyLocalLayerSpec(*spec, emitError);
            }))
          break;
      }
      if (length < 2)
        continue;
      chain.resize(length);
      for (func::CallOp call : chain)
        chained.insert(call);
      fuse(chain, *spec, symbols, replaced);
    }
    // Declarations (or emulation bodies) nothing calls any more.
    cuda::eraseUncalled(replaced.getArrayRef(), module);
  }

  /// The call's spec (a selected local layer's, one layer).
  static std::optional<cuda::LocalLayerSpec> specOf(func::CallOp call,
                                                    SymbolTable &symbols) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    auto attr = callee ? callee->getAttrOfType<DictionaryAttr>(
                             cuda::kSelectedLocalLayerAttrName)
                       : DictionaryAttr();
    if (!attr)
      return std::nullopt;
    ScopedDiagnosticHandler silence(call.getContext(),
                                    [](Diagnostic &) { return success(); });
    FailureOr<cuda::LocalLayerSpec> spec = cuda::localLayerSpecFromAttribute(
        attr, [&] { return call.emitOpError(); });
    if (failed(spec) || spec->layers != 1)
      return std::nullopt;
    return *spec;
  }

  /// The next layer of `call`'s chain: the one local-layer call of the
  /// same spec that reads its result (its only use, through reshapes that
  /// come back to its type) as x, in its block.
  static func::CallOp successor(func::CallOp call, SymbolTable &symbols) {
    SmallVector<Operation *> reshapes;
    Value result = reshapedResult(call, reshapes);
    if (!result.hasOneUse() || result.getType() != call.getResult(0).getType())
      return {};
    OpOperand &use = *result.getUses().begin();
    auto next = dyn_cast<func::CallOp>(use.getOwner());
    if (!next || use.getOperandNumber() != 0 ||
        next->getBlock() != call->getBlock())
      return {};
    // The same spec attribute (uniqued), but for the first layer's input:
    // the same layer shape. A later layer reads x.
    auto specAttr = [&](func::CallOp c) -> DictionaryAttr {
      auto callee = symbols.lookup<func::FuncOp>(c.getCallee());
      return callee ? callee->getAttrOfType<DictionaryAttr>(
                          cuda::kSelectedLocalLayerAttrName)
                    : DictionaryAttr();
    };
    auto withoutInput = [](DictionaryAttr attr) -> Attribute {
      if (!attr || !attr.get("input"))
        return attr;
      NamedAttrList entries(attr);
      entries.erase("input");
      return entries.getDictionary(attr.getContext());
    };
    DictionaryAttr nextAttr = specAttr(next);
    if (!nextAttr || nextAttr.get("input") ||
        withoutInput(specAttr(call)) != nextAttr)
      return {};
    return next;
  }

  /// `call`'s result followed through the reshapes that are each value's
  /// only use (a stage's [N, S, D] view and back), collected in order.
  static Value reshapedResult(func::CallOp call,
                              SmallVectorImpl<Operation *> &reshapes) {
    Value result = call.getResult(0);
    while (result.hasOneUse() &&
           isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(
               *result.getUsers().begin())) {
      reshapes.push_back(*result.getUsers().begin());
      result = reshapes.back()->getResult(0);
    }
    return result;
  }

  /// One call of `spec` (its layers the chain's) in place of the last,
  /// taking the first's x and every layer's parameters in order. With
  /// emulation bodies (reference-bodies), its body calls the layers'.
  void fuse(MutableArrayRef<func::CallOp> chain,
            const cuda::LocalLayerSpec &spec, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &replaced) {
    func::CallOp last = chain.back();
    OpBuilder b(last);
    // The first layer's x operands (its input's, with an input spec), then
    // every layer's parameters; each later layer reads x alone.
    unsigned inputs = cuda::localLayerInputParams(spec);
    auto xOperands = [&](func::CallOp call) {
      return call == chain.front() ? inputs : 1u;
    };
    SmallVector<Value> operands(chain.front().getOperands().take_front(inputs));
    for (func::CallOp call : chain)
      llvm::append_range(operands,
                         call.getOperands().drop_front(xOperands(call)));
    ModuleOp module = getOperation();
    Value result =
        cuda::callSelectedLocalLayer(b, last.getLoc(), module, spec, operands);
    // (A function this pass declared: not in `symbols`.)
    auto callee = module.lookupSymbol<func::FuncOp>(
        result.getDefiningOp<func::CallOp>().getCallee());
    auto firstCallee = symbols.lookup<func::FuncOp>(chain.front().getCallee());
    if (!firstCallee.isExternal() && callee.isExternal()) {
      OpBuilder body(&getContext());
      Block *entry = cuda::beginReferenceBody(body, callee);
      // The first layer takes the input's arguments, each next one the
      // previous one's result.
      SmallVector<Value> x(entry->getArguments().take_front(inputs));
      unsigned next = inputs;
      for (func::CallOp call : chain) {
        unsigned count = call.getNumOperands() - xOperands(call);
        SmallVector<Value> arguments = x;
        llvm::append_range(arguments, entry->getArguments().slice(next, count));
        next += count;
        x = {func::CallOp::create(body, call.getLoc(), call.getCallee(),
                                  call.getResultTypes(), arguments)
                 .getResult(0)};
      }
      func::ReturnOp::create(body, last.getLoc(), x.front());
    }
    last.getResult(0).replaceAllUsesWith(result);
    for (func::CallOp call : llvm::reverse(chain)) {
      replaced.insert(symbols.lookup<func::FuncOp>(call.getCallee()));
      // The reshapes between it and the next layer, now unused.
      SmallVector<Operation *> between;
      reshapedResult(call, between);
      for (Operation *reshape : llvm::reverse(between))
        reshape->erase();
      call.erase();
    }
  }
};

} // namespace
} // namespace mbc
