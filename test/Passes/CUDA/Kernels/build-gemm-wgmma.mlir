// The sm_90a GEMM: TMA loads into 128-byte swizzled stages tracked by
// mbarriers, one nvgpu.warpgroup.mma per 64 rows and 16 K, an epilogue
// through shared memory; then the PTX LLVM's NVPTX backend makes of it.

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=512 k=1024 tile-m=128 tile-n=128 stages=3" | mbc-opt | FileCheck %s --check-prefix=NK
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=512 k=1024 b-layout=kn bias=true gelu=tanh residual=true element-type=f16" | mbc-opt | FileCheck %s --check-prefix=KN
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=512 k=1024" --mb-cuda-kernels-to-ptx --mb-cuda-write-ptx=output=%t.nk.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.nk.ptx
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=512 k=1024 b-layout=kn bias=true gelu=erf residual=true" --mb-cuda-kernels-to-ptx --mb-cuda-write-ptx=output=%t.kn.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX-KN --implicit-check-not=__nv_ < %t.kn.ptx

module {}

// Launch facts: grid (N / 128, M / 128), one warpgroup, 3 stages x (16 + 16)
// KiB + 1 KiB to align the swizzled tiles; A and B as tensor maps by value.
// NK-LABEL: gpu.module @kernels
// NK: gpu.func @gemm(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: memref<256x512xf32>) kernel
// NK-SAME: known_block_size = array<i32: 128, 1, 1>
// NK-SAME: block = array<i64: 128, 1, 1>, grid = array<i64: 4, 2, 1>
// NK-SAME: {kind = "tensor_map", name = "a", tensor_map = {base = "a", box = array<i64: 64, 128>, dims = array<i64: 1024, 256>, dtype = "bf16", strides_bytes = array<i64: 2048>, swizzle = 128 : i64}}
// NK-SAME: {kind = "tensor_map", name = "b", tensor_map = {base = "b", box = array<i64: 64, 128>, dims = array<i64: 1024, 512>, dtype = "bf16", strides_bytes = array<i64: 2048>, swizzle = 128 : i64}}
// NK-SAME: {kind = "ptr", name = "c"}], shared_bytes = 99328 : i64}
// NK-SAME: mbc.tensor_map_params = array<i64: 0, 1>
// NK: nvgpu.mbarrier.create -> <memorySpace = #gpu.address_space<workgroup>, num_barriers = 3>
// NK-COUNT-3: nvgpu.mbarrier.init
// The prologue fills the three stages: 16 KiB of A + 16 KiB of B each.
// NK: arith.constant 32768 : index
// NK: nvgpu.mbarrier.arrive.expect_tx
// NK: nvgpu.tma.async.load {{.*}} -> memref<128x64xbf16, #gpu.address_space<workgroup>>
// NK: nvgpu.tma.async.load {{.*}} -> memref<128x64xbf16, #gpu.address_space<workgroup>>
// K block 0 before the loop (its first products start from zero).
// NK: nvgpu.mbarrier.try_wait.parity
// NK-COUNT-8: nvgpu.warpgroup.mma
// NK: scf.for
// NK: nvgpu.mbarrier.try_wait.parity
// 2 row blocks x 4 K steps, B K-major (no transposeB).
// NK-COUNT-8: nvgpu.warpgroup.mma {{.*}} : <tensor = memref<64x16xbf16, #gpu.address_space<workgroup>>>, <tensor = memref<16x128xbf16, #gpu.address_space<workgroup>>>, <fragmented = vector<64x128xf32>>
// NK-NOT: transposeB
// Block k's products stay in flight; block k - 1's are retired (wait_group
// 1), and once every warp is past that, its stage gets block k - 1 + 3.
// NK-NOT: nvvm.wgmma.wait.group.sync.aligned
// NK: gpu.barrier
// NK-NEXT: arith.constant 1 : index
// NK-NEXT: arith.subi
// NK-NEXT: arith.constant 3 : index
// NK-NEXT: arith.addi
// NK: scf.if
// NK: nvgpu.tma.async.load
// NK: scf.yield
// The last products retired in every warp before the epilogue.
// NK: nvvm.wgmma.wait.group.sync.aligned 0
// NK-NEXT: gpu.barrier
// Each accumulator goes to the f32 staging tile two columns at a time, its
// 32-byte chunks swizzled by row % 4 (conflict-free stores).
// NK: builtin.unrealized_conversion_cast {{.*}} : !nvgpu.warpgroup.accumulator<fragmented = vector<64x128xf32>> to
// NK: arith.xori
// NK-NEXT: vector.store {{.*}} : memref<128x128xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// NK: builtin.unrealized_conversion_cast {{.*}} : !nvgpu.warpgroup.accumulator<fragmented = vector<64x128xf32>> to
// NK: vector.load {{.*}} : memref<128x128xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// NK-NEXT: arith.addi
// NK-NEXT: arith.addi
// NK-NEXT: vector.store {{.*}} : memref<256x512xf32>, vector<4xf32>

// B [K, N]: two 64-column boxes per stage, MN-major operand (transposeB);
// bias, tanh GELU and residual in the epilogue.
// KN: gpu.func @gemm(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: memref<256x512xf32>, %{{.*}}: memref<512xf32>, %{{.*}}: memref<256x512xf32>) kernel
// KN-SAME: {kind = "tensor_map", name = "b", tensor_map = {base = "b", box = array<i64: 64, 64>, dims = array<i64: 512, 1024>, dtype = "f16", strides_bytes = array<i64: 1024>, swizzle = 128 : i64}}
// KN-SAME: {kind = "ptr", name = "c"}, {kind = "ptr", name = "bias"}, {kind = "ptr", name = "residual"}]
// KN: nvgpu.tma.async.load {{.*}} -> memref<128x64xf16, #gpu.address_space<workgroup>>
// KN-NOT: nvgpu.warpgroup.mma
// KN: nvgpu.tma.async.load {{.*}} -> memref<64x64xf16, #gpu.address_space<workgroup>>
// KN-NOT: nvgpu.warpgroup.mma
// KN: nvgpu.tma.async.load {{.*}} -> memref<64x64xf16, #gpu.address_space<workgroup>>
// KN-NEXT: }
// KN: nvgpu.warpgroup.mma {{.*}} {transposeB} : <tensor = memref<64x16xf16, #gpu.address_space<workgroup>>>, <tensor = memref<16x128xf16, #gpu.address_space<workgroup>>>
// KN: vector.load {{.*}} : memref<512xf32>, vector<4xf32>
// KN: arith.addf
// KN: math.tanh
// KN: vector.load {{.*}} : memref<256x512xf32>, vector<4xf32>
// KN: arith.addf
// KN: vector.store

// PTX-LABEL: .target sm_90a
// PTX: .visible .entry gemm(
// PTX-NEXT: .param .align 64 .b8 gemm_param_0[128],
// PTX-NEXT: .param .align 64 .b8 gemm_param_1[128],
// PTX-NEXT: .param .u64 .ptr .align 1 gemm_param_2
// PTX: .maxntid 128, 1, 1
// PTX: cvta.param.u64
// PTX: mbarrier.init.shared.b64
// PTX: mbarrier.arrive.expect_tx.shared.b64
// PTX: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// PTX: mbarrier.try_wait.parity.shared.b64
// PTX: wgmma.fence.sync.aligned
// PTX: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 0, 0;
// PTX: wgmma.commit_group.sync.aligned
// PTX-NEXT: wgmma.wait_group.sync.aligned 1
// In the loop: one K block's group in flight while the next is issued; the
// previous block's stage is refilled after a barrier.
// PTX: wgmma.commit_group.sync.aligned
// PTX-NEXT: wgmma.wait_group.sync.aligned 1
// PTX-NEXT: bar.sync 0
// PTX: cp.async.bulk.tensor.2d
// PTX: wgmma.wait_group.sync.aligned 0
// PTX-NEXT: bar.sync 0
// PTX: ld.shared.v4.b32
// PTX: st.global.v4.b32

// The transposed B operand: imm-trans-b = 1.
// PTX-KN: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, p, 1, 1, 0, 1;
// PTX-KN: ld.shared.v4.b32
// PTX-KN: ld.global.v4.b32
// PTX-KN: st.global.v4.b32
