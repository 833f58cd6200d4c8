/*===- PtxSim.h - TEST ONLY: ptxsim's C interface --------------*- C -*-===//
 *
 * What test/runtime/fake_cuda_driver.c calls in MBRT_FAKE_CUDA_MODE=simulate:
 * PTX modules are parsed here and their kernels interpreted, one CTA after
 * another, each CTA's threads interleaved at their synchronization points.
 * Device memory is host memory; the driver registers every allocation so
 * that a kernel's global accesses outside them are reported, not performed.
 * Errors come back as text in `error` (the launch fails).
 *
 *===----------------------------------------------------------------------===*/
#ifndef MBC_TEST_PTXSIM_PTXSIM_H
#define MBC_TEST_PTXSIM_PTXSIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ptxsim_module ptxsim_module;

/* Parses NUL-terminated PTX; NULL with a message in `log` if it cannot. */
ptxsim_module *ptxsim_load(const char *ptx, char *log, size_t logSize);
void ptxsim_unload(ptxsim_module *module);
int ptxsim_has_kernel(const ptxsim_module *module, const char *kernel);

/* Packs cuLaunchKernel's kernelParams into the kernel's parameter buffer.
   Returns its size, or -1 if it exceeds `capacity` or the kernel is absent. */
long ptxsim_pack_params(const ptxsim_module *module, const char *kernel,
                        void **params, unsigned char *buffer,
                        size_t capacity);

/* Runs the grid; 0 on success, else -1 with the message in `error`. */
int ptxsim_launch(const ptxsim_module *module, const char *kernel,
                  const unsigned grid[3], const unsigned block[3],
                  unsigned dynamicShared, unsigned maxDynamicShared,
                  const unsigned char *params, char *error,
                  size_t errorSize);

/* Device allocations kernels may touch. */
void ptxsim_track(const void *base, size_t size);
void ptxsim_untrack(const void *base);

/* cuTensorMapEncodeTiled: 0, or -1 with the reason in `error`. */
int ptxsim_encode_tensor_map(void *map, int dataType, unsigned rank,
                             void *base, const uint64_t *dims,
                             const uint64_t *strides, const unsigned *box,
                             const unsigned *elementStrides, int interleave,
                             int swizzle, int promotion, int fill,
                             char *error, size_t errorSize);

#ifdef __cplusplus
}
#endif

#endif /* MBC_TEST_PTXSIM_PTXSIM_H */
