// RUN: mbc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mb-cuda-form-kernels))' | FileCheck %s

// Consecutive all-parallel ops share one grid launch when every element one
// writes and another touches is the same element of the same iteration (one
// thread does both): a decode step's residual add, token shift and shift
// state update, which were three launches.
// CHECK-LABEL: func.func @elementwise_chain
// CHECK: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: arith.addf
// CHECK-NOT: gpu.launch
// CHECK: arith.select
// CHECK-NOT: gpu.launch
// CHECK: linalg.copy
// CHECK-NOT: gpu.launch
// CHECK: gpu.terminator
// CHECK-NEXT: } {mb.thread_mapping = "grid"}
// CHECK-NEXT: return
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @elementwise_chain(%token: memref<1x1x128xf32>, %context: memref<1x1x128xf32>, %state: memref<2x2x128xf32>, %shifted: memref<1x1x128xf32>) {
  %x = memref.alloc() : memref<1x1x128xf32>
  linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%token, %context : memref<1x1x128xf32>, memref<1x1x128xf32>) outs(%x : memref<1x1x128xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  }
  %slot = memref.subview %state[0, 1, 0] [1, 1, 128] [1, 1, 1] : memref<2x2x128xf32> to memref<1x1x128xf32, strided<[256, 128, 1], offset: 128>>
  linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %slot : memref<1x1x128xf32>, memref<1x1x128xf32, strided<[256, 128, 1], offset: 128>>) outs(%shifted : memref<1x1x128xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %f = linalg.index 2 : index
    %c64 = arith.constant 64 : index
    %kept = arith.cmpi ult, %f, %c64 : index
    %v = arith.select %kept, %a, %b : f32
    linalg.yield %v : f32
  }
  linalg.copy ins(%x : memref<1x1x128xf32>) outs(%slot : memref<1x1x128xf32, strided<[256, 128, 1], offset: 128>>)
  return
}

// -----

// Independent ops share a launch too, whatever their sizes (the grid covers
// the larger): this step's key and value rows written into two caches at a
// runtime position. Distinct arguments are distinct buffers.
// CHECK-LABEL: func.func @independent_rows
// CHECK-DAG: %[[GRID:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[BLOCK:.*]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCK]],
// CHECK-COUNT-2: linalg.copy
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @independent_rows(%kv: memref<1x640xf32>, %position: memref<1xi64>, %k: memref<8x128xf32>, %v: memref<8x512xf32>) {
  %c0 = arith.constant 0 : index
  %p = memref.load %position[%c0] : memref<1xi64>
  %i = arith.index_cast %p : i64 to index
  %krow = memref.subview %k[%i, 0] [1, 128] [1, 1] : memref<8x128xf32> to memref<1x128xf32, strided<[128, 1], offset: ?>>
  %vrow = memref.subview %v[%i, 0] [1, 512] [1, 1] : memref<8x512xf32> to memref<1x512xf32, strided<[512, 1], offset: ?>>
  %ksrc = memref.subview %kv[0, 0] [1, 128] [1, 1] : memref<1x640xf32> to memref<1x128xf32, strided<[640, 1]>>
  %vsrc = memref.subview %kv[0, 128] [1, 512] [1, 1] : memref<1x640xf32> to memref<1x512xf32, strided<[640, 1], offset: 128>>
  linalg.copy ins(%ksrc : memref<1x128xf32, strided<[640, 1]>>) outs(%krow : memref<1x128xf32, strided<[128, 1], offset: ?>>)
  linalg.copy ins(%vsrc : memref<1x512xf32, strided<[640, 1], offset: 128>>) outs(%vrow : memref<1x512xf32, strided<[512, 1], offset: ?>>)
  return
}

// -----

// Static views of one buffer that do not overlap are independent.
// CHECK-LABEL: func.func @disjoint_views
// CHECK: gpu.launch
// CHECK-COUNT-2: linalg.copy
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @disjoint_views(%in: memref<64xf32>, %out: memref<2x64xf32>) {
  %first = memref.subview %out[0, 0] [1, 64] [1, 1] : memref<2x64xf32> to memref<64xf32, strided<[1]>>
  %second = memref.subview %out[1, 0] [1, 64] [1, 1] : memref<2x64xf32> to memref<64xf32, strided<[1], offset: 64>>
  linalg.copy ins(%in : memref<64xf32>) outs(%first : memref<64xf32, strided<[1]>>)
  linalg.copy ins(%in : memref<64xf32>) outs(%second : memref<64xf32, strided<[1], offset: 64>>)
  return
}

// -----

// Kept apart: the second op reads what the first wrote through another map
// (a transpose: element (i, j) comes from another thread's iteration).
// CHECK-LABEL: func.func @other_map
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @other_map(%in: memref<32x32xf32>, %out: memref<32x32xf32>) {
  %tmp = memref.alloc() : memref<32x32xf32>
  linalg.copy ins(%in : memref<32x32xf32>) outs(%tmp : memref<32x32xf32>)
  linalg.transpose ins(%tmp : memref<32x32xf32>) outs(%out : memref<32x32xf32>) permutation = [1, 0]
  return
}

// -----

// Kept apart: the same dependence over different loop ranges (the linear
// iteration of one thread is another element in each op).
// CHECK-LABEL: func.func @other_ranges
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
#id1 = affine_map<(d0) -> (d0)>
func.func @other_ranges(%in: memref<64xf32>, %out: memref<32xf32>) {
  %tmp = memref.alloc() : memref<64xf32>
  linalg.copy ins(%in : memref<64xf32>) outs(%tmp : memref<64xf32>)
  %half = memref.subview %tmp[32] [32] [1] : memref<64xf32> to memref<32xf32, strided<[1], offset: 32>>
  linalg.copy ins(%half : memref<32xf32, strided<[1], offset: 32>>) outs(%out : memref<32xf32>)
  return
}

// -----

// Kept apart: two rows of one cache at runtime positions may be one row.
// CHECK-LABEL: func.func @dynamic_overlap
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @dynamic_overlap(%a: memref<1x32xf32>, %b: memref<1x32xf32>, %position: memref<2xi64>, %cache: memref<8x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %p = memref.load %position[%c0] : memref<2xi64>
  %q = memref.load %position[%c1] : memref<2xi64>
  %i = arith.index_cast %p : i64 to index
  %j = arith.index_cast %q : i64 to index
  %row0 = memref.subview %cache[%i, 0] [1, 32] [1, 1] : memref<8x32xf32> to memref<1x32xf32, strided<[32, 1], offset: ?>>
  %row1 = memref.subview %cache[%j, 0] [1, 32] [1, 1] : memref<8x32xf32> to memref<1x32xf32, strided<[32, 1], offset: ?>>
  linalg.copy ins(%a : memref<1x32xf32>) outs(%row0 : memref<1x32xf32, strided<[32, 1], offset: ?>>)
  linalg.copy ins(%b : memref<1x32xf32>) outs(%row1 : memref<1x32xf32, strided<[32, 1], offset: ?>>)
  return
}

// -----

// Kept apart: a gather reads the table at elements its iteration does not
// determine, and the first op writes the table.
// CHECK-LABEL: func.func @gather_after_write
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @gather_after_write(%ids: memref<16xindex>, %in: memref<8x4xf32>, %out: memref<16x4xf32>) {
  %table = memref.alloc() : memref<8x4xf32>
  linalg.copy ins(%in : memref<8x4xf32>) outs(%table : memref<8x4xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%ids : memref<16xindex>) outs(%out : memref<16x4xf32>) {
  ^bb0(%id: index, %o: f32):
    %f = linalg.index 1 : index
    %v = memref.load %table[%id, %f] : memref<8x4xf32>
    linalg.yield %v : f32
  }
  return
}

// -----

// Kept apart: a reduction (its loops are not all parallel), and the op after
// it reads its result.
// CHECK-LABEL: func.func @reduction
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @reduction(%in: memref<4x64xf32>, %out: memref<4xf32>, %scaled: memref<4xf32>) {
  %sum = memref.alloc() : memref<4xf32>
  linalg.reduce ins(%in : memref<4x64xf32>) outs(%sum : memref<4xf32>) dimensions = [1]
    (%a: f32, %b: f32) {
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    }
  linalg.copy ins(%sum : memref<4xf32>) outs(%scaled : memref<4xf32>)
  return
}

// -----

// Kept apart: views of one byte buffer (memref.view) carry their shift as an
// operand, not in their type, so their static subview offsets say nothing
// about overlap (here both write bytes 256..511).
// CHECK-LABEL: func.func @byte_views
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @byte_views(%a: memref<64xf32>, %b: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c256 = arith.constant 256 : index
  %bytes = memref.alloc() : memref<1024xi8>
  %v0 = memref.view %bytes[%c0][] : memref<1024xi8> to memref<128xf32>
  %v1 = memref.view %bytes[%c256][] : memref<1024xi8> to memref<128xf32>
  %s0 = memref.subview %v0[64] [64] [1] : memref<128xf32> to memref<64xf32, strided<[1], offset: 64>>
  %s1 = memref.subview %v1[0] [64] [1] : memref<128xf32> to memref<64xf32, strided<[1]>>
  linalg.copy ins(%a : memref<64xf32>) outs(%s0 : memref<64xf32, strided<[1], offset: 64>>)
  linalg.copy ins(%b : memref<64xf32>) outs(%s1 : memref<64xf32, strided<[1]>>)
  return
}
