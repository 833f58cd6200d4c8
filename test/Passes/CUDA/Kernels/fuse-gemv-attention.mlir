// mb-cuda-fuse-gemv-attention: a decode attention over a short cache read
// only by a GEMV becomes its prologue; longer caches, other readers and
// GEMVs with a prologue keep the attention.
// RUN: mbc-opt %s --mb-cuda-fuse-gemv-attention --split-input-file | FileCheck %s

// A local layer's attention (9 positions, cache rows 1..1 of 2) read through
// a reshape by the output projection: the GEMV takes q, its weight, the
// caches and the position, and gets a body that returns a fresh tensor (so
// bufferization copies no cache); the attention's call and declaration go.
// CHECK-LABEL: func.func @local
// CHECK-SAME: (%[[Q:.*]]: tensor<1x128xf32>, %[[K:.*]]: tensor<2x9x128xf32>, %[[V:.*]]: tensor<2x9x128xf32>, %[[P:.*]]: tensor<1xi64>, %[[W:.*]]: tensor<256x128xbf16>)
// CHECK-NOT: mbc_decode_attention
// CHECK: %[[O:.*]] = call @[[F:mbc_gemv_[0-9]+]](%[[Q]], %[[W]], %[[K]], %[[V]], %[[P]]) : (tensor<1x128xf32>, tensor<256x128xbf16>, tensor<2x9x128xf32>, tensor<2x9x128xf32>, tensor<1xi64>) -> tensor<1x256xf32>
// CHECK: return %[[O]]
// CHECK-NOT: func.func private @mbc_gemv_0(
// CHECK: func.func private @[[F]]({{.*}}) -> tensor<1x256xf32> attributes {mb.cuda_gemv = {activation = "none", attention_cache_length = 9 : i64, attention_cache_rows = 2 : i64, attention_first_row = 1 : i64, attention_head_dim = 64 : i64, attention_heads = 2 : i64, attention_scale = 1.250000e-01 : f64, bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 256 : i64, residual = false, warps = 8 : i64, weight_type = bf16}} {
// CHECK-NEXT: tensor.empty() : tensor<1x256xf32>
func.func private @mbc_decode_attention_0(%q: tensor<1x128xf32>, %k: tensor<2x9x128xf32>, %v: tensor<2x9x128xf32>, %p: tensor<1xi64>) -> tensor<1x128xf32> attributes {mb.cuda_decode_attention = {cache_length = 9 : i64, cache_rows = 2 : i64, first_row = 1 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 1.250000e-01 : f64, sequences = 1 : i64, splits = 1 : i64, warps = 4 : i64}} {
  %0 = tensor.empty() : tensor<1x128xf32>
  return %0 : tensor<1x128xf32>
}
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 256 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @local(%q: tensor<1x128xf32>, %k: tensor<2x9x128xf32>, %v: tensor<2x9x128xf32>, %p: tensor<1xi64>, %w: tensor<256x128xbf16>) -> tensor<1x256xf32> {
  %o = call @mbc_decode_attention_0(%q, %k, %v, %p) : (tensor<1x128xf32>, tensor<2x9x128xf32>, tensor<2x9x128xf32>, tensor<1xi64>) -> tensor<1x128xf32>
  %e = tensor.expand_shape %o [[0, 1], [2]] output_shape [1, 1, 128] : tensor<1x128xf32> into tensor<1x1x128xf32>
  %c = tensor.collapse_shape %e [[0, 1], [2]] : tensor<1x1x128xf32> into tensor<1x128xf32>
  %r = call @mbc_gemv_0(%c, %w) : (tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32>
  return %r : tensor<1x256xf32>
}

// -----

// A global layer's cache (64 positions) is longer than the prologue reads,
// and an attention with a second reader stays: both keep their kernels.
// CHECK-LABEL: func.func @kept
// CHECK: call @mbc_decode_attention_0
// CHECK: call @mbc_gemv_0
// CHECK: call @mbc_decode_attention_1
// CHECK: call @mbc_gemv_0
func.func private @mbc_decode_attention_0(%q: tensor<1x128xf32>, %k: tensor<1x64x128xf32>, %v: tensor<1x64x128xf32>, %p: tensor<1xi64>) -> tensor<1x128xf32> attributes {mb.cuda_decode_attention = {cache_length = 64 : i64, cache_rows = 1 : i64, first_row = 0 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 0.000000e+00 : f64, sequences = 1 : i64, splits = 1 : i64, warps = 4 : i64}} {
  %0 = tensor.empty() : tensor<1x128xf32>
  return %0 : tensor<1x128xf32>
}
func.func private @mbc_decode_attention_1(%q: tensor<1x128xf32>, %k: tensor<1x9x128xf32>, %v: tensor<1x9x128xf32>, %p: tensor<1xi64>) -> tensor<1x128xf32> attributes {mb.cuda_decode_attention = {cache_length = 9 : i64, cache_rows = 1 : i64, first_row = 0 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 0.000000e+00 : f64, sequences = 1 : i64, splits = 1 : i64, warps = 4 : i64}} {
  %0 = tensor.empty() : tensor<1x128xf32>
  return %0 : tensor<1x128xf32>
}
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 256 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @kept(%q: tensor<1x128xf32>, %k: tensor<1x64x128xf32>, %v: tensor<1x64x128xf32>, %k2: tensor<1x9x128xf32>, %v2: tensor<1x9x128xf32>, %p: tensor<1xi64>, %w: tensor<256x128xbf16>) -> (tensor<1x256xf32>, tensor<1x256xf32>, tensor<1x128xf32>) {
  %o = call @mbc_decode_attention_0(%q, %k, %v, %p) : (tensor<1x128xf32>, tensor<1x64x128xf32>, tensor<1x64x128xf32>, tensor<1xi64>) -> tensor<1x128xf32>
  %r = call @mbc_gemv_0(%o, %w) : (tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32>
  %o2 = call @mbc_decode_attention_1(%q, %k2, %v2, %p) : (tensor<1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>, tensor<1xi64>) -> tensor<1x128xf32>
  %r2 = call @mbc_gemv_0(%o2, %w) : (tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32>
  return %r, %r2, %o2 : tensor<1x256xf32>, tensor<1x256xf32>, tensor<1x128xf32>
}
