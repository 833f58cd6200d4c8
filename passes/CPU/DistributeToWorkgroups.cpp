//===- DistributeToWorkgroups.cpp - heavy linalg ops -> scf.forall grids --===//
//
// The CPU side of the dispatch model (DESIGN.md): each heavy linalg op is
// tiled along its outer parallel loops into an scf.forall whose iterations
// are the workgroups of one dispatch, with the single-use producers whose
// tiles do not overlap between workgroups fused into the same forall.
// mb-cpu-outline-dispatches later makes each forall a function that the
// runtime's thread pool calls once per workgroup.
//
// Reduction loops are never split: every output element is computed by one
// workgroup in one order, so results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "llvm/ADT/SetVector.h"

namespace mbc {
#define GEN_PASS_DEF_CPUDISTRIBUTE
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

constexpr StringLiteral kWorkgroupTilesAttrName = "mb.workgroup_tiles";

/// Tiles no workgroup splits: one f32 vector of the widest registers along
/// the loop that is contiguous in the result, and the register rows of the
/// CPU contraction kernel along the other loops when a contraction is in
/// the workgroup (smaller row tiles reload the weights for fewer rows).
constexpr int64_t kContiguousGranule = 16;
constexpr int64_t kRowGranule = 8;

int64_t staticIterations(linalg::LinalgOp op) {
  int64_t iterations = 1;
  for (int64_t extent : op.getStaticLoopRanges()) {
    if (ShapedType::isDynamic(extent))
      return 0;
    iterations *= extent;
  }
  return iterations;
}

/// A reduction reading an operand of rank >= 2 that some parallel loop does
/// not index (a weight, or keys and values in attention).
bool reusesOperandAcrossRows(linalg::LinalgOp op) {
  if (op.getNumReductionLoops() == 0)
    return false;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumResults() < 2)
      continue;
    for (unsigned loop = 0; loop < op.getNumLoops(); ++loop)
      if (iterators[loop] == utils::IteratorType::parallel &&
          !map.isFunctionOfDim(loop))
        return true;
  }
  return false;
}

/// Bytes of the largest input of rank >= 2 of a reduction `op` that its
/// outermost parallel loop (the rows) does not index (a weight, read for
/// every row), and of the largest input that it does index (the rows);
/// zeros for an op without reductions.
std::pair<int64_t, int64_t> inputBytes(linalg::LinalgOp op) {
  if (op.getNumReductionLoops() == 0)
    return {0, 0};
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  auto outer = llvm::find(iterators, utils::IteratorType::parallel);
  if (outer == iterators.end())
    return {0, 0};
  unsigned rowLoop = std::distance(iterators.begin(), outer);
  int64_t weightBytes = 0, rowBytes = 0;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    auto type = dyn_cast<RankedTensorType>(input->get().getType());
    if (map.getNumResults() < 2 || !type || !type.hasStaticShape())
      continue;
    int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
    int64_t &largest = map.isFunctionOfDim(rowLoop) ? rowBytes : weightBytes;
    largest = std::max(largest, bytes);
  }
  return {weightBytes, rowBytes};
}

/// A reused operand (a weight) above this size and larger than the rows is
/// not re-read by every row workgroup: such ops are split along the columns
/// first, so each workgroup streams only its own part of the weight and all
/// of the (smaller) rows. Skinny contractions of large weights (the global
/// model's 129 positions against 4096 x 1024 FFN weights) need it.
constexpr int64_t kLargeReusedOperandBytes = 4 << 20;

/// The linalg producers a workgroup of `op` is expected to absorb: those
/// whose one result has `op` as its only user, transitively.
void collectFusionGroup(linalg::LinalgOp op,
                        SmallVectorImpl<linalg::LinalgOp> &group) {
  group.push_back(op);
  for (Value operand : op->getOperands()) {
    auto producer = operand.getDefiningOp<linalg::LinalgOp>();
    if (producer && producer->getBlock() == op->getBlock() &&
        producer->getNumResults() == 1 && operand.hasOneUse() &&
        producer.hasPureTensorSemantics())
      collectFusionGroup(producer, group);
  }
}

/// The tile of a loop of `extent` split into about `wanted` workgroups, a
/// multiple of `granule`: a tile that divides the loop is preferred (no
/// partial workgroup), within a factor of two of `wanted`.
int64_t splitLoop(int64_t extent, int64_t granule, int64_t wanted) {
  int64_t units = llvm::divideCeil(extent, granule);
  int64_t best = 0;
  int64_t bestDistance = std::numeric_limits<int64_t>::max();
  for (int64_t k = 1; k <= units; ++k) {
    int64_t tile = k * granule;
    int64_t count = llvm::divideCeil(extent, tile);
    if (count > 2 * wanted)
      continue;
    if (2 * count < wanted)
      break;
    if (extent % tile != 0)
      continue;
    int64_t distance = std::abs(count - wanted);
    if (distance < bestDistance) {
      best = tile;
      bestDistance = distance;
    }
  }
  if (best)
    return best;
  return granule * llvm::divideCeil(units, wanted);
}

/// Workgroup tile per loop of `op` (0 = not distributed); empty when its
/// workgroup (with the producers it will absorb) is too small to be worth
/// more than one workgroup.
SmallVector<int64_t> chooseWorkgroupTiles(linalg::LinalgOp op,
                                          int64_t targetWorkgroups,
                                          int64_t minIterations) {
  SmallVector<int64_t> extents = op.getStaticLoopRanges();
  if (llvm::any_of(extents, ShapedType::isDynamic))
    return {};
  SmallVector<linalg::LinalgOp> group;
  collectFusionGroup(op, group);
  int64_t iterations = 0;
  bool rowReuse = false;
  bool columnsFirst = false;
  for (linalg::LinalgOp member : group) {
    iterations += staticIterations(member);
    rowReuse |= reusesOperandAcrossRows(member);
    auto [weightBytes, rowBytes] = inputBytes(member);
    columnsFirst |=
        weightBytes > kLargeReusedOperandBytes && weightBytes > rowBytes;
  }
  int64_t wanted = std::min(targetWorkgroups,
                            iterations / std::max<int64_t>(minIterations, 1));
  if (wanted < 2)
    return {};

  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  std::optional<unsigned> contiguousLoop;
  AffineMap resultMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (resultMap.getNumResults() > 0)
    if (auto dim = dyn_cast<AffineDimExpr>(resultMap.getResults().back()))
      contiguousLoop = dim.getPosition();

  // Outer loops first, for large contiguous tiles; inner loops are split
  // only while the outer ones give fewer than half the workgroups wanted.
  // With a large weight, inner (column) loops first: row workgroups would
  // each stream all of it.
  SmallVector<unsigned> order;
  for (unsigned loop = 0; loop < extents.size(); ++loop)
    order.push_back(loop);
  if (columnsFirst)
    std::reverse(order.begin(), order.end());
  SmallVector<int64_t> tiles(extents.size(), 0);
  bool distributed = false;
  for (unsigned loop : order) {
    if (wanted < 2)
      break;
    if (iterators[loop] != utils::IteratorType::parallel)
      continue;
    int64_t granule = loop == contiguousLoop ? kContiguousGranule
                      : rowReuse             ? kRowGranule
                                             : 1;
    granule = std::min(granule, extents[loop]);
    int64_t units = llvm::divideCeil(extents[loop], granule);
    if (units < 2)
      continue;
    distributed = true;
    if (2 * units >= wanted) {
      tiles[loop] =
          units <= wanted ? granule : splitLoop(extents[loop], granule, wanted);
      break;
    }
    tiles[loop] = granule;
    wanted = llvm::divideCeil(wanted, units);
  }
  if (!distributed)
    return {};
  return tiles;
}

/// Reads a pinned mb.workgroup_tiles (tests, or a later heuristic); failure
/// when it is malformed.
FailureOr<std::optional<SmallVector<int64_t>>>
readWorkgroupTiles(linalg::LinalgOp op) {
  Attribute attribute = op->getAttr(kWorkgroupTilesAttrName);
  if (!attribute)
    return std::optional<SmallVector<int64_t>>();
  auto tiles = dyn_cast<DenseI64ArrayAttr>(attribute);
  if (!tiles || tiles.size() != static_cast<int64_t>(op.getNumLoops()))
    return op->emitOpError(kWorkgroupTilesAttrName)
           << " must be an array<i64> with one tile per loop ("
           << op.getNumLoops() << ")";
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (auto [loop, tile] : llvm::enumerate(tiles.asArrayRef())) {
    if (tile < 0)
      return op->emitOpError(kWorkgroupTilesAttrName)
             << " has a negative tile for loop " << loop;
    if (tile != 0 && iterators[loop] != utils::IteratorType::parallel)
      return op->emitOpError(kWorkgroupTilesAttrName)
             << " splits reduction loop " << loop
             << " (workgroups never split a reduction)";
  }
  return std::optional<SmallVector<int64_t>>(
      SmallVector<int64_t>(tiles.asArrayRef()));
}

/// Whether `value` is computed from `inductionVar` inside `loop`.
bool dependsOn(Value value, Value inductionVar, scf::ForallOp loop) {
  SmallVector<Value> worklist = {value};
  llvm::SmallPtrSet<Value, 16> seen;
  while (!worklist.empty()) {
    Value current = worklist.pop_back_val();
    if (current == inductionVar)
      return true;
    if (!seen.insert(current).second)
      continue;
    Operation *producer = current.getDefiningOp();
    if (!producer || !loop->isProperAncestor(producer))
      continue;
    llvm::append_range(worklist, producer->getOperands());
  }
  return false;
}

/// A producer's tile is computed once per workgroup that reads it; it is
/// computed once in all only when the tile's position depends on every
/// workgroup index (otherwise several workgroups recompute the same tile,
/// like the whole weight of a matmul tiled by rows).
bool tileIsPerWorkgroup(tensor::ExtractSliceOp slice, scf::ForallOp loop) {
  for (auto [index, inductionVar] : llvm::enumerate(loop.getInductionVars())) {
    std::optional<int64_t> lower =
        getConstantIntValue(loop.getMixedLowerBound()[index]);
    std::optional<int64_t> upper =
        getConstantIntValue(loop.getMixedUpperBound()[index]);
    std::optional<int64_t> step =
        getConstantIntValue(loop.getMixedStep()[index]);
    if (lower && upper && step && *upper - *lower <= *step)
      continue;
    if (llvm::none_of(slice.getOffsets(), [&](Value offset) {
          return dependsOn(offset, inductionVar, loop);
        }))
      return false;
  }
  return true;
}

struct CpuDistributePass : impl::CpuDistributeBase<CpuDistributePass> {
  using Base::Base;

  void runOnOperation() override {
    // Candidates in program order, distributed last first: a consumer's
    // forall absorbs its producers before they would get their own.
    SmallVector<linalg::LinalgOp> candidates;
    for (Operation &op : getOperation().getFunctionBody().getOps())
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op))
        if (linalgOp.hasPureTensorSemantics() && linalgOp.getNumLoops() > 0 &&
            isa<TilingInterface>(&op))
          candidates.push_back(linalgOp);

    llvm::SmallPtrSet<Operation *, 16> fused;
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : llvm::reverse(candidates)) {
      if (fused.contains(op))
        continue;
      FailureOr<std::optional<SmallVector<int64_t>>> pinned =
          readWorkgroupTiles(op);
      if (failed(pinned))
        return signalPassFailure();
      SmallVector<int64_t> tiles =
          *pinned ? **pinned
                  : chooseWorkgroupTiles(op, workgroups, minIterations);
      if (llvm::all_of(tiles, [](int64_t tile) { return tile == 0; }))
        continue;
      op->setAttr(kWorkgroupTilesAttrName,
                  rewriter.getDenseI64ArrayAttr(tiles));
      if (failed(distribute(rewriter, op, tiles, fused)))
        return signalPassFailure();
    }
  }

  LogicalResult distribute(RewriterBase &rewriter, linalg::LinalgOp op,
                           ArrayRef<int64_t> tiles,
                           llvm::SmallPtrSetImpl<Operation *> &fused) {
    scf::SCFTilingOptions tiling;
    tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    tiling.setTileSizes(getAsIndexOpFoldResult(op.getContext(), tiles));
    scf::SCFTileAndFuseOptions options;
    options.setTilingOptions(tiling);
    // The originals of the consumer and of fused producers are replaced only
    // once fusion is over, so their uses are still there.
    llvm::SmallPtrSet<Operation *, 8> absorbed = {op};
    options.setFusionControlFn(
        [&](tensor::ExtractSliceOp slice, OpResult producer, bool)
            -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          auto loop = slice->getParentOfType<scf::ForallOp>();
          if (!loop || !isa<linalg::LinalgOp>(producer.getOwner()) ||
              producer.getOwner()->getNumResults() != 1 ||
              !tileIsPerWorkgroup(slice, loop))
            return std::nullopt;
          // One consumer outside the forall, already absorbed: a producer
          // with several consumers stays whole (fusing it for one consumer
          // would compute it twice).
          int64_t outside = 0;
          for (Operation *user : producer.getUsers()) {
            if (loop->isAncestor(user))
              continue;
            if (!absorbed.contains(user) || ++outside > 1)
              return std::nullopt;
          }
          absorbed.insert(producer.getOwner());
          return scf::SCFTileAndFuseOptions::ControlFnResult{};
        });

    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTileAndFuseResult> result =
        scf::tileConsumerAndFuseProducersUsingSCF(
            rewriter, cast<TilingInterface>(op.getOperation()), options);
    if (failed(result))
      return op->emitOpError(
          "mb-cpu-distribute: tiling into workgroups failed");
    for (OpResult value : op->getResults())
      if (Value replacement = result->replacements.lookup(value))
        rewriter.replaceAllUsesWith(value, replacement);
    // Fused producers are dead now (they had one use); erase them so they
    // are not computed again.
    SmallVector<Operation *> dead = {op};
    for (Operation *producer : result->fusedProducers)
      dead.push_back(producer);
    // Slices the fused tiles replaced still read the originals; without
    // them, the consumer and the fused producers are unused (consumers come
    // before their producers in `dead`).
    for (LoopLikeOpInterface loop : result->loops)
      for (Operation &bodyOp : llvm::make_early_inc_range(
               llvm::reverse(loop->getRegion(0).front())))
        if (isOpTriviallyDead(&bodyOp))
          rewriter.eraseOp(&bodyOp);
    for (Operation *deadOp : dead) {
      fused.insert(deadOp);
      if (deadOp->use_empty())
        rewriter.eraseOp(deadOp);
    }
    return success();
  }
};

} // namespace
} // namespace mbc
