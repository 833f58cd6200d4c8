//===- Fragments.h - TEST ONLY: the collective PTX operations ---*- C++ -*-===//
//
// Part of ptxsim, the PTX interpreter the tests run mbc's generated kernels on
// (no GPU here). These are the warp- and warpgroup-wide operations whose
// meaning lives in the PTX ISA's fragment layouts, written from the ISA
// document, not from mbc's kernel builders, so that a misread layout in one
// does not hide the same misreading in the other.
//
// Shared memory is one CTA's window: byte offsets 0..sharedSize-1 (shared
// state-space addresses). Every function returns "" on success, else an error
// that names the operation and the offending address or field.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_TEST_PTXSIM_FRAGMENTS_H
#define MBC_TEST_PTXSIM_FRAGMENTS_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ptxsim {

/// Element types of the 16-bit MMA operands.
enum class HalfType { BF16, F16 };

float halfToFloat(HalfType type, uint16_t bits);

/// mma.sync.aligned.m16n8k16.row.col.f32.{bf16|f16}.{bf16|f16}.f32 for one
/// warp: a[lane] the four .b32 A registers, b[lane] the two B registers,
/// c[lane]/d[lane] the four f32 accumulators (d may alias c).
void mmaSyncM16N8K16(HalfType type, const uint32_t a[32][4],
                     const uint32_t b[32][2], const float c[32][4],
                     float d[32][4]);

/// ldmatrix.sync.aligned.m8n8.{x1|x2|x4}{.trans}.shared.b16 for one warp:
/// address[lane] the row address each lane supplies (shared offsets),
/// d[lane][0..count-1] the registers each lane receives.
std::string ldmatrix(int count, bool trans, const uint32_t address[32],
                     const uint8_t *shared, uint64_t sharedSize,
                     uint32_t d[32][4]);

/// wgmma.mma_async.sync.aligned.m64nNk16.f32.{bf16|f16}.{bf16|f16} for one
/// warpgroup (128 threads, thread t = 32 * warp + lane).
struct WgmmaOperands {
  int n = 0; // N: a multiple of 8, 8..256
  HalfType type = HalfType::BF16;
  /// A from registers ({a0..a3} per thread) instead of a descriptor.
  bool aFromRegisters = false;
  const uint32_t (*aRegisters)[4] = nullptr; // [128][4] when aFromRegisters
  uint64_t descA = 0, descB = 0; // shared-memory matrix descriptors
  bool scaleD = true;            // false: D = A*B, true: D = A*B + D
  int scaleA = 1, scaleB = 1;    // imm-scale-a/b: 1 or -1
  int transA = 0, transB = 0;    // imm-trans-a/b: 0 (K-major) or 1
  /// When set, receives the shared offset of every 2-byte element read.
  std::vector<uint32_t> *sharedRead = nullptr;
};
/// d: [128][n/2] f32 accumulators, thread-major, in the register order of
/// the instruction's D vector.
std::string wgmmaMmaAsync(const WgmmaOperands &operands, const uint8_t *shared,
                          uint64_t sharedSize, float *d);

/// cuTensorMapEncodeTiled's arguments kept in a CUtensorMap's 128 bytes.
/// Layout (uint64_t words): [0] base address, [1] rank, [2] globalDim[0],
/// [3] data type (CU_TENSOR_MAP_DATA_TYPE_*); the rest is this file's own.
/// Returns "" or what the driver would reject (alignment, rank, box, ...).
std::string encodeTensorMap(void *map128, int dataType, unsigned rank,
                            void *globalAddress, const uint64_t *globalDim,
                            const uint64_t *globalStrides, // rank-1, bytes
                            const unsigned *boxDim,
                            const unsigned *elementStrides, int interleave,
                            int swizzle, int l2Promotion, int oobFill);

/// The bytes of one box of an encoded map (0 when `map128` is not one).
uint64_t tensorMapBoxBytes(const void *map128);

/// cp.async.bulk.tensor.Nd.shared::cluster.global.tile: copies the box at
/// `coords` (innermost first, may be negative or past the end: such elements
/// are zero) into shared memory at `sharedOffset`, applying the map's
/// swizzle. `readGlobal(address, bytes, out)` reads device memory and returns
/// "" or an error. *bytes gets the transaction byte count the mbarrier's
/// complete_tx receives.
std::string tmaLoadTile(
    const void *map128, int rank, const int32_t *coords, uint8_t *shared,
    uint64_t sharedSize, uint32_t sharedOffset,
    const std::function<std::string(uint64_t, uint64_t, void *)> &readGlobal,
    uint64_t *bytes);

} // namespace ptxsim

#endif // MBC_TEST_PTXSIM_FRAGMENTS_H
