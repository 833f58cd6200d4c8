// RUN: mbc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mb-cuda-form-kernels))' | FileCheck %s
// RUN: mbc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mb-cuda-form-kernels{shared-memory-bytes=0}))' | FileCheck %s --check-prefix=GLOBAL

// A linalg op outside any workgroup forall is a grid-mapped launch of its
// own; the view it writes through is cloned into the launch.
// CHECK-LABEL: func.func @lone_op
// CHECK-SAME: (%[[IN:.*]]: memref<1000xf32>, %[[OUT:.*]]: memref<2x1000xf32>)
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[GRID:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[BLOCK:.*]] = arith.constant 256 : index
// CHECK-NOT: memref.subview
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]]) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCK]], %{{.*}} = %[[ONE]], %{{.*}} = %[[ONE]])
// CHECK: %[[ROW:.*]] = memref.subview %[[OUT]][1, 0]
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[IN]] : memref<1000xf32>) outs(%[[ROW]]
// CHECK: gpu.terminator
// CHECK: } {mb.thread_mapping = "grid"}
// CHECK-NEXT: return
#id = affine_map<(d0) -> (d0)>
func.func @lone_op(%in: memref<1000xf32>, %out: memref<2x1000xf32>) {
  %row = memref.subview %out[1, 0] [1, 1000] [1, 1] : memref<2x1000xf32> to memref<1000xf32, strided<[1], offset: 1000>>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%in : memref<1000xf32>) outs(%row : memref<1000xf32, strided<[1], offset: 1000>>) {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }
  return
}

// -----

// A workgroup forall is one block per workgroup (4 x 2 = 8, linearized,
// the last dimension fastest); the block has as many threads as the widest
// op needs (64, from 128). A buffer its body allocates lives in shared
// memory (a workgroup attribution viewed and cast back to the generic
// address space) ...
// CHECK-LABEL: func.func @workgroups
// CHECK-DAG: %[[GRID:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[THREADS:.*]] = arith.constant 64 : index
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], {{.*}} threads({{.*}}) in (%{{.*}} = %[[THREADS]], {{.*}} workgroup(%[[SHARED:.*]] : memref<256xi8, #gpu.address_space<workgroup>>)
// CHECK-DAG: arith.divui %[[BX]], %c2
// CHECK-DAG: arith.remui %[[BX]], %c2
// CHECK: %[[VIEW:.*]] = memref.view %[[SHARED]][%{{.*}}][] : memref<256xi8, #gpu.address_space<workgroup>> to memref<8x8xf32, #gpu.address_space<workgroup>>
// CHECK: %[[TILE:.*]] = memref.memory_space_cast %[[VIEW]] : memref<8x8xf32, #gpu.address_space<workgroup>> to memref<8x8xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[TILE]] : memref<8x8xf32>)
// CHECK: linalg.generic
// CHECK: } {mb.thread_mapping = "block"}
// CHECK-NOT: scf.forall

// ... or, when it does not fit (shared-memory-bytes), in a 256-byte aligned
// slice per workgroup of one hoisted byte buffer.
// GLOBAL-LABEL: func.func @workgroups
// GLOBAL: %[[BYTES:.*]] = memref.alloc() {alignment = 256 : i64} : memref<2048xi8>
// GLOBAL: gpu.launch
// GLOBAL-NOT: workgroup(
// GLOBAL: memref.view %[[BYTES]][%{{.*}}][] : memref<2048xi8> to memref<8x8xf32>
// GLOBAL: linalg.fill
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @workgroups(%in: memref<32x16xf32>, %out: memref<32x16xf32>) {
  %zero = arith.constant 0.0 : f32
  scf.forall (%i, %j) = (0, 0) to (32, 16) step (8, 8) {
    %tile = memref.alloc() : memref<8x8xf32>
    linalg.fill ins(%zero : f32) outs(%tile : memref<8x8xf32>)
    %src = memref.subview %in[%i, %j] [8, 8] [1, 1] : memref<32x16xf32> to memref<8x8xf32, strided<[16, 1], offset: ?>>
    %dst = memref.subview %out[%i, %j] [8, 8] [1, 1] : memref<32x16xf32> to memref<8x8xf32, strided<[16, 1], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel", "parallel"]}
        ins(%src, %tile : memref<8x8xf32, strided<[16, 1], offset: ?>>, memref<8x8xf32>)
        outs(%dst : memref<8x8xf32, strided<[16, 1], offset: ?>>) {
    ^bb0(%a: f32, %b: f32, %c: f32):
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    }
  }
  return
}

// -----

// A decode position read on the host would leave arithmetic on the host:
// the load and the view at the dynamic offset move into the launch.
// CHECK-LABEL: func.func @dynamic_position
// CHECK-NOT: memref.load
// CHECK: gpu.launch
// CHECK: %[[P:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<1xi64>
// CHECK: %[[I:.*]] = arith.index_cast %[[P]]
// CHECK: memref.subview %{{.*}}[%[[I]], 0]
// CHECK: linalg.copy
func.func @dynamic_position(%token: memref<1x32xf32>, %position: memref<1xi64>, %cache: memref<8x32xf32>) {
  %c0 = arith.constant 0 : index
  %p = memref.load %position[%c0] : memref<1xi64>
  %i = arith.index_cast %p : i64 to index
  %row = memref.subview %cache[%i, 0] [1, 32] [1, 1] : memref<8x32xf32> to memref<1x32xf32, strided<[32, 1], offset: ?>>
  linalg.copy ins(%token : memref<1x32xf32>) outs(%row : memref<1x32xf32, strided<[32, 1], offset: ?>>)
  return
}
