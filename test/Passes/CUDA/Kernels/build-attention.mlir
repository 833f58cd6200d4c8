// Causal flash attention on mma.sync: Q fragments loaded once, K/V blocks
// double-buffered with cp.async, online softmax in registers, P reused from
// the score fragments, ex2 with log2(e) folded into the scale.

// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=64" | mbc-opt | FileCheck %s --check-prefix=IR
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=128 causal=false element-type=f16 scale=0.5" | FileCheck %s --check-prefix=FULL
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=64" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX --implicit-check-not=__nv_ < %t.ptx
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=8 seq-len=1024 head-dim=128" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.sm90.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX-SM90 < %t.sm90.ptx

module {}

// Grid (seq-len / 64 query blocks, batch x heads); shared memory
// Q [64][72] + K, V 2 x [64][72] bf16 = 46080 bytes.
// IR: gpu.func @attention(%{{.*}}: memref<8x1024x64xbf16>, %{{.*}}: memref<8x1024x64xbf16>, %{{.*}}: memref<8x1024x64xbf16>, %{{.*}}: memref<8x1024x64xf32>) kernel
// IR-SAME: grid = array<i64: 16, 8, 1>
// IR-SAME: params = [{kind = "ptr", name = "q"}, {kind = "ptr", name = "k"}, {kind = "ptr", name = "v"}, {kind = "ptr", name = "o"}], shared_bytes = 46080 : i64
// 1/sqrt(64) * log2(e)
// IR-DAG: arith.constant 0.180336878 : f32
// IR-DAG: arith.constant 0xFF800000 : f32
// Causal: (m0 + 64 + 63) / 64 key blocks.
// IR: %[[M0:.*]] = arith.muli %{{.*}}, %c64 : index
// IR: memref.view {{.*}} to memref<64x72xbf16, #gpu.address_space<workgroup>>
// IR: memref.view {{.*}} to memref<2x64x72xbf16, #gpu.address_space<workgroup>>
// IR: memref.view {{.*}} to memref<2x64x72xbf16, #gpu.address_space<workgroup>>
// IR: arith.constant 127 : index
// IR: %[[BLOCKS:.*]] = arith.divui
// Q, K and V block 0 (4 + 4 + 4 copies per thread), one group, then Q
// fragments for the 4 K steps of head-dim 64.
// IR-COUNT-12: nvgpu.device_async_copy
// IR: nvgpu.device_async_create_group
// IR: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// IR-COUNT-4: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x72xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// IR: scf.for %{{.*}} = %{{.*}} to %[[BLOCKS]] step
// IR: nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// IR: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<2x64x72xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// IR: nvvm.mma.sync
// Masked scores, quad max, ex2.
// IR: arith.cmpi ugt
// IR: arith.select
// IR: gpu.shuffle  xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// IR: arith.maxnumf
// IR: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// P as the A operand: truncated scores, then V through ldmatrix .trans.
// IR: arith.truncf {{.*}} : f32 to bf16
// IR: vector.from_elements {{.*}} : vector<4x2xbf16>
// IR: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<2x64x72xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// IR: gpu.barrier
// IR: scf.yield
// O / l: quad sum, reciprocal, pairs of f32.
// IR: gpu.shuffle  xor
// IR: arith.divf
// IR: vector.store {{.*}} : memref<8x1024x64xf32>, vector<2xf32>

// Non-causal: every key block, no mask; f16 goes through nvgpu.mma.sync.
// FULL: grid = array<i64: 16, 8, 1>
// FULL-SAME: shared_bytes = 87040 : i64
// 0.5 * log2(e)
// FULL: arith.constant 0.72134751 : f32
// FULL-NOT: arith.cmpi ugt
// FULL: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// FULL-NOT: arith.cmpi ugt
// FULL: scf.yield

// PTX-LABEL: .target sm_80
// PTX: .visible .entry attention(
// PTX: cp.async.cg.shared.global
// PTX: cp.async.wait_group 0;
// PTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX: cp.async.wait_group 1;
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: shfl.sync.bfly.b32 {{.*}}, 1, 31, -1;
// PTX: shfl.sync.bfly.b32 {{.*}}, 2, 31, -1;
// PTX: ex2.approx.ftz.f32
// PTX: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: st.global.v2.b32

// The same kernel is valid sm_90a PTX (mma.sync runs on Hopper too).
// PTX-SM90-LABEL: .target sm_90a
// PTX-SM90: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-SM90: ex2.approx.ftz.f32
