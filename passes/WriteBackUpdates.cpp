//===- WriteBackUpdates.cpp - inout arguments of entry points -------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mbc {
#define GEN_PASS_DEF_WRITEBACKUPDATES
#define GEN_PASS_DEF_DROPUPDATEDRESULTS
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// The argument named by `mb.updates` on result `i`, if any.
std::optional<unsigned> updatedArgument(func::FuncOp function, unsigned i) {
  auto target = function.getResultAttrOfType<StringAttr>(i, "mb.updates");
  if (!target)
    return std::nullopt;
  for (unsigned a = 0; a < function.getNumArguments(); ++a)
    if (function.getArgAttr(a, "mb.name") == target)
      return a;
  return std::nullopt;
}

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
    for (unsigned i = 0; i < function.getNumResults(); ++i) {
      auto target = function.getResultAttrOfType<StringAttr>(i, "mb.updates");
      if (!target)
        continue;
      std::optional<unsigned> argument = updatedArgument(function, i);
      if (!argument)
        return function.emitOpError("result ")
               << i << " updates '" << target.getValue()
               << "', which is not an argument";
      auto type = dyn_cast<RankedTensorType>(returnOp.getOperand(i).getType());
      if (!type)
        return function.emitOpError("result ")
               << i << " updates '" << target.getValue()
               << "' but is not a tensor (run before bufferization)";
      if (function.getArgument(*argument).getType() != type)
        return function.emitOpError("result ")
               << i << " and the argument it updates differ in type";
      function.setArgAttr(*argument, "bufferization.writable",
                          b.getBoolAttr(true));
      // In the argument's own buffer: One-Shot Bufferize then updates it in
      // place (or fails, rather than copy), and the result, equivalent to
      // the argument, is dropped after bufferization.
      auto materialized = bufferization::MaterializeInDestinationOp::create(
          b, returnOp.getLoc(), returnOp.getOperand(i),
          function.getArgument(*argument));
      returnOp.setOperand(i, materialized.getResult());
    }
    return success();
  }
};

struct DropUpdatedResultsPass
    : impl::DropUpdatedResultsBase<DropUpdatedResultsPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>()) {
      if (function.isDeclaration())
        continue;
      auto returnOp =
          cast<func::ReturnOp>(function.getBody().back().getTerminator());
      llvm::BitVector erase(function.getNumResults());
      for (unsigned i = 0; i < function.getNumResults(); ++i) {
        if (!function.getResultAttr(i, "mb.updates"))
          continue;
        std::optional<unsigned> argument = updatedArgument(function, i);
        Value returned = returnOp.getOperand(i);
        while (auto cast = returned.getDefiningOp<memref::CastOp>())
          returned = cast.getSource();
        if (!argument || returned != function.getArgument(*argument)) {
          function.emitOpError("result ")
              << i << " (mb.updates) is not its argument's buffer after "
              << "bufferization: the update was not written in place";
          return signalPassFailure();
        }
        erase.set(i);
      }
      if (erase.none())
        continue;
      returnOp->eraseOperands(erase);
      if (failed(function.eraseResults(erase)))
        return signalPassFailure();
    }
  }
};

} // namespace
} // namespace mbc
