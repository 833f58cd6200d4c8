/*===- fake_cuda_driver.c - TEST ONLY stand-in for libcuda.so.1 -----------===
 *
 * libmbrt loads the CUDA driver with dlopen; tests point $MBRT_CUDA_DRIVER at
 * this library so the backend's driver paths run on machines without a GPU.
 * Never part of the product. $MBRT_FAKE_CUDA_MODE picks the behaviour:
 *   init-error  cuInit fails with CUDA_ERROR_NO_DEVICE (no GPU, driver there)
 *   no-devices  cuDeviceGetCount reports 0
 *   simulate    as device, and kernels of PTX modules run: ptxsim
 *               (test/ptxsim) interprets them, checking every global access
 *               against the allocations; cuTensorMapEncodeTiled validates
 *               and encodes what ptxsim's TMA reads. A kernel that fails
 *               prints why on stderr and its launch returns
 *               CUDA_ERROR_LAUNCH_FAILED.
 *   device      (default) one device of compute capability
 *               $MBRT_FAKE_CUDA_ARCH (default 90) whose "device memory" is
 *               host memory, at most $MBRT_FAKE_CUDA_MEMORY bytes (default
 *               1 GiB). Copies and fills run at once, or are recorded while
 *               a stream captures and replayed by cuGraphLaunch. Modules
 *               load when the image does not hold "FAKE_JIT_ERROR"; a
 *               function exists when its name occurs in the image (PTX,
 *               or an ELF cubin sized by its header). Two
 *               kernels compute (on the host):
 *                 fake_copy_f32(ptr dst, ptr src, i64 n): n floats
 *                 fake_tensor_map_check(tensor_map m, ptr base, i64 dim0):
 *                   fails unless m encodes base, dim0 and f32
 * Built twice: with -DFAKE_CUDA_WITHOUT_TENSOR_MAPS it lacks
 * cuTensorMapEncodeTiled, as a too-old driver would.
 * fake_cuda_counter(name) reads counters for the tests.
 *
 *===----------------------------------------------------------------------===*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "PtxSim.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
  SUCCESS = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  INVALID_PTX = 218,
  NO_DEVICE = 100,
  NOT_FOUND = 500,
  LAUNCH_FAILED = 719,
  CAPTURE_UNSUPPORTED = 900,
};

/*--- modes and counters ---*/
static const char *mode(void) {
  const char *value = getenv("MBRT_FAKE_CUDA_MODE");
  return value && *value ? value : "device";
}
static int simulating(void) { return !strcmp(mode(), "simulate"); }

enum {
  LAUNCHES,
  GRAPH_LAUNCHES,
  CAPTURES,
  LIVE_ALLOCATIONS,
  LIVE_BYTES,
  LIVE_MODULES,
  LIVE_CONTEXTS,
  LIVE_STREAMS,
  LIVE_HOST_ALLOCATIONS,
  SYNCHRONIZATIONS,
  HOST_TO_DEVICE,
  DEVICE_TO_HOST,
  COUNTERS
};
static long long counters[COUNTERS];
static const char *const counterNames[COUNTERS] = {"launches",
                                                   "graph_launches",
                                                   "captures",
                                                   "live_allocations",
                                                   "live_bytes",
                                                   "live_modules",
                                                   "live_contexts",
                                                   "live_streams",
                                                   "live_host_allocations",
                                                   "synchronizations",
                                                   "host_to_device_copies",
                                                   "device_to_host_copies"};

long long fake_cuda_counter(const char *name) {
  for (int i = 0; i < COUNTERS; ++i)
    if (!strcmp(name, counterNames[i]))
      return counters[i];
  return -1;
}

/*--- errors ---*/
CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case SUCCESS:
    *name = "CUDA_SUCCESS";
    return SUCCESS;
  case INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return SUCCESS;
  case OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return SUCCESS;
  case NO_DEVICE:
    *name = "CUDA_ERROR_NO_DEVICE";
    return SUCCESS;
  case INVALID_PTX:
    *name = "CUDA_ERROR_INVALID_PTX";
    return SUCCESS;
  case NOT_FOUND:
    *name = "CUDA_ERROR_NOT_FOUND";
    return SUCCESS;
  case CAPTURE_UNSUPPORTED:
    *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    return SUCCESS;
  case LAUNCH_FAILED:
    *name = "CUDA_ERROR_LAUNCH_FAILED";
    return SUCCESS;
  }
  return INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **text) {
  switch (error) {
  case NO_DEVICE:
    *text = "no CUDA-capable device is detected";
    return SUCCESS;
  case OUT_OF_MEMORY:
    *text = "out of memory";
    return SUCCESS;
  case INVALID_VALUE:
    *text = "invalid argument";
    return SUCCESS;
  }
  return cuGetErrorName(error, text);
}

/*--- driver, device, context ---*/
CUresult cuInit(unsigned flags) {
  return !strcmp(mode(), "init-error") ? NO_DEVICE : SUCCESS;
}

CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return SUCCESS;
}

CUresult cuDeviceGetCount(int *count) {
  *count = !strcmp(mode(), "no-devices") ? 0 : 1;
  return SUCCESS;
}

CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return ordinal == 0 ? SUCCESS : INVALID_VALUE;
}

CUresult cuDeviceGetName(char *name, int size, int device) {
  strncpy(name, "Fake CUDA Device", (size_t)size);
  return SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  const char *arch = getenv("MBRT_FAKE_CUDA_ARCH");
  int capability = arch && *arch ? atoi(arch) : 90;
  if (attribute == 75)
    *value = capability / 10;
  else if (attribute == 76)
    *value = capability % 10;
  else if (attribute == 97)
    *value = 232448;
  else
    *value = 0;
  return SUCCESS;
}

static size_t memoryLimit(void) {
  const char *limit = getenv("MBRT_FAKE_CUDA_MEMORY");
  return limit && *limit ? (size_t)strtoull(limit, NULL, 10) : (size_t)1 << 30;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) {
  *bytes = memoryLimit();
  return SUCCESS;
}

static int context;
CUresult cuDevicePrimaryCtxRetain(void **result, int device) {
  *result = &context;
  counters[LIVE_CONTEXTS]++;
  return SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(int device) {
  counters[LIVE_CONTEXTS]--;
  return SUCCESS;
}
CUresult cuCtxSetCurrent(void *current) { return SUCCESS; }

/*--- memory: host memory, with sizes kept for the limit ---*/
#define MAX_ALLOCATIONS 4096
static struct {
  void *address;
  size_t size;
} allocations[MAX_ALLOCATIONS];

CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes) {
  *totalBytes = memoryLimit();
  *freeBytes = *totalBytes - (size_t)counters[LIVE_BYTES];
  return SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *address, size_t size) {
  if (size == 0)
    return INVALID_VALUE;
  if ((size_t)counters[LIVE_BYTES] + size > memoryLimit())
    return OUT_OF_MEMORY;
  for (int i = 0; i < MAX_ALLOCATIONS; ++i) {
    if (allocations[i].address)
      continue;
    /* 256-byte aligned, as cuMemAlloc's addresses are. */
    void *memory = aligned_alloc(256, (size + 255) / 256 * 256);
    if (!memory)
      return OUT_OF_MEMORY;
    memset(memory, 0xA5, size); /* garbage: device memory starts undefined */
    allocations[i].address = memory;
    allocations[i].size = size;
    ptxsim_track(memory, size);
    counters[LIVE_ALLOCATIONS]++;
    counters[LIVE_BYTES] += (long long)size;
    *address = (CUdeviceptr)(uintptr_t)memory;
    return SUCCESS;
  }
  return OUT_OF_MEMORY;
}

CUresult cuMemFree_v2(CUdeviceptr address) {
  for (int i = 0; i < MAX_ALLOCATIONS; ++i)
    if (allocations[i].address == (void *)(uintptr_t)address) {
      ptxsim_untrack(allocations[i].address);
      free(allocations[i].address);
      counters[LIVE_ALLOCATIONS]--;
      counters[LIVE_BYTES] -= (long long)allocations[i].size;
      allocations[i].address = NULL;
      return SUCCESS;
    }
  return INVALID_VALUE;
}

/* Page-locked host memory is plain host memory here. */
CUresult cuMemAllocHost_v2(void **pointer, size_t bytes) {
  *pointer = malloc(bytes ? bytes : 1);
  if (!*pointer)
    return OUT_OF_MEMORY;
  counters[LIVE_HOST_ALLOCATIONS]++;
  return SUCCESS;
}
CUresult cuMemFreeHost(void *pointer) {
  counters[LIVE_HOST_ALLOCATIONS]--;
  free(pointer);
  return SUCCESS;
}

/*--- modules and functions ---*/
typedef struct Module {
  char *image;
  size_t size;
  ptxsim_module *simulated; /* simulate mode, PTX images */
} Module;

typedef struct Function {
  char *name;
  Module *module;
  int maxDynamicShared; /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
} Function;

/*--- streams: operations run at once unless the stream captures ---*/
#define PARAM_BYTES 4096 /* CUDA's kernel parameter limit */
typedef struct Operation {
  enum { COPY, SET8, SET32, LAUNCH } kind;
  void *destination;
  const void *source;
  size_t count;
  unsigned value;
  const Function *function;
  unsigned grid[3], block[3], sharedBytes;
  /* a copy: the caller's storage may go. The fake kernels' parameters sit
     at 128-byte slots; a simulated kernel's in its own layout. */
  unsigned char params[PARAM_BYTES];
} Operation;

typedef struct Graph {
  Operation *operations;
  size_t count;
} Graph;

static void *capturing; /* the stream being captured, or NULL */
static Graph captured;

static CUresult runLaunch(const Operation *operation);

static CUresult execute(const Operation *operation) {
  switch (operation->kind) {
  case COPY:
    memmove(operation->destination, operation->source, operation->count);
    return SUCCESS;
  case SET8:
    memset(operation->destination, (int)operation->value, operation->count);
    return SUCCESS;
  case SET32:
    for (size_t i = 0; i < operation->count; ++i)
      memcpy((char *)operation->destination + 4 * i, &operation->value, 4);
    return SUCCESS;
  case LAUNCH:
    return runLaunch(operation);
  }
  return INVALID_VALUE;
}

static CUresult enqueue(void *stream, const Operation *operation) {
  if (!capturing || stream != capturing)
    return execute(operation);
  captured.operations =
      realloc(captured.operations, (captured.count + 1) * sizeof(Operation));
  captured.operations[captured.count++] = *operation;
  return SUCCESS;
}

CUresult cuStreamCreate(void **stream, unsigned flags) {
  *stream = malloc(1);
  counters[LIVE_STREAMS]++;
  return SUCCESS;
}
CUresult cuStreamDestroy_v2(void *stream) {
  counters[LIVE_STREAMS]--;
  free(stream);
  return SUCCESS;
}
CUresult cuStreamSynchronize(void *stream) {
  counters[SYNCHRONIZATIONS]++;
  return SUCCESS;
}

CUresult cuStreamBeginCapture_v2(void *stream, int captureMode) {
  if (capturing)
    return INVALID_VALUE;
  capturing = stream;
  captured.operations = NULL;
  captured.count = 0;
  counters[CAPTURES]++;
  return SUCCESS;
}

CUresult cuStreamEndCapture(void *stream, Graph **graph) {
  if (stream != capturing)
    return INVALID_VALUE;
  capturing = NULL;
  *graph = malloc(sizeof(Graph));
  **graph = captured;
  return SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(Graph **exec, Graph *graph,
                                     unsigned long long flags) {
  *exec = malloc(sizeof(Graph));
  (*exec)->count = graph->count;
  (*exec)->operations = malloc(graph->count * sizeof(Operation) + 1);
  memcpy((*exec)->operations, graph->operations,
         graph->count * sizeof(Operation));
  return SUCCESS;
}

static void destroyGraph(Graph *graph) {
  free(graph->operations);
  free(graph);
}
CUresult cuGraphDestroy(Graph *graph) {
  destroyGraph(graph);
  return SUCCESS;
}
CUresult cuGraphExecDestroy(Graph *exec) {
  destroyGraph(exec);
  return SUCCESS;
}

CUresult cuGraphLaunch(Graph *exec, void *stream) {
  counters[GRAPH_LAUNCHES]++;
  for (size_t i = 0; i < exec->count; ++i) {
    CUresult result = execute(&exec->operations[i]);
    if (result != SUCCESS)
      return result;
  }
  return SUCCESS;
}

static CUresult copy(void *destination, const void *source, size_t bytes,
                     void *stream) {
  Operation operation = {COPY, destination, source, bytes, 0, NULL};
  return enqueue(stream, &operation);
}

/* Host<->device copies from pageable memory cannot be captured (as on a
   real driver): the runtime must keep them out of its graphs. */
CUresult cuMemcpyHtoD_v2(CUdeviceptr destination, const void *source,
                         size_t bytes) {
  if (capturing)
    return CAPTURE_UNSUPPORTED;
  return copy((void *)(uintptr_t)destination, source, bytes, NULL);
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr destination, const void *source,
                              size_t bytes, void *stream) {
  if (stream == capturing)
    return CAPTURE_UNSUPPORTED;
  counters[HOST_TO_DEVICE]++;
  return copy((void *)(uintptr_t)destination, source, bytes, stream);
}
CUresult cuMemcpyDtoHAsync_v2(void *destination, CUdeviceptr source,
                              size_t bytes, void *stream) {
  if (stream == capturing)
    return CAPTURE_UNSUPPORTED;
  counters[DEVICE_TO_HOST]++;
  return copy(destination, (const void *)(uintptr_t)source, bytes, stream);
}
/* Synchronous copies (run_kernel.py's). */
CUresult cuMemcpyDtoH_v2(void *destination, CUdeviceptr source, size_t bytes) {
  if (capturing)
    return CAPTURE_UNSUPPORTED;
  counters[DEVICE_TO_HOST]++;
  return copy(destination, (const void *)(uintptr_t)source, bytes, NULL);
}
CUresult cuCtxSynchronize(void) {
  counters[SYNCHRONIZATIONS]++;
  return SUCCESS;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr destination, CUdeviceptr source,
                              size_t bytes, void *stream) {
  return copy((void *)(uintptr_t)destination, (const void *)(uintptr_t)source,
              bytes, stream);
}

CUresult cuMemsetD8Async(CUdeviceptr destination, unsigned char value,
                         size_t count, void *stream) {
  Operation operation = {
      SET8, (void *)(uintptr_t)destination, NULL, count, value, NULL};
  return enqueue(stream, &operation);
}
CUresult cuMemsetD32Async(CUdeviceptr destination, unsigned value, size_t count,
                          void *stream) {
  Operation operation = {
      SET32, (void *)(uintptr_t)destination, NULL, count, value, NULL};
  return enqueue(stream, &operation);
}

/*--- modules, functions, launches ---*/
/* The driver finds a binary image's size in its ELF header; text (PTX, the
   tests' stand-in cubins) ends at its NUL. */
static size_t imageSize(const unsigned char *image) {
  if (memcmp(image,
             "\x7f"
             "ELF",
             4) != 0 ||
      image[4] != 2 /* ELFCLASS64 */)
    return strlen((const char *)image);
  uint64_t sectionTable;
  uint16_t entrySize, entries;
  memcpy(&sectionTable, image + 0x28, 8);
  memcpy(&entrySize, image + 0x3A, 2);
  memcpy(&entries, image + 0x3C, 2);
  return (size_t)(sectionTable + (uint64_t)entrySize * entries);
}

CUresult cuModuleLoadDataEx(Module **module, const void *image,
                            unsigned optionCount, int *options, void **values) {
  size_t size = imageSize((const unsigned char *)image);
  if (memmem(image, size, "FAKE_JIT_ERROR", 14)) {
    for (unsigned i = 0; i < optionCount; ++i)
      if (options[i] == 5) /* CU_JIT_ERROR_LOG_BUFFER */
        strcpy((char *)values[i], "ptxas fatal: fake JIT error");
    return INVALID_PTX;
  }
  ptxsim_module *simulated = NULL;
  if (simulating() && memcmp(image,
                             "\x7f"
                             "ELF",
                             4) == 0) {
    fprintf(stderr, "fake CUDA driver: ptxsim runs PTX, not cubins: the cubin "
                    "is rejected (libmbrt then loads the artifact's PTX)\n");
    return INVALID_PTX;
  }
  if (simulating()) {
    char log[1024];
    simulated = ptxsim_load((const char *)image, log, sizeof log);
    if (!simulated) {
      for (unsigned i = 0; i < optionCount; ++i)
        if (options[i] == 5) /* CU_JIT_ERROR_LOG_BUFFER */
          snprintf((char *)values[i], 1024, "%s", log);
      fprintf(stderr, "fake CUDA driver: %s\n", log);
      return INVALID_PTX;
    }
  }
  *module = malloc(sizeof(Module));
  (*module)->image = malloc(size);
  memcpy((*module)->image, image, size);
  (*module)->size = size;
  (*module)->simulated = simulated;
  counters[LIVE_MODULES]++;
  return SUCCESS;
}

CUresult cuModuleLoadData(Module **module, const void *image) {
  return cuModuleLoadDataEx(module, image, 0, NULL, NULL);
}

CUresult cuModuleUnload(Module *module) {
  counters[LIVE_MODULES]--;
  ptxsim_unload(module->simulated);
  free(module->image);
  free(module);
  return SUCCESS;
}

CUresult cuModuleGetFunction(Function **function, Module *module,
                             const char *name) {
  if (module->simulated ? !ptxsim_has_kernel(module->simulated, name)
                        : !memmem(module->image, module->size, name,
                                  strlen(name)))
    return NOT_FOUND;
  *function = calloc(1, sizeof(Function)); /* leaked: tests are short */
  (*function)->name = strdup(name);
  (*function)->module = module;
  return SUCCESS;
}

CUresult cuFuncSetAttribute(Function *function, int attribute, int value) {
  if (attribute == 8) /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
    function->maxDynamicShared = value;
  return SUCCESS;
}

/* Parameter sizes of the computing kernels; others take no look at them. */
static size_t paramSize(const char *kernel, int index) {
  if (!strcmp(kernel, "fake_tensor_map_check") && index == 0)
    return 128;
  return 8;
}

CUresult cuLaunchKernel(Function *function, unsigned gridX, unsigned gridY,
                        unsigned gridZ, unsigned blockX, unsigned blockY,
                        unsigned blockZ, unsigned sharedBytes, void *stream,
                        void **params, void **extra) {
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ)
    return INVALID_VALUE;
  static Operation operation; /* 4 KiB of parameters: not on the stack */
  memset(&operation, 0, sizeof operation);
  operation.kind = LAUNCH;
  operation.function = function;
  operation.grid[0] = gridX, operation.grid[1] = gridY;
  operation.grid[2] = gridZ;
  operation.block[0] = blockX, operation.block[1] = blockY;
  operation.block[2] = blockZ;
  operation.sharedBytes = sharedBytes;
  const char *name = function->name;
  if (function->module->simulated) {
    if (ptxsim_pack_params(function->module->simulated, name, params,
                           operation.params, PARAM_BYTES) < 0)
      return INVALID_VALUE;
  } else {
    int count = !strcmp(name, "fake_copy_f32") ||
                        !strcmp(name, "fake_tensor_map_check")
                    ? 3
                    : 0;
    for (int i = 0; i < count; ++i)
      memcpy(operation.params + 128 * i, params[i], paramSize(name, i));
  }
  return enqueue(stream, &operation);
}

static CUresult runLaunch(const Operation *operation) {
  counters[LAUNCHES]++;
  const Function *function = operation->function;
  if (function->module->simulated) {
    char error[4096];
    if (ptxsim_launch(function->module->simulated, function->name,
                      operation->grid, operation->block,
                      operation->sharedBytes,
                      (unsigned)function->maxDynamicShared, operation->params,
                      error, sizeof error) != 0) {
      fprintf(stderr, "fake CUDA driver: %s\n", error);
      return LAUNCH_FAILED;
    }
    return SUCCESS;
  }
  uint64_t words[3];
  if (!strcmp(function->name, "fake_copy_f32")) {
    for (int i = 0; i < 3; ++i)
      memcpy(&words[i], operation->params + 128 * i, 8);
    memmove((void *)(uintptr_t)words[0], (const void *)(uintptr_t)words[1],
            words[2] * 4);
  } else if (!strcmp(function->name, "fake_tensor_map_check")) {
    uint64_t map[16];
    memcpy(map, operation->params, sizeof map);
    memcpy(&words[1], operation->params + 128, 8);
    memcpy(&words[2], operation->params + 256, 8);
    if (map[0] != words[1] || map[2] != words[2] || map[3] != 7)
      return INVALID_VALUE;
  }
  return SUCCESS;
}

#ifndef FAKE_CUDA_WITHOUT_TENSOR_MAPS
/* Encodes what fake_tensor_map_check looks at: base, rank, dims[0], type. */
CUresult cuTensorMapEncodeTiled(uint64_t *map, int dataType, unsigned rank,
                                void *base, const uint64_t *dims,
                                const uint64_t *strides, const unsigned *box,
                                const unsigned *elementStrides, int interleave,
                                int swizzle, int promotion, int fill) {
  if (simulating()) {
    char error[512];
    if (ptxsim_encode_tensor_map(map, dataType, rank, base, dims, strides, box,
                                 elementStrides, interleave, swizzle,
                                 promotion, fill, error, sizeof error) != 0) {
      fprintf(stderr, "fake CUDA driver: cuTensorMapEncodeTiled: %s\n", error);
      return INVALID_VALUE;
    }
    return SUCCESS;
  }
  if ((uintptr_t)base % 16 != 0 || rank < 1 || rank > 5)
    return INVALID_VALUE;
  memset(map, 0, 128);
  map[0] = (uint64_t)(uintptr_t)base;
  map[1] = rank;
  map[2] = dims[0];
  map[3] = (uint64_t)dataType;
  return SUCCESS;
}
#endif
