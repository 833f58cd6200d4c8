// mb-cuda-chain-local-layers: consecutive fused local layers of one spec
// become one call of a spec with `layers`, taking x and every layer's
// parameters; a layer of another spec, or whose result has another
// reader, ends the chain.
// RUN: mbc-opt %s --mb-cuda-chain-local-layers | FileCheck %s

// CHECK-LABEL: func.func @three_layers
// CHECK-SAME: (%[[X:.*]]: tensor<18x128xf32>, %[[P0:.*]]: tensor<128xf32>, %[[P1:.*]]: tensor<128xf32>, %[[P2:.*]]: tensor<128xf32>)
// CHECK: %[[Y:.*]] = call @[[CF:mbc_local_layer_[0-9]+]](%[[X]], %[[P0]], %[[P1]]) : (tensor<18x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
// CHECK: %[[Z:.*]] = call @mbc_local_layer_1(%[[Y]], %[[P2]])
// CHECK: return %[[Z]]
// CHECK-LABEL: func.func @other_reader
// CHECK: call @mbc_local_layer_0
// CHECK: call @mbc_local_layer_0
// CHECK-LABEL: func.func @built_input
// CHECK-SAME: (%[[CTX:[^:]*]]: tensor<3x1024xf32>, %[[IDS:[^:]*]]: tensor<2x8xi32>, %[[T:[^:]*]]: tensor<256x128xbf16>, %[[S:[^:]*]]: tensor<128xbf16>, %[[Q0:[^:]*]]: tensor<128xf32>, %[[Q1:[^:]*]]: tensor<128xf32>)
// CHECK: %[[W:.*]] = call @[[CI:mbc_local_layer_[0-9]+]](%[[CTX]], %[[IDS]], %[[T]], %[[S]], %[[Q0]], %[[Q1]]) : (tensor<3x1024xf32>, tensor<2x8xi32>, tensor<256x128xbf16>, tensor<128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
// CHECK: return %[[W]]
// CHECK-DAG: func.func private @[[CF]]({{.*}} attributes {mb.cuda_local_layer = {{{.*}}layers = 2 : i64
// CHECK-DAG: func.func private @[[CI]]({{.*}} attributes {mb.cuda_local_layer = {{{.*}}input = {patches_per_sequence = 2 : i64, {{.*}}layers = 2 : i64
//
// (The weights are reduced to one norm vector a layer: the pass moves
// operands, it does not read them.)
func.func private @mbc_local_layer_0(tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32> attributes {mb.cuda_local_layer = {activation = "gelu", dim = 128 : i64, epsilon = 1.000000e-08 : f64, fused_kv = true, head_dim = 64 : i64, heads = 2 : i64, hidden = 512 : i64, norm = "rms_clamp", positions = 9 : i64, rotary_theta = 0.000000e+00 : f64, scale = 1.250000e-01 : f64, sequences = 2 : i64, stages = 3 : i64, token_shift = true, vector_type = f32, weight_type = bf16}}
func.func private @mbc_local_layer_1(tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32> attributes {mb.cuda_local_layer = {activation = "relu", dim = 128 : i64, epsilon = 1.000000e-08 : f64, fused_kv = true, head_dim = 64 : i64, heads = 2 : i64, hidden = 512 : i64, norm = "rms_clamp", positions = 9 : i64, rotary_theta = 0.000000e+00 : f64, scale = 1.250000e-01 : f64, sequences = 2 : i64, stages = 3 : i64, token_shift = true, vector_type = f32, weight_type = bf16}}
func.func private @mbc_local_layer_2(tensor<3x1024xf32>, tensor<2x8xi32>, tensor<256x128xbf16>, tensor<128xbf16>, tensor<128xf32>) -> tensor<18x128xf32> attributes {mb.cuda_local_layer = {activation = "gelu", dim = 128 : i64, epsilon = 1.000000e-08 : f64, fused_kv = true, head_dim = 64 : i64, heads = 2 : i64, hidden = 512 : i64, input = {patches_per_sequence = 2 : i64, start_type = bf16, table_type = bf16, vocabulary = 256 : i64}, norm = "rms_clamp", positions = 9 : i64, rotary_theta = 0.000000e+00 : f64, scale = 1.250000e-01 : f64, sequences = 2 : i64, stages = 3 : i64, token_shift = true, vector_type = f32, weight_type = bf16}}
func.func @three_layers(%x: tensor<18x128xf32>, %p0: tensor<128xf32>, %p1: tensor<128xf32>, %p2: tensor<128xf32>) -> tensor<18x128xf32> {
  %a = call @mbc_local_layer_0(%x, %p0) : (tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
  %e = tensor.expand_shape %a [[0, 1], [2]] output_shape [2, 9, 128] : tensor<18x128xf32> into tensor<2x9x128xf32>
  %c = tensor.collapse_shape %e [[0, 1], [2]] : tensor<2x9x128xf32> into tensor<18x128xf32>
  %b = call @mbc_local_layer_0(%c, %p1) : (tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
  %d = call @mbc_local_layer_1(%b, %p2) : (tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
  return %d : tensor<18x128xf32>
}
func.func @other_reader(%x: tensor<18x128xf32>, %p0: tensor<128xf32>) -> (tensor<18x128xf32>, tensor<18x128xf32>) {
  %a = call @mbc_local_layer_0(%x, %p0) : (tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
  %b = call @mbc_local_layer_0(%a, %p0) : (tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
  return %a, %b : tensor<18x128xf32>, tensor<18x128xf32>
}
// The first layer builds its input (4 operands for x); the next one has
// the same spec but for the input.
func.func @built_input(%ctx: tensor<3x1024xf32>, %ids: tensor<2x8xi32>, %t: tensor<256x128xbf16>, %s: tensor<128xbf16>, %q0: tensor<128xf32>, %q1: tensor<128xf32>) -> tensor<18x128xf32> {
  %a = call @mbc_local_layer_2(%ctx, %ids, %t, %s, %q0) : (tensor<3x1024xf32>, tensor<2x8xi32>, tensor<256x128xbf16>, tensor<128xbf16>, tensor<128xf32>) -> tensor<18x128xf32>
  %b = call @mbc_local_layer_0(%a, %q1) : (tensor<18x128xf32>, tensor<128xf32>) -> tensor<18x128xf32>
  return %b : tensor<18x128xf32>
}
