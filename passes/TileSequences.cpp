//===- TileSequences.cpp - the local model as one region over tiles -------===//
//
// mb-tile-sequences groups the last stage's transformer into an
// mb.sequence_tiles region (the fused local model of DESIGN.md and
// KERNELS.md); mb-lower-sequence-tiles turns each region into an scf.forall
// over tiles whose body is the region's ops on one tile.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

namespace mbc {
#define GEN_PASS_DEF_TILESEQUENCES
#define GEN_PASS_DEF_LOWERSEQUENCETILES
#include "passes/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Operand positions of `op` that carry sequence activations [N, S, ...]
/// and are sliced per tile; its other operands (weights) are used whole.
/// Empty when `op` is not one the region may hold.
SmallVector<unsigned> sequenceOperands(Operation *op) {
  if (isa<mb::TokenShiftOp, mb::RMSNormOp, mb::LayerNormOp,
          mb::LocalAttentionOp, mb::GlobalAttentionOp, mb::FFNOp, mb::LinearOp,
          mb::HeadOp>(op))
    return {0};
  if (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp>(op) &&
      isa<RankedTensorType>(op->getResult(0).getType()))
    return {0, 1};
  return {};
}

/// The local model rooted at `head`: the ops that compute its input, as far
/// back as they are tileable and used only inside the group.
struct SequenceGroup {
  int64_t sequences;
  llvm::SetVector<Operation *> ops;
};

bool isSequenceValue(Value value, int64_t sequences) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && type.getRank() == 3 && type.getDimSize(0) == sequences;
}

/// Whether `op` may be in a group over `sequences`: its sequence operands
/// and results are [sequences, S, ...], and its other operands are not.
bool isTileable(Operation *op, int64_t sequences) {
  SmallVector<unsigned> positions = sequenceOperands(op);
  if (positions.empty() || op->getNumResults() != 1 ||
      !isSequenceValue(op->getResult(0), sequences))
    return false;
  for (OpOperand &operand : op->getOpOperands()) {
    bool sequence = llvm::is_contained(positions, operand.getOperandNumber());
    if (sequence && !isSequenceValue(operand.get(), sequences))
      return false;
  }
  return true;
}

SequenceGroup collectGroup(mb::HeadOp head, int64_t sequences) {
  SequenceGroup group{sequences, {}};
  llvm::SetVector<Operation *> members;
  SmallVector<Operation *> worklist = {head};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (!members.insert(op))
      continue;
    for (unsigned position : sequenceOperands(op)) {
      Operation *producer = op->getOperand(position).getDefiningOp();
      if (producer && producer->getBlock() == head->getBlock() &&
          isTileable(producer, sequences))
        worklist.push_back(producer);
    }
  }
  // Drop members whose results are also used outside (they stay whole and
  // their results become region inputs), until none is left.
  bool changed = true;
  while (changed) {
    changed = false;
    for (Operation *op : llvm::make_early_inc_range(members)) {
      if (op == head.getOperation())
        continue;
      bool usedOutside = llvm::any_of(op->getUsers(), [&](Operation *user) {
        return !members.contains(user);
      });
      if (usedOutside) {
        members.remove(op);
        changed = true;
      }
    }
  }
  // Program order.
  for (Operation &op : *head->getBlock())
    if (members.contains(&op))
      group.ops.insert(&op);
  return group;
}

/// The largest divisor of `sequences` whose tile has at most `rows` rows
/// and leaves at least `minTiles` tiles; 0 when there is none.
int64_t chooseTile(int64_t sequences, int64_t positions, int64_t rows,
                   int64_t minTiles) {
  for (int64_t tile = sequences; tile >= 1; --tile)
    if (sequences % tile == 0 && tile * positions <= rows &&
        sequences / tile >= minTiles)
      return tile;
  return 0;
}

void formRegion(RewriterBase &rewriter, const SequenceGroup &group,
                int64_t tile) {
  Operation *root = group.ops.back();
  // Inputs: sequence operands produced outside the group, first use first.
  llvm::SetVector<Value> inputs;
  for (Operation *op : group.ops)
    for (unsigned position : sequenceOperands(op)) {
      Value operand = op->getOperand(position);
      if (!group.ops.contains(operand.getDefiningOp()))
        inputs.insert(operand);
    }

  rewriter.setInsertionPoint(root);
  auto tiles = mb::SequenceTilesOp::create(rewriter, root->getLoc(),
                                           root->getResultTypes(),
                                           inputs.getArrayRef(), tile);
  Block *body = rewriter.createBlock(&tiles.getBody());
  IRMapping mapping;
  for (Value input : inputs)
    mapping.map(input, body->addArgument(mb::SequenceTilesOp::getTileType(
                                             input.getType(), tile),
                                         input.getLoc()));
  for (Operation *op : group.ops) {
    Operation *clone = rewriter.clone(*op, mapping);
    clone->getResult(0).setType(
        mb::SequenceTilesOp::getTileType(op->getResult(0).getType(), tile));
  }
  mb::YieldOp::create(rewriter, root->getLoc(),
                      mapping.lookup(root->getResult(0)));
  rewriter.replaceOp(root, tiles->getResults());
  for (Operation *op : llvm::reverse(group.ops))
    if (op != root)
      rewriter.eraseOp(op);
}

struct TileSequencesPass : impl::TileSequencesBase<TileSequencesPass> {
  using Base::Base;

  void runOnOperation() override {
    if (rows < 1 || minTiles < 1) {
      getOperation().emitError("mb-tile-sequences: rows and min-tiles must "
                               "be positive");
      return signalPassFailure();
    }
    SmallVector<mb::HeadOp> heads;
    getOperation().walk([&](mb::HeadOp head) {
      if (isa<func::FuncOp>(head->getParentOp()) &&
          cast<RankedTensorType>(head.getInput().getType()).getRank() == 3)
        heads.push_back(head);
    });
    IRRewriter rewriter(&getContext());
    for (mb::HeadOp head : heads) {
      ArrayRef<int64_t> shape =
          cast<RankedTensorType>(head.getInput().getType()).getShape();
      int64_t tile = chooseTile(shape[0], shape[1], rows, minTiles);
      if (tile == 0)
        continue;
      formRegion(rewriter, collectGroup(head, shape[0]), tile);
    }
  }
};

struct LowerSequenceTilesPass
    : impl::LowerSequenceTilesBase<LowerSequenceTilesPass> {
  void runOnOperation() override {
    SmallVector<mb::SequenceTilesOp> regions;
    getOperation().walk([&](mb::SequenceTilesOp op) { regions.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (mb::SequenceTilesOp op : regions)
      lower(rewriter, op);
  }

  void lower(RewriterBase &rewriter, mb::SequenceTilesOp op) {
    Location loc = op.getLoc();
    int64_t tile = op.getTile();
    int64_t count =
        cast<RankedTensorType>(op.getResult(0).getType()).getDimSize(0) / tile;
    rewriter.setInsertionPoint(op);
    SmallVector<Value> outputs;
    for (Type type : op.getResultTypes()) {
      auto tensor = cast<RankedTensorType>(type);
      outputs.push_back(tensor::EmptyOp::create(
          rewriter, loc, tensor.getShape(), tensor.getElementType()));
    }
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(count)},
        outputs, /*mapping=*/std::nullopt);
    forall->setAttr("mb.sequence_tile", rewriter.getI64IntegerAttr(tile));

    // The inputs' tiles, then the region's ops on them.
    Block *loopBody = forall.getBody();
    rewriter.setInsertionPointToStart(loopBody);
    Value first = arith::MulIOp::create(
        rewriter, loc, forall.getInductionVars()[0],
        arith::ConstantIndexOp::create(rewriter, loc, tile));
    auto tileOf = [&](Type type, SmallVectorImpl<OpFoldResult> &offsets,
                      SmallVectorImpl<OpFoldResult> &sizes,
                      SmallVectorImpl<OpFoldResult> &strides) {
      auto tensor = cast<RankedTensorType>(type);
      offsets.assign(tensor.getRank(), rewriter.getIndexAttr(0));
      offsets[0] = first;
      sizes.clear();
      for (int64_t extent : tensor.getShape())
        sizes.push_back(rewriter.getIndexAttr(extent));
      sizes[0] = rewriter.getIndexAttr(tile);
      strides.assign(tensor.getRank(), rewriter.getIndexAttr(1));
    };
    SmallVector<Value> slices;
    for (Value input : op.getInputs()) {
      SmallVector<OpFoldResult> offsets, sizes, strides;
      tileOf(input.getType(), offsets, sizes, strides);
      slices.push_back(tensor::ExtractSliceOp::create(
          rewriter, loc,
          mb::SequenceTilesOp::getTileType(input.getType(), tile), input,
          offsets, sizes, strides));
    }
    Block &regionBody = op.getBody().front();
    auto yield = cast<mb::YieldOp>(regionBody.getTerminator());
    SmallVector<Value> yielded(yield.getValues());
    rewriter.eraseOp(yield);
    rewriter.inlineBlockBefore(&regionBody, loopBody->getTerminator(), slices);

    rewriter.setInsertionPointToStart(forall.getTerminator().getBody());
    for (auto [value, shared] :
         llvm::zip(yielded, forall.getRegionIterArgs())) {
      SmallVector<OpFoldResult> offsets, sizes, strides;
      tileOf(shared.getType(), offsets, sizes, strides);
      tensor::ParallelInsertSliceOp::create(rewriter, loc, value, shared,
                                            offsets, sizes, strides);
    }
    rewriter.replaceOp(op, forall->getResults());
  }
};

} // namespace
} // namespace mbc
