//===- WarpMma.cpp - warp-level m16n8k16 building blocks ------------------===//
//
// Facts relied on, with their sources:
//
// [PTX-MMA]  PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point
//   type": with g = lane / 4 and t = lane % 4,
//     A (16x16, row-major):  a0,a1 = A[g][2t..2t+1],  a2,a3 = A[g+8][2t..],
//                            a4,a5 = A[g][2t+8..],    a6,a7 = A[g+8][2t+8..]
//     B (16x8):              b0,b1 = B[k=2t..2t+1][n=g], b2,b3 = B[k=2t+8..][g]
//     C (16x8, f32):         c0,c1 = C[g][2t..2t+1],  c2,c3 = C[g+8][2t..]
//   nvgpu.mma.sync holds them as vector<4x2> (A), vector<2x2> (B, C), one
//   row per register pair in that order (mlir/lib/Dialect/NVGPU, MmaSyncOp).
// [PTX-LDM]  PTX ISA, "ldmatrix": .x4 loads four 8x8 b16 matrices; lanes
//   8j..8j+7 give the row addresses of matrix j; thread t receives row t/4,
//   elements 2(t%4) and 2(t%4)+1 of each matrix (with .trans: column t/4,
//   rows 2(t%4) and 2(t%4)+1). Result register j = matrix j.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/WarpMma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace mbc::cuda {
namespace {

SmallVector<Value> concat(ValueRange prefix, ArrayRef<Value> rest) {
  SmallVector<Value> all(prefix.begin(), prefix.end());
  all.append(rest.begin(), rest.end());
  return all;
}

} // namespace

void copyTileAsync(OpBuilder &b, Location loc, Value tid, Value global,
                   ValueRange globalPrefix, Value row0, Value col0, Value tiles,
                   ValueRange tilePrefix, int64_t rows, int64_t cols,
                   Value sourceElements, SmallVectorImpl<Value> &tokens,
                   int64_t rowLimit, int64_t colLimit) {
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, loc, value);
  };
  auto tileType = cast<MemRefType>(tiles.getType());
  Type elementType = tileType.getElementType();
  int64_t chunkElements = 16 / (elementType.getIntOrFloatBitWidth() / 8);
  int64_t chunksPerRow = cols / chunkElements;
  // 64-byte rows padded to 80 bytes: in row order, the 8 copies of a
  // 128-byte shared-memory phase would cover rows r and r + 1, whose bank
  // groups overlap (2 wavefronts). Instead the 8 take two adjacent chunks
  // (one 32-byte sector of global memory) of rows r, r + 2, r + 4, r + 6:
  // bank groups 5 row + chunk mod 8, all distinct. Slot i of 32 (8 rows x
  // 4 chunks): row 8 (i / 32) + 2 ((i % 8) / 2) + (i / 8) % 2, chunk
  // 2 ((i / 16) % 2) + i % 2. (16-bit elements: the padding is 16 bytes.)
  bool interleaved = chunksPerRow == 4 &&
                     elementType.getIntOrFloatBitWidth() == 16 &&
                     tileType.getShape().back() == cols + kRowPadElements;
  for (int64_t j = 0; j < rows * chunksPerRow / kWarpMmaThreads; ++j) {
    Value chunk =
        arith::AddIOp::create(b, loc, tid, index(j * kWarpMmaThreads));
    Value row, col;
    if (interleaved) {
      auto bits = [&](int64_t divisor, int64_t modulus) {
        return arith::RemUIOp::create(
            b, loc, arith::DivUIOp::create(b, loc, chunk, index(divisor)),
            index(modulus));
      };
      row = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(
              b, loc, arith::DivUIOp::create(b, loc, chunk, index(32)),
              index(8)),
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, bits(2, 4), index(2)),
              bits(8, 2)));
      col = arith::MulIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, bits(16, 2), index(2)),
              bits(1, 2)),
          index(chunkElements));
    } else {
      row = arith::DivUIOp::create(b, loc, chunk, index(chunksPerRow));
      col = arith::MulIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, chunk, index(chunksPerRow)),
          index(chunkElements));
    }
    Value globalRow = arith::AddIOp::create(b, loc, row0, row);
    Value globalCol = arith::AddIOp::create(b, loc, col0, col);
    Value size = sourceElements;
    // Out of bounds: read nothing (source size 0) from the last row/column.
    auto limit = [&](Value &coordinate, int64_t bound, int64_t last) {
      if (bound <= 0)
        return;
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           coordinate, index(bound));
      coordinate =
          arith::SelectOp::create(b, loc, inside, coordinate, index(last));
      if (!size)
        size = index(chunkElements);
      size = arith::SelectOp::create(b, loc, inside, size, index(0));
    };
    limit(globalRow, rowLimit, rowLimit - 1);
    limit(globalCol, colLimit, colLimit - chunkElements);
    tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tiles,
        concat(tilePrefix, {row, col}), global,
        concat(globalPrefix, {globalRow, globalCol}),
        b.getIndexAttr(chunkElements), size, b.getUnitAttr()));
  }
}

WarpMma::WarpMma(OpBuilder &b, Location loc, Type elementType, Value lane)
    : b(b), loc(loc), elementType(elementType) {
  lane8 = arith::RemUIOp::create(b, loc, lane, index(8));
  lane16 = arith::RemUIOp::create(b, loc, lane, index(16));
  matrixHigh = arith::DivUIOp::create(b, loc, lane, index(16));  // j / 2
  Value matrix = arith::DivUIOp::create(b, loc, lane, index(8)); // j
  matrixOdd = arith::RemUIOp::create(b, loc, matrix, index(2));  // j % 2
  laneGroupRow = arith::DivUIOp::create(b, loc, lane, index(4));
  lanePairColumn = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, lane, index(4)), index(2));
}

Value WarpMma::index(int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

// A: lane l addresses row l % 16, column 8 (l / 16): matrices
// (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15),
// (rows 8-15, k 8-15) = registers a0a1, a2a3, a4a5, a6a7 [PTX-LDM].
Value WarpMma::loadA(Value tiles, ValueRange prefix, Value row0, Value k0) {
  Value row = arith::AddIOp::create(b, loc, row0, lane16);
  Value col = arith::AddIOp::create(
      b, loc, k0, arith::MulIOp::create(b, loc, matrixHigh, index(8)));
  return nvgpu::LdMatrixOp::create(b, loc, VectorType::get({4, 2}, elementType),
                                   tiles, concat(prefix, {row, col}),
                                   /*transpose=*/false, /*numTiles=*/4);
}

// [N][K]: matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7),
// (n 8-15, k 8-15): lane l addresses n = l % 8 + 8 (l / 16),
// k = 8 ((l / 8) % 2); thread t then holds n = t / 4, k = 2 (t % 4), which
// is b0b1 (matrices 0 and 2) and b2b3 (matrices 1 and 3) [PTX-LDM, PTX-MMA].
std::pair<Value, Value> WarpMma::loadBFromNK(Value tiles, ValueRange prefix,
                                             Value n0, Value k0) {
  Value n = arith::AddIOp::create(
      b, loc, arith::AddIOp::create(b, loc, n0, lane8),
      arith::MulIOp::create(b, loc, matrixHigh, index(8)));
  Value k = arith::AddIOp::create(
      b, loc, k0, arith::MulIOp::create(b, loc, matrixOdd, index(8)));
  Value x4 = nvgpu::LdMatrixOp::create(
      b, loc, VectorType::get({4, 2}, elementType), tiles,
      concat(prefix, {n, k}), /*transpose=*/false, /*numTiles=*/4);
  return {takeRows(x4, 0), takeRows(x4, 2)};
}

// [K][N]: the same four matrices stored k-rows x n-columns, loaded with
// .trans: lane l addresses k = l % 8 + 8 ((l / 8) % 2), n = 8 (l / 16).
std::pair<Value, Value> WarpMma::loadBFromKN(Value tiles, ValueRange prefix,
                                             Value k0, Value n0) {
  Value k =
      arith::AddIOp::create(b, loc, arith::AddIOp::create(b, loc, k0, lane8),
                            arith::MulIOp::create(b, loc, matrixOdd, index(8)));
  Value n = arith::AddIOp::create(
      b, loc, n0, arith::MulIOp::create(b, loc, matrixHigh, index(8)));
  Value x4 = nvgpu::LdMatrixOp::create(
      b, loc, VectorType::get({4, 2}, elementType), tiles,
      concat(prefix, {k, n}), /*transpose=*/true, /*numTiles=*/4);
  return {takeRows(x4, 0), takeRows(x4, 2)};
}

/// Rows [first, first + 2) of a vector<4x2xT> as a vector<2x2xT>.
Value WarpMma::takeRows(Value x4, int64_t first) {
  auto pairType = VectorType::get({2, 2}, elementType);
  Value result = arith::ConstantOp::create(
      b, loc, cast<TypedAttr>(b.getZeroAttr(pairType)));
  for (int64_t r = 0; r < 2; ++r) {
    Value row =
        vector::ExtractOp::create(b, loc, x4, ArrayRef<int64_t>{first + r});
    result =
        vector::InsertOp::create(b, loc, row, result, ArrayRef<int64_t>{r});
  }
  return result;
}

Value WarpMma::zeroAccumulator() {
  return arith::ConstantOp::create(
      b, loc,
      cast<TypedAttr>(b.getZeroAttr(VectorType::get({2, 2}, b.getF32Type()))));
}

Value WarpMma::mma(Value a, Value bFragment, Value c) {
  if (elementType.isF16())
    return nvgpu::MmaSyncOp::create(b, loc, a, bFragment, c,
                                    ArrayRef<int64_t>{16, 8, 16});
  // bf16: the nvgpu.mma.sync lowering of LLVM 22 cannot type bf16 operands
  // ("failed to deduce operand PTX types"); nvvm.mma.sync takes the same
  // fragments as packed 32-bit registers (one per register pair a0a1,
  // a2a3, ...; b0b1, b2b3) and c0..c3 as scalars [PTX-MMA].
  auto packPairs = [&](Value fragment) {
    SmallVector<Value> registers;
    int64_t rows = cast<VectorType>(fragment.getType()).getDimSize(0);
    for (int64_t r = 0; r < rows; ++r) {
      Value pair =
          vector::ExtractOp::create(b, loc, fragment, ArrayRef<int64_t>{r});
      Value packed = vector::BitCastOp::create(
          b, loc, VectorType::get({1}, b.getI32Type()), pair);
      registers.push_back(
          vector::ExtractOp::create(b, loc, packed, ArrayRef<int64_t>{0}));
    }
    return registers;
  };
  SmallVector<Value> cValues;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t e = 0; e < 2; ++e)
      cValues.push_back(
          vector::ExtractOp::create(b, loc, c, ArrayRef<int64_t>{r, e}));
  Type f32 = b.getF32Type();
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value product = NVVM::MmaOp::create(
      b, loc, resultType, packPairs(a), packPairs(bFragment), cValues,
      ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> dValues;
  for (int64_t i = 0; i < 4; ++i)
    dValues.push_back(
        LLVM::ExtractValueOp::create(b, loc, product, ArrayRef<int64_t>{i}));
  return vector::FromElementsOp::create(b, loc, c.getType(), dValues);
}

} // namespace mbc::cuda
