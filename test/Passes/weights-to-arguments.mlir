// RUN: mbc-opt %s --mb-weights-to-arguments | FileCheck %s

// Weights become arguments after the host context, in first-use order; a
// weight read twice (a tied head) is one argument. The ABI is recorded.
// CHECK: module attributes {mb.entry_points = [{args = [{kind = "context"}, {dtype = "F32", kind = "weight", name = "table", shape = [256, 4]}, {dtype = "BF16", kind = "weight", name = "bias", shape = [4]}, {dtype = "i32", kind = "input", name = "bytes", shape = [1, 8]}, {dtype = "f32", kind = "output", name = "logp", shape = [1, 8, 4]}], name = "score"}, {args = [{kind = "context"}, {dtype = "f32", kind = "input", name = "token", shape = [4]}, {dtype = "f32", kind = "inout", name = "k_cache", shape = [2, 4]}, {dtype = "f32", kind = "output", name = "hidden", shape = [4]}], name = "step_0"}]}
// CHECK-LABEL: func.func @score(
// CHECK-SAME: %{{.*}}: !llvm.ptr,
// CHECK-SAME: %[[TABLE:.*]]: tensor<256x4xf32> {mb.weight = "table"},
// CHECK-SAME: %[[BIAS:.*]]: tensor<4xbf16> {mb.weight = "bias"},
// CHECK-SAME: %[[BYTES:.*]]: tensor<1x8xi32> {mb.name = "bytes"})
// CHECK-NOT: mb.param
// CHECK: mb.embedding %[[TABLE]][%[[BYTES]]]
// CHECK: mb.head %{{.*}}, %[[TABLE]]
// CHECK: arith.extf %[[BIAS]]
func.func @score(%bytes: tensor<1x8xi32> {mb.name = "bytes"}) -> (tensor<1x8x4xf32> {mb.name = "logp"}) {
  %table = mb.param "table" : tensor<256x4xf32>
  %e = mb.embedding %table[%bytes] : tensor<256x4xf32>, tensor<1x8xi32> -> tensor<1x8x4xf32>
  %tied = mb.param "table" : tensor<256x4xf32>
  %h = mb.head %e, %tied {tied} : (tensor<1x8x4xf32>, tensor<256x4xf32>) -> tensor<1x8x256xf32>
  %b = mb.param "bias" : tensor<4xbf16>
  %bf = arith.extf %b : tensor<4xbf16> to tensor<4xf32>
  %out = tensor.empty() : tensor<1x8x4xf32>
  return %out : tensor<1x8x4xf32>
}

// Results marked mb.updates are the new values of inout arguments, not outputs.
// CHECK-LABEL: func.func @step_0(
// CHECK-SAME: !llvm.ptr
func.func @step_0(%token: tensor<4xf32> {mb.name = "token"}, %cache: tensor<2x4xf32> {mb.inout, mb.name = "k_cache"}) -> (tensor<4xf32> {mb.name = "hidden"}, tensor<2x4xf32> {mb.updates = "k_cache"}) {
  return %token, %cache : tensor<4xf32>, tensor<2x4xf32>
}

// Private helpers are not entry points.
// CHECK-LABEL: func.func private @helper(
// CHECK-NOT: !llvm.ptr
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
