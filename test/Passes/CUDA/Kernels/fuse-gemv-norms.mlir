// mb-cuda-fuse-gemv-norms: a decode row's RMSNorm or LayerNorm call read
// only by GEMVs becomes their prologue; anything else keeps the norm.
// RUN: mbc-opt %s --mb-cuda-fuse-gemv-norms --split-input-file | FileCheck %s

// The attention norm of a decode step read (through reshapes) by the q and
// kv GEMVs: both take x and the norm weight, the norm call and its
// declaration go, as do the plain GEMVs' declarations.
// CHECK-LABEL: func.func @two_readers
// CHECK-SAME: (%[[X:.*]]: tensor<1x128xf32>, %[[G:.*]]: tensor<128xbf16>, %[[WQ:.*]]: tensor<128x128xbf16>, %[[WKV:.*]]: tensor<256x128xbf16>)
// CHECK-NOT: mbc_norm
// CHECK: %[[Q:.*]] = call @[[QF:mbc_gemv_[0-9]+]](%[[X]], %[[WQ]], %[[G]]) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32>
// CHECK: %[[KV:.*]] = call @[[KVF:mbc_gemv_[0-9]+]](%[[X]], %[[WKV]], %[[G]]) : (tensor<1x128xf32>, tensor<256x128xbf16>, tensor<128xbf16>) -> tensor<1x256xf32>
// CHECK: return %[[Q]], %[[KV]]
// CHECK-NOT: func.func private @mbc_norm_0
// CHECK-NOT: func.func private @mbc_gemv_0(
// CHECK-NOT: func.func private @mbc_gemv_1(
// CHECK-DAG: func.func private @[[QF]]({{.*}}) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, norm = "rms_clamp", norm_epsilon = 1.000000e-08 : f64, norm_weight_type = bf16, residual = false, warps = 8 : i64, weight_type = bf16}}
// CHECK-DAG: func.func private @[[KVF]]({{.*}}) -> tensor<1x256xf32> attributes {mb.cuda_gemv = {{{.*}}n = 256 : i64, norm = "rms_clamp"
func.func private @mbc_norm_0(tensor<1x128xf32>, tensor<128xbf16>) -> tensor<1x128xf32> attributes {mb.cuda_norm = {dim = 128 : i64, epsilon = 1.000000e-08 : f64, norm = "rms_clamp", output_type = f32, positions = 1 : i64, rows = 1 : i64, token_shift = false, weight_type = bf16}}
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @mbc_gemv_1(tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 256 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @two_readers(%x: tensor<1x128xf32>, %g: tensor<128xbf16>, %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xbf16>) -> (tensor<1x128xf32>, tensor<1x256xf32>) {
  %n = call @mbc_norm_0(%x, %g) : (tensor<1x128xf32>, tensor<128xbf16>) -> tensor<1x128xf32>
  %e = tensor.expand_shape %n [[0, 1], [2]] output_shape [1, 1, 128] : tensor<1x128xf32> into tensor<1x1x128xf32>
  %c = tensor.collapse_shape %e [[0, 1], [2]] : tensor<1x1x128xf32> into tensor<1x128xf32>
  %q = call @mbc_gemv_0(%c, %wq) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
  %kv = call @mbc_gemv_1(%n, %wkv) : (tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32>
  return %q, %kv : tensor<1x128xf32>, tensor<1x256xf32>
}

// -----

// Kept: the normalized row is also an entry's output (not only GEMVs read
// it). A LayerNorm becomes the prologue too, its weight and bias the
// GEMV's last operands; one whose rows would not fit the kernel's shared
// memory (16 rows x 1024 features x 4 bytes > 48 KiB) stays.
// CHECK-LABEL: func.func @other_reader
// CHECK: call @mbc_norm_0
// CHECK: call @mbc_gemv_0
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<1x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[W:.*]]: tensor<128x128xbf16>)
// CHECK-NOT: mbc_norm
// CHECK: call @[[LF:mbc_gemv_[0-9]+]](%[[X]], %[[W]], %[[G]], %[[B]]) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x128xf32>
// CHECK-LABEL: func.func @layer_norm_too_wide
// CHECK: call @mbc_norm_2
// CHECK: call @mbc_gemv_1
// CHECK: func.func private @[[LF]]({{.*}}) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {{{.*}}norm = "layer", norm_epsilon = 1.000000e-05 : f64, norm_weight_type = f32
func.func private @mbc_norm_0(tensor<1x128xf32>, tensor<128xf32>) -> tensor<1x128xf32> attributes {mb.cuda_norm = {dim = 128 : i64, epsilon = 1.000000e-08 : f64, norm = "rms", output_type = f32, positions = 1 : i64, rows = 1 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_norm_1(tensor<1x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x128xf32> attributes {mb.cuda_norm = {dim = 128 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = f32, positions = 1 : i64, rows = 1 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @mbc_norm_2(tensor<16x1024xf32>, tensor<1024xf32>, tensor<1024xf32>) -> tensor<16x1024xf32> attributes {mb.cuda_norm = {dim = 1024 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = f32, positions = 1 : i64, rows = 16 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_gemv_1(tensor<16x1024xf32>, tensor<64x1024xbf16>) -> tensor<16x64xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 1024 : i64, m = 16 : i64, n = 64 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @other_reader(%x: tensor<1x128xf32>, %g: tensor<128xf32>, %w: tensor<128x128xbf16>) -> (tensor<1x128xf32>, tensor<1x128xf32>) {
  %n = call @mbc_norm_0(%x, %g) : (tensor<1x128xf32>, tensor<128xf32>) -> tensor<1x128xf32>
  %y = call @mbc_gemv_0(%n, %w) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
  return %y, %n : tensor<1x128xf32>, tensor<1x128xf32>
}
func.func @layer_norm(%x: tensor<1x128xf32>, %g: tensor<128xf32>, %bias: tensor<128xf32>, %w: tensor<128x128xbf16>) -> tensor<1x128xf32> {
  %n = call @mbc_norm_1(%x, %g, %bias) : (tensor<1x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x128xf32>
  %y = call @mbc_gemv_0(%n, %w) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}
func.func @layer_norm_too_wide(%x: tensor<16x1024xf32>, %g: tensor<1024xf32>, %bias: tensor<1024xf32>, %w: tensor<64x1024xbf16>) -> tensor<16x64xf32> {
  %n = call @mbc_norm_2(%x, %g, %bias) : (tensor<16x1024xf32>, tensor<1024xf32>, tensor<1024xf32>) -> tensor<16x1024xf32>
  %y = call @mbc_gemv_1(%n, %w) : (tensor<16x1024xf32>, tensor<64x1024xbf16>) -> tensor<16x64xf32>
  return %y : tensor<16x64xf32>
}
