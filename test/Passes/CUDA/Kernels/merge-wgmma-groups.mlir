// mb-cuda-merge-wgmma-groups: consecutive wgmma groups (each
// nvgpu.warpgroup.mma is fence, wgmma.mma_async, commit, wait) become one
// group when only ops without memory effects, none reading an
// accumulator, lie between them; anything else keeps the groups apart.
// A wgmma whose accumulator is all zeros (init.accumulator) computes
// D = A B instead (scale-d zero) from poison registers.
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
  // The first product starts from zero; the rest accumulate.
  // CHECK-LABEL: gpu.func @zero_start
  // CHECK: %[[POISON:.*]] = llvm.mlir.poison : !llvm.struct<(f32,
  // CHECK: nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[POISON]], <m = 64, n = 64, k = 16>, D[<f32>, <zero>, <wrapped>]
  // CHECK: nvvm.wgmma.mma_async {{.*}} D[<f32>, <one>, <wrapped>]
  // UNMERGED-LABEL: gpu.func @zero_start
  // UNMERGED-NOT: <zero>
  gpu.func @zero_start(%a: !descA, %b: !descB, %out: memref<64x64xf32, #gpu.address_space<workgroup>>) kernel {
    %0 = nvgpu.warpgroup.mma.init.accumulator -> !acc
    %1 = nvgpu.warpgroup.mma %a, %b, %0 : !descA, !descB, !acc -> !acc
    %2 = nvgpu.warpgroup.mma %a, %b, %1 : !descA, !descB, !acc -> !acc
    nvgpu.warpgroup.mma.store %2, %out : !acc to memref<64x64xf32, #gpu.address_space<workgroup>>
    gpu.return
  }

  // In a loop the accumulator is the loop's: zero on the first trip only,
  // so the product accumulates (scale-d one).
  // CHECK-LABEL: gpu.func @loop_carried
  // CHECK: scf.for
  // CHECK: nvvm.wgmma.mma_async {{.*}} D[<f32>, <one>, <wrapped>]
  // CHECK-NOT: <zero>
  // CHECK: gpu.return
  gpu.func @loop_carried(%a: !descA, %b: !descB, %n: index, %out: memref<64x64xf32, #gpu.address_space<workgroup>>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %0 = nvgpu.warpgroup.mma.init.accumulator -> !acc
    %1 = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %0) -> (!acc) {
      %2 = nvgpu.warpgroup.mma %a, %b, %acc : !descA, !descB, !acc -> !acc
      scf.yield %2 : !acc
    }
    nvgpu.warpgroup.mma.store %1, %out : !acc to memref<64x64xf32, #gpu.address_space<workgroup>>
    gpu.return
  }
}
}
