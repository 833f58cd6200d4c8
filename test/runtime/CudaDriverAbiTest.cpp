//===- CudaDriverAbiTest.cpp - CudaDriver.h against the real cuda.h -------===//
//
// Built only where the CUDA toolkit's cuda.h is found. CudaDriver.h mirrors
// the driver ABI by hand (libmbrt must build without the toolkit); these
// static_asserts fail the build when a mirrored value or size is wrong.
//
//===----------------------------------------------------------------------===//
#include "cuda/CudaDriver.h"

#include <cuda.h>

#include <gtest/gtest.h>

namespace cuda = mbrt::cuda;

static_assert(cuda::success == CUDA_SUCCESS);
static_assert(cuda::errorOutOfMemory == CUDA_ERROR_OUT_OF_MEMORY);
static_assert(cuda::attributeComputeMajor ==
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(cuda::attributeComputeMinor ==
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(cuda::attributeMaxSharedOptIn ==
              CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
static_assert(cuda::functionMaxDynamicShared ==
              CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(cuda::jitErrorLogBuffer == CU_JIT_ERROR_LOG_BUFFER);
static_assert(cuda::jitErrorLogBufferSize ==
              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(cuda::streamNonBlocking == CU_STREAM_NON_BLOCKING);
static_assert(cuda::captureModeThreadLocal ==
              CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(cuda::tensorMapFloat16 == CU_TENSOR_MAP_DATA_TYPE_FLOAT16);
static_assert(cuda::tensorMapFloat32 == CU_TENSOR_MAP_DATA_TYPE_FLOAT32);
static_assert(cuda::tensorMapBFloat16 == CU_TENSOR_MAP_DATA_TYPE_BFLOAT16);
static_assert(cuda::tensorMapInterleaveNone == CU_TENSOR_MAP_INTERLEAVE_NONE);
static_assert(cuda::tensorMapL2Promotion128 ==
              CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
static_assert(cuda::tensorMapOutOfBoundsZero ==
              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
static_assert(CU_TENSOR_MAP_SWIZZLE_32B == 1 &&
              CU_TENSOR_MAP_SWIZZLE_64B == 2 &&
              CU_TENSOR_MAP_SWIZZLE_128B == 3); // CudaMetadata's mapping
static_assert(sizeof(cuda::TensorMap) == sizeof(CUtensorMap));
static_assert(alignof(cuda::TensorMap) == alignof(CUtensorMap));
static_assert(sizeof(cuda::DevicePointer) == sizeof(CUdeviceptr));
static_assert(sizeof(cuda::Device) == sizeof(CUdevice));
static_assert(sizeof(cuda::Result) == sizeof(CUresult));

TEST(CudaDriverAbi, MirrorsCudaHeader) {
  SUCCEED() << "checked by the static_asserts above, at compile time";
}
