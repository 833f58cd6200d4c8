//===- FragmentsTest.cpp - TEST ONLY: unit tests of Fragments.h -----------===//
//
// Each test scatters random matrices into fragments or shared memory by the
// PTX ISA's per-element layout rules, written here independently and as
// plainly as possible, runs the operation and compares with a triple loop.
// The random halves have 4 significant bits and exponents in a narrow range,
// so every product and sum is exact in f32 and results compare exactly.
//
//===----------------------------------------------------------------------===//

#include "Fragments.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace ptxsim;

namespace {

/// +-[0.25, 8) with 4 significant bits.
uint16_t randomHalf(HalfType type, std::mt19937 &rng) {
  uint16_t sign = uint16_t((rng() & 1) << 15);
  if (type == HalfType::BF16)
    return sign | uint16_t((125 + rng() % 5) << 7 | (rng() & 7) << 4);
  return sign | uint16_t((13 + rng() % 5) << 10 | (rng() & 7) << 7);
}

/// A rows x cols matrix of halves, row-major, with its float values.
struct HalfMatrix {
  int rows, cols;
  std::vector<uint16_t> bits;
  std::vector<float> values;
  HalfMatrix(HalfType type, int rows, int cols, std::mt19937 &rng)
      : rows(rows), cols(cols) {
    for (int i = 0; i < rows * cols; ++i) {
      bits.push_back(randomHalf(type, rng));
      values.push_back(halfToFloat(type, bits.back()));
    }
  }
  uint16_t at(int r, int c) const { return bits[r * cols + c]; }
  float value(int r, int c) const { return values[r * cols + c]; }
};

uint32_t pack(uint16_t lo, uint16_t hi) { return lo | uint32_t(hi) << 16; }

float product(const HalfMatrix &a, const HalfMatrix &b, int m, int n) {
  float sum = 0; // b is K x N
  for (int k = 0; k < a.cols; ++k)
    sum += a.value(m, k) * b.value(k, n);
  return sum;
}

/// The 128B swizzle of a shared byte address, as the tests read the ISA:
/// 16-byte chunk index (bits 4-6) XOR bits 7-9.
uint32_t swizzle128(uint32_t address) {
  return address ^ (((address >> 7) & 7) << 4);
}

/// Device memory for TMA: `bytes` at a fake 256-byte aligned device address.
struct Global {
  static constexpr uint64_t kBase = 0x7f0000100000ull;
  std::vector<uint8_t> bytes;
  std::string read(uint64_t address, uint64_t size, void *out) const {
    if (address < kBase || address + size > kBase + bytes.size())
      return "global read out of range";
    std::memcpy(out, bytes.data() + (address - kBase), size);
    return "";
  }
  std::function<std::string(uint64_t, uint64_t, void *)> reader() const {
    return [this](uint64_t a, uint64_t s, void *o) { return read(a, s, o); };
  }
};

/// A row-major matrix in global memory as a 2-d tensor map (bf16 or f16).
struct alignas(64) Map {
  uint8_t bytes[128];
};
std::string encode2d(Map &map, const HalfMatrix &m, unsigned box0,
                     unsigned box1, int swizzle) {
  uint64_t dims[2] = {uint64_t(m.cols), uint64_t(m.rows)};
  uint64_t strides[1] = {uint64_t(m.cols) * 2};
  unsigned box[2] = {box0, box1}, ones[2] = {1, 1};
  return encodeTensorMap(map.bytes, 9, 2,
                         reinterpret_cast<void *>(Global::kBase), dims, strides,
                         box, ones, 0, swizzle, 0, 0);
}

Global globalOf(const HalfMatrix &m) {
  Global g;
  g.bytes.resize(m.bits.size() * 2);
  std::memcpy(g.bytes.data(), m.bits.data(), g.bytes.size());
  return g;
}

/// wgmma descriptor from byte values: start, LBO, SBO, swizzle mode.
uint64_t descriptor(uint32_t start, uint32_t lbo, uint32_t sbo, int mode) {
  return uint64_t(start >> 4) | uint64_t(lbo >> 4) << 16 |
         uint64_t(sbo >> 4) << 32 | uint64_t(mode) << 62;
}

/// D element (row, col) of the m64nN fragment: thread t = 32w + lane owns
/// rows 16w + lane/4 (+8 for registers 4c+2, 4c+3) and columns
/// 8c + 2 * (lane % 4) (+1 for odd registers).
float &dElement(std::vector<float> &d, int n, int row, int col) {
  int warp = row / 16, lane = (row % 8) * 4 + (col % 8) / 2;
  int reg = 4 * (col / 8) + 2 * ((row % 16) / 8) + col % 2;
  return d[(32 * warp + lane) * (n / 2) + reg];
}

} // namespace

TEST(ptxsimFragments, HalfToFloat) {
  EXPECT_EQ(halfToFloat(HalfType::F16, 0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(HalfType::F16, 0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(HalfType::F16, 0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(HalfType::F16, 0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(HalfType::F16, 0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloat(HalfType::F16, 0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(halfToFloat(HalfType::F16, 0x7c00), INFINITY);
  EXPECT_EQ(halfToFloat(HalfType::F16, 0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(halfToFloat(HalfType::F16, 0x7e00)));
  EXPECT_TRUE(std::signbit(halfToFloat(HalfType::F16, 0x8000)));
  EXPECT_EQ(halfToFloat(HalfType::BF16, 0x3f80), 1.0f);
  EXPECT_EQ(halfToFloat(HalfType::BF16, 0x4049), 3.140625f);
  EXPECT_EQ(halfToFloat(HalfType::BF16, 0x0001), std::ldexp(1.0f, -133));
  EXPECT_EQ(halfToFloat(HalfType::BF16, 0xff80), -INFINITY);
  EXPECT_TRUE(std::isnan(halfToFloat(HalfType::BF16, 0x7fc1)));
}

TEST(ptxsimFragments, MmaM16N8K16) {
  for (HalfType type : {HalfType::BF16, HalfType::F16}) {
    std::mt19937 rng(type == HalfType::BF16 ? 1 : 2);
    HalfMatrix a(type, 16, 16, rng), b(type, 16, 8, rng);
    float c[16][8];
    for (auto &row : c)
      for (float &v : row)
        v = float(int(rng() % 64) - 32);
    // Per lane: group g = lane / 4, t = lane % 4. A a0..a3: (g, 2t), (g+8,
    // 2t), (g, 2t+8), (g+8, 2t+8), each with the next column in the upper
    // half. B b0, b1: (k = 2t, n = g), (2t+8, g), next k upper. C c0..c3:
    // (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).
    uint32_t fa[32][4], fb[32][2];
    float fc[32][4];
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      for (int r = 0; r < 4; ++r) {
        int row = g + 8 * (r % 2), col = 2 * t + 8 * (r / 2);
        fa[lane][r] = pack(a.at(row, col), a.at(row, col + 1));
        fc[lane][r] = c[g + 8 * (r / 2)][2 * t + r % 2];
      }
      for (int r = 0; r < 2; ++r)
        fb[lane][r] = pack(b.at(2 * t + 8 * r, g), b.at(2 * t + 8 * r + 1, g));
    }
    mmaSyncM16N8K16(type, fa, fb, fc, fc); // d aliasing c
    for (int lane = 0; lane < 32; ++lane)
      for (int r = 0; r < 4; ++r) {
        int row = lane / 4 + 8 * (r / 2), col = 2 * (lane % 4) + r % 2;
        EXPECT_EQ(fc[lane][r], c[row][col] + product(a, b, row, col))
            << "lane " << lane << " register " << r;
      }
  }
}

TEST(ptxsimFragments, Ldmatrix) {
  std::mt19937 rng(3);
  std::vector<uint8_t> shared(4096);
  for (uint8_t &byte : shared)
    byte = uint8_t(rng());
  auto half = [&](uint32_t address) {
    return uint16_t(shared[address] | shared[address + 1] << 8);
  };
  for (int count : {1, 2, 4})
    for (bool trans : {false, true}) {
      // Rows scattered over shared memory: lane l names row l % 8 of matrix
      // l / 8 (unused lanes get an invalid address, which must not matter).
      uint32_t address[32];
      for (int lane = 0; lane < 32; ++lane)
        address[lane] = lane < 8 * count ? 16 * ((lane * 37 + 5) % 256) : 3;
      uint32_t d[32][4] = {};
      ASSERT_EQ(
          ldmatrix(count, trans, address, shared.data(), shared.size(), d), "");
      for (int j = 0; j < count; ++j)
        for (int lane = 0; lane < 32; ++lane) {
          // Matrix j element (r, c) lives at address[8j + r] + 2c; lane gets
          // (lane/4, 2(lane%4)+{0,1}) of the matrix or of its transpose.
          int r = lane / 4, c = 2 * (lane % 4);
          auto element = [&](int row, int col) {
            return trans ? half(address[8 * j + col] + 2 * row)
                         : half(address[8 * j + row] + 2 * col);
          };
          EXPECT_EQ(d[lane][j], pack(element(r, c), element(r, c + 1)))
              << "x" << count << (trans ? ".trans" : "") << " lane " << lane;
        }
    }
  uint32_t address[32] = {};
  uint32_t d[32][4];
  address[3] = 8;
  EXPECT_NE(ldmatrix(1, false, address, shared.data(), shared.size(), d)
                .find("not 16-byte aligned"),
            std::string::npos);
  address[3] = 4096;
  EXPECT_NE(ldmatrix(1, true, address, shared.data(), shared.size(), d)
                .find("outside"),
            std::string::npos);
  EXPECT_NE(ldmatrix(3, false, address, shared.data(), shared.size(), d), "");
}

// The staging of a bf16 GEMM with a 64-wide K tile: A (64 x 64, row-major)
// and B stored N x K (K-major) are loaded by TMA with 128B swizzle (inner box
// 64 elements = 128 bytes), then four k16 steps advance the descriptors'
// start address by 32 bytes within the 128-byte rows; SBO = 1024 (8 rows of
// 128 bytes), LBO unused (set to 16).
TEST(ptxsimFragments, WgmmaKMajorSwizzle128FromTma) {
  for (int n : {64, 128}) {
    std::mt19937 rng(4 + n);
    HalfMatrix a(HalfType::BF16, 64, 64, rng), bt(HalfType::BF16, n, 64, rng);
    std::vector<uint8_t> shared(1024 + 64 * 128 + n * 128);
    const uint32_t tileA = 1024, tileB = 1024 + 64 * 128;
    uint64_t bytes = 0;
    Map mapA, mapB;
    ASSERT_EQ(encode2d(mapA, a, 64, 64, 3), "");
    ASSERT_EQ(encode2d(mapB, bt, 64, n, 3), "");
    Global ga = globalOf(a), gb = globalOf(bt);
    int32_t origin[2] = {0, 0};
    ASSERT_EQ(tmaLoadTile(mapA.bytes, 2, origin, shared.data(), shared.size(),
                          tileA, ga.reader(), &bytes),
              "");
    EXPECT_EQ(bytes, 64u * 128);
    ASSERT_EQ(tmaLoadTile(mapB.bytes, 2, origin, shared.data(), shared.size(),
                          tileB, gb.reader(), &bytes),
              "");
    EXPECT_EQ(bytes, uint64_t(n) * 128);
    // The TMA tile is the row-major tile with 128B swizzle.
    for (int r = 0; r < 64; ++r)
      for (int c = 0; c < 64; ++c) {
        uint32_t address = swizzle128(tileA + r * 128 + c * 2);
        ASSERT_EQ(shared[address] | shared[address + 1] << 8, a.at(r, c));
      }

    std::vector<float> d(128 * n / 2, 1e9f); // scaleD = false ignores it
    for (int step = 0; step < 4; ++step) {
      WgmmaOperands op;
      op.n = n;
      op.descA = descriptor(tileA + 32 * step, 16, 1024, 1);
      op.descB = descriptor(tileB + 32 * step, 16, 1024, 1);
      op.scaleD = step > 0;
      ASSERT_EQ(wgmmaMmaAsync(op, shared.data(), shared.size(), d.data()), "");
    }
    for (int m = 0; m < 64; ++m)
      for (int col = 0; col < n; ++col) {
        float sum = 0;
        for (int k = 0; k < 64; ++k)
          sum += a.value(m, k) * bt.value(col, k);
        ASSERT_EQ(dElement(d, n, m, col), sum)
            << "N " << n << " D(" << m << ", " << col << ")";
      }
  }
}

// A (64 x 16 per step) from registers in the mma A fragment layout per warp,
// B (K x N row-major: N-major, transB = 1) staged by TMA as 64-column boxes
// of 64 K rows with 128B swizzle. Per the ISA's MN-major swizzled strides,
// LBO is the offset between the 64-column atoms (one box, 8 KiB) and SBO
// between groups of 8 K rows (1024); a k16 step advances by 16 rows.
TEST(ptxsimFragments, WgmmaRegisterAMnMajorB) {
  const int n = 128;
  std::mt19937 rng(5);
  HalfMatrix a(HalfType::F16, 64, 64, rng), b(HalfType::F16, 64, n, rng);
  std::vector<uint8_t> shared(2 * 8192);
  uint64_t dims[2] = {uint64_t(n), 64}, strides[1] = {uint64_t(n) * 2};
  unsigned box[2] = {64, 64}, ones[2] = {1, 1};
  Map map;
  ASSERT_EQ(encodeTensorMap(map.bytes, 6, 2,
                            reinterpret_cast<void *>(Global::kBase), dims,
                            strides, box, ones, 0, 3, 2, 0),
            "");
  Global g = globalOf(b);
  for (int half = 0; half < 2; ++half) {
    int32_t coords[2] = {64 * half, 0};
    uint64_t bytes;
    ASSERT_EQ(tmaLoadTile(map.bytes, 2, coords, shared.data(), shared.size(),
                          8192 * half, g.reader(), &bytes),
              "");
  }
  std::vector<float> d(128 * n / 2);
  std::vector<float> old(d.size());
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = old[i] = float(int(rng() % 16));
  for (int step = 0; step < 4; ++step) {
    // Thread t = 32w + lane, g = lane / 4, q = lane % 4: register r holds
    // A(16w + g + 8 (r % 2), 16 step + 2q + 8 (r / 2) + {0, 1}).
    uint32_t regs[128][4];
    for (int t = 0; t < 128; ++t)
      for (int r = 0; r < 4; ++r) {
        int row = 16 * (t / 32) + (t % 32) / 4 + 8 * (r % 2);
        int col = 16 * step + 2 * (t % 4) + 8 * (r / 2);
        regs[t][r] = pack(a.at(row, col), a.at(row, col + 1));
      }
    WgmmaOperands op;
    op.n = n;
    op.type = HalfType::F16;
    op.aFromRegisters = true;
    op.aRegisters = regs;
    op.descB = descriptor(16 * 128 * step, 8192, 1024, 1);
    op.transB = 1;
    op.scaleB = -1;
    ASSERT_EQ(wgmmaMmaAsync(op, shared.data(), shared.size(), d.data()), "");
  }
  for (int m = 0; m < 64; ++m)
    for (int col = 0; col < n; ++col)
      ASSERT_EQ(dElement(d, n, m, col),
                dElement(old, n, m, col) - product(a, b, m, col))
          << "D(" << m << ", " << col << ")";
}

// No swizzle: 8x16-byte core matrices (8 rows of 8 contiguous halves),
// placed by LBO (next core matrix along K) and SBO (next along MN). A is
// K-major (rows M), B MN-major (transB = 1: rows K, N contiguous).
TEST(ptxsimFragments, WgmmaNoSwizzleCoreMatrices) {
  const int n = 24;
  std::mt19937 rng(6);
  HalfMatrix a(HalfType::BF16, 64, 16, rng), b(HalfType::BF16, 16, n, rng);
  const uint32_t lboA = 128, sboA = 256, lboB = 1024, sboB = 128;
  const uint32_t tileB = 2048;
  std::vector<uint8_t> shared(tileB + 3 * sboB + lboB + 128);
  auto put = [&](uint32_t address, uint16_t value) {
    shared[address] = uint8_t(value);
    shared[address + 1] = uint8_t(value >> 8);
  };
  for (int m = 0; m < 64; ++m)
    for (int k = 0; k < 16; ++k) // core (m/8, k/8), row m%8, column k%8
      put((m / 8) * sboA + (k / 8) * lboA + (m % 8) * 16 + (k % 8) * 2,
          a.at(m, k));
  for (int k = 0; k < 16; ++k)
    for (int col = 0; col < n; ++col) // core (k/8, n/8), row k%8, column n%8
      put(tileB + (k / 8) * lboB + (col / 8) * sboB + (k % 8) * 16 +
              (col % 8) * 2,
          b.at(k, col));
  WgmmaOperands op;
  op.n = n;
  op.descA = descriptor(0, lboA, sboA, 0);
  op.descB = descriptor(tileB, lboB, sboB, 0);
  op.transB = 1;
  op.scaleD = false;
  std::vector<float> d(128 * n / 2);
  ASSERT_EQ(wgmmaMmaAsync(op, shared.data(), shared.size(), d.data()), "");
  for (int m = 0; m < 64; ++m)
    for (int col = 0; col < n; ++col)
      ASSERT_EQ(dElement(d, n, m, col), product(a, b, m, col));
}

TEST(ptxsimFragments, WgmmaErrors) {
  std::vector<uint8_t> shared(8192 + 1024); // A fits, B does not
  std::vector<float> d(128 * 32);
  WgmmaOperands op;
  op.n = 64;
  op.descA = descriptor(0, 16, 1024, 1);
  op.descB = descriptor(2048, 16, 1024, 1); // rows up to 2048 + 7 * 1024
  std::string error = wgmmaMmaAsync(op, shared.data(), shared.size(), d.data());
  EXPECT_NE(error.find("operand B"), std::string::npos) << error;
  EXPECT_NE(error.find("outside"), std::string::npos) << error;
  op.descB = descriptor(0, 16, 1024, 1) | 1ull << 46;
  EXPECT_NE(wgmmaMmaAsync(op, shared.data(), shared.size(), d.data())
                .find("outside its fields"),
            std::string::npos);
  op.n = 12;
  EXPECT_NE(wgmmaMmaAsync(op, shared.data(), shared.size(), d.data()), "");
}

// A 3-d f32 tensor with padded rows; the box reaches past every boundary.
TEST(ptxsimFragments, TmaOutOfBoundsAnd3d) {
  const uint64_t dims[3] = {20, 7, 3}, strides[2] = {96, 96 * 7};
  Global g;
  g.bytes.resize(96 * 7 * 3);
  auto value = [](int64_t x, int64_t y, int64_t z) {
    return float(x + 100 * y + 10000 * z + 1);
  };
  for (int z = 0; z < 3; ++z)
    for (int y = 0; y < 7; ++y)
      for (int x = 0; x < 20; ++x) {
        float v = value(x, y, z);
        std::memcpy(&g.bytes[z * strides[1] + y * strides[0] + x * 4], &v, 4);
      }
  unsigned box[3] = {8, 4, 2}, ones[3] = {1, 1, 1};
  Map map;
  ASSERT_EQ(encodeTensorMap(map.bytes, 7, 3,
                            reinterpret_cast<void *>(Global::kBase), dims,
                            strides, box, ones, 0, 0, 0, 0),
            "");
  std::vector<uint8_t> shared(512);
  for (auto origin :
       {std::vector<int32_t>{-3, 5, 2}, std::vector<int32_t>{16, -2, -1}}) {
    std::fill(shared.begin(), shared.end(), 0xcd);
    uint64_t bytes = 0;
    ASSERT_EQ(tmaLoadTile(map.bytes, 3, origin.data(), shared.data(),
                          shared.size(), 128, g.reader(), &bytes),
              "");
    EXPECT_EQ(bytes, 8u * 4 * 2 * 4);
    for (int z = 0; z < 2; ++z)
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 8; ++x) {
          int64_t gx = origin[0] + x, gy = origin[1] + y, gz = origin[2] + z;
          bool inside =
              gx >= 0 && gx < 20 && gy >= 0 && gy < 7 && gz >= 0 && gz < 3;
          float got;
          std::memcpy(&got, &shared[128 + ((z * 4 + y) * 8 + x) * 4], 4);
          EXPECT_EQ(got, inside ? value(gx, gy, gz) : 0.0f)
              << "box (" << x << ", " << y << ", " << z << ")";
        }
    EXPECT_EQ(shared[127], 0xcd);
    EXPECT_EQ(shared[128 + 256], 0xcd);
  }
}

TEST(ptxsimFragments, TmaErrors) {
  std::mt19937 rng(7);
  HalfMatrix m(HalfType::BF16, 16, 64, rng);
  uint64_t dims[2] = {64, 16}, strides[1] = {128};
  unsigned box[2] = {64, 16}, ones[2] = {1, 1};
  Map map;
  auto encode = [&](uint64_t base, int swizzle) {
    return encodeTensorMap(map.bytes, 9, 2, reinterpret_cast<void *>(base),
                           dims, strides, box, ones, 0, swizzle, 0, 0);
  };
  EXPECT_NE(encode(Global::kBase + 8, 3).find("globalAddress"),
            std::string::npos);
  box[0] = 257;
  EXPECT_NE(encode(Global::kBase, 0).find("boxDim[0]"), std::string::npos);
  box[0] = 128; // 256 bytes: fine unswizzled, over the 128B span
  EXPECT_EQ(encode(Global::kBase, 0), "");
  EXPECT_NE(encode(Global::kBase, 3).find("swizzle span"), std::string::npos);
  box[0] = 4; // 8 bytes
  EXPECT_NE(encode(Global::kBase, 0).find("multiple of 16"), std::string::npos);
  box[0] = 64;
  strides[0] = 136;
  EXPECT_NE(encode(Global::kBase, 3).find("globalStrides[0]"),
            std::string::npos);
  strides[0] = 128;
  ASSERT_EQ(encode(Global::kBase, 3), "");

  Global g = globalOf(m);
  std::vector<uint8_t> shared(4096);
  uint64_t bytes;
  int32_t origin[2] = {0, 0};
  EXPECT_NE(tmaLoadTile(map.bytes, 2, origin, shared.data(), shared.size(),
                        2048 + 1024, g.reader(), &bytes)
                .find("outside"),
            std::string::npos);
  EXPECT_NE(tmaLoadTile(map.bytes, 2, origin, shared.data(), shared.size(), 64,
                        g.reader(), &bytes)
                .find("128-byte aligned"),
            std::string::npos);
  EXPECT_NE(tmaLoadTile(map.bytes, 3, origin, shared.data(), shared.size(), 0,
                        g.reader(), &bytes),
            "");
  Global small;
  small.bytes.resize(1024); // the tensor claims 2048 bytes
  EXPECT_NE(tmaLoadTile(map.bytes, 2, origin, shared.data(), shared.size(), 0,
                        small.reader(), &bytes)
                .find("global read out of range"),
            std::string::npos);
}
