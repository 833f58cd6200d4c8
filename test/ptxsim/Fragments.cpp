//===- Fragments.cpp - TEST ONLY: the collective PTX operations -----------===//
//
// Written from NVIDIA's "Parallel Thread Execution ISA" 8.x (the sections are
// named at each function) and the CUDA driver API documentation of
// cuTensorMapEncodeTiled. Memory is little-endian: a .b32 register's lower 16
// bits hold the lower-index element of a pair, as in shared memory.
//
//===----------------------------------------------------------------------===//

#include "Fragments.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <vector>

namespace ptxsim {
namespace {

template <typename... Args> std::string message(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

std::string hex(uint64_t value) { return message("0x", std::hex, value); }

uint16_t load16(const uint8_t *shared, uint64_t address) {
  return uint16_t(shared[address] | shared[address + 1] << 8);
}

float halfOf(HalfType type, uint32_t reg, int which) {
  return halfToFloat(type, uint16_t(which ? reg >> 16 : reg & 0xffff));
}

struct Coord {
  int row, col;
};

// Fragments of mma.m16n8k16 with .f16/.bf16 multiplicands and .f32
// accumulators (PTX ISA "Matrix Fragments for mma.m16n8k16 with floating
// point type"); group = laneid >> 2, inGroup = laneid % 4.

/// A (16x16): half i (0..7) of the four registers a0..a3, register i / 2.
Coord aFragment(int lane, int i) {
  return {(lane >> 2) + 8 * ((i >> 1) & 1),
          2 * (lane & 3) + (i & 1) + 8 * (i >> 2)};
}

/// B (16x8, row = k): half i (0..3) of the two registers b0, b1.
Coord bFragment(int lane, int i) {
  return {2 * (lane & 3) + (i & 1) + 8 * (i >> 1), lane >> 2};
}

/// C/D (16x8): f32 element i (0..3). The wgmma D fragment repeats this per
/// 8 columns and per warp.
Coord cFragment(int lane, int i) {
  return {(lane >> 2) + 8 * (i >> 1), 2 * (lane & 3) + (i & 1)};
}

/// The swizzle of the 32B/64B/128B modes, on shared state-space addresses,
/// common to TMA and wgmma: the 16-byte chunk index within the
/// swizzleBytes-wide row (address bits [4, 4 + b), b = log2(swizzleBytes /
/// 16)) is XORed with address bits [7, 7 + b), so the pattern repeats every
/// 1024 / 512 / 256 bytes. `phase` is wgmma's matrix base offset: the pattern
/// then starts where address bits [7, 10) equal it instead of at the
/// 1024/512/256-byte boundary.
uint64_t swizzle(uint64_t address, unsigned swizzleBytes, unsigned phase = 0) {
  if (!swizzleBytes)
    return address;
  uint64_t mask = swizzleBytes / 16 - 1;
  return address ^ ((((address >> 7) - phase) & mask) << 4);
}

//===----------------------------------------------------------------------===//
// wgmma shared-memory operands
//===----------------------------------------------------------------------===//

/// The 64-bit matrix descriptor (PTX ISA "Matrix Descriptor Format"): bits
/// 0-13 start address, 16-29 leading dimension byte offset, 32-45 stride
/// dimension byte offset (each encoded as (x & 0x3FFFF) >> 4), 49-51 matrix
/// base offset, 62-63 swizzle mode (0 none, 1 128B, 2 64B, 3 32B).
struct MatrixDescriptor {
  uint64_t start, leading, stride;
  unsigned baseOffset, swizzleBytes;
};

std::string decodeDescriptor(const char *name, uint64_t bits,
                             MatrixDescriptor &desc) {
  // The other bits are unused by the ISA; one set here means the descriptor
  // was built from a misread field layout.
  constexpr uint64_t kFields =
      0x3fffull | 0x3fffull << 16 | 0x3fffull << 32 | 7ull << 49 | 3ull << 62;
  if (bits & ~kFields)
    return message("wgmma: descriptor ", name, " ", hex(bits),
                   " sets bits outside its fields: ", hex(bits & ~kFields));
  static const unsigned kSwizzleBytes[4] = {0, 128, 64, 32};
  desc = {(bits & 0x3fff) << 4, (bits >> 16 & 0x3fff) << 4,
          (bits >> 32 & 0x3fff) << 4, unsigned(bits >> 49 & 7),
          kSwizzleBytes[bits >> 62]};
  // "Valid for all swizzling modes except the no-swizzle mode."
  if (!desc.swizzleBytes && desc.baseOffset)
    return message("wgmma: descriptor ", name, " ", hex(bits),
                   " has base offset ", desc.baseOffset, " without swizzle");
  return "";
}

/// Byte address (before swizzling) of element (mn, k) of a K = 16 operand in
/// the canonical layouts (PTX ISA "Shared Memory Matrix Layout", "Strides").
/// Counted in 16-byte units (8 halves), a swizzle atom is 8 rows of
/// swizzleBytes / 16 units along the leading (contiguous) dimension; with no
/// swizzle it is the 8x16-byte core matrix.
///
/// K-major (transX = 0), rows are MN, K contiguous:
///  * no swizzle: core matrices of 8 MN rows x 16 bytes; LBO is the offset
///    between core matrices adjacent in K, SBO between those adjacent in MN.
///  * swizzled: rows of swizzleBytes; the instruction's 32 bytes of K lie in
///    one row, so LBO is unused ("assumed 1"); SBO is the offset between
///    8-row groups (1024 for a dense 128B-swizzled tile).
/// MN-major (transX = 1), rows are K, MN contiguous:
///  * no swizzle: core matrices of 8 K rows x 16 bytes (8 MN elements); LBO
///    is the offset between core matrices adjacent in K, SBO between those
///    adjacent in MN.
///  * swizzled: the roles swap: LBO is the offset between swizzle atoms
///    adjacent in MN (each swizzleBytes / 2 elements wide), SBO between
///    groups of 8 K rows.
/// The MN-major reading follows the ISA's stride tables ("MN-major,
/// swizzled: stride from the first (swizzle-byte-size/16) rows to the
/// next") and agrees with CUTLASS's GmmaDescriptor comments.
uint64_t operandAddress(const MatrixDescriptor &desc, bool mnMajor, int mn,
                        int k) {
  unsigned width = desc.swizzleBytes;
  if (!width)
    return desc.start + (mnMajor ? (mn / 8) * desc.stride + (mn % 8) * 2 +
                                       (k / 8) * desc.leading + (k % 8) * 16
                                 : (mn / 8) * desc.stride + (mn % 8) * 16 +
                                       (k / 8) * desc.leading + (k % 8) * 2);
  if (!mnMajor)
    return desc.start + (mn / 8) * desc.stride + (mn % 8) * width + k * 2;
  int atom = width / 2;
  return desc.start + (mn / atom) * desc.leading + (mn % atom) * 2 +
         (k / 8) * desc.stride + (k % 8) * width;
}

/// Reads an operand of extent mnSize x 16 into values[mn * 16 + k].
std::string loadOperand(const char *name, uint64_t bits, bool mnMajor,
                        int mnSize, HalfType type, const uint8_t *shared,
                        uint64_t sharedSize, std::vector<float> &values,
                        std::vector<uint32_t> *read) {
  MatrixDescriptor desc{};
  if (std::string error = decodeDescriptor(name, bits, desc); !error.empty())
    return error;
  values.resize(mnSize * 16);
  for (int mn = 0; mn < mnSize; ++mn)
    for (int k = 0; k < 16; ++k) {
      uint64_t address = swizzle(operandAddress(desc, mnMajor, mn, k),
                                 desc.swizzleBytes, desc.baseOffset);
      if (address + 2 > sharedSize)
        return message("wgmma: operand ", name, " element (", mn, ", ", k,
                       ") at shared address ", hex(address), " (descriptor ",
                       hex(bits), ") is outside the ", sharedSize,
                       "-byte shared window");
      values[mn * 16 + k] = halfToFloat(type, load16(shared, address));
      if (read)
        read->push_back(uint32_t(address));
    }
  return "";
}

//===----------------------------------------------------------------------===//
// Tensor maps
//===----------------------------------------------------------------------===//

/// cuTensorMapEncodeTiled's arguments. In the 128 bytes: words 0-3 as the
/// header fixes, words 4-7 globalDim[1..4], words 8-11 globalStrides[0..3],
/// bytes 96-100 boxDim - 1, 101-105 elementStrides - 1, then interleave,
/// swizzle, L2 promotion and OOB fill in bytes 106-109.
struct TensorMap {
  uint64_t base = 0, rank = 0, dim[5] = {}, dataType = 0;
  uint64_t stride[4] = {}; // bytes, for dimensions 1..rank-1
  unsigned box[5] = {}, elementStride[5] = {};
  int interleave = 0, swizzle = 0, l2Promotion = 0, oobFill = 0;
};

void storeMap(const TensorMap &map, void *map128) {
  uint64_t words[16] = {map.base, map.rank, map.dim[0], map.dataType};
  std::copy(map.dim + 1, map.dim + 5, words + 4);
  std::copy(map.stride, map.stride + 4, words + 8);
  uint8_t *bytes = reinterpret_cast<uint8_t *>(words);
  for (int i = 0; i < 5; ++i) {
    bytes[96 + i] = uint8_t(map.box[i] - 1);
    bytes[101 + i] = uint8_t(map.elementStride[i] - 1);
  }
  bytes[106] = uint8_t(map.interleave);
  bytes[107] = uint8_t(map.swizzle);
  bytes[108] = uint8_t(map.l2Promotion);
  bytes[109] = uint8_t(map.oobFill);
  std::memcpy(map128, words, 128);
}

TensorMap loadMap(const void *map128) {
  uint64_t words[16];
  std::memcpy(words, map128, 128);
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(words);
  TensorMap map;
  map.base = words[0];
  map.rank = words[1];
  map.dim[0] = words[2];
  map.dataType = words[3];
  std::copy(words + 4, words + 8, map.dim + 1);
  std::copy(words + 8, words + 12, map.stride);
  for (int i = 0; i < 5; ++i) {
    map.box[i] = bytes[96 + i] + 1u;
    map.elementStride[i] = bytes[101 + i] + 1u;
  }
  map.interleave = bytes[106];
  map.swizzle = bytes[107];
  map.l2Promotion = bytes[108];
  map.oobFill = bytes[109];
  return map;
}

/// Bytes per element of CU_TENSOR_MAP_DATA_TYPE_UINT8 (0) .. TFLOAT32_FTZ
/// (12); 0 for the packed sub-byte types and unknown values.
unsigned elementSize(uint64_t dataType) {
  static const unsigned kSizes[13] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};
  return dataType < 13 ? kSizes[dataType] : 0;
}

bool isFloat(uint64_t dataType) { return dataType >= 6; }

const unsigned kSwizzleSpan[4] = {0, 32, 64, 128}; // by CUtensorMapSwizzle

} // namespace

float halfToFloat(HalfType type, uint16_t bits) {
  uint32_t word;
  if (type == HalfType::BF16) {
    word = uint32_t(bits) << 16; // bf16 is the upper half of an f32
  } else {
    uint32_t sign = uint32_t(bits >> 15) << 31, exponent = bits >> 10 & 0x1f,
             mantissa = bits & 0x3ff;
    if (exponent == 0x1f) { // inf / nan, payload kept
      word = sign | 0x7f800000 | mantissa << 13;
    } else if (exponent) { // normal: rebias 15 -> 127
      word = sign | (exponent + 112) << 23 | mantissa << 13;
    } else if (mantissa) { // subnormal: mantissa * 2^-24, normal in f32
      int shift = 0;
      while (!(mantissa & 0x400)) {
        mantissa <<= 1;
        ++shift;
      }
      word = sign | uint32_t(113 - shift) << 23 | (mantissa & 0x3ff) << 13;
    } else {
      word = sign;
    }
  }
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

void mmaSyncM16N8K16(HalfType type, const uint32_t a[32][4],
                     const uint32_t b[32][2], const float c[32][4],
                     float d[32][4]) {
  float matA[16][16], matB[16][8], matC[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 8; ++i) {
      Coord at = aFragment(lane, i);
      matA[at.row][at.col] = halfOf(type, a[lane][i / 2], i % 2);
    }
    for (int i = 0; i < 4; ++i) {
      Coord at = bFragment(lane, i);
      matB[at.row][at.col] = halfOf(type, b[lane][i / 2], i % 2);
      at = cFragment(lane, i);
      matC[at.row][at.col] = c[lane][i];
    }
  }
  // All of C is read above, so d may alias c.
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      Coord at = cFragment(lane, i);
      float sum = matC[at.row][at.col];
      for (int k = 0; k < 16; ++k)
        sum += matA[at.row][k] * matB[k][at.col];
      d[lane][i] = sum;
    }
}

// PTX ISA "Warp-level matrix load instruction: ldmatrix": the rows of matrix
// j come from lanes 8j..8j+7; each lane receives in register j the pair
// (row laneid / 4, columns 2 * (laneid % 4) + {0, 1}) of matrix j, or of its
// transpose with .trans.
std::string ldmatrix(int count, bool trans, const uint32_t address[32],
                     const uint8_t *shared, uint64_t sharedSize,
                     uint32_t d[32][4]) {
  if (count != 1 && count != 2 && count != 4)
    return message("ldmatrix: .num must be x1, x2 or x4, not x", count);
  for (int j = 0; j < count; ++j) {
    uint16_t rows[8][8];
    for (int r = 0; r < 8; ++r) {
      uint64_t row = address[8 * j + r];
      if (row % 16)
        return message("ldmatrix: row address ", hex(row), " of lane ",
                       8 * j + r, " is not 16-byte aligned");
      if (row + 16 > sharedSize)
        return message("ldmatrix: row address ", hex(row), " of lane ",
                       8 * j + r, " is outside the ", sharedSize,
                       "-byte shared window");
      for (int col = 0; col < 8; ++col)
        rows[r][col] = load16(shared, row + 2 * col);
    }
    for (int lane = 0; lane < 32; ++lane) {
      int r = lane / 4, col = 2 * (lane % 4);
      uint32_t lo = trans ? rows[col][r] : rows[r][col];
      uint32_t hi = trans ? rows[col + 1][r] : rows[r][col + 1];
      d[lane][j] = lo | hi << 16;
    }
  }
  return "";
}

// PTX ISA "Asynchronous Warpgroup Level Matrix Multiply-Accumulate"; the
// register fragments of A and D for .m64nNk16 are those of mma.m16n8k16
// with warp w of the warpgroup owning rows 16w..16w+15, and D repeating the
// 16x8 accumulator fragment for each 8 columns (registers 4c..4c+3 for
// columns 8c..8c+7).
std::string wgmmaMmaAsync(const WgmmaOperands &op, const uint8_t *shared,
                          uint64_t sharedSize, float *d) {
  if (op.n < 8 || op.n > 256 || op.n % 8)
    return message("wgmma: N = ", op.n, " is not a multiple of 8 in 8..256");
  if ((op.scaleA != 1 && op.scaleA != -1) ||
      (op.scaleB != 1 && op.scaleB != -1))
    return message("wgmma: imm-scale-a/b must be 1 or -1, not ", op.scaleA, "/",
                   op.scaleB);
  if ((op.transA != 0 && op.transA != 1) || (op.transB != 0 && op.transB != 1))
    return message("wgmma: imm-trans-a/b must be 0 or 1, not ", op.transA, "/",
                   op.transB);
  if (op.aFromRegisters && (op.transA || !op.aRegisters))
    return "wgmma: A from registers takes no imm-trans-a and needs registers";

  std::vector<float> a(64 * 16), b;
  if (op.aFromRegisters) {
    for (int t = 0; t < 128; ++t)
      for (int i = 0; i < 8; ++i) {
        Coord at = aFragment(t % 32, i);
        a[(16 * (t / 32) + at.row) * 16 + at.col] =
            halfOf(op.type, op.aRegisters[t][i / 2], i % 2);
      }
  } else if (std::string error =
                 loadOperand("A", op.descA, op.transA, 64, op.type, shared,
                             sharedSize, a, op.sharedRead);
             !error.empty()) {
    return error;
  }
  if (std::string error = loadOperand("B", op.descB, op.transB, op.n, op.type,
                                      shared, sharedSize, b, op.sharedRead);
      !error.empty())
    return error;

  float scale = float(op.scaleA * op.scaleB);
  int perThread = op.n / 2;
  for (int t = 0; t < 128; ++t)
    for (int i = 0; i < perThread; ++i) {
      Coord at = cFragment(t % 32, i % 4);
      int row = 16 * (t / 32) + at.row, col = 8 * (i / 4) + at.col;
      float sum = 0;
      for (int k = 0; k < 16; ++k)
        sum += a[row * 16 + k] * b[col * 16 + k];
      float &acc = d[t * perThread + i];
      acc = scale * sum + (op.scaleD ? acc : 0.0f);
    }
  return "";
}

// Requirements from the cuTensorMapEncodeTiled documentation.
std::string encodeTensorMap(void *map128, int dataType, unsigned rank,
                            void *globalAddress, const uint64_t *globalDim,
                            const uint64_t *globalStrides,
                            const unsigned *boxDim,
                            const unsigned *elementStrides, int interleave,
                            int swizzle, int l2Promotion, int oobFill) {
  const char *fn = "cuTensorMapEncodeTiled: ";
  TensorMap map;
  map.base = reinterpret_cast<uint64_t>(globalAddress);
  map.rank = rank;
  map.dataType = uint64_t(dataType);
  map.interleave = interleave;
  map.swizzle = swizzle;
  map.l2Promotion = l2Promotion;
  map.oobFill = oobFill;
  unsigned size = elementSize(map.dataType);
  if (reinterpret_cast<uintptr_t>(map128) % 64)
    return message(fn, "tensorMap ", map128, " is not 64-byte aligned");
  if (!size)
    return message(fn, "unsupported tensorDataType ", dataType);
  if (interleave < 0 || interleave > 2 || swizzle < 0 || swizzle > 3 ||
      l2Promotion < 0 || l2Promotion > 3 || oobFill < 0 || oobFill > 1)
    return message(fn, "invalid interleave/swizzle/l2Promotion/oobFill ",
                   interleave, "/", swizzle, "/", l2Promotion, "/", oobFill);
  if (rank < 1 || rank > 5 || (interleave && rank < 3))
    return message(fn, "tensorRank ", rank, " is not in ",
                   interleave ? "3..5 (interleaved)" : "1..5");
  uint64_t alignment = interleave == 2 ? 32 : 16;
  if (map.base % alignment)
    return message(fn, "globalAddress ", hex(map.base), " is not ", alignment,
                   "-byte aligned");
  if (oobFill && !isFloat(map.dataType))
    return message(fn, "NaN OOB fill needs a floating-point type, not ",
                   dataType);
  for (unsigned i = 0; i < rank; ++i) {
    if (globalDim[i] == 0 || globalDim[i] > (1ull << 32))
      return message(fn, "globalDim[", i, "] = ", globalDim[i],
                     " is not in 1..2^32");
    if (boxDim[i] == 0 || boxDim[i] > 256)
      return message(fn, "boxDim[", i, "] = ", boxDim[i], " is not in 1..256");
    if (elementStrides[i] == 0 || elementStrides[i] > 8)
      return message(fn, "elementStrides[", i, "] = ", elementStrides[i],
                     " is not in 1..8");
    map.dim[i] = globalDim[i];
    map.box[i] = boxDim[i];
    map.elementStride[i] = elementStrides[i];
    if (i + 1 < rank) {
      if (globalStrides[i] % alignment || globalStrides[i] >= (1ull << 40))
        return message(fn, "globalStrides[", i, "] = ", globalStrides[i],
                       " is not a multiple of ", alignment, " below 2^40");
      map.stride[i] = globalStrides[i];
    }
  }
  uint64_t innerBytes = uint64_t(boxDim[0]) * size;
  if (!interleave && innerBytes % 16)
    return message(fn, "inner box of ", innerBytes,
                   " bytes is not a multiple of 16");
  if (!interleave && swizzle && innerBytes > kSwizzleSpan[swizzle])
    return message(fn, "inner box of ", innerBytes,
                   " bytes exceeds the swizzle span of ", kSwizzleSpan[swizzle],
                   " bytes");
  storeMap(map, map128);
  return "";
}

// PTX ISA "cp.async.bulk.tensor" (tile mode) and "Tensor copy / swizzling
// modes". The box lands densely in shared memory, dimension 0 fastest;
// swizzling permutes the 16-byte chunks of each 128-byte line by the shared
// address bits, the same pattern wgmma's descriptors read (an inner box
// narrower than the span is swizzled the same way, not padded). Elements
// outside the tensor are zero, or NaN (all bits but the sign set) with
// CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA; they count towards the
// transaction bytes like the others.
uint64_t tensorMapBoxBytes(const void *map128) {
  TensorMap map = loadMap(map128);
  unsigned size = elementSize(map.dataType);
  if (map.rank < 1 || map.rank > 5 || !size)
    return 0;
  uint64_t bytes = size;
  for (unsigned i = 0; i < map.rank; ++i)
    bytes *= map.box[i];
  return bytes;
}

std::string tmaLoadTile(
    const void *map128, int rank, const int32_t *coords, uint8_t *shared,
    uint64_t sharedSize, uint32_t sharedOffset,
    const std::function<std::string(uint64_t, uint64_t, void *)> &readGlobal,
    uint64_t *bytes) {
  TensorMap map = loadMap(map128);
  unsigned size = elementSize(map.dataType);
  if (map.rank < 1 || map.rank > 5 || !size || map.swizzle > 3)
    return message("cp.async.bulk.tensor: the tensor map is not encoded (rank ",
                   map.rank, ", data type ", map.dataType, ")");
  if (uint64_t(rank) != map.rank)
    return message("cp.async.bulk.tensor.", rank, "d: tensor map of rank ",
                   map.rank);
  if (map.interleave)
    return "cp.async.bulk.tensor: interleaved tensor maps are not supported by "
           "ptxsim";
  for (unsigned i = 0; i < map.rank; ++i)
    if (map.elementStride[i] != 1)
      return message("cp.async.bulk.tensor: elementStrides[", i,
                     "] = ", map.elementStride[i],
                     " is not supported by ptxsim");
  // The destination of a tensor copy must be 128-byte aligned.
  if (sharedOffset % 128)
    return message("cp.async.bulk.tensor: shared address ", hex(sharedOffset),
                   " is not 128-byte aligned");
  uint64_t rowBytes = uint64_t(map.box[0]) * size, rows = 1;
  for (unsigned i = 1; i < map.rank; ++i)
    rows *= map.box[i];
  if (sharedOffset + rows * rowBytes > sharedSize)
    return message("cp.async.bulk.tensor: box of ", rows * rowBytes,
                   " bytes at shared address ", hex(sharedOffset),
                   " is outside the ", sharedSize, "-byte shared window");

  unsigned span = kSwizzleSpan[map.swizzle];
  std::vector<uint8_t> row(rowBytes);
  int64_t first = coords[0], last = first + map.box[0]; // dimension 0 range
  int64_t lo = std::max<int64_t>(first, 0),
          hi = std::min<int64_t>(last, int64_t(map.dim[0]));
  for (uint64_t r = 0; r < rows; ++r) {
    // Row r's coordinates in dimensions 1.. (box order, dimension 1 fastest).
    bool inside = lo < hi;
    uint64_t address = map.base + lo * size;
    for (uint64_t i = 1, rest = r; i < map.rank; rest /= map.box[i], ++i) {
      int64_t c = int64_t(coords[i]) + int64_t(rest % map.box[i]);
      inside = inside && c >= 0 && uint64_t(c) < map.dim[i];
      if (inside)
        address += uint64_t(c) * map.stride[i - 1];
    }
    for (uint64_t e = 0; e < rowBytes; ++e) // OOB fill pattern per element
      row[e] = !map.oobFill ? 0 : e % size == size - 1 ? 0x7f : 0xff;
    if (inside)
      if (std::string error = readGlobal(address, (hi - lo) * size,
                                         row.data() + (lo - first) * size);
          !error.empty())
        return message("cp.async.bulk.tensor: ", error);
    for (uint64_t chunk = 0; chunk < rowBytes; chunk += 16) {
      uint64_t dst = swizzle(sharedOffset + r * rowBytes + chunk, span);
      if (dst + 16 > sharedSize)
        return message("cp.async.bulk.tensor: swizzled shared address ",
                       hex(dst), " is outside the ", sharedSize,
                       "-byte shared window");
      std::memcpy(shared + dst, row.data() + chunk, 16);
    }
  }
  *bytes = rows * rowBytes;
  return "";
}

} // namespace ptxsim
