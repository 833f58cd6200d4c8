// Unsupported attention specs are errors that name the option and value.

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="head-dim=32 key-block=64 mma=wgmma" 2>&1 | FileCheck %s --check-prefix=WGMMA-HEAD-DIM
// WGMMA-HEAD-DIM: error: head-dim = 32 is not supported by mma = wgmma (64 or 128: whole 128-byte swizzled rows)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="key-block=32 mma=wgmma" 2>&1 | FileCheck %s --check-prefix=WGMMA-KEY-BLOCK
// WGMMA-KEY-BLOCK: error: key-block = 32 is not supported by mma = wgmma (64 or 128)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 patch-length=16 mma=wgmma" 2>&1 | FileCheck %s --check-prefix=WGMMA-PATCH
// WGMMA-PATCH: error: patch-length is not supported by mma = wgmma (local attention uses mma_sync)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="row-tiles=2 mma=wgmma" 2>&1 | FileCheck %s --check-prefix=WGMMA-TILES
// WGMMA-TILES: error: row-tiles and reload-query do not apply to mma = wgmma (128-row query blocks, Q read from shared memory)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="pingpong=true" 2>&1 | FileCheck %s --check-prefix=PINGPONG
// PINGPONG: error: pingpong needs mma = wgmma (two consumer warpgroups taking turns)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="mma=hmma" 2>&1 | FileCheck %s --check-prefix=MMA
// MMA: error: mb-cuda-test-build-attention: mma = 'hmma' (expected mma_sync or wgmma)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="batch-heads=4 heads=4 seq-len=100 head-dim=64 q-row=260 mma=wgmma" 2>&1 | FileCheck %s --check-prefix=WGMMA-ROW
// WGMMA-ROW: error: q rows of 260 elements with heads from column 0 do not hold heads x head-dim = 256 columns on 16-byte boundaries

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="head-dim=96" 2>&1 | FileCheck %s --check-prefix=HEAD-DIM
// HEAD-DIM: error: head-dim = 96 is not supported (32, 64 or 128)

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="seq-len=1000" 2>&1 | FileCheck %s --check-prefix=SEQ
// SEQ: error: seq-len = 1000 is not a multiple of 64 (the packed layout's query block 64 and key-block: pad the sequence, causal masking hides padded keys from real queries; the token-major layout takes any length)

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="seq-len=960 key-block=128" 2>&1 | FileCheck %s --check-prefix=SEQ-KEYS
// SEQ-KEYS: error: seq-len = 960 is not a multiple of 128

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="key-block=48" 2>&1 | FileCheck %s --check-prefix=KEY-BLOCK
// KEY-BLOCK: error: key-block = 48 is not supported (32, 64 or 128)

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="element-type=f32" 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: mb-cuda-test-build-attention: element-type = 'f32' (expected bf16 or f16)

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="batch-heads=0" 2>&1 | FileCheck %s --check-prefix=SIZES
// SIZES: error: attention sizes must be positive, got batch-heads = 0, seq-len = 1024

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="patch-length=65" 2>&1 | FileCheck %s --check-prefix=PATCH
// PATCH: error: patch-length = 65 with key-block = 64 is not supported (at most 64 rows, with key-block 64)

// RUN: not mbc-opt %s --mb-cuda-test-build-attention="patch-length=8 key-block=32" 2>&1 | FileCheck %s --check-prefix=PATCH-KEYS
// PATCH-KEYS: error: patch-length = 8 with key-block = 32 is not supported

// Token-major: heads must divide batch-heads, rows must hold every head on
// 16-byte boundaries, no patches, O f32 or the input type.
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="batch-heads=6 heads=4" 2>&1 | FileCheck %s --check-prefix=HEADS
// HEADS: error: batch-heads = 6 is not a multiple of heads = 4
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="heads=4 k-row=256 k-column=200" 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: k rows of 256 elements with heads from column 200 do not hold heads x head-dim = 256 columns on 16-byte boundaries
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="heads=4 q-row=260" 2>&1 | FileCheck %s --check-prefix=ALIGN
// ALIGN: error: q rows of 260 elements with heads from column 0 do not hold heads x head-dim = 256 columns on 16-byte boundaries
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="heads=4 patch-length=16" 2>&1 | FileCheck %s --check-prefix=TM-PATCH
// TM-PATCH: error: the token-major layout has no patch-length (local attention is packed)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="output-type=f16" 2>&1 | FileCheck %s --check-prefix=OUT
// OUT: error: mb-cuda-test-build-attention: output-type = 'f16' (expected f32 or bf16)

module {}
