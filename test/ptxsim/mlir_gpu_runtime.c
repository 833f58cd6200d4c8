/* TEST ONLY: the host functions (mgpu*) that MLIR's gpu-to-llvm lowering
 * calls, implemented on the CUDA driver API, which this library resolves at
 * run time from $MBRT_CUDA_DRIVER (else libcuda.so.1). With the fake driver
 * in simulate mode (test/runtime/fake_cuda_driver.c) mlir-runner runs any
 * gpu-dialect program on ptxsim:
 *
 *   mlir-runner --shared-libs=libmbc_mlir_gpu_runtime.so,... PROGRAM.mlir
 *
 * so that programs written by others, with results known from real GPUs
 * (MLIR's own CUDA integration tests), check ptxsim's semantics
 * (test/ptxsim/run_mlir_integration_tests.py). The signatures are those
 * MLIR 22's lowering emits (test/ptxsim/mlir runs programs through them:
 * allocations, copies, launches, tensor maps). Device memory
 * of the fake driver is host memory, so a copy in any direction is one
 * driver copy; a real driver's unified addressing makes it cuMemcpyAsync.
 * Streams of the fake driver run their work at once: events only order. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef uint64_t CUdeviceptr;

static struct {
  CUresult (*init)(unsigned);
  CUresult (*deviceGet)(int *, int);
  CUresult (*primaryContextRetain)(void **, int);
  CUresult (*contextSetCurrent)(void *);
  CUresult (*getErrorName)(CUresult, const char **);
  CUresult (*moduleLoadData)(void **, const void *);
  CUresult (*moduleUnload)(void *);
  CUresult (*moduleGetFunction)(void **, void *, const char *);
  CUresult (*functionSetAttribute)(void *, int, int);
  CUresult (*launchKernel)(void *, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, void *, void **,
                           void **);
  CUresult (*streamCreate)(void **, unsigned);
  CUresult (*streamDestroy)(void *);
  CUresult (*streamSynchronize)(void *);
  CUresult (*contextSynchronize)(void);
  CUresult (*memoryAllocate)(CUdeviceptr *, size_t);
  CUresult (*memoryFree)(CUdeviceptr);
  CUresult (*copyAsync)(CUdeviceptr, CUdeviceptr, size_t, void *);
  CUresult (*set32Async)(CUdeviceptr, unsigned, size_t, void *);
  CUresult (*copyToDevice)(CUdeviceptr, const void *, size_t);
  CUresult (*encodeTensorMap)(void *, int, unsigned, void *, const uint64_t *,
                              const uint64_t *, const unsigned *,
                              const unsigned *, int, int, int, int);
  CUresult (*hostRegister)(void *, size_t, unsigned);
  CUresult (*hostUnregister)(void *);
  /* The fake driver's: host memory a kernel may access (ptxsim checks
   * every global access against the allocations it knows). */
  void (*track)(const void *, size_t);
  void (*untrack)(const void *);
} driver;

static void fatal(const char *what, const char *detail) {
  fprintf(stderr, "mlir_gpu_runtime: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  exit(2);
}

/* A failed driver call ends the program: a test must not go on with a
 * launch that did not run. */
static void check(CUresult result, const char *call) {
  if (result == 0)
    return;
  const char *name = NULL;
  if (driver.getErrorName)
    driver.getErrorName(result, &name);
  fprintf(stderr, "mlir_gpu_runtime: %s failed with %s (%d)\n", call,
          name ? name : "an unknown error", result);
  exit(2);
}

static void *resolve(void *library, const char *name, int required) {
  void *function = dlsym(library, name);
  if (!function && required)
    fatal("the CUDA driver lacks", name);
  return function;
}

static void loadDriver(void) {
  static int loaded;
  if (loaded)
    return;
  loaded = 1;
  const char *path = getenv("MBRT_CUDA_DRIVER");
  void *library =
      dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    fatal("cannot load the CUDA driver", dlerror());
  *(void **)&driver.init = resolve(library, "cuInit", 1);
  *(void **)&driver.deviceGet = resolve(library, "cuDeviceGet", 1);
  *(void **)&driver.primaryContextRetain =
      resolve(library, "cuDevicePrimaryCtxRetain", 1);
  *(void **)&driver.contextSetCurrent = resolve(library, "cuCtxSetCurrent", 1);
  *(void **)&driver.getErrorName = resolve(library, "cuGetErrorName", 0);
  *(void **)&driver.moduleLoadData = resolve(library, "cuModuleLoadData", 1);
  *(void **)&driver.moduleUnload = resolve(library, "cuModuleUnload", 1);
  *(void **)&driver.moduleGetFunction =
      resolve(library, "cuModuleGetFunction", 1);
  *(void **)&driver.functionSetAttribute =
      resolve(library, "cuFuncSetAttribute", 1);
  *(void **)&driver.launchKernel = resolve(library, "cuLaunchKernel", 1);
  *(void **)&driver.streamCreate = resolve(library, "cuStreamCreate", 1);
  *(void **)&driver.streamDestroy = resolve(library, "cuStreamDestroy_v2", 1);
  *(void **)&driver.streamSynchronize =
      resolve(library, "cuStreamSynchronize", 1);
  *(void **)&driver.contextSynchronize =
      resolve(library, "cuCtxSynchronize", 1);
  *(void **)&driver.memoryAllocate = resolve(library, "cuMemAlloc_v2", 1);
  *(void **)&driver.memoryFree = resolve(library, "cuMemFree_v2", 1);
  /* The fake driver's memory is host memory: its device-to-device copy
   * copies between any two addresses. */
  *(void **)&driver.copyAsync = resolve(library, "cuMemcpyAsync", 0);
  if (!driver.copyAsync)
    *(void **)&driver.copyAsync = resolve(library, "cuMemcpyDtoDAsync_v2", 1);
  *(void **)&driver.set32Async = resolve(library, "cuMemsetD32Async", 1);
  *(void **)&driver.copyToDevice = resolve(library, "cuMemcpyHtoD_v2", 1);
  *(void **)&driver.encodeTensorMap =
      resolve(library, "cuTensorMapEncodeTiled", 0);
  *(void **)&driver.hostRegister = resolve(library, "cuMemHostRegister_v2", 0);
  *(void **)&driver.hostUnregister = resolve(library, "cuMemHostUnregister", 0);
  *(void **)&driver.track = resolve(library, "ptxsim_track", 0);
  *(void **)&driver.untrack = resolve(library, "ptxsim_untrack", 0);

  check(driver.init(0), "cuInit");
  int device;
  check(driver.deviceGet(&device, 0), "cuDeviceGet");
  void *context;
  check(driver.primaryContextRetain(&context, device),
        "cuDevicePrimaryCtxRetain");
  check(driver.contextSetCurrent(context), "cuCtxSetCurrent");
}

void *mgpuModuleLoad(void *data, size_t size) {
  (void)size;
  loadDriver();
  void *module;
  check(driver.moduleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

/* gpu-module-to-binary's "isa" format: NUL-terminated PTX. */
void *mgpuModuleLoadJIT(void *data, int optimizationLevel) {
  (void)optimizationLevel;
  return mgpuModuleLoad(data, strlen((const char *)data) + 1);
}

void mgpuModuleUnload(void *module) {
  check(driver.moduleUnload(module), "cuModuleUnload");
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  void *function;
  check(driver.moduleGetFunction(&function, module, name),
        "cuModuleGetFunction");
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, size_t paramCount) {
  (void)paramCount;
  /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: above 48 KiB a kernel
   * must opt in. */
  if (sharedBytes > 48 * 1024)
    check(driver.functionSetAttribute(function, 8, sharedBytes),
          "cuFuncSetAttribute");
  check(driver.launchKernel(function, (unsigned)gridX, (unsigned)gridY,
                            (unsigned)gridZ, (unsigned)blockX, (unsigned)blockY,
                            (unsigned)blockZ, (unsigned)sharedBytes, stream,
                            params, extra),
        "cuLaunchKernel");
}

void mgpuLaunchClusterKernel(void *function, intptr_t clusterX,
                             intptr_t clusterY, intptr_t clusterZ,
                             intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                             intptr_t blockX, intptr_t blockY, intptr_t blockZ,
                             int32_t sharedBytes, void *stream, void **params,
                             void **extra, size_t paramCount) {
  (void)function, (void)clusterX, (void)clusterY, (void)clusterZ, (void)gridX;
  (void)gridY, (void)gridZ, (void)blockX, (void)blockY, (void)blockZ;
  (void)sharedBytes, (void)stream, (void)params, (void)extra, (void)paramCount;
  fatal("cluster launches are not supported", NULL);
}

void *mgpuStreamCreate(void) {
  loadDriver();
  void *stream;
  check(driver.streamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */),
        "cuStreamCreate");
  return stream;
}

void mgpuStreamDestroy(void *stream) {
  check(driver.streamDestroy(stream), "cuStreamDestroy");
}

void mgpuStreamSynchronize(void *stream) {
  check(driver.streamSynchronize(stream), "cuStreamSynchronize");
}

/* Events order streams; the whole context's work is finished instead. */
void *mgpuEventCreate(void) {
  static char event;
  return &event;
}
void mgpuEventDestroy(void *event) { (void)event; }
void mgpuEventRecord(void *event, void *stream) {
  (void)event;
  mgpuStreamSynchronize(stream);
}
void mgpuEventSynchronize(void *event) {
  (void)event;
  check(driver.contextSynchronize(), "cuCtxSynchronize");
}
void mgpuStreamWaitEvent(void *stream, void *event) {
  (void)stream;
  mgpuEventSynchronize(event);
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, _Bool hostShared) {
  (void)stream;
  if (hostShared)
    fatal("host-shared allocations are not supported", NULL);
  loadDriver();
  CUdeviceptr address = 0;
  if (bytes)
    check(driver.memoryAllocate(&address, bytes), "cuMemAlloc");
  return (void *)(uintptr_t)address;
}

void mgpuMemFree(void *address, void *stream) {
  (void)stream;
  if (address)
    check(driver.memoryFree((CUdeviceptr)(uintptr_t)address), "cuMemFree");
}

void mgpuMemcpy(void *destination, void *source, size_t bytes, void *stream) {
  check(driver.copyAsync((CUdeviceptr)(uintptr_t)destination,
                         (CUdeviceptr)(uintptr_t)source, bytes, stream),
        "cuMemcpyAsync");
}

void mgpuMemset32(void *destination, unsigned value, size_t count,
                  void *stream) {
  check(driver.set32Async((CUdeviceptr)(uintptr_t)destination, value, count,
                          stream),
        "cuMemsetD32Async");
}

/* A ranked memref's descriptor: allocated and aligned pointers, offset,
 * then `rank` sizes and `rank` strides (in elements). */
typedef struct {
  char *allocated, *aligned;
  int64_t offset;
  int64_t sizesAndStrides[];
} MemRefDescriptor;

/* The bytes of a dense memref, from its first element. */
static size_t denseBytes(int64_t rank, const MemRefDescriptor *memref,
                         int64_t elementBytes, char **first) {
  size_t elements = 1;
  for (int64_t i = 0; i < rank; ++i)
    elements *= (size_t)memref->sizesAndStrides[i];
  *first = memref->aligned + memref->offset * elementBytes;
  return elements * (size_t)elementBytes;
}

/* Host memory a kernel reads or writes: page-locked and mapped on a GPU;
 * on the fake driver, known to ptxsim. */
void mgpuMemHostRegisterMemRef(int64_t rank, MemRefDescriptor *memref,
                               int64_t elementBytes) {
  loadDriver();
  char *first;
  size_t bytes = denseBytes(rank, memref, elementBytes, &first);
  if (driver.track)
    driver.track(first, bytes);
  else if (driver.hostRegister)
    check(driver.hostRegister(first, bytes, 0), "cuMemHostRegister");
  else
    fatal("the CUDA driver lacks", "cuMemHostRegister_v2");
}

void mgpuMemHostUnregisterMemRef(int64_t rank, MemRefDescriptor *memref,
                                 int64_t elementBytes) {
  char *first;
  denseBytes(rank, memref, elementBytes, &first);
  if (driver.untrack)
    driver.untrack(first);
  else if (driver.hostUnregister)
    check(driver.hostUnregister(first), "cuMemHostUnregister");
}

void mgpuSetDefaultDevice(int32_t device) {
  if (device != 0)
    fatal("only device 0 is supported", NULL);
}

/* The bytes of an element of each CUtensorMapDataType (UINT8, UINT16,
 * UINT32, INT32, UINT64, INT64, FLOAT16, FLOAT32, FLOAT64, BFLOAT16,
 * FLOAT32_FTZ, TFLOAT32, TFLOAT32_FTZ). */
static const int kTensorMapElementBytes[] = {1, 2, 4, 4, 8, 8, 2,
                                             4, 8, 2, 4, 4, 4};

/* The tensor map of a memref, encoded in CUDA's order (dimension 0
 * innermost) and put in device memory, where the kernel reads it. */
void *mgpuTensorMapEncodeTiledMemref(int64_t rank, MemRefDescriptor *memref,
                                     int64_t dataType, int64_t interleave,
                                     int64_t swizzle, int64_t promotion,
                                     int64_t fill, int64_t *boxDims) {
  loadDriver();
  if (!driver.encodeTensorMap)
    fatal("the CUDA driver lacks", "cuTensorMapEncodeTiled");
  if (rank < 1 || rank > 5 || dataType < 0 || dataType > 12)
    fatal("unsupported tensor map rank or element type", NULL);
  const int64_t *sizes = memref->sizesAndStrides,
                *strides = memref->sizesAndStrides + rank;
  int elementBytes = kTensorMapElementBytes[dataType];
  uint64_t dims[5], byteStrides[4];
  unsigned box[5], elementStrides[5];
  for (int64_t i = 0; i < rank; ++i) {
    dims[i] = (uint64_t)sizes[rank - 1 - i];
    box[i] = (unsigned)boxDims[rank - 1 - i];
    elementStrides[i] = 1;
    if (i + 1 < rank)
      byteStrides[i] = (uint64_t)strides[rank - 2 - i] * elementBytes;
  }
  uint64_t map[16] __attribute__((aligned(64))); /* as CUtensorMap */
  check(driver.encodeTensorMap(map, (int)dataType, (unsigned)rank,
                               memref->aligned + memref->offset * elementBytes,
                               dims, byteStrides, box, elementStrides,
                               (int)interleave, (int)swizzle, (int)promotion,
                               (int)fill),
        "cuTensorMapEncodeTiled");
  CUdeviceptr mapOnDevice;
  check(driver.memoryAllocate(&mapOnDevice, sizeof map), "cuMemAlloc");
  check(driver.copyToDevice(mapOnDevice, map, sizeof map), "cuMemcpyHtoD");
  return (void *)(uintptr_t)mapOnDevice;
}
