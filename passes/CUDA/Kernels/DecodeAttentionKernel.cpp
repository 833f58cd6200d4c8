//===- DecodeAttentionKernel.cpp - one new position against a KV cache ----===//
//
// Facts relied on:
// - Online softmax (FlashAttention, Dao et al. 2022; the merge of partial
//   results as in flash-decoding): a set of scores s with running max m,
//   l = sum 2^(s - m) and a = sum 2^(s - m) v combines with another (m', l',
//   a') as M = max(m, m'), l 2^(m - M) + l' 2^(m' - M), a 2^(m - M) + a'
//   2^(m' - M); O = a / l. Scores are kept in the log2 domain (q is scaled
//   by scale x log2(e) once), so the exponentials are ex2.approx.
// - shfl.sync.bfly with offsets 16, 8, 4, 2, 1 leaves the warp's sum in
//   every lane (buildXorReduce).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/DecodeAttentionKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mbc::cuda {

LogicalResult
verifyDecodeAttentionSpec(const DecodeAttentionSpec &spec,
                          function_ref<InFlightDiagnostic()> emitError) {
  if (spec.headDim != 32 && spec.headDim != 64 && spec.headDim != 128)
    return failSpec(emitError, "head-dim = " + Twine(spec.headDim) +
                                   " is not supported (32, 64 or 128)");
  if (spec.sequences < 1 || spec.heads < 1 || spec.cacheLength < 1)
    return failSpec(emitError,
                    "decode attention sizes must be positive, got sequences "
                    "= " +
                        Twine(spec.sequences) +
                        ", heads = " + Twine(spec.heads) +
                        ", cache-length = " + Twine(spec.cacheLength));
  if (spec.firstRow < 0 || spec.cacheRows < spec.firstRow + spec.sequences)
    return failSpec(emitError,
                    "cache rows " + Twine(spec.firstRow) + ".." +
                        Twine(spec.firstRow + spec.sequences) +
                        " lie outside cache-rows = " + Twine(spec.cacheRows));
  if (spec.warps < 1 || spec.warps > 32 || 32 * spec.warps < spec.headDim)
    return failSpec(emitError, "warps = " + Twine(spec.warps) +
                                   " is not supported (1 to 32, with 32 x "
                                   "warps >= head-dim)");
  if (spec.keysPerStep != 1 && spec.keysPerStep != 2 &&
      spec.keysPerStep != 4)
    return failSpec(emitError, "keys-per-step = " + Twine(spec.keysPerStep) +
                                   " is not supported (1, 2 or 4)");
  if (spec.splits < 1 || spec.splits > kMaxDecodeAttentionSplits ||
      spec.splits > spec.cacheLength)
    return failSpec(emitError, "splits = " + Twine(spec.splits) +
                                   " is not supported (1 to " +
                                   Twine(kMaxDecodeAttentionSplits) +
                                   ", at most cache-length)");
  return success();
}

MemRefType decodeAttentionPartialsType(MLIRContext *context,
                                       const DecodeAttentionSpec &spec) {
  return MemRefType::get(
      {spec.sequences, spec.heads, spec.splits, spec.headDim + 2},
      Float32Type::get(context));
}

FailureOr<KernelInfo>
buildDecodeAttentionKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                           StringRef name, const DecodeAttentionSpec &spec,
                           Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyDecodeAttentionSpec(spec, emitError)))
    return failure();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  OpBuilder &b = builder;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t headDim = spec.headDim, warps = spec.warps;
  int64_t inner = spec.heads * headDim;
  int64_t perLane = headDim / 32;
  // Per warp: its weighted values, then its max and sum, rows a multiple of
  // 16 bytes so that a lane stores its features with one aligned vector
  // store (with 4 per lane: two 8-byte stores 16 bytes apart took 2
  // wavefronts a phase).
  int64_t partialRow = headDim + 4;

  bool split = spec.splits > 1;
  KernelInfo info;
  info.name = name.str();
  info.grid = {spec.heads, spec.sequences, spec.splits};
  info.block = {32 * warps, 1, 1};
  info.dynamicSharedBytes = warps * partialRow * 4;
  for (const char *param : {"q", "k_cache", "v_cache", "position",
                            split ? "partials" : "out"})
    info.params.push_back({param, "ptr", {}});
  auto cacheType =
      MemRefType::get({spec.cacheRows, spec.cacheLength, inner}, f32);
  auto rowsType = MemRefType::get({spec.sequences, inner}, f32);
  auto func = createKernelFunc(
      b, loc, name,
      {rowsType, cacheType, cacheType, MemRefType::get({1}, b.getI64Type()),
       split ? Type(decodeAttentionPartialsType(ctx, spec)) : Type(rowsType)},
      info);
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value q = entry.getArgument(0), keys = entry.getArgument(1),
        values = entry.getArgument(2), positionBuffer = entry.getArgument(3),
        out = entry.getArgument(4);

  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto constantF32 = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  auto exp2 = [&](Value x) { return buildExp2Approx(b, loc, x); };
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value warp = arith::DivUIOp::create(b, loc, tid, index(32));
  Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
  Value head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value sequence = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value cacheRow =
      arith::AddIOp::create(b, loc, sequence, index(spec.firstRow));
  Value headColumn = arith::MulIOp::create(b, loc, head, index(headDim));
  Value column = arith::AddIOp::create(
      b, loc, headColumn, arith::MulIOp::create(b, loc, lane, index(perLane)));

  // Keys 0..min(position, L - 1).
  Value position = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, positionBuffer, ValueRange{index(0)}));
  Value end = arith::AddIOp::create(
      b, loc,
      arith::MinUIOp::create(b, loc, position, index(spec.cacheLength - 1)),
      index(1));
  // Split s takes keys [s c, min((s + 1) c, end)), c = ceil(end / splits):
  // balanced at every position; a split past the end takes none.
  Value start = index(0), stop = end;
  Value splitIndex;
  if (split) {
    splitIndex = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value chunk = arith::CeilDivUIOp::create(b, loc, end, index(spec.splits));
    start = arith::MulIOp::create(b, loc, splitIndex, chunk);
    stop = arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, start, chunk), end);
  }

  auto laneType = VectorType::get({perLane}, f32);
  auto load = [&](Value memref, ValueRange indices) -> Value {
    return vector::LoadOp::create(b, loc, laneType, memref, indices, false,
                                  llvm::MaybeAlign(4 * perLane));
  };
  auto splat = [&](Value scalar) -> Value {
    return vector::BroadcastOp::create(b, loc, laneType, scalar);
  };
  double scale = spec.scale != 0 ? spec.scale : 1.0 / std::sqrt(headDim);
  Value query = arith::MulFOp::create(b, loc, load(q, {sequence, column}),
                                      splat(constantF32(scale * M_LOG2E)));

  Value negativeInfinity = constantF32(-std::numeric_limits<float>::infinity());
  Value zeros =
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(laneType, 0.0f));
  // A warp takes keysPerStep keys a step (key, key + warps, ...): their
  // loads and shuffle sums are independent, so they overlap instead of
  // each key waiting for the previous one; one softmax update per step.
  // Keys of a step past `stop` read row stop - 1 (written) and score -inf.
  int64_t unroll = spec.keysPerStep;
  auto loop = scf::ForOp::create(
      b, loc, arith::AddIOp::create(b, loc, start, warp), stop,
      index(warps * unroll),
      ValueRange{negativeInfinity, constantF32(0), zeros});
  {
    OpBuilder::InsertionGuard loopGuard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value firstKey = loop.getInductionVar();
    Value rowMax = loop.getRegionIterArgs()[0];
    Value rowSum = loop.getRegionIterArgs()[1];
    Value weighted = loop.getRegionIterArgs()[2];
    Value lastKey = arith::SubIOp::create(b, loc, stop, index(1));
    SmallVector<Value> scores, valueRows;
    for (int64_t j = 0; j < unroll; ++j) {
      Value key = firstKey, valid;
      if (j > 0) {
        key = arith::AddIOp::create(b, loc, firstKey, index(j * warps));
        valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, key,
                                      stop);
        key = arith::MinUIOp::create(b, loc, key, lastKey);
      }
      Value products = arith::MulFOp::create(
          b, loc, query, load(keys, {cacheRow, key, column}));
      Value partial = vector::ExtractOp::create(b, loc, products, int64_t(0));
      for (int64_t e = 1; e < perLane; ++e)
        partial = arith::AddFOp::create(
            b, loc, partial, vector::ExtractOp::create(b, loc, products, e));
      Value score = buildXorReduce(b, loc, partial, {16, 8, 4, 2, 1},
                                   /*isMax=*/false);
      if (valid)
        score = arith::SelectOp::create(b, loc, valid, score, negativeInfinity);
      scores.push_back(score);
      valueRows.push_back(load(values, {cacheRow, key, column}));
    }
    // The step's first key is valid, so newMax is finite and a masked key
    // weighs 2^-inf = 0 (as does the empty state before the first step).
    Value newMax = rowMax;
    for (Value score : scores)
      newMax = arith::MaxNumFOp::create(b, loc, newMax, score);
    Value alpha = exp2(arith::SubFOp::create(b, loc, rowMax, newMax));
    Value newSum = arith::MulFOp::create(b, loc, rowSum, alpha);
    Value newWeighted = arith::MulFOp::create(b, loc, weighted, splat(alpha));
    for (auto [score, valueRow] : llvm::zip(scores, valueRows)) {
      Value p = exp2(arith::SubFOp::create(b, loc, score, newMax));
      newSum = arith::AddFOp::create(b, loc, newSum, p);
      newWeighted = arith::AddFOp::create(
          b, loc, newWeighted,
          arith::MulFOp::create(b, loc, valueRow, splat(p)));
    }
    scf::YieldOp::create(b, loc, ValueRange{newMax, newSum, newWeighted});
  }

  // Each warp's (m, l, a) to shared memory; thread t < D merges feature t.
  Value partials = viewShared(b, loc, createDynamicShared(b, loc), index(0),
                              {warps, partialRow}, f32);
  Value laneFeature = arith::MulIOp::create(b, loc, lane, index(perLane));
  vector::StoreOp::create(b, loc, loop.getResult(2), partials,
                          ValueRange{warp, laneFeature}, /*nontemporal=*/false,
                          llvm::Align(std::min<int64_t>(16, 4 * perLane)));
  {
    OpBuilder::InsertionGuard storeGuard(b);
    auto first = scf::IfOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0)),
        /*withElseRegion=*/false);
    b.setInsertionPointToStart(&first.getThenRegion().front());
    memref::StoreOp::create(b, loc, loop.getResult(0), partials,
                            ValueRange{warp, index(headDim)});
    memref::StoreOp::create(b, loc, loop.getResult(1), partials,
                            ValueRange{warp, index(headDim + 1)});
  }
  gpu::BarrierOp::create(b, loc);
  {
    OpBuilder::InsertionGuard mergeGuard(b);
    auto merging = scf::IfOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, tid,
                              index(headDim)),
        /*withElseRegion=*/false);
    b.setInsertionPointToStart(&merging.getThenRegion().front());
    // A warp that saw no key (max -inf) weighs 2^-inf = 0. Unsplit, warp 0
    // saw key 0 and the merged max is finite; a split past the end has no
    // key at all, so -inf is measured from 0 (every weight 0, sum 0).
    auto partial = [&](int64_t w, Value column) -> Value {
      return memref::LoadOp::create(b, loc, partials,
                                    ValueRange{index(w), column});
    };
    Value overallMax = negativeInfinity;
    for (int64_t w = 0; w < warps; ++w)
      overallMax = arith::MaxNumFOp::create(b, loc, overallMax,
                                            partial(w, index(headDim)));
    Value reference = overallMax;
    if (split)
      reference = arith::SelectOp::create(
          b, loc,
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, overallMax,
                                negativeInfinity),
          constantF32(0), overallMax);
    Value sum = constantF32(0), total = constantF32(0);
    for (int64_t w = 0; w < warps; ++w) {
      Value weight = exp2(arith::SubFOp::create(
          b, loc, partial(w, index(headDim)), reference));
      sum = arith::AddFOp::create(
          b, loc, sum,
          arith::MulFOp::create(b, loc, partial(w, index(headDim + 1)),
                                weight));
      total = arith::AddFOp::create(
          b, loc, total,
          arith::MulFOp::create(b, loc, partial(w, tid), weight));
    }
    if (!split) {
      memref::StoreOp::create(
          b, loc, arith::DivFOp::create(b, loc, total, sum), out,
          ValueRange{sequence, arith::AddIOp::create(b, loc, headColumn, tid)});
    } else {
      // The split's state, unnormalized, for the combine kernel.
      memref::StoreOp::create(b, loc, total, out,
                              ValueRange{sequence, head, splitIndex, tid});
      auto first = scf::IfOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                index(0)),
          /*withElseRegion=*/false);
      b.setInsertionPointToStart(&first.getThenRegion().front());
      memref::StoreOp::create(
          b, loc, overallMax, out,
          ValueRange{sequence, head, splitIndex, index(headDim)});
      memref::StoreOp::create(
          b, loc, sum, out,
          ValueRange{sequence, head, splitIndex, index(headDim + 1)});
    }
  }
  gpu::ReturnOp::create(b, loc);
  return info;
}

FailureOr<KernelInfo>
buildDecodeAttentionCombineKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                                  StringRef name,
                                  const DecodeAttentionSpec &spec,
                                  Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyDecodeAttentionSpec(spec, emitError)))
    return failure();
  if (spec.splits < 2)
    return failSpec(emitError, "a decode-attention combine kernel needs "
                               "splits >= 2");
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  OpBuilder &b = builder;
  Type f32 = b.getF32Type();
  int64_t headDim = spec.headDim;

  KernelInfo info;
  info.name = name.str();
  info.grid = {spec.heads, spec.sequences, 1};
  info.block = {headDim, 1, 1};
  info.params.push_back({"partials", "ptr", {}});
  info.params.push_back({"out", "ptr", {}});
  auto func = createKernelFunc(
      b, loc, name,
      {decodeAttentionPartialsType(b.getContext(), spec),
       MemRefType::get({spec.sequences, spec.heads * headDim}, f32)},
      info);
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  Value partials = entry.getArgument(0), out = entry.getArgument(1);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto constantF32 = [&](double value) -> Value {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  };
  Value feature = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value sequence = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  auto load = [&](int64_t s, Value column) -> Value {
    return memref::LoadOp::create(b, loc, partials,
                                  ValueRange{sequence, head, index(s), column});
  };
  // Split 0 holds key 0, so the max is finite; a split with no key (max
  // -inf, sum 0) weighs 2^-inf = 0.
  SmallVector<Value> maxima;
  Value overallMax = constantF32(-std::numeric_limits<float>::infinity());
  for (int64_t s = 0; s < spec.splits; ++s) {
    maxima.push_back(load(s, index(headDim)));
    overallMax = arith::MaxNumFOp::create(b, loc, overallMax, maxima.back());
  }
  Value sum = constantF32(0), total = constantF32(0);
  for (int64_t s = 0; s < spec.splits; ++s) {
    Value weight = buildExp2Approx(
        b, loc, arith::SubFOp::create(b, loc, maxima[s], overallMax));
    sum = arith::AddFOp::create(
        b, loc, sum,
        arith::MulFOp::create(b, loc, load(s, index(headDim + 1)), weight));
    total = arith::AddFOp::create(
        b, loc, total, arith::MulFOp::create(b, loc, load(s, feature), weight));
  }
  Value column = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, head, index(headDim)), feature);
  memref::StoreOp::create(b, loc, arith::DivFOp::create(b, loc, total, sum),
                          out, ValueRange{sequence, column});
  gpu::ReturnOp::create(b, loc);
  return info;
}

} // namespace mbc::cuda
