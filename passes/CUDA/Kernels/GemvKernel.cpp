//===- GemvKernel.cpp - decode-time matrix-vector products ----------------===//
#include "passes/CUDA/Kernels/GemvKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kWarpSize = 32;
/// Bytes of one weight load of a lane: 8 bf16/f16 or 4 f32 weights.
constexpr int64_t kChunkBytes = 16;
/// 16-byte weight loads a lane issues before using any (all columns).
constexpr int64_t kChunksInFlight = 8;
/// f32 accumulator registers a lane spends on rows x columns.
constexpr int64_t kAccumulatorFloats = 64;

/// Weights per lane and step: one 16-byte load.
int64_t chunkOf(Type weightType) {
  return kChunkBytes * 8 / weightType.getIntOrFloatBitWidth();
}

/// The sum over the warp's lanes of all elements of each lane's vector.
Value warpSumOf(OpBuilder &b, Location loc, Value partials) {
  Value sum =
      vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, partials);
  return buildXorReduce(b, loc, sum, {16, 8, 4, 2, 1}, /*isMax=*/false);
}

/// The kernel body: a warp walks K once for all of its columns, each lane
/// issuing the 16-byte weight loads of `unroll` chunks of every column
/// before it uses any (loads in flight hide DRAM latency: one load at a
/// time per lane would leave the memory system mostly idle), multiplying
/// them with the f32 rows of A into per-(row, column) accumulators of
/// `accumulatorWidth` lanes.
class GemvBodyBuilder {
public:
  /// The product with weight `w` [n, K] into `c` [M, n].
  GemvBodyBuilder(OpBuilder &b, Location loc, const GemvSpec &spec, Value a,
                  Value w, Value c, int64_t n, Value bias, Value residual,
                  Value normWeight)
      : b(b), loc(loc), spec(spec), a(a), w(w), c(c), n(n), bias(bias),
        residual(residual), normWeight(normWeight) {
    columns = spec.columnsPerWarp;
    chunk = chunkOf(spec.weightType);
    width = accumulatorWidth(spec);
    unroll = std::max<int64_t>(1, kChunksInFlight / columns);
  }

  /// `block`: the block's index among the blocks of this product.
  void build(Value block) {
    Type f32 = b.getF32Type();
    Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value warp = arith::DivUIOp::create(b, loc, thread, index(kWarpSize));
    lane = arith::RemUIOp::create(b, loc, thread, index(kWarpSize));
    int64_t columnsPerBlock = spec.warps * columns;
    Value firstColumn = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, block, index(columnsPerBlock)),
        arith::MulIOp::create(b, loc, warp, index(columns)));
    laneStart = arith::MulIOp::create(b, loc, lane, index(chunk));

    // A warp wholly past N (the last block's) does nothing.
    OpBuilder::InsertionGuard guard(b);
    if (n % columnsPerBlock != 0) {
      Value live = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         firstColumn, index(n));
      auto ifLive = scf::IfOp::create(b, loc, live, /*withElse=*/false);
      b.setInsertionPointToStart(&ifLive.getThenRegion().front());
    }
    // Column j of the warp; past N, loads read column N - 1 and nothing
    // is stored.
    for (int64_t j = 0; j < columns; ++j) {
      Value column = arith::AddIOp::create(b, loc, firstColumn, index(j));
      columnIndex.push_back(column);
      loadColumn.push_back(
          arith::MinUIOp::create(b, loc, column, index(n - 1)));
    }

    auto accumulatorType = VectorType::get({width}, f32);
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(accumulatorType, b.getF32FloatAttr(0)));
    // Accumulators: [row][column], then (norm) the rows' sums of squares.
    SmallVector<Value> sums(spec.m * columns + (normWeight ? spec.m : 0), zero);

    // Whole steps of `unroll` chunks a lane, then whole chunks, then (K not
    // a multiple of 32 chunks) a last step some lanes sit out.
    int64_t step = kWarpSize * chunk;
    int64_t mainK = spec.k / (step * unroll) * (step * unroll);
    if (mainK > 0) {
      auto loop = scf::ForOp::create(b, loc, laneStart, index(mainK),
                                     index(step * unroll), sums);
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(loop.getBody());
      SmallVector<Value> ks;
      for (int64_t u = 0; u < unroll; ++u)
        ks.push_back(add(loop.getInductionVar(), u * step));
      scf::YieldOp::create(b, loc, accumulate(loop.getRegionIterArgs(), ks));
      b.setInsertionPointAfter(loop);
      sums.assign(loop.getResults().begin(), loop.getResults().end());
    }
    int64_t wholeSteps = (spec.k - mainK) / step;
    if (wholeSteps > 0) {
      SmallVector<Value> ks;
      for (int64_t u = 0; u < wholeSteps; ++u)
        ks.push_back(add(laneStart, mainK + u * step));
      sums = accumulate(sums, ks);
    }
    int64_t tail = spec.k % step;
    if (tail != 0) {
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           laneStart, index(tail));
      auto ifInside = scf::IfOp::create(b, loc, TypeRange(ValueRange(sums)),
                                        inside, /*withElseRegion=*/true);
      OpBuilder::InsertionGuard tailGuard(b);
      b.setInsertionPointToStart(&ifInside.getThenRegion().front());
      scf::YieldOp::create(b, loc,
                           accumulate(sums, {add(laneStart, spec.k - tail)}));
      b.setInsertionPointToStart(&ifInside.getElseRegion().front());
      scf::YieldOp::create(b, loc, sums);
      b.setInsertionPointAfter(ifInside);
      sums.assign(ifInside.getResults().begin(), ifInside.getResults().end());
    }

    for (int64_t row = 0; row < spec.m; ++row) {
      Value inverse;
      if (normWeight) {
        // The row's RMSNorm factor, as NormKernel computes it.
        Value meanSquare =
            arith::DivFOp::create(b, loc, warpSum(sums[spec.m * columns + row]),
                                  constantF32(static_cast<double>(spec.k)));
        inverse = buildInverseRms(b, loc, meanSquare, spec.normKind,
                                  spec.normEpsilon);
      }
      for (int64_t j = 0; j < columns; ++j) {
        Value sum = warpSum(sums[row * columns + j]);
        if (inverse)
          sum = arith::MulFOp::create(b, loc, sum, inverse);
        store(row, j, sum);
      }
    }
  }

  /// Lanes of each accumulator: the widest of a chunk's weights (8 or 4),
  /// 4, 2, 1 that keeps rows x columns x lanes within kAccumulatorFloats.
  static int64_t accumulatorWidth(const GemvSpec &spec) {
    int64_t width = chunkOf(spec.weightType);
    while (width > 1 &&
           spec.m * spec.columnsPerWarp * width > kAccumulatorFloats)
      width /= 2;
    return width;
  }

private:
  /// Adds the products of this lane's chunks at `ks` to `sums`: first every
  /// weight load (all columns, all chunks), then the FMAs.
  SmallVector<Value> accumulate(ValueRange sums, ArrayRef<Value> ks) {
    Type f32 = b.getF32Type();
    auto weightVector = VectorType::get({chunk}, spec.weightType);
    auto f32Vector = VectorType::get({chunk}, f32);
    SmallVector<SmallVector<Value>> weights(ks.size());
    for (auto [u, k] : llvm::enumerate(ks))
      for (int64_t j = 0; j < columns; ++j)
        weights[u].push_back(vector::LoadOp::create(
            b, loc, weightVector, w, ValueRange{loadColumn[j], k},
            /*nontemporal=*/false, llvm::Align(16)));
    SmallVector<Value> updated(sums.begin(), sums.end());
    for (auto [u, k] : llvm::enumerate(ks)) {
      // x * g (rstd comes in the epilogue): g folded into the weights.
      Value gamma =
          normWeight ? loadWidened(b, loc, normWeight, k, chunk) : Value();
      SmallVector<Value> wide;
      for (Value loaded : weights[u]) {
        Value value = loaded.getType() == f32Vector
                          ? loaded
                          : arith::ExtFOp::create(b, loc, f32Vector, loaded);
        if (gamma)
          value = arith::MulFOp::create(b, loc, value, gamma);
        wide.push_back(value);
      }
      for (int64_t row = 0; row < spec.m; ++row) {
        Value x = vector::LoadOp::create(
            b, loc, f32Vector, a, ValueRange{index(row), k},
            /*nontemporal=*/false, llvm::Align(16));
        for (int64_t j = 0; j < columns; ++j)
          updated[row * columns + j] =
              fma(x, wide[j], updated[row * columns + j]);
        if (normWeight)
          updated[spec.m * columns + row] =
              fma(x, x, updated[spec.m * columns + row]);
      }
    }
    return updated;
  }

  /// acc + x * y over the chunk's lanes of x and y, folded into acc's
  /// width.
  Value fma(Value x, Value y, Value acc) {
    if (width == chunk)
      return vector::FMAOp::create(b, loc, x, y, acc);
    for (int64_t part = 0; part < chunk / width; ++part) {
      // Lanes [part * width, (part + 1) * width) (a shufflevector).
      SmallVector<int64_t> lanes =
          llvm::to_vector(llvm::seq<int64_t>(part * width, (part + 1) * width));
      auto slice = [&](Value v) -> Value {
        return vector::ShuffleOp::create(b, loc, v, v, lanes);
      };
      acc = vector::FMAOp::create(b, loc, slice(x), slice(y), acc);
    }
    return acc;
  }

  /// The sum over the warp's lanes of an accumulator's lanes.
  Value warpSum(Value partials) { return warpSumOf(b, loc, partials); }

  /// Lane 0 applies the epilogue to C[row, column j] and stores it (when
  /// the column is inside N).
  void store(int64_t row, int64_t j, Value sum) {
    Value column = columnIndex[j];
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
    if (n % (spec.warps * columns) != 0)
      first = arith::AndIOp::create(
          b, loc, first,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, column,
                                index(n)));
    auto ifFirst = scf::IfOp::create(b, loc, first, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&ifFirst.getThenRegion().front());
    Value r = index(row);
    Value value = sum;
    if (bias) {
      Value term = memref::LoadOp::create(b, loc, bias, ValueRange{column});
      if (!term.getType().isF32())
        term = arith::ExtFOp::create(b, loc, b.getF32Type(), term);
      value = arith::AddFOp::create(b, loc, value, term);
    }
    if (spec.activation == Activation::Relu) {
      Value zero = constantF32(0);
      Value positive =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, value, zero);
      value = arith::SelectOp::create(b, loc, positive, value, zero);
    } else if (spec.activation != Activation::None) {
      value = buildGelu(b, loc, value, spec.activation == Activation::GeluTanh);
    }
    if (residual)
      value = arith::AddFOp::create(
          b, loc, value,
          memref::LoadOp::create(b, loc, residual, ValueRange{r, column}));
    memref::StoreOp::create(b, loc, value, c, ValueRange{r, column});
  }

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value add(Value value, int64_t constant) {
    return arith::AddIOp::create(b, loc, value, index(constant));
  }
  Value constantF32(double value) {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  }

  OpBuilder &b;
  Location loc;
  const GemvSpec &spec;
  Value a, w, c;
  int64_t n;
  Value bias, residual, normWeight;
  int64_t columns, chunk, width, unroll;
  Value lane, laneStart;
  /// Per column of the warp: its index, and the index its loads use.
  SmallVector<Value> columnIndex, loadColumn;
};

/// A LayerNorm prologue: the block's M rows of A, normalized, in dynamic
/// shared memory (returned as memref<M x K x f32> in the workgroup address
/// space). All threads copy A there (16-byte chunks); then a warp a row
/// (warps over the rows) sums the row, sums its squared deviations from
/// the mean (two passes, as NormKernel and the mb.layer_norm lowering
/// compute them) and rewrites its elements in place as (x - mean) * rstd *
/// g + b, each lane the elements it read; barriers between the phases.
Value normalizeRowsToShared(OpBuilder &b, Location loc, const GemvSpec &spec,
                            Value a, Value normWeight, Value normBias) {
  Type f32 = b.getF32Type();
  constexpr int64_t lanes = 4;
  auto vectorType = VectorType::get({lanes}, f32);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  Value rows = viewShared(b, loc, createDynamicShared(b, loc), index(0),
                          {spec.m, spec.k}, f32);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  int64_t threads = spec.warps * kWarpSize;
  int64_t chunksPerRow = spec.k / lanes;
  {
    auto copy = scf::ForOp::create(b, loc, thread, index(spec.m * chunksPerRow),
                                   index(threads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(copy.getBody());
    Value chunk = copy.getInductionVar();
    Value row = arith::DivUIOp::create(b, loc, chunk, index(chunksPerRow));
    Value column = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, chunk, index(chunksPerRow)),
        index(lanes));
    Value x = vector::LoadOp::create(
        b, loc, vectorType, a, ValueRange{row, column}, false, llvm::Align(16));
    vector::StoreOp::create(b, loc, x, rows, ValueRange{row, column}, false,
                            llvm::Align(16));
  }
  gpu::BarrierOp::create(b, loc);

  Value warp = arith::DivUIOp::create(b, loc, thread, index(kWarpSize));
  Value lane = arith::RemUIOp::create(b, loc, thread, index(kWarpSize));
  Value laneColumn = arith::MulIOp::create(b, loc, lane, index(lanes));
  Value step = index(kWarpSize * lanes);
  Value zero = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(vectorType, b.getF32FloatAttr(0)));
  auto splat = [&](Value scalar) -> Value {
    return vector::BroadcastOp::create(b, loc, vectorType, scalar);
  };
  auto rowLoop =
      scf::ForOp::create(b, loc, warp, index(spec.m), index(spec.warps));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rowLoop.getBody());
    Value row = rowLoop.getInductionVar();
    auto load = [&](Value column) -> Value {
      return vector::LoadOp::create(b, loc, vectorType, rows,
                                    ValueRange{row, column}, false,
                                    llvm::Align(16));
    };
    // The row's sum of `term(x)` over its K elements, on every lane.
    auto rowSum = [&](function_ref<Value(Value)> term) -> Value {
      auto loop = scf::ForOp::create(b, loc, laneColumn, index(spec.k), step,
                                     ValueRange{zero});
      {
        OpBuilder::InsertionGuard loopGuard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value sum = arith::AddFOp::create(b, loc, loop.getRegionIterArgs()[0],
                                          term(load(loop.getInductionVar())));
        scf::YieldOp::create(b, loc, sum);
      }
      return warpSumOf(b, loc, loop.getResult(0));
    };
    Value count = constant(static_cast<double>(spec.k));
    Value mean = splat(arith::DivFOp::create(
        b, loc, rowSum([](Value x) { return x; }), count));
    Value variance = arith::DivFOp::create(
        b, loc, rowSum([&](Value x) -> Value {
          Value deviation = arith::SubFOp::create(b, loc, x, mean);
          return arith::MulFOp::create(b, loc, deviation, deviation);
        }),
        count);
    Value inverse = splat(
        buildInverseRms(b, loc, variance, NormKind::Layer, spec.normEpsilon));
    auto normalize =
        scf::ForOp::create(b, loc, laneColumn, index(spec.k), step);
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(normalize.getBody());
    Value column = normalize.getInductionVar();
    Value centered = arith::SubFOp::create(b, loc, load(column), mean);
    Value y = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, centered, inverse),
        loadWidened(b, loc, normWeight, column, lanes));
    y = arith::AddFOp::create(b, loc, y,
                              loadWidened(b, loc, normBias, column, lanes));
    vector::StoreOp::create(b, loc, y, rows, ValueRange{row, column}, false,
                            llvm::Align(16));
  }
  gpu::BarrierOp::create(b, loc);
  return rows;
}

/// An attention prologue: the block's M rows of the attention output in
/// dynamic shared memory (returned as memref<M x K x f32>, K = heads x
/// headDim). A warp per (row, head), warps over the pairs: lane l holds
/// features l x D/32 .. of the head (q scaled by scale x log2(e) once),
/// and for each key 0..min(position, L - 1) sums q . k across the warp,
/// then updates the online softmax (max, sum, weighted values) with
/// ex2.approx, as the decode attention kernel does; the normalized output
/// goes to shared memory, a barrier after.
Value attendRowsToShared(OpBuilder &b, Location loc, const GemvSpec &spec,
                         Value q, Value keys, Value values,
                         Value positionBuffer) {
  const DecodeAttentionSpec &attention = spec.attention;
  Type f32 = b.getF32Type();
  int64_t headDim = attention.headDim, perLane = headDim / kWarpSize;
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto constant = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  auto laneType = VectorType::get({perLane}, f32);
  auto splat = [&](Value scalar) -> Value {
    return vector::BroadcastOp::create(b, loc, laneType, scalar);
  };
  auto load = [&](Value memref, ValueRange indices) -> Value {
    return vector::LoadOp::create(b, loc, laneType, memref, indices, false,
                                  llvm::MaybeAlign(4 * perLane));
  };
  Value rows = viewShared(b, loc, createDynamicShared(b, loc), index(0),
                          {spec.m, spec.k}, f32);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, loc, thread, index(kWarpSize));
  Value lane = arith::RemUIOp::create(b, loc, thread, index(kWarpSize));
  Value position = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, positionBuffer, ValueRange{index(0)}));
  Value end = arith::AddIOp::create(
      b, loc,
      arith::MinUIOp::create(b, loc, position,
                             index(attention.cacheLength - 1)),
      index(1));
  double scale =
      attention.scale != 0 ? attention.scale : 1.0 / std::sqrt(headDim);
  Value zeros =
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(laneType, 0.0f));

  auto pairs = scf::ForOp::create(b, loc, warp, index(spec.m * attention.heads),
                                  index(spec.warps));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(pairs.getBody());
    Value pair = pairs.getInductionVar();
    Value row = arith::DivUIOp::create(b, loc, pair, index(attention.heads));
    Value head = arith::RemUIOp::create(b, loc, pair, index(attention.heads));
    Value cacheRow =
        arith::AddIOp::create(b, loc, row, index(attention.firstRow));
    Value column = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, head, index(headDim)),
        arith::MulIOp::create(b, loc, lane, index(perLane)));
    Value query = arith::MulFOp::create(b, loc, load(q, {row, column}),
                                        splat(constant(scale * M_LOG2E)));
    auto keyLoop = scf::ForOp::create(
        b, loc, index(0), end, index(1),
        ValueRange{constant(-std::numeric_limits<float>::infinity()),
                   constant(0), zeros});
    {
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(keyLoop.getBody());
      Value key = keyLoop.getInductionVar();
      Value rowMax = keyLoop.getRegionIterArgs()[0];
      Value rowSum = keyLoop.getRegionIterArgs()[1];
      Value weighted = keyLoop.getRegionIterArgs()[2];
      Value products = arith::MulFOp::create(
          b, loc, query, load(keys, {cacheRow, key, column}));
      Value score = warpSumOf(b, loc, products);
      // The first key makes the max finite: 2^-inf = 0 weighs the empty
      // state.
      Value newMax = arith::MaxNumFOp::create(b, loc, rowMax, score);
      Value alpha = buildExp2Approx(
          b, loc, arith::SubFOp::create(b, loc, rowMax, newMax));
      Value p =
          buildExp2Approx(b, loc, arith::SubFOp::create(b, loc, score, newMax));
      Value newSum = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, rowSum, alpha), p);
      Value newWeighted = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, weighted, splat(alpha)),
          arith::MulFOp::create(b, loc, load(values, {cacheRow, key, column}),
                                splat(p)));
      scf::YieldOp::create(b, loc, ValueRange{newMax, newSum, newWeighted});
    }
    Value output = arith::DivFOp::create(b, loc, keyLoop.getResult(2),
                                         splat(keyLoop.getResult(1)));
    vector::StoreOp::create(b, loc, output, rows, ValueRange{row, column},
                            false, llvm::MaybeAlign(4 * perLane));
  }
  gpu::BarrierOp::create(b, loc);
  return rows;
}

} // namespace

LogicalResult verifyGemvSpec(const GemvSpec &spec,
                             function_ref<InFlightDiagnostic()> emitError) {
  if (!spec.weightType || !(spec.weightType.isBF16() ||
                            spec.weightType.isF16() || spec.weightType.isF32()))
    return failSpec(emitError,
                    "GEMV weight element type must be bf16, f16 or f32");
  if (failed(verifyBiasType(spec.biasType, emitError)))
    return failure();
  if (spec.m < 1 || spec.m > kMaxGemvRows)
    return failSpec(emitError, "GEMV rows m = " + Twine(spec.m) +
                                   " must be between 1 and " +
                                   Twine(kMaxGemvRows));
  int64_t chunk = chunkOf(spec.weightType);
  if (spec.n < 1 || spec.k < chunk || spec.k % chunk != 0)
    return failSpec(emitError,
                    "GEMV needs n >= 1 and k a positive multiple of " +
                        Twine(chunk) + " (16-byte weight loads), got n = " +
                        Twine(spec.n) + ", k = " + Twine(spec.k));
  if (spec.normPrologue) {
    if (spec.normKind == NormKind::Layer &&
        gemvPrologueSharedBytes(spec) > kMaxGemvLayerNormBytes)
      return failSpec(emitError,
                      "a GEMV LayerNorm prologue keeps its m x k = " +
                          Twine(spec.m) + " x " + Twine(spec.k) +
                          " normalized rows in shared memory: at most " +
                          Twine(kMaxGemvLayerNormBytes) + " bytes");
    if (spec.normEpsilon <= 0)
      return failSpec(emitError, "the norm epsilon must be positive");
    if (spec.normWeightType &&
        !(spec.normWeightType.isF32() || spec.normWeightType.isBF16() ||
          spec.normWeightType.isF16()))
      return failSpec(emitError, "norm weight type must be f32, bf16 or f16");
  }
  if (spec.attentionPrologue) {
    const DecodeAttentionSpec &attention = spec.attention;
    if (failed(verifyDecodeAttentionSpec(attention, emitError)))
      return failure();
    if (spec.normPrologue || spec.pairedN > 0)
      return failSpec(emitError, "a GEMV attention prologue takes no norm "
                                 "prologue and no paired product");
    if (attention.splits != 1 || attention.sequences != spec.m ||
        attention.heads * attention.headDim != spec.k)
      return failSpec(emitError,
                      "a GEMV attention prologue needs one split, sequences "
                      "= m and heads x head-dim = k, got splits = " +
                          Twine(attention.splits) + ", sequences = " +
                          Twine(attention.sequences) + ", heads x head-dim = " +
                          Twine(attention.heads * attention.headDim));
    if (attention.cacheLength > kMaxGemvAttentionPositions)
      return failSpec(emitError, "a GEMV attention prologue reads at most " +
                                     Twine(kMaxGemvAttentionPositions) +
                                     " cached positions, got cache-length = " +
                                     Twine(attention.cacheLength));
    if (gemvPrologueSharedBytes(spec) > kMaxGemvLayerNormBytes)
      return failSpec(emitError,
                      "a GEMV attention prologue keeps its m x k = " +
                          Twine(spec.m) + " x " + Twine(spec.k) +
                          " output rows in shared memory: at most " +
                          Twine(kMaxGemvLayerNormBytes) + " bytes");
  }
  if (spec.warps < 1 || spec.warps > 32 || spec.columnsPerWarp < 1 ||
      spec.columnsPerWarp > 8)
    return failSpec(emitError, "GEMV warps = " + Twine(spec.warps) +
                                   " (1..32) and columns per warp = " +
                                   Twine(spec.columnsPerWarp) + " (1..8)");
  if (spec.thirdN < 0 || (spec.thirdN > 0 && spec.pairedN == 0))
    return failSpec(emitError,
                    "a GEMV's third product (third-n = " + Twine(spec.thirdN) +
                        ") needs a paired one (paired-n > 0)");
  if (spec.pairedN < 0 ||
      (spec.pairedN > 0 &&
       (spec.bias || spec.residual || spec.activation != Activation::None)))
    return failSpec(emitError,
                    "a paired GEMV (paired-n = " + Twine(spec.pairedN) +
                        ") takes no bias, activation or residual");
  if (spec.m * spec.columnsPerWarp > kAccumulatorFloats)
    return failSpec(emitError,
                    "GEMV rows x columns per warp = " +
                        Twine(spec.m * spec.columnsPerWarp) + " is more than " +
                        Twine(kAccumulatorFloats) + " accumulators a lane");
  return success();
}

FailureOr<KernelInfo> buildGemvKernel(OpBuilder &builder,
                                      gpu::GPUModuleOp module, StringRef name,
                                      const GemvSpec &spec, Location loc) {
  if (failed(verifyGemvSpec(spec, [&] { return mlir::emitError(loc); })))
    return failure();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  OpBuilder &b = builder;
  Type f32 = b.getF32Type();
  int64_t threads = spec.warps * kWarpSize;
  int64_t columnsPerBlock = spec.warps * spec.columnsPerWarp;

  KernelInfo info;
  info.name = name.str();
  // A paired GEMV's second product takes the blocks after the first's, a
  // third product those after the second's.
  SmallVector<int64_t> productN = {spec.n};
  if (spec.pairedN > 0)
    productN.push_back(spec.pairedN);
  if (spec.thirdN > 0)
    productN.push_back(spec.thirdN);
  SmallVector<int64_t> productBlocks;
  for (int64_t n : productN)
    productBlocks.push_back(llvm::divideCeil(n, columnsPerBlock));
  info.grid = {llvm::sum_of(productBlocks), 1, 1};
  info.block = {threads, 1, 1};
  SmallVector<Type> argTypes = {
      MemRefType::get({spec.m, spec.k}, f32),
      MemRefType::get({spec.n, spec.k}, spec.weightType),
      MemRefType::get({spec.m, spec.n}, f32)};
  for (const char *param : {"a", "w", "c"})
    info.params.push_back({param, "ptr", {}});
  appendEpilogueParams(argTypes, info, spec.m, spec.n, spec.bias,
                       spec.biasType, spec.residual, f32);
  Type normWeightType = spec.normWeightType ? spec.normWeightType : f32;
  bool layerNorm = spec.normPrologue && spec.normKind == NormKind::Layer;
  if (spec.normPrologue) {
    argTypes.push_back(MemRefType::get({spec.k}, normWeightType));
    info.params.push_back({"norm_weight", "ptr", {}});
  }
  if (layerNorm) {
    argTypes.push_back(MemRefType::get({spec.k}, normWeightType));
    info.params.push_back({"norm_bias", "ptr", {}});
  }
  if (spec.attentionPrologue) {
    auto cacheType = MemRefType::get(
        {spec.attention.cacheRows, spec.attention.cacheLength, spec.k}, f32);
    argTypes.append(
        {cacheType, cacheType, MemRefType::get({1}, b.getI64Type())});
    for (const char *param : {"k_cache", "v_cache", "position"})
      info.params.push_back({param, "ptr", {}});
  }
  info.dynamicSharedBytes = gemvPrologueSharedBytes(spec);
  // Lane 0 of one warp stores each element of C (C2, C3) once, with the
  // value it computed: elementwise consumers may follow the store there
  // (mb-cuda-fuse-epilogues).
  SmallVector<Attribute> outputs = {b.getStringAttr("c")};
  for (size_t product = 1; product < productN.size(); ++product) {
    std::string suffix = std::to_string(product + 1);
    argTypes.append(
        {MemRefType::get({productN[product], spec.k}, spec.weightType),
         MemRefType::get({spec.m, productN[product]}, f32)});
    info.params.push_back({"w" + suffix, "ptr", {}});
    info.params.push_back({"c" + suffix, "ptr", {}});
    outputs.push_back(b.getStringAttr("c" + suffix));
  }
  auto func = createKernelFunc(b, loc, name, argTypes, info);
  func->setAttr(kEpilogueOutputsAttrName, b.getArrayAttr(outputs));

  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  unsigned next = 0;
  Value a = entry.getArgument(next++);
  Value w = entry.getArgument(next++);
  Value c = entry.getArgument(next++);
  Value bias = spec.bias ? entry.getArgument(next++) : Value();
  Value residual = spec.residual ? entry.getArgument(next++) : Value();
  Value normWeight = spec.normPrologue ? entry.getArgument(next++) : Value();
  Value normBias = layerNorm ? entry.getArgument(next++) : Value();
  Value keys, values, position;
  if (spec.attentionPrologue) {
    keys = entry.getArgument(next++);
    values = entry.getArgument(next++);
    position = entry.getArgument(next++);
  }
  // The weights and outputs of the products after the first.
  SmallVector<std::pair<Value, Value>> moreProducts;
  for (size_t product = 1; product < productN.size(); ++product) {
    Value weight = entry.getArgument(next++);
    moreProducts.push_back({weight, entry.getArgument(next++)});
  }
  // Rows of A and W start 16-byte aligned when the buffers are (the
  // runtime's are 256-byte aligned; K is a multiple of a 16-byte chunk).
  a = memref::AssumeAlignmentOp::create(b, loc, a, b.getI32IntegerAttr(16));
  w = memref::AssumeAlignmentOp::create(b, loc, w, b.getI32IntegerAttr(16));

  if (spec.attentionPrologue)
    a = attendRowsToShared(b, loc, spec, a, keys, values, position);
  if (layerNorm) {
    // The products read the normalized rows; no per-column norm work.
    a = normalizeRowsToShared(b, loc, spec, a, normWeight, normBias);
    normWeight = Value();
  }

  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  if (moreProducts.empty()) {
    GemvBodyBuilder(b, loc, spec, a, w, c, spec.n, bias, residual, normWeight)
        .build(block);
  } else {
    // Block-uniform: the first product's blocks, then the second's (then
    // the third's), each product's block index counted from its first.
    OpBuilder::InsertionGuard guard(b);
    int64_t firstBlock = 0;
    for (size_t product = 0; product < productN.size(); ++product) {
      Value weight = product == 0 ? w : moreProducts[product - 1].first;
      Value output = product == 0 ? c : moreProducts[product - 1].second;
      if (product > 0)
        weight = memref::AssumeAlignmentOp::create(b, loc, weight,
                                                   b.getI32IntegerAttr(16));
      Value local = arith::SubIOp::create(
          b, loc, block, arith::ConstantIndexOp::create(b, loc, firstBlock));
      firstBlock += productBlocks[product];
      bool last = product + 1 == productN.size();
      scf::IfOp inside;
      if (!last) {
        Value below = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ult, block,
            arith::ConstantIndexOp::create(b, loc, firstBlock));
        inside = scf::IfOp::create(b, loc, below, /*withElse=*/true);
        b.setInsertionPointToStart(&inside.getThenRegion().front());
      }
      GemvBodyBuilder(b, loc, spec, a, weight, output, productN[product],
                      Value(), Value(), normWeight)
          .build(local);
      if (!last)
        b.setInsertionPointToStart(&inside.getElseRegion().front());
    }
  }
  gpu::ReturnOp::create(b, loc);
  return info;
}

} // namespace mbc::cuda
