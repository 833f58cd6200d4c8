// mb-cuda-select-kernels: a norm (after a token shift or not) whose only
// use is the rounded 16-bit operand of GEMMs becomes one @mbc_norm_<n> call
// writing that operand; with fuse-norms=false the shift, norm and rounding
// stay separate ops.
// RUN: mbc-opt %s --mb-cuda-select-kernels --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-select-kernels=fuse-norms=false --split-input-file | FileCheck %s --check-prefix=OFF
// RUN: mbc-opt %s --mb-cuda-select-kernels=reference-bodies=true --split-input-file | FileCheck %s --check-prefix=BODY

// CHECK-LABEL: func.func @shift_norm_ffn
// CHECK-SAME: (%[[X:.*]]: tensor<1x129x256xf32>, %[[G:.*]]: tensor<256xf32>,
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[X]]
// CHECK: %[[N:.*]] = call @mbc_norm_0(%[[ROWS]], %[[G]]) : (tensor<129x256xf32>, tensor<256xf32>) -> tensor<129x256xbf16>
// CHECK: call @mbc_gemm_0(%[[N]],
// CHECK-NOT: mb.token_shift
// CHECK-NOT: mb.rms_norm
// CHECK: func.func private @mbc_norm_0({{.*}}) -> tensor<129x256xbf16> attributes {mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-08 : f64, norm = "rms_clamp", output_type = bf16, positions = 129 : i64, rows = 129 : i64, token_shift = true, weight_type = f32}}
// OFF-LABEL: func.func @shift_norm_ffn
// OFF: mb.token_shift
// OFF: mb.rms_norm
// OFF: arith.truncf
// OFF-NOT: mbc_norm
// BODY-LABEL: func.func private @mbc_norm_0
// BODY: mb.token_shift
// BODY: mb.rms_norm {{.*}} {clamp, epsilon = 1.000000e-08 : f64}
// BODY: arith.truncf
// BODY: return
func.func @shift_norm_ffn(%x: tensor<1x129x256xf32>, %g: tensor<256xf32>, %up16: tensor<1024x256xbf16>, %ub: tensor<1024xf32>, %down16: tensor<256x1024xbf16>, %db: tensor<256xf32>) -> tensor<1x129x256xf32> {
  %up = arith.extf %up16 : tensor<1024x256xbf16> to tensor<1024x256xf32>
  %down = arith.extf %down16 : tensor<256x1024xbf16> to tensor<256x1024xf32>
  %s = mb.token_shift %x : tensor<1x129x256xf32>
  %n = mb.rms_norm %s, %g {clamp, epsilon = 1.0e-08 : f64} : (tensor<1x129x256xf32>, tensor<256xf32>) -> tensor<1x129x256xf32>
  %f = mb.ffn <gelu> %n, %up, %ub, %down, %db : (tensor<1x129x256xf32>, tensor<1024x256xf32>, tensor<1024xf32>, tensor<256x1024xf32>, tensor<256xf32>) -> tensor<1x129x256xf32>
  %y = arith.addf %f, %x : tensor<1x129x256xf32>
  return %y : tensor<1x129x256xf32>
}

// -----

// LayerNorm (the dual patch norm over P x D features) before a linear.
// CHECK-LABEL: func.func @layer_norm_linear
// CHECK: call @mbc_norm_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<128x1024xf32>, tensor<1024xf32>, tensor<1024xf32>) -> tensor<128x1024xbf16>
// CHECK: mb.cuda_norm = {dim = 1024 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = bf16, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = f32}
func.func @layer_norm_linear(%x: tensor<1x128x1024xf32>, %w: tensor<1024xf32>, %b: tensor<1024xf32>, %lin16: tensor<256x1024xbf16>, %lb: tensor<256xf32>) -> tensor<1x128x256xf32> {
  %lin = arith.extf %lin16 : tensor<256x1024xbf16> to tensor<256x1024xf32>
  %n = mb.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64} : (tensor<1x128x1024xf32>, tensor<1024xf32>, tensor<1024xf32>) -> tensor<1x128x1024xf32>
  %y = mb.linear %n, %lin, %lb : (tensor<1x128x1024xf32>, tensor<256x1024xf32>, tensor<256xf32>) -> tensor<1x128x256xf32>
  return %y : tensor<1x128x256xf32>
}

// -----

// Not fused: the norm's result has another use (it must exist in f32).
// CHECK-LABEL: func.func @norm_used_twice
// CHECK: mb.rms_norm
// CHECK-NOT: mbc_norm
func.func @norm_used_twice(%x: tensor<1x128x256xf32>, %g: tensor<256xf32>, %lin16: tensor<256x256xbf16>) -> (tensor<1x128x256xf32>, tensor<1x128x256xf32>) {
  %lin = arith.extf %lin16 : tensor<256x256xbf16> to tensor<256x256xf32>
  %n = mb.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : (tensor<1x128x256xf32>, tensor<256xf32>) -> tensor<1x128x256xf32>
  %y = mb.linear %n, %lin : (tensor<1x128x256xf32>, tensor<256x256xf32>) -> tensor<1x128x256xf32>
  return %y, %n : tensor<1x128x256xf32>, tensor<1x128x256xf32>
}

// -----

// Decode rows (a step's one position): the norm alone becomes the kernel,
// writing f32 rows for the GEMV (nothing rounded).
// CHECK-LABEL: func.func @decode_norm
// CHECK-SAME: (%[[X:.*]]: tensor<1x1x256xf32>, %[[G:.*]]: tensor<256xbf16>,
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[X]]
// CHECK: %[[N:.*]] = call @mbc_norm_0(%[[ROWS]], %[[G]]) : (tensor<1x256xf32>, tensor<256xbf16>) -> tensor<1x256xf32>
// CHECK: %[[N3:.*]] = tensor.expand_shape %[[N]]
// CHECK: call @mbc_gemv_0(%{{.*}}, %{{.*}}) : (tensor<1x256xf32>, tensor<512x256xbf16>) -> tensor<1x512xf32>
// CHECK-NOT: mb.rms_norm
// CHECK: mb.cuda_norm = {dim = 256 : i64, epsilon = 9.9999999999999995E-7 : f64, norm = "rms", output_type = f32, positions = 1 : i64, rows = 1 : i64, token_shift = false, weight_type = bf16}
// OFF-LABEL: func.func @decode_norm
// OFF: mb.rms_norm
// The reference body returns the f32 rows unrounded.
// BODY-LABEL: func.func @decode_norm
// BODY: func.func private @mbc_norm_0(%{{.*}}: tensor<1x256xf32>
// BODY: mb.rms_norm
// BODY-NOT: arith.truncf
// BODY: return %{{.*}} : tensor<1x256xf32>
func.func @decode_norm(%x: tensor<1x1x256xf32>, %g16: tensor<256xbf16>, %w16: tensor<512x256xbf16>) -> tensor<1x1x512xf32> {
  %g = arith.extf %g16 : tensor<256xbf16> to tensor<256xf32>
  %w = arith.extf %w16 : tensor<512x256xbf16> to tensor<512x256xf32>
  %n = mb.rms_norm %x, %g {epsilon = 1.0e-06 : f64} : (tensor<1x1x256xf32>, tensor<256xf32>) -> tensor<1x1x256xf32>
  %y = mb.linear %n, %w : (tensor<1x1x256xf32>, tensor<512x256xf32>) -> tensor<1x1x512xf32>
  return %y : tensor<1x1x512xf32>
}

// -----

// A norm of many rows read in f32 by no GEMM (the patch embedding's second
// LayerNorm, before the start token joins it): one norm kernel writing f32
// rows, not a generic launch per statistic.
// CHECK-LABEL: func.func @layer_norm_rows_in_f32
// CHECK: %[[N:.*]] = call @mbc_norm_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<128x256xf32>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<128x256xf32>
// CHECK-NOT: mb.layer_norm
// CHECK: arith.addf
// CHECK: mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = f32, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = bf16}
// OFF-LABEL: func.func @layer_norm_rows_in_f32
// OFF: mb.layer_norm
func.func @layer_norm_rows_in_f32(%x: tensor<1x128x256xf32>, %g16: tensor<256xbf16>, %b16: tensor<256xbf16>, %r: tensor<1x128x256xf32>) -> tensor<1x128x256xf32> {
  %g = arith.extf %g16 : tensor<256xbf16> to tensor<256xf32>
  %b = arith.extf %b16 : tensor<256xbf16> to tensor<256xf32>
  %n = mb.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f64} : (tensor<1x128x256xf32>, tensor<256xf32>, tensor<256xf32>) -> tensor<1x128x256xf32>
  %y = arith.addf %n, %r : tensor<1x128x256xf32>
  return %y : tensor<1x128x256xf32>
}

// -----

// The patch embedding's last LayerNorm read only by mb.start_token (the
// global input, two sequences of 64 patches): its kernel writes the start
// token's result, 130 rows (no concatenation kernel); the start row is
// read as stored (bf16).
// CHECK-LABEL: func.func @layer_norm_start_token
// CHECK-SAME: (%[[X:.*]]: tensor<2x64x256xf32>, %[[G:.*]]: tensor<256xbf16>, %[[B:.*]]: tensor<256xbf16>, %[[S:.*]]: tensor<256xbf16>
// CHECK: %[[ROWS:.*]] = call @mbc_norm_0(%{{.*}}, %[[G]], %[[B]], %[[S]]) : (tensor<128x256xf32>, tensor<256xbf16>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<130x256xf32>
// CHECK: %[[STARTED:.*]] = tensor.expand_shape %[[ROWS]] {{.*}} output_shape [2, 65, 256]
// CHECK-NOT: mb.start_token
// CHECK: mb.token_shift %[[STARTED]]
// CHECK: mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = f32, positions = 64 : i64, rows = 128 : i64, start_type = bf16, token_shift = false, weight_type = bf16}
// OFF-LABEL: func.func @layer_norm_start_token
// OFF: mb.layer_norm
// OFF: mb.start_token
// The reference body: the norm, then the start token (widened).
// BODY-LABEL: func.func @layer_norm_start_token
// BODY: func.func private @mbc_norm_0
// BODY: mb.layer_norm
// BODY: %[[START:.*]] = arith.extf %arg3 : tensor<256xbf16> to tensor<256xf32>
// BODY: mb.start_token %{{.*}}, %[[START]] : tensor<2x64x256xf32>, tensor<256xf32> -> tensor<2x65x256xf32>
// BODY: return %{{.*}} : tensor<130x256xf32>
func.func @layer_norm_start_token(%x: tensor<2x64x256xf32>, %g16: tensor<256xbf16>, %b16: tensor<256xbf16>, %s16: tensor<256xbf16>) -> tensor<2x65x256xf32> {
  %g = arith.extf %g16 : tensor<256xbf16> to tensor<256xf32>
  %b = arith.extf %b16 : tensor<256xbf16> to tensor<256xf32>
  %s = arith.extf %s16 : tensor<256xbf16> to tensor<256xf32>
  %n = mb.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f64} : (tensor<2x64x256xf32>, tensor<256xf32>, tensor<256xf32>) -> tensor<2x64x256xf32>
  %t = mb.start_token %n, %s : tensor<2x64x256xf32>, tensor<256xf32> -> tensor<2x65x256xf32>
  %y = mb.token_shift %t : tensor<2x65x256xf32>
  return %y : tensor<2x65x256xf32>
}
