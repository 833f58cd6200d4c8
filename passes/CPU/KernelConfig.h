//===- KernelConfig.h - the mb.kernel_config attribute ----------*- C++ -*-===//
//
// The tiling decisions for one linalg op on the CPU, recorded on the op as a
// discardable dictionary attribute so the heuristics (SelectKernelConfigs)
// and the transformation (TileAndVectorize) are tested separately:
//
//   mb.kernel_config = {kind = "contraction",
//                       cache_tiles = array<i64: 1, 128, 256, 256>,
//                       cache_order = array<i64: 0, 2, 3, 1>,
//                       register_tiles = array<i64: 1, 8, 32, 1>}
//
// One size per loop of the op; 0 leaves a loop untiled at that level.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CPU_KERNELCONFIG_H
#define MBC_PASSES_CPU_KERNELCONFIG_H

#include "mlir/IR/Operation.h"

namespace mbc {

/// The attribute's name.
inline constexpr llvm::StringLiteral kKernelConfigAttrName = "mb.kernel_config";

/// The register-level kernel an op is vectorized into.
enum class KernelKind {
  /// Outer products: mr x nr accumulators, one step of K per iteration.
  Contraction,
  /// Dot products along a K dimension that is contiguous in both operands.
  DotProduct,
  /// No reduction loop; vectors along the innermost dimension.
  Elementwise,
  /// Reductions that are not contractions (sums, maxima, norms).
  Reduction,
};

struct KernelConfig {
  KernelKind kind = KernelKind::Elementwise;
  /// One size per loop; empty: no cache-level tiling.
  llvm::SmallVector<int64_t> cacheTiles;
  /// Order of the cache tile loops, outermost first (a permutation of the
  /// loops); empty: loop order.
  llvm::SmallVector<int64_t> cacheOrder;
  /// One size per loop.
  llvm::SmallVector<int64_t> registerTiles;
};

llvm::StringRef stringifyKernelKind(KernelKind kind);

/// Writes `config` onto `op` as mb.kernel_config.
void setKernelConfig(mlir::Operation *op, const KernelConfig &config);

/// Reads `op`'s mb.kernel_config: std::nullopt when there is none; failure
/// (with a diagnostic on the op) when it is malformed or its sizes do not
/// match the op's `numLoops` loops.
mlir::FailureOr<std::optional<KernelConfig>>
readKernelConfig(mlir::Operation *op, unsigned numLoops);

/// The widest vector register the host CPU has, in bits: 512 with AVX-512F,
/// 256 with AVX2 and FMA, else 128.
int64_t hostVectorBits();

} // namespace mbc

#endif // MBC_PASSES_CPU_KERNELCONFIG_H
