// mb-cuda-pair-gemvs: two GEMVs of the same rows (and norm) become one
// paired GEMV call returning both products; anything else stays.
// RUN: mbc-opt %s --mb-cuda-pair-gemvs --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-pair-gemvs --split-input-file --mb-cuda-reference-kernels | FileCheck %s --check-prefix=BODY

// A decode layer's q and kv projections with the attention norm folded in:
// one call, w2 after the norm weight, both results; the old declarations go.
// CHECK-LABEL: func.func @q_and_kv
// CHECK-SAME: (%[[X:.*]]: tensor<1x128xf32>, %[[G:.*]]: tensor<128xbf16>, %[[WQ:.*]]: tensor<128x128xbf16>, %[[WKV:.*]]: tensor<256x128xbf16>)
// CHECK: %[[P:.*]]:2 = call @[[F:mbc_gemv_[0-9]+]](%[[X]], %[[WQ]], %[[G]], %[[WKV]]) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>, tensor<256x128xbf16>) -> (tensor<1x128xf32>, tensor<1x256xf32>)
// CHECK-NOT: call
// CHECK: return %[[P]]#0, %[[P]]#1
// CHECK-NOT: func.func private @mbc_gemv_0(
// CHECK-NOT: func.func private @mbc_gemv_1(
// CHECK: func.func private @[[F]]({{.*}}) -> (tensor<1x128xf32>, tensor<1x256xf32>) attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, norm = "rms_clamp", norm_epsilon = 1.000000e-08 : f64, norm_weight_type = bf16, paired_n = 256 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
// The reference body (emulation): one normalized A, two products.
// BODY-LABEL: func.func private @mbc_gemv_2
// BODY-COUNT-1: math.sqrt
// BODY: linalg.generic {{.*}} ins(%{{.*}}, %arg1 : tensor<1x128xf32>, tensor<128x128xbf16>)
// BODY: linalg.generic {{.*}} ins(%{{.*}}, %arg3 : tensor<1x128xf32>, tensor<256x128xbf16>)
// BODY: return %{{.*}}, %{{.*}} : tensor<1x128xf32>, tensor<1x256xf32>
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, norm = "rms_clamp", norm_epsilon = 1.000000e-08 : f64, norm_weight_type = bf16, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @mbc_gemv_1(tensor<1x128xf32>, tensor<256x128xbf16>, tensor<128xbf16>) -> tensor<1x256xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 256 : i64, norm = "rms_clamp", norm_epsilon = 1.000000e-08 : f64, norm_weight_type = bf16, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @q_and_kv(%x: tensor<1x128xf32>, %g: tensor<128xbf16>, %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xbf16>) -> (tensor<1x128xf32>, tensor<1x256xf32>) {
  %q = call @mbc_gemv_0(%x, %wq, %g) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32>
  %kv = call @mbc_gemv_1(%x, %wkv, %g) : (tensor<1x128xf32>, tensor<256x128xbf16>, tensor<128xbf16>) -> tensor<1x256xf32>
  return %q, %kv : tensor<1x128xf32>, tensor<1x256xf32>
}

// -----

// Kept apart: different A; a bias (the epilogue stays per product);
// different norm weights; the second's weight made after the first call
// by an op with effects (a call).
// CHECK-LABEL: func.func @kept_apart
// CHECK-COUNT-2: call @mbc_gemv_0
// CHECK: call @mbc_gemv_1
// CHECK-COUNT-3: call @mbc_gemv_2
// CHECK-NOT: paired_n
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @mbc_gemv_1(tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xf32>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = true, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @mbc_gemv_2(tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, norm = "rms", norm_epsilon = 1.000000e-05 : f64, norm_weight_type = bf16, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @make_weight(tensor<128x128xf32>) -> tensor<128x128xbf16>
func.func @kept_apart(%x: tensor<1x128xf32>, %y: tensor<1x128xf32>, %w: tensor<128x128xbf16>, %b: tensor<128xf32>, %g1: tensor<128xbf16>, %g2: tensor<128xbf16>, %w32: tensor<128x128xf32>) -> (tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>) {
  %a = call @mbc_gemv_0(%x, %w) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
  %c = call @mbc_gemv_0(%y, %w) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
  %d = call @mbc_gemv_1(%x, %w, %b) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xf32>) -> tensor<1x128xf32>
  %e = call @mbc_gemv_2(%x, %w, %g1) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32>
  %late = call @make_weight(%w32) : (tensor<128x128xf32>) -> tensor<128x128xbf16>
  %f = call @mbc_gemv_2(%x, %late, %g1) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32>
  %h = call @mbc_gemv_2(%x, %w, %g2) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xbf16>) -> tensor<1x128xf32>
  return %a, %c, %d, %e, %f, %h : tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x128xf32>
}

// -----

// Three readers of one LayerNorm'd row (the paper's separate q, k and v
// weights): one GEMV with three products (third_n) in place of q, the
// LayerNorm's weight and bias after the first weight, then w2 and w3.
// CHECK-LABEL: func.func @q_k_v
// CHECK-SAME: (%[[X:.*]]: tensor<1x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[B:.*]]: tensor<128xf32>, %[[WQ:.*]]: tensor<128x128xbf16>, %[[WK:.*]]: tensor<128x128xbf16>, %[[WV:.*]]: tensor<96x128xbf16>)
// CHECK: %[[QKV:.*]]:3 = call @[[F:mbc_gemv_[0-9]+]](%[[X]], %[[WQ]], %[[G]], %[[B]], %[[WK]], %[[WV]])
// CHECK-NOT: call
// CHECK: return %[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2
// CHECK: func.func private @[[F]]({{.*}}) -> (tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x96xf32>) attributes {mb.cuda_gemv = {{{.*}}norm = "layer", {{.*}}paired_n = 128 : i64, residual = false, third_n = 96 : i64
// The reference body: one normalized A, three products.
// BODY-LABEL: func.func private @mbc_gemv_1
// BODY-COUNT-1: math.sqrt
// BODY: linalg.generic {{.*}} ins(%{{.*}}, %arg1 :
// BODY: linalg.generic {{.*}} ins(%{{.*}}, %arg4 :
// BODY: linalg.generic {{.*}} ins(%{{.*}}, %arg5 :
// BODY: return %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x96xf32>
func.func private @mbc_gemv_0(tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x128xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, norm = "layer", norm_epsilon = 1.000000e-05 : f64, norm_weight_type = f32, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func private @mbc_gemv_2(tensor<1x128xf32>, tensor<96x128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x96xf32> attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 96 : i64, norm = "layer", norm_epsilon = 1.000000e-05 : f64, norm_weight_type = f32, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @q_k_v(%x: tensor<1x128xf32>, %g: tensor<128xf32>, %b: tensor<128xf32>, %wq: tensor<128x128xbf16>, %wk: tensor<128x128xbf16>, %wv: tensor<96x128xbf16>) -> (tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x96xf32>) {
  %q = call @mbc_gemv_0(%x, %wq, %g, %b) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x128xf32>
  %k = call @mbc_gemv_0(%x, %wk, %g, %b) : (tensor<1x128xf32>, tensor<128x128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x128xf32>
  %v = call @mbc_gemv_2(%x, %wv, %g, %b) : (tensor<1x128xf32>, tensor<96x128xbf16>, tensor<128xf32>, tensor<128xf32>) -> tensor<1x96xf32>
  return %q, %k, %v : tensor<1x128xf32>, tensor<1x128xf32>, tensor<1x96xf32>
}
