//===- AttentionKernel.cpp - flash attention on tensor cores --------------===//
//
// Facts relied on (fragment layouts: [PTX-MMA] and [PTX-LDM] in WarpMma.cpp):
// - S = Q K^T: A = Q rows (row-major, D contiguous), B = K^T, i.e. K stored
//   [key][D] = [N][K]: ldmatrix without .trans (WarpMma::loadBFromNK).
// - O += P V: B = V stored [key][D] = [K][N]: ldmatrix .trans
//   (WarpMma::loadBFromKN).
// - The C fragments of two adjacent n8 tiles of S (columns 16kk..16kk+7 and
//   16kk+8..16kk+15) hold exactly the A fragment of the 16x16 block kk of P:
//   a0a1 = C0[g][2t..], a2a3 = C0[g+8][2t..], a4a5 = C1[g][2t..],
//   a6a7 = C1[g+8][2t..] ([PTX-MMA]; the FlashAttention-2 register reuse).
//   So P never goes through shared memory.
// - A row of a C fragment is spread over the 4 lanes of a quad (same g,
//   t = lane % 4): row reductions are shuffles with xor 1 and 2.
// - exp(x) = 2^(x log2 e): the scale is multiplied by log2(e) once and the
//   exponentials are ex2.approx.ftz.f32 (llvm.nvvm.ex2.approx.ftz).
// - Online softmax (FlashAttention-2, Dao 2023): per row, m' = max(m,
//   rowmax(S)), P = 2^(S - m'), l' = l 2^(m - m') + rowsum(P),
//   O' = O 2^(m - m') + P V; O = O' / l at the end. Each thread keeps its
//   partial rowsum; the quad reduction of l happens once, at the end.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/AttentionKernel.h"
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/WarpMma.h"
#include "passes/CUDA/Kernels/WgmmaAttention.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>
#include <limits>
#include <optional>

using namespace mlir;

namespace mbc::cuda {
namespace {

/// Query rows of a CTA: 4 warps x rowTiles x 16.
int64_t queryBlockRows(const AttentionSpec &spec) {
  return 4 * 16 * spec.rowTiles;
}

/// Whether local attention's patches may straddle the 64-row blocks (a
/// patch length that does not divide 64): a CTA then also reads the key
/// block before its own, where rows can see no key.
bool patchesStraddleBlocks(const AttentionSpec &spec) {
  return spec.patchLength > 0 && 64 % spec.patchLength != 0;
}

int64_t attentionSharedBytes(const AttentionSpec &spec) {
  int64_t rowBytes = (spec.headDim + kRowPadElements) *
                     spec.inputType.getIntOrFloatBitWidth() / 8;
  // Q [query block][D + 8], K and V 2 x [keyBlock][D + 8].
  return rowBytes * (queryBlockRows(spec) + 4 * spec.keyBlock);
}

class AttentionBuilder {
public:
  AttentionBuilder(OpBuilder &b, Location loc, const AttentionSpec &spec,
                   Value q, Value k, Value v, Value o)
      : b(b), loc(loc), spec(spec), q(q), k(k), v(v), o(o) {}

  void build() {
    MLIRContext *ctx = b.getContext();
    Type elementType = spec.inputType;
    int64_t headDim = spec.headDim, keyBlock = spec.keyBlock;
    int64_t tiles = spec.rowTiles, queryBlock = queryBlockRows(spec);
    int64_t rowElements = headDim + kRowPadElements;
    int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
    double scale = spec.scale != 0 ? spec.scale : 1.0 / std::sqrt(headDim);
    scaleLog2e = constantF32(scale * M_LOG2E);
    negativeInfinity = constantF32(-std::numeric_limits<float>::infinity());

    tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value warp = arith::DivUIOp::create(b, loc, tid, index(32));
    Value lane = arith::RemUIOp::create(b, loc, tid, index(32));
    // The warp's rows: tiles x 16 consecutive rows of the query block.
    warpRow = arith::MulIOp::create(b, loc, warp, index(16 * tiles));
    Value queryBlockIndex = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    slice = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    // Where this slice's rows and head columns are: packed, slice `slice`
    // from column 0; token-major, sequence slice / heads, head slice % heads.
    prefix = slice;
    qColumn = kColumn = vColumn = index(0);
    if (spec.tokenMajor()) {
      prefix = arith::DivUIOp::create(b, loc, slice, index(spec.heads));
      qColumn = arith::MulIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, slice, index(spec.heads)),
          index(headDim));
      kColumn = add({qColumn}, spec.kColumn);
      vColumn = add({qColumn}, spec.vColumn);
    }
    // A ragged sequence: loads past its end read zeros, keys past it are
    // masked (the causal mask already hides them from every real query).
    ragged = spec.seqLen % std::max(queryBlock, keyBlock) != 0;
    Value m0 =
        arith::MulIOp::create(b, loc, queryBlockIndex, index(queryBlock));
    warpMma.emplace(b, loc, elementType, lane);
    // This thread's query rows: g and g + 8 of each of the warp's tiles.
    queryRows.assign(tiles, {});
    patchStart.assign(tiles, {});
    queryFragments.assign(tiles, {});
    for (int64_t i = 0; i < tiles; ++i) {
      Value firstRow = add({m0, warpRow, warpMma->groupRow()}, 16 * i);
      queryRows[i] = {firstRow, add({firstRow}, 8)};
      if (spec.patchLength > 0)
        for (int64_t r = 0; r < 2; ++r)
          patchStart[i][r] = arith::MulIOp::create(
              b, loc,
              arith::DivUIOp::create(b, loc, queryRows[i][r],
                                     index(spec.patchLength)),
              index(spec.patchLength));
    }
    pairColumn = warpMma->pairColumn();

    Value shared = createDynamicShared(b, loc);
    auto view = [&](int64_t offset, ArrayRef<int64_t> shape) -> Value {
      return viewShared(b, loc, shared, index(offset), shape, elementType);
    };
    int64_t qBytes = queryBlock * rowElements * elementBytes;
    int64_t kvBytes = 2 * keyBlock * rowElements * elementBytes;
    qTile = view(0, {queryBlock, rowElements});
    kTiles = view(qBytes, {2, keyBlock, rowElements});
    vTiles = view(qBytes + kvBytes, {2, keyBlock, rowElements});

    // Key blocks to visit: all; (causal) those starting at or before the
    // last query row of this CTA; (patches) the blocks from the one holding
    // the start of the first row's patch to this CTA's own, since a row
    // only sees keys of its own patch (one block when the patch length
    // divides 64; patches may straddle blocks otherwise).
    Value firstKeyBlock = index(0);
    endKeyBlock = index(llvm::divideCeil(spec.seqLen, keyBlock));
    if (spec.patchLength > 0) {
      // keyBlock == query block.
      firstKeyBlock = !patchesStraddleBlocks(spec)
                          ? queryBlockIndex
                          : arith::DivUIOp::create(
                                b, loc,
                                arith::MulIOp::create(
                                    b, loc,
                                    arith::DivUIOp::create(
                                        b, loc, m0, index(spec.patchLength)),
                                    index(spec.patchLength)),
                                index(keyBlock))
                                .getResult();
      endKeyBlock = add({queryBlockIndex}, 1);
    } else if (spec.causal) {
      // Blocks up to this CTA's last row (and the sequence's end).
      Value causalEnd = arith::DivUIOp::create(
          b, loc, add({m0}, queryBlock + keyBlock - 1), index(keyBlock));
      endKeyBlock = ragged
                        ? arith::MinUIOp::create(b, loc, endKeyBlock, causalEnd)
                              .getResult()
                        : causalEnd;
    }

    // Q and the first K/V block; Q moves to registers once it landed.
    SmallVector<Value> tokens;
    copyTileAsync(b, loc, tid, q, prefix, m0, qColumn, qTile, {}, queryBlock,
                  headDim, Value(), tokens, rowLimit());
    issueKeyValueCopies(firstKeyBlock,
                        arith::RemUIOp::create(b, loc, firstKeyBlock, index(2)),
                        Value(), tokens);
    Value group = nvgpu::DeviceAsyncCreateGroupOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(ctx), tokens);
    nvgpu::DeviceAsyncWaitOp::create(b, loc, group, b.getI32IntegerAttr(0));
    gpu::BarrierOp::create(b, loc);
    // Q fragments stay in registers for the whole pass unless the spec
    // reloads them from the Q tile for every key block (registers for two
    // tiles of head dim 128).
    if (!spec.reloadQuery)
      for (int64_t i = 0; i < tiles; ++i)
        for (int64_t d = 0; d < headDim / 16; ++d)
          queryFragments[i].push_back(loadQuery(i, d));

    // Loop state: per tile, O fragments (headDim / 8); then per tile and
    // row (g, g + 8) the maxima, then the partial row sums.
    SmallVector<Value> state(tiles * (headDim / 8), warpMma->zeroAccumulator());
    state.append(2 * tiles, negativeInfinity);
    state.append(2 * tiles, constantF32(0));

    // Only the key blocks that reach past some row's last visible key need
    // the mask (FlashAttention-2): causal, those after the CTA's first row;
    // a ragged non-causal sequence, its last block. The blocks before run
    // without the compare and select per score.
    Value maskedFrom = firstKeyBlock;
    if (spec.patchLength == 0 && spec.causal)
      maskedFrom = arith::MinUIOp::create(
          b, loc, endKeyBlock,
          arith::DivUIOp::create(b, loc, add({m0}, 1), index(keyBlock)));
    else if (spec.patchLength == 0)
      maskedFrom = ragged ? index(spec.seqLen / keyBlock) : endKeyBlock;
    if (maskedFrom != firstKeyBlock)
      state = keyBlockLoop(firstKeyBlock, maskedFrom, state, /*masked=*/false);
    if (maskedFrom != endKeyBlock)
      state = keyBlockLoop(maskedFrom, endKeyBlock, state, /*masked=*/true);

    // O / l, rows g and g + 8 of each tile, columns 8d + 2t, 8d + 2t + 1
    // (rows past a ragged sequence's end are not stored).
    auto pairType = VectorType::get({2}, b.getF32Type());
    Type outputType = spec.outputType ? spec.outputType : b.getF32Type();
    int64_t pairBytes = 2 * outputType.getIntOrFloatBitWidth() / 8;
    for (int64_t i = 0; i < tiles; ++i)
      for (int64_t r = 0; r < 2; ++r) {
        Value sum =
            quadReduce(state[tiles * (headDim / 8) + 2 * tiles + 2 * i + r],
                       /*isMax=*/false);
        Value inverse = arith::DivFOp::create(b, loc, constantF32(1), sum);
        OpBuilder::InsertionGuard guard(b);
        if (ragged) {
          Value inside =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                    queryRows[i][r], index(spec.seqLen));
          auto store = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
          b.setInsertionPointToStart(&store.getThenRegion().front());
        }
        for (int64_t d = 0; d < headDim / 8; ++d) {
          Value pair = vector::ExtractOp::create(
              b, loc, state[i * (headDim / 8) + d], ArrayRef<int64_t>{r});
          Value scaled = arith::MulFOp::create(
              b, loc, pair,
              vector::BroadcastOp::create(b, loc, pairType, inverse));
          if (!outputType.isF32())
            scaled = arith::TruncFOp::create(
                b, loc, VectorType::get({2}, outputType), scaled);
          vector::StoreOp::create(b, loc, scaled, o,
                                  ValueRange{prefix, queryRows[i][r],
                                             add({qColumn, pairColumn}, 8 * d)},
                                  /*nontemporal=*/false,
                                  llvm::MaybeAlign(pairBytes));
        }
      }
  }

  /// The A fragment of Q for tile `i`, head-dim block `d` (ldmatrix from
  /// the Q tile).
  Value loadQuery(int64_t i, int64_t d) {
    return warpMma->loadA(qTile, {}, add({warpRow}, 16 * i), index(16 * d));
  }

  /// One scf.for over key blocks [first, end) carrying `state` (O
  /// fragments, row maxima, row sums); `masked` blocks apply the causal,
  /// block-diagonal or ragged-end mask to every score. Returns the results.
  SmallVector<Value> keyBlockLoop(Value first, Value end, ValueRange state,
                                  bool masked) {
    MLIRContext *ctx = b.getContext();
    Type elementType = spec.inputType;
    int64_t headDim = spec.headDim, keyBlock = spec.keyBlock;
    int64_t tiles = spec.rowTiles;
    int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
    int64_t outputs = tiles * (headDim / 8);
    auto loop = scf::ForOp::create(b, loc, first, end, index(1), state);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value keyBlockIndex = loop.getInductionVar();
    ValueRange args = loop.getRegionIterArgs();
    // output[i][f], rowMax[i][r], rowSum[i][r].
    SmallVector<SmallVector<Value>> output(tiles);
    SmallVector<std::array<Value, 2>> rowMax(tiles), rowSum(tiles);
    for (int64_t i = 0; i < tiles; ++i) {
      output[i].assign(args.begin() + i * (headDim / 8),
                       args.begin() + (i + 1) * (headDim / 8));
      for (int64_t r = 0; r < 2; ++r) {
        rowMax[i][r] = args[outputs + 2 * i + r];
        rowSum[i][r] = args[outputs + 2 * tiles + 2 * i + r];
      }
    }

    // Prefetch the next K/V block into the other buffer (zero-fill past
    // the end of the last loop, so the group is never empty), then wait
    // for this one.
    Value next = add({keyBlockIndex}, 1);
    Value hasNext = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          next, endKeyBlock);
    Value source =
        arith::SelectOp::create(b, loc, hasNext, next, keyBlockIndex);
    Value sourceElements = arith::SelectOp::create(
        b, loc, hasNext, index(16 / elementBytes), index(0));
    SmallVector<Value> nextTokens;
    issueKeyValueCopies(source, arith::RemUIOp::create(b, loc, next, index(2)),
                        sourceElements, nextTokens);
    Value nextGroup = nvgpu::DeviceAsyncCreateGroupOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(ctx), nextTokens);
    nvgpu::DeviceAsyncWaitOp::create(b, loc, nextGroup, b.getI32IntegerAttr(1));
    gpu::BarrierOp::create(b, loc);
    Value buffer = arith::RemUIOp::create(b, loc, keyBlockIndex, index(2));
    Value key0 = arith::MulIOp::create(b, loc, keyBlockIndex, index(keyBlock));

    // S = Q K^T for the warp's rows x keyBlock keys: each K fragment is
    // read from shared memory once and used by every tile of the warp (and
    // reloaded Q fragments once per head-dim block).
    SmallVector<SmallVector<Value>> scores(
        tiles, SmallVector<Value>(keyBlock / 8, warpMma->zeroAccumulator()));
    for (int64_t d = 0; d < headDim / 16; ++d) {
      SmallVector<Value> query;
      for (int64_t i = 0; i < tiles; ++i)
        query.push_back(spec.reloadQuery ? loadQuery(i, d)
                                         : queryFragments[i][d]);
      for (int64_t n = 0; n < keyBlock / 16; ++n) {
        auto [low, high] =
            warpMma->loadBFromNK(kTiles, buffer, index(16 * n), index(16 * d));
        for (int64_t i = 0; i < tiles; ++i) {
          scores[i][2 * n] = warpMma->mma(query[i], low, scores[i][2 * n]);
          scores[i][2 * n + 1] =
              warpMma->mma(query[i], high, scores[i][2 * n + 1]);
        }
      }
    }

    // Scaled (log2 domain) and, in masked blocks, masked scores as scalars
    // [tile][n8 block][row][col].
    using Quad = std::array<std::array<Value, 2>, 2>;
    SmallVector<SmallVector<Quad>> s(tiles, SmallVector<Quad>(keyBlock / 8));
    for (int64_t i = 0; i < tiles; ++i)
      for (int64_t n = 0; n < keyBlock / 8; ++n)
        for (int64_t r = 0; r < 2; ++r)
          for (int64_t c = 0; c < 2; ++c) {
            Value value = arith::MulFOp::create(
                b, loc,
                vector::ExtractOp::create(b, loc, scores[i][n],
                                          ArrayRef<int64_t>{r, c}),
                scaleLog2e);
            if (masked)
              value = mask(value, add({key0, pairColumn}, 8 * n + c), i, r);
            s[i][n][r][c] = value;
          }

    SmallVector<std::array<Value, 2>> alpha(tiles);
    for (int64_t i = 0; i < tiles; ++i)
      for (int64_t r = 0; r < 2; ++r) {
        Value blockMax = negativeInfinity;
        for (int64_t n = 0; n < keyBlock / 8; ++n)
          for (int64_t c = 0; c < 2; ++c)
            blockMax =
                arith::MaxNumFOp::create(b, loc, blockMax, s[i][n][r][c]);
        blockMax = quadReduce(blockMax, /*isMax=*/true);
        Value newMax = arith::MaxNumFOp::create(b, loc, rowMax[i][r], blockMax);
        // The first key of the row's patch (key 0 without patches) is
        // visible to it in the first block visited, so newMax is finite
        // from then on and 2^(-inf - newMax) = 0 rescales nothing. Patches
        // that straddle key blocks break the first half: a row whose patch
        // starts in a later block sees nothing in the first, and its max
        // stays -inf; subtracting 0 then keeps -inf - -inf (NaN) out (the
        // max itself stays -inf, so the next block's is the row's).
        Value reference = newMax;
        if (patchesStraddleBlocks(spec))
          reference = arith::SelectOp::create(
              b, loc,
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, newMax,
                                    negativeInfinity),
              constantF32(0), newMax);
        alpha[i][r] =
            exp2(arith::SubFOp::create(b, loc, rowMax[i][r], reference));
        Value sum = constantF32(0);
        for (int64_t n = 0; n < keyBlock / 8; ++n)
          for (int64_t c = 0; c < 2; ++c) {
            s[i][n][r][c] =
                exp2(arith::SubFOp::create(b, loc, s[i][n][r][c], reference));
            sum = arith::AddFOp::create(b, loc, sum, s[i][n][r][c]);
          }
        rowSum[i][r] = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, loc, rowSum[i][r], alpha[i][r]),
            sum);
        rowMax[i][r] = newMax;
      }

    // O = O * alpha + P V, P taken from the score registers; each V
    // fragment is read from shared memory once for every tile.
    for (int64_t i = 0; i < tiles; ++i) {
      Value rescale = vector::FromElementsOp::create(
          b, loc, VectorType::get({2, 2}, b.getF32Type()),
          ValueRange{alpha[i][0], alpha[i][0], alpha[i][1], alpha[i][1]});
      for (Value &fragment : output[i])
        fragment = arith::MulFOp::create(b, loc, fragment, rescale);
    }
    for (int64_t kk = 0; kk < keyBlock / 16; ++kk) {
      SmallVector<Value> probabilities;
      for (int64_t i = 0; i < tiles; ++i) {
        SmallVector<Value> elements;
        for (int64_t n : {2 * kk, 2 * kk + 1})
          for (int64_t r = 0; r < 2; ++r)
            for (int64_t c = 0; c < 2; ++c)
              elements.push_back(
                  arith::TruncFOp::create(b, loc, elementType, s[i][n][r][c]));
        probabilities.push_back(vector::FromElementsOp::create(
            b, loc, VectorType::get({4, 2}, elementType), elements));
      }
      for (int64_t d = 0; d < headDim / 16; ++d) {
        auto [low, high] =
            warpMma->loadBFromKN(vTiles, buffer, index(16 * kk), index(16 * d));
        for (int64_t i = 0; i < tiles; ++i) {
          output[i][2 * d] =
              warpMma->mma(probabilities[i], low, output[i][2 * d]);
          output[i][2 * d + 1] =
              warpMma->mma(probabilities[i], high, output[i][2 * d + 1]);
        }
      }
    }
    // The next iteration refills the buffer read one iteration ago.
    gpu::BarrierOp::create(b, loc);
    SmallVector<Value> results;
    for (int64_t i = 0; i < tiles; ++i)
      llvm::append_range(results, output[i]);
    for (int64_t i = 0; i < tiles; ++i)
      results.append({rowMax[i][0], rowMax[i][1]});
    for (int64_t i = 0; i < tiles; ++i)
      results.append({rowSum[i][0], rowSum[i][1]});
    scf::YieldOp::create(b, loc, results);
    return SmallVector<Value>(loop.getResults());
  }

  /// -inf where key `keyIndex` is hidden from row r of tile i: past the
  /// end of a ragged non-causal sequence, after the query (causal), or
  /// before the query's patch (block-diagonal).
  Value mask(Value value, Value keyIndex, int64_t i, int64_t r) {
    if (!spec.causal && ragged) {
      Value past = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge,
                                         keyIndex, index(spec.seqLen));
      value = arith::SelectOp::create(b, loc, past, negativeInfinity, value);
    }
    if (spec.causal || spec.patchLength > 0) {
      Value hidden = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                           keyIndex, queryRows[i][r]);
      if (spec.patchLength > 0) {
        Value before = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                             keyIndex, patchStart[i][r]);
        hidden = arith::OrIOp::create(b, loc, hidden, before);
      }
      value = arith::SelectOp::create(b, loc, hidden, negativeInfinity, value);
    }
    return value;
  }

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value constantF32(double value) {
    return arith::ConstantOp::create(
        b, loc, b.getF32FloatAttr(static_cast<float>(value)));
  }
  Value add(ArrayRef<Value> values, int64_t constant) {
    Value sum = index(constant);
    for (Value value : values)
      sum = arith::AddIOp::create(b, loc, sum, value);
    return sum;
  }
  Value exp2(Value x) { return buildExp2Approx(b, loc, x); }
  int64_t rowLimit() const { return ragged ? spec.seqLen : 0; }
  /// Max or sum over the 4 lanes of a quad (one row of a C fragment).
  Value quadReduce(Value value, bool isMax) {
    return buildXorReduce(b, loc, value, {1, 2}, isMax);
  }
  void issueKeyValueCopies(Value keyBlockIndex, Value buffer,
                           Value sourceElements,
                           SmallVectorImpl<Value> &tokens) {
    Value key0 =
        arith::MulIOp::create(b, loc, keyBlockIndex, index(spec.keyBlock));
    copyTileAsync(b, loc, tid, k, prefix, key0, kColumn, kTiles, buffer,
                  spec.keyBlock, spec.headDim, sourceElements, tokens,
                  rowLimit());
    copyTileAsync(b, loc, tid, v, prefix, key0, vColumn, vTiles, buffer,
                  spec.keyBlock, spec.headDim, sourceElements, tokens,
                  rowLimit());
  }

  OpBuilder &b;
  Location loc;
  const AttentionSpec &spec;
  Value q, k, v, o;
  Value tid, slice, kTiles, vTiles, pairColumn, scaleLog2e, negativeInfinity;
  Value warpRow, qTile, endKeyBlock;
  std::optional<WarpMma> warpMma;
  /// queryFragments[i][d]: tile i, head-dim block d (when kept in
  /// registers).
  SmallVector<SmallVector<Value>> queryFragments;
  Value prefix, qColumn, kColumn, vColumn;
  bool ragged = false;
  /// Per tile of the warp, this thread's two query rows (g, g + 8) and the
  /// first rows of their patches.
  SmallVector<std::array<Value, 2>> queryRows, patchStart;
};

LogicalResult verifyTokenMajor(const AttentionSpec &spec,
                               function_ref<InFlightDiagnostic()> emitError) {
  if (spec.batchHeads % spec.heads != 0)
    return failSpec(emitError,
                    "batch-heads = " + Twine(spec.batchHeads) +
                        " is not a multiple of heads = " + Twine(spec.heads));
  if (spec.patchLength != 0)
    return failSpec(emitError, "the token-major layout has no patch-length "
                               "(local attention is packed)");
  int64_t inner = spec.heads * spec.headDim;
  // Every row and head starts on a 16-byte boundary (cp.async chunks).
  auto checkRows = [&](StringRef name, int64_t rowElements,
                       int64_t column) -> LogicalResult {
    if (column < 0 || column % 8 != 0 || rowElements % 8 != 0 ||
        column + inner > rowElements)
      return failSpec(emitError,
                      name + " rows of " + Twine(rowElements) +
                          " elements with heads from column " + Twine(column) +
                          " do not hold heads x head-dim = " + Twine(inner) +
                          " columns on 16-byte boundaries");
    return success();
  };
  return success(succeeded(checkRows("q", spec.qRowElements, 0)) &&
                 succeeded(checkRows("k", spec.kRowElements, spec.kColumn)) &&
                 succeeded(checkRows("v", spec.vRowElements, spec.vColumn)));
}

} // namespace

LogicalResult
verifyAttentionSpec(const AttentionSpec &spec,
                    function_ref<InFlightDiagnostic()> emitError) {
  if (!spec.inputType || !(spec.inputType.isBF16() || spec.inputType.isF16()))
    return failSpec(emitError, "attention element type must be bf16 or f16");
  if (spec.headDim != 32 && spec.headDim != 64 && spec.headDim != 128)
    return failSpec(emitError, "head-dim = " + Twine(spec.headDim) +
                                   " is not supported (32, 64 or 128)");
  if (spec.keyBlock != 32 && spec.keyBlock != 64 && spec.keyBlock != 128)
    return failSpec(emitError, "key-block = " + Twine(spec.keyBlock) +
                                   " is not supported (32, 64 or 128)");
  if (spec.rowTiles != 1 && spec.rowTiles != 2)
    return failSpec(emitError, "row-tiles = " + Twine(spec.rowTiles) +
                                   " is not supported (1 or 2 tiles of 16 "
                                   "query rows a warp)");
  if (spec.batchHeads <= 0 || spec.seqLen <= 0)
    return failSpec(emitError, "attention sizes must be positive, got "
                               "batch-heads = " +
                                   Twine(spec.batchHeads) +
                                   ", seq-len = " + Twine(spec.seqLen));
  if (spec.outputType && !spec.outputType.isF32() &&
      spec.outputType != spec.inputType)
    return failSpec(emitError, "attention output type must be f32 or the "
                               "input type");
  if (spec.pingpong && spec.mma != MmaKind::Wgmma)
    return failSpec(emitError, "pingpong needs mma = wgmma (two consumer "
                               "warpgroups taking turns)");
  if (spec.mma == MmaKind::Wgmma) {
    if (spec.tokenMajor() && failed(verifyTokenMajor(spec, emitError)))
      return failure();
    // Any length: the tensor maps zero-fill rows past a sequence's end.
    return verifyWgmmaAttentionSpec(spec, emitError);
  }
  if (spec.tokenMajor()) {
    if (failed(verifyTokenMajor(spec, emitError)))
      return failure();
  } else if (int64_t block = std::max(queryBlockRows(spec), spec.keyBlock);
             spec.seqLen % block != 0)
    return failSpec(emitError,
                    "seq-len = " + Twine(spec.seqLen) +
                        " is not a multiple of " + Twine(block) +
                        " (the packed layout's query block " +
                        Twine(queryBlockRows(spec)) + " and key-block: "
                        "pad the sequence, causal masking hides padded keys "
                        "from real queries; the token-major layout takes any "
                        "length)");
  if (spec.patchLength != 0 && spec.rowTiles != 1)
    return failSpec(emitError, "patch-length needs row-tiles = 1 (a 64-row "
                               "query block)");
  if (spec.patchLength < 0 ||
      (spec.patchLength > 0 && (spec.patchLength > 64 || spec.keyBlock != 64)))
    return failSpec(emitError,
                    "patch-length = " + Twine(spec.patchLength) +
                        " with key-block = " + Twine(spec.keyBlock) +
                        " is not supported (at most 64 rows, with key-block "
                        "64)");
  int64_t shared = attentionSharedBytes(spec);
  if (shared > kMaxDynamicSharedBytes)
    return failSpec(emitError, "attention tiles need " + Twine(shared) +
                                   " bytes of shared memory (more than " +
                                   Twine(kMaxDynamicSharedBytes) + ")");
  return success();
}

FailureOr<KernelInfo>
buildAttentionKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                     StringRef name, const AttentionSpec &spec, Location loc) {
  auto emitError = [&] { return mlir::emitError(loc); };
  if (failed(verifyAttentionSpec(spec, emitError)))
    return failure();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());

  bool wgmma = spec.mma == MmaKind::Wgmma;
  int64_t queryRows = wgmma ? kWgmmaAttentionQueryRows : queryBlockRows(spec);
  KernelInfo info;
  info.name = name.str();
  info.grid = {llvm::divideCeilSigned(spec.seqLen, queryRows), spec.batchHeads,
               1};
  info.block = {wgmma ? kWgmmaAttentionThreads : kWarpMmaThreads, 1, 1};
  info.dynamicSharedBytes =
      wgmma ? wgmmaAttentionSharedBytes(spec) : attentionSharedBytes(spec);
  if (wgmma) {
    // q, k, v as 128-byte CUtensorMaps passed by value (byval grid
    // constants after mb-cuda-grid-constant-params).
    for (TensorMapDescription &map : wgmmaAttentionTensorMaps(spec))
      info.params.push_back({map.operand, "tensor_map", map});
    info.params.push_back({"o", "ptr", {}});
  } else {
    for (const char *param : {"q", "k", "v", "o"})
      info.params.push_back({param, "ptr", {}});
  }

  Type outputElement =
      spec.outputType ? spec.outputType : Type(builder.getF32Type());
  SmallVector<Type> types;
  if (spec.tokenMajor()) {
    int64_t sequences = spec.batchHeads / spec.heads;
    for (int64_t row :
         {spec.qRowElements, spec.kRowElements, spec.vRowElements})
      types.push_back(
          MemRefType::get({sequences, spec.seqLen, row}, spec.inputType));
    types.push_back(MemRefType::get(
        {sequences, spec.seqLen, spec.heads * spec.headDim}, outputElement));
  } else {
    auto inputType = MemRefType::get(
        {spec.batchHeads, spec.seqLen, spec.headDim}, spec.inputType);
    types.assign(3, inputType);
    types.push_back(MemRefType::get(
        {spec.batchHeads, spec.seqLen, spec.headDim}, outputElement));
  }
  if (wgmma)
    for (int64_t i = 0; i < 3; ++i)
      types[i] = LLVM::LLVMPointerType::get(builder.getContext());
  auto func = createKernelFunc(builder, loc, name, types, info);
  if (wgmma) {
    func->setAttr(kTensorMapParamsAttrName,
                  builder.getDenseI64ArrayAttr({0, 1, 2}));
    // setmaxnreg needs the register count at entry fixed (entryRegisters).
    func->setAttr(
        NVVM::NVVMDialect::getMaxnregAttrName(),
        builder.getI32IntegerAttr(entryRegisters(kWgmmaAttentionThreads)));
  }
  // Two row tiles keep 2 x (headDim / 2) accumulator registers a thread:
  // left alone, ptxas may cap the kernel at 168 registers to fit 3 CTAs an
  // SM and spill (head dim 64 on sm_80). Asking for 2 CTAs an SM lets it
  // use up to 255 (8 warps an SM, FlashAttention-2's usual occupancy).
  if (spec.rowTiles == 2)
    func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                  builder.getI32IntegerAttr(2));

  Block &entry = func.getBody().front();
  builder.setInsertionPointToStart(&entry);
  // O rows are stored as pairs at even columns (rows of an even number of
  // elements): aligned to the pair when the buffer is (256-byte aligned
  // runtime buffers, docs/cuda.md).
  Value output = memref::AssumeAlignmentOp::create(
      builder, loc, entry.getArgument(3), builder.getI32IntegerAttr(16));
  if (wgmma)
    buildWgmmaAttention(builder, loc, spec, entry.getArguments().take_front(3),
                        output);
  else
    AttentionBuilder(builder, loc, spec, entry.getArgument(0),
                     entry.getArgument(1), entry.getArgument(2), output)
        .build();
  gpu::ReturnOp::create(builder, loc);
  return info;
}

} // namespace mbc::cuda
