//===- ContractionAnalysis.cpp - loops of the CPU contraction kernels -----===//
#include "passes/CPU/ContractionAnalysis.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"

using namespace mlir;

namespace mbc {

std::optional<unsigned> innermostLoop(AffineMap map) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  if (auto dim = dyn_cast<AffineDimExpr>(map.getResults().back()))
    return dim.getPosition();
  return std::nullopt;
}

namespace {

struct Operands {
  linalg::ContractionDimensions dims;
  AffineMap lhs, rhs, result;
};

std::optional<Operands> getContractionOperands(linalg::LinalgOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->k.empty() || dims->m.empty() || dims->n.empty())
    return std::nullopt;
  return Operands{*dims, op.getMatchingIndexingMap(op.getDpsInputOperand(0)),
                  op.getMatchingIndexingMap(op.getDpsInputOperand(1)),
                  op.getMatchingIndexingMap(op.getDpsInitOperand(0))};
}

/// The last loop of `candidates` among `map`'s results.
std::optional<unsigned> lastLoopIn(AffineMap map,
                                   ArrayRef<unsigned> candidates) {
  std::optional<unsigned> last;
  for (AffineExpr expr : map.getResults())
    if (auto dim = dyn_cast<AffineDimExpr>(expr))
      if (llvm::is_contained(candidates, dim.getPosition()))
        last = dim.getPosition();
  return last;
}

} // namespace

std::optional<ContractionLoops> getOuterProductLoops(linalg::LinalgOp op) {
  std::optional<Operands> operands = getContractionOperands(op);
  if (!operands)
    return std::nullopt;
  std::optional<unsigned> rhsInner = innermostLoop(operands->rhs);
  std::optional<unsigned> resultInner = innermostLoop(operands->result);
  if (!rhsInner || rhsInner != resultInner ||
      !llvm::is_contained(operands->dims.n, *rhsInner))
    return std::nullopt;
  std::optional<unsigned> m = lastLoopIn(operands->result, operands->dims.m);
  std::optional<unsigned> k = innermostLoop(operands->lhs);
  if (!m)
    return std::nullopt;
  if (!k || !llvm::is_contained(operands->dims.k, *k))
    k = operands->dims.k.back();
  return ContractionLoops{*m, *rhsInner, *k};
}

std::optional<ContractionLoops> getDotProductLoops(linalg::LinalgOp op) {
  std::optional<Operands> operands = getContractionOperands(op);
  if (!operands)
    return std::nullopt;
  std::optional<unsigned> lhsInner = innermostLoop(operands->lhs);
  std::optional<unsigned> rhsInner = innermostLoop(operands->rhs);
  if (!lhsInner || lhsInner != rhsInner ||
      !llvm::is_contained(operands->dims.k, *lhsInner))
    return std::nullopt;
  std::optional<unsigned> m = lastLoopIn(operands->result, operands->dims.m);
  std::optional<unsigned> n = lastLoopIn(operands->result, operands->dims.n);
  if (!m || !n)
    return std::nullopt;
  return ContractionLoops{*m, *n, *lhsInner};
}

std::optional<SmallVector<Operation *>>
getOperandConversions(linalg::LinalgOp op, unsigned input) {
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getNumOperands() != 1)
    return std::nullopt;
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  BlockArgument out = body->getArgument(op.getNumDpsInputs());
  Value product = add.getLhs() == out ? add.getRhs() : add.getLhs();
  if (add.getLhs() != out && add.getRhs() != out)
    return std::nullopt;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  BlockArgument wanted = body->getArgument(input);
  for (Value factor : {mul.getLhs(), mul.getRhs()}) {
    SmallVector<Operation *> conversions;
    Value value = factor;
    while (!isa<BlockArgument>(value)) {
      Operation *def = value.getDefiningOp();
      if (!def || def->getNumOperands() != 1 || def->getNumResults() != 1 ||
          def->getNumRegions() != 0 || def->getBlock() != body)
        break;
      conversions.push_back(def);
      value = def->getOperand(0);
    }
    if (value == wanted) {
      std::reverse(conversions.begin(), conversions.end());
      return conversions;
    }
  }
  return std::nullopt;
}

} // namespace mbc
