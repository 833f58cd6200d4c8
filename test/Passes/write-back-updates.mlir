// RUN: mbc-opt %s --mb-write-back-updates | FileCheck %s
// RUN: mbc-opt %s --mb-write-back-updates --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --mb-drop-updated-results --canonicalize | FileCheck %s --check-prefix=BUFFERS

// The new cache is materialized in the argument (tensor form: bufferized in
// place or not at all); the result stays, equivalent to the argument, until
// mb-drop-updated-results after bufferization.
// CHECK-LABEL: func.func @step_0(
// CHECK-SAME: %[[TOKEN:.*]]: tensor<4xf32> {mb.name = "token"},
// CHECK-SAME: %[[CACHE:.*]]: tensor<2x4xf32> {bufferization.writable = true, mb.inout, mb.name = "k_cache"})
// CHECK-SAME: -> (tensor<4xf32> {mb.name = "hidden"}, tensor<2x4xf32> {mb.updates = "k_cache"})
// CHECK: %[[NEW:.*]] = tensor.insert_slice
// CHECK: %[[DONE:.*]] = bufferization.materialize_in_destination %[[NEW]] in %[[CACHE]] : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK: return %[[TOKEN]], %[[DONE]] : tensor<4xf32>, tensor<2x4xf32>

// After bufferization the new row is written into the argument's buffer (no
// copy of the cache) and the result is gone.
// BUFFERS-LABEL: func.func @step_0(
// BUFFERS-SAME: %[[TOKEN:.*]]: memref<4xf32> {mb.name = "token"},
// BUFFERS-SAME: %[[CACHE:.*]]: memref<2x4xf32> {{{.*}}mb.name = "k_cache"})
// BUFFERS-SAME: -> (memref<4xf32> {mb.name = "hidden"})
// BUFFERS-NOT: memref.alloc
// BUFFERS: %[[ROW:.*]] = memref.subview %[[CACHE]][1, 0] [1, 4] [1, 1]
// BUFFERS: memref.copy %{{.*}}, %[[ROW]]
// BUFFERS-NOT: memref.copy
// BUFFERS: return %[[TOKEN]] : memref<4xf32>
func.func @step_0(%token: tensor<4xf32> {mb.name = "token"}, %cache: tensor<2x4xf32> {mb.inout, mb.name = "k_cache"}) -> (tensor<4xf32> {mb.name = "hidden"}, tensor<2x4xf32> {mb.updates = "k_cache"}) {
  %row = tensor.expand_shape %token [[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
  %new = tensor.insert_slice %row into %cache[1, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<2x4xf32>
  return %token, %new : tensor<4xf32>, tensor<2x4xf32>
}
