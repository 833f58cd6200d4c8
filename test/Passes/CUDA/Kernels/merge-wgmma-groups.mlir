// mb-cuda-merge-wgmma-groups: consecutive wgmma groups (each
// nvgpu.warpgroup.mma is fence, wgmma.mma_async, commit, wait) become one
// group when only ops without memory effects, none reading an
// accumulator, lie between them; anything else keeps the groups apart.
// RUN: mbc-opt %s --pass-pipeline="builtin.module(convert-nvgpu-to-nvvm,gpu.module(mb-cuda-merge-wgmma-groups))" | FileCheck %s
// RUN: mbc-opt %s --convert-nvgpu-to-nvvm | FileCheck %s --check-prefix=UNMERGED

!descA = !nvgpu.warpgroup.descriptor<tensor = memref<64x16xbf16, #gpu.address_space<workgroup>>>
!descB = !nvgpu.warpgroup.descriptor<tensor = memref<16x64xbf16, #gpu.address_space<workgroup>>>
!acc = !nvgpu.warpgroup.accumulator<fragmented = vector<64x64xf32>>

module attributes {gpu.container_module} {
gpu.module @kernels {
  // Three K steps on one accumulator: one group.
  // CHECK-LABEL: gpu.func @chain
  // CHECK: nvvm.wgmma.fence.aligned
  // CHECK-NOT: nvvm.wgmma.commit.group
  // CHECK-NOT: nvvm.wgmma.fence.aligned
  // CHECK: nvvm.wgmma.mma_async
  // CHECK-NOT: nvvm.wgmma.commit.group
  // CHECK-NOT: nvvm.wgmma.fence.aligned
  // CHECK: nvvm.wgmma.mma_async
  // CHECK-NOT: nvvm.wgmma.commit.group
  // CHECK-NOT: nvvm.wgmma.fence.aligned
  // CHECK: nvvm.wgmma.mma_async
  // CHECK-NEXT: llvm.insertvalue
  // CHECK-NEXT: nvvm.wgmma.commit.group.sync.aligned
  // CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
  // CHECK-NOT: nvvm.wgmma
  // CHECK: gpu.return
  // UNMERGED-LABEL: gpu.func @chain
  // UNMERGED-COUNT-3: nvvm.wgmma.commit.group.sync.aligned
  gpu.func @chain(%a: !descA, %b: !descB, %out: memref<64x64xf32, #gpu.address_space<workgroup>>) kernel {
    %0 = nvgpu.warpgroup.mma.init.accumulator -> !acc
    %1 = nvgpu.warpgroup.mma %a, %b, %0 : !descA, !descB, !acc -> !acc
    %2 = nvgpu.warpgroup.mma %a, %b, %1 : !descA, !descB, !acc -> !acc
    %3 = nvgpu.warpgroup.mma %a, %b, %2 : !descA, !descB, !acc -> !acc
    nvgpu.warpgroup.mma.store %3, %out : !acc to memref<64x64xf32, #gpu.address_space<workgroup>>
    gpu.return
  }

  // A store between two products (a memory effect) keeps two groups.
  // CHECK-LABEL: gpu.func @store_between
  // CHECK: nvvm.wgmma.mma_async
  // CHECK: nvvm.wgmma.commit.group.sync.aligned
  // CHECK: nvvm.wgmma.wait.group.sync.aligned 1
  // CHECK: memref.store
  // CHECK: nvvm.wgmma.fence.aligned
  // CHECK: nvvm.wgmma.mma_async
  // CHECK: nvvm.wgmma.commit.group.sync.aligned
  gpu.func @store_between(%a: !descA, %b: !descB, %flag: memref<1xf32, #gpu.address_space<workgroup>>, %out: memref<64x64xf32, #gpu.address_space<workgroup>>) kernel {
    %c0 = arith.constant 0 : index
    %one = arith.constant 1.0 : f32
    %0 = nvgpu.warpgroup.mma.init.accumulator -> !acc
    %1 = nvgpu.warpgroup.mma %a, %b, %0 : !descA, !descB, !acc -> !acc
    memref.store %one, %flag[%c0] : memref<1xf32, #gpu.address_space<workgroup>>
    %2 = nvgpu.warpgroup.mma %a, %b, %1 : !descA, !descB, !acc -> !acc
    nvgpu.warpgroup.mma.store %2, %out : !acc to memref<64x64xf32, #gpu.address_space<workgroup>>
    gpu.return
  }

  // An explicit wait for every group (wait_group 0) is not a group's own
  // wait: the groups stay apart.
  // CHECK-LABEL: gpu.func @explicit_wait
  // CHECK: nvvm.wgmma.mma_async
  // CHECK: nvvm.wgmma.commit.group.sync.aligned
  // CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
  // CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
  // CHECK: nvvm.wgmma.fence.aligned
  // CHECK: nvvm.wgmma.mma_async
  gpu.func @explicit_wait(%a: !descA, %b: !descB, %out: memref<64x64xf32, #gpu.address_space<workgroup>>) kernel {
    %0 = nvgpu.warpgroup.mma.init.accumulator -> !acc
    %1 = nvgpu.warpgroup.mma %a, %b, %0 : !descA, !descB, !acc -> !acc
    nvvm.wgmma.wait.group.sync.aligned 0
    %2 = nvgpu.warpgroup.mma %a, %b, %1 : !descA, !descB, !acc -> !acc
    nvgpu.warpgroup.mma.store %2, %out : !acc to memref<64x64xf32, #gpu.address_space<workgroup>>
    gpu.return
  }
}
}
