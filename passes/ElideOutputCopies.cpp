//===- ElideOutputCopies.cpp - allocations that are outputs ---------------===//
//
// A buffer only copied into an entry's output argument becomes a view of
// that argument (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mbc {
#define GEN_PASS_DEF_ELIDEOUTPUTCOPIES
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

bool isStaticIdentity(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && memref.hasStaticShape() && memref.getLayout().isIdentity();
}

/// `output` (a static identity memref) viewed as `type` (the same number
/// of elements): collapsed to 1-D, then expanded.
Value viewAs(OpBuilder &b, Location loc, Value output, MemRefType type) {
  auto outputType = cast<MemRefType>(output.getType());
  if (outputType == type)
    return output;
  Value flat = output;
  if (outputType.getRank() != 1) {
    ReassociationIndices all =
        llvm::to_vector(llvm::seq<int64_t>(0, outputType.getRank()));
    flat = memref::CollapseShapeOp::create(b, loc, output,
                                           ArrayRef<ReassociationIndices>{all});
  }
  if (type.getRank() == 1)
    return flat;
  ReassociationIndices all =
      llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
  return memref::ExpandShapeOp::create(b, loc, type.getShape(), flat,
                                       ArrayRef<ReassociationIndices>{all});
}

struct ElideOutputCopiesPass
    : impl::ElideOutputCopiesBase<ElideOutputCopiesPass> {
  void runOnOperation() override {
    func::FuncOp function = getOperation();
    SmallVector<linalg::CopyOp> copies;
    function.walk([&](linalg::CopyOp copy) { copies.push_back(copy); });
    for (linalg::CopyOp copy : copies)
      elide(copy);
  }

  static void elide(linalg::CopyOp copy) {
    Value output = copy.getOutputs().front();
    auto argument = dyn_cast<BlockArgument>(output);
    if (!argument || !argument.hasOneUse() ||
        !isa<func::FuncOp>(argument.getOwner()->getParentOp()) ||
        !isStaticIdentity(output.getType()))
      return;
    // The source: an allocation through single-use reshapes.
    SmallVector<Operation *> reshapes;
    Value source = copy.getInputs().front();
    while (auto *defining = source.getDefiningOp()) {
      if (!isa<memref::CollapseShapeOp, memref::ExpandShapeOp>(defining))
        break;
      if (!source.hasOneUse())
        return;
      reshapes.push_back(defining);
      source = defining->getOperand(0);
    }
    auto alloc = source.getDefiningOp<memref::AllocOp>();
    if (!alloc || !isStaticIdentity(alloc.getType()) ||
        alloc->getBlock() != copy->getBlock())
      return;
    // Every other use before the copy, in its block (its deallocation
    // goes with it).
    SmallVector<Operation *> deallocs;
    for (Operation *user : alloc->getUsers()) {
      if (reshapes.empty() ? user == copy : user == reshapes.back())
        continue;
      if (isa<memref::DeallocOp>(user)) {
        deallocs.push_back(user);
        continue;
      }
      Operation *ancestor = copy->getBlock()->findAncestorOpInBlock(*user);
      if (!ancestor || !ancestor->isBeforeInBlock(copy))
        return;
    }
    OpBuilder b(alloc);
    Value view = viewAs(b, alloc.getLoc(), output, alloc.getType());
    copy->erase();
    for (Operation *reshape : reshapes)
      reshape->erase();
    for (Operation *dealloc : deallocs)
      dealloc->erase();
    alloc.getResult().replaceAllUsesWith(view);
    alloc->erase();
  }
};

} // namespace
} // namespace mbc
