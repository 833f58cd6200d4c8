//===- EntryWrappers.cpp - void(void **) entry symbols --------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

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
    return success();
  }
};

} // namespace
} // namespace mbc
