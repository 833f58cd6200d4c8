// mb-cuda-hoist-weight-conversions: a generic that only rounds an f32
// weight argument to bf16 becomes a new last argument (a derived weight,
// rounded by the runtime at load), listed in mb.derived_weights; one per
// weight and function, however often it is rounded. Anything else stays.
// RUN: mbc-opt %s --mb-cuda-hoist-weight-conversions | FileCheck %s

#id = affine_map<(i, j) -> (i, j)>
#t = affine_map<(i, j) -> (j, i)>

// CHECK: module attributes {mb.derived_weights = [{convert = "bf16", from = "w", name = "w:bf16", shape = [4, 8]}]
// CHECK-NOT: from = "v"
module {
  // CHECK-LABEL: func.func @score(
  // CHECK-SAME: %[[W:.*]]: tensor<4x8xf32> {mb.weight = "w"}
  // CHECK-SAME: %[[V:.*]]: tensor<8x4xf32> {mb.weight = "v"}
  // CHECK-SAME: %[[X:[^:]*]]: tensor<4x8xf32> {mb.name = "x"}
  // CHECK-SAME: %[[WB:.*]]: tensor<4x8xbf16> {mb.derived_from = "w", mb.weight = "w:bf16"})
  // Both roundings of w read the one derived argument.
  // CHECK: call @use(%[[WB]], %[[WB]])
  // Not weights, or not a plain rounding: kept.
  // CHECK: linalg.generic {{.*}} ins(%[[X]] :
  // CHECK: linalg.generic {{.*}} ins(%[[V]] :
  // CHECK: arith.truncf
  // CHECK: linalg.generic {{.*}} ins(%[[W]] :
  // CHECK: arith.truncf {{.*}} to f16
  func.func @score(%w: tensor<4x8xf32> {mb.weight = "w"}, %v: tensor<8x4xf32> {mb.weight = "v"}, %x: tensor<4x8xf32> {mb.name = "x"}) -> (tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xf16>) {
    %e = tensor.empty() : tensor<4x8xbf16>
    %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<4x8xf32>) outs(%e : tensor<4x8xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %r = arith.truncf %in : f32 to bf16
      linalg.yield %r : bf16
    } -> tensor<4x8xbf16>
    %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<4x8xf32>) outs(%e : tensor<4x8xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %r = arith.truncf %in : f32 to bf16
      linalg.yield %r : bf16
    } -> tensor<4x8xbf16>
    call @use(%a, %b) : (tensor<4x8xbf16>, tensor<4x8xbf16>) -> ()
    // An input, not a weight.
    %c = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %r = arith.truncf %in : f32 to bf16
      linalg.yield %r : bf16
    } -> tensor<4x8xbf16>
    // A transposing rounding.
    %d = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]} ins(%v : tensor<8x4xf32>) outs(%e : tensor<4x8xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %r = arith.truncf %in : f32 to bf16
      linalg.yield %r : bf16
    } -> tensor<4x8xbf16>
    // To f16: not what the runtime derives.
    %h0 = tensor.empty() : tensor<4x8xf16>
    %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<4x8xf32>) outs(%h0 : tensor<4x8xf16>) {
    ^bb0(%in: f32, %out: f16):
      %r = arith.truncf %in : f32 to f16
      linalg.yield %r : f16
    } -> tensor<4x8xf16>
    return %c, %d, %h : tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<4x8xf16>
  }
  func.func private @use(tensor<4x8xbf16>, tensor<4x8xbf16>)
}
