//===- GemmKernel.cpp - tensor-core GEMM kernels for NVIDIA GPUs ----------===//
//
// Layout and fragment facts relied on below, with their sources:
//
// The mma.sync fragment and ldmatrix facts are in WarpMma.cpp.
// [PTX-WGMMA] PTX ISA, "Matrix Descriptor Format" and "Shared Memory Matrix
//   Layout": with the 128-byte swizzle, a K-major operand is stored as rows
//   of 64 16-bit elements (128 bytes), 8-row groups 1024 bytes apart (the
//   stride byte offset); the leading byte offset is not used for K-major
//   swizzled layouts; a K step of 16 elements advances the start address
//   by 32 bytes inside the 1024-byte swizzle atom, which must start at a
//   1024-byte aligned address. An MN-major operand ([K][N], transposed B)
//   is stored as boxes of 64 N-elements x K rows; the leading byte offset
//   is the distance between two 64-wide N boxes.
// [MLIR-NVGPU] mlir/lib/Conversion/NVGPUToNVVM/NVGPUToNVVM.cpp (LLVM 22):
//   nvgpu.warpgroup.generate.descriptor takes the start address from its
//   memref operand and sets stride = 1024 bytes and leading offset =
//   (tensor map box dim 0) * 128 bytes; nvgpu.warpgroup.mma emits one
//   wgmma.m64nNk16 per 64 rows and 16 K, advancing descriptor A by
//   (16 k + K_tile * 64 i) elements and descriptor B by (dim0(B) * 16 k)
//   elements. Those increments are right for the upstream layout only, so
//   this builder issues one nvgpu.warpgroup.mma per (64 rows, 16 K) and
//   computes every start address itself.
// [TMA] tensor map coordinates and box sizes are innermost first
//   (cuTensorMapEncodeTiled; mlir/test/Integration/GPU/CUDA/sm90); the
//   complete_tx byte count of a load is the full box, including the
//   zero-filled out-of-bounds part.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/LogSoftmaxKernel.h"
#include "passes/CUDA/Kernels/NormKernel.h"
#include "passes/CUDA/Kernels/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;

namespace mbc::cuda {
namespace {

constexpr int64_t kThreads = kWarpMmaThreads; // one warpgroup, or 4 warps
// Warp specialization: setmaxnreg counts (2 consumers: 128 x 40 + 256 x 232
// <= 64K registers), and the named barrier of the consumer warpgroups (0 is
// __syncthreads).
constexpr int32_t kProducerRegisters = 40;
constexpr int32_t kConsumerRegisters = 232;
constexpr int64_t kConsumersBarrier = 1;
// A persistent kernel's per-consumer barriers: 2 and 3.
constexpr int64_t kFirstConsumerBarrier = 2;

LogicalResult verifyMultiple(function_ref<InFlightDiagnostic()> emitError,
                             StringRef dim, int64_t size, StringRef tile,
                             int64_t tileSize) {
  if (size % tileSize == 0)
    return success();
  return failSpec(emitError, "GEMM " + dim + " = " + Twine(size) +
                                 " is not a multiple of " + tile + " = " +
                                 Twine(tileSize) +
                                 " (remainders are not generated: pad " + dim +
                                 " to a multiple of the tile)");
}

int64_t elementBytes(Type type) { return type.getIntOrFloatBitWidth() / 8; }

/// Values every kernel body needs.
struct GemmOperands {
  Value a, b;     // memrefs (mma_sync) or tensor map descriptors (wgmma)
  Value c;        // memref<MxNxf32>
  Value bias;     // memref<Nxf32> or null
  Value residual; // memref<MxNxf32> or null
  /// A norm prologue's input (x, memref<MxKxf32>, or a gather's ids and
  /// table: normInputParamNames), weight and bias (or null); `a` is then
  /// only a tensor map type for the A descriptors.
  SmallVector<Value, 2> normInput;
  Value normWeight, normBias;
  /// A norm epilogue's weight, bias and start row (or null).
  Value outputNormWeight, outputNormBias, start;
  /// Grid x's first N tile of this product (a paired GEMM's second product
  /// starts after the first's tiles).
  int64_t firstNTile = 0;
};

/// This product's N tile origin: (block x - its first tile) * tile-n.
Value nTileOrigin(OpBuilder &b, Location loc, const GemmOperands &operands,
                  int64_t tileN) {
  Value tile = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  if (operands.firstNTile)
    tile = arith::SubIOp::create(
        b, loc, tile,
        arith::ConstantIndexOp::create(b, loc, operands.firstNTile));
  return arith::MulIOp::create(b, loc, tile,
                               arith::ConstantIndexOp::create(b, loc, tileN));
}

/// v = act(acc + bias[col..]) + residual[row, col..]; C[row, col..] = v.
/// `acc` is a vector<Vxf32> of consecutive columns.
void storeWithEpilogue(OpBuilder &b, Location loc, const GemmSpec &spec,
                       const GemmOperands &operands, Value acc, Value row,
                       Value col) {
  // A partial last tile (M or N not a tile multiple) stores only rows < M
  // and columns < N; N is a multiple of 8, so a vector of 2 or 4 columns is
  // wholly in or out.
  OpBuilder::InsertionGuard guard(b);
  Value inside;
  auto within = [&](Value coordinate, int64_t size, int64_t tile) {
    if (size % tile == 0)
      return;
    Value check =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, coordinate,
                              arith::ConstantIndexOp::create(b, loc, size));
    inside = inside ? arith::AndIOp::create(b, loc, inside, check).getResult()
                    : check;
  };
  within(row, spec.m, spec.config.tileM);
  within(col, spec.n, spec.config.tileN);
  if (inside) {
    auto ifOp = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  }
  auto vectorType = cast<VectorType>(acc.getType());
  Value value = acc;
  if (spec.bias) {
    Type biasType = spec.biasType ? spec.biasType : vectorType.getElementType();
    Value bias = vector::LoadOp::create(b, loc, vectorType.clone(biasType),
                                        operands.bias, col);
    if (!biasType.isF32())
      bias = arith::ExtFOp::create(b, loc, vectorType, bias);
    value = arith::AddFOp::create(b, loc, value, bias);
  }
  if (spec.activation == Activation::Relu) {
    // A compare and select: convert-gpu-to-nvvm turns arith.maximumf on
    // vectors into libdevice calls (__nv_fmaxf), which mbc does not link.
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vectorType, b.getF32FloatAttr(0)));
    Value positive =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, value, zero);
    value = arith::SelectOp::create(b, loc, positive, value, zero);
  } else if (spec.activation != Activation::None) {
    value = buildGelu(b, loc, value, spec.activation == Activation::GeluTanh);
  }
  if (spec.residual) {
    Value residual = vector::LoadOp::create(
        b, loc, vectorType, operands.residual, ValueRange{row, col});
    value = arith::AddFOp::create(b, loc, value, residual);
  }
  if (spec.outputType && !spec.outputType.isF32())
    value = arith::TruncFOp::create(b, loc, vectorType.clone(spec.outputType),
                                    value);
  vector::StoreOp::create(b, loc, value, operands.c, ValueRange{row, col});
}

/// Row `row` of a norm prologue's A as lane `lane`'s pairs of features
/// 2 lane + 64 j (j < K / 64), rounded to the input type (NormKernel.h's
/// buildNormRow, as the norm kernel computes them); zeros for a row past M.
SmallVector<Value> normPrologueRow(OpBuilder &b, Location loc,
                                   const GemmSpec &spec,
                                   const GemmOperands &operands, Value row,
                                   Value lane) {
  auto pairType = VectorType::get({2}, spec.inputType);
  auto rounded = [&] {
    SmallVector<Value> pairs;
    for (Value y :
         buildNormRow(b, loc, *spec.norm, operands.normInput,
                      operands.normWeight, operands.normBias, row, lane))
      pairs.push_back(arith::TruncFOp::create(b, loc, pairType, y));
    return pairs;
  };
  if (spec.m % spec.config.tileM == 0)
    return rounded();
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row,
                            arith::ConstantIndexOp::create(b, loc, spec.m));
  SmallVector<Type> types(spec.k / 64, pairType);
  auto ifOp = scf::IfOp::create(b, loc, types, inside, /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  scf::YieldOp::create(b, loc, rounded());
  b.setInsertionPointToStart(&ifOp.getElseRegion().front());
  Value zeros = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(pairType, b.getZeroAttr(spec.inputType)));
  scf::YieldOp::create(b, loc, SmallVector<Value>(types.size(), zeros));
  return SmallVector<Value>(ifOp.getResults());
}

/// A norm prologue's loop over the tile rows firstRow + r, r = warp,
/// warp + warps, ... < rows (`groupTid` / 32 is the warp): `store(tileRow,
/// lane, pairs)` puts one row's rounded pairs into shared memory.
void forEachNormRow(
    OpBuilder &b, Location loc, const GemmSpec &spec,
    const GemmOperands &operands, Value m0, Value firstRow, int64_t rows,
    Value groupTid,
    function_ref<void(Value tileRow, Value lane, ArrayRef<Value> pairs)>
        store) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  int64_t warps = kThreads / 32;
  Value warp = arith::DivUIOp::create(b, loc, groupTid, index(32));
  Value lane = arith::RemUIOp::create(b, loc, groupTid, index(32));
  auto loop = scf::ForOp::create(b, loc, warp, index(rows), index(warps));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value tileRow =
      arith::AddIOp::create(b, loc, firstRow, loop.getInductionVar());
  Value row = arith::AddIOp::create(b, loc, m0, tileRow);
  store(tileRow, lane, normPrologueRow(b, loc, spec, operands, row, lane));
}

//===----------------------------------------------------------------------===//
// sm_90a: TMA + mbarrier + wgmma
//===----------------------------------------------------------------------===//

/// Shared memory of the wgmma kernel, from a 1024-byte aligned base:
///   A stages: stages x [tileM][64] (tileM * 128 bytes each), or with a
///             norm prologue the tile's whole A: K / 64 x [tileM][64]
///   B stages: stages x [tileN][64] for B [N,K] (K-major),
///             stages x (tileN/64) x [64 K][64 N] for B [K,N] (MN-major)
/// then reused by the epilogue as [tileM][tileN] f32; a persistent kernel's
/// epilogue tile follows the stages instead (the producer refills them
/// while the consumers store).
struct WgmmaLayout {
  int64_t aStageBytes, bStageBytes, pipelineBytes, epilogueBytes;
  int64_t residentABytes;     // a norm prologue's A (0 without one)
  int64_t bStagesOffset;      // from the aligned base
  int64_t epilogueOffset;     // from the aligned base
  int64_t dynamicSharedBytes; // + kSwizzleAtomBytes for aligning the base
};

WgmmaLayout getWgmmaLayout(const GemmSpec &spec) {
  const GemmConfig &config = spec.config;
  int64_t bytes = elementBytes(spec.inputType);
  WgmmaLayout layout;
  layout.aStageBytes = spec.norm ? 0 : config.tileM * config.tileK * bytes;
  layout.bStageBytes = config.tileN * config.tileK * bytes;
  layout.residentABytes = spec.norm ? config.tileM * spec.k * bytes : 0;
  layout.bStagesOffset =
      layout.residentABytes + config.stages * layout.aStageBytes;
  layout.pipelineBytes =
      layout.bStagesOffset + config.stages * layout.bStageBytes;
  layout.epilogueBytes = config.tileM * config.tileN * 4;
  bool separate = config.persistentCtas > 0;
  layout.epilogueOffset = separate ? layout.pipelineBytes : 0;
  layout.dynamicSharedBytes =
      (separate ? layout.pipelineBytes + layout.epilogueBytes
                : std::max(layout.pipelineBytes, layout.epilogueBytes)) +
      kSwizzleAtomBytes;
  return layout;
}

class WgmmaGemmBuilder {
public:
  WgmmaGemmBuilder(OpBuilder &b, Location loc, const GemmSpec &spec,
                   const GemmOperands &operands)
      : b(b), loc(loc), spec(spec), config(spec.config), operands(operands),
        layout(getWgmmaLayout(spec)) {}

  void build() {
    if (config.consumers == 1)
      buildOneWarpgroup();
    else
      buildWarpSpecialized();
  }

private:
  /// What both schedules start with: tile origin, the aligned shared base,
  /// `barrierCount` mbarriers initialized by thread 0 (barrier i expects
  /// `arrivals(i)`), the tensor-map prefetch. Returns the thread index.
  Value setUp(int64_t barrierCount, function_ref<int64_t(int64_t)> arrivals) {
    MLIRContext *ctx = b.getContext();
    Attribute workgroup = getWorkgroupSpace(ctx);
    numKBlocks = spec.k / config.tileK;
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    isLeader =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, index(0));
    // Grid x walks N tiles, grid y walks M tiles.
    n0 = nTileOrigin(b, loc, operands, config.tileN);
    m0 = muli(gpu::BlockIdOp::create(b, loc, gpu::Dimension::y), config.tileM);
    shared = createDynamicShared(b, loc);
    base = alignSharedBase(b, loc, shared, kSwizzleAtomBytes);
    barriers = nvgpu::MBarrierCreateOp::create(
        b, loc, nvgpu::MBarrierGroupType::get(ctx, workgroup, barrierCount));
    for (int64_t i = 0; i < barrierCount; ++i)
      nvgpu::MBarrierInitOp::create(b, loc, barriers, index(arrivals(i)),
                                    index(i), isLeader);
    gpu::BarrierOp::create(b, loc);
    if (!spec.norm)
      nvgpu::TmaPrefetchOp::create(b, loc, operands.a, isLeader);
    nvgpu::TmaPrefetchOp::create(b, loc, operands.b, isLeader);
    return tid;
  }

  /// One warpgroup loads and computes: the TMA loads run `stages` - 1 K
  /// blocks ahead. Block k's products are issued as one wgmma group while
  /// block k - 1's may still run; its wait_group 1 retires block k - 1's,
  /// whose stage is then refilled with block k - 1 + `stages`, so the
  /// tensor cores always have the next group queued (waiting for a block's
  /// own products, wait_group 0, before refilling drained them every block).
  void buildOneWarpgroup() {
    Value tid = setUp(config.stages, [](int64_t) { return 1; });
    // Prologue: fill every stage.
    for (int64_t s = 0; s < std::min(config.stages, numKBlocks); ++s)
      issueLoads(index(s), index(s));
    // A norm prologue runs while B's first blocks load.
    if (spec.norm) {
      normalizeRows(index(0), config.tileM, tid);
      gpu::BarrierOp::create(b, loc);
    }

    // K block 0 outside the loop: its first products start from zero
    // accumulators (scale-d 0, mb-cuda-merge-wgmma-groups).
    SmallVector<Value> first = mmaKBlock(waitFull(index(0)), index(0), index(0),
                                         initAccumulators(config.tileM / 64));
    auto loop = scf::ForOp::create(b, loc, index(1), index(numKBlocks),
                                   index(1), first);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value kBlock = loop.getInductionVar();
      SmallVector<Value> results = mmaKBlock(waitFull(kBlock), kBlock, index(0),
                                             loop.getRegionIterArgs());
      // Every warp retired block k - 1's products (each wgmma's
      // wait_group 1) before its stage is refilled.
      gpu::BarrierOp::create(b, loc);
      Value previous = arith::SubIOp::create(b, loc, kBlock, index(1));
      Value next =
          arith::AddIOp::create(b, loc, previous, index(config.stages));
      {
        OpBuilder::InsertionGuard refillGuard(b);
        enterIf(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, next,
                                      index(numKBlocks)));
        issueLoads(next, arith::RemUIOp::create(b, loc, previous,
                                                index(config.stages)));
      }
      scf::YieldOp::create(b, loc, results);
    }
    // The last products are done, in every warp, before the epilogue's
    // tile (which may overlay the stages) is written.
    NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
    gpu::BarrierOp::create(b, loc);
    SmallVector<Value> results(loop.getResults());
    storeTile(results, /*firstRow=*/index(0), tid);
  }

  /// Warp specialization: warpgroup 0 produces (one thread issues every
  /// TMA load, waiting on stage s's "empty" barrier, index stages + s,
  /// before it refills s), warpgroups 1..consumers each own tile-m /
  /// consumers rows and compute. A consumer waits on the "full" barrier
  /// (index s), issues the K block's wgmmas as one group
  /// (mb-cuda-merge-wgmma-groups joins them), and after the next block's
  /// group is issued and the previous one retired (wait_group 1) its warps
  /// arrive on the previous stage's empty barrier: the tensor cores never
  /// wait for a refill, and loads never wait for a product that is not
  /// reading their stage.
  void buildWarpSpecialized() {
    int64_t consumers = config.consumers;
    int64_t warpsPerGroup = kThreads / 32;
    Value tid = setUp(2 * config.stages, [&](int64_t i) {
      return i < config.stages ? 1 : consumers * warpsPerGroup;
    });
    Value warpgroup = arith::DivUIOp::create(b, loc, tid, index(kThreads));
    Value isProducer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             warpgroup, index(0));
    auto roles = scf::IfOp::create(b, loc, isProducer, /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);

    // Producer.
    b.setInsertionPointToStart(&roles.getThenRegion().front());
    NVVM::SetMaxRegisterOp::create(b, loc, kProducerRegisters,
                                   NVVM::SetMaxRegisterAction::decrease);
    {
      OpBuilder::InsertionGuard producerGuard(b);
      auto leader = scf::IfOp::create(b, loc, isLeader, /*withElse=*/false);
      b.setInsertionPointToStart(&leader.getThenRegion().front());
      forEachTile([&](Value tile) {
        auto loop =
            scf::ForOp::create(b, loc, index(0), index(numKBlocks), index(1));
        OpBuilder::InsertionGuard loopGuard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value kBlock = loop.getInductionVar();
        Value block = globalBlock(tile, kBlock);
        Value stage =
            arith::RemUIOp::create(b, loc, block, index(config.stages));
        // Use u >= 1 of a stage waits for the consumers' release of use
        // u-1: phase u-1 of its empty barrier.
        Value refill = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                             block, index(config.stages));
        auto wait = scf::IfOp::create(b, loc, refill, /*withElse=*/false);
        {
          OpBuilder::InsertionGuard waitGuard(b);
          b.setInsertionPointToStart(&wait.getThenRegion().front());
          Value previousUse = arith::SubIOp::create(
              b, loc,
              arith::DivUIOp::create(b, loc, block, index(config.stages)),
              index(1));
          nvgpu::MBarrierTryWaitParityOp::create(
              b, loc, barriers, buildMBarrierParity(b, loc, previousUse),
              index(kMBarrierWaitTicks),
              arith::AddIOp::create(b, loc, stage, index(config.stages)));
        }
        issueLoadsUnguarded(kBlock, stage);
      });
    }

    // Consumers.
    b.setInsertionPointToStart(&roles.getElseRegion().front());
    NVVM::SetMaxRegisterOp::create(b, loc, kConsumerRegisters,
                                   NVVM::SetMaxRegisterAction::increase);
    int64_t rowsPerConsumer = config.tileM / consumers;
    int64_t rowBlocks = rowsPerConsumer / 64;
    Value consumer =
        arith::SubIOp::create(b, loc, warpgroup, index(1)).getResult();
    Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
    Value isWarpLeader =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
    Value firstRowBlock = muli(consumer, rowBlocks);
    Value consumerTid = arith::SubIOp::create(b, loc, tid, index(kThreads));
    Value groupTid =
        arith::RemUIOp::create(b, loc, consumerTid, index(kThreads));
    // A norm prologue: each consumer normalizes its own rows (the producer
    // has started B's loads), ordered for its warpgroup by its own named
    // barrier (2 or 3; a norm prologue is never persistent).
    if (spec.norm) {
      normalizeRows(muli(consumer, rowsPerConsumer), rowsPerConsumer, groupTid);
      namedBarrier(arith::IndexCastUIOp::create(
                       b, loc, b.getI32Type(),
                       arith::AddIOp::create(b, loc, consumer,
                                             index(kFirstConsumerBarrier))),
                   kThreads);
    }
    // One warp of each consumer warpgroup arrives on `block`'s empty
    // barrier: its stage may be refilled.
    auto release = [&](Value block) {
      Value stage = arith::RemUIOp::create(b, loc, block, index(config.stages));
      nvgpu::MBarrierArriveOp::create(
          b, loc, nvgpu::MBarrierTokenType::get(b.getContext()), barriers,
          arith::AddIOp::create(b, loc, stage, index(config.stages)));
    };
    forEachTile([&](Value tile) {
      // K block 0 outside the loop: its first products start from zero
      // accumulators (scale-d 0, mb-cuda-merge-wgmma-groups).
      SmallVector<Value> first =
          mmaKBlock(waitFull(globalBlock(tile, index(0))), index(0),
                    firstRowBlock, initAccumulators(rowBlocks));
      auto loop = scf::ForOp::create(b, loc, index(1), index(numKBlocks),
                                     index(1), first);
      {
        OpBuilder::InsertionGuard loopGuard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value block = globalBlock(tile, loop.getInductionVar());
        Value stage = waitFull(block);
        SmallVector<Value> results =
            mmaKBlock(stage, loop.getInductionVar(), firstRowBlock,
                      loop.getRegionIterArgs());
        // The group just issued may still run (each wgmma's wait_group 1);
        // the previous block's group is retired: release its stage.
        auto ifOp = scf::IfOp::create(b, loc, isWarpLeader, /*withElse=*/false);
        b.setInsertionPointToStart(&ifOp.getThenRegion().front());
        release(arith::SubIOp::create(b, loc, block, index(1)));
        b.setInsertionPointAfter(ifOp);
        scf::YieldOp::create(b, loc, results);
      }
      NVVM::WgmmaWaitGroupSyncOp::create(b, loc, 0);
      SmallVector<Value> results(loop.getResults());
      Value firstRow = muli(consumer, rowsPerConsumer);
      if (config.persistentCtas == 0) {
        // The epilogue tile overlays the stages: every consumer's products
        // are done before any consumer writes it (the producer's loads
        // were all consumed, so none is in flight).
        namedBarrier(kConsumersBarrier, consumers * kThreads);
        // The consumers' stores to the tile are done before any reads back.
        storeTile(results, firstRow, groupTid, [&] {
          namedBarrier(kConsumersBarrier, consumers * kThreads);
        });
        return;
      }
      // Persistent: the tile's last stage is released now, so the producer
      // fills every stage with the next tile's blocks during the epilogue,
      // whose tile has its own shared memory. A consumer stores and reads
      // back only its own rows: its warpgroup's barrier orders its previous
      // tile's reads before these stores, and these before the reads.
      auto lastIf = scf::IfOp::create(b, loc, isWarpLeader, /*withElse=*/false);
      {
        OpBuilder::InsertionGuard lastGuard(b);
        b.setInsertionPointToStart(&lastIf.getThenRegion().front());
        release(globalBlock(tile, index(numKBlocks - 1)));
      }
      Value barrierId = arith::IndexCastUIOp::create(
          b, loc, b.getI32Type(),
          arith::AddIOp::create(b, loc, consumer,
                                index(kFirstConsumerBarrier)));
      auto consumerBarrier = [&] { namedBarrier(barrierId, kThreads); };
      consumerBarrier();
      storeTile(results, firstRow, groupTid, consumerBarrier);
    });
  }

  /// Runs `body(tile)` for each output tile this CTA computes, with m0 and
  /// n0 set to its origin: the CTA's one tile (tile = 0), or, persistent,
  /// tiles blockIdx.x + tile x gridDim.x (the N tiles of an M row in turn;
  /// the grid has at most as many CTAs as tiles).
  void forEachTile(function_ref<void(Value)> body) {
    if (config.persistentCtas == 0) {
      body(index(0));
      return;
    }
    int64_t nTiles = llvm::divideCeil(spec.n, config.tileN);
    int64_t tiles = nTiles * llvm::divideCeil(spec.m, config.tileM);
    Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value grid = gpu::GridDimOp::create(b, loc, gpu::Dimension::x);
    Value count = arith::DivUIOp::create(
        b, loc,
        arith::AddIOp::create(
            b, loc, arith::SubIOp::create(b, loc, index(tiles), block),
            arith::SubIOp::create(b, loc, grid, index(1))),
        grid);
    auto loop = scf::ForOp::create(b, loc, index(0), count, index(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();
    Value linear = arith::AddIOp::create(
        b, loc, block, arith::MulIOp::create(b, loc, tile, grid));
    Value savedM = m0, savedN = n0;
    m0 = muli(arith::DivUIOp::create(b, loc, linear, index(nTiles)),
              config.tileM);
    n0 = muli(arith::RemUIOp::create(b, loc, linear, index(nTiles)),
              config.tileN);
    body(tile);
    m0 = savedM;
    n0 = savedN;
  }

  /// The CTA's running count of K blocks at block `kBlock` of its `tile`-th
  /// tile: what picks the stage and the barriers' phases, continued from
  /// tile to tile.
  Value globalBlock(Value tile, Value kBlock) {
    return arith::AddIOp::create(b, loc, muli(tile, numKBlocks), kBlock);
  }

  /// K block `kBlock`'s products from `stage` (A from the resident rows
  /// with a norm prologue): every K step of the 64-row blocks
  /// firstRowBlock.. (one per accumulator) of the tile.
  SmallVector<Value> mmaKBlock(Value stage, Value kBlock, Value firstRowBlock,
                               ValueRange accumulators) {
    SmallVector<Value> results(accumulators);
    for (int64_t kStep = 0; kStep < config.tileK / 16; ++kStep)
      for (auto [i, result] : llvm::enumerate(results))
        result = buildMma(
            stage, kBlock,
            arith::AddIOp::create(b, loc, firstRowBlock, index(int64_t(i))),
            kStep, result);
    return results;
  }

  /// A norm prologue: the 4 warps of a warpgroup (thread `groupTid`)
  /// normalize tile rows firstRow.. firstRow + rows - 1 into the resident
  /// A, in the layout A's TMA loads would have made (K block j's [tileM][64]
  /// block; the 16-byte chunk c of a row r at r * 128 + (c ^ r % 8) * 16,
  /// the 128-byte swizzle [PTX-WGMMA]): a warp stores one 128-byte row per
  /// block. Then the proxy fence: the wgmmas read these generic-proxy
  /// stores through the async proxy. The caller's barrier orders them
  /// before the first wgmma.
  void normalizeRows(Value firstRow, int64_t rows, Value groupTid) {
    Value resident = sharedView(base, {config.tileM * spec.k}, spec.inputType);
    forEachNormRow(
        b, loc, spec, operands, m0, firstRow, rows, groupTid,
        [&](Value tileRow, Value lane, ArrayRef<Value> pairs) {
          Value chunk = arith::XOrIOp::create(
              b, loc, arith::DivUIOp::create(b, loc, lane, index(4)),
              arith::RemUIOp::create(b, loc, tileRow, index(8)));
          Value inRow = arith::AddIOp::create(
              b, loc, muli(chunk, 8),
              muli(arith::RemUIOp::create(b, loc, lane, index(4)), 2));
          Value rowStart =
              arith::AddIOp::create(b, loc, muli(tileRow, 64), inRow);
          for (auto [j, pair] : llvm::enumerate(pairs)) {
            Value element = arith::AddIOp::create(
                b, loc, rowStart, index(int64_t(j) * config.tileM * 64));
            vector::StoreOp::create(b, loc, pair, resident, ValueRange{element},
                                    /*nontemporal=*/false, llvm::Align(4));
          }
        });
    NVVM::FenceProxyOp::create(
        b, loc, NVVM::ProxyKind::async_shared,
        NVVM::SharedSpaceAttr::get(b.getContext(),
                                   NVVM::SharedSpace::shared_cta));
  }

  SmallVector<Value> initAccumulators(int64_t rowBlocks) {
    auto accumulatorType = nvgpu::WarpgroupAccumulatorType::get(
        b.getContext(), VectorType::get({64, config.tileN}, b.getF32Type()));
    SmallVector<Value> accumulators;
    for (int64_t i = 0; i < rowBlocks; ++i)
      accumulators.push_back(nvgpu::WarpgroupMmaInitAccumulatorOp::create(
          b, loc, accumulatorType));
    return accumulators;
  }

  /// Waits until K block `kBlock`'s tiles landed in their stage (the full
  /// barrier, index stage, completes one phase per use); returns the stage.
  Value waitFull(Value kBlock) {
    Value stage = arith::RemUIOp::create(b, loc, kBlock, index(config.stages));
    Value use = arith::DivUIOp::create(b, loc, kBlock, index(config.stages));
    nvgpu::MBarrierTryWaitParityOp::create(b, loc, barriers,
                                           buildMBarrierParity(b, loc, use),
                                           index(kMBarrierWaitTicks), stage);
    return stage;
  }

  /// bar.sync `id`, `threads`: the threads of the consumer warpgroups (or
  /// of one, with an id computed per consumer).
  void namedBarrier(Value id, int64_t threads) {
    buildNamedBarrierSync(
        b, loc, id, arith::ConstantIntOp::create(b, loc, b.getI32Type(), threads));
  }
  void namedBarrier(int64_t id, int64_t threads) {
    namedBarrier(arith::ConstantIntOp::create(b, loc, b.getI32Type(), id),
                 threads);
  }

  /// Where column `col` of tile row `row` lives in the epilogue's staging
  /// tile: the 32-byte chunks of each group of four swap by row % 4 (an
  /// XOR swizzle, when tile-n is a multiple of 32). A warp's fragment
  /// stores put 8 rows x 32 bytes at one column: with a plain [tileM][tileN]
  /// f32 tile every row starts at bank 0 (tile-n x 4 bytes is a multiple of
  /// 128) and each 128-byte phase of 4 rows took 4 wavefronts; swizzled,
  /// its 4 rows fill the 32 banks. The quad loads read 128 contiguous bytes
  /// of a row per phase either way.
  Value stagedColumn(Value row, Value col) {
    if (config.tileN % 32 != 0)
      return col;
    Value rowBits = arith::AndIOp::create(b, loc, row, index(3));
    return arith::XOrIOp::create(
        b, loc, col, arith::ShLIOp::create(b, loc, rowBits, index(3)));
  }

  /// Stores one m64nNk16 accumulator at rows `row`.. of `tile` (`groupTid`:
  /// the thread's index in its warpgroup), columns swizzled (stagedColumn).
  /// (Upstream nvgpu.warpgroup.mma.store neither swizzles nor places warpgroups
  /// other than 0: it puts warp w's rows at 16 w with w = tid / 32.) The
  /// wgmma D layout: warp w (of the warpgroup) holds rows 16 w + lane / 4
  /// (+ 8); register 4 j + 2 h + e is column 8 j + 2 (lane % 4) + e of
  /// row + 8 h.
  void storeFragments(Value accumulator, Value tile, Value row,
                      Value groupTid) {
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    int64_t registers = config.tileN / 2;
    auto inner = LLVM::LLVMStructType::getLiteral(
        ctx, SmallVector<Type>(registers, f32));
    auto outer = LLVM::LLVMStructType::getLiteral(ctx, {inner});
    Value converted =
        UnrealizedConversionCastOp::create(b, loc, outer, accumulator)
            .getResult(0);
    Value values =
        LLVM::ExtractValueOp::create(b, loc, converted, ArrayRef<int64_t>{0});
    Value warp = arith::DivUIOp::create(b, loc, groupTid, index(32));
    Value lane = arith::RemUIOp::create(b, loc, groupTid, index(32));
    Value firstRow = arith::AddIOp::create(
        b, loc, row,
        arith::AddIOp::create(b, loc,
                              arith::MulIOp::create(b, loc, warp, index(16)),
                              arith::DivUIOp::create(b, loc, lane, index(4))));
    Value firstColumn = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, lane, index(4)), index(2));
    auto pairType = VectorType::get({2}, f32);
    for (int64_t j = 0; j < config.tileN / 8; ++j)
      for (int64_t h = 0; h < 2; ++h) {
        Value pair = vector::FromElementsOp::create(
            b, loc, pairType,
            ValueRange{
                LLVM::ExtractValueOp::create(b, loc, values,
                                             ArrayRef<int64_t>{4 * j + 2 * h}),
                LLVM::ExtractValueOp::create(
                    b, loc, values, ArrayRef<int64_t>{4 * j + 2 * h + 1})});
        Value pairRow = arith::AddIOp::create(b, loc, firstRow, index(8 * h));
        Value pairColumn = stagedColumn(
            pairRow, arith::AddIOp::create(b, loc, firstColumn, index(8 * j)));
        // 8-byte aligned (an even column): one st.shared.v2 whatever the
        // swizzle hides from LLVM's alignment analysis.
        vector::StoreOp::create(b, loc, pair, tile,
                                ValueRange{pairRow, pairColumn},
                                /*nontemporal=*/false, llvm::Align(8));
      }
  }

  /// Epilogue of `accumulators` (row blocks of 64 from tile row
  /// `firstRow`): fragments -> shared [tileM][tileN] f32 -> global, 4
  /// columns per thread and step, consecutive threads (`groupTid`, 0..127)
  /// on consecutive columns. `syncRows` orders the shared stores before the
  /// loads (default: the whole CTA's barrier).
  void storeTile(ArrayRef<Value> accumulators, Value firstRow, Value groupTid,
                 function_ref<void()> syncRows = nullptr) {
    auto tileType = MemRefType::get({config.tileM, config.tileN},
                                    b.getF32Type(), MemRefLayoutAttrInterface{},
                                    getWorkgroupSpace(b.getContext()));
    Value tileBase = base;
    if (layout.epilogueOffset)
      tileBase =
          arith::AddIOp::create(b, loc, base, index(layout.epilogueOffset));
    Value tile = memref::ViewOp::create(b, loc, tileType, shared, tileBase,
                                        ValueRange{});
    for (auto [i, accumulator] : llvm::enumerate(accumulators))
      storeFragments(accumulator, tile,
                     arith::AddIOp::create(b, loc, firstRow, index(64 * i)),
                     groupTid);
    if (syncRows)
      syncRows();
    else
      gpu::BarrierOp::create(b, loc);
    int64_t rowCount = 64 * static_cast<int64_t>(accumulators.size());
    if (spec.logSoftmax) {
      storeLogSoftmaxRows(tile, firstRow, rowCount, groupTid);
      return;
    }
    if (spec.outputNorm) {
      storeNormRows(tile, firstRow, rowCount, groupTid);
      return;
    }
    int64_t quadsPerRow = config.tileN / 4;
    auto copyLoop = scf::ForOp::create(
        b, loc, groupTid, index(rowCount * quadsPerRow), index(kThreads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(copyLoop.getBody());
    Value quad = copyLoop.getInductionVar();
    Value row = arith::AddIOp::create(
        b, loc, firstRow,
        arith::DivUIOp::create(b, loc, quad, index(quadsPerRow)));
    Value col =
        muli(arith::RemUIOp::create(b, loc, quad, index(quadsPerRow)), 4);
    auto quadType = VectorType::get({4}, b.getF32Type());
    Value acc = vector::LoadOp::create(b, loc, quadType, tile,
                                       ValueRange{row, stagedColumn(row, col)},
                                       /*nontemporal=*/false, llvm::Align(16));
    Value globalRow = arith::AddIOp::create(b, loc, m0, row);
    Value globalCol = arith::AddIOp::create(b, loc, n0, col);
    if (spec.rotaryColumns == 0) {
      storeWithEpilogue(b, loc, spec, operands, acc, globalRow, globalCol);
      return;
    }
    // Rotary: the thread of a quad in the first half of a head rotates it
    // and its partner dh / 2 columns on (the same tile: tile-n is a
    // multiple of dh); the second half's threads have nothing to do.
    // Columns past rotary-columns are stored as they are.
    int64_t half = spec.rotaryHeadDim / 2;
    Value rotated = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ult, globalCol,
        arith::ConstantIndexOp::create(b, loc, spec.rotaryColumns));
    auto ifOp = scf::IfOp::create(b, loc, rotated, /*withElse=*/true);
    b.setInsertionPointToStart(&ifOp.getElseRegion().front());
    storeWithEpilogue(b, loc, spec, operands, acc, globalRow, globalCol);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value inHead = arith::RemUIOp::create(
        b, loc, col, arith::ConstantIndexOp::create(b, loc, 2 * half));
    Value firstHalf =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, inHead,
                              arith::ConstantIndexOp::create(b, loc, half));
    auto first = scf::IfOp::create(b, loc, firstHalf, /*withElse=*/false);
    b.setInsertionPointToStart(&first.getThenRegion().front());
    Value partnerCol = arith::AddIOp::create(
        b, loc, col, arith::ConstantIndexOp::create(b, loc, half));
    Value partner = vector::LoadOp::create(
        b, loc, quadType, tile, ValueRange{row, stagedColumn(row, partnerCol)},
        /*nontemporal=*/false, llvm::Align(16));
    auto [cos, sin] =
        rotaryCosSin(arith::RemUIOp::create(b, loc, globalRow,
                                            arith::ConstantIndexOp::create(
                                                b, loc, spec.rotaryPositions)),
                     inHead);
    // out[i] = x1 cos - x2 sin, out[i + dh / 2] = x2 cos + x1 sin.
    Value y1 =
        arith::SubFOp::create(b, loc, arith::MulFOp::create(b, loc, acc, cos),
                              arith::MulFOp::create(b, loc, partner, sin));
    Value y2 = arith::AddFOp::create(
        b, loc, arith::MulFOp::create(b, loc, partner, cos),
        arith::MulFOp::create(b, loc, acc, sin));
    storeWithEpilogue(b, loc, spec, operands, y1, globalRow, globalCol);
    storeWithEpilogue(
        b, loc, spec, operands, y2, globalRow,
        arith::AddIOp::create(b, loc, globalCol,
                              arith::ConstantIndexOp::create(b, loc, half)));
  }

  /// Moves the builder into a new scf.if on `condition` (no else).
  void enterIf(Value condition) {
    auto ifOp = scf::IfOp::create(b, loc, condition, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  }

  struct WarpRow {
    Value row, globalRow, lane;
  };

  /// Opens the row loop of the row-wise epilogues: a warp a row of tile
  /// rows firstRow .. firstRow + rowCount - 1 (warp w of the warpgroup:
  /// rows w, w + 4, ...), whole warps skipping rows past M (a warp-uniform
  /// branch: the row's shuffles need every lane). Leaves the builder inside;
  /// the caller holds an InsertionGuard.
  WarpRow openWarpRowLoop(Value firstRow, int64_t rowCount, Value groupTid) {
    Value warp = arith::DivUIOp::create(b, loc, groupTid, index(32));
    Value lane = arith::RemUIOp::create(b, loc, groupTid, index(32));
    auto loop =
        scf::ForOp::create(b, loc, warp, index(rowCount), index(kThreads / 32));
    b.setInsertionPointToStart(loop.getBody());
    Value row = arith::AddIOp::create(b, loc, firstRow, loop.getInductionVar());
    Value globalRow = arith::AddIOp::create(b, loc, m0, row);
    if (spec.m % config.tileM != 0)
      enterIf(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                    globalRow, index(spec.m)));
    return {row, globalRow, lane};
  }

  /// The log-softmax epilogue (GemmSpec::logSoftmax) of tile rows
  /// firstRow.. firstRow + rowCount - 1, staged in `tile`: a warp a row
  /// (warp w of the warpgroup: rows w, w + 4, ...), lane l reading columns
  /// l + 32 j (one 128-byte row segment per j, conflict-free under the
  /// staging swizzle, which permutes 8-column chunks within 32 columns),
  /// + bias, columns past N as -inf; the row's log-softmax stored at its
  /// merged row (or not at all: GemmSpec::mergePositions), 128 contiguous
  /// bytes a warp per j.
  void storeLogSoftmaxRows(Value tile, Value firstRow, int64_t rowCount,
                           Value groupTid) {
    Type f32 = b.getF32Type();
    OpBuilder::InsertionGuard guard(b);
    auto [row, globalRow, lane] = openWarpRowLoop(firstRow, rowCount, groupTid);
    Value outRow = globalRow;
    if (spec.mergePositions > 0) {
      int64_t positions = spec.mergePositions;
      Value sequence =
          arith::DivUIOp::create(b, loc, globalRow, index(positions + 1));
      Value position =
          arith::RemUIOp::create(b, loc, globalRow, index(positions + 1));
      Value inEntry =
          arith::RemUIOp::create(b, loc, sequence, index(spec.mergeSequences));
      auto eq = [&](Value value, int64_t constant) -> Value {
        return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, value,
                                     index(constant));
      };
      Value kept = arith::AndIOp::create(
          b, loc,
          arith::OrIOp::create(b, loc,
                               arith::CmpIOp::create(b, loc,
                                                     arith::CmpIPredicate::uge,
                                                     position, index(1)),
                               eq(inEntry, 0)),
          arith::XOrIOp::create(
              b, loc,
              arith::AndIOp::create(b, loc, eq(position, positions),
                                    eq(inEntry, spec.mergeSequences - 1)),
              arith::ConstantIntOp::create(b, loc, 1, 1)));
      enterIf(kept);
      outRow =
          arith::AddIOp::create(b, loc, muli(sequence, positions), position);
    }
    int64_t steps = config.tileN / 32;
    Value minusInfinity = arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
    SmallVector<Value> columns, inside, values;
    for (int64_t j = 0; j < steps; ++j) {
      Value col = arith::AddIOp::create(b, loc, lane, index(32 * j));
      Value value = memref::LoadOp::create(
          b, loc, tile, ValueRange{row, stagedColumn(row, col)});
      Value globalCol = arith::AddIOp::create(b, loc, n0, col);
      Value valid;
      if (32 * (j + 1) > spec.n)
        valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                      globalCol, index(spec.n));
      if (spec.bias) {
        // Columns past N read bias[N - 1] (a valid address), then -inf.
        Value address =
            valid ? arith::MinUIOp::create(b, loc, globalCol, index(spec.n - 1))
                        .getResult()
                  : globalCol;
        Value bias = memref::LoadOp::create(b, loc, operands.bias, address);
        if (!bias.getType().isF32())
          bias = arith::ExtFOp::create(b, loc, f32, bias);
        value = arith::AddFOp::create(b, loc, value, bias);
      }
      if (valid)
        value = arith::SelectOp::create(b, loc, valid, value, minusInfinity);
      columns.push_back(globalCol);
      inside.push_back(valid);
      values.push_back(value);
    }
    SmallVector<Value> results = buildLogSoftmaxRow(b, loc, values);
    for (int64_t j = 0; j < steps; ++j) {
      OpBuilder::InsertionGuard storeGuard(b);
      if (inside[j])
        enterIf(inside[j]);
      memref::StoreOp::create(b, loc, results[j], operands.c,
                              ValueRange{outRow, columns[j]});
    }
  }

  /// The norm epilogue (GemmSpec::outputNorm) of tile rows firstRow ..
  /// firstRow + rowCount - 1, staged in `tile`: a warp a row (warp w of the
  /// warpgroup: rows w, w + 4, ...), lane l holding the feature pairs 2 l +
  /// 64 j as the norm kernel's rows do (8-byte loads of one 256-byte row
  /// segment per j: the staging swizzle permutes 8-column chunks, so pairs
  /// stay whole), + bias, the row's norm by warp shuffles, stored as f32
  /// pairs at the row's place (one row on from its sequence's start row,
  /// which the warp of the sequence's first row stores too).
  void storeNormRows(Value tile, Value firstRow, int64_t rowCount,
                     Value groupTid) {
    const NormSpec &norm = *spec.outputNorm;
    auto pairType = VectorType::get({2}, b.getF32Type());
    OpBuilder::InsertionGuard guard(b);
    auto [row, globalRow, lane] = openWarpRowLoop(firstRow, rowCount, groupTid);
    Value laneColumn = muli(lane, 2);
    SmallVector<Value> columns, values, weights, biases;
    for (int64_t j = 0; j < spec.n / 64; ++j) {
      Value col = arith::AddIOp::create(b, loc, laneColumn, index(64 * j));
      Value value = vector::LoadOp::create(
          b, loc, pairType, tile, ValueRange{row, stagedColumn(row, col)},
          /*nontemporal=*/false, llvm::Align(8));
      if (spec.bias)
        value = arith::AddFOp::create(
            b, loc, value, loadWidened(b, loc, operands.bias, col, 2));
      weights.push_back(loadWidened(b, loc, operands.outputNormWeight, col, 2));
      if (operands.outputNormBias)
        biases.push_back(loadWidened(b, loc, operands.outputNormBias, col, 2));
      columns.push_back(col);
      values.push_back(value);
    }
    SmallVector<Value> ys = buildWarpRowNorm(b, loc, values, weights, biases,
                                             norm.norm, norm.epsilon, spec.n);
    Value outRow = globalRow;
    if (norm.startType) {
      Value sequence =
          arith::DivUIOp::create(b, loc, globalRow, index(norm.positions));
      outRow = arith::AddIOp::create(
          b, loc, arith::AddIOp::create(b, loc, globalRow, sequence), index(1));
      OpBuilder::InsertionGuard startGuard(b);
      enterIf(arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq,
          arith::RemUIOp::create(b, loc, globalRow, index(norm.positions)),
          index(0)));
      Value startRow = arith::SubIOp::create(b, loc, outRow, index(1));
      for (Value col : columns)
        vector::StoreOp::create(b, loc,
                                loadWidened(b, loc, operands.start, col, 2),
                                operands.c, ValueRange{startRow, col},
                                /*nontemporal=*/false, llvm::Align(8));
    }
    for (auto [y, col] : llvm::zip(ys, columns))
      vector::StoreOp::create(b, loc, y, operands.c, ValueRange{outRow, col},
                              /*nontemporal=*/false, llvm::Align(8));
  }

  /// cos and sin (vector<4xf32>) of position x inv_freq[i .. i + 3]
  /// (buildRotaryInverseFrequency), with the polynomial sin/cos of
  /// mb-cuda-expand-math.
  std::pair<Value, Value> rotaryCosSin(Value position, Value firstIndex) {
    Type f32 = b.getF32Type();
    auto quadType = VectorType::get({4}, f32);
    auto toFloat = [&](Value value) {
      return arith::UIToFPOp::create(
          b, loc, f32,
          arith::IndexCastUIOp::create(b, loc, b.getI32Type(), value));
    };
    // Scalars: mb-cuda-expand-math lowers scalar floors (of the sin/cos
    // range reduction) to NVVM, not vector ones.
    Value first = toFloat(firstIndex);
    Value positionFloat = toFloat(position);
    SmallVector<Value> cos, sin;
    for (int64_t j = 0; j < 4; ++j) {
      Value i = arith::AddFOp::create(
          b, loc, first,
          arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(j))));
      Value angle = arith::MulFOp::create(
          b, loc,
          buildRotaryInverseFrequency(b, loc, i, spec.rotaryHeadDim,
                                      spec.rotaryTheta),
          positionFloat);
      cos.push_back(math::CosOp::create(b, loc, angle));
      sin.push_back(math::SinOp::create(b, loc, angle));
    }
    return {vector::FromElementsOp::create(b, loc, quadType, cos),
            vector::FromElementsOp::create(b, loc, quadType, sin)};
  }

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value muli(Value value, int64_t factor) {
    return arith::MulIOp::create(b, loc, value, index(factor));
  }
  /// Byte offset (from the aligned base) of stage `stage` of A or B.
  Value stageOffset(Value stage, bool isB) {
    Value offset =
        isB ? muli(stage, layout.bStageBytes) : muli(stage, layout.aStageBytes);
    if (isB)
      offset =
          arith::AddIOp::create(b, loc, offset, index(layout.bStagesOffset));
    return arith::AddIOp::create(b, loc, base, offset);
  }
  Value sharedView(Value byteOffset, ArrayRef<int64_t> shape, Type type) {
    auto viewType = MemRefType::get(shape, type, MemRefLayoutAttrInterface{},
                                    getWorkgroupSpace(b.getContext()));
    return memref::ViewOp::create(b, loc, viewType, shared, byteOffset,
                                  ValueRange{});
  }

  /// Thread 0 arms the stage's barrier with the byte count of both tiles
  /// and starts the TMA loads of K block `kBlock` into `stage`.
  void issueLoads(Value kBlock, Value stage) {
    OpBuilder::InsertionGuard guard(b);
    auto ifOp = scf::IfOp::create(b, loc, isLeader, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    issueLoadsUnguarded(kBlock, stage);
  }
  /// The same, from a thread the caller chose.
  void issueLoadsUnguarded(Value kBlock, Value stage) {
    Type elementType = spec.inputType;
    nvgpu::MBarrierArriveExpectTxOp::create(
        b, loc, barriers, index(layout.aStageBytes + layout.bStageBytes), stage,
        Value());
    Value k0 = muli(kBlock, config.tileK);
    // A box [tileM rows][64 K], coordinates (k, m); a norm prologue's A is
    // in shared memory already.
    if (!spec.norm)
      nvgpu::TmaAsyncLoadOp::create(
          b, loc,
          sharedView(stageOffset(stage, false), {config.tileM, config.tileK},
                     elementType),
          barriers, operands.a, ValueRange{k0, m0}, stage, Value(), Value());
    if (spec.bLayout == BLayout::NK) {
      // B box [tileN rows][64 K], coordinates (k, n).
      nvgpu::TmaAsyncLoadOp::create(
          b, loc,
          sharedView(stageOffset(stage, true), {config.tileN, config.tileK},
                     elementType),
          barriers, operands.b, ValueRange{k0, n0}, stage, Value(), Value());
      return;
    }
    // B [K,N]: tileN / 64 boxes [64 K rows][64 N], coordinates (n, k).
    int64_t boxBytes = config.tileK * 64 * elementBytes(elementType);
    for (int64_t j = 0; j < config.tileN / 64; ++j) {
      Value offset = arith::AddIOp::create(b, loc, stageOffset(stage, true),
                                           index(j * boxBytes));
      Value n = arith::AddIOp::create(b, loc, n0, index(64 * j));
      nvgpu::TmaAsyncLoadOp::create(
          b, loc, sharedView(offset, {config.tileK, 64}, elementType), barriers,
          operands.b, ValueRange{n, k0}, stage, Value(), Value());
    }
  }

  /// acc += A[64 rows of block `rowBlock`][16 K of step `kStep`] * B[16 K][N].
  /// Each is its own wgmma group followed by wait_group 1;
  /// mb-cuda-merge-wgmma-groups joins the groups of one K block.
  Value buildMma(Value stage, Value kBlock, Value rowBlock, int64_t kStep,
                 Value accumulator) {
    MLIRContext *ctx = b.getContext();
    Type elementType = spec.inputType;
    int64_t bytes = elementBytes(elementType);
    // A is K-major: 64 rows x 128 bytes per row block; a K step moves the
    // start address 32 bytes inside the swizzle atom [PTX-WGMMA]. A norm
    // prologue's A: K block kBlock's [tileM][64] block of the resident rows.
    Value aBlock =
        spec.norm
            ? arith::AddIOp::create(
                  b, loc, base, muli(kBlock, config.tileM * kSwizzleRowBytes))
                  .getResult()
            : stageOffset(stage, false);
    Value aOffset = arith::AddIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, aBlock,
                              muli(rowBlock, 64 * kSwizzleRowBytes)),
        index(kStep * 16 * bytes));
    auto aTileType =
        MemRefType::get({64, 16}, elementType, MemRefLayoutAttrInterface{},
                        getWorkgroupSpace(ctx));
    Value aDescriptor = nvgpu::WarpgroupGenerateDescriptorOp::create(
        b, loc, nvgpu::WarpgroupMatrixDescriptorType::get(ctx, aTileType),
        sharedView(aOffset, {64, 16}, elementType), operands.a);
    // B K-major ([N,K]): the same K step as A. B MN-major ([K,N]): a K step
    // is 16 rows of 128 bytes inside each 64-wide N box.
    int64_t bStep = spec.bLayout == BLayout::NK ? kStep * 16 * bytes
                                                : kStep * 16 * kSwizzleRowBytes;
    Value bOffset =
        arith::AddIOp::create(b, loc, stageOffset(stage, true), index(bStep));
    auto bTileType =
        MemRefType::get({16, config.tileN}, elementType,
                        MemRefLayoutAttrInterface{}, getWorkgroupSpace(ctx));
    Value bDescriptor = nvgpu::WarpgroupGenerateDescriptorOp::create(
        b, loc, nvgpu::WarpgroupMatrixDescriptorType::get(ctx, bTileType),
        sharedView(bOffset, {16, config.tileN}, elementType), operands.b);
    auto mma = nvgpu::WarpgroupMmaOp::create(
        b, loc, accumulator.getType(), aDescriptor, bDescriptor,
        /*waitGroup=*/b.getI64IntegerAttr(1), /*transposeA=*/UnitAttr(),
        /*transposeB=*/spec.bLayout == BLayout::KN ? b.getUnitAttr()
                                                   : UnitAttr(),
        accumulator);
    return mma.getResult();
  }

  OpBuilder &b;
  Location loc;
  const GemmSpec &spec;
  const GemmConfig &config;
  const GemmOperands &operands;
  WgmmaLayout layout;
  int64_t numKBlocks = 0;
  Value isLeader, m0, n0, shared, base, barriers;
};

//===----------------------------------------------------------------------===//
// sm_80: cp.async + ldmatrix + mma.sync
//===----------------------------------------------------------------------===//

/// Shared memory of the mma.sync kernel: stages x A [tileM][tileK + 8] (a
/// norm prologue's whole A: 1 x [tileM][K + 8]), then stages x B
/// [tileN][tileK + 8] ([N,K]) or [tileK][tileN + 8] ([K,N]).
struct MmaSyncLayout {
  SmallVector<int64_t, 3> aShape, bShape;
  int64_t aBytes, bBytes, dynamicSharedBytes;
};

MmaSyncLayout getMmaSyncLayout(const GemmSpec &spec) {
  const GemmConfig &config = spec.config;
  int64_t bytes = elementBytes(spec.inputType);
  MmaSyncLayout layout;
  layout.aShape =
      spec.norm
          ? SmallVector<int64_t, 3>{1, config.tileM, spec.k + kRowPadElements}
          : SmallVector<int64_t, 3>{config.stages, config.tileM,
                                    config.tileK + kRowPadElements};
  layout.bShape = spec.bLayout == BLayout::NK
                      ? SmallVector<int64_t, 3>{config.stages, config.tileN,
                                                config.tileK + kRowPadElements}
                      : SmallVector<int64_t, 3>{config.stages, config.tileK,
                                                config.tileN + kRowPadElements};
  auto product = [](ArrayRef<int64_t> shape) {
    int64_t result = 1;
    for (int64_t size : shape)
      result *= size;
    return result;
  };
  layout.aBytes = product(layout.aShape) * bytes;
  layout.bBytes = product(layout.bShape) * bytes;
  layout.dynamicSharedBytes = layout.aBytes + layout.bBytes;
  return layout;
}

class MmaSyncGemmBuilder {
public:
  MmaSyncGemmBuilder(OpBuilder &b, Location loc, const GemmSpec &spec,
                     const GemmOperands &operands)
      : b(b), loc(loc), spec(spec), config(spec.config), operands(operands),
        layout(getMmaSyncLayout(spec)) {}

  void build() {
    MLIRContext *ctx = b.getContext();
    Type elementType = spec.inputType;
    int64_t numKBlocks = spec.k / config.tileK;
    // Four warps as 2 x 2, each owning a [tileM/2][tileN/2] output tile of
    // (warpM/16) x (warpN/8) m16n8 fragments.
    warpM = config.tileM / 2;
    warpN = config.tileN / 2;

    tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value warp = arith::DivUIOp::create(b, loc, tid, index(32));
    Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
    warpRow = muli(arith::DivUIOp::create(b, loc, warp, index(2)), warpM);
    warpCol = muli(arith::RemUIOp::create(b, loc, warp, index(2)), warpN);
    n0 = nTileOrigin(b, loc, operands, config.tileN);
    m0 = muli(gpu::BlockIdOp::create(b, loc, gpu::Dimension::y), config.tileM);
    WarpMma warpMma(b, loc, elementType, lane);

    Value shared = createDynamicShared(b, loc);
    aTiles = viewShared(b, loc, shared, index(0), layout.aShape, elementType);
    bTiles = viewShared(b, loc, shared, index(layout.aBytes), layout.bShape,
                        elementType);

    // Prologue: stages - 1 groups in flight. A K block past the end is a
    // zero-filling copy (source size 0) of the last block, so every group
    // holds copies and the group count stays uniform.
    for (int64_t s = 0; s + 1 < config.stages; ++s) {
      bool inRange = s < numKBlocks;
      SmallVector<Value> tokens =
          issueCopies(index(inRange ? s : numKBlocks - 1), index(s),
                      inRange ? Value() : index(0));
      nvgpu::DeviceAsyncCreateGroupOp::create(
          b, loc, nvgpu::DeviceAsyncTokenType::get(ctx), tokens);
    }
    // A norm prologue's rows, while B's first blocks load: rows of K + 8
    // elements (2 K + 16 bytes: ldmatrix's 8 rows start in distinct 16-byte
    // bank groups); the K loop's first barrier orders the stores before the
    // fragment loads.
    if (spec.norm)
      forEachNormRow(
          b, loc, spec, operands, m0, index(0), config.tileM, tid,
          [&](Value tileRow, Value lane, ArrayRef<Value> pairs) {
            Value column = muli(lane, 2);
            for (auto [j, pair] : llvm::enumerate(pairs))
              vector::StoreOp::create(
                  b, loc, pair, aTiles,
                  ValueRange{index(0), tileRow, add({column}, 64 * int64_t(j))},
                  /*nontemporal=*/false, llvm::Align(4));
          });

    int64_t fragmentsM = warpM / 16, fragmentsN = warpN / 8;
    SmallVector<Value> accumulators(fragmentsM * fragmentsN,
                                    warpMma.zeroAccumulator());
    auto loop = scf::ForOp::create(b, loc, index(0), index(numKBlocks),
                                   index(1), accumulators);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value kBlock = loop.getInductionVar();
      Value next =
          arith::AddIOp::create(b, loc, kBlock, index(config.stages - 1));
      Value hasNext = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            next, index(numKBlocks));
      // Past the end: zero-fill (source size 0) from the last block instead
      // of branching, so the group is never empty.
      Value source =
          arith::SelectOp::create(b, loc, hasNext, next, index(numKBlocks - 1));
      Value sourceElements = arith::SelectOp::create(
          b, loc, hasNext, index(16 / elementBytes(elementType)), index(0));
      SmallVector<Value> tokens = issueCopies(
          source, arith::RemUIOp::create(b, loc, next, index(config.stages)),
          sourceElements);
      Value newGroup = nvgpu::DeviceAsyncCreateGroupOp::create(
          b, loc, nvgpu::DeviceAsyncTokenType::get(ctx), tokens);
      // At most stages - 1 newer groups pending: K block `kBlock` landed.
      nvgpu::DeviceAsyncWaitOp::create(b, loc, newGroup,
                                       b.getI32IntegerAttr(config.stages - 1));
      gpu::BarrierOp::create(b, loc);
      Value stage =
          arith::RemUIOp::create(b, loc, kBlock, index(config.stages));
      SmallVector<Value> results(loop.getRegionIterArgs());
      for (int64_t kStep = 0; kStep < config.tileK / 16; ++kStep)
        computeStep(warpMma, stage, kBlock, kStep, results);
      // The next iteration refills the stage read one iteration ago.
      gpu::BarrierOp::create(b, loc);
      scf::YieldOp::create(b, loc, results);
    }

    // Epilogue from registers: c0,c1 at row g, c2,c3 at row g + 8, columns
    // 2t, 2t + 1 [PTX-MMA in WarpMma.cpp].
    for (int64_t i = 0; i < fragmentsM; ++i)
      for (int64_t j = 0; j < fragmentsN; ++j) {
        Value fragment = loop.getResult(i * fragmentsN + j);
        for (int64_t half = 0; half < 2; ++half) {
          Value row = add({m0, warpRow, warpMma.groupRow()}, i * 16 + half * 8);
          Value col = add({n0, warpCol, warpMma.pairColumn()}, j * 8);
          Value pair = vector::ExtractOp::create(b, loc, fragment,
                                                 ArrayRef<int64_t>{half});
          storeWithEpilogue(b, loc, spec, operands, pair, row, col);
        }
      }
  }

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value muli(Value value, int64_t factor) {
    return arith::MulIOp::create(b, loc, value, index(factor));
  }
  Value add(ArrayRef<Value> values, int64_t constant) {
    Value sum = index(constant);
    for (Value value : values)
      sum = arith::AddIOp::create(b, loc, sum, value);
    return sum;
  }

  SmallVector<Value> issueCopies(Value kBlock, Value stage,
                                 Value sourceElements) {
    SmallVector<Value> tokens;
    Value k0 = muli(kBlock, config.tileK);
    // Rows past M / N (a partial last tile) are zero-filled.
    int64_t rowLimitA = spec.m % config.tileM ? spec.m : 0;
    int64_t limitN = spec.n % config.tileN ? spec.n : 0;
    if (!spec.norm)
      copyTileAsync(b, loc, tid, operands.a, {}, m0, k0, aTiles, stage,
                    config.tileM, config.tileK, sourceElements, tokens,
                    rowLimitA);
    if (spec.bLayout == BLayout::NK)
      copyTileAsync(b, loc, tid, operands.b, {}, n0, k0, bTiles, stage,
                    config.tileN, config.tileK, sourceElements, tokens, limitN);
    else
      copyTileAsync(b, loc, tid, operands.b, {}, k0, n0, bTiles, stage,
                    config.tileK, config.tileN, sourceElements, tokens, 0,
                    limitN);
    return tokens;
  }

  /// One K step of 16 of K block `kBlock`: ldmatrix the warp's A and B
  /// fragments, then every m16n8k16 product.
  void computeStep(WarpMma &warpMma, Value stage, Value kBlock, int64_t kStep,
                   SmallVectorImpl<Value> &acc) {
    Value k0 = index(kStep * 16);
    // A norm prologue's A holds every K block.
    Value aStage = spec.norm ? index(0) : stage;
    Value aK = spec.norm ? add({muli(kBlock, config.tileK)}, kStep * 16) : k0;
    SmallVector<Value> aFragments;
    for (int64_t i = 0; i < warpM / 16; ++i)
      aFragments.push_back(
          warpMma.loadA(aTiles, aStage, add({warpRow}, i * 16), aK));
    SmallVector<Value> bFragments;
    for (int64_t j = 0; j < warpN / 16; ++j) {
      Value n = add({warpCol}, j * 16);
      auto [low, high] = spec.bLayout == BLayout::NK
                             ? warpMma.loadBFromNK(bTiles, stage, n, k0)
                             : warpMma.loadBFromKN(bTiles, stage, k0, n);
      bFragments.push_back(low);
      bFragments.push_back(high);
    }
    int64_t fragmentsN = warpN / 8;
    for (int64_t i = 0; i < warpM / 16; ++i)
      for (int64_t j = 0; j < fragmentsN; ++j) {
        Value &c = acc[i * fragmentsN + j];
        c = warpMma.mma(aFragments[i], bFragments[j], c);
      }
  }

  OpBuilder &b;
  Location loc;
  const GemmSpec &spec;
  const GemmConfig &config;
  const GemmOperands &operands;
  MmaSyncLayout layout;
  int64_t warpM = 0, warpN = 0;
  Value tid, warpRow, warpCol, m0, n0, aTiles, bTiles;
};

} // namespace

int64_t gemmOutputRows(const GemmSpec &spec) {
  if (spec.outputNorm)
    return normOutputRows(*spec.outputNorm);
  if (spec.mergePositions <= 0)
    return spec.m;
  return spec.m / (spec.mergePositions + 1) * spec.mergePositions;
}

LogicalResult verifyGemmSpec(const GemmSpec &spec,
                             function_ref<InFlightDiagnostic()> emitError) {
  const GemmConfig &config = spec.config;
  // The part of a shared-memory error that a norm prologue's rows take.
  auto residentRows = [](int64_t bytes) -> std::string {
    if (bytes == 0)
      return "";
    return (", " + Twine(bytes) +
            " of them the norm prologue's rows (tile-m x K)")
        .str();
  };
  if (spec.m <= 0 || spec.n <= 0 || spec.k <= 0)
    return failSpec(emitError,
                    "GEMM sizes must be positive, got m = " + Twine(spec.m) +
                        ", n = " + Twine(spec.n) + ", k = " + Twine(spec.k));
  if (!spec.inputType || !(spec.inputType.isBF16() || spec.inputType.isF16()))
    return failSpec(emitError, "GEMM operand element type must be bf16 or f16");
  if (spec.outputType && !spec.outputType.isF32() &&
      spec.outputType != spec.inputType)
    return failSpec(emitError, "GEMM output type must be f32 or the input "
                               "type");
  if (failed(verifyBiasType(spec.biasType, emitError)))
    return failure();
  if (config.stages < 2 || config.stages > 8)
    return failSpec(emitError, "stages = " + Twine(config.stages) +
                                   " must be between 2 and 8");
  if (spec.norm) {
    const NormSpec &norm = *spec.norm;
    if (failed(verifyNormSpec(norm, emitError)))
      return failure();
    if (norm.rows != spec.m || norm.dim != spec.k ||
        norm.outputType != spec.inputType)
      return failSpec(emitError,
                      "a norm prologue's rows = " + Twine(norm.rows) +
                          " and dim = " + Twine(norm.dim) +
                          " must be the GEMM's M = " + Twine(spec.m) +
                          " and K = " + Twine(spec.k) +
                          ", its output type the GEMM's element type");
    if (config.persistentCtas > 0)
      return failSpec(emitError, "a norm prologue is not supported with "
                                 "persistent (a CTA's rows change from tile "
                                 "to tile)");
    if (norm.startType)
      return failSpec(emitError, "a norm prologue stores no start rows (the "
                                 "GEMM reads its rows)");
  }
  if (config.mma == MmaKind::Wgmma) {
    if (config.tileK != 64)
      return failSpec(
          emitError,
          "tile-k = " + Twine(config.tileK) +
              " is not supported by mma = wgmma: the 128-byte swizzle "
              "holds exactly 64 bf16/f16 elements per row (use 64)");
    if (config.consumers != 1 && config.consumers != 2)
      return failSpec(emitError,
                      "consumers = " + Twine(config.consumers) +
                          " is not supported by mma = wgmma (1, or 2 "
                          "consumer warpgroups with a producer)");
    // Each consumer warpgroup takes whole m64 row blocks.
    int64_t firstTileM = 64 * config.consumers;
    if (config.tileM != firstTileM && config.tileM != 2 * firstTileM)
      return failSpec(emitError,
                      "tile-m = " + Twine(config.tileM) +
                          " is not supported by mma = wgmma with consumers = " +
                          Twine(config.consumers) + " (" + Twine(firstTileM) +
                          " or " + Twine(2 * firstTileM) +
                          ": m64 blocks per consumer warpgroup)");
    if (config.tileN % 64 != 0 || config.tileN > 256)
      return failSpec(emitError,
                      "tile-n = " + Twine(config.tileN) +
                          " is not supported by mma = wgmma (64, 128, "
                          "192 or 256)");
    int64_t accumulatorRegisters =
        config.tileM / config.consumers / 64 * config.tileN / 2;
    if (accumulatorRegisters > 128)
      return failSpec(
          emitError,
          "tile-m = " + Twine(config.tileM) +
              " with tile-n = " + Twine(config.tileN) +
              " and consumers = " + Twine(config.consumers) + " needs " +
              Twine(accumulatorRegisters) +
              " accumulator registers per thread (at most 128): lower tile-n "
              "or raise consumers");
    if (config.persistentCtas < 0)
      return failSpec(emitError,
                      "persistent = " + Twine(config.persistentCtas) +
                          " must not be negative");
    if (config.persistentCtas > 0 &&
        (config.consumers != 2 || spec.pairedN != 0))
      return failSpec(emitError,
                      "persistent = " + Twine(config.persistentCtas) +
                          " needs consumers = 2 (a producer warpgroup) and "
                          "no paired product");
    WgmmaLayout layout = getWgmmaLayout(spec);
    int64_t shared = layout.dynamicSharedBytes;
    if (shared > kMaxDynamicSharedBytes)
      return failSpec(emitError, "the wgmma tiles need " + Twine(shared) +
                                     " bytes of shared memory (more than " +
                                     Twine(kMaxDynamicSharedBytes) + ")" +
                                     residentRows(layout.residentABytes) +
                                     ": lower stages or the tiles");
  } else {
    if (config.consumers != 1)
      return failSpec(emitError, "consumers = " + Twine(config.consumers) +
                                     " needs mma = wgmma (mma_sync kernels "
                                     "are one 4-warp CTA: use 1)");
    if (config.persistentCtas != 0)
      return failSpec(emitError, "persistent needs mma = wgmma");
    if (config.tileM % 32 != 0 || config.tileN % 32 != 0 ||
        config.tileM > 128 || config.tileN > 128)
      return failSpec(
          emitError,
          "tile-m = " + Twine(config.tileM) +
              ", tile-n = " + Twine(config.tileN) +
              " are not supported by mma = mma_sync (multiples of 32 "
              "up to 128: 2 x 2 warps of m16 x n16 fragments)");
    if (config.tileK % 16 != 0 || config.tileK > 64)
      return failSpec(emitError, "tile-k = " + Twine(config.tileK) +
                                     " is not supported by mma = mma_sync (16, "
                                     "32, 48 or 64)");
    int64_t chunkElements = 16 / elementBytes(spec.inputType);
    int64_t bCols = spec.bLayout == BLayout::NK ? config.tileK : config.tileN;
    int64_t bRows = spec.bLayout == BLayout::NK ? config.tileN : config.tileK;
    if ((config.tileM * config.tileK / chunkElements) % kThreads != 0 ||
        (bRows * bCols / chunkElements) % kThreads != 0)
      return failSpec(emitError,
                      "tiles tile-m x tile-k = " + Twine(config.tileM) + " x " +
                          Twine(config.tileK) +
                          " do not split into 16-byte copies over 128 threads");
    MmaSyncLayout layout = getMmaSyncLayout(spec);
    int64_t shared = layout.dynamicSharedBytes;
    if (shared > kMaxDynamicSharedBytes)
      return failSpec(emitError,
                      "the mma_sync tiles need " + Twine(shared) +
                          " bytes of shared memory (more than " +
                          Twine(kMaxDynamicSharedBytes) + ")" +
                          residentRows(spec.norm ? layout.aBytes : 0) +
                          ": lower stages or the tiles");
  }
  // M and N may end in a partial tile (zero-filled loads, guarded stores);
  // rows of 16 bytes (TMA strides, cp.async chunks, vector stores) need N
  // and K to be multiples of 8; K blocks are whole.
  if (spec.n % 8 != 0)
    return failSpec(emitError, "GEMM N = " + Twine(spec.n) +
                                   " is not a multiple of 8 (rows of B, C "
                                   "and the epilogue vectors are 16-byte "
                                   "aligned: pad N)");
  if (failed(verifyMultiple(emitError, "K", spec.k, "tile-k", config.tileK)))
    return failure();
  if (spec.pairedN < 0 || spec.pairedN % 8 != 0)
    return failSpec(emitError, "paired-n = " + Twine(spec.pairedN) +
                                   " is not a multiple of 8 (pad it)");
  if (spec.rotaryColumns < 0)
    return failSpec(emitError, "rotary-columns = " + Twine(spec.rotaryColumns) +
                                   " must not be negative");
  if (spec.rotaryColumns > 0) {
    int64_t dh = spec.rotaryHeadDim;
    if (config.mma != MmaKind::Wgmma)
      return failSpec(emitError, "a rotary epilogue needs mma = wgmma (its "
                                 "epilogue tile holds both halves of a "
                                 "head)");
    if (spec.bias || spec.residual || spec.activation != Activation::None)
      return failSpec(emitError, "a rotary epilogue takes no bias, "
                                 "activation or residual");
    if (dh <= 0 || dh % 8 != 0 || config.tileN % dh != 0 ||
        spec.rotaryColumns % dh != 0)
      return failSpec(emitError,
                      "rotary-head-dim = " + Twine(dh) +
                          " must be a multiple of 8 dividing tile-n = " +
                          Twine(config.tileN) +
                          " and rotary-columns = " + Twine(spec.rotaryColumns));
    if (spec.rotaryColumns > spec.n ||
        (spec.pairedN > 0 && spec.rotaryColumns > spec.pairedN))
      return failSpec(emitError, "rotary-columns = " +
                                     Twine(spec.rotaryColumns) + " exceeds N");
    if (spec.rotaryPositions <= 0 || spec.m % spec.rotaryPositions != 0 ||
        !(spec.rotaryTheta > 0))
      return failSpec(emitError,
                      "rotary-positions = " + Twine(spec.rotaryPositions) +
                          " must divide M = " + Twine(spec.m) +
                          " and rotary-theta must be positive");
  }
  if (spec.logSoftmax) {
    if (config.mma != MmaKind::Wgmma || config.consumers != 1 ||
        config.persistentCtas != 0)
      return failSpec(emitError, "a log-softmax epilogue needs mma = wgmma "
                                 "with consumers = 1 (its staged tile holds "
                                 "whole rows)");
    if (spec.n > config.tileN)
      return failSpec(emitError,
                      "a log-softmax epilogue needs N = " + Twine(spec.n) +
                          " <= tile-n = " + Twine(config.tileN) +
                          " (a CTA holds whole rows)");
    if (spec.residual || spec.activation != Activation::None ||
        spec.rotaryColumns > 0 || spec.pairedN > 0 ||
        (spec.outputType && !spec.outputType.isF32()))
      return failSpec(emitError, "a log-softmax epilogue takes only a bias "
                                 "(no activation, residual, rotary or "
                                 "paired product) and writes f32");
  }
  if (const std::optional<NormSpec> &norm = spec.outputNorm) {
    if (failed(verifyNormSpec(*norm, emitError)))
      return failure();
    if (config.mma != MmaKind::Wgmma || config.consumers != 1 ||
        config.persistentCtas != 0)
      return failSpec(emitError, "a norm epilogue needs mma = wgmma with "
                                 "consumers = 1 (its staged tile holds whole "
                                 "rows)");
    if (spec.n != config.tileN || norm->rows != spec.m || norm->dim != spec.n ||
        !norm->outputType.isF32() || norm->gather)
      return failSpec(emitError,
                      "a norm epilogue needs N = " + Twine(spec.n) +
                          " = tile-n = " + Twine(config.tileN) +
                          " = the norm's dim = " + Twine(norm->dim) +
                          ", the norm's rows = " + Twine(norm->rows) +
                          " = M and f32 rows (a CTA holds whole rows)");
    if (spec.residual || spec.activation != Activation::None ||
        spec.rotaryColumns > 0 || spec.pairedN > 0 || spec.logSoftmax ||
        (spec.outputType && !spec.outputType.isF32()))
      return failSpec(emitError, "a norm epilogue takes only a bias (no "
                                 "activation, residual, rotary, paired "
                                 "product or log-softmax) and writes f32");
  }
  if (spec.mergePositions != 0 || spec.mergeSequences != 0) {
    int64_t rowsPerEntry = (spec.mergePositions + 1) * spec.mergeSequences;
    if (!spec.logSoftmax || spec.mergePositions <= 0 ||
        spec.mergeSequences <= 0 || spec.m % rowsPerEntry != 0)
      return failSpec(
          emitError,
          "merged rows (merge-positions = " + Twine(spec.mergePositions) +
              ", merge-sequences = " + Twine(spec.mergeSequences) +
              ") need a log-softmax epilogue and M = " + Twine(spec.m) +
              " a multiple of (positions + 1) x sequences");
  }
  if (spec.pairedN > 0 &&
      (spec.bias || spec.residual || spec.activation != Activation::None ||
       spec.bLayout != BLayout::NK))
    return failSpec(emitError,
                    "a paired GEMM (paired-n = " + Twine(spec.pairedN) +
                        ") takes no bias, activation or residual and B "
                        "[N, K]");
  return success();
}

FailureOr<KernelInfo> buildGemmKernel(OpBuilder &builder,
                                      gpu::GPUModuleOp module, StringRef name,
                                      const GemmSpec &spec, Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyGemmSpec(spec, emitError)))
    return failure();
  const GemmConfig &config = spec.config;
  MLIRContext *ctx = builder.getContext();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());

  Type f32 = builder.getF32Type();
  bool useTma = config.mma == MmaKind::Wgmma;
  std::string dtype = spec.inputType.isBF16() ? "bf16" : "f16";
  int64_t bytes = elementBytes(spec.inputType);

  KernelInfo info;
  info.name = name.str();
  int64_t nTiles = llvm::divideCeil(spec.n, config.tileN);
  int64_t pairedTiles = llvm::divideCeil(spec.pairedN, config.tileN);
  int64_t mTiles = llvm::divideCeil(spec.m, config.tileM);
  info.grid = {nTiles + pairedTiles, mTiles, 1};
  if (config.persistentCtas > 0) // each CTA walks tiles
    info.grid = {std::min(nTiles * mTiles, config.persistentCtas), 1, 1};
  info.block = {useTma && config.consumers > 1
                    ? kThreads * (config.consumers + 1)
                    : kThreads,
                1, 1};
  info.dynamicSharedBytes = useTma ? getWgmmaLayout(spec).dynamicSharedBytes
                                   : getMmaSyncLayout(spec).dynamicSharedBytes;

  SmallVector<Type> argTypes;
  auto aType = MemRefType::get({spec.m, spec.k}, spec.inputType);
  auto bType = spec.bLayout == BLayout::NK
                   ? MemRefType::get({spec.n, spec.k}, spec.inputType)
                   : MemRefType::get({spec.k, spec.n}, spec.inputType);
  // A norm prologue's A is the norm's f32 input rows (or the ids and table
  // they are gathered from), read by threads.
  bool norm = spec.norm.has_value();
  int64_t normInputs = 0;
  if (norm) {
    llvm::append_range(argTypes, normInputTypes(builder, *spec.norm));
    for (const std::string &name : normInputParamNames(*spec.norm))
      info.params.push_back({name, "ptr", {}});
    normInputs = static_cast<int64_t>(argTypes.size());
  }
  if (useTma) {
    // A 128-byte CUtensorMap passed by value (byval + grid_constant, set by
    // mb-cuda-grid-constant-params after conversion to NVVM).
    if (!norm)
      argTypes.push_back(LLVM::LLVMPointerType::get(ctx));
    argTypes.push_back(LLVM::LLVMPointerType::get(ctx));
    TensorMapDescription aMap{"a",
                              dtype,
                              {spec.k, spec.m},
                              {spec.k * bytes},
                              {config.tileK, config.tileM},
                              128};
    TensorMapDescription bMap;
    if (spec.bLayout == BLayout::NK)
      bMap = {"b",
              dtype,
              {spec.k, spec.n},
              {spec.k * bytes},
              {config.tileK, config.tileN},
              128};
    else
      bMap = {
          "b", dtype, {spec.n, spec.k}, {spec.n * bytes}, {64, config.tileK},
          128};
    if (!norm)
      info.params.push_back({"a", "tensor_map", aMap});
    info.params.push_back({"b", "tensor_map", bMap});
  } else {
    if (!norm) {
      argTypes.push_back(aType);
      info.params.push_back({"a", "ptr", {}});
    }
    argTypes.push_back(bType);
    info.params.push_back({"b", "ptr", {}});
  }
  Type outputType = spec.outputType ? spec.outputType : f32;
  argTypes.push_back(
      MemRefType::get({gemmOutputRows(spec), spec.n}, outputType));
  info.params.push_back({"c", "ptr", {}});
  appendEpilogueParams(argTypes, info, spec.m, spec.n, spec.bias,
                       spec.biasType, spec.residual, f32);
  if (norm) {
    Type weightType = spec.norm->weightType ? spec.norm->weightType : f32;
    argTypes.push_back(MemRefType::get({spec.k}, weightType));
    info.params.push_back({"norm_weight", "ptr", {}});
    if (spec.norm->norm == NormKind::Layer) {
      argTypes.push_back(MemRefType::get({spec.k}, weightType));
      info.params.push_back({"norm_bias", "ptr", {}});
    }
  }
  if (const std::optional<NormSpec> &outputNorm = spec.outputNorm) {
    Type weightType = outputNorm->weightType ? outputNorm->weightType : f32;
    argTypes.push_back(MemRefType::get({spec.n}, weightType));
    info.params.push_back({"out_norm_weight", "ptr", {}});
    if (outputNorm->norm == NormKind::Layer) {
      argTypes.push_back(MemRefType::get({spec.n}, weightType));
      info.params.push_back({"out_norm_bias", "ptr", {}});
    }
    if (outputNorm->startType) {
      argTypes.push_back(MemRefType::get({spec.n}, outputNorm->startType));
      info.params.push_back({"start", "ptr", {}});
    }
  }
  SmallVector<int64_t> tensorMapParams =
      norm ? SmallVector<int64_t>{normInputs} : SmallVector<int64_t>{0, 1};
  if (spec.pairedN > 0) {
    if (useTma) {
      tensorMapParams.push_back(argTypes.size());
      argTypes.push_back(LLVM::LLVMPointerType::get(ctx));
      info.params.push_back({"b2",
                             "tensor_map",
                             {"b2",
                              dtype,
                              {spec.k, spec.pairedN},
                              {spec.k * bytes},
                              {config.tileK, config.tileN},
                              128}});
    } else {
      argTypes.push_back(
          MemRefType::get({spec.pairedN, spec.k}, spec.inputType));
      info.params.push_back({"b2", "ptr", {}});
    }
    argTypes.push_back(MemRefType::get({spec.m, spec.pairedN}, outputType));
    info.params.push_back({"c2", "ptr", {}});
  }

  auto func = createKernelFunc(builder, loc, name, argTypes, info);
  if (useTma)
    func->setAttr(kTensorMapParamsAttrName,
                  builder.getDenseI64ArrayAttr(tensorMapParams));
  // setmaxnreg needs the register count at entry fixed (entryRegisters).
  if (useTma && config.consumers > 1)
    func->setAttr(NVVM::NVVMDialect::getMaxnregAttrName(),
                  builder.getI32IntegerAttr(entryRegisters(info.block[0])));

  Block &entry = func.getBody().front();
  builder.setInsertionPointToStart(&entry);
  GemmOperands operands;
  unsigned next = 0;
  if (useTma) {
    auto mapType = [&](int64_t rows, int64_t cols) {
      return nvgpu::TensorMapDescriptorType::get(
          ctx,
          MemRefType::get({rows, cols}, spec.inputType,
                          MemRefLayoutAttrInterface{}, getWorkgroupSpace(ctx)),
          nvgpu::TensorMapSwizzleKind::SWIZZLE_128B,
          nvgpu::TensorMapL2PromoKind::L2PROMO_128B,
          nvgpu::TensorMapOOBKind::OOB_ZERO,
          nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE);
    };
    Type aMapType = mapType(config.tileM, config.tileK);
    Type bMapType = spec.bLayout == BLayout::NK
                        ? mapType(config.tileN, config.tileK)
                        : mapType(config.tileK, 64);
    for (int64_t i = 0; i < normInputs; ++i)
      operands.normInput.push_back(entry.getArgument(next++));
    // With a norm prologue, A's map type only types the A descriptors
    // (nvgpu.warpgroup.generate.descriptor reads the swizzle from it): cast
    // from B's parameter, it is never loaded from.
    Value aSource = entry.getArgument(norm ? next : next++);
    operands.a =
        UnrealizedConversionCastOp::create(builder, loc, aMapType, aSource)
            .getResult(0);
    operands.b = UnrealizedConversionCastOp::create(builder, loc, bMapType,
                                                    entry.getArgument(next++))
                     .getResult(0);
  } else {
    for (int64_t i = 0; i < normInputs; ++i)
      operands.normInput.push_back(entry.getArgument(next++));
    if (!norm)
      operands.a = entry.getArgument(next++);
    operands.b = entry.getArgument(next++);
  }
  // The epilogue stores (and loads) 2 or 4 consecutive f32; with N a
  // multiple of the tile, every such vector is 8- or 16-byte aligned when the
  // buffer is (the runtime's buffers are 256-byte aligned, docs/cuda.md).
  auto aligned = [&](Value memref) -> Value {
    return memref::AssumeAlignmentOp::create(builder, loc, memref,
                                             builder.getI32IntegerAttr(16));
  };
  operands.c = aligned(entry.getArgument(next++));
  if (spec.bias)
    operands.bias = aligned(entry.getArgument(next++));
  if (spec.residual)
    operands.residual = aligned(entry.getArgument(next++));
  if (norm) {
    operands.normWeight = entry.getArgument(next++);
    if (spec.norm->norm == NormKind::Layer)
      operands.normBias = entry.getArgument(next++);
  }
  if (const std::optional<NormSpec> &outputNorm = spec.outputNorm) {
    operands.outputNormWeight = entry.getArgument(next++);
    if (outputNorm->norm == NormKind::Layer)
      operands.outputNormBias = entry.getArgument(next++);
    if (outputNorm->startType)
      operands.start = entry.getArgument(next++);
  }

  auto buildProduct = [&](const GemmSpec &product,
                          const GemmOperands &productOperands) {
    if (useTma)
      WgmmaGemmBuilder(builder, loc, product, productOperands).build();
    else
      MmaSyncGemmBuilder(builder, loc, product, productOperands).build();
  };
  if (spec.pairedN == 0) {
    buildProduct(spec, operands);
  } else {
    // Blocks of the first nTiles columns of the grid compute C, the others
    // C2: the same kernel body twice, for each product's B, C and N.
    GemmSpec second = spec;
    second.n = spec.pairedN;
    second.pairedN = 0;
    GemmOperands secondOperands = operands;
    secondOperands.b = useTma ? UnrealizedConversionCastOp::create(
                                    builder, loc, operands.b.getType(),
                                    entry.getArgument(next++))
                                    .getResult(0)
                              : entry.getArgument(next++);
    secondOperands.c = aligned(entry.getArgument(next++));
    secondOperands.firstNTile = nTiles;
    Value isSecond = arith::CmpIOp::create(
        builder, loc, arith::CmpIPredicate::uge,
        gpu::BlockIdOp::create(builder, loc, gpu::Dimension::x),
        arith::ConstantIndexOp::create(builder, loc, nTiles));
    auto products = scf::IfOp::create(builder, loc, isSecond,
                                      /*withElse=*/true);
    builder.setInsertionPointToStart(&products.getThenRegion().front());
    buildProduct(second, secondOperands);
    builder.setInsertionPointToStart(&products.getElseRegion().front());
    buildProduct(spec, operands);
    builder.setInsertionPointAfter(products);
  }
  gpu::ReturnOp::create(builder, loc);
  return info;
}

} // namespace mbc::cuda
