// The decode-attention kernel (mb-cuda-test-build-decode-attention): one
// CTA per (head, sequence), warps over the cache rows 0..position (read
// from device memory) 4 keys a step, a warp-wide shuffle sum per score, an
// online softmax per warp merged through shared memory. ptxas accepts it without spills;
// the expectations record registers per thread (ptxas -v of CUDA 13).
// Unsupported specs are errors naming the field.
// REQUIRES: ptxas

// First: the example's local step (4 heads of 32, 9 positions), sm_90a.
// RUN: mbc-opt %s --mb-cuda-test-build-decode-attention="heads=4 head-dim=32 cache-length=9" -o %t.d1.mlir
// RUN: FileCheck %s --check-prefix=D1-IR < %t.d1.mlir
// RUN: mbc-opt %t.d1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.d1.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.d1.ptx
// RUN: %ptxas -arch=sm_90a -v %t.d1.ptx -o %t.d1.cubin 2>&1 | FileCheck %s --check-prefix=D1
// D1-IR: gpu.func @decode_attention(%{{.*}}: memref<1x128xf32>, %{{.*}}: memref<1x9x128xf32>, %{{.*}}: memref<1x9x128xf32>, %{{.*}}: memref<1xi64>, %{{.*}}: memref<1x128xf32>)
// D1-IR-SAME: grid = array<i64: 4, 1, 1>
// D1-IR-SAME: shared_bytes = 576 : i64
// Keys w, w + 4, ... up to min(position, L - 1), 4 keys a warp per step
// (step 4 warps x 4): the step's later keys clamped to the last one and
// masked to -inf past it.
// D1-IR: memref.load %{{.*}}[%{{.*}}] : memref<1xi64>
// D1-IR: arith.minui
// D1-IR: scf.for %{{.*}} = %{{.*}} to %[[END:.*]] step %c16
// D1-IR: %[[VALID:.*]] = arith.cmpi ult, %{{.*}}, %[[END]] : index
// D1-IR: arith.minui
// D1-IR: arith.select %[[VALID]], %{{.*}}, %{{.*}} : f32
// D1-IR: gpu.shuffle  xor
// D1-IR: gpu.barrier
// PTX-LABEL: .entry decode_attention(
// PTX: shfl.sync.bfly.b32
// PTX: ex2.approx.ftz.f32
// PTX: bar.sync
// PTX-NOT: .extern .func
// D1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// D1: Used 32 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// Second: a long global cache (16 heads of 64, 8192 positions, 8 warps), every
// layer's rows in one buffer (this call's from row 3 of 4); 8-byte loads.
// RUN: mbc-opt %s --mb-cuda-test-build-decode-attention="heads=16 head-dim=64 cache-length=8192 cache-rows=4 first-row=3 warps=8" -o %t.d2.mlir
// RUN: FileCheck %s --check-prefix=D2-IR < %t.d2.mlir
// RUN: mbc-opt %t.d2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.d2.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=D2-PTX < %t.d2.ptx
// RUN: %ptxas -arch=sm_90a -v %t.d2.ptx -o %t.d2.cubin 2>&1 | FileCheck %s --check-prefix=D2
// D2-IR: memref<4x8192x1024xf32>
// D2-IR-SAME: block = array<i64: 256, 1, 1>, grid = array<i64: 16, 1, 1>
// D2-PTX: ld.global.v2.b32
// D2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// D2: Used 40 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// Third: head-dim 128 (16-byte loads), sm_80.
// RUN: mbc-opt %s --mb-cuda-test-build-decode-attention="heads=8 head-dim=128 cache-length=2048" -o %t.d3.mlir
// RUN: mbc-opt %t.d3.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.d3.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=D3-PTX < %t.d3.ptx
// RUN: %ptxas -arch=sm_80 -v %t.d3.ptx -o %t.d3.cubin 2>&1 | FileCheck %s --check-prefix=D3
// D3-PTX: ld.global.v4.b32
// D3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// D3: Used 56 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// Fourth: the long cache split 16 ways (flash-decoding): CTA (head,
// sequence, s) takes the s-th run of ceil(end / 16) keys and writes its
// unnormalized state (weighted values, max, sum) to the partials; the
// combine kernel (a thread a feature) merges the 16 states of a head.
// RUN: mbc-opt %s --mb-cuda-test-build-decode-attention="heads=16 head-dim=64 cache-length=8192 warps=8 splits=16" -o %t.d4.mlir
// RUN: FileCheck %s --check-prefix=D4-IR < %t.d4.mlir
// RUN: mbc-opt %t.d4.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.d4.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=D4-PTX < %t.d4.ptx
// RUN: %ptxas -arch=sm_90a -v %t.d4.ptx -o %t.d4.cubin 2>&1 | FileCheck %s --check-prefix=D4
// D4-IR: gpu.func @decode_attention(%{{.*}}: memref<1x1024xf32>, %{{.*}}: memref<1x8192x1024xf32>, %{{.*}}: memref<1x8192x1024xf32>, %{{.*}}: memref<1xi64>, %{{.*}}: memref<1x16x16x66xf32>)
// D4-IR-SAME: grid = array<i64: 16, 1, 16>
// D4-IR-SAME: name = "partials"
// D4-IR: gpu.block_id  z
// D4-IR: arith.ceildivui
// D4-IR: scf.for
// D4-IR: gpu.barrier
// D4-IR: arith.cmpf oeq
// D4-IR: gpu.func @decode_attention_combine(%{{.*}}: memref<1x16x16x66xf32>, %{{.*}}: memref<1x1024xf32>)
// D4-IR-SAME: block = array<i64: 64, 1, 1>, grid = array<i64: 16, 1, 1>
// D4-PTX-LABEL: .entry decode_attention(
// D4-PTX: bar.sync
// D4-PTX-LABEL: .entry decode_attention_combine(
// D4-PTX-COUNT-16: ex2.approx.ftz.f32
// D4-PTX: div.rn.f32
// D4-PTX-NOT: .extern .func
// (ptxas reports the combine kernel first.)
// D4: Compiling entry function 'decode_attention_combine' for 'sm_90a'
// D4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// D4: Used 32 registers, used 0 barriers
// D4: Compiling entry function 'decode_attention' for 'sm_90a'
// D4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// D4: Used 48 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// One key a step (the loop as it was before the unrolling), for comparison.
// RUN: mbc-opt %s --mb-cuda-test-build-decode-attention="heads=8 head-dim=128 cache-length=2048 keys-per-step=1" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.d5.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.d5.ptx -o %t.d5.cubin 2>&1 | FileCheck %s --check-prefix=D5
// D5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// D5: Used 32 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// RUN: not mbc-opt %s --mb-cuda-test-build-decode-attention="keys-per-step=3" 2>&1 | FileCheck %s --check-prefix=UNROLL
// UNROLL: error: keys-per-step = 3 is not supported (1, 2 or 4)
// RUN: not mbc-opt %s --mb-cuda-test-build-decode-attention="splits=10 cache-length=9" 2>&1 | FileCheck %s --check-prefix=SPLITS
// SPLITS: error: splits = 10 is not supported (1 to 64, at most cache-length)
// RUN: not mbc-opt %s --mb-cuda-test-build-decode-attention="head-dim=96" 2>&1 | FileCheck %s --check-prefix=HEAD-DIM
// HEAD-DIM: error: head-dim = 96 is not supported (32, 64 or 128)
// RUN: not mbc-opt %s --mb-cuda-test-build-decode-attention="head-dim=128 warps=2" 2>&1 | FileCheck %s --check-prefix=WARPS
// WARPS: error: warps = 2 is not supported (1 to 32, with 32 x warps >= head-dim)
// RUN: not mbc-opt %s --mb-cuda-test-build-decode-attention="cache-rows=2 first-row=2" 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: cache rows 2..3 lie outside cache-rows = 2
// RUN: not mbc-opt %s --mb-cuda-test-build-decode-attention="cache-length=0" 2>&1 | FileCheck %s --check-prefix=SIZES
// SIZES: error: decode attention sizes must be positive, got sequences = 1, heads = 4, cache-length = 0

module {}
