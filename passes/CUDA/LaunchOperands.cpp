//===- LaunchOperands.cpp - what a launch captures and recomputes ---------===//
#include "passes/CUDA/LaunchOperands.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;

namespace mbc {

bool isClonableIntoLaunch(Operation *op) {
  if (isa<memref::AllocOp, memref::AllocaOp>(op) ||
      op->hasTrait<OpTrait::IsTerminator>())
    return false;
  if (isa<memref::LoadOp, memref::GetGlobalOp, ViewLikeOpInterface,
          memref::ExpandShapeOp, memref::CollapseShapeOp,
          memref::ReinterpretCastOp, memref::CastOp, affine::AffineApplyOp>(op))
    return op->getNumRegions() == 0;
  return op->getNumRegions() == 0 && isMemoryEffectFree(op);
}

Value rootBuffer(Value memref, bool &typed) {
  typed = true;
  while (Operation *producer = memref.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(producer);
    if (!view)
      break;
    typed &= isa<memref::SubViewOp, memref::ExpandShapeOp,
                 memref::CollapseShapeOp, memref::CastOp>(producer);
    memref = view.getViewSource();
  }
  return memref;
}

bool isOwnBuffer(Value root) {
  return isa_and_nonnull<memref::AllocOp, memref::AllocaOp,
                         memref::GetGlobalOp>(root.getDefiningOp()) ||
         isa<BlockArgument>(root);
}

SmallVector<Operation *> clonedProducers(ArrayRef<Value> values, Block *block) {
  SmallVector<Value> worklist(values.begin(), values.end());
  llvm::SetVector<Operation *> slice;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    Operation *producer = value.getDefiningOp();
    if (!producer || !isClonableIntoLaunch(producer) ||
        producer->getBlock() != block || slice.contains(producer))
      continue;
    slice.insert(producer);
    llvm::append_range(worklist, producer->getOperands());
  }
  SmallVector<Operation *> ordered(slice.begin(), slice.end());
  llvm::sort(ordered,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return ordered;
}

SmallVector<Operation *> clonedProducers(Operation *op) {
  SetVector<Value> used;
  getUsedValuesDefinedAbove(op->getRegions(), used);
  used.insert(op->getOperands().begin(), op->getOperands().end());
  return clonedProducers(used.getArrayRef(), op->getBlock());
}

} // namespace mbc
