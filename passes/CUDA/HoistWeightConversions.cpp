//===- HoistWeightConversions.cpp - mb-cuda-hoist-weight-conversions -----===//
//
// The tensor-core kernels read 16-bit operands. A model whose weights are
// stored in f32 had each of them rounded to bf16 by a kernel in every call
// of every entry point; the rounded tensor depends on nothing but the
// weight. This pass makes it a weight of its own, derived from the stored
// one when the model loads (docs/artifact.md, "derived" weights): the
// conversion leaves the entry points.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAHOISTWEIGHTCONVERSIONS
#include "passes/CUDA/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// The weight `generic` rounds, element for element, from f32 to bf16: the
/// argument's index; -1 when `generic` is anything else.
int64_t roundedWeight(linalg::GenericOp generic, func::FuncOp function) {
  if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 1 || generic.getNumReductionLoops() != 0 ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return -1;
  auto argument = dyn_cast<BlockArgument>(generic.getDpsInputs()[0]);
  if (!argument || argument.getOwner() != &function.getBody().front() ||
      !function.getArgAttr(argument.getArgNumber(), "mb.weight"))
    return -1;
  auto inputType = dyn_cast<RankedTensorType>(argument.getType());
  auto resultType = dyn_cast<RankedTensorType>(generic.getResult(0).getType());
  if (!inputType || !resultType || !inputType.getElementType().isF32() ||
      !resultType.getElementType().isBF16())
    return -1;
  // The body: one truncf of the input element, yielded.
  Block &body = generic.getRegion().front();
  if (body.getOperations().size() != 2)
    return -1;
  auto truncf = dyn_cast<arith::TruncFOp>(body.front());
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!truncf || truncf.getIn() != body.getArgument(0) || !yield ||
      yield.getValues().size() != 1 || yield.getValues()[0] != truncf)
    return -1;
  // Round to nearest even only (what the runtime's conversion does).
  if (truncf.getRoundingmodeAttr() &&
      truncf.getRoundingmode() != arith::RoundingMode::to_nearest_even)
    return -1;
  return argument.getArgNumber();
}

struct CudaHoistWeightConversionsPass
    : impl::CudaHoistWeightConversionsBase<CudaHoistWeightConversionsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    llvm::MapVector<StringAttr, Attribute> derived; // by name, in order
    for (auto function : module.getOps<func::FuncOp>()) {
      if (function.isPrivate() || function.isDeclaration())
        continue;
      // A weight rounded several times in a function: one argument.
      llvm::DenseMap<int64_t, BlockArgument> arguments;
      SmallVector<std::pair<linalg::GenericOp, int64_t>> roundings;
      function.walk([&](linalg::GenericOp generic) {
        int64_t argument = roundedWeight(generic, function);
        if (argument >= 0)
          roundings.push_back({generic, argument});
      });
      for (auto [generic, argument] : roundings) {
        auto source =
            function.getArgAttrOfType<StringAttr>(argument, "mb.weight");
        auto type = cast<RankedTensorType>(generic.getResult(0).getType());
        auto [it, inserted] = arguments.try_emplace(argument);
        if (inserted) {
          StringAttr name = b.getStringAttr(source.getValue() + ":bf16");
          unsigned index = function.getNumArguments();
          if (failed(function.insertArgument(
                  index, type,
                  b.getDictionaryAttr(
                      {b.getNamedAttr("mb.weight", name),
                       b.getNamedAttr("mb.derived_from", source)}),
                  function.getLoc())))
            return signalPassFailure();
          it->second = function.getArgument(index);
          derived.try_emplace(
              name,
              b.getDictionaryAttr(
                  {b.getNamedAttr("name", name), b.getNamedAttr("from", source),
                   b.getNamedAttr("convert", b.getStringAttr("bf16")),
                   b.getNamedAttr("shape",
                                  b.getI64ArrayAttr(type.getShape()))}));
        }
        generic.getResult(0).replaceAllUsesWith(it->second);
        generic.erase();
      }
    }
    if (derived.empty())
      return;
    SmallVector<Attribute> list;
    for (auto &[name, attr] : derived)
      list.push_back(attr);
    module->setAttr("mb.derived_weights", b.getArrayAttr(list));
  }
};

} // namespace
} // namespace mbc
