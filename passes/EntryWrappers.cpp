//===- EntryWrappers.cpp - void(void **) entry symbols --------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/raw_ostream.h"

namespace mbc {
#define GEN_PASS_DEF_ENTRYWRAPPERS
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct EntryWrappersPass : impl::EntryWrappersBase<EntryWrappersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto entries = module->getAttrOfType<ArrayAttr>("mb.entry_points");
    if (!entries) {
      module.emitError("mb-entry-wrappers: the module has no mb.entry_points "
                       "(run mb-weights-to-arguments first)");
      return signalPassFailure();
    }
    for (auto entry : entries.getAsRange<DictionaryAttr>())
      if (failed(wrap(module, entry)))
        return signalPassFailure();
  }

  LogicalResult wrap(ModuleOp module, DictionaryAttr entry) {
    auto name = entry.getAs<StringAttr>("name");
    auto args = entry.getAs<ArrayAttr>("args");
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!callee)
      return module.emitError("entry point '") << name
                                               << "' was not lowered "
                                                  "to an llvm.func";
    auto pointer = LLVM::LLVMPointerType::get(&getContext());
    LLVM::LLVMFunctionType calleeType = callee.getFunctionType();
    if (calleeType.getNumParams() != args.size() ||
        llvm::any_of(calleeType.getParams(),
                     [&](Type type) { return type != pointer; }))
      return callee.emitError("entry point '")
             << name << "' must take " << args.size()
             << " pointers (bare-pointer memref convention), got "
             << calleeType;

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = callee.getLoc();
    auto wrapperType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(&getContext()), {pointer});
    auto wrapper = LLVM::LLVMFuncOp::create(
        b, loc, ("mbc_entry_" + name.getValue()).str(), wrapperType);
    Block *body = wrapper.addEntryBlock(b);
    b.setInsertionPointToStart(body);
    Value array = body->getArgument(0);
    SmallVector<Value> operands;
    for (unsigned i = 0; i < args.size(); ++i) {
      Value slot = LLVM::GEPOp::create(b, loc, pointer, pointer, array,
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      operands.push_back(LLVM::LoadOp::create(b, loc, pointer, slot));
    }
    LLVM::CallOp::create(b, loc, callee, operands);
    LLVM::ReturnOp::create(b, loc, ValueRange{});

    // The argument list the code was compiled for, as the runtime spells
    // META's (docs/artifact.md, "Entry point signatures").
    std::string text = signature(args) + '\0';
    b.setInsertionPointToEnd(module.getBody());
    LLVM::GlobalOp::create(
        b, loc,
        LLVM::LLVMArrayType::get(IntegerType::get(&getContext(), 8),
                                 text.size()),
        /*isConstant=*/true, LLVM::Linkage::External,
        ("mbc_entry_" + name.getValue() + "_signature").str(),
        b.getStringAttr(text));
    return success();
  }

  /// One line per argument: `context`, or `KIND NAME DTYPE [D0,D1,...]`.
  static std::string signature(ArrayAttr args) {
    std::string text;
    llvm::raw_string_ostream os(text);
    for (auto [i, arg] : llvm::enumerate(args.getAsRange<DictionaryAttr>())) {
      os << (i ? "\n" : "") << arg.getAs<StringAttr>("kind").getValue();
      auto name = arg.getAs<StringAttr>("name");
      if (!name)
        continue;
      os << ' ' << name.getValue() << ' '
         << arg.getAs<StringAttr>("dtype").getValue() << " [";
      llvm::interleave(
          arg.getAs<ArrayAttr>("shape").getAsRange<IntegerAttr>(), os,
          [&](IntegerAttr dim) { os << dim.getInt(); }, ",");
      os << ']';
    }
    return text;
  }
};

} // namespace
} // namespace mbc
