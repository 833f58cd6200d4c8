// mb-cuda-select-kernels fuses a whole local-model layer into one call of
// @mbc_local_layer_<n> when the pattern and the kernel's limits hold, and
// leaves the layer's ops to the one-by-one selection otherwise.
// RUN: mbc-opt %s --mb-cuda-select-kernels --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-select-kernels=fuse-local-layers=false --split-input-file | FileCheck %s --check-prefix=OFF
// RUN: mbc-opt %s --mb-cuda-select-kernels=reference-bodies=true --split-input-file | FileCheck %s --check-prefix=BODY

// MEGABYTE-pytorch's layer: token shift, clamped RMSNorm, to_kv halves.
// CHECK-LABEL: func.func @lucidrains_layer
// CHECK-SAME: (%[[X:.*]]: tensor<16x9x128xf32>, %[[G1:.*]]: tensor<128xf32>, %[[WQ:.*]]: tensor<128x128xbf16>, %[[WKV:.*]]: tensor<256x128xbf16>, %[[WO:.*]]: tensor<128x128xbf16>, %[[G2:.*]]: tensor<128xf32>, %[[UP:.*]]: tensor<512x128xbf16>, %[[UB:.*]]: tensor<512xf32>, %[[DOWN:.*]]: tensor<128x512xbf16>, %[[DB:.*]]: tensor<128xf32>)
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<16x9x128xf32> into tensor<144x128xf32>
// CHECK: %[[Y:.*]] = call @mbc_local_layer_0(%[[ROWS]], %[[G1]], %[[WQ]], %[[WKV]], %[[WO]], %[[G2]], %[[UP]], %[[UB]], %[[DOWN]], %[[DB]]) : (tensor<144x128xf32>, tensor<128xf32>, tensor<128x128xbf16>, tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<128xf32>, tensor<512x128xbf16>, tensor<512xf32>, tensor<128x512xbf16>, tensor<128xf32>) -> tensor<144x128xf32>
// CHECK: %[[Y3:.*]] = tensor.expand_shape %[[Y]] {{\[\[}}0, 1], [2]] output_shape [16, 9, 128]
// CHECK: return %[[Y3]]
// CHECK-NOT: mb.
// CHECK: func.func private @mbc_local_layer_0({{.*}} {bufferization.access = "read"}{{.*}}) -> tensor<144x128xf32> attributes {mb.cuda_local_layer = {activation = "gelu", dim = 128 : i64, epsilon = 1.000000e-08 : f64, fused_kv = true, head_dim = 32 : i64, heads = 4 : i64, hidden = 512 : i64, norm = "rms_clamp", positions = 9 : i64, rotary_theta = 0.000000e+00 : f64, scale = 0.17677669529663687 : f64, sequences = 16 : i64, stages = 3 : i64, token_shift = true, vector_type = f32, weight_type = bf16}}
// OFF-LABEL: func.func @lucidrains_layer
// OFF-NOT: mbc_local_layer
// OFF: call @mbc_attention_0
// BODY-LABEL: func.func @lucidrains_layer
// BODY: call @mbc_local_layer_0
// The body is the layer rebuilt from the spec, then selected one op at a
// time (what the emulated CPU program runs).
// BODY-LABEL: func.func private @mbc_local_layer_0
// BODY-SAME: attributes {mb.cuda_local_layer
// BODY: call @mbc_norm_
// BODY: call @mbc_gemm_
// BODY: call @mbc_attention_
// BODY: call @mbc_norm_
// BODY: call @mbc_gemm_
// BODY: return
// BODY-LABEL: func.func private @mbc_norm_
// BODY: mb.token_shift
// BODY: mb.rms_norm {{.*}} {clamp, epsilon = 1.000000e-08 : f64}
func.func @lucidrains_layer(%x: tensor<16x9x128xf32>, %g1: tensor<128xf32>, %wq16: tensor<128x128xbf16>, %wkv16: tensor<256x128xbf16>, %wo16: tensor<128x128xbf16>, %g2: tensor<128xf32>, %up16: tensor<512x128xbf16>, %ub: tensor<512xf32>, %down16: tensor<128x512xbf16>, %db: tensor<128xf32>) -> tensor<16x9x128xf32> {
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wo = arith.extf %wo16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %up = arith.extf %up16 : tensor<512x128xbf16> to tensor<512x128xf32>
  %down = arith.extf %down16 : tensor<128x512xbf16> to tensor<128x512xf32>
  %s1 = mb.token_shift %x : tensor<16x9x128xf32>
  %n1 = mb.rms_norm %s1, %g1 {clamp, epsilon = 1.0e-08 : f64} : (tensor<16x9x128xf32>, tensor<128xf32>) -> tensor<16x9x128xf32>
  %a = mb.local_attention %n1, %wq, %wk, %wv, %wo {head_dim = 32 : i64, heads = 4 : i64} : (tensor<16x9x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<16x9x128xf32>
  %x1 = arith.addf %a, %x : tensor<16x9x128xf32>
  %s2 = mb.token_shift %x1 : tensor<16x9x128xf32>
  %n2 = mb.rms_norm %s2, %g2 {clamp, epsilon = 1.0e-08 : f64} : (tensor<16x9x128xf32>, tensor<128xf32>) -> tensor<16x9x128xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<16x9x128xf32>, tensor<512x128xf32>, tensor<512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<16x9x128xf32>
  %x2 = arith.addf %x1, %f : tensor<16x9x128xf32>
  return %x2 : tensor<16x9x128xf32>
}

// -----

// The paper's layer: LayerNorm (weight and bias), no token shift, separate
// k and v weights, ReLU, 8 positions (8-row patches), f16 weights.
// CHECK-LABEL: func.func @paper_layer
// CHECK: call @mbc_local_layer_0(%{{.*}}, %[[LW1:.*]], %[[LB1:.*]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[LW2:.*]], %[[LB2:.*]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x64xf16>, tensor<64x64xf16>, tensor<64x64xf16>, tensor<64x64xf16>, tensor<64xf32>, tensor<64xf32>, tensor<256x64xf16>, tensor<256xf32>, tensor<64x256xf16>, tensor<64xf32>) -> tensor<64x64xf32>
// CHECK: mb.cuda_local_layer = {activation = "relu", dim = 64 : i64, epsilon = 1.000000e-05 : f64, fused_kv = false, head_dim = 64 : i64, heads = 1 : i64, hidden = 256 : i64, norm = "layer", positions = 8 : i64, rotary_theta = 0.000000e+00 : f64, scale = 1.250000e-01 : f64, sequences = 8 : i64, stages = 3 : i64, token_shift = false, vector_type = f32, weight_type = f16}
func.func @paper_layer(%x: tensor<8x8x64xf32>, %lw1: tensor<64xf32>, %lb1: tensor<64xf32>, %wq16: tensor<64x64xf16>, %wk16: tensor<64x64xf16>, %wv16: tensor<64x64xf16>, %wo16: tensor<64x64xf16>, %lw2: tensor<64xf32>, %lb2: tensor<64xf32>, %up16: tensor<256x64xf16>, %ub: tensor<256xf32>, %down16: tensor<64x256xf16>, %db: tensor<64xf32>) -> tensor<8x8x64xf32> {
  %wq = arith.extf %wq16 : tensor<64x64xf16> to tensor<64x64xf32>
  %wk = arith.extf %wk16 : tensor<64x64xf16> to tensor<64x64xf32>
  %wv = arith.extf %wv16 : tensor<64x64xf16> to tensor<64x64xf32>
  %wo = arith.extf %wo16 : tensor<64x64xf16> to tensor<64x64xf32>
  %up = arith.extf %up16 : tensor<256x64xf16> to tensor<256x64xf32>
  %down = arith.extf %down16 : tensor<64x256xf16> to tensor<64x256xf32>
  %n1 = mb.layer_norm %x, %lw1, %lb1 {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %a = mb.local_attention %n1, %wq, %wk, %wv, %wo {head_dim = 64 : i64, heads = 1 : i64} : (tensor<8x8x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<8x8x64xf32>
  %x1 = arith.addf %x, %a : tensor<8x8x64xf32>
  %n2 = mb.layer_norm %x1, %lw2, %lb2 {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %f = mb.ffn <relu> %n2, %up, %ub, %down, %db : (tensor<8x8x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<8x8x64xf32>
  return %x2 : tensor<8x8x64xf32>
}

// -----

// f32 weights: fused, each weight rounded to bf16 (in the CUDA pipeline
// once, at load: mb-cuda-hoist-weight-conversions); the norms' and biases'
// vectors stay f32. Weights mixing f32 and 16-bit storage: not fused.
// CHECK-LABEL: func.func @mixed_weights
// CHECK-NOT: mbc_local_layer
// CHECK: call @mbc_attention_{{[0-9]+}}
// CHECK-LABEL: func.func @f32_weights
// CHECK-SAME: %[[WQ:[^:]*]]: tensor<64x64xf32>, %[[WO:[^:]*]]: tensor<64x64xf32>
// CHECK-DAG: %[[Q16:.*]] = arith.truncf %[[WQ]] : tensor<64x64xf32> to tensor<64x64xbf16>
// CHECK-DAG: %[[O16:.*]] = arith.truncf %[[WO]] : tensor<64x64xf32> to tensor<64x64xbf16>
// CHECK: call @mbc_local_layer_0({{.*}}%[[O16]]
// CHECK-NOT: call @mbc_attention
func.func @mixed_weights(%x: tensor<8x8x64xf32>, %g: tensor<64xf32>, %wq: tensor<64x64xf32>, %wo16: tensor<64x64xbf16>, %up: tensor<256x64xf32>, %ub: tensor<256xf32>, %down: tensor<64x256xf32>, %db: tensor<64xf32>) -> tensor<8x8x64xf32> {
  %wo = arith.extf %wo16 : tensor<64x64xbf16> to tensor<64x64xf32>
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %a = mb.local_attention %n1, %wq, %wq, %wq, %wo {head_dim = 64 : i64, heads = 1 : i64} : (tensor<8x8x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<8x8x64xf32>
  %x1 = arith.addf %x, %a : tensor<8x8x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<8x8x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<8x8x64xf32>
  return %x2 : tensor<8x8x64xf32>
}
func.func @f32_weights(%x: tensor<8x8x64xf32>, %g: tensor<64xf32>, %wq: tensor<64x64xf32>, %wo: tensor<64x64xf32>, %up: tensor<256x64xf32>, %ub: tensor<256xf32>, %down: tensor<64x256xf32>, %db: tensor<64xf32>) -> tensor<8x8x64xf32> {
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %a = mb.local_attention %n1, %wq, %wq, %wq, %wo {head_dim = 64 : i64, heads = 1 : i64} : (tensor<8x8x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<8x8x64xf32>
  %x1 = arith.addf %x, %a : tensor<8x8x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<8x8x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<8x8x64xf32>
  return %x2 : tensor<8x8x64xf32>
}

// -----

// Rotary is fused (the kernel rotates q and k), as are patches of 17
// positions (3 packed patches a 64-row tile, spanning warps); not fused: the norms'
// epsilons differ, x1 has a third use, patches longer than the CTA's 64
// rows.
// CHECK-LABEL: func.func @rotary
// CHECK: call @mbc_local_layer_0
// CHECK-LABEL: func.func @epsilons
// CHECK-NOT: mbc_local_layer
// CHECK-LABEL: func.func @third_use
// CHECK-NOT: mbc_local_layer
// CHECK-LABEL: func.func @long_patches
// CHECK: call @mbc_local_layer_1
// CHECK-LABEL: func.func @too_long_patches
// CHECK-NOT: call @mbc_local_layer
// CHECK: rotary_theta = 1.000000e+04 : f64
func.func @rotary(%x: tensor<8x8x64xf32>, %g: tensor<64xf32>, %w16: tensor<64x64xbf16>, %up16: tensor<256x64xbf16>, %ub: tensor<256xf32>, %down16: tensor<64x256xbf16>, %db: tensor<64xf32>) -> tensor<8x8x64xf32> {
  %w = arith.extf %w16 : tensor<64x64xbf16> to tensor<64x64xf32>
  %up = arith.extf %up16 : tensor<256x64xbf16> to tensor<256x64xf32>
  %down = arith.extf %down16 : tensor<64x256xbf16> to tensor<64x256xf32>
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %a = mb.local_attention %n1, %w, %w, %w, %w {head_dim = 64 : i64, heads = 1 : i64, rotary_theta = 10000.0 : f64} : (tensor<8x8x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<8x8x64xf32>
  %x1 = arith.addf %x, %a : tensor<8x8x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<8x8x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<8x8x64xf32>
  return %x2 : tensor<8x8x64xf32>
}
func.func @epsilons(%x: tensor<8x8x64xf32>, %g: tensor<64xf32>, %w16: tensor<64x64xbf16>, %up16: tensor<256x64xbf16>, %ub: tensor<256xf32>, %down16: tensor<64x256xbf16>, %db: tensor<64xf32>) -> tensor<8x8x64xf32> {
  %w = arith.extf %w16 : tensor<64x64xbf16> to tensor<64x64xf32>
  %up = arith.extf %up16 : tensor<256x64xbf16> to tensor<256x64xf32>
  %down = arith.extf %down16 : tensor<64x256xbf16> to tensor<64x256xf32>
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %a = mb.local_attention %n1, %w, %w, %w, %w {head_dim = 64 : i64, heads = 1 : i64} : (tensor<8x8x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<8x8x64xf32>
  %x1 = arith.addf %x, %a : tensor<8x8x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-06 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<8x8x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<8x8x64xf32>
  return %x2 : tensor<8x8x64xf32>
}
func.func @third_use(%x: tensor<8x8x64xf32>, %g: tensor<64xf32>, %w16: tensor<64x64xbf16>, %up16: tensor<256x64xbf16>, %ub: tensor<256xf32>, %down16: tensor<64x256xbf16>, %db: tensor<64xf32>) -> (tensor<8x8x64xf32>, tensor<8x8x64xf32>) {
  %w = arith.extf %w16 : tensor<64x64xbf16> to tensor<64x64xf32>
  %up = arith.extf %up16 : tensor<256x64xbf16> to tensor<256x64xf32>
  %down = arith.extf %down16 : tensor<64x256xbf16> to tensor<64x256xf32>
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %a = mb.local_attention %n1, %w, %w, %w, %w {head_dim = 64 : i64, heads = 1 : i64} : (tensor<8x8x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<8x8x64xf32>
  %x1 = arith.addf %x, %a : tensor<8x8x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-05 : f64} : (tensor<8x8x64xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<8x8x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x8x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<8x8x64xf32>
  return %x2, %x1 : tensor<8x8x64xf32>, tensor<8x8x64xf32>
}
func.func @long_patches(%x: tensor<4x17x64xf32>, %g: tensor<64xf32>, %w16: tensor<64x64xbf16>, %up16: tensor<256x64xbf16>, %ub: tensor<256xf32>, %down16: tensor<64x256xbf16>, %db: tensor<64xf32>) -> tensor<4x17x64xf32> {
  %w = arith.extf %w16 : tensor<64x64xbf16> to tensor<64x64xf32>
  %up = arith.extf %up16 : tensor<256x64xbf16> to tensor<256x64xf32>
  %down = arith.extf %down16 : tensor<64x256xbf16> to tensor<64x256xf32>
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<4x17x64xf32>, tensor<64xf32>) -> tensor<4x17x64xf32>
  %a = mb.local_attention %n1, %w, %w, %w, %w {head_dim = 64 : i64, heads = 1 : i64} : (tensor<4x17x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<4x17x64xf32>
  %x1 = arith.addf %x, %a : tensor<4x17x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-05 : f64} : (tensor<4x17x64xf32>, tensor<64xf32>) -> tensor<4x17x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<4x17x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<4x17x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<4x17x64xf32>
  return %x2 : tensor<4x17x64xf32>
}
func.func @too_long_patches(%x: tensor<2x65x64xf32>, %g: tensor<64xf32>, %w16: tensor<64x64xbf16>, %up16: tensor<256x64xbf16>, %ub: tensor<256xf32>, %down16: tensor<64x256xbf16>, %db: tensor<64xf32>) -> tensor<2x65x64xf32> {
  %w = arith.extf %w16 : tensor<64x64xbf16> to tensor<64x64xf32>
  %up = arith.extf %up16 : tensor<256x64xbf16> to tensor<256x64xf32>
  %down = arith.extf %down16 : tensor<64x256xbf16> to tensor<64x256xf32>
  %n1 = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<2x65x64xf32>, tensor<64xf32>) -> tensor<2x65x64xf32>
  %a = mb.local_attention %n1, %w, %w, %w, %w {head_dim = 64 : i64, heads = 1 : i64} : (tensor<2x65x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<2x65x64xf32>
  %x1 = arith.addf %x, %a : tensor<2x65x64xf32>
  %n2 = mb.rms_norm %x1, %g {epsilon = 1.0e-05 : f64} : (tensor<2x65x64xf32>, tensor<64xf32>) -> tensor<2x65x64xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<2x65x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<2x65x64xf32>
  %x2 = arith.addf %f, %x1 : tensor<2x65x64xf32>
  return %x2 : tensor<2x65x64xf32>
}
