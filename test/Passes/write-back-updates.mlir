// RUN: mbc-opt %s --mb-write-back-updates | FileCheck %s

// The new cache is materialized into the argument's buffer; the result goes.
// CHECK-LABEL: func.func @step_0(
// CHECK-SAME: %[[TOKEN:.*]]: tensor<4xf32> {mb.name = "token"},
// CHECK-SAME: %[[CACHE:.*]]: tensor<2x4xf32> {bufferization.writable = true, mb.inout, mb.name = "k_cache"})
// CHECK-SAME: -> (tensor<4xf32> {mb.name = "hidden"})
// CHECK: %[[NEW:.*]] = tensor.insert_slice
// CHECK: %[[BUFFER:.*]] = bufferization.to_buffer %[[CACHE]] : tensor<2x4xf32> to memref<2x4xf32>
// CHECK: bufferization.materialize_in_destination %[[NEW]] in restrict writable %[[BUFFER]]
// CHECK: return %[[TOKEN]] : tensor<4xf32>
func.func @step_0(%token: tensor<4xf32> {mb.name = "token"}, %cache: tensor<2x4xf32> {mb.inout, mb.name = "k_cache"}) -> (tensor<4xf32> {mb.name = "hidden"}, tensor<2x4xf32> {mb.updates = "k_cache"}) {
  %row = tensor.expand_shape %token [[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
  %new = tensor.insert_slice %row into %cache[1, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<2x4xf32>
  return %token, %new : tensor<4xf32>, tensor<2x4xf32>
}
