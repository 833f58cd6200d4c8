// The persistent warp-specialized sm_90a GEMM (consumers = 2, persistent =
// CTAs): at most that many CTAs, each walking the output tiles blockIdx.x,
// + gridDim.x, ... (the N tiles of an M row in turn). Stages and barrier
// phases follow a K-block count that runs on from tile to tile; the
// consumers release a tile's last stage before its epilogue, which has a
// shared tile of its own after the stages, so the producer fills every
// stage with the next tile's blocks meanwhile. Each consumer stores and
// reads back only its rows, ordered by its own named barrier (2 or 3).

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=512 n=384 k=256 stages=4 consumers=2 persistent=8" | mbc-opt --canonicalize | FileCheck %s
// 4 x 3 = 12 tiles of 128 x 128 would take 12 CTAs; 100 allowed: 12.
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=512 n=384 k=256 stages=4 consumers=2 persistent=100" | FileCheck %s --check-prefix=FEW

module {}

// 8 CTAs; 4 stages x 32 KiB, then the 128 x 128 f32 epilogue tile, + 1 KiB.
// CHECK-LABEL: gpu.func @gemm
// CHECK-SAME: block = array<i64: 384, 1, 1>, grid = array<i64: 8, 1, 1>
// CHECK-SAME: shared_bytes = 197632 : i64
// CHECK: %[[BARRIERS:.*]] = nvgpu.mbarrier.create -> <memorySpace = #gpu.address_space<workgroup>, num_barriers = 8>
// Producer: this CTA's tiles, ceil((12 - block) / grid) of them.
// CHECK: nvvm.setmaxregister decrease 40
// CHECK: %[[BLOCK:.*]] = gpu.block_id x
// CHECK: %[[GRID:.*]] = gpu.grid_dim x
// CHECK: arith.subi %c12, %[[BLOCK]]
// CHECK: %[[COUNT:.*]] = arith.divui %{{.*}}, %[[GRID]]
// CHECK: scf.for %[[TILE:.*]] = %c0 to %[[COUNT]] step %c1 {
// CHECK: %[[STEP:.*]] = arith.muli %[[TILE]], %[[GRID]]
// CHECK: %[[LINEAR:.*]] = arith.addi %[[BLOCK]], %[[STEP]]
// CHECK: %[[MTILE:.*]] = arith.divui %[[LINEAR]], %c3
// CHECK: %[[NTILE:.*]] = arith.remui %[[LINEAR]], %c3
// CHECK: scf.for %[[K:.*]] = %c0 to %c4 step %c1 {
// The running K-block count: tile x 4 + K block.
// CHECK: %[[PBASE:.*]] = arith.muli %[[TILE]], %c4
// CHECK: %[[PBLOCK:.*]] = arith.addi %[[PBASE]], %[[K]]
// CHECK: %[[PSTAGE:.*]] = arith.remui %[[PBLOCK]], %c4
// CHECK: arith.cmpi uge, %[[PBLOCK]], %c4
// CHECK: nvgpu.mbarrier.try_wait.parity %[[BARRIERS]]
// CHECK: nvgpu.mbarrier.arrive.expect_tx %[[BARRIERS]][%[[PSTAGE]]], %c32768
// CHECK: nvgpu.tma.async.load
// CHECK: nvgpu.tma.async.load
// Consumers.
// CHECK: nvvm.setmaxregister increase 232
// CHECK: scf.for %[[CTILE:.*]] = %c0 to %{{.*}} step %c1 {
// K block 0 of the tile (tile x 4) before the K loop.
// CHECK: %[[FIRST:.*]] = arith.muli %[[CTILE]], %c4
// CHECK: arith.remui %[[FIRST]], %c4
// CHECK: nvgpu.mbarrier.try_wait.parity
// CHECK-COUNT-4: nvgpu.warpgroup.mma
// CHECK: scf.for %[[CK:.*]] = %c1 to %c4 step %c1 iter_args
// CHECK: %[[CBASE:.*]] = arith.muli %[[CTILE]], %c4
// CHECK: %[[CBLOCK:.*]] = arith.addi %[[CBASE]], %[[CK]]
// CHECK: %[[FULL:.*]] = arith.remui %[[CBLOCK]], %c4
// CHECK: nvgpu.mbarrier.try_wait.parity %[[BARRIERS]][%[[FULL]]]
// CHECK-COUNT-4: nvgpu.warpgroup.mma
// CHECK: nvgpu.mbarrier.arrive
// CHECK: scf.yield
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// The tile's last block (tile x 4 + 3) releases its stage now.
// CHECK: scf.if
// CHECK: %[[LBASE:.*]] = arith.muli %[[CTILE]], %c4
// CHECK: %[[LAST:.*]] = arith.addi %[[LBASE]], %c3
// CHECK: %[[LSTAGE:.*]] = arith.remui %[[LAST]], %c4
// CHECK: %[[LEMPTY:.*]] = arith.addi %[[LSTAGE]], %c4
// CHECK: nvgpu.mbarrier.arrive %[[BARRIERS]][%[[LEMPTY]]]
// CHECK: }
// The consumer's own barrier before its stores and before its reads; the
// epilogue tile starts after the 128 KiB of stages.
// CHECK: nvvm.barrier id = %[[ID:.*]] number_of_threads = %c128_i32
// CHECK: arith.addi %{{.*}}, %c131072
// CHECK: builtin.unrealized_conversion_cast {{.*}} !nvgpu.warpgroup.accumulator
// CHECK: vector.store {{.*}} vector<2xf32>
// CHECK: nvvm.barrier id = %[[ID]] number_of_threads = %c128_i32
// CHECK: scf.for
// CHECK: vector.load
// CHECK: vector.store

// FEW: grid = array<i64: 12, 1, 1>
