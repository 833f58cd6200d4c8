// Unsupported fused local-layer specs are errors that name the option and
// value (mb-cuda-select-kernels checks the same limits quietly and keeps
// the layer's ops on the one-by-one selection).

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="positions=65" 2>&1 | FileCheck %s --check-prefix=POSITIONS
// POSITIONS: error: positions = 65 is not supported (a patch must fit the CTA's 64 rows)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="dim=96" 2>&1 | FileCheck %s --check-prefix=DIM
// DIM: error: dim = 96 is not supported (a positive multiple of 64)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="head-dim=40 heads=8" 2>&1 | FileCheck %s --check-prefix=HEAD-DIM
// HEAD-DIM: error: head-dim = 40 is not supported (a multiple of 16 from 16 to 128)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="heads=1" 2>&1 | FileCheck %s --check-prefix=INNER
// INNER: error: heads x head-dim = 32 is not a multiple of 64

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="hidden=100" 2>&1 | FileCheck %s --check-prefix=HIDDEN
// HIDDEN: error: hidden = 100 is not a positive multiple of 64

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="stages=5" 2>&1 | FileCheck %s --check-prefix=STAGES
// STAGES: error: stages = 5 is not supported (2 to 4)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="dim=512 heads=8 head-dim=64 hidden=2048" 2>&1 | FileCheck %s --check-prefix=SHARED
// SHARED: error: the layer's tiles need {{[0-9]+}} bytes of shared memory (more than 232448)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="dim=1024 heads=16 head-dim=64 hidden=4096" 2>&1 | FileCheck %s --check-prefix=TILES
// TILES: error: the layer streams {{[0-9]+}} weight tiles (more than 1024 unrolled): too large for one fused kernel

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="sequences=0" 2>&1 | FileCheck %s --check-prefix=SIZES
// SIZES: error: local layer sizes must be positive, got sequences = 0, positions = 9, heads = 4

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="norm=batch" 2>&1 | FileCheck %s --check-prefix=NORM
// NORM: error: mb-cuda-test-build-local-layer: norm = 'batch' (expected rms, rms_clamp or layer)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="element-type=f32" 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: mb-cuda-test-build-local-layer: element-type = 'f32' (expected bf16 or f16)

// RUN: not mbc-opt %s --mb-cuda-test-build-local-layer="epsilon=0" 2>&1 | FileCheck %s --check-prefix=EPS
// EPS: error: the norm epsilon must be positive
module {}
