//===- WriteBackUpdates.cpp - inout arguments of entry points -------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mbc {
#define GEN_PASS_DEF_WRITEBACKUPDATES
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct WriteBackUpdatesPass : impl::WriteBackUpdatesBase<WriteBackUpdatesPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>())
      if (failed(rewrite(function)))
        return signalPassFailure();
  }

  LogicalResult rewrite(func::FuncOp function) {
    if (function.isDeclaration())
      return success();
    auto returnOp =
        cast<func::ReturnOp>(function.getBody().back().getTerminator());
    OpBuilder b(returnOp);
    llvm::BitVector erase(function.getNumResults());
    for (unsigned i = 0; i < function.getNumResults(); ++i) {
      auto target = function.getResultAttrOfType<StringAttr>(i, "mb.updates");
      if (!target)
        continue;
      std::optional<unsigned> argument;
      for (unsigned a = 0; a < function.getNumArguments(); ++a)
        if (function.getArgAttr(a, "mb.name") == target)
          argument = a;
      if (!argument)
        return function.emitOpError("result ")
               << i << " updates '" << target.getValue()
               << "', which is not an argument";
      auto type = cast<RankedTensorType>(returnOp.getOperand(i).getType());
      if (function.getArgument(*argument).getType() != type)
        return function.emitOpError("result ")
               << i << " and the argument it updates differ in type";
      function.setArgAttr(*argument, "bufferization.writable",
                          b.getBoolAttr(true));
      auto bufferType = MemRefType::get(type.getShape(), type.getElementType());
      Value buffer = bufferization::ToBufferOp::create(
          b, returnOp.getLoc(), bufferType, function.getArgument(*argument));
      bufferization::MaterializeInDestinationOp::create(
          b, returnOp.getLoc(), Type(), returnOp.getOperand(i), buffer,
          /*restrict=*/true, /*writable=*/true);
      erase.set(i);
    }
    if (erase.none())
      return success();
    returnOp->eraseOperands(erase);
    return function.eraseResults(erase);
  }
};

} // namespace
} // namespace mbc
