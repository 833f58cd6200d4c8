//===- CudaMetadata.h - META.cuda, parsed and validated ---------*- C++ -*-===//
//
// docs/cuda.md: the images in CUDA_CODE, the kernels and, per entry point, a
// plan of launch/copy/fill steps. Everything is checked here, before any
// driver call, so a malformed artifact fails the same way with or without
// a GPU, with a message naming the JSON key path.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_CUDA_CUDAMETADATA_H
#define MBRT_CUDA_CUDAMETADATA_H

#include "ModelMetadata.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mbrt {

/// An `sm_XY` architecture; `archSpecific` for the `a` suffix (sm_90a),
/// whose code runs only on exactly that architecture.
struct CudaArch {
  int capability = 0; // 10 * major + minor: sm_90a -> 90, sm_120 -> 120
  bool archSpecific = false;

  std::string name() const;
};

/// Parses "sm_90", "sm_90a", "sm_120"; false for anything else.
bool parseCudaArch(const std::string &text, CudaArch &arch);

struct CudaImage {
  CudaArch arch;
  bool cubin = false;  // else PTX text
  uint64_t offset = 0; // into CUDA_CODE
  uint64_t size = 0;
};

/// Picks the image to load on a device of `device` (docs/cuda.md): the
/// cubin of exactly the device's architecture (an `a` cubin counts as its
/// base architecture), else the PTX of the newest architecture not above
/// the device's (`a` PTX only on its exact architecture). Returns the
/// index, or -1 with `problem` naming the device's and the images'
/// architectures. Without `cubins`, only PTX images are candidates.
int selectCudaImage(const std::vector<CudaImage> &images, int deviceCapability,
                    std::string &problem, bool cubins = true);

enum class KernelParam { Pointer, I64, I32, F32, TensorMap };

struct CudaKernel {
  std::string name;
  std::vector<KernelParam> params;
  std::array<uint32_t, 3> block{};
  uint32_t sharedBytes = 0; // dynamic shared memory per launch
};

/// A device address a step uses: an entry-point argument's buffer (a
/// weight or an input/output/inout), a weight tensor that is no entry
/// argument (a derived one), or the session's arena, plus an offset.
struct BufferRef {
  bool temporary = false; // the arena
  bool weight = false;    // META weights.tensors[weightIndex]
  size_t argument = 0;    // else: index into the entry point's args
  size_t weightIndex = 0;
  uint64_t offset = 0;
};

struct TensorMapSpec {
  BufferRef base;
  int dataType = 0; // the driver's CUtensorMapDataType
  std::vector<uint64_t> dims, stridesBytes;
  std::vector<uint32_t> box;
  int swizzle = 0; // the driver's CUtensorMapSwizzle
};

struct LaunchArg {
  KernelParam kind = KernelParam::Pointer;
  BufferRef buffer;    // Pointer
  int64_t integer = 0; // I64, I32
  float real = 0;      // F32
  TensorMapSpec map;   // TensorMap
};

struct PlanStep {
  enum Kind { Launch, Copy, Fill } kind = Launch;
  std::string jsonPath; // "cuda.plans.score.steps[3]", for messages
  size_t kernel = 0;    // Launch: index into CudaMetadata::kernels
  std::array<uint32_t, 3> grid{};
  std::vector<LaunchArg> args;
  BufferRef destination, source; // Copy (both), Fill (destination)
  uint64_t bytes = 0;
  uint32_t value = 0; // Fill: the u32 pattern
};

struct CudaPlan {
  uint64_t arenaBytes = 0;
  std::vector<PlanStep> steps;
};

struct CudaMetadata {
  std::vector<CudaImage> images;
  std::vector<CudaKernel> kernels;
  std::vector<CudaPlan> plans; // parallel to ModelMetadata::entryPoints
  uint64_t arenaBytes = 0;     // the largest plan's: one arena per session
};

/// The size in bytes of argument `index` of `entry` (weights included).
uint64_t argumentBytes(const ModelMetadata &meta, const EntryPoint &entry,
                       size_t index);

/// Parses and validates META.cuda against `meta` and a CUDA_CODE section
/// of `codeSize` bytes. Throws RuntimeError (MBRT_ERROR_FORMAT) naming the
/// key path.
CudaMetadata parseCudaMetadata(const std::string &artifactPath,
                               const ModelMetadata &meta, uint64_t codeSize);

} // namespace mbrt

#endif // MBRT_CUDA_CUDAMETADATA_H
