/*===- ArtifactFormat.h - constants of the .mbx artifact format ----*- C -*-===
 *
 * Shared by the compiler (writer) and libmbrt (reader); plain C, no
 * dependencies. The format is described in docs/artifact.md.
 *
 *===----------------------------------------------------------------------===*/
#ifndef MBC_ARTIFACTFORMAT_H
#define MBC_ARTIFACTFORMAT_H

#include <stdint.h>

#define MBX_MAGIC "MBX\0\r\n\x1a\n"
#define MBX_MAGIC_SIZE 8
#define MBX_FORMAT_VERSION 1u
#define MBX_HEADER_SIZE 64u
#define MBX_SECTION_ENTRY_SIZE 40u
#define MBX_ALIGNMENT 64u

enum mbx_section_kind {
  MBX_SECTION_META = 1,
  MBX_SECTION_CPU_CODE = 2,
  MBX_SECTION_WEIGHTS = 3,
  MBX_SECTION_CUDA_CODE = 4,
};

/* FNV-1a 64 over `size` bytes, continuing from `hash` (start with
 * MBX_FNV_OFFSET). */
#define MBX_FNV_OFFSET 0xcbf29ce484222325ull
#define MBX_FNV_PRIME 0x100000001b3ull
static inline uint64_t mbx_fnv1a(uint64_t hash, const void *data,
                                 uint64_t size) {
  const unsigned char *bytes = (const unsigned char *)data;
  for (uint64_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= MBX_FNV_PRIME;
  }
  return hash;
}

typedef void (*mbrt_workgroup_fn)(void *captures, int64_t workgroup);

/* Passed as args[0] to every compiled entry point. */
typedef struct mbrt_host_context {
  /* Runs fn(captures, w) for every w in [0, count), possibly in parallel;
   * returns when all have finished. */
  void (*parallel_for)(void *runtime, mbrt_workgroup_fn fn, void *captures,
                       int64_t count);
  void *runtime;
} mbrt_host_context;

#endif /* MBC_ARTIFACTFORMAT_H */
