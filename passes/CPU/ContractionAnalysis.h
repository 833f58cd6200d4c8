//===- ContractionAnalysis.h - loops of the CPU contraction kernels -*- C++ -*-===//
//
// Which loops of a linalg contraction carry the register tile of each
// kernel. Shared by the heuristics (SelectKernelConfigs) and the
// transformation (TileAndVectorize), so both agree on what the tiles mean.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CPU_CONTRACTIONANALYSIS_H
#define MBC_PASSES_CPU_CONTRACTIONANALYSIS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mbc {

/// The loop of `map`'s last result, when it is a plain loop index.
std::optional<unsigned> innermostLoop(mlir::AffineMap map);

/// The loops of a two-input contraction `lhs x rhs -> result` that the
/// register kernels are built around.
struct ContractionLoops {
  /// The M loop innermost in the result (rows of the kernel).
  unsigned m;
  /// The N loop innermost in the result (columns of the kernel).
  unsigned n;
  /// The K loop innermost in the left operand (the last K loop if none is).
  unsigned k;
};

/// The outer-product kernel needs the right operand and the result to be
/// contiguous along the same N loop.
std::optional<ContractionLoops> getOuterProductLoops(mlir::linalg::LinalgOp op);

/// The dot-product kernel needs both operands to be contiguous along the
/// same K loop (PyTorch's [N, K] weights read as they are).
std::optional<ContractionLoops> getDotProductLoops(mlir::linalg::LinalgOp op);

/// The unary ops (type conversions) the body applies to the block argument
/// of input `input` before multiplying, outermost last; std::nullopt when
/// the body is not `out + f(lhs) * g(rhs)` on floats.
std::optional<llvm::SmallVector<mlir::Operation *>>
getOperandConversions(mlir::linalg::LinalgOp op, unsigned input);

} // namespace mbc

#endif // MBC_PASSES_CPU_CONTRACTIONANALYSIS_H
