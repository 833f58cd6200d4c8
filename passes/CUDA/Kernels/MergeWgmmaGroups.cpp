//===- MergeWgmmaGroups.cpp - mb-cuda-merge-wgmma-groups -----------------===//
//
// nvgpu.warpgroup.mma lowers to fence, wgmma.mma_async, commit_group and
// wait_group. The GEMM builders issue one op per (64 rows, 16 K) so they
// can place every descriptor themselves; this pass joins such consecutive
// groups into one, so a K block's wgmmas are in flight together and one
// wait follows them; and a wgmma that accumulates into all-zero registers
// computes D = A B instead (scale-d 0), so no instruction writes registers
// a wgmma reads (ptxas would insert a warpgroup.arrive, and in a loop of
// dynamic trip count serialize the wgmmas: its C7519/C7520 remarks).
//
// [PTX-WGMMA-ASYNC] PTX ISA, "Asynchronous Warpgroup Level Matrix
//   Multiply-Accumulate Operation": accessing the accumulator registers of
//   an in-flight wgmma.mma_async is undefined, except that wgmma.mma_async
//   instructions of the same shape may accumulate into the same registers
//   in sequence (their ordering is guaranteed); wgmma.fence is required
//   before the first wgmma.mma_async and whenever the registers it reads
//   were written by other instructions.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAMERGEWGMMAGROUPS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Ops that only move an accumulator between SSA values (the struct
/// wrapping of nvgpu's accumulator type, casts between accumulator
/// types): no instruction reads the registers.
bool isPlumbing(Operation *op) {
  return isa<UnrealizedConversionCastOp, LLVM::ExtractValueOp,
             LLVM::InsertValueOp, LLVM::PoisonOp, LLVM::UndefOp>(op);
}

/// Whether `value` is a wgmma's accumulator, possibly through plumbing.
bool isAccumulator(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return false;
  if (isa<NVVM::WgmmaMmaAsyncOp>(def))
    return true;
  return isPlumbing(def) && llvm::any_of(def->getOperands(), isAccumulator);
}

/// Whether `op` may stay between two joined wgmmas: it has no memory
/// effect and is plumbing or reads no accumulator (which would then be in
/// flight).
bool mayRunBetween(Operation *op) {
  if (!isMemoryEffectFree(op))
    return false;
  return isPlumbing(op) || llvm::none_of(op->getOperands(), isAccumulator);
}

/// The first op of type OpT from `op` on (walking forward or backward)
/// past ops that may run between joined wgmmas; null when another op
/// comes first.
template <typename OpT> OpT findPast(Operation *op, bool forward) {
  while (op && !isa<OpT>(op) && mayRunBetween(op))
    op = forward ? op->getNextNode() : op->getPrevNode();
  return dyn_cast_or_null<OpT>(op);
}

/// Joins `commit, wait, ops..., fence, ops..., mma_async` into `ops...,
/// ops..., mma_async` in `block` when a wgmma precedes the commit with
/// only such ops between: the group before the commit continues into the
/// next wgmma.
void joinGroups(Block &block) {
  SmallVector<Operation *> dropped;
  for (Operation &op : block) {
    auto commit = dyn_cast<NVVM::WgmmaGroupSyncAlignedOp>(&op);
    if (!commit ||
        !findPast<NVVM::WgmmaMmaAsyncOp>(commit->getPrevNode(), false))
      continue;
    auto wait =
        dyn_cast_or_null<NVVM::WgmmaWaitGroupSyncOp>(commit->getNextNode());
    if (!wait)
      continue;
    auto fence = findPast<NVVM::WgmmaFenceAlignedOp>(wait->getNextNode(), true);
    if (!fence || !findPast<NVVM::WgmmaMmaAsyncOp>(fence->getNextNode(), true))
      continue;
    dropped.append({commit, wait, fence});
  }
  for (Operation *op : dropped)
    op->erase();
}

/// The value at `position` inside the aggregate `value`, looking through
/// the insertvalues that build it and the extractvalues that take it
/// apart; null when it cannot be told (a deeper insert, anything else).
Value elementAt(Value value, ArrayRef<int64_t> position) {
  if (position.empty())
    return value;
  if (auto insert = value.getDefiningOp<LLVM::InsertValueOp>()) {
    ArrayRef<int64_t> inserted = insert.getPosition();
    if (position.take_front(inserted.size()) == inserted)
      return elementAt(insert.getValue(), position.drop_front(inserted.size()));
    if (inserted.take_front(position.size()) == position)
      return Value(); // part of the wanted element
    return elementAt(insert.getContainer(), position);
  }
  if (auto extract = value.getDefiningOp<LLVM::ExtractValueOp>()) {
    SmallVector<int64_t> inner(extract.getPosition());
    inner.append(position.begin(), position.end());
    return elementAt(extract.getContainer(), inner);
  }
  return Value();
}

/// Whether every float of `value` (a struct, possibly nested, or a scalar)
/// is the constant +0.
bool isZeroAggregate(Value value) {
  if (!value)
    return false;
  if (auto structType = dyn_cast<LLVM::LLVMStructType>(value.getType())) {
    for (int64_t i = 0, e = structType.getBody().size(); i < e; ++i)
      if (!isZeroAggregate(elementAt(value, {i})))
        return false;
    return true;
  }
  auto constant = value.getDefiningOp<LLVM::ConstantOp>();
  auto number =
      constant ? dyn_cast<FloatAttr>(constant.getValue()) : FloatAttr();
  return number && number.getValue().isPosZero();
}

/// A wgmma accumulating into all-zero registers computes D = A B instead
/// (scale-d 0) and takes poison: no instruction writes those zeros, so
/// ptxas need not make them visible to the asynchronous wgmma
/// (warpgroup.arrive, C7519/C7520 warnings).
void startFromZero(NVVM::WgmmaMmaAsyncOp mma) {
  if (mma.getScaleD() != NVVM::WGMMAScaleOut::one ||
      !isZeroAggregate(mma.getInouts()))
    return;
  OpBuilder b(mma);
  mma.setScaleD(NVVM::WGMMAScaleOut::zero);
  mma.getInoutsMutable().assign(
      LLVM::PoisonOp::create(b, mma.getLoc(), mma.getInouts().getType()));
}

struct CudaMergeWgmmaGroupsPass
    : public impl::CudaMergeWgmmaGroupsBase<CudaMergeWgmmaGroupsPass> {
  void runOnOperation() override {
    getOperation()->walk([](Block *block) { joinGroups(*block); });
    getOperation()->walk(startFromZero);
  }
};

} // namespace
} // namespace mbc
