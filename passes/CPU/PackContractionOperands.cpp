//===- PackContractionOperands.cpp - [N, K] weights to [K, N] ------------===//
#include "passes/CPU/ContractionAnalysis.h"
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/CastInterfaces.h"

namespace mbc {
#define GEN_PASS_DEF_CPUPACKCONTRACTIONOPERANDS
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// The single kind of cast the body applies to block argument `arg` (every
/// use is such a cast to the same type), or null.
Operation *uniformCastOf(BlockArgument arg) {
  Operation *first = nullptr;
  for (Operation *user : arg.getUsers()) {
    if (!isa<CastOpInterface>(user) || user->getNumResults() != 1)
      return nullptr;
    if (!first) {
      first = user;
      continue;
    }
    if (user->getName() != first->getName() ||
        user->getResultTypes() != first->getResultTypes())
      return nullptr;
  }
  return first;
}

/// Rewrites `op` to read its right operand from a `[batch..., K..., N...]`
/// copy; fails (changing nothing) when the op does not need or allow it.
LogicalResult packRightOperand(RewriterBase &rewriter, linalg::LinalgOp op,
                               int64_t minRows) {
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->k.empty() || dims->n.empty() || dims->m.empty())
    return failure();
  SmallVector<int64_t> extents = op.getStaticLoopRanges();
  int64_t rows = 1;
  for (unsigned loop : dims->m) {
    // A dynamic extent (a workgroup's share) counts as large.
    if (ShapedType::isDynamic(extents[loop])) {
      rows = minRows;
      break;
    }
    rows *= extents[loop];
  }
  if (rows < minRows)
    return failure();

  OpOperand *lhs = op.getDpsInputOperand(0);
  OpOperand *rhs = op.getDpsInputOperand(1);
  AffineMap rhsMap = op.getMatchingIndexingMap(rhs);
  AffineMap resultMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  std::optional<unsigned> rhsInner = innermostLoop(rhsMap);
  std::optional<unsigned> resultInner = innermostLoop(resultMap);
  if (!rhsInner || !resultInner || !llvm::is_contained(dims->n, *resultInner))
    return failure();
  if (*rhsInner == *resultInner || !rhsMap.isProjectedPermutation())
    return failure();
  auto rhsType = dyn_cast<RankedTensorType>(rhs->get().getType());
  if (!rhsType)
    return failure();

  // The packed layout, as loops: batch and K in the operand's order, then N
  // in the result's order.
  SmallVector<unsigned> packedLoops;
  for (unsigned pos = 0; pos < rhsMap.getNumResults(); ++pos)
    if (llvm::is_contained(dims->batch, rhsMap.getDimPosition(pos)))
      packedLoops.push_back(rhsMap.getDimPosition(pos));
  for (unsigned pos = 0; pos < rhsMap.getNumResults(); ++pos)
    if (llvm::is_contained(dims->k, rhsMap.getDimPosition(pos)))
      packedLoops.push_back(rhsMap.getDimPosition(pos));
  for (AffineExpr expr : resultMap.getResults())
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      if (llvm::is_contained(dims->n, dim.getPosition()))
        packedLoops.push_back(dim.getPosition());
  if (packedLoops.size() != rhsMap.getNumResults())
    return failure();

  Block *body = op.getBlock();
  BlockArgument rhsArg = body->getArgument(rhs->getOperandNumber());
  Operation *cast = uniformCastOf(rhsArg);
  Type packedElement =
      cast ? cast->getResult(0).getType() : rhsType.getElementType();

  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  // Operand position of each packed dimension, for its size.
  SmallVector<unsigned> sourcePositions;
  SmallVector<OpFoldResult> packedSizes;
  for (unsigned loop : packedLoops) {
    unsigned pos = *rhsMap.getResultPosition(rewriter.getAffineDimExpr(loop));
    sourcePositions.push_back(pos);
    packedSizes.push_back(tensor::getMixedSize(rewriter, loc, rhs->get(), pos));
  }
  Value init =
      tensor::EmptyOp::create(rewriter, loc, packedSizes, packedElement);
  unsigned rank = packedLoops.size();
  SmallVector<AffineExpr> sourceExprs(rank);
  for (unsigned packed = 0; packed < rank; ++packed)
    sourceExprs[sourcePositions[packed]] = rewriter.getAffineDimExpr(packed);
  AffineMap sourceMap =
      AffineMap::get(rank, 0, sourceExprs, rewriter.getContext());
  SmallVector<AffineMap> packMaps = {sourceMap,
                                     rewriter.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> packIterators(rank,
                                                 utils::IteratorType::parallel);
  auto pack = linalg::GenericOp::create(
      rewriter, loc, TypeRange{init.getType()}, ValueRange{rhs->get()},
      ValueRange{init}, packMaps, packIterators,
      [&](OpBuilder &builder, Location bodyLoc, ValueRange args) {
        Value element = args[0];
        if (cast) {
          IRMapping mapping;
          mapping.map(rhsArg, element);
          element = builder.clone(*cast, mapping)->getResult(0);
        }
        linalg::YieldOp::create(builder, bodyLoc, element);
      });

  SmallVector<AffineExpr> packedExprs;
  for (unsigned loop : packedLoops)
    packedExprs.push_back(rewriter.getAffineDimExpr(loop));
  AffineMap packedMap =
      AffineMap::get(op.getNumLoops(), 0, packedExprs, rewriter.getContext());
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  maps[rhs->getOperandNumber()] = packedMap;
  SmallVector<Value> inputs = {lhs->get(), pack.getResult(0)};
  SmallVector<Value> outputs = op.getDpsInits();
  auto contraction = linalg::GenericOp::create(
      rewriter, loc, op->getResultTypes(), inputs, outputs, maps,
      op.getIteratorTypesArray(),
      [&](OpBuilder &builder, Location bodyLoc, ValueRange args) {
        IRMapping mapping;
        mapping.map(body->getArguments(), args);
        for (Operation &nested : body->without_terminator()) {
          if (cast && nested.getName() == cast->getName() &&
              nested.getNumOperands() == 1 && nested.getOperand(0) == rhsArg) {
            mapping.map(nested.getResult(0), args[rhs->getOperandNumber()]);
            continue;
          }
          builder.clone(nested, mapping);
        }
        SmallVector<Value> yielded;
        for (Value value : body->getTerminator()->getOperands())
          yielded.push_back(mapping.lookupOrDefault(value));
        linalg::YieldOp::create(builder, bodyLoc, yielded);
      });
  rewriter.replaceOp(op, contraction->getResults());
  return success();
}

struct CpuPackContractionOperandsPass
    : impl::CpuPackContractionOperandsBase<CpuPackContractionOperandsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> contractions;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op.hasPureTensorSemantics() && op.getNumDpsInputs() == 2 &&
          op.getNumDpsInits() == 1 && linalg::isaContractionOpInterface(op))
        contractions.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : contractions)
      (void)packRightOperand(rewriter, op, minRows);
  }
};

} // namespace
} // namespace mbc
