// The warp-specialized sm_90a GEMM (consumers = 2): warpgroup 0 produces
// (one thread waits on a stage's "empty" mbarrier, arms its "full" one and
// issues the TMA loads), warpgroups 1 and 2 consume (wait on "full", one
// wgmma group per K block, release the previous block's stage); then the
// PTX, where each K block's wgmmas are one group (mb-cuda-merge-wgmma-groups).

// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=1024 k=1024 tile-n=256 stages=4 consumers=2" | mbc-opt --canonicalize | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=256 n=1024 k=1024 tile-n=256 stages=4 consumers=2" --mb-cuda-kernels-to-ptx --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: mbc-opt %s --mb-cuda-test-build-gemm="m=512 n=512 k=512 tile-m=256 consumers=2 b-layout=kn" | mbc-opt --canonicalize | FileCheck %s --check-prefix=ROWS2

module {}

// 384 threads; grid (N / 256, M / 128); 4 stages x (16 + 32) KiB + 1 KiB.
// CHECK-LABEL: gpu.func @gemm
// CHECK-SAME: known_block_size = array<i32: 384, 1, 1>
// CHECK-SAME: block = array<i64: 384, 1, 1>, grid = array<i64: 4, 2, 1>
// CHECK-SAME: box = array<i64: 64, 256>
// CHECK-SAME: shared_bytes = 197632 : i64
// Barriers 0-3 ("full") expect the producer's arrival, 4-7 ("empty") one
// arrival from each of the 8 consumer warps.
// CHECK: %[[BARRIERS:.*]] = nvgpu.mbarrier.create -> <memorySpace = #gpu.address_space<workgroup>, num_barriers = 8>
// CHECK-COUNT-4: nvgpu.mbarrier.init %[[BARRIERS]][%{{.*}}], %c1
// CHECK-COUNT-4: nvgpu.mbarrier.init %[[BARRIERS]][%{{.*}}], %c8
// CHECK: gpu.barrier
// CHECK: %[[WARPGROUP:.*]] = arith.divui %thread_id_x, %c128
// CHECK: %[[PRODUCER:.*]] = arith.cmpi eq, %[[WARPGROUP]], %c0
// CHECK: scf.if %[[PRODUCER]] {
// CHECK-NEXT: nvvm.setmaxregister decrease 40
// CHECK-NEXT: scf.if
// CHECK-NEXT: scf.for %[[K:.*]] = %{{.*}} to %c16
// CHECK: %[[STAGE:.*]] = arith.remui %[[K]], %c4
// Refills (K block >= 4) wait for the release of the stage's previous use.
// CHECK: %[[REFILL:.*]] = arith.cmpi uge, %[[K]], %c4
// CHECK: scf.if %[[REFILL]] {
// CHECK: %[[EMPTY:.*]] = arith.addi %[[STAGE]], %c4
// CHECK: nvgpu.mbarrier.try_wait.parity %[[BARRIERS]][%[[EMPTY]]]
// CHECK: }
// CHECK: nvgpu.mbarrier.arrive.expect_tx %[[BARRIERS]][%[[STAGE]]], %c49152
// CHECK: nvgpu.tma.async.load {{.*}} -> memref<128x64xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.tma.async.load {{.*}} -> memref<256x64xbf16, #gpu.address_space<workgroup>>
// CHECK: } else {
// CHECK-NEXT: nvvm.setmaxregister increase 232
// K block 0 comes before the loop (its first products start from the
// zero accumulators: scale-d 0 after mb-cuda-merge-wgmma-groups).
// CHECK: %[[ZERO:.*]] = nvgpu.warpgroup.mma.init.accumulator -> <fragmented = vector<64x256xf32>>
// CHECK: nvgpu.mbarrier.try_wait.parity %[[BARRIERS]][%c0]
// CHECK: nvgpu.warpgroup.mma {{.*}}, %[[ZERO]] :
// CHECK-COUNT-3: nvgpu.warpgroup.mma
// CHECK: scf.for %[[CK:.*]] = %c1 to %c16
// CHECK: %[[FULL:.*]] = arith.remui %[[CK]], %c4
// CHECK: nvgpu.mbarrier.try_wait.parity %[[BARRIERS]][%[[FULL]]]
// One m64 block per consumer, 4 K steps of m64n256k16.
// CHECK-COUNT-4: nvgpu.warpgroup.mma {{.*}} : <tensor = memref<64x16xbf16, #gpu.address_space<workgroup>>>, <tensor = memref<16x256xbf16, #gpu.address_space<workgroup>>>, <fragmented = vector<64x256xf32>>
// CHECK-NOT: nvgpu.warpgroup.mma
// Lane 0 of each warp releases the previous K block's stage.
// CHECK: scf.if
// CHECK: %[[PREVIOUS:.*]] = arith.subi %[[CK]], %c1
// CHECK: %[[PSTAGE:.*]] = arith.remui %[[PREVIOUS]], %c4
// CHECK: %[[PEMPTY:.*]] = arith.addi %[[PSTAGE]], %c4
// CHECK: nvgpu.mbarrier.arrive %[[BARRIERS]][%[[PEMPTY]]]
// CHECK: scf.yield
// CHECK: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.barrier id = %c1_i32 number_of_threads = %c256_i32
// A consumer (warpgroup 1 or 2) stores its accumulator's fragments itself,
// two columns at a time (nvgpu.warpgroup.mma.store assumes warpgroup 0).
// CHECK-NOT: nvgpu.warpgroup.mma.store
// CHECK: builtin.unrealized_conversion_cast {{.*}} : !nvgpu.warpgroup.accumulator<fragmented = vector<64x256xf32>> to !llvm.struct<(struct<(f32,
// CHECK-COUNT-64: vector.store {{.*}} : memref<128x256xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK-NOT: vector.store {{.*}}#gpu.address_space<workgroup>>, vector<2xf32>
// CHECK: nvvm.barrier id = %c1_i32 number_of_threads = %c256_i32
// CHECK: scf.for
// CHECK: vector.load {{.*}} : memref<128x256xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK: vector.store {{.*}} : memref<256x1024xf32>, vector<4xf32>

// Two m64 blocks per consumer (tile-m 256), B [K, N] (MN-major, four
// 64-column boxes per stage).
// ROWS2-LABEL: gpu.func @gemm
// ROWS2-SAME: block = array<i64: 384, 1, 1>, grid = array<i64: 4, 2, 1>
// ROWS2: nvgpu.tma.async.load {{.*}} -> memref<256x64xbf16, #gpu.address_space<workgroup>>
// ROWS2-COUNT-2: nvgpu.tma.async.load {{.*}} -> memref<64x64xbf16, #gpu.address_space<workgroup>>
// ROWS2: nvvm.setmaxregister increase 232
// ROWS2-COUNT-2: nvgpu.warpgroup.mma.init.accumulator -> <fragmented = vector<64x128xf32>>
// ROWS2-COUNT-8: nvgpu.warpgroup.mma {{.*}} {transposeB}
// ROWS2-COUNT-2: builtin.unrealized_conversion_cast {{.*}} !nvgpu.warpgroup.accumulator<fragmented = vector<64x128xf32>> to

// PTX-LABEL: .target sm_90a
// PTX: .maxntid 384, 1, 1
// PTX: setmaxnreg.inc.sync.aligned.u32 232;
// A consumer's steady state: wait for a full stage, one group of 4 wgmmas,
// wait for the previous group, release its stage.
// PTX: mbarrier.try_wait.parity.shared.b64
// PTX: wgmma.fence.sync.aligned;
// PTX-NOT: wgmma.commit_group
// PTX-COUNT-4: wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16
// PTX-NOT: wgmma.mma_async
// PTX: wgmma.commit_group.sync.aligned;
// PTX-NEXT: wgmma.wait_group.sync.aligned 1;
// PTX: mbarrier.arrive.shared.b64
// PTX: wgmma.wait_group.sync.aligned 0;
// PTX-NEXT: bar.sync 1, 256;
// PTX: bar.sync 1, 256;
// PTX: setmaxnreg.dec.sync.aligned.u32 40;
// PTX: mbarrier.arrive.expect_tx.shared.b64
// PTX: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
