//===- WeightsToArguments.cpp - entry-point ABI of compiled code ----------===//
//
// The runtime calls every entry point as void(void **args) with the argument
// list of docs/artifact.md. This pass gives each public function that list
// (context, weights, inputs) and records it, with the results as outputs,
// in the module attribute `mb.entry_points`.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace mbc {
#define GEN_PASS_DEF_WEIGHTSTOARGUMENTS
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

StringRef weightDTypeName(Type type) {
  if (type.isF32())
    return "F32";
  if (type.isF16())
    return "F16";
  if (type.isBF16())
    return "BF16";
  return "";
}

StringRef bufferDTypeName(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(64))
    return "i64";
  return "";
}

struct WeightsToArgumentsPass
    : impl::WeightsToArgumentsBase<WeightsToArgumentsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    SmallVector<Attribute> entries;
    for (auto function : module.getOps<func::FuncOp>()) {
      if (function.isPrivate() || function.isDeclaration())
        continue;
      FailureOr<DictionaryAttr> entry = rewriteEntry(function, b);
      if (failed(entry))
        return signalPassFailure();
      entries.push_back(*entry);
    }
    module->setAttr("mb.entry_points", b.getArrayAttr(entries));
  }

  DictionaryAttr argument(Builder &b, StringRef kind, StringRef name,
                          StringRef dtype, ArrayRef<int64_t> shape) {
    SmallVector<NamedAttribute> fields = {
        b.getNamedAttr("kind", b.getStringAttr(kind))};
    if (!name.empty()) {
      fields.push_back(b.getNamedAttr("name", b.getStringAttr(name)));
      fields.push_back(b.getNamedAttr("dtype", b.getStringAttr(dtype)));
      fields.push_back(b.getNamedAttr("shape", b.getI64ArrayAttr(shape)));
    }
    return b.getDictionaryAttr(fields);
  }

  FailureOr<DictionaryAttr> rewriteEntry(func::FuncOp function, Builder &b) {
    // Distinct weights in first-use order; tied weights become one argument.
    llvm::MapVector<StringAttr, SmallVector<mb::ParamOp>> weights;
    function.walk([&](mb::ParamOp param) {
      weights[param.getNameAttr()].push_back(param);
    });

    SmallVector<Attribute> arguments;
    arguments.push_back(argument(b, "context", "", "", {}));
    Location loc = function.getLoc();
    unsigned index = 0;
    if (failed(function.insertArgument(
            index++, LLVM::LLVMPointerType::get(&getContext()),
            b.getDictionaryAttr({}), loc)))
      return failure();
    for (auto &[name, params] : weights) {
      auto type = cast<RankedTensorType>(params.front().getType());
      StringRef dtype = weightDTypeName(type.getElementType());
      if (dtype.empty())
        return params.front().emitOpError("weight dtype is not F32/F16/BF16"),
               failure();
      if (failed(function.insertArgument(
              index, type,
              b.getDictionaryAttr({b.getNamedAttr("mb.weight", name)}), loc)))
        return failure();
      BlockArgument value = function.getArgument(index++);
      for (mb::ParamOp param : params) {
        if (param.getType() != type)
          return param.emitOpError("weight '")
                     << name.getValue() << "' is read with two types",
                 failure();
        param.replaceAllUsesWith(value);
        param.erase();
      }
      arguments.push_back(
          argument(b, "weight", name.getValue(), dtype, type.getShape()));
    }

    // Inputs keep their names (mb.name); inout buffers are marked mb.inout.
    for (unsigned i = index; i < function.getNumArguments(); ++i) {
      auto type = dyn_cast<RankedTensorType>(function.getArgument(i).getType());
      auto name = function.getArgAttrOfType<StringAttr>(i, "mb.name");
      if (!type || !name || bufferDTypeName(type.getElementType()).empty())
        return function.emitOpError("argument ")
                   << i << " needs a static tensor type of f32/i32/i64 and an "
                   << "mb.name attribute",
               failure();
      StringRef kind = function.getArgAttr(i, "mb.inout") ? "inout" : "input";
      arguments.push_back(argument(b, kind, name.getValue(),
                                   bufferDTypeName(type.getElementType()),
                                   type.getShape()));
    }
    for (unsigned i = 0; i < function.getNumResults(); ++i) {
      // The new value of an inout argument is not a separate buffer.
      if (function.getResultAttr(i, "mb.updates"))
        continue;
      auto type = dyn_cast<RankedTensorType>(function.getResultTypes()[i]);
      auto name = function.getResultAttrOfType<StringAttr>(i, "mb.name");
      if (!type || !name || bufferDTypeName(type.getElementType()).empty())
        return function.emitOpError("result ")
                   << i << " needs a static tensor type of f32/i32/i64 and an "
                   << "mb.name attribute",
               failure();
      arguments.push_back(argument(b, "output", name.getValue(),
                                   bufferDTypeName(type.getElementType()),
                                   type.getShape()));
    }
    return b.getDictionaryAttr(
        {b.getNamedAttr("name", function.getSymNameAttr()),
         b.getNamedAttr("args", b.getArrayAttr(arguments))});
  }
};

} // namespace
} // namespace mbc
