// mb-elide-output-copies: a buffer only copied into an output argument
// (through reshapes) becomes a view of that argument; the copy, the
// reshapes and its deallocation go. Anything else keeps its copy.
// RUN: mbc-opt %s --pass-pipeline='builtin.module(func.func(mb-elide-output-copies))' --split-input-file | FileCheck %s

// An embedding row [1, 1, 128] returned as [128]: the kernel writes the
// output through an expand_shape of it.
// CHECK-LABEL: func.func @row_to_output
// CHECK-SAME: (%[[X:.*]]: memref<128xf32>, %[[OUT:.*]]: memref<128xf32>)
// CHECK: %[[V:.*]] = memref.expand_shape %[[OUT]] {{\[\[}}0, 1, 2]] output_shape [1, 1, 128] : memref<128xf32> into memref<1x1x128xf32>
// CHECK: linalg.generic {{.*}} outs(%[[V]] : memref<1x1x128xf32>)
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.copy
// CHECK-NOT: memref.dealloc
#map = affine_map<(i, j, k) -> (k)>
#id = affine_map<(i, j, k) -> (i, j, k)>
func.func @row_to_output(%x: memref<128xf32>, %out: memref<128xf32>) {
  %a = memref.alloc() {alignment = 64 : i64} : memref<1x1x128xf32>
  linalg.generic {indexing_maps = [#map, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%x : memref<128xf32>) outs(%a : memref<1x1x128xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  %c = memref.collapse_shape %a [[0, 1, 2]] : memref<1x1x128xf32> into memref<128xf32>
  linalg.copy ins(%c : memref<128xf32>) outs(%out : memref<128xf32>)
  memref.dealloc %a : memref<1x1x128xf32>
  return
}

// -----

// [1, 1024] into an [8, 128] output: collapsed to 1-D, then expanded.
// CHECK-LABEL: func.func @reshaped_output
// CHECK-SAME: (%{{.*}}: memref<1x1024xf32>, %[[OUT:.*]]: memref<8x128xf32>)
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %[[OUT]] {{\[\[}}0, 1]] : memref<8x128xf32> into memref<1024xf32>
// CHECK: %[[V:.*]] = memref.expand_shape %[[FLAT]] {{\[\[}}0, 1]] output_shape [1, 1024] : memref<1024xf32> into memref<1x1024xf32>
// CHECK: linalg.copy ins(%{{.*}} : memref<1x1024xf32>) outs(%[[V]] : memref<1x1024xf32>)
// CHECK-NOT: linalg.copy
func.func @reshaped_output(%x: memref<1x1024xf32>, %out: memref<8x128xf32>) {
  %a = memref.alloc() : memref<1x1024xf32>
  linalg.copy ins(%x : memref<1x1024xf32>) outs(%a : memref<1x1024xf32>)
  %c = memref.collapse_shape %a [[0, 1]] : memref<1x1024xf32> into memref<1024xf32>
  %e = memref.expand_shape %c [[0, 1]] output_shape [8, 128] : memref<1024xf32> into memref<8x128xf32>
  linalg.copy ins(%e : memref<8x128xf32>) outs(%out : memref<8x128xf32>)
  return
}

// -----

// Kept: the output is also written elsewhere; the buffer is read after the
// copy; the source is an argument, not an allocation.
// CHECK-LABEL: func.func @kept
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[A]] : memref<128xf32>) outs(%[[OUT1:.*]] : memref<128xf32>)
// CHECK: linalg.copy ins(%{{.*}} : memref<128xf32>) outs(%[[OUT1]] : memref<128xf32>)
// CHECK: %[[B:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[B]] : memref<128xf32>) outs(%{{.*}} : memref<128xf32>)
// CHECK: %[[C:.*]] = memref.alloc
// CHECK: linalg.copy ins(%[[B]] : memref<128xf32>) outs(%[[C]] : memref<128xf32>)
// CHECK: linalg.copy ins(%{{.*}} : memref<128xf32>) outs(%{{.*}} : memref<128xf32>)
func.func @kept(%x: memref<128xf32>, %out1: memref<128xf32>, %out2: memref<128xf32>, %out3: memref<128xf32>) -> memref<128xf32> {
  %a = memref.alloc() : memref<128xf32>
  linalg.copy ins(%x : memref<128xf32>) outs(%a : memref<128xf32>)
  linalg.copy ins(%a : memref<128xf32>) outs(%out1 : memref<128xf32>)
  linalg.copy ins(%x : memref<128xf32>) outs(%out1 : memref<128xf32>)
  %b = memref.alloc() : memref<128xf32>
  linalg.copy ins(%x : memref<128xf32>) outs(%b : memref<128xf32>)
  linalg.copy ins(%b : memref<128xf32>) outs(%out2 : memref<128xf32>)
  %c = memref.alloc() : memref<128xf32>
  linalg.copy ins(%b : memref<128xf32>) outs(%c : memref<128xf32>)
  linalg.copy ins(%x : memref<128xf32>) outs(%out3 : memref<128xf32>)
  return %c : memref<128xf32>
}
