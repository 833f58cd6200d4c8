//===- LocalLayerKernel.cpp - one fused local transformer layer -----------===//
//
// Facts relied on beyond AttentionKernel.cpp's (fragment layouts: WarpMma):
// - A CTA's 64 rows hold floor(64 / S) whole patches of S rows (S the
//   positions), packed: consecutive rows of x. A warp's 16 rows may start
//   inside a patch that an earlier warp began. A query sees keys of its
//   own patch only, at or before it: the warp reads the 16-row key blocks
//   from the one holding its first row's patch start to its own
//   (keyBlocksOf: 1 when S divides 16, so S = Q K^T is one 16 x 16 block
//   and P one A fragment; up to 4).
// - The 64 mod S rows after the whole patches, and the patches past the
//   last sequence (in the last CTA), start as zeros; each is a patch of
//   its own to the mask (row / S), so no real query sees them, and what
//   they compute is finite and never stored.
// - The rows a warp writes in the norms and epilogues are its own 16; it
//   reads other warps' rows in the token shift (the row above) and in
//   attention when its patches began in an earlier warp (k and v). The CTA
//   barriers of the weight pipeline (two per tile) order the writes before the
//   reads, and one more barrier stands before each norm and before attention.
// - Weight tile t lives in stage buffer t % stages; the copy of tile
//   t + stages - 1 is issued at the top of step t, into the buffer step
//   t - 1 read, after that step's closing barrier. Each copy is its own
//   cp.async group, so waiting for tile t leaves min(stages - 1, last - t)
//   groups pending.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/LocalLayerKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/WarpMma.h"
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"

#include <array>
#include <cmath>
#include <functional>
#include <limits>

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kTileRows = 64;  // 4 warps x 16 rows
constexpr int64_t kTileK = 64;     // weight tile depth
constexpr int64_t kHiddenChunk = 64;
constexpr int64_t kSharedAlign = 128;

int64_t alignUp(int64_t value) {
  return llvm::divideCeil(value, kSharedAlign) * kSharedAlign;
}

/// Byte offsets of the shared regions and the total.
struct SharedLayout {
  int64_t x, normalized, attended, scratch, weights, rotary, total;
  int64_t weightRows; // rows of one weight stage buffer
};

/// Padding of the f32 rows that mma fragments touch 8 bytes a lane (the
/// residual stream's, which the projections' epilogues add into; the rotary
/// table's, read as cos/sin pairs): a warp's 128-byte phase covers 4 rows x
/// 32 bytes, and 8 floats of padding put those rows 8 banks apart, so the
/// phase is one wavefront (4 floats overlapped pairs of rows: 2).
constexpr int64_t kFragmentRowPadFloats = 8;

SharedLayout layoutOf(const LocalLayerSpec &spec) {
  int64_t elementBytes = spec.weightType.getIntOrFloatBitWidth() / 8;
  SharedLayout layout;
  layout.weightRows = std::max<int64_t>(spec.headDim, 64);
  int64_t offset = 0;
  auto place = [&](int64_t bytes) {
    int64_t at = offset;
    offset = alignUp(offset + bytes);
    return at;
  };
  layout.x = place(kTileRows * (spec.dim + kFragmentRowPadFloats) * 4);
  layout.normalized =
      place(kTileRows * (spec.dim + kRowPadElements) * elementBytes);
  layout.attended =
      place(kTileRows * (spec.inner() + kRowPadElements) * elementBytes);
  // q, k, v of one head, later the FFN's hidden chunk.
  layout.scratch = place(std::max(
      3 * kTileRows * (spec.headDim + kRowPadElements) * elementBytes,
      kTileRows * (kHiddenChunk + kRowPadElements) * elementBytes));
  layout.weights = place(spec.stages * layout.weightRows *
                         (kTileK + kRowPadElements) * elementBytes);
  // cos and sin [2][patch rows][headDim / 2 + 8] (f32), with rotary.
  layout.rotary = place(spec.rotaryTheta != 0
                            ? 2 * spec.positions *
                                  (spec.headDim / 2 + kFragmentRowPadFloats) * 4
                            : 0);
  layout.total = offset;
  return layout;
}

/// The 16-row key blocks attention reads for each warp: for every warp w,
/// enough to reach back from block w to the start of the patch holding its
/// first row.
int64_t keyBlocksOf(const LocalLayerSpec &spec) {
  int64_t rows = spec.positions, blocks = 1;
  for (int64_t w = 0; w < kTileRows / 16; ++w) {
    int64_t patchStart = 16 * w / rows * rows;
    blocks = std::max(blocks, w - patchStart / 16 + 1);
  }
  return blocks;
}

/// One weight tile of the schedule and what the warps do with it.
struct Step {
  Value weight;        // [rows, K] global weight
  int64_t row0, col0;  // tile origin in `weight`
  int64_t rows;        // tile rows (the product's N)
  Value operand;       // shared A tile [64][K' + 8]
  int64_t operandCol;  // K offset of this tile in `operand`
  bool first = false;  // starts a product (zero accumulators)
  std::function<void(ArrayRef<Value>)> epilogue; // set on a product's last
};

class LocalLayerBuilder {
public:
  /// One layer's parameters (wv is wk's value with fused k and v).
  struct LayerWeights {
    Value norm1Weight, norm1Bias, wq, wk, wv, wo, norm2Weight, norm2Bias,
        upWeight, upBias, downWeight, downBias;
  };
  LocalLayerBuilder(OpBuilder &b, Location loc, const LocalLayerSpec &spec,
                    Block &entry)
      : b(b), loc(loc), spec(spec), f32(b.getF32Type()),
        elementType(spec.weightType) {
    unsigned next = 0;
    if (spec.input) {
      context = entry.getArgument(next++);
      bytes = entry.getArgument(next++);
      table = entry.getArgument(next++);
      startToken = entry.getArgument(next++);
    } else {
      x = entry.getArgument(next++);
    }
    for (int64_t l = 0; l < spec.layers; ++l) {
      LayerWeights w;
      w.norm1Weight = entry.getArgument(next++);
      if (spec.norm == NormKind::Layer)
        w.norm1Bias = entry.getArgument(next++);
      w.wq = entry.getArgument(next++);
      w.wk = entry.getArgument(next++);
      w.wv = spec.fusedKeyValue ? w.wk : entry.getArgument(next++);
      w.wo = entry.getArgument(next++);
      w.norm2Weight = entry.getArgument(next++);
      if (spec.norm == NormKind::Layer)
        w.norm2Bias = entry.getArgument(next++);
      w.upWeight = entry.getArgument(next++);
      w.upBias = entry.getArgument(next++);
      w.downWeight = entry.getArgument(next++);
      w.downBias = entry.getArgument(next++);
      layers.push_back(w);
    }
    out = entry.getArgument(next++);
  }

  void build() {
    int64_t dim = spec.dim, headDim = spec.headDim, inner = spec.inner();
    tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value warp = arith::DivUIOp::create(b, loc, tid, index(32));
    lane = arith::RemUIOp::create(b, loc, tid, index(32));
    warpRow = arith::MulIOp::create(b, loc, warp, index(16));
    firstPatch = arith::MulIOp::create(
        b, loc, gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
        index(spec.patchesPerTile()));
    warpMma.emplace(b, loc, elementType, lane);

    // Shared regions.
    SharedLayout layout = layoutOf(spec);
    Value shared = createDynamicShared(b, loc);
    auto view = [&](int64_t offset, ArrayRef<int64_t> shape, Type type) {
      return viewShared(b, loc, shared, index(offset), shape, type);
    };
    int64_t padded = kRowPadElements;
    int64_t scratchHead = kTileRows * (headDim + padded) *
                          (elementType.getIntOrFloatBitWidth() / 8);
    xs = view(layout.x, {kTileRows, dim + kFragmentRowPadFloats}, f32);
    normalized = view(layout.normalized, {kTileRows, dim + padded}, elementType);
    attended = view(layout.attended, {kTileRows, inner + padded}, elementType);
    qs = view(layout.scratch, {kTileRows, headDim + padded}, elementType);
    ks = view(layout.scratch + scratchHead, {kTileRows, headDim + padded},
              elementType);
    vs = view(layout.scratch + 2 * scratchHead, {kTileRows, headDim + padded},
              elementType);
    hiddenTile =
        view(layout.scratch, {kTileRows, kHiddenChunk + padded}, elementType);
    weightTiles =
        view(layout.weights,
             {spec.stages, layout.weightRows, kTileK + padded}, elementType);
    if (spec.rotaryTheta != 0)
      rotaryTable =
          view(layout.rotary,
               {2, spec.positions, headDim / 2 + kFragmentRowPadFloats}, f32);

    std::vector<Step> steps = schedule();
    int64_t last = static_cast<int64_t>(steps.size()) - 1;
    for (int64_t t = 0; t < std::min<int64_t>(spec.stages - 1, last + 1); ++t)
      issue(steps[t], t);
    loadRows();
    if (rotaryTable)
      fillRotaryTable();
    gpu::BarrierOp::create(b, loc);
    normalize(layers.front().norm1Weight, layers.front().norm1Bias);

    SmallVector<Value> accumulators;
    for (int64_t t = 0; t <= last; ++t) {
      const Step &step = steps[t];
      if (t + spec.stages - 1 <= last)
        issue(steps[t + spec.stages - 1], t + spec.stages - 1);
      int64_t pending = std::min<int64_t>(spec.stages - 1, last - t);
      nvgpu::DeviceAsyncWaitOp::create(b, loc, lastGroup,
                                       b.getI32IntegerAttr(pending));
      gpu::BarrierOp::create(b, loc);
      if (step.first)
        accumulators.assign(step.rows / 8, warpMma->zeroAccumulator());
      Value stage = index(t % spec.stages);
      for (int64_t kk = 0; kk < kTileK / 16; ++kk) {
        Value a = warpMma->loadA(step.operand, {}, warpRow,
                                 index(step.operandCol + 16 * kk));
        for (int64_t n = 0; n < step.rows / 16; ++n) {
          auto [low, high] = warpMma->loadBFromNK(weightTiles, stage,
                                                  index(16 * n), index(16 * kk));
          accumulators[2 * n] = warpMma->mma(a, low, accumulators[2 * n]);
          accumulators[2 * n + 1] =
              warpMma->mma(a, high, accumulators[2 * n + 1]);
        }
      }
      if (step.epilogue)
        step.epilogue(accumulators);
      gpu::BarrierOp::create(b, loc);
    }
    storeRows();
  }

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value constantF32(double value) {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  }
  Value add(Value value, int64_t constant) {
    return arith::AddIOp::create(b, loc, value, index(constant));
  }
  Value add(Value lhs, Value rhs) {
    return arith::AddIOp::create(b, loc, lhs, rhs);
  }

  /// The weight tiles in order with their products' epilogues.
  std::vector<Step> schedule() {
    int64_t dim = spec.dim, headDim = spec.headDim, inner = spec.inner();
    std::vector<Step> steps;
    // out[N] = operand[:, 0:K] weight[row0 : row0 + N, col0 : col0 + K]^T
    auto product = [&](Value weight, int64_t row0, int64_t col0, int64_t rows,
                       int64_t depth, Value operand, int64_t operandCol,
                       std::function<void(ArrayRef<Value>)> epilogue) {
      for (int64_t k = 0; k < depth; k += kTileK) {
        Step step;
        step.weight = weight;
        step.row0 = row0;
        step.col0 = col0 + k;
        step.rows = rows;
        step.operand = operand;
        step.operandCol = operandCol + k;
        step.first = k == 0;
        if (k + kTileK >= depth)
          step.epilogue = epilogue;
        steps.push_back(std::move(step));
      }
    };
    int64_t valueRow0 = spec.fusedKeyValue ? inner : 0;
    for (int64_t l = 0; l < spec.layers; ++l) {
      const LayerWeights &w = layers[l];
      appendLayer(product, w, dim, headDim, inner, valueRow0);
      if (l + 1 == spec.layers)
        break;
      // The next layer starts from this one's residual stream: its down
      // bias added to every row (storeRows adds the last layer's), then
      // the next layer's first norm, after the last down product.
      const LayerWeights &nextLayer = layers[l + 1];
      std::function<void(ArrayRef<Value>)> last = steps.back().epilogue;
      steps.back().epilogue = [this, last, &w,
                               &nextLayer](ArrayRef<Value> acc) {
        last(acc);
        gpu::BarrierOp::create(b, loc);
        addBias(w.downBias);
        gpu::BarrierOp::create(b, loc);
        normalize(nextLayer.norm1Weight, nextLayer.norm1Bias);
      };
    }
    return steps;
  }

  /// One layer's steps (schedule()'s `product` appends them).
  template <typename Product>
  void appendLayer(Product &product, const LayerWeights &w, int64_t dim,
                   int64_t headDim, int64_t inner, int64_t valueRow0) {
    for (int64_t h = 0; h < spec.heads; ++h) {
      product(
          w.wq, h * headDim, 0, headDim, dim, normalized, 0,
          [this](ArrayRef<Value> acc) { storeRounded(rotate(acc), qs, 0); });
      product(
          w.wk, h * headDim, 0, headDim, dim, normalized, 0,
          [this](ArrayRef<Value> acc) { storeRounded(rotate(acc), ks, 0); });
      product(w.wv, valueRow0 + h * headDim, 0, headDim, dim, normalized, 0,
              [this, h](ArrayRef<Value> acc) {
                storeRounded(acc, vs, 0);
                gpu::BarrierOp::create(b, loc);
                attend(h);
              });
    }
    for (int64_t n0 = 0; n0 < dim; n0 += 64) {
      bool lastColumns = n0 + 64 >= dim;
      product(w.wo, n0, 0, 64, inner, attended, 0,
              [this, n0, lastColumns, &w](ArrayRef<Value> acc) {
                accumulateInto(acc, n0);
                if (lastColumns) {
                  gpu::BarrierOp::create(b, loc);
                  normalize(w.norm2Weight, w.norm2Bias);
                }
              });
    }
    for (int64_t c0 = 0; c0 < spec.hidden; c0 += kHiddenChunk) {
      product(
          w.upWeight, c0, 0, kHiddenChunk, dim, normalized, 0,
          [this, c0, &w](ArrayRef<Value> acc) { activate(acc, c0, w.upBias); });
      for (int64_t n0 = 0; n0 < dim; n0 += 64)
        product(w.downWeight, n0, c0, 64, kHiddenChunk, hiddenTile, 0,
                [this, n0](ArrayRef<Value> acc) { accumulateInto(acc, n0); });
    }
  }

  void issue(const Step &step, int64_t t) {
    SmallVector<Value> tokens;
    copyTileAsync(b, loc, tid, step.weight, {}, index(step.row0),
                  index(step.col0), weightTiles, index(t % spec.stages),
                  step.rows, kTileK, Value(), tokens);
    lastGroup = nvgpu::DeviceAsyncCreateGroupOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tokens);
  }

  /// Row `row` of the tile (0..63): whether it is a position of a real
  /// patch (not a row after the tile's whole patches, nor one of a patch
  /// past the last), and its row in x / out (0 when not). The tile's
  /// patches are consecutive rows of x.
  std::pair<Value, Value> globalRow(Value row) {
    int64_t used = spec.patchesPerTile() * spec.positions;
    Value patch = add(
        firstPatch, arith::DivUIOp::create(b, loc, row, index(spec.positions)));
    Value valid = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                              index(used)),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, patch,
                              index(spec.sequences)));
    Value real = add(
        arith::MulIOp::create(b, loc, firstPatch, index(spec.positions)), row);
    return {valid, arith::SelectOp::create(b, loc, valid, real, index(0))};
  }

  /// The iterations of `body(row, column)` over the tile's rows, 4 f32
  /// columns per thread and iteration.
  void forEachRowQuad(function_ref<void(Value, Value)> body) {
    int64_t quads = spec.dim / 4;
    auto loop = scf::ForOp::create(b, loc, index(0),
                                   index(kTileRows * quads / kWarpMmaThreads),
                                   index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value item = add(
        arith::MulIOp::create(b, loc, loop.getInductionVar(),
                              index(kWarpMmaThreads)),
        tid);
    Value row = arith::DivUIOp::create(b, loc, item, index(quads));
    Value column = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, item, index(quads)), index(4));
    body(row, column);
  }

  /// The input rows -> xs (zeros for padded rows): x's, or built from the
  /// bytes, the embedding table, the start token and the context rows.
  void loadRows() {
    auto quad = VectorType::get({4}, f32);
    forEachRowQuad([&](Value row, Value column) {
      auto [valid, source] = globalRow(row);
      Value value = spec.input
                        ? buildInputQuad(source, column)
                        : vector::LoadOp::create(b, loc, quad, x,
                                                 ValueRange{source, column},
                                                 false, llvm::MaybeAlign(16))
                              .getResult();
      Value zeros = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(quad, 0.0f));
      value = arith::SelectOp::create(b, loc, valid, value, zeros);
      vector::StoreOp::create(b, loc, value, xs, ValueRange{row, column});
    });
  }

  /// Columns column..column+3 of input row `source` (n S + p; 0 for a
  /// padded row, which reads the start token): the start token at p = 0,
  /// else embedding[bytes[n, p - 1]] + context[n + n / K, (p - 1) D + ...].
  /// A byte past the table reads its last row (the runtime rejects such
  /// bytes before any kernel runs; this only keeps the read in bounds).
  Value buildInputQuad(Value source, Value column) {
    const LocalInputSpec &input = *spec.input;
    auto quad = VectorType::get({4}, f32);
    Value patch = arith::DivUIOp::create(b, loc, source, index(spec.positions));
    Value position =
        arith::RemUIOp::create(b, loc, source, index(spec.positions));
    Value atStart = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          position, index(0));
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{quad}, atStart,
                                  /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    scf::YieldOp::create(b, loc, loadWidened(b, loc, startToken, column, 4));
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    Value before = arith::SubIOp::create(b, loc, position, index(1));
    Value byte =
        memref::LoadOp::create(b, loc, bytes, ValueRange{patch, before});
    Value row = arith::MinUIOp::create(
        b, loc, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), byte),
        index(input.vocabulary - 1));
    Value embedded = loadWidened(b, loc, table, ValueRange{row, column}, 4);
    Value contextRow =
        add(patch, arith::DivUIOp::create(b, loc, patch,
                                          index(input.patchesPerSequence)));
    Value contextColumn =
        add(arith::MulIOp::create(b, loc, before, index(spec.dim)), column);
    Value projected = vector::LoadOp::create(
        b, loc, quad, context, ValueRange{contextRow, contextColumn}, false,
        llvm::MaybeAlign(16));
    scf::YieldOp::create(
        b, loc, arith::AddFOp::create(b, loc, embedded, projected).getResult());
    return ifOp.getResult(0);
  }

  /// out = xs + down_bias for the real rows.
  void storeRows() {
    auto quad = VectorType::get({4}, f32);
    forEachRowQuad([&](Value row, Value column) {
      auto [valid, target] = globalRow(row);
      auto ifOp = scf::IfOp::create(b, loc, valid, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&ifOp.getThenRegion().front());
      Value value = vector::LoadOp::create(b, loc, quad, xs,
                                           ValueRange{row, column});
      Value bias = loadWidened(b, loc, layers.back().downBias, column, 4);
      value = arith::AddFOp::create(b, loc, value, bias);
      vector::StoreOp::create(b, loc, value, out, ValueRange{target, column},
                              false, llvm::MaybeAlign(16));
    });
  }

  /// xs += bias (a layer's down bias) on every row, between chained
  /// layers.
  void addBias(Value bias) {
    auto quad = VectorType::get({4}, f32);
    forEachRowQuad([&](Value row, Value column) {
      Value value =
          vector::LoadOp::create(b, loc, quad, xs, ValueRange{row, column});
      value = arith::AddFOp::create(b, loc, value,
                                    loadWidened(b, loc, bias, column, 4));
      vector::StoreOp::create(b, loc, value, xs, ValueRange{row, column});
    });
  }

  /// normalized[r] = 16-bit norm(shift(xs)[r]) for the warp's 16 rows;
  /// lanes own feature pairs 2 lane + 64 j.
  void normalize(Value weight, Value bias) {
    int64_t dim = spec.dim, pairs = dim / 64;
    auto pairType = VectorType::get({2}, f32);
    Value laneColumn = arith::MulIOp::create(b, loc, lane, index(2));
    SmallVector<Value> columns, weights, biases;
    for (int64_t j = 0; j < pairs; ++j) {
      Value column = add(laneColumn, 64 * j);
      columns.push_back(column);
      weights.push_back(loadWidened(b, loc, weight, column, 2));
      if (bias)
        biases.push_back(loadWidened(b, loc, bias, column, 2));
    }
    auto loop = scf::ForOp::create(b, loc, index(0), index(16), index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value row = add(warpRow, loop.getInductionVar());
    Value firstPosition = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, loc, row, index(spec.positions)), index(0));
    Value zeros =
        arith::ConstantOp::create(b, loc, DenseElementsAttr::get(pairType, 0.0f));
    SmallVector<Value> values;
    for (int64_t j = 0; j < pairs; ++j) {
      Value source = row;
      Value hidden;
      if (spec.tokenShift)
        std::tie(source, hidden) =
            buildTokenShiftSource(b, loc, row, columns[j], firstPosition, dim);
      Value value = vector::LoadOp::create(b, loc, pairType, xs,
                                           ValueRange{source, columns[j]});
      if (hidden)
        value = arith::SelectOp::create(b, loc, hidden, zeros, value);
      values.push_back(value);
    }
    SmallVector<Value> ys = buildWarpRowNorm(b, loc, values, weights, biases,
                                             spec.norm, spec.epsilon, dim);
    auto roundedPair = VectorType::get({2}, elementType);
    for (int64_t j = 0; j < pairs; ++j)
      vector::StoreOp::create(
          b, loc, arith::TruncFOp::create(b, loc, roundedPair, ys[j]),
          normalized, ValueRange{row, columns[j]});
  }

  /// Calls `body(row, column, pair)` for the C-fragment pairs of a warp's
  /// product: rows warpRow + g (+ 8), columns 8 j + 2 t (tile-relative).
  void forEachPair(ArrayRef<Value> acc,
                   function_ref<void(Value, Value, Value)> body) {
    for (int64_t j = 0; j < static_cast<int64_t>(acc.size()); ++j)
      for (int64_t r = 0; r < 2; ++r) {
        Value row = add(add(warpRow, warpMma->groupRow()), 8 * r);
        Value column = add(warpMma->pairColumn(), 8 * j);
        body(row, column,
             vector::ExtractOp::create(b, loc, acc[j], ArrayRef<int64_t>{r}));
      }
  }

  /// cos and sin of position p x inv_freq[i] for every position of a
  /// patch and i < headDim / 2, computed once per CTA
  /// (buildRotaryInverseFrequency: relative error ~2^-22, far below the
  /// bf16 rounding of q and k that follows).
  void fillRotaryTable() {
    int64_t halfDim = spec.headDim / 2;
    int64_t entries = spec.positions * halfDim;
    auto loop = scf::ForOp::create(b, loc, tid, index(entries),
                                   index(kWarpMmaThreads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value entry = loop.getInductionVar();
    Value position = arith::DivUIOp::create(b, loc, entry, index(halfDim));
    Value i = arith::RemUIOp::create(b, loc, entry, index(halfDim));
    auto toFloat = [&](Value value) {
      return arith::UIToFPOp::create(
          b, loc, f32,
          arith::IndexCastUIOp::create(b, loc, b.getI32Type(), value));
    };
    Value frequency = buildRotaryInverseFrequency(
        b, loc, toFloat(i), spec.headDim, spec.rotaryTheta);
    Value angle = arith::MulFOp::create(b, loc, toFloat(position), frequency);
    memref::StoreOp::create(b, loc, math::CosOp::create(b, loc, angle),
                            rotaryTable, ValueRange{index(0), position, i});
    memref::StoreOp::create(b, loc, math::SinOp::create(b, loc, angle),
                            rotaryTable, ValueRange{index(1), position, i});
  }

  /// Rotary on one head's q or k fragments (f32, before rounding): column
  /// i < dh / 2 pairs with i + dh / 2, which is the same lane's element of
  /// fragment j + dh / 16; the angle is position x inv_freq[i], position
  /// the row's place in its patch.
  SmallVector<Value> rotate(ArrayRef<Value> acc) {
    SmallVector<Value> out(acc);
    if (!rotaryTable)
      return out;
    int64_t half = spec.headDim / 16;
    auto pairType = VectorType::get({2}, f32);
    for (int64_t r = 0; r < 2; ++r) {
      Value row = add(add(warpRow, warpMma->groupRow()), 8 * r);
      Value position =
          arith::RemUIOp::create(b, loc, row, index(spec.positions));
      for (int64_t j = 0; j < half; ++j) {
        Value column = add(warpMma->pairColumn(), 8 * j);
        Value cos = vector::LoadOp::create(
            b, loc, pairType, rotaryTable,
            ValueRange{index(0), position, column});
        Value sin = vector::LoadOp::create(
            b, loc, pairType, rotaryTable,
            ValueRange{index(1), position, column});
        int64_t at[1] = {r};
        Value x1 = vector::ExtractOp::create(b, loc, acc[j], at);
        Value x2 = vector::ExtractOp::create(b, loc, acc[j + half], at);
        Value y1 = arith::SubFOp::create(
            b, loc, arith::MulFOp::create(b, loc, x1, cos),
            arith::MulFOp::create(b, loc, x2, sin));
        Value y2 = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, x2, cos),
            arith::MulFOp::create(b, loc, x1, sin));
        out[j] = vector::InsertOp::create(b, loc, y1, out[j], at);
        out[j + half] = vector::InsertOp::create(b, loc, y2, out[j + half], at);
      }
    }
    return out;
  }

  void storeRounded(ArrayRef<Value> acc, Value tile, int64_t column0) {
    auto roundedPair = VectorType::get({2}, elementType);
    forEachPair(acc, [&](Value row, Value column, Value pair) {
      vector::StoreOp::create(
          b, loc, arith::TruncFOp::create(b, loc, roundedPair, pair), tile,
          ValueRange{row, add(column, column0)});
    });
  }

  /// xs[:, n0 + ...] += the product (residual adds).
  void accumulateInto(ArrayRef<Value> acc, int64_t n0) {
    auto pairType = VectorType::get({2}, f32);
    forEachPair(acc, [&](Value row, Value column, Value pair) {
      Value at = add(column, n0);
      Value old = vector::LoadOp::create(b, loc, pairType, xs,
                                         ValueRange{row, at});
      vector::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, pair),
                              xs, ValueRange{row, at});
    });
  }

  /// The hidden chunk at c0: act(product + up_bias), rounded.
  void activate(ArrayRef<Value> acc, int64_t c0, Value upBias) {
    auto pairType = VectorType::get({2}, f32);
    auto roundedPair = VectorType::get({2}, elementType);
    forEachPair(acc, [&](Value row, Value column, Value pair) {
      Value bias = loadWidened(b, loc, upBias, add(column, c0), 2);
      Value value = arith::AddFOp::create(b, loc, pair, bias);
      switch (spec.activation) {
      case Activation::Relu:
        value = arith::MaximumFOp::create(
            b, loc, value,
            arith::ConstantOp::create(b, loc,
                                      DenseElementsAttr::get(pairType, 0.0f)));
        break;
      case Activation::GeluErf:
      case Activation::GeluTanh:
        value = buildGelu(b, loc, value,
                          spec.activation == Activation::GeluTanh);
        break;
      case Activation::None:
        break;
      }
      vector::StoreOp::create(b, loc,
                              arith::TruncFOp::create(b, loc, roundedPair,
                                                      value),
                              hiddenTile, ValueRange{row, column});
    });
  }

  /// Attention of head h for the warp's 16 rows: qs, ks, vs -> attended
  /// columns h * headDim... The keys are keyBlocksOf() 16-row blocks that
  /// end with the warp's own (or, for the first warps, start at row 0):
  /// they reach back to the start of the patch of the warp's first row. Keys outside a query's patch or after
  /// it are masked; a wholly masked block's zero probabilities add nothing.
  void attend(int64_t h) {
    int64_t headDim = spec.headDim, positions = spec.positions;
    int64_t keyBlocks = keyBlocksOf(spec);
    double scale = spec.scale != 0 ? spec.scale : 1.0 / std::sqrt(headDim);
    Value scaleLog2e = constantF32(scale * M_LOG2E);
    Value negativeInfinity =
        constantF32(-std::numeric_limits<float>::infinity());
    // max(warpRow - 16 (keyBlocks - 1), 0): the blocks stay in the tile.
    int64_t back = 16 * (keyBlocks - 1);
    Value firstKey =
        back == 0 ? warpRow
                  : arith::SelectOp::create(
                        b, loc,
                        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                              warpRow, index(back)),
                        arith::SubIOp::create(b, loc, warpRow, index(back)),
                        index(0));
    auto keyRow = [&](int64_t block) { return add(firstKey, 16 * block); };
    // scores[2 kb + n]: keys 16 kb + 8 n...
    SmallVector<Value> scores(2 * keyBlocks, warpMma->zeroAccumulator());
    for (int64_t d = 0; d < headDim / 16; ++d) {
      Value query = warpMma->loadA(qs, {}, warpRow, index(16 * d));
      for (int64_t kb = 0; kb < keyBlocks; ++kb) {
        auto [low, high] =
            warpMma->loadBFromNK(ks, {}, keyRow(kb), index(16 * d));
        scores[2 * kb] = warpMma->mma(query, low, scores[2 * kb]);
        scores[2 * kb + 1] = warpMma->mma(query, high, scores[2 * kb + 1]);
      }
    }
    // s[j][r][c]: query row warpRow + g + 8 r, key row firstKey + 8 j +
    // 2 t + c (tile rows).
    SmallVector<std::array<std::array<Value, 2>, 2>> s(2 * keyBlocks);
    Value rowSum[2];
    for (int64_t r = 0; r < 2; ++r) {
      Value query = add(add(warpRow, warpMma->groupRow()), 8 * r);
      Value queryPatch =
          arith::DivUIOp::create(b, loc, query, index(positions));
      Value max = negativeInfinity;
      for (int64_t j = 0; j < 2 * keyBlocks; ++j)
        for (int64_t c = 0; c < 2; ++c) {
          Value key = add(add(firstKey, warpMma->pairColumn()), 8 * j + c);
          Value visible = arith::AndIOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, key,
                                    query),
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq,
                  arith::DivUIOp::create(b, loc, key, index(positions)),
                  queryPatch));
          Value value = arith::MulFOp::create(
              b, loc,
              vector::ExtractOp::create(b, loc, scores[j],
                                        ArrayRef<int64_t>{r, c}),
              scaleLog2e);
          s[j][r][c] =
              arith::SelectOp::create(b, loc, visible, value, negativeInfinity);
          max = arith::MaxNumFOp::create(b, loc, max, s[j][r][c]);
        }
      // Every query sees its own key: the max is finite.
      Value rowMax = buildXorReduce(b, loc, max, {1, 2}, /*isMax=*/true);
      Value sum = constantF32(0);
      for (int64_t j = 0; j < 2 * keyBlocks; ++j)
        for (int64_t c = 0; c < 2; ++c) {
          s[j][r][c] = buildExp2Approx(
              b, loc, arith::SubFOp::create(b, loc, s[j][r][c], rowMax));
          sum = arith::AddFOp::create(b, loc, sum, s[j][r][c]);
        }
      rowSum[r] = buildXorReduce(b, loc, sum, {1, 2}, /*isMax=*/false);
    }
    SmallVector<Value> output(headDim / 8, warpMma->zeroAccumulator());
    for (int64_t kb = 0; kb < keyBlocks; ++kb) {
      // Keys 16 kb... as one A fragment.
      SmallVector<Value> elements;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t r = 0; r < 2; ++r)
          for (int64_t c = 0; c < 2; ++c)
            elements.push_back(arith::TruncFOp::create(b, loc, elementType,
                                                       s[2 * kb + n][r][c]));
      Value probabilities = vector::FromElementsOp::create(
          b, loc, VectorType::get({4, 2}, elementType), elements);
      for (int64_t d = 0; d < headDim / 16; ++d) {
        auto [low, high] =
            warpMma->loadBFromKN(vs, {}, keyRow(kb), index(16 * d));
        output[2 * d] = warpMma->mma(probabilities, low, output[2 * d]);
        output[2 * d + 1] =
            warpMma->mma(probabilities, high, output[2 * d + 1]);
      }
    }
    Value inverse[2];
    for (int64_t r = 0; r < 2; ++r)
      inverse[r] = arith::DivFOp::create(b, loc, constantF32(1), rowSum[r]);
    Value rescale = vector::FromElementsOp::create(
        b, loc, VectorType::get({2, 2}, f32),
        ValueRange{inverse[0], inverse[0], inverse[1], inverse[1]});
    for (Value &fragment : output)
      fragment = arith::MulFOp::create(b, loc, fragment, rescale);
    storeRounded(output, attended, h * headDim);
  }

  OpBuilder &b;
  Location loc;
  const LocalLayerSpec &spec;
  Type f32, elementType;
  Value x, out;
  Value context, bytes, table, startToken; // with an input spec
  SmallVector<LayerWeights, 4> layers; // filled once, before schedule()
  Value tid, lane, warpRow, firstPatch;
  Value lastGroup; // the newest cp.async group (waits name one)
  Value xs, normalized, attended, qs, ks, vs, hiddenTile, weightTiles;
  Value rotaryTable; // [2][patch rows][headDim / 2 + 8] f32, with rotary
  std::optional<WarpMma> warpMma;
};

} // namespace

int64_t LocalLayerSpec::patchesPerTile() const {
  return kTileRows / std::max<int64_t>(positions, 1);
}

int64_t LocalLayerSpec::weightTiles() const {
  int64_t depth = dim / kTileK;
  return layers * (3 * heads * depth + (dim / 64) * (inner() / kTileK) +
                   (hidden / kHiddenChunk) * (depth + dim / 64));
}

int64_t LocalLayerSpec::sharedBytes() const { return layoutOf(*this).total; }

LogicalResult
verifyLocalLayerSpec(const LocalLayerSpec &spec,
                     function_ref<InFlightDiagnostic()> emitError) {
  if (!spec.weightType ||
      !(spec.weightType.isBF16() || spec.weightType.isF16()))
    return failSpec(emitError, "local layer weights must be bf16 or f16");
  if (spec.sequences <= 0 || spec.positions <= 0 || spec.heads <= 0)
    return failSpec(emitError,
                    "local layer sizes must be positive, got sequences = " +
                        Twine(spec.sequences) + ", positions = " +
                        Twine(spec.positions) + ", heads = " +
                        Twine(spec.heads));
  if (spec.positions > kTileRows)
    return failSpec(emitError, "positions = " + Twine(spec.positions) +
                                   " is not supported (a patch must fit the "
                                   "CTA's " +
                                   Twine(kTileRows) + " rows)");
  if (spec.dim <= 0 || spec.dim % 64 != 0)
    return failSpec(emitError, "dim = " + Twine(spec.dim) +
                                   " is not supported (a positive multiple "
                                   "of 64)");
  if (spec.headDim % 16 != 0 || spec.headDim < 16 || spec.headDim > 128)
    return failSpec(emitError, "head-dim = " + Twine(spec.headDim) +
                                   " is not supported (a multiple of 16 "
                                   "from 16 to 128)");
  if (spec.inner() % 64 != 0)
    return failSpec(emitError, "heads x head-dim = " + Twine(spec.inner()) +
                                   " is not a multiple of 64");
  if (spec.hidden <= 0 || spec.hidden % kHiddenChunk != 0)
    return failSpec(emitError, "hidden = " + Twine(spec.hidden) +
                                   " is not a positive multiple of 64");
  if (spec.stages < 2 || spec.stages > 4)
    return failSpec(emitError, "stages = " + Twine(spec.stages) +
                                   " is not supported (2 to 4)");
  if (spec.epsilon <= 0)
    return failSpec(emitError, "the norm epsilon must be positive");
  if (spec.vectorType && !(spec.vectorType.isF32() ||
                           spec.vectorType.isBF16() || spec.vectorType.isF16()))
    return failSpec(emitError, "local layer norm weights and biases must be "
                               "f32, bf16 or f16");
  if (spec.rotaryTheta < 0)
    return failSpec(emitError, "rotary theta must be positive (0: none)");
  if (spec.layers < 1)
    return failSpec(emitError,
                    "layers = " + Twine(spec.layers) + " must be at least 1");
  if (spec.weightTiles() > kMaxLocalLayerWeightTiles)
    return failSpec(emitError,
                    "the layer streams " + Twine(spec.weightTiles()) +
                        " weight tiles (more than " +
                        Twine(kMaxLocalLayerWeightTiles) +
                        " unrolled): too large for one fused kernel");
  if (const std::optional<LocalInputSpec> &input = spec.input) {
    auto isFloat = [](mlir::Type type) {
      return type && (type.isF32() || type.isBF16() || type.isF16());
    };
    if (!isFloat(input->tableType) || !isFloat(input->startType))
      return failSpec(emitError, "the local input's embedding table and start "
                                 "token must be f32, bf16 or f16");
    if (input->vocabulary <= 0)
      return failSpec(emitError, "the local input's vocabulary must be "
                                 "positive, got " +
                                     Twine(input->vocabulary));
    if (spec.positions < 2)
      return failSpec(emitError, "the local input needs positions >= 2 (the "
                                 "start token and at least one byte)");
    if (input->patchesPerSequence <= 0 ||
        spec.sequences % input->patchesPerSequence != 0)
      return failSpec(emitError,
                      "the local input's patches per sequence (" +
                          Twine(input->patchesPerSequence) +
                          ") must divide sequences = " + Twine(spec.sequences));
  }
  int64_t shared = spec.sharedBytes();
  if (shared > kMaxDynamicSharedBytes)
    return failSpec(emitError, "the layer's tiles need " + Twine(shared) +
                                   " bytes of shared memory (more than " +
                                   Twine(kMaxDynamicSharedBytes) + ")");
  return success();
}

SmallVector<std::string> localLayerParamNames(const LocalLayerSpec &spec) {
  bool layer = spec.norm == NormKind::Layer;
  SmallVector<std::string> names;
  if (spec.input)
    names.append({"context", "bytes", "embedding", "start_token"});
  else
    names.push_back("x");
  for (int64_t l = 0; l < spec.layers; ++l) {
    // A chained layer's parameters: "layer<l>_" and the first layer's name.
    std::string prefix = l == 0 ? "" : "layer" + std::to_string(l) + "_";
    auto add = [&](StringRef name) { names.push_back(prefix + name.str()); };
    add("norm1_weight");
    if (layer)
      add("norm1_bias");
    add("wq");
    if (spec.fusedKeyValue) {
      add("wkv");
    } else {
      add("wk");
      add("wv");
    }
    add("wo");
    add("norm2_weight");
    if (layer)
      add("norm2_bias");
    for (StringRef name : {"up_weight", "up_bias", "down_weight", "down_bias"})
      add(name);
  }
  names.push_back("out");
  return names;
}

int64_t localLayerInputParams(const LocalLayerSpec &spec) {
  return spec.input ? 4 : 1;
}

FailureOr<KernelInfo> buildLocalLayerKernel(OpBuilder &builder,
                                            gpu::GPUModuleOp module,
                                            StringRef name,
                                            const LocalLayerSpec &spec,
                                            Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyLocalLayerSpec(spec, emitError)))
    return failure();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());

  KernelInfo info;
  info.name = name.str();
  info.grid = {llvm::divideCeil(spec.sequences, spec.patchesPerTile()), 1, 1};
  info.block = {kWarpMmaThreads, 1, 1};
  info.dynamicSharedBytes = spec.sharedBytes();
  SmallVector<std::string> names = localLayerParamNames(spec);
  for (const std::string &param : names)
    info.params.push_back({param, "ptr", {}});

  Type f32 = builder.getF32Type();
  Type w = spec.weightType;
  int64_t d = spec.dim, inner = spec.inner(), h = spec.hidden;
  auto rowsType = MemRefType::get({spec.sequences * spec.positions, d}, f32);
  Type vectors = spec.vectorType ? spec.vectorType : f32;
  auto vectorType = [&](int64_t n) { return MemRefType::get({n}, vectors); };
  auto matrixType = [&](int64_t rows, int64_t cols) {
    return MemRefType::get({rows, cols}, w);
  };
  SmallVector<Type> argTypes;
  for (const std::string &param : names) {
    StringRef p = param;
    if (p.starts_with("layer"))
      p = p.split('_').second;
    if (p == "x" || p == "out")
      argTypes.push_back(rowsType);
    else if (p == "context")
      argTypes.push_back(
          MemRefType::get({spec.sequences / spec.input->patchesPerSequence *
                               (spec.input->patchesPerSequence + 1),
                           (spec.positions - 1) * d},
                          f32));
    else if (p == "bytes")
      argTypes.push_back(MemRefType::get({spec.sequences, spec.positions - 1},
                                         builder.getI32Type()));
    else if (p == "embedding")
      argTypes.push_back(
          MemRefType::get({spec.input->vocabulary, d}, spec.input->tableType));
    else if (p == "start_token")
      argTypes.push_back(MemRefType::get({d}, spec.input->startType));
    else if (p.starts_with("norm") || p == "down_bias")
      argTypes.push_back(vectorType(d));
    else if (p == "up_bias")
      argTypes.push_back(vectorType(h));
    else if (p == "wq" || p == "wk" || p == "wv")
      argTypes.push_back(matrixType(inner, d));
    else if (p == "wkv")
      argTypes.push_back(matrixType(2 * inner, d));
    else if (p == "wo")
      argTypes.push_back(matrixType(d, inner));
    else if (p == "up_weight")
      argTypes.push_back(matrixType(h, d));
    else
      argTypes.push_back(matrixType(d, h)); // down_weight
  }
  auto func = createKernelFunc(builder, loc, name, argTypes, info);
  // Shared memory bounds the CTAs an SM holds, so ptxas may spend the
  // registers of the rest (.minnctapersm): without it ptxas aims for more
  // resident CTAs than fit and spills at 128 registers a thread.
  func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                builder.getI32IntegerAttr(
                    static_cast<int32_t>(residentCtas(spec.sharedBytes()))));
  Block &entry = func.getBody().front();
  builder.setInsertionPointToStart(&entry);
  LocalLayerBuilder(builder, loc, spec, entry).build();
  gpu::ReturnOp::create(builder, loc);
  return info;
}

} // namespace mbc::cuda
