// ptxas accepts the flash-attention kernels below without spills; the
// expectations record registers per thread (ptxas -v of CUDA 13) and the
// dynamic shared memory (mbc.launch). Not listed: 128-row blocks with
// 64-key blocks, which need 255 registers at head dim 64 and spill at 128.
// REQUIRES: ptxas

// A1 is causal, head-dim 64, 32-key blocks, bf16 (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=64 key-block=32" -o %t.a1.mlir
// RUN: FileCheck %s --check-prefix=A1-LAUNCH < %t.a1.mlir
// RUN: mbc-opt %t.a1.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.a1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.a1.ptx -o %t.a1.cubin 2>&1 | FileCheck %s --check-prefix=A1
// A1-LAUNCH: grid = array<i64: 16, 8, 1>
// A1-LAUNCH-SAME: shared_bytes = 27648 : i64
// A1: Compiling entry function 'attention' for 'sm_80'
// A1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A1: Used 96 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// A2 is non-causal, head-dim 64, 64-key blocks, bf16 (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=64 causal=false" -o %t.a2.mlir
// RUN: FileCheck %s --check-prefix=A2-LAUNCH < %t.a2.mlir
// RUN: mbc-opt %t.a2.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.a2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.a2.ptx -o %t.a2.cubin 2>&1 | FileCheck %s --check-prefix=A2
// A2-LAUNCH: grid = array<i64: 16, 8, 1>
// A2-LAUNCH-SAME: shared_bytes = 46080 : i64
// A2: Compiling entry function 'attention' for 'sm_80'
// A2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A2: Used 130 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// A3 is causal, head-dim 128, 64-key blocks, bf16 (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=128" -o %t.a3.mlir
// RUN: FileCheck %s --check-prefix=A3-LAUNCH < %t.a3.mlir
// RUN: mbc-opt %t.a3.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.a3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.a3.ptx -o %t.a3.cubin 2>&1 | FileCheck %s --check-prefix=A3
// A3-LAUNCH: grid = array<i64: 16, 8, 1>
// A3-LAUNCH-SAME: shared_bytes = 87040 : i64
// A3: Compiling entry function 'attention' for 'sm_80'
// A3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A3: Used 216 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// A4 is causal, head-dim 128, 32-key blocks, f16 (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=128 key-block=32 element-type=f16" -o %t.a4.mlir
// RUN: FileCheck %s --check-prefix=A4-LAUNCH < %t.a4.mlir
// RUN: mbc-opt %t.a4.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.a4.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.a4.ptx -o %t.a4.cubin 2>&1 | FileCheck %s --check-prefix=A4
// A4-LAUNCH: grid = array<i64: 16, 8, 1>
// A4-LAUNCH-SAME: shared_bytes = 52224 : i64
// A4: Compiling entry function 'attention' for 'sm_80'
// A4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A4: Used 166 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// A5 is causal, head-dim 128, 64-key blocks, bf16 (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=128" -o %t.a5.mlir
// RUN: FileCheck %s --check-prefix=A5-LAUNCH < %t.a5.mlir
// RUN: mbc-opt %t.a5.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.a5.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.a5.ptx -o %t.a5.cubin 2>&1 | FileCheck %s --check-prefix=A5 --implicit-check-not=C7508
// A5-LAUNCH: grid = array<i64: 16, 8, 1>
// A5-LAUNCH-SAME: shared_bytes = 87040 : i64
// A5: Compiling entry function 'attention' for 'sm_90a'
// A5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A5: Used 225 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// A6 is causal, head-dim 32 (the example model's heads), 32-key blocks,
// bf16 (sm_80).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=32 key-block=32" -o %t.a6.mlir
// RUN: FileCheck %s --check-prefix=A6-LAUNCH < %t.a6.mlir
// RUN: mbc-opt %t.a6.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.a6.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.a6.ptx -o %t.a6.cubin 2>&1 | FileCheck %s --check-prefix=A6
// A6-LAUNCH: grid = array<i64: 16, 8, 1>
// A6-LAUNCH-SAME: shared_bytes = 15360 : i64
// A6: Compiling entry function 'attention' for 'sm_80'
// A6: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A6: Used 72 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// A7 is the local kernel at head-dim 32: patches of 16 rows (sm_90a).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=32 patch-length=16" -o %t.a7.mlir
// RUN: mbc-opt %t.a7.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.a7.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.a7.ptx -o %t.a7.cubin 2>&1 | FileCheck %s --check-prefix=A7 --implicit-check-not=C7508
// A7: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// A7: Used 63 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// T1-T3 are token-major (the pipeline's global attention on the
// projections' rows), ragged sequences, bf16 O rows (sm_90a). T1 is the
// example model's shape: 129 positions, 4 heads of 32, K and V the halves of
// one to_kv row; T2 head-dim 64 with separate K and V; T3 head-dim 128 with
// 64-key blocks and a fused K/V row.
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 heads=4 seq-len=129 head-dim=32 key-block=32 k-row=256 v-row=256 v-column=128 output-type=bf16" -o %t.t1.mlir
// RUN: FileCheck %s --check-prefix=T1-LAUNCH < %t.t1.mlir
// RUN: mbc-opt %t.t1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.t1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.t1.ptx -o %t.t1.cubin 2>&1 | FileCheck %s --check-prefix=T1 --implicit-check-not=C7508
// T1-LAUNCH: gpu.func @attention(%{{.*}}: memref<2x129x128xbf16>, %{{.*}}: memref<2x129x256xbf16>, %{{.*}}: memref<2x129x256xbf16>, %{{.*}}: memref<2x129x128xbf16>)
// T1-LAUNCH-SAME: grid = array<i64: 3, 8, 1>
// T1-LAUNCH-SAME: shared_bytes = 15360 : i64
// T1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// T1: Used 72 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=16 heads=8 seq-len=1000 head-dim=64 key-block=32 output-type=bf16" -o %t.t2.mlir
// RUN: mbc-opt %t.t2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.t2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.t2.ptx -o %t.t2.cubin 2>&1 | FileCheck %s --check-prefix=T2 --implicit-check-not=C7508
// T2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// T2: Used 96 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=16 heads=8 seq-len=1000 head-dim=128 key-block=64 q-row=1024 k-row=2048 v-row=2048 v-column=1024 output-type=bf16" -o %t.t3.mlir
// RUN: mbc-opt %t.t3.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.t3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.t3.ptx -o %t.t3.cubin 2>&1 | FileCheck %s --check-prefix=T3 --implicit-check-not=C7508
// T3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// T3: Used 197 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// R1-R2: 128-row query blocks (row-tiles=2: two 16-row tiles a warp share
// every K/V fragment it reads from shared memory), what the pipeline picks
// for global attention with head dims up to 64: the example's shape and
// T2's. Half the CTAs, Q tile [128][D + 8].
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 heads=4 seq-len=129 head-dim=32 key-block=32 k-row=256 v-row=256 v-column=128 output-type=bf16 row-tiles=2" -o %t.r1.mlir
// RUN: FileCheck %s --check-prefix=R1-LAUNCH < %t.r1.mlir
// RUN: mbc-opt %t.r1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.r1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.r1.ptx -o %t.r1.cubin 2>&1 | FileCheck %s --check-prefix=R1 --implicit-check-not=C7508
// R1-LAUNCH: grid = array<i64: 2, 8, 1>
// R1-LAUNCH-SAME: shared_bytes = 20480 : i64
// R1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// R1: Used 153 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=16 heads=8 seq-len=1000 head-dim=64 key-block=32 output-type=bf16 row-tiles=2" -o %t.r2.mlir
// RUN: FileCheck %s --check-prefix=R2-LAUNCH < %t.r2.mlir
// RUN: mbc-opt %t.r2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.r2.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=R2-PTX < %t.r2.ptx
// RUN: %ptxas -arch=sm_90a -v %t.r2.ptx -o %t.r2.cubin 2>&1 | FileCheck %s --check-prefix=R2 --implicit-check-not=C7508
// R2-LAUNCH: grid = array<i64: 8, 16, 1>
// R2-LAUNCH-SAME: shared_bytes = 36864 : i64
// Two key-block loops, 64 MMAs each (2 tiles x (S: 2 x 4 x 2, PV:
// 2 x 4 x 2)): the blocks wholly before the CTA's first row without the
// causal mask, then the masked rest.
// R2-LAUNCH: scf.for
// R2-LAUNCH-NOT: arith.cmpi ugt
// R2-LAUNCH: scf.yield
// R2-LAUNCH: scf.for
// R2-LAUNCH: arith.cmpi ugt
// R2-LAUNCH: scf.yield
// R2-PTX: .minnctapersm 2
// R2-PTX-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// R2-PTX-NOT: mma.sync
// R2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// R2: Used 204 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}
// Head-dim 128 with two tiles fits the registers only with Q re-read
// from shared memory for every key block (the pipeline's choice there; with
// Q held in registers ptxas spills): 2 x 8 ldmatrix.x4 of Q per key block
// in each loop.
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=16 heads=8 seq-len=1000 head-dim=128 key-block=32 output-type=bf16 row-tiles=2 reload-query=true" -o %t.r3.mlir
// RUN: FileCheck %s --check-prefix=R3-LAUNCH < %t.r3.mlir
// RUN: mbc-opt %t.r3.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.r3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.r3.ptx -o %t.r3.cubin 2>&1 | FileCheck %s --check-prefix=R3 --implicit-check-not=C7508
// R3-LAUNCH: grid = array<i64: 8, 16, 1>
// R3-LAUNCH-SAME: shared_bytes = 69632 : i64
// R3-LAUNCH: scf.for
// R3-LAUNCH-COUNT-16: nvgpu.ldmatrix {{.*}} : memref<128x136xbf16
// R3-LAUNCH-NOT: memref<128x136xbf16
// R3-LAUNCH: scf.yield
// R3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// R3: Used 253 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="row-tiles=3" 2>&1 | FileCheck %s --check-prefix=TILES
// TILES: error: row-tiles = 3 is not supported (1 or 2 tiles of 16 query rows a warp)
// RUN: not mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=32 patch-length=16 row-tiles=2" 2>&1 | FileCheck %s --check-prefix=PATCH-TILES
// PATCH-TILES: error: patch-length needs row-tiles = 1 (a 64-row query block)

// sm_90a, mma = wgmma (384 threads: the kernel starts at .maxnreg 168,
// what 384 threads may hold, which ptxas reports; the consumers raise
// theirs to 240 with setmaxnreg, the producer lowers its to 24; no sm_90a
// run may say C7508, setmaxnreg ignored). W1 is causal, head-dim
// 64, 128-key blocks, bf16; W2 head-dim 128; W3 the token-major layout
// the pipeline uses (1,000 positions, bf16 O); W4 f16, not causal,
// head-dim 128 with 64-key blocks; W5 head-dim 64 with 64-key blocks.
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=4096 head-dim=64 key-block=128 mma=wgmma" -o %t.w1.mlir
// RUN: FileCheck %s --check-prefix=W1-LAUNCH < %t.w1.mlir
// RUN: mbc-opt %t.w1.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w1.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w1.ptx -o %t.w1.cubin 2>&1 | FileCheck %s --check-prefix=W1 --implicit-check-not=C7508
// W1-LAUNCH: block = array<i64: 384, 1, 1>, grid = array<i64: 32, 8, 1>
// W1-LAUNCH-SAME: shared_bytes = 82944 : i64
// W1: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W1: Used 168 registers, used 1 barriers, 80 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=4096 head-dim=128 key-block=128 mma=wgmma" -o %t.w2.mlir
// RUN: FileCheck %s --check-prefix=W2-LAUNCH < %t.w2.mlir
// RUN: mbc-opt %t.w2.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w2.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w2.ptx -o %t.w2.cubin 2>&1 | FileCheck %s --check-prefix=W2 --implicit-check-not=C7508
// W2-LAUNCH: shared_bytes = 164864 : i64
// W2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W2: Used 168 registers, used 1 barriers, 80 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=16 heads=8 seq-len=1000 head-dim=64 key-block=128 output-type=bf16 mma=wgmma" -o %t.w3.mlir
// RUN: FileCheck %s --check-prefix=W3-LAUNCH < %t.w3.mlir
// RUN: mbc-opt %t.w3.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w3.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w3.ptx -o %t.w3.cubin 2>&1 | FileCheck %s --check-prefix=W3 --implicit-check-not=C7508
// W3-LAUNCH: grid = array<i64: 8, 16, 1>
// W3-LAUNCH-SAME: shared_bytes = 82944 : i64
// W3: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W3: Used 168 registers, used 1 barriers, 80 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=128 key-block=64 element-type=f16 causal=false mma=wgmma" -o %t.w4.mlir
// RUN: FileCheck %s --check-prefix=W4-LAUNCH < %t.w4.mlir
// RUN: mbc-opt %t.w4.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w4.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w4.ptx -o %t.w4.cubin 2>&1 | FileCheck %s --check-prefix=W4 --implicit-check-not=C7508
// W4-LAUNCH: shared_bytes = 99328 : i64
// W4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W4: Used 168 registers, used 1 barriers, 80 bytes smem
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=1024 head-dim=64 key-block=64 mma=wgmma" -o %t.w5.mlir
// RUN: mbc-opt %t.w5.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w5.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w5.ptx -o %t.w5.cubin 2>&1 | FileCheck %s --check-prefix=W5 --implicit-check-not=C7508
// W5: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W5: Used 168 registers, used 1 barriers, 80 bytes smem
// W6 is W2 with the ping-pong schedule (named barriers 1 and 2; ptxas
// counts all 16 as used when the id is a register).
// RUN: mbc-opt %s --mb-cuda-test-build-attention="seq-len=4096 head-dim=128 key-block=128 mma=wgmma pingpong=true" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w6.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w6.ptx -o %t.w6.cubin 2>&1 | FileCheck %s --check-prefix=W6 --implicit-check-not=C7508
// W6: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W6: Used 168 registers, used 16 barriers, 80 bytes smem

module {}
