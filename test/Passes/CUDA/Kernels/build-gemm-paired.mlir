// A paired GEMM (paired-n): C = A B^T and C2 = A B2^T in one launch. Grid x
// covers C's N tiles, then C2's; blocks past C's tiles run the same body
// on B2 and C2 with their tile index less C's tile count. Then ptxas.
// REQUIRES: ptxas

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=129 n=256 k=256 tile-m=64 paired-n=512" | mbc-opt --canonicalize | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=129 n=256 k=256 tile-m=64 paired-n=512" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.w.ptx -o /dev/null
// RUN: %ptxas -arch=sm_90a -v %t.w.ptx -o %t.w.cubin 2>&1 | FileCheck %s --check-prefix=W
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=129 n=256 k=256 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 paired-n=512" -o %t.s.mlir
// RUN: FileCheck %s --check-prefix=S-LAUNCH < %t.s.mlir
// RUN: mbc-opt %t.s.mlir --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.s.ptx -o /dev/null
// RUN: %ptxas -arch=sm_80 -v %t.s.ptx -o %t.s.cubin 2>&1 | FileCheck %s --check-prefix=S
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="paired-n=512 bias=true" 2>&1 | FileCheck %s --check-prefix=EPILOGUE
// RUN: not mbc-opt %s --mb-cuda-test-build-gemm="paired-n=100" 2>&1 | FileCheck %s --check-prefix=ALIGN

module {}

// Params a, b (tensor maps), c, b2 (a tensor map), c2; grid (2 + 4, 3).
// CHECK-LABEL: gpu.func @gemm(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: memref<129x256xf32>, %{{.*}}: !llvm.ptr, %{{.*}}: memref<129x512xf32>) kernel
// CHECK-SAME: grid = array<i64: 6, 3, 1>
// CHECK-SAME: {kind = "tensor_map", name = "b2", tensor_map = {base = "b2", box = array<i64: 64, 128>, dims = array<i64: 256, 512>, dtype = "bf16", strides_bytes = array<i64: 512>, swizzle = 128 : i64}}, {kind = "ptr", name = "c2"}]
// CHECK-SAME: mbc.tensor_map_params = array<i64: 0, 1, 3>
// CHECK: %[[B2:.*]] = builtin.unrealized_conversion_cast %arg3 : !llvm.ptr to !nvgpu.tensormap.descriptor
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[SECOND:.*]] = arith.cmpi uge, %[[BLOCK]], %c2 : index
// CHECK: scf.if %[[SECOND]] {
// CHECK: %[[TILE:.*]] = arith.subi %{{.*}}, %c2 : index
// CHECK: %[[N0:.*]] = arith.muli %[[TILE]], %c128 : index
// CHECK: nvgpu.tma.async.load %[[B2]][%c0, %[[N0]]]
// CHECK: vector.store {{.*}} : memref<129x512xf32>, vector<4xf32>
// CHECK: } else {
// CHECK-NOT: arith.subi %{{.*}}, %c2 : index
// CHECK: nvgpu.tma.async.load
// CHECK: vector.store {{.*}} : memref<129x256xf32>, vector<4xf32>
// CHECK: gpu.return

// Each product's body as the unpaired kernel's (W3 of gemm-ptxas.mlir: 90
// registers), with the second product's epilogue: 92.
// W: Compiling entry function 'gemm' for 'sm_90a'
// W: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// W: Used 92 registers, used 1 barriers, 48 bytes smem

// S-LAUNCH: grid = array<i64: 12, 3, 1>
// S-LAUNCH-SAME: {kind = "ptr", name = "b2"}, {kind = "ptr", name = "c2"}]
// S: Compiling entry function 'gemm' for 'sm_80'
// S: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// S: Used 78 registers

// EPILOGUE: error: a paired GEMM (paired-n = 512) takes no bias, activation or residual and B [N, K]
// ALIGN: error: paired-n = 100 is not a multiple of 8 (pad it)
