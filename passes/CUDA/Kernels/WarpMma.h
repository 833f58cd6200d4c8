//===- WarpMma.h - warp-level m16n8k16 building blocks ----------*- C++ -*-===//
//
// What the mma.sync kernels (GEMM, attention) share: 16-byte cp.async tile
// copies, ldmatrix fragment loads and the m16n8k16 product, with the
// fragment facts they rely on documented in WarpMma.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_WARPMMA_H
#define MBC_PASSES_CUDA_KERNELS_WARPMMA_H

#include "mlir/IR/Builders.h"

#include <utility>

namespace mbc::cuda {

/// Threads of every mma.sync kernel: four warps.
inline constexpr int64_t kWarpMmaThreads = 128;
/// Rows of an ldmatrix/cp.async shared tile are padded by 8 elements (16
/// bytes): the 8 row addresses of one 8x8 matrix then fall into 8 different
/// 16-byte bank groups (row stride = 16 x an odd number of bytes).
inline constexpr int64_t kRowPadElements = 8;

/// Copies a [rows][cols] tile whose origin in `global` is
/// (globalPrefix..., row0, col0) to (tilePrefix..., 0, 0) of `tiles` with
/// 16-byte cp.async (nvgpu.device_async_copy, L1 bypassed), spread over
/// kWarpMmaThreads threads (`tid`); rows * cols must split evenly.
/// `sourceElements`, when set, is the source size of every copy (0 fills
/// zeros). With `rowLimit` / `colLimit` > 0, a 16-byte chunk at or past that
/// global row / column is zero-filled from a clamped, in-bounds address (the
/// caller guarantees whole chunks are in or out). Appends the copies' tokens
/// to `tokens`.
void copyTileAsync(mlir::OpBuilder &b, mlir::Location loc, mlir::Value tid,
                   mlir::Value global, mlir::ValueRange globalPrefix,
                   mlir::Value row0, mlir::Value col0, mlir::Value tiles,
                   mlir::ValueRange tilePrefix, int64_t rows, int64_t cols,
                   mlir::Value sourceElements,
                   llvm::SmallVectorImpl<mlir::Value> &tokens,
                   int64_t rowLimit = 0, int64_t colLimit = 0);

/// Fragment loads and products of one warp; `lane` is the lane id.
class WarpMma {
public:
  WarpMma(mlir::OpBuilder &b, mlir::Location loc, mlir::Type elementType,
          mlir::Value lane);

  /// The A fragment (vector<4x2xT>) of the 16x16 block at (row0, k0) of a
  /// row-major tile (K contiguous).
  mlir::Value loadA(mlir::Value tiles, mlir::ValueRange prefix,
                    mlir::Value row0, mlir::Value k0);
  /// Two B fragments (vector<2x2xT>, n0..n0+7 and n0+8..n0+15) of the 16x16
  /// block at K = k0 of a tile stored [N][K] (K contiguous).
  std::pair<mlir::Value, mlir::Value> loadBFromNK(mlir::Value tiles,
                                                  mlir::ValueRange prefix,
                                                  mlir::Value n0,
                                                  mlir::Value k0);
  /// The same from a tile stored [K][N] (N contiguous), via ldmatrix .trans.
  std::pair<mlir::Value, mlir::Value> loadBFromKN(mlir::Value tiles,
                                                  mlir::ValueRange prefix,
                                                  mlir::Value k0,
                                                  mlir::Value n0);
  /// c + a * b for one m16n8k16 triple (vector<2x2xf32> accumulator).
  mlir::Value mma(mlir::Value a, mlir::Value bFragment, mlir::Value c);
  /// A zero vector<2x2xf32> accumulator.
  mlir::Value zeroAccumulator();

  /// Row g = lane / 4 and column pair 2t = 2 (lane % 4) of the C fragment:
  /// c0, c1 at (g, 2t), (g, 2t + 1); c2, c3 at (g + 8, ...).
  mlir::Value groupRow() const { return laneGroupRow; }
  mlir::Value pairColumn() const { return lanePairColumn; }

private:
  mlir::Value index(int64_t value);
  mlir::Value takeRows(mlir::Value x4, int64_t first);

  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Type elementType;
  mlir::Value lane8, lane16, matrixHigh, matrixOdd;
  mlir::Value laneGroupRow, lanePairColumn;
};

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_WARPMMA_H
