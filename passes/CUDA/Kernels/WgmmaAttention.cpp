//===- WgmmaAttention.cpp - flash attention with wgmma on sm_90a ----------===//
//
// Facts relied on, with their sources (see also GemmKernel.cpp's header for
// [PTX-WGMMA], the shared-memory layouts, and [TMA]):
// [PTX-DESC] PTX ISA, "Matrix Descriptor Format": a 64-bit wgmma operand
//   descriptor holds the shared-memory start address >> 4 in bits 0-13, the
//   leading dimension byte offset >> 4 in bits 16-29, the stride dimension
//   byte offset >> 4 in bits 32-45, a base offset in bits 49-51 (0 when
//   every 1024-byte swizzle atom is 1024-byte aligned, as here) and the
//   swizzle mode in bits 62-63 (1: 128-byte swizzle).
// [PTX-FRAG] PTX ISA, "Register Fragments" of wgmma.mma_async.m64nNk16:
//   with w = warp of the warpgroup, g = lane / 4, t = lane % 4, accumulator
//   element d[i] (i < N / 2) is row 16 w + g + 8 ((i / 2) % 2), column
//   8 (i / 4) + 2 t + i % 2. An A operand in registers is four .b32 of two
//   16-bit elements: (row 16 w + g, columns 2t, 2t+1), (row + 8, the same),
//   (row, 2t + 8, 2t + 9), (row + 8, the same). So the accumulator elements
//   d[8 kk .. 8 kk + 7] of S, taken pairwise, are the A registers of P's
//   keys 16 kk .. 16 kk + 15 (FlashAttention-3 reuses them the same way).
// [PTX-ASYNC] PTX ISA, wgmma.mma_async: its registers (accumulators and an
//   A operand) must not be accessed until a wgmma.wait_group retires it;
//   wgmma.fence must precede the first wgmma of a group whose registers
//   other instructions wrote. Each group here is one inline-asm statement
//   (fence, the K steps' wgmmas, commit_group), and each wait one statement
//   that takes the registers it retires as tied operands: the values after
//   it are defined by the wait, so nothing reads them earlier, and an A
//   operand stays live until its product was retired.
// [PTX-WAIT] wgmma.wait_group N returns once at most the N most recent
//   groups are pending: after committing S_j and then P_{j-1} V_{j-1},
//   wait_group 1 retires S_j and leaves the P V product running.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/WgmmaAttention.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kStages = 2;
constexpr int64_t kConsumers = 2;
constexpr int64_t kGroupThreads = 128;
constexpr int64_t kWarpsPerGroup = kGroupThreads / 32;
constexpr int64_t kConsumerRows = 64;
// TMA boxes are 64 16-bit columns wide: one 128-byte swizzled row.
constexpr int64_t kBoxColumns = 64;
// setmaxnreg: 128 x 24 + 256 x 240 <= 64K registers.
constexpr int32_t kProducerRegisters = 24;
constexpr int32_t kConsumerRegisters = 240;
// Ping-pong: consumer c waits on named barrier kTurnBarrier + c before
// issuing its products and arrives on the other consumer's after (0 is
// __syncthreads).
constexpr int64_t kTurnBarrier = 1;

/// Shared memory from a 1024-byte aligned base: Q as head-dim / 64 boxes
/// [128 rows][64], then kStages K stages and kStages V stages, each
/// head-dim / 64 boxes [key-block rows][64].
struct Layout {
  int64_t qBoxBytes, kvBoxBytes, kvStageBytes;
  int64_t kOffset, vOffset, total;
};

Layout getLayout(const AttentionSpec &spec) {
  Layout layout;
  int64_t boxes = spec.headDim / kBoxColumns;
  layout.qBoxBytes = kWgmmaAttentionQueryRows * kSwizzleRowBytes;
  layout.kvBoxBytes = spec.keyBlock * kSwizzleRowBytes;
  layout.kvStageBytes = boxes * layout.kvBoxBytes;
  layout.kOffset = boxes * layout.qBoxBytes;
  layout.vOffset = layout.kOffset + kStages * layout.kvStageBytes;
  layout.total = layout.vOffset + kStages * layout.kvStageBytes;
  return layout;
}

// mbarrier indices: Q landed; K / V stage s landed ("full", armed with the
// byte count by the producer); K / V stage s read by both consumers
// ("empty", one arrival per consumer warp).
constexpr int64_t kQueryFull = 0;
constexpr int64_t kKeyFull = 1;
constexpr int64_t kValueFull = kKeyFull + kStages;
constexpr int64_t kKeyEmpty = kValueFull + kStages;
constexpr int64_t kValueEmpty = kKeyEmpty + kStages;
constexpr int64_t kBarriers = kValueEmpty + kStages;

/// The operands' rows per sequence: Q, K, V rows (token-major) or
/// head-dim (packed).
std::array<int64_t, 3> rowElements(const AttentionSpec &spec) {
  if (spec.tokenMajor())
    return {spec.qRowElements, spec.kRowElements, spec.vRowElements};
  return {spec.headDim, spec.headDim, spec.headDim};
}

int64_t sequences(const AttentionSpec &spec) {
  return spec.tokenMajor() ? spec.batchHeads / spec.heads : spec.batchHeads;
}

class WgmmaAttentionBuilder {
public:
  WgmmaAttentionBuilder(OpBuilder &b, Location loc, const AttentionSpec &spec,
                        ValueRange maps, Value o)
      : b(b), loc(loc), spec(spec), layout(getLayout(spec)), o(o) {
    keyBlock = spec.keyBlock;
    headDim = spec.headDim;
    MLIRContext *ctx = b.getContext();
    auto mapType = [&](int64_t rows) {
      return nvgpu::TensorMapDescriptorType::get(
          ctx,
          MemRefType::get({1, rows, kBoxColumns}, spec.inputType,
                          MemRefLayoutAttrInterface{}, getWorkgroupSpace(ctx)),
          nvgpu::TensorMapSwizzleKind::SWIZZLE_128B,
          nvgpu::TensorMapL2PromoKind::L2PROMO_128B,
          nvgpu::TensorMapOOBKind::OOB_ZERO,
          nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE);
    };
    for (auto [i, map] : llvm::enumerate(maps))
      tensorMaps[i] =
          UnrealizedConversionCastOp::create(
              b, loc, mapType(i == 0 ? kWgmmaAttentionQueryRows : keyBlock),
              map)
              .getResult(0);
  }

  void build() {
    setUp();
    Value warpgroup = arith::DivUIOp::create(b, loc, tid, index(kGroupThreads));
    Value isProducer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             warpgroup, index(0));
    auto roles = scf::IfOp::create(b, loc, isProducer, /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&roles.getThenRegion().front());
    buildProducer();
    b.setInsertionPointToStart(&roles.getElseRegion().front());
    buildConsumer(arith::SubIOp::create(b, loc, warpgroup, index(1)));
  }

private:
  /// Slice coordinates, shared memory, barriers and the key-block range.
  void setUp() {
    MLIRContext *ctx = b.getContext();
    Attribute workgroup = getWorkgroupSpace(ctx);
    double scale =
        spec.scale != 0 ? spec.scale : 1.0 / std::sqrt(double(headDim));
    scaleLog2e = constantF32(scale * M_LOG2E);
    negativeInfinity = constantF32(-std::numeric_limits<float>::infinity());

    tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    isLeader =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, index(0));
    Value queryBlockIndex = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value slice = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    // Packed: slice `slice` from column 0. Token-major: sequence slice /
    // heads, head slice % heads.
    prefix = slice;
    qColumn = kColumn = vColumn = index(0);
    if (spec.tokenMajor()) {
      prefix = arith::DivUIOp::create(b, loc, slice, index(spec.heads));
      qColumn = muli(arith::RemUIOp::create(b, loc, slice, index(spec.heads)),
                     headDim);
      kColumn = addi(qColumn, spec.kColumn);
      vColumn = addi(qColumn, spec.vColumn);
    }
    // Causal: the last query blocks have the most key blocks; CTAs are
    // scheduled in block order, so block x takes query block (blocks - 1 -
    // x) and the longest run first, not in the tail.
    if (spec.causal)
      queryBlockIndex = arith::SubIOp::create(
          b, loc,
          index(llvm::divideCeil(spec.seqLen, kWgmmaAttentionQueryRows) - 1),
          queryBlockIndex);
    m0 = muli(queryBlockIndex, kWgmmaAttentionQueryRows);

    shared = createDynamicShared(b, loc);
    base = alignSharedBase(b, loc, shared, kSwizzleAtomBytes);
    // The shared-window address of the aligned base, for descriptors.
    baseAddress = arith::AddIOp::create(
        b, loc, memref::ExtractAlignedPointerAsIndexOp::create(b, loc, shared),
        base);
    barriers = nvgpu::MBarrierCreateOp::create(
        b, loc, nvgpu::MBarrierGroupType::get(ctx, workgroup, kBarriers));
    for (int64_t i = 0; i < kBarriers; ++i) {
      int64_t arrivals = i < kKeyEmpty ? 1 : kConsumers * kWarpsPerGroup;
      nvgpu::MBarrierInitOp::create(b, loc, barriers, index(arrivals), index(i),
                                    isLeader);
    }
    gpu::BarrierOp::create(b, loc);
    for (Value map : tensorMaps)
      nvgpu::TmaPrefetchOp::create(b, loc, map, isLeader);

    // Key blocks: all of the sequence; causal, those up to the CTA's last
    // row. Blocks from maskedFrom on cross some row's causal boundary (or
    // a ragged sequence's end) and are masked.
    int64_t sequenceBlocks = llvm::divideCeil(spec.seqLen, keyBlock);
    bool ragged = spec.seqLen % keyBlock != 0;
    endKeyBlock = index(sequenceBlocks);
    if (spec.causal) {
      Value causalEnd = arith::DivUIOp::create(
          b, loc, addi(m0, kWgmmaAttentionQueryRows + keyBlock - 1),
          index(keyBlock));
      endKeyBlock = arith::MinUIOp::create(b, loc, endKeyBlock, causalEnd);
      maskedFrom = arith::MinUIOp::create(
          b, loc, endKeyBlock,
          arith::DivUIOp::create(b, loc, addi(m0, 1), index(keyBlock)));
    } else {
      maskedFrom = index(ragged ? spec.seqLen / keyBlock : sequenceBlocks);
    }
  }

  /// One thread loads Q, then K and V block by block, each into its stage
  /// once both consumers released the stage's previous block.
  void buildProducer() {
    NVVM::SetMaxRegisterOp::create(b, loc, kProducerRegisters,
                                   NVVM::SetMaxRegisterAction::decrease);
    OpBuilder::InsertionGuard guard(b);
    auto leader = scf::IfOp::create(b, loc, isLeader, /*withElse=*/false);
    b.setInsertionPointToStart(&leader.getThenRegion().front());
    int64_t boxes = headDim / kBoxColumns;
    nvgpu::MBarrierArriveExpectTxOp::create(b, loc, barriers,
                                            index(boxes * layout.qBoxBytes),
                                            index(kQueryFull), Value());
    for (int64_t d = 0; d < boxes; ++d)
      loadBox(tensorMaps[0], d * layout.qBoxBytes, kWgmmaAttentionQueryRows,
              addi(qColumn, kBoxColumns * d), m0, index(kQueryFull));

    auto loop = scf::ForOp::create(b, loc, index(0), endKeyBlock, index(1));
    b.setInsertionPointToStart(loop.getBody());
    Value block = loop.getInductionVar();
    Value stage = arith::RemUIOp::create(b, loc, block, index(kStages));
    Value row = muli(block, keyBlock);
    auto loadStage = [&](int64_t full, int64_t empty, int64_t offset, Value map,
                         Value column) {
      // Use u >= 1 of a stage waits for the release of use u - 1.
      Value refill = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                           block, index(kStages));
      auto wait = scf::IfOp::create(b, loc, refill, /*withElse=*/false);
      {
        OpBuilder::InsertionGuard waitGuard(b);
        b.setInsertionPointToStart(&wait.getThenRegion().front());
        Value previousUse = arith::SubIOp::create(
            b, loc, arith::DivUIOp::create(b, loc, block, index(kStages)),
            index(1));
        nvgpu::MBarrierTryWaitParityOp::create(
            b, loc, barriers, buildMBarrierParity(b, loc, previousUse),
            index(kMBarrierWaitTicks),
            arith::AddIOp::create(b, loc, stage, index(empty)));
      }
      Value barrier = arith::AddIOp::create(b, loc, stage, index(full));
      nvgpu::MBarrierArriveExpectTxOp::create(
          b, loc, barriers, index(layout.kvStageBytes), barrier, Value());
      Value stageOffset = addi(muli(stage, layout.kvStageBytes), offset);
      for (int64_t d = 0; d < boxes; ++d)
        loadBox(map, addi(stageOffset, d * layout.kvBoxBytes), keyBlock,
                addi(column, kBoxColumns * d), row, barrier);
    };
    loadStage(kKeyFull, kKeyEmpty, layout.kOffset, tensorMaps[1], kColumn);
    loadStage(kValueFull, kValueEmpty, layout.vOffset, tensorMaps[2], vColumn);
  }

  /// TMA box [rows][64] at (column, row, prefix) into shared memory at
  /// `offset` from the aligned base, completing on mbarrier `barrier`.
  void loadBox(Value map, int64_t offset, int64_t rows, Value column, Value row,
               Value barrier) {
    loadBox(map, index(offset), rows, column, row, barrier);
  }
  void loadBox(Value map, Value offset, int64_t rows, Value column, Value row,
               Value barrier) {
    auto viewType = MemRefType::get({1, rows, kBoxColumns}, spec.inputType,
                                    MemRefLayoutAttrInterface{},
                                    getWorkgroupSpace(b.getContext()));
    Value view = memref::ViewOp::create(
        b, loc, viewType, shared, arith::AddIOp::create(b, loc, base, offset),
        ValueRange{});
    nvgpu::TmaAsyncLoadOp::create(b, loc, view, barriers, map,
                                  ValueRange{column, row, prefix}, barrier,
                                  Value(), Value());
  }

  /// A consumer warpgroup: 64 query rows, the online softmax over every
  /// key block, O / l stored.
  void buildConsumer(Value consumer) {
    NVVM::SetMaxRegisterOp::create(b, loc, kConsumerRegisters,
                                   NVVM::SetMaxRegisterAction::increase);
    Value groupTid = arith::RemUIOp::create(b, loc, tid, index(kGroupThreads));
    Value warp = arith::DivUIOp::create(b, loc, groupTid, index(32));
    Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
    isWarpLeader =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
    pairColumn = muli(arith::RemUIOp::create(b, loc, lane, index(4)), 2);
    Value firstRow = arith::AddIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, addi(m0, 0),
                              muli(consumer, kConsumerRows)),
        arith::AddIOp::create(b, loc, muli(warp, 16),
                              arith::DivUIOp::create(b, loc, lane, index(4))));
    rows = {firstRow, addi(firstRow, 8)};
    // This consumer's 64 rows of every Q box.
    queryAddress = arith::AddIOp::create(
        b, loc, baseAddress, muli(consumer, kConsumerRows * kSwizzleRowBytes));
    if (spec.pingpong) {
      // Consumer 0 issues first: consumer 1 starts by arriving on its turn.
      Type i32 = b.getI32Type();
      Value consumer32 = arith::IndexCastOp::create(b, loc, i32, consumer);
      myTurn = arith::AddIOp::create(
          b, loc, consumer32,
          arith::ConstantIntOp::create(b, loc, i32, kTurnBarrier));
      otherTurn = arith::SubIOp::create(
          b, loc,
          arith::ConstantIntOp::create(b, loc, i32, 2 * kTurnBarrier + 1),
          myTurn);
      isSecondConsumer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                               consumer, index(1));
      OpBuilder::InsertionGuard guard(b);
      auto second =
          scf::IfOp::create(b, loc, isSecondConsumer, /*withElse=*/false);
      b.setInsertionPointToStart(&second.getThenRegion().front());
      endTurn(/*ofFirst=*/true);
    }

    nvgpu::MBarrierTryWaitParityOp::create(b, loc, barriers, constantI1(false),
                                           index(kMBarrierWaitTicks),
                                           index(kQueryFull));
    // The first block (key 0, visible to every row: the row maxima are
    // finite from then on), masked whatever it is.
    Value first = index(0);
    beginTurn();
    waitFull(kKeyFull, first);
    SmallVector<Value> pendingScores = issueScores(first);
    endTurn();
    SmallVector<Value> scores = waitGroup(0, pendingScores, {}).first;
    release(kKeyEmpty, first);
    std::array<Value, 2> rowMax = {negativeInfinity, negativeInfinity};
    std::array<Value, 2> rowSum = {constantF32(0), constantF32(0)};
    Softmax softmax =
        buildSoftmax(scores, first, /*masked=*/true, rowMax, rowSum);

    // Loop state: O, the row maxima and sums, P of the previous block.
    SmallVector<Value> state(headDim / 2, constantF32(0));
    state.append({softmax.rowMax[0], softmax.rowMax[1], softmax.rowSum[0],
                  softmax.rowSum[1]});
    llvm::append_range(state, softmax.probabilities);
    Value unmaskedFrom = index(1);
    Value maskedStart = arith::MaxUIOp::create(b, loc, maskedFrom, index(1));
    state = keyBlockLoop(unmaskedFrom, maskedStart, state, /*masked=*/false);
    state = keyBlockLoop(maskedStart, endKeyBlock, state, /*masked=*/true);

    // The last block's P V.
    int64_t outputs = headDim / 2;
    SmallVector<Value> output(state.begin(), state.begin() + outputs);
    SmallVector<Value> probabilities(state.begin() + outputs + 4, state.end());
    Value last = arith::SubIOp::create(b, loc, endKeyBlock, index(1));
    beginTurn();
    waitFull(kValueFull, last);
    SmallVector<Value> pendingOutput = issueValues(output, probabilities, last);
    endTurn();
    if (spec.pingpong) {
      // Consumer 1 arrived once more than consumer 0 waited (its first
      // arrival): take it, so no named barrier is left half-arrived.
      OpBuilder::InsertionGuard guard(b);
      auto first = scf::IfOp::create(
          b, loc,
          arith::XOrIOp::create(b, loc, isSecondConsumer, constantI1(true)),
          /*withElse=*/false);
      b.setInsertionPointToStart(&first.getThenRegion().front());
      beginTurn();
    }
    output = waitGroup(0, pendingOutput, probabilities).first;
    storeOutput(output, {state[outputs + 2], state[outputs + 3]});
  }

  struct Softmax {
    SmallVector<Value> probabilities; // packed 16-bit pairs (i32)
    std::array<Value, 2> alpha, rowMax, rowSum;
  };

  /// Iterations [first, end): S_j issued, then P_{j-1} V_{j-1}; S_j
  /// retired (wait_group 1), its K stage released, softmax of S_j while
  /// the P V product runs; that retired, its V stage released, O rescaled.
  SmallVector<Value> keyBlockLoop(Value first, Value end, ValueRange state,
                                  bool masked) {
    auto loop = scf::ForOp::create(b, loc, first, end, index(1), state);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value block = loop.getInductionVar();
    ValueRange args = loop.getRegionIterArgs();
    int64_t outputs = headDim / 2;
    SmallVector<Value> output(args.begin(), args.begin() + outputs);
    std::array<Value, 2> rowMax = {args[outputs], args[outputs + 1]};
    std::array<Value, 2> rowSum = {args[outputs + 2], args[outputs + 3]};
    SmallVector<Value> previous(args.begin() + outputs + 4, args.end());
    Value previousBlock = arith::SubIOp::create(b, loc, block, index(1));

    beginTurn();
    waitFull(kKeyFull, block);
    SmallVector<Value> pendingScores = issueScores(block);
    waitFull(kValueFull, previousBlock);
    SmallVector<Value> pendingOutput =
        issueValues(output, previous, previousBlock);
    endTurn();
    SmallVector<Value> scores = waitGroup(1, pendingScores, {}).first;
    release(kKeyEmpty, block);
    Softmax softmax = buildSoftmax(scores, block, masked, rowMax, rowSum);
    output = waitGroup(0, pendingOutput, previous).first;
    release(kValueEmpty, previousBlock);
    for (auto [i, value] : llvm::enumerate(output))
      value = arith::MulFOp::create(b, loc, value, softmax.alpha[(i / 2) % 2]);

    SmallVector<Value> results = output;
    results.append({softmax.rowMax[0], softmax.rowMax[1], softmax.rowSum[0],
                    softmax.rowSum[1]});
    llvm::append_range(results, softmax.probabilities);
    scf::YieldOp::create(b, loc, results);
    return SmallVector<Value>(loop.getResults());
  }

  /// The online softmax of one block's scores (log2 domain): new row
  /// maxima and sums (this thread's partial sums), the rescale factors of
  /// O, and P packed as the A registers of the P V product.
  Softmax buildSoftmax(ArrayRef<Value> scores, Value block, bool masked,
                       std::array<Value, 2> rowMax,
                       std::array<Value, 2> rowSum) {
    Value key0 = muli(block, keyBlock);
    SmallVector<Value> x;
    for (auto [i, score] : llvm::enumerate(scores)) {
      Value value = arith::MulFOp::create(b, loc, score, scaleLog2e);
      if (masked)
        value = mask(value,
                     arith::AddIOp::create(
                         b, loc, key0, addi(pairColumn, 8 * (i / 4) + i % 2)),
                     rows[(i / 2) % 2]);
      x.push_back(value);
    }
    Softmax result;
    for (int64_t h = 0; h < 2; ++h) {
      Value blockMax = negativeInfinity;
      for (size_t i = 0; i < x.size(); ++i)
        if ((i / 2) % 2 == size_t(h))
          blockMax = arith::MaxNumFOp::create(b, loc, blockMax, x[i]);
      blockMax = buildXorReduce(b, loc, blockMax, {1, 2}, /*isMax=*/true);
      Value newMax = arith::MaxNumFOp::create(b, loc, rowMax[h], blockMax);
      result.alpha[h] = exp2(arith::SubFOp::create(b, loc, rowMax[h], newMax));
      result.rowMax[h] = newMax;
    }
    std::array<Value, 2> sums = {constantF32(0), constantF32(0)};
    for (auto [i, value] : llvm::enumerate(x)) {
      int64_t h = (i / 2) % 2;
      value = exp2(arith::SubFOp::create(b, loc, value, result.rowMax[h]));
      sums[h] = arith::AddFOp::create(b, loc, sums[h], value);
    }
    for (int64_t h = 0; h < 2; ++h)
      result.rowSum[h] = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, rowSum[h], result.alpha[h]),
          sums[h]);
    for (size_t i = 0; i < x.size(); i += 2)
      result.probabilities.push_back(pack(x[i], x[i + 1]));
    return result;
  }

  /// -inf where key `key` is hidden from `row`: after it (causal), past the
  /// end of a ragged sequence (not causal).
  Value mask(Value value, Value key, Value row) {
    Value hidden =
        spec.causal
            ? arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, key, row)
            : arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, key,
                                    index(spec.seqLen));
    return arith::SelectOp::create(b, loc, hidden, negativeInfinity, value);
  }

  /// Two f32 as one .b32 of two 16-bit elements (the first in the low
  /// half).
  Value pack(Value low, Value high) {
    Value pair = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, b.getF32Type()), ValueRange{low, high});
    Value narrow = arith::TruncFOp::create(
        b, loc, VectorType::get({2}, spec.inputType), pair);
    Value word = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), narrow);
    return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
  }

  /// O / l for rows g and g + 8 (l summed over the quad), stored as pairs
  /// of columns; rows past the sequence's end are not stored.
  void storeOutput(ArrayRef<Value> output, std::array<Value, 2> rowSum) {
    Type outputType = spec.outputType ? spec.outputType : b.getF32Type();
    auto pairType = VectorType::get({2}, b.getF32Type());
    int64_t pairBytes = 2 * outputType.getIntOrFloatBitWidth() / 8;
    for (int64_t h = 0; h < 2; ++h) {
      Value sum = buildXorReduce(b, loc, rowSum[h], {1, 2}, /*isMax=*/false);
      Value inverse = arith::DivFOp::create(b, loc, constantF32(1), sum);
      OpBuilder::InsertionGuard guard(b);
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           rows[h], index(spec.seqLen));
      auto store = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
      b.setInsertionPointToStart(&store.getThenRegion().front());
      for (int64_t n = 0; n < headDim / 8; ++n) {
        Value pair = vector::FromElementsOp::create(
            b, loc, pairType,
            ValueRange{output[4 * n + 2 * h], output[4 * n + 2 * h + 1]});
        Value scaled = arith::MulFOp::create(
            b, loc, pair,
            vector::BroadcastOp::create(b, loc, pairType, inverse));
        if (!outputType.isF32())
          scaled = arith::TruncFOp::create(
              b, loc, VectorType::get({2}, outputType), scaled);
        Value column =
            arith::AddIOp::create(b, loc, qColumn, addi(pairColumn, 8 * n));
        vector::StoreOp::create(
            b, loc, scaled, o, ValueRange{prefix, rows[h], column},
            /*nontemporal=*/false, llvm::MaybeAlign(pairBytes));
      }
    }
  }

  //===--------------------------------------------------------------===//
  // wgmma groups and waits (inline PTX, [PTX-ASYNC])
  //===--------------------------------------------------------------===//

  /// S = Q K^T for block `block`: one wgmma m64 x key-block x k16 per 16
  /// of the head dimension (the first with scale-d false). Returns the
  /// key-block / 2 pending accumulator values.
  SmallVector<Value> issueScores(Value block) {
    Value stage = arith::RemUIOp::create(b, loc, block, index(kStages));
    Value keyStage = arith::AddIOp::create(
        b, loc, baseAddress,
        addi(muli(stage, layout.kvStageBytes), layout.kOffset));
    int64_t count = keyBlock / 2;
    std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                       "wgmma.fence.sync.aligned;\n";
    SmallVector<Value> operands;
    for (int64_t step = 0; step < headDim / 16; ++step) {
      // K-major operands: a step of 16 elements is 32 bytes into the
      // step / 4-th 64-wide box.
      int64_t inBox = (step % 4) * 32;
      operands.push_back(
          descriptor(addi(queryAddress, (step / 4) * layout.qBoxBytes + inBox),
                     /*leading=*/16, /*stride=*/kSwizzleAtomBytes));
      operands.push_back(
          descriptor(addi(keyStage, (step / 4) * layout.kvBoxBytes + inBox),
                     /*leading=*/16, /*stride=*/kSwizzleAtomBytes));
      // The first step overwrites S (scale-d 0), the others accumulate.
      text += mmaPrefix(keyBlock) + registerList(0, count) + ", " +
              operand(count + 2 * step) + ", " + operand(count + 2 * step + 1) +
              (step == 0 ? ", 0" : ", p") + ", 1, 1, 0, 0;\n";
    }
    text += "wgmma.commit_group.sync.aligned;\n}\n";
    std::string constraints = repeatConstraint("=f", count);
    for (size_t i = 0; i < operands.size(); ++i)
      constraints += ",l";
    return inlineAsm(text, constraints, operands, count, b.getF32Type());
  }

  /// O += P V for block `block`: one wgmma m64 x head-dim x k16 per 16
  /// keys, A (P) from registers, B (V) MN-major from its stage. Returns
  /// the pending O values.
  SmallVector<Value> issueValues(ArrayRef<Value> output,
                                 ArrayRef<Value> probabilities, Value block) {
    Value stage = arith::RemUIOp::create(b, loc, block, index(kStages));
    Value valueStage = arith::AddIOp::create(
        b, loc, baseAddress,
        addi(muli(stage, layout.kvStageBytes), layout.vOffset));
    int64_t count = headDim / 2;
    int64_t steps = keyBlock / 16;
    SmallVector<Value> operands(output);
    llvm::append_range(operands, probabilities);
    std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                       "wgmma.fence.sync.aligned;\n";
    for (int64_t step = 0; step < steps; ++step) {
      // MN-major: 16 keys are 16 rows of 128 bytes; the leading offset
      // steps over the 64-wide head-dim boxes.
      operands.push_back(
          descriptor(addi(valueStage, step * 16 * kSwizzleRowBytes),
                     /*leading=*/layout.kvBoxBytes,
                     /*stride=*/kSwizzleAtomBytes));
      // Operands: O outputs, O tied inputs, P registers, descriptors.
      int64_t a = 2 * count + 4 * step;
      text += mmaPrefix(headDim) + registerList(0, count) + ", " +
              registerList(a, 4) + ", " +
              operand(2 * count + 4 * steps + step) + ", p, 1, 1, 1;\n";
    }
    text += "wgmma.commit_group.sync.aligned;\n}\n";
    std::string constraints = repeatConstraint("=f", count);
    for (int64_t i = 0; i < count; ++i)
      constraints += "," + std::to_string(i);
    constraints += repeatConstraint(",r", 4 * steps, /*leadingComma=*/true);
    constraints += repeatConstraint(",l", steps, /*leadingComma=*/true);
    return inlineAsm(text, constraints, operands, count, b.getF32Type());
  }

  /// wgmma.wait_group `pending`, with the accumulators it retires (f32)
  /// and the A registers of their products (i32) as tied operands.
  std::pair<SmallVector<Value>, SmallVector<Value>>
  waitGroup(int64_t pending, ArrayRef<Value> accumulators,
            ArrayRef<Value> aRegisters) {
    SmallVector<Value> operands(accumulators);
    llvm::append_range(operands, aRegisters);
    int64_t count = operands.size();
    std::string constraints =
        repeatConstraint("=f", accumulators.size()) +
        repeatConstraint(",=r", aRegisters.size(), /*leadingComma=*/true);
    for (int64_t i = 0; i < count; ++i)
      constraints += "," + std::to_string(i);
    SmallVector<Type> types(accumulators.size(), b.getF32Type());
    types.append(aRegisters.size(), b.getI32Type());
    SmallVector<Value> values = inlineAsm("wgmma.wait_group.sync.aligned " +
                                              std::to_string(pending) + ";",
                                          constraints, operands, types);
    SmallVector<Value> retired(values.begin(),
                               values.begin() + accumulators.size());
    SmallVector<Value> kept(values.begin() + accumulators.size(), values.end());
    return {retired, kept};
  }

  SmallVector<Value> inlineAsm(StringRef text, StringRef constraints,
                               ValueRange operands, int64_t count, Type type) {
    return inlineAsm(text, constraints, operands,
                     SmallVector<Type>(count, type));
  }
  SmallVector<Value> inlineAsm(StringRef text, StringRef constraints,
                               ValueRange operands, ArrayRef<Type> types) {
    Type resultType =
        types.size() == 1
            ? types.front()
            : LLVM::LLVMStructType::getLiteral(b.getContext(), types);
    auto op = LLVM::InlineAsmOp::create(
        b, loc, resultType, operands, text, constraints,
        /*has_side_effects=*/true, /*is_align_stack=*/false,
        LLVM::tailcallkind::TailCallKind::None,
        LLVM::AsmDialectAttr::get(b.getContext(), LLVM::AsmDialect::AD_ATT),
        /*operand_attrs=*/ArrayAttr());
    if (types.size() == 1)
      return {op.getResult(0)};
    SmallVector<Value> values;
    for (int64_t i = 0, e = types.size(); i < e; ++i)
      values.push_back(LLVM::ExtractValueOp::create(b, loc, op.getResult(0),
                                                    ArrayRef<int64_t>{i}));
    return values;
  }

  /// A 128-byte-swizzle matrix descriptor of the operand at shared-window
  /// address `address` ([PTX-DESC]).
  Value descriptor(Value address, int64_t leadingBytes, int64_t strideBytes) {
    Type i64 = b.getI64Type();
    Value value = arith::IndexCastOp::create(b, loc, i64, address);
    value = arith::ShRUIOp::create(
        b, loc,
        arith::AndIOp::create(
            b, loc, value, arith::ConstantIntOp::create(b, loc, i64, 0x3FFFF)),
        arith::ConstantIntOp::create(b, loc, i64, 4));
    uint64_t fields = (uint64_t(leadingBytes >> 4) << 16) |
                      (uint64_t(strideBytes >> 4) << 32) | (uint64_t(1) << 62);
    return arith::OrIOp::create(
        b, loc, value,
        arith::ConstantIntOp::create(b, loc, i64, int64_t(fields)));
  }

  /// "wgmma.mma_async.sync.aligned.m64n<n>k16.f32.<t>.<t> ".
  std::string mmaPrefix(int64_t n) const {
    std::string type = spec.inputType.isBF16() ? "bf16" : "f16";
    return "wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) +
           "k16.f32." + type + "." + type + " ";
  }
  static std::string operand(int64_t number) {
    return "$" + std::to_string(number);
  }
  static std::string registerList(int64_t first, int64_t count) {
    std::string list = "{";
    for (int64_t i = 0; i < count; ++i)
      list += (i ? ", $" : "$") + std::to_string(first + i);
    return list + "}";
  }
  static std::string repeatConstraint(StringRef constraint, int64_t count,
                                      bool leadingComma = false) {
    std::string result;
    StringRef bare = constraint.ltrim(',');
    for (int64_t i = 0; i < count; ++i)
      result += (i || leadingComma ? "," : "") + bare.str();
    return result;
  }

  //===--------------------------------------------------------------===//
  // Barriers and small helpers
  //===--------------------------------------------------------------===//

  /// Waits until block `block`'s K or V (`full` = kKeyFull or kValueFull)
  /// landed: use block / kStages of its stage's barrier.
  void waitFull(int64_t full, Value block) {
    Value stage = arith::RemUIOp::create(b, loc, block, index(kStages));
    Value use = arith::DivUIOp::create(b, loc, block, index(kStages));
    nvgpu::MBarrierTryWaitParityOp::create(
        b, loc, barriers, buildMBarrierParity(b, loc, use),
        index(kMBarrierWaitTicks),
        arith::AddIOp::create(b, loc, stage, index(full)));
  }

  /// Each warp's lane 0 arrives on block `block`'s stage barrier `empty`.
  void release(int64_t empty, Value block) {
    OpBuilder::InsertionGuard guard(b);
    auto ifOp = scf::IfOp::create(b, loc, isWarpLeader, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value stage = arith::RemUIOp::create(b, loc, block, index(kStages));
    nvgpu::MBarrierArriveOp::create(
        b, loc, nvgpu::MBarrierTokenType::get(b.getContext()), barriers,
        arith::AddIOp::create(b, loc, stage, index(empty)));
  }

  /// Ping-pong: wait until the other consumer issued its products (named
  /// barrier of this consumer's turn: its 128 threads wait, the other's
  /// arrive), or, with `ofFirst`, arrive on consumer 0's turn.
  void beginTurn() {
    if (!spec.pingpong)
      return;
    buildNamedBarrierSync(b, loc, myTurn, constantI32(2 * kGroupThreads));
  }
  void endTurn(bool ofFirst = false) {
    if (!spec.pingpong)
      return;
    NVVM::BarrierArriveOp::create(
        b, loc, ofFirst ? constantI32(kTurnBarrier) : otherTurn,
        constantI32(2 * kGroupThreads));
  }
  Value constantI32(int64_t value) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
  }

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value addi(Value value, int64_t constant) {
    if (constant == 0)
      return value;
    return arith::AddIOp::create(b, loc, value, index(constant));
  }
  Value muli(Value value, int64_t factor) {
    return arith::MulIOp::create(b, loc, value, index(factor));
  }
  Value constantF32(double value) {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  }
  Value constantI1(bool value) {
    return arith::ConstantIntOp::create(b, loc, b.getI1Type(), value);
  }
  Value exp2(Value x) { return buildExp2Approx(b, loc, x); }

  OpBuilder &b;
  Location loc;
  const AttentionSpec &spec;
  Layout layout;
  Value o;
  int64_t keyBlock = 0, headDim = 0;
  std::array<Value, 3> tensorMaps;
  Value tid, isLeader, isWarpLeader, prefix, qColumn, kColumn, vColumn, m0;
  Value shared, base, baseAddress, queryAddress, barriers;
  Value endKeyBlock, maskedFrom, scaleLog2e, negativeInfinity, pairColumn;
  /// Ping-pong: the named barriers of this consumer's and the other's
  /// turn (i32), and whether this is consumer 1.
  Value myTurn, otherTurn, isSecondConsumer;
  /// This thread's two query rows (g and g + 8 of its warp's 16).
  std::array<Value, 2> rows;
};

} // namespace

LogicalResult
verifyWgmmaAttentionSpec(const AttentionSpec &spec,
                         function_ref<InFlightDiagnostic()> emitError) {
  if (spec.headDim != 64 && spec.headDim != 128)
    return failSpec(emitError, "head-dim = " + Twine(spec.headDim) +
                                   " is not supported by mma = wgmma (64 "
                                   "or 128: whole 128-byte swizzled rows)");
  if (spec.keyBlock != 64 && spec.keyBlock != 128)
    return failSpec(emitError, "key-block = " + Twine(spec.keyBlock) +
                                   " is not supported by mma = wgmma (64 or "
                                   "128)");
  if (spec.patchLength != 0)
    return failSpec(emitError, "patch-length is not supported by mma = "
                               "wgmma (local attention uses mma_sync)");
  if (spec.rowTiles != 1 || spec.reloadQuery)
    return failSpec(emitError, "row-tiles and reload-query do not apply to "
                               "mma = wgmma (128-row query blocks, Q read "
                               "from shared memory)");
  // TMA: 16-byte aligned rows and head columns (whole 64-element boxes
  // need only the start aligned).
  for (auto [name, row, column] :
       {std::tuple<StringRef, int64_t, int64_t>{"q", rowElements(spec)[0], 0},
        {"k", rowElements(spec)[1], spec.kColumn},
        {"v", rowElements(spec)[2], spec.vColumn}})
    if (row % 8 != 0 || column % 8 != 0)
      return failSpec(emitError, name + " rows of " + Twine(row) +
                                     " elements from column " + Twine(column) +
                                     " are not 16-byte aligned (TMA)");
  if (wgmmaAttentionSharedBytes(spec) > kMaxDynamicSharedBytes)
    return failSpec(emitError, "the wgmma attention tiles need " +
                                   Twine(wgmmaAttentionSharedBytes(spec)) +
                                   " bytes of shared memory");
  return success();
}

int64_t wgmmaAttentionSharedBytes(const AttentionSpec &spec) {
  return getLayout(spec).total + kSwizzleAtomBytes;
}

SmallVector<TensorMapDescription, 3>
wgmmaAttentionTensorMaps(const AttentionSpec &spec) {
  std::string dtype = spec.inputType.isBF16() ? "bf16" : "f16";
  int64_t bytes = spec.inputType.getIntOrFloatBitWidth() / 8;
  std::array<int64_t, 3> rows = rowElements(spec);
  SmallVector<TensorMapDescription, 3> maps;
  const char *names[] = {"q", "k", "v"};
  for (int64_t i = 0; i < 3; ++i) {
    int64_t boxRows = i == 0 ? kWgmmaAttentionQueryRows : spec.keyBlock;
    maps.push_back({names[i],
                    dtype,
                    {rows[i], spec.seqLen, sequences(spec)},
                    {rows[i] * bytes, rows[i] * spec.seqLen * bytes},
                    {kBoxColumns, boxRows, 1},
                    128});
  }
  return maps;
}

void buildWgmmaAttention(OpBuilder &b, Location loc, const AttentionSpec &spec,
                         ValueRange maps, Value o) {
  WgmmaAttentionBuilder(b, loc, spec, maps, o).build();
}

} // namespace mbc::cuda
