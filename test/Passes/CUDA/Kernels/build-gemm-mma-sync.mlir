// The sm_80 GEMM: cp.async stages, ldmatrix fragments, m16n8k16 mma.sync
// (nvgpu.mma.sync for f16, nvvm.mma.sync for bf16), epilogue from registers.

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=256 k=512 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 stages=3 element-type=f16" | mbc-opt | FileCheck %s --check-prefix=F16
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=256 k=512 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 stages=3 b-layout=kn bias=true gelu=erf" | mbc-opt | FileCheck %s --check-prefix=KN
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=256 k=512 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 stages=3" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=128 n=256 k=512 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 stages=3 b-layout=kn element-type=f16 residual=true" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.kn.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX-KN --implicit-check-not=__nv_ < %t.kn.ptx

module {}

// F16: gpu.func @gemm(%{{.*}}: memref<128x512xf16>, %{{.*}}: memref<256x512xf16>, %{{.*}}: memref<128x256xf32>) kernel
// F16-SAME: block = array<i64: 128, 1, 1>, grid = array<i64: 4, 2, 1>
// F16-SAME: params = [{kind = "ptr", name = "a"}, {kind = "ptr", name = "b"}, {kind = "ptr", name = "c"}]
// 3 stages x (64 + 64) rows x (32 + 8 padding) f16.
// F16-SAME: shared_bytes = 30720 : i64
// F16: memref.view {{.*}} to memref<3x64x40xf16, #gpu.address_space<workgroup>>
// F16: memref.view {{.*}} to memref<3x64x40xf16, #gpu.address_space<workgroup>>
// Prologue: two K blocks in flight, 2 x 16-byte copies of A and of B per thread.
// F16-COUNT-4: nvgpu.device_async_copy {{.*}}, 8 {bypassL1} : memref<{{.*}}xf16> to memref<3x64x40xf16, #gpu.address_space<workgroup>>
// F16-NEXT: nvgpu.device_async_create_group
// F16: scf.for
// F16: nvgpu.device_async_wait {{.*}} {numGroups = 2 : i32}
// F16: gpu.barrier
// Per K step of 16: 2 A fragments, 1 ldmatrix.x4 per 16 columns of B, 2 x 4 products.
// F16: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<3x64x40xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// F16-COUNT-8: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// F16: gpu.barrier
// F16: scf.yield
// F16: vector.extract {{.*}}[0] : vector<2xf32> from vector<2x2xf32>
// F16: vector.store {{.*}} : memref<128x256xf32>, vector<2xf32>

// B [K, N] is read with ldmatrix .trans; bf16 products go through nvvm.mma.sync.
// KN: memref.view {{.*}} to memref<3x32x72xbf16, #gpu.address_space<workgroup>>
// KN: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<3x32x72xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// KN: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// KN: math.erf

// PTX-LABEL: .target sm_80
// PTX: .visible .entry gemm(
// PTX-NEXT: .param .u64 .ptr .align 1 gemm_param_0,
// PTX: cp.async.cg.shared.global [{{.*}}], [{{.*}}], 16;
// PTX: cp.async.commit_group;
// PTX: cp.async.wait_group 2;
// PTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: st.global.v2.b32

// PTX-KN: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-KN: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTX-KN: ld.global.v2.b32
// PTX-KN: st.global.v2.b32
