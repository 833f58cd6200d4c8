//===- CudaDriver.h - the CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// libmbrt never links libcuda: a machine without a GPU must load CPU models.
// CudaDriver dlopens the driver library and resolves every entry point the
// backend uses by its exported (versioned) name. The types below mirror
// cuda.h's ABI; the values are checked against cuda.h in CudaDriverTest when
// the toolkit is installed.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_CUDA_CUDADRIVER_H
#define MBRT_CUDA_CUDADRIVER_H

#include "mbrt/mbrt.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mbrt {
namespace cuda {

// cuda.h's types and the few enum values the backend passes.
using Result = int;                       // CUresult
using Device = int;                       // CUdevice
using DevicePointer = unsigned long long; // CUdeviceptr
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;
using Graph = struct CUgraph_st *;
using GraphExec = struct CUgraphExec_st *;

/// CUtensorMap: 128 opaque bytes, 128-byte aligned (as cuda.h declares it),
/// passed by value.
struct alignas(128) TensorMap {
  uint64_t opaque[16];
};

constexpr Result success = 0;               // CUDA_SUCCESS
constexpr Result errorOutOfMemory = 2;      // CUDA_ERROR_OUT_OF_MEMORY
constexpr int attributeComputeMajor = 75;   // ..._COMPUTE_CAPABILITY_MAJOR
constexpr int attributeComputeMinor = 76;   // ..._COMPUTE_CAPABILITY_MINOR
constexpr int attributeMaxSharedOptIn = 97; // ..._SHARED_MEMORY_PER_BLOCK_OPTIN
constexpr int functionMaxDynamicShared = 8; // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_...
constexpr int jitErrorLogBuffer = 5;        // CU_JIT_ERROR_LOG_BUFFER
constexpr int jitErrorLogBufferSize = 6;  // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
constexpr unsigned streamNonBlocking = 1; // CU_STREAM_NON_BLOCKING
constexpr int captureModeThreadLocal = 1; // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
constexpr int tensorMapFloat16 = 6;       // CU_TENSOR_MAP_DATA_TYPE_FLOAT16
constexpr int tensorMapFloat32 = 7;       // CU_TENSOR_MAP_DATA_TYPE_FLOAT32
constexpr int tensorMapBFloat16 = 9;      // CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
constexpr int tensorMapInterleaveNone = 0; // CU_TENSOR_MAP_INTERLEAVE_NONE
constexpr int tensorMapL2Promotion128 = 2; // CU_TENSOR_MAP_L2_PROMOTION_L2_128B
constexpr int tensorMapOutOfBoundsZero = 0; // CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE

// Every driver entry point the backend calls: member, exported symbol,
// signature. The exported names carry the version suffixes cuda.h's macros
// add (cuMemAlloc is cuMemAlloc_v2, ...).
#define MBRT_CUDA_DRIVER_FUNCTIONS(X)                                          \
  X(getErrorName, "cuGetErrorName", Result (*)(Result, const char **))         \
  X(getErrorString, "cuGetErrorString", Result (*)(Result, const char **))     \
  X(init, "cuInit", Result (*)(unsigned))                                      \
  X(driverGetVersion, "cuDriverGetVersion", Result (*)(int *))                 \
  X(deviceGetCount, "cuDeviceGetCount", Result (*)(int *))                     \
  X(deviceGet, "cuDeviceGet", Result (*)(Device *, int))                       \
  X(deviceGetName, "cuDeviceGetName", Result (*)(char *, int, Device))         \
  X(deviceGetAttribute, "cuDeviceGetAttribute",                                \
    Result (*)(int *, int, Device))                                            \
  X(deviceTotalMem, "cuDeviceTotalMem_v2", Result (*)(size_t *, Device))       \
  X(primaryContextRetain, "cuDevicePrimaryCtxRetain",                          \
    Result (*)(Context *, Device))                                             \
  X(primaryContextRelease, "cuDevicePrimaryCtxRelease_v2", Result (*)(Device)) \
  X(contextSetCurrent, "cuCtxSetCurrent", Result (*)(Context))                 \
  X(memoryGetInfo, "cuMemGetInfo_v2", Result (*)(size_t *, size_t *))          \
  X(memoryAllocate, "cuMemAlloc_v2", Result (*)(DevicePointer *, size_t))      \
  X(memoryFree, "cuMemFree_v2", Result (*)(DevicePointer))                     \
  X(memoryAllocateHost, "cuMemAllocHost_v2", Result (*)(void **, size_t))      \
  X(memoryFreeHost, "cuMemFreeHost", Result (*)(void *))                       \
  X(copyHostToDevice, "cuMemcpyHtoD_v2",                                       \
    Result (*)(DevicePointer, const void *, size_t))                           \
  X(copyHostToDeviceAsync, "cuMemcpyHtoDAsync_v2",                             \
    Result (*)(DevicePointer, const void *, size_t, Stream))                   \
  X(copyDeviceToHostAsync, "cuMemcpyDtoHAsync_v2",                             \
    Result (*)(void *, DevicePointer, size_t, Stream))                         \
  X(copyDeviceToDeviceAsync, "cuMemcpyDtoDAsync_v2",                           \
    Result (*)(DevicePointer, DevicePointer, size_t, Stream))                  \
  X(memset8Async, "cuMemsetD8Async",                                           \
    Result (*)(DevicePointer, unsigned char, size_t, Stream))                  \
  X(memset32Async, "cuMemsetD32Async",                                         \
    Result (*)(DevicePointer, unsigned, size_t, Stream))                       \
  X(streamCreate, "cuStreamCreate", Result (*)(Stream *, unsigned))            \
  X(streamDestroy, "cuStreamDestroy_v2", Result (*)(Stream))                   \
  X(streamSynchronize, "cuStreamSynchronize", Result (*)(Stream))              \
  X(streamBeginCapture, "cuStreamBeginCapture_v2", Result (*)(Stream, int))    \
  X(streamEndCapture, "cuStreamEndCapture", Result (*)(Stream, Graph *))       \
  X(graphInstantiate, "cuGraphInstantiateWithFlags",                           \
    Result (*)(GraphExec *, Graph, unsigned long long))                        \
  X(graphLaunch, "cuGraphLaunch", Result (*)(GraphExec, Stream))               \
  X(graphExecDestroy, "cuGraphExecDestroy", Result (*)(GraphExec))             \
  X(graphDestroy, "cuGraphDestroy", Result (*)(Graph))                         \
  X(moduleLoadDataEx, "cuModuleLoadDataEx",                                    \
    Result (*)(Module *, const void *, unsigned, int *, void **))              \
  X(moduleUnload, "cuModuleUnload", Result (*)(Module))                        \
  X(moduleGetFunction, "cuModuleGetFunction",                                  \
    Result (*)(Function *, Module, const char *))                              \
  X(functionSetAttribute, "cuFuncSetAttribute",                                \
    Result (*)(Function, int, int))                                            \
  X(launchKernel, "cuLaunchKernel",                                            \
    Result (*)(Function, unsigned, unsigned, unsigned, unsigned, unsigned,     \
               unsigned, unsigned, Stream, void **, void **))                  \
  X(tensorMapEncodeTiled, "cuTensorMapEncodeTiled",                            \
    Result (*)(TensorMap *, int, uint32_t, void *, const uint64_t *,           \
               const uint64_t *, const uint32_t *, const uint32_t *, int, int, \
               int, int))

/// Lets a declarator-shaped type such as `Result (*)(int)` declare a member.
template <typename T> using Identity = T;

/// The loaded driver library with every entry point resolved.
class CudaDriver {
public:
  /// Loads $MBRT_CUDA_DRIVER when set (tests point it at a fake driver),
  /// else libcuda.so.1, resolves every function and calls cuInit. Throws
  /// RuntimeError MBRT_ERROR_NO_DEVICE ("no CUDA device: ...") when the
  /// library is missing, lacks a function, cuInit fails or there are no
  /// devices.
  static std::shared_ptr<CudaDriver> load();
  ~CudaDriver();
  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;

  /// The library that was loaded ("libcuda.so.1" or $MBRT_CUDA_DRIVER).
  const std::string &library() const { return library_; }
  int deviceCount() const { return deviceCount_; }

  /// "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out of memory)".
  std::string describe(const char *call, Result result) const;
  /// Throws RuntimeError(`status`, `what` + ": " + describe(call, result))
  /// unless `result` is CUDA_SUCCESS.
  void check(Result result, const char *call, const std::string &what,
             mbrt_status status) const;

#define MBRT_CUDA_DECLARE(member, symbol, type) Identity<type> member = nullptr;
  MBRT_CUDA_DRIVER_FUNCTIONS(MBRT_CUDA_DECLARE)
#undef MBRT_CUDA_DECLARE

private:
  CudaDriver() = default;

  void *handle_ = nullptr;
  std::string library_;
  int deviceCount_ = 0;
};

} // namespace cuda
} // namespace mbrt

#endif // MBRT_CUDA_CUDADRIVER_H
