//===- SelectKernelConfigs.cpp - tile sizes for the CPU kernels -----------===//
//
// The heuristics live here and only here: TileAndVectorize applies whatever
// mb.kernel_config says.
//
//===----------------------------------------------------------------------===//
#include "passes/CPU/ContractionAnalysis.h"
#include "passes/CPU/KernelConfig.h"
#include "passes/CPU/Passes.h"

namespace mbc {
#define GEN_PASS_DEF_CPUSELECTKERNELCONFIGS
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Cache tiles of the contraction kernel (rows, columns, reduction): an A
/// block of 128 x 256 and a B block of 256 x 256 f32 stay in L2, the B
/// micro-panel (256 x nr) in L1 (KERNELS.md, measured on these machines).
constexpr int64_t kCacheRows = 128;
constexpr int64_t kCacheColumns = 256;
constexpr int64_t kCacheReduction = 256;
/// Columns per dot-product register tile (rows of a [N, K] weight read at
/// once) and the reduction vector length in registers.
constexpr int64_t kDotProductColumns = 4;
constexpr int64_t kDotProductRegisters = 4;

/// The register budget of one vector width.
struct VectorShape {
  int64_t lanes; // f32 lanes of one register
  int64_t rows;  // mr of the outer-product kernel
  int64_t columns; // nr of the outer-product kernel
};

VectorShape vectorShapeFor(int64_t vectorBits) {
  int64_t lanes = std::max<int64_t>(vectorBits / 32, 4);
  // 16 zmm accumulators (8 x 2 registers) of the 32 AVX-512 registers; with
  // 16 ymm/xmm registers, 8 accumulators (4 x 2).
  if (vectorBits >= 512)
    return {lanes, 8, 2 * lanes};
  return {lanes, 4, 2 * lanes};
}

/// `size` clamped to a loop's static extent (a dynamic extent takes `size`).
int64_t clampToLoop(int64_t size, int64_t extent) {
  if (ShapedType::isDynamic(extent))
    return size;
  return std::min(size, extent);
}

/// A cache tile of `size` for a loop of `extent`: 0 (untiled) when the loop
/// is not longer than the tile.
int64_t cacheTileFor(int64_t size, int64_t extent) {
  if (!ShapedType::isDynamic(extent) && extent <= size)
    return 0;
  return size;
}

/// Outer-product kernel: mr x nr accumulators, one step of K.
KernelConfig outerProductConfig(linalg::LinalgOp op,
                                const ContractionLoops &loops,
                                const VectorShape &shape) {
  SmallVector<int64_t> extents = op.getStaticLoopRanges();
  unsigned numLoops = op.getNumLoops();
  KernelConfig config;
  config.kind = KernelKind::Contraction;
  config.registerTiles.assign(numLoops, 1);
  config.registerTiles[loops.m] = clampToLoop(shape.rows, extents[loops.m]);
  config.registerTiles[loops.n] = clampToLoop(shape.columns, extents[loops.n]);
  config.cacheTiles.assign(numLoops, 1);
  config.cacheTiles[loops.m] = cacheTileFor(kCacheRows, extents[loops.m]);
  config.cacheTiles[loops.n] = cacheTileFor(kCacheColumns, extents[loops.n]);
  config.cacheTiles[loops.k] = cacheTileFor(kCacheReduction, extents[loops.k]);
  // Loops n, k, m innermost (KERNELS.md): the B block is reused across all
  // row blocks while it sits in L2.
  for (unsigned loop = 0; loop < numLoops; ++loop)
    if (loop != loops.m && loop != loops.n && loop != loops.k)
      config.cacheOrder.push_back(loop);
  config.cacheOrder.append({loops.n, loops.k, loops.m});
  return config;
}

/// Dot-product kernel: kDotProductColumns rows of the [N, K] operand at a
/// time, K split into lanes that accumulate separately (one horizontal sum
/// per result at the end). Needs static shapes and a K that the lanes
/// divide.
std::optional<KernelConfig> dotProductConfig(linalg::LinalgOp op,
                                             const ContractionLoops &loops,
                                             const VectorShape &shape) {
  SmallVector<int64_t> extents = op.getStaticLoopRanges();
  int64_t reduction = extents[loops.k];
  if (op.hasDynamicShape() || op.getNumReductionLoops() != 1)
    return std::nullopt;
  int64_t lanes = 0;
  for (int64_t candidate = kDotProductRegisters * shape.lanes; candidate >= 4;
       candidate /= 2)
    if (reduction % candidate == 0) {
      lanes = candidate;
      break;
    }
  if (lanes == 0)
    return std::nullopt;
  KernelConfig config;
  config.kind = KernelKind::DotProduct;
  config.registerTiles.assign(op.getNumLoops(), 1);
  config.registerTiles[loops.n] =
      clampToLoop(kDotProductColumns, extents[loops.n]);
  config.registerTiles[loops.k] = lanes;
  return config;
}

/// Vectors along the innermost loop of the result (elementwise) or of the
/// first input (reductions); a transposing elementwise op gets a square
/// tile, which becomes an in-register transpose.
KernelConfig elementwiseOrReductionConfig(linalg::LinalgOp op,
                                          const VectorShape &shape) {
  SmallVector<int64_t> extents = op.getStaticLoopRanges();
  unsigned numLoops = op.getNumLoops();
  KernelConfig config;
  config.registerTiles.assign(numLoops, 1);
  bool hasReduction = op.getNumReductionLoops() > 0;
  config.kind = hasReduction ? KernelKind::Reduction : KernelKind::Elementwise;

  std::optional<unsigned> resultInner =
      innermostLoop(op.getMatchingIndexingMap(op.getDpsInitOperand(0)));
  // The input of highest rank sets the layout; broadcast operands (biases,
  // row statistics) do not.
  std::optional<unsigned> inputInner;
  unsigned inputRank = 0;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumResults() <= inputRank)
      continue;
    if (std::optional<unsigned> loop = innermostLoop(map)) {
      inputInner = loop;
      inputRank = map.getNumResults();
    }
  }

  if (hasReduction) {
    // Reduce along the input's contiguous loop when it is a reduction loop
    // (row sums, maxima), else vectorize the parallel loop it is.
    std::optional<unsigned> loop = inputInner ? inputInner : resultInner;
    if (!loop)
      return config;
    int64_t lanes = op.getIteratorTypesArray()[*loop] ==
                            utils::IteratorType::reduction
                        ? 4 * shape.lanes
                        : shape.lanes;
    config.registerTiles[*loop] = clampToLoop(lanes, extents[*loop]);
    return config;
  }
  if (resultInner)
    config.registerTiles[*resultInner] =
        clampToLoop(shape.lanes, extents[*resultInner]);
  if (inputInner && resultInner && *inputInner != *resultInner)
    config.registerTiles[*inputInner] =
        clampToLoop(shape.lanes, extents[*inputInner]);
  return config;
}

struct CpuSelectKernelConfigsPass
    : impl::CpuSelectKernelConfigsBase<CpuSelectKernelConfigsPass> {
  using Base::Base;

  void runOnOperation() override {
    VectorShape shape =
        vectorShapeFor(vectorBits > 0 ? vectorBits : hostVectorBits());
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (op->hasAttr(kKernelConfigAttrName) ||
          !(op.hasPureTensorSemantics() || op.hasPureBufferSemantics()) ||
          op.getNumLoops() == 0 ||
          op.getNumDpsInits() != 1)
        return;
      std::optional<KernelConfig> config;
      if (std::optional<ContractionLoops> loops = getOuterProductLoops(op))
        config = outerProductConfig(op, *loops, shape);
      else if (std::optional<ContractionLoops> loops = getDotProductLoops(op))
        config = dotProductConfig(op, *loops, shape);
      if (!config)
        config = elementwiseOrReductionConfig(op, shape);
      setKernelConfig(op, *config);
    });
  }
};

} // namespace
} // namespace mbc
