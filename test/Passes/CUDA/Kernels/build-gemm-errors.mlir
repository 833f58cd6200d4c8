// Unsupported GEMM specs are errors that name the option and its value.

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=100 n=100 k=256" 2>&1 | FileCheck %s --check-prefix=N-ALIGN
// N-ALIGN: error: GEMM N = 100 is not a multiple of 8 (rows of B, C and the epilogue vectors are 16-byte aligned: pad N)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=128 k=100" 2>&1 | FileCheck %s --check-prefix=K-REMAINDER
// K-REMAINDER: error: GEMM K = 100 is not a multiple of tile-k = 64

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="tile-k=32" 2>&1 | FileCheck %s --check-prefix=WGMMA-TILE-K
// WGMMA-TILE-K: error: tile-k = 32 is not supported by mma = wgmma: the 128-byte swizzle holds exactly 64 bf16/f16 elements per row (use 64)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="tile-m=256" 2>&1 | FileCheck %s --check-prefix=WGMMA-TILE-M
// WGMMA-TILE-M: error: tile-m = 256 is not supported by mma = wgmma with consumers = 1 (64 or 128: m64 blocks per consumer warpgroup)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="tile-m=64 consumers=2" 2>&1 | FileCheck %s --check-prefix=WS-TILE-M
// WS-TILE-M: error: tile-m = 64 is not supported by mma = wgmma with consumers = 2 (128 or 256: m64 blocks per consumer warpgroup)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="consumers=3" 2>&1 | FileCheck %s --check-prefix=CONSUMERS
// CONSUMERS: error: consumers = 3 is not supported by mma = wgmma (1, or 2 consumer warpgroups with a producer)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="mma=mma_sync tile-k=32 consumers=2" 2>&1 | FileCheck %s --check-prefix=MMA-SYNC-CONSUMERS
// MMA-SYNC-CONSUMERS: error: consumers = 2 needs mma = wgmma (mma_sync kernels are one 4-warp CTA: use 1)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="n=512 tile-n=256" 2>&1 | FileCheck %s --check-prefix=WGMMA-REGISTERS
// WGMMA-REGISTERS: error: tile-m = 128 with tile-n = 256 and consumers = 1 needs 256 accumulator registers per thread (at most 128): lower tile-n or raise consumers

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="n=512 tile-m=256 tile-n=256 consumers=2" 2>&1 | FileCheck %s --check-prefix=WS-REGISTERS
// WS-REGISTERS: error: tile-m = 256 with tile-n = 256 and consumers = 2 needs 256 accumulator registers per thread (at most 128): lower tile-n or raise consumers

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=1024 tile-m=64 tile-n=256 stages=8" 2>&1 | FileCheck %s --check-prefix=SHARED
// SHARED: error: the wgmma tiles need 328704 bytes of shared memory (more than 232448): lower stages or the tiles

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="persistent=132" 2>&1 | FileCheck %s --check-prefix=PERSISTENT-WS
// PERSISTENT-WS: error: persistent = 132 needs consumers = 2 (a producer warpgroup) and no paired product
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="consumers=2 paired-n=256 persistent=132" 2>&1 | FileCheck %s --check-prefix=PERSISTENT-WS
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="mma=mma_sync tile-k=32 persistent=132" 2>&1 | FileCheck %s --check-prefix=PERSISTENT-MMA-SYNC
// PERSISTENT-MMA-SYNC: error: persistent needs mma = wgmma
// The epilogue tile no longer overlays the stages: 4 x 48 KiB + 128 KiB
// (+ 1 KiB alignment).
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="tile-n=256 stages=4 consumers=2 persistent=132" 2>&1 | FileCheck %s --check-prefix=PERSISTENT-SHARED
// PERSISTENT-SHARED: error: the wgmma tiles need 328704 bytes of shared memory (more than 232448): lower stages or the tiles

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="stages=1" 2>&1 | FileCheck %s --check-prefix=STAGES
// STAGES: error: stages = 1 must be between 2 and 8

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="mma=mma_sync tile-m=48" 2>&1 | FileCheck %s --check-prefix=MMA-SYNC-TILE
// MMA-SYNC-TILE: error: tile-m = 48, tile-n = 128 are not supported by mma = mma_sync (multiples of 32 up to 128: 2 x 2 warps of m16 x n16 fragments)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="mma=mma_sync tile-m=32 tile-n=32 tile-k=16" 2>&1 | FileCheck %s --check-prefix=COPIES
// COPIES: error: tiles tile-m x tile-k = 32 x 16 do not split into 16-byte copies over 128 threads

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="element-type=f32" 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: mb-cuda-test-build-gemm: element-type = 'f32' (expected bf16 or f16)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="mma=wmma" 2>&1 | FileCheck %s --check-prefix=MMA
// MMA: error: mb-cuda-test-build-gemm: mma = 'wmma' (expected wgmma or mma_sync)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="gelu=swish" 2>&1 | FileCheck %s --check-prefix=GELU
// GELU: error: mb-cuda-test-build-gemm: gelu = 'swish' (expected none, erf, tanh or relu)

// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="b-layout=mn" 2>&1 | FileCheck %s --check-prefix=LAYOUT
// LAYOUT: error: mb-cuda-test-build-gemm: b-layout = 'mn' (expected nk or kn)

// A module without gpu.binary has no PTX to write.
// RUN: not mbc-opt %s --mb-cuda-write-ptx 2>&1 | FileCheck %s --check-prefix=NO-PTX
// NO-PTX: error: mb-cuda-write-ptx: no gpu.binary with PTX in the module

module {}

// A norm prologue keeps the tile's whole A in shared memory: 128 rows of
// 2048 features do not fit; a persistent kernel's rows change per tile.
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=256 k=2048 norm=rms" 2>&1 | FileCheck %s --check-prefix=NORM-SHARED
// NORM-SHARED: error: the wgmma tiles need 574464 bytes of shared memory (more than 232448), 524288 of them the norm prologue's rows (tile-m x K): lower stages or the tiles
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=1024 n=1024 k=256 consumers=2 persistent=8 stages=2 norm=rms" 2>&1 | FileCheck %s --check-prefix=NORM-PERSISTENT
// NORM-PERSISTENT: error: a norm prologue is not supported with persistent (a CTA's rows change from tile to tile)
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=100 n=128 k=256 norm=rms norm-positions=8 norm-token-shift=true" 2>&1 | FileCheck %s --check-prefix=NORM-POSITIONS
// NORM-POSITIONS: error: norm rows = 100 must be a positive multiple of positions = 8
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="norm=softmax" 2>&1 | FileCheck %s --check-prefix=NORM-KIND
// NORM-KIND: error: mb-cuda-test-build-gemm: norm = 'softmax' (expected none, rms, rms_clamp or layer)

// A log-softmax epilogue needs whole rows in a CTA's staged tile.
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="mma=mma_sync tile-k=32 log-softmax=true" 2>&1 | FileCheck %s --check-prefix=LOGSOFTMAX-MMA
// LOGSOFTMAX-MMA: error: a log-softmax epilogue needs mma = wgmma with consumers = 1 (its staged tile holds whole rows)
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="n=256 tile-n=128 log-softmax=true" 2>&1 | FileCheck %s --check-prefix=LOGSOFTMAX-N
// LOGSOFTMAX-N: error: a log-softmax epilogue needs N = 256 <= tile-n = 128 (a CTA holds whole rows)
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="n=256 tile-n=256 tile-m=64 log-softmax=true gelu=erf" 2>&1 | FileCheck %s --check-prefix=LOGSOFTMAX-EPILOGUE
// LOGSOFTMAX-EPILOGUE: error: a log-softmax epilogue takes only a bias (no activation, residual, rotary or paired product) and writes f32
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="m=256 merge-positions=8" 2>&1 | FileCheck %s --check-prefix=MERGE
// MERGE: error: merged rows (merge-positions = 8, merge-sequences = 1) need a log-softmax epilogue and M = 256 a multiple of (positions + 1) x sequences
