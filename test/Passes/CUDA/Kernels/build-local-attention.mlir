// MEGABYTE's local attention for a tile of patches: 8 patches of 8 bytes
// share one 64-row MMA tile, rows attend causally inside their own patch
// (block-diagonal mask), and each CTA visits exactly one K/V block.

// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=4 seq-len=8192 head-dim=64 patch-length=8 name=local_attention" | mbc-opt | FileCheck %s --check-prefix=IR
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=4 seq-len=8192 head-dim=64 patch-length=8 name=local_attention" --mb-cuda-kernels-to-ptx="chip=sm_80" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: %if ptxas %{ %ptxas -arch=sm_80 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS %}
// RUN: mbc-opt %s --mb-cuda-test-build-attention="batch-heads=4 seq-len=8192 head-dim=128 patch-length=16 name=local_attention" --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.sm90.ptx -o /dev/null
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -v %t.sm90.ptx -o %t.sm90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS-SM90 %}

module {}

// IR: gpu.func @local_attention
// IR-SAME: grid = array<i64: 128, 4, 1>
// IR: %[[FIRST:.*]] = gpu.block_id x
// The patch start of each of the thread's rows: (row / 8) * 8.
// IR: arith.divui %{{.*}}, %c8
// IR: arith.muli
// One key block: the query block itself.
// IR: %[[END:.*]] = arith.addi %{{.*}}, %[[FIRST]]
// IR: scf.for %{{.*}} = %[[FIRST]] to %[[END]] step
// Hidden: key after the query, or before the query's patch.
// IR: %[[AFTER:.*]] = arith.cmpi ugt
// IR-NEXT: %[[BEFORE:.*]] = arith.cmpi ult
// IR-NEXT: %[[HIDDEN:.*]] = arith.ori %[[AFTER]], %[[BEFORE]] : i1
// IR-NEXT: arith.select %[[HIDDEN]], %cst{{.*}}, %{{.*}} : f32
// IR: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// IR: scf.yield

// PTX-LABEL: .target sm_80
// PTX: .visible .entry local_attention(
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: ex2.approx.ftz.f32
// PTX: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16

// PTXAS: Compiling entry function 'local_attention' for 'sm_80'
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS: Used 71 registers, used 1 barriers{{$|, [0-9]+ bytes cmem}}

// PTXAS-SM90: Compiling entry function 'local_attention' for 'sm_90a'
// PTXAS-SM90: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
