// M and N that end in a partial tile: the grid rounds up, loads past the
// end are zero-filled (TMA out-of-bounds fill; cp.async with source size 0
// from a clamped address), stores are guarded. Whole tiles get no guards.

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=200 n=264 k=256 tile-n=64" | FileCheck %s --check-prefix=WGMMA
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=200 n=264 k=256 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 bias=true residual=true" | mbc-opt | FileCheck %s --check-prefix=SYNC
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=256 k=256 mma=mma_sync tile-m=64 tile-n=64 tile-k=32" | FileCheck %s --check-prefix=WHOLE
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=200 n=264 k=256 tile-n=64" --mb-cuda-kernels-to-ptx --mb-cuda-write-ptx=output=%t.w.ptx -o /dev/null
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.w.ptx -o %t.w.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS-WGMMA %}
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=200 n=264 k=256 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 bias=true residual=true" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.s.ptx -o /dev/null
// RUN: %if ptxas %{ %ptxas -arch=sm_80 -v %t.s.ptx -o %t.s.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS-SYNC %}

module {}

// ceil(264 / 64) x ceil(200 / 128); TMA loads stay unpredicated (the box
// past the tensor is zero-filled), the epilogue checks row < 200, col < 264.
// WGMMA: grid = array<i64: 5, 2, 1>
// WGMMA: tensor_map = {base = "a", box = array<i64: 64, 128>, dims = array<i64: 256, 200>
// WGMMA: vector.load {{.*}} : memref<128x64xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// WGMMA-NEXT: %[[ROW:.*]] = arith.addi
// WGMMA-NEXT: %[[COL:.*]] = arith.addi
// WGMMA: %[[R:.*]] = arith.cmpi ult, %[[ROW]], %c200
// WGMMA: %[[C:.*]] = arith.cmpi ult, %[[COL]], %c264
// WGMMA: %[[IN:.*]] = arith.andi %[[R]], %[[C]] : i1
// WGMMA: scf.if %[[IN]] {
// WGMMA-NEXT: vector.store

// SYNC: grid = array<i64: 5, 4, 1>
// A rows past 200 and B rows past 264: clamped to the last row, source size 0.
// SYNC: %[[INA:.*]] = arith.cmpi ult, %{{.*}}, %c200
// SYNC: arith.select %[[INA]], %{{.*}}, %c199
// SYNC: %[[SIZEA:.*]] = arith.select %[[INA]], %c8{{.*}}, %c0
// SYNC: nvgpu.device_async_copy {{.*}}, 8, %[[SIZEA]] {bypassL1} : memref<200x256xbf16>
// SYNC: %[[INB:.*]] = arith.cmpi ult, %{{.*}}, %c264
// SYNC: arith.select %[[INB]], %{{.*}}, %c263
// SYNC: nvgpu.device_async_copy {{.*}} : memref<264x256xbf16>
// SYNC: scf.for
// SYNC: scf.if
// SYNC-NEXT: vector.load {{.*}} : memref<264xf32>, vector<2xf32>

// WHOLE: grid = array<i64: 4, 4, 1>
// WHOLE-NOT: scf.if
// WHOLE-NOT: arith.cmpi ult, %{{.*}}, %c256

// PTXAS-WGMMA: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-WGMMA: Used 90 registers
// PTXAS-SYNC: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-SYNC: Used 80 registers
