// Causal flash attention on wgmma (sm_90a): a producer warpgroup loads Q
// once and K/V blocks into two stages with TMA (3-D tensor maps: rows past
// a sequence's end load as zeros); two consumer warpgroups of 64 query
// rows compute S = Q K^T with descriptors for both operands (the first K
// step with scale-d 0), the online softmax, and O += P V with P in
// registers (the register-A form) and V transposed (tnspB = 1). The
// products of block j's scores and block j-1's P V are in flight together:
// wait_group 1 retires the scores, wait_group 0 the P V product.

// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=128 key-block=128 mma=wgmma" | FileCheck %s --check-prefix=IR
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=16 heads=8 seq-len=1000 head-dim=64 key-block=64 k-row=1024 v-row=1024 v-column=512 output-type=bf16 mma=wgmma" | FileCheck %s --check-prefix=TOKEN
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=128 key-block=128 mma=wgmma" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=__nv_ < %t.ptx
// RUN: FileCheck %s --check-prefix=PTX-ANY < %t.ptx
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1000 head-dim=64 key-block=64 causal=false element-type=f16 mma=wgmma" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.f16.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=F16 < %t.f16.ptx
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=128 key-block=128 mma=wgmma pingpong=true" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.pingpong.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PINGPONG < %t.pingpong.ptx

module {}

// Grid (1024 / 128 query blocks, 8 slices), 384 threads; shared memory
// Q 2 x [128][64] + K, V 2 stages x 2 x [128][64] bf16 + 1024 bytes of
// alignment = 164864 bytes; q, k, v are tensor maps [slice][row][column]
// with boxes [1][rows][64] and the 128-byte swizzle.
// IR: gpu.func @attention(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: memref<8x1024x128xf32>) kernel
// IR-SAME: block = array<i64: 384, 1, 1>, grid = array<i64: 8, 8, 1>
// IR-SAME: {kind = "tensor_map", name = "q", tensor_map = {base = "q", box = array<i64: 64, 128, 1>, dims = array<i64: 128, 1024, 8>, dtype = "bf16", strides_bytes = array<i64: 256, 262144>, swizzle = 128 : i64}}
// IR-SAME: {kind = "tensor_map", name = "k", tensor_map = {base = "k", box = array<i64: 64, 128, 1>
// IR-SAME: {kind = "tensor_map", name = "v", tensor_map = {base = "v", box = array<i64: 64, 128, 1>
// IR-SAME: {kind = "ptr", name = "o"}], shared_bytes = 164864 : i64}
// IR-SAME: mbc.tensor_map_params = array<i64: 0, 1, 2>
// IR: nvgpu.mbarrier.create -> <memorySpace = #gpu.address_space<workgroup>, num_barriers = 9>
// IR: nvvm.setmaxregister decrease 24
// IR: nvgpu.tma.async.load {{.*}} : <tensor = memref<1x128x64xbf16, #gpu.address_space<workgroup>>, swizzle = swizzle_128b
// IR: nvvm.setmaxregister increase 240
// IR: llvm.inline_asm has_side_effects {{.*}}wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// IR: llvm.inline_asm has_side_effects {{.*}}"wgmma.wait_group.sync.aligned 0;"
// IR: scf.for
// IR: llvm.inline_asm has_side_effects {{.*}}"wgmma.wait_group.sync.aligned 1;"
// IR: llvm.inline_asm has_side_effects {{.*}}"wgmma.wait_group.sync.aligned 0;"

// Token-major rows: sequences x positions x row elements, K from column 0
// and V from column 512 of one buffer; 64-key blocks.
// TOKEN: gpu.func @attention(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: memref<2x1000x512xbf16>) kernel
// TOKEN-SAME: grid = array<i64: 8, 16, 1>
// TOKEN-SAME: name = "q", tensor_map = {base = "q", box = array<i64: 64, 128, 1>, dims = array<i64: 512, 1000, 2>, dtype = "bf16", strides_bytes = array<i64: 1024, 1024000>
// TOKEN-SAME: name = "k", tensor_map = {base = "k", box = array<i64: 64, 64, 1>, dims = array<i64: 1024, 1000, 2>, dtype = "bf16", strides_bytes = array<i64: 2048, 2048000>
// TOKEN-SAME: name = "v", tensor_map = {base = "v", box = array<i64: 64, 64, 1>, dims = array<i64: 1024, 1000, 2>

// PTX-LABEL: .entry attention(
// PTX-NEXT: .param .align 64 .b8 attention_param_0[128]
// PTX: mbarrier.init.shared.b64
// PTX: setmaxnreg.inc.sync.aligned.u32 240;
// PTX: mbarrier.try_wait.parity.shared.b64
// K-major descriptors (Q and K): stride offset 1024 bytes, 128-byte
// swizzle.
// PTX: or.b64 {{.*}}, 4611686293305360384;
// PTX: wgmma.fence.sync.aligned;
// PTX-NEXT: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, 0, 1, 1, 0, 0;
// PTX-NEXT: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, p, 1, 1, 0, 0;
// PTX: wgmma.commit_group.sync.aligned;
// PTX: wgmma.wait_group.sync.aligned 0;
// PTX: shfl.sync.bfly
// PTX: ex2.approx.ftz.f32
// PTX: cvt.rn.bf16x2.f32
// V's MN-major descriptors: leading offset 128 x 128 bytes (one head-dim
// box of a stage).
// PTX: or.b64 {{.*}}, 4611686293372403712;
// PTX: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, 0, 1, 1, 0, 0;
// PTX: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd{{[0-9]+}}, p, 1, 1, 1;
// PTX: wgmma.wait_group.sync.aligned 1;
// PTX: mbarrier.arrive.shared.b64
// PTX: wgmma.wait_group.sync.aligned 0;
// The producer's and the store's blocks, wherever the layout puts them.
// PTX-ANY-DAG: setmaxnreg.dec.sync.aligned.u32 24;
// PTX-ANY-DAG: mbarrier.arrive.expect_tx.shared.b64
// PTX-ANY-DAG: cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// PTX-ANY-DAG: prefetch.tensormap
// PTX-ANY-DAG: st.global.v2.b32

// f16, non-causal, 64-key blocks (leading offset 64 x 128 bytes), head
// dim 64: m64n64 products.
// F16: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, 0, 1, 1, 0, 0;
// F16: or.b64 {{.*}}, 4611686293338849280;
// F16: wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {{.*}}, {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, %rd{{[0-9]+}}, p, 1, 1, 1;

// Ping-pong: consumer 1 first arrives on consumer 0's turn (named barrier
// 1); each consumer waits for its turn (bar.sync, 256 threads: its own 128
// wait, the other's 128 arrive) before issuing its products and arrives on
// the other's turn after.
// PINGPONG: setmaxnreg.inc.sync.aligned.u32 240;
// PINGPONG: bar.arrive
// PINGPONG: bar.sync {{.*}}, 256;
// PINGPONG: wgmma.mma_async.sync.aligned.m64n128k16
// PINGPONG: wgmma.commit_group.sync.aligned;
// PINGPONG: bar.arrive
// PINGPONG: wgmma.wait_group.sync.aligned 0;
