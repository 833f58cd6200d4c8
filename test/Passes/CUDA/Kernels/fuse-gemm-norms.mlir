// mb-cuda-fuse-gemm-norms: a norm kernel's call read only by tensor-core
// GEMMs becomes their prologue; anything else keeps the norm.
// RUN: mbc-opt %s --mb-cuda-fuse-gemm-norms --split-input-file | FileCheck %s

// An attention layer's norm (token shift + MEGABYTE-pytorch's RMSNorm) read
// by its paired q/kv GEMM, and the FFN's read through a reshape by the up
// projection (bias, GELU): both GEMMs take x, their own operands, then the
// norm weight (before a paired GEMM's second B); the norm calls and every
// unused declaration go.
// CHECK-LABEL: func.func @layer
// CHECK-SAME: (%[[X:.*]]: tensor<256x128xf32>, %[[G:.*]]: tensor<128xf32>, %[[WQ:.*]]: tensor<128x128xbf16>, %[[WKV:.*]]: tensor<256x128xbf16>, %[[W1:.*]]: tensor<512x128xbf16>, %[[B1:.*]]: tensor<512xf32>)
// CHECK-NOT: mbc_norm
// CHECK: %[[QKV:.*]]:2 = call @[[QF:mbc_gemm_[0-9]+]](%[[X]], %[[WQ]], %[[G]], %[[WKV]]) : (tensor<256x128xf32>, tensor<128x128xbf16>, tensor<128xf32>, tensor<256x128xbf16>) -> (tensor<256x128xbf16>, tensor<256x256xbf16>)
// CHECK: %[[H:.*]] = call @[[FF:mbc_gemm_[0-9]+]](%[[X]], %[[W1]], %[[B1]], %[[G]]) : (tensor<256x128xf32>, tensor<512x128xbf16>, tensor<512xf32>, tensor<128xf32>) -> tensor<256x512xbf16>
// CHECK: return %[[QKV]]#0, %[[QKV]]#1, %[[H]]
// CHECK-NOT: func.func private @mbc_norm_0
// CHECK-NOT: func.func private @mbc_gemm_0(
// CHECK-NOT: func.func private @mbc_gemm_1(
// CHECK-DAG: func.func private @[[QF]]({{.*}} attributes {mb.cuda_gemm = {{{.*}}norm_prologue = {dim = 128 : i64, epsilon = 1.000000e-08 : f64, norm = "rms_clamp", output_type = bf16, positions = 128 : i64, rows = 256 : i64, token_shift = true, weight_type = f32}, output_type = bf16, paired_n = 256
// CHECK-DAG: func.func private @[[FF]]({{.*}} attributes {mb.cuda_gemm = {activation = "gelu", bias = true, {{.*}}norm_prologue = {dim = 128 : i64
func.func private @mbc_norm_0(tensor<256x128xf32>, tensor<128xf32>) -> tensor<256x128xbf16> attributes {mb.cuda_norm = {dim = 128 : i64, epsilon = 1.000000e-08 : f64, norm = "rms_clamp", output_type = bf16, positions = 128 : i64, rows = 256 : i64, token_shift = true, weight_type = f32}}
func.func private @mbc_gemm_0(tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<256x128xbf16>) -> (tensor<256x128xbf16>, tensor<256x256xbf16>) attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 256 : i64, mma = "wgmma", n = 128 : i64, output_type = bf16, paired_n = 256 : i64, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_1(tensor<256x128xbf16>, tensor<512x128xbf16>, tensor<512xf32>) -> tensor<256x512xbf16> attributes {mb.cuda_gemm = {activation = "gelu", bias = true, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 256 : i64, mma = "mma_sync", n = 512 : i64, output_type = bf16, residual = false, stages = 3 : i64, tile_k = 32 : i64, tile_m = 64 : i64, tile_n = 64 : i64}}
func.func @layer(%x: tensor<256x128xf32>, %g: tensor<128xf32>, %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xbf16>, %w1: tensor<512x128xbf16>, %b1: tensor<512xf32>) -> (tensor<256x128xbf16>, tensor<256x256xbf16>, tensor<256x512xbf16>) {
  %n = call @mbc_norm_0(%x, %g) : (tensor<256x128xf32>, tensor<128xf32>) -> tensor<256x128xbf16>
  %qkv:2 = call @mbc_gemm_0(%n, %wq, %wkv) : (tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<256x128xbf16>) -> (tensor<256x128xbf16>, tensor<256x256xbf16>)
  %n2 = call @mbc_norm_0(%x, %g) : (tensor<256x128xf32>, tensor<128xf32>) -> tensor<256x128xbf16>
  %e = tensor.expand_shape %n2 [[0, 1], [2]] output_shape [2, 128, 128] : tensor<256x128xbf16> into tensor<2x128x128xbf16>
  %c = tensor.collapse_shape %e [[0, 1], [2]] : tensor<2x128x128xbf16> into tensor<256x128xbf16>
  %h = call @mbc_gemm_1(%c, %w1, %b1) : (tensor<256x128xbf16>, tensor<512x128xbf16>, tensor<512xf32>) -> tensor<256x512xbf16>
  return %qkv#0, %qkv#1, %h : tensor<256x128xbf16>, tensor<256x256xbf16>, tensor<256x512xbf16>
}

// -----

// A LayerNorm: its weight and bias follow the GEMM's residual. Kept: a
// norm whose rows are also an entry's output; one whose rows a GEMM cannot
// hold (a 128-row tile of 2048 features is 512 KiB of shared memory); one
// writing f32 rows (no GEMM reads those).
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<128x256xf32>, %[[G:.*]]: tensor<256xbf16>, %[[B:.*]]: tensor<256xbf16>, %[[W:.*]]: tensor<256x256xbf16>, %[[R:.*]]: tensor<128x256xf32>)
// CHECK-NOT: mbc_norm
// CHECK: call @[[LF:mbc_gemm_[0-9]+]](%[[X]], %[[W]], %[[R]], %[[G]], %[[B]]) : (tensor<128x256xf32>, tensor<256x256xbf16>, tensor<128x256xf32>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<128x256xf32>
// CHECK-LABEL: func.func @other_reader
// CHECK: call @mbc_norm_1
// CHECK: call @mbc_gemm_1
// CHECK-LABEL: func.func @too_wide
// CHECK: call @mbc_norm_2
// CHECK: call @mbc_gemm_2
// CHECK-LABEL: func.func @f32_rows
// CHECK: call @mbc_norm_3
// A 128-row tile of 512 features (128 KiB) beside 4 stages of 32 KiB of B
// would not fit: the GEMM keeps 3 (224 KiB).
// CHECK-LABEL: func.func @fewer_stages
// CHECK-NOT: mbc_norm
// CHECK: call @[[SF:mbc_gemm_[0-9]+]]
// CHECK-DAG: func.func private @[[SF]]({{.*}} attributes {mb.cuda_gemm = {{{.*}}consumers = 2 : i64, {{.*}}norm_prologue = {dim = 512 : i64{{.*}}stages = 3 : i64
// CHECK-DAG: func.func private @[[LF]]({{.*}} attributes {mb.cuda_gemm = {{{.*}}norm_prologue = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = bf16, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = bf16}
func.func private @mbc_norm_0(tensor<128x256xf32>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<128x256xbf16> attributes {mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = bf16, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = bf16}}
func.func private @mbc_norm_1(tensor<128x256xf32>, tensor<256xf32>) -> tensor<128x256xbf16> attributes {mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "rms", output_type = bf16, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_norm_2(tensor<256x2048xf32>, tensor<2048xf32>) -> tensor<256x2048xbf16> attributes {mb.cuda_norm = {dim = 2048 : i64, epsilon = 1.000000e-05 : f64, norm = "rms", output_type = bf16, positions = 256 : i64, rows = 256 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_norm_3(tensor<128x256xf32>, tensor<256xf32>) -> tensor<128x256xf32> attributes {mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "rms", output_type = f32, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_gemm_0(tensor<128x256xbf16>, tensor<256x256xbf16>, tensor<128x256xf32>) -> tensor<128x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 256 : i64, m = 128 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = true, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_1(tensor<128x256xbf16>, tensor<256x256xbf16>) -> tensor<128x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 256 : i64, m = 128 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_2(tensor<256x2048xbf16>, tensor<1024x2048xbf16>) -> tensor<256x1024xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 2 : i64, element_type = bf16, k = 2048 : i64, m = 256 : i64, mma = "wgmma", n = 1024 : i64, output_type = f32, residual = false, stages = 4 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 256 : i64}}
func.func private @mbc_norm_4(tensor<4096x512xf32>, tensor<512xf32>) -> tensor<4096x512xbf16> attributes {mb.cuda_norm = {dim = 512 : i64, epsilon = 1.000000e-05 : f64, norm = "rms", output_type = bf16, positions = 4096 : i64, rows = 4096 : i64, token_shift = false, weight_type = f32}}
func.func private @mbc_gemm_3(tensor<4096x512xbf16>, tensor<4096x512xbf16>) -> tensor<4096x4096xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 2 : i64, element_type = bf16, k = 512 : i64, m = 4096 : i64, mma = "wgmma", n = 4096 : i64, output_type = f32, residual = false, stages = 4 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 256 : i64}}
func.func @layer_norm(%x: tensor<128x256xf32>, %g: tensor<256xbf16>, %b: tensor<256xbf16>, %w: tensor<256x256xbf16>, %r: tensor<128x256xf32>) -> tensor<128x256xf32> {
  %n = call @mbc_norm_0(%x, %g, %b) : (tensor<128x256xf32>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<128x256xbf16>
  %y = call @mbc_gemm_0(%n, %w, %r) : (tensor<128x256xbf16>, tensor<256x256xbf16>, tensor<128x256xf32>) -> tensor<128x256xf32>
  return %y : tensor<128x256xf32>
}
func.func @other_reader(%x: tensor<128x256xf32>, %g: tensor<256xf32>, %w: tensor<256x256xbf16>) -> (tensor<128x256xf32>, tensor<128x256xbf16>) {
  %n = call @mbc_norm_1(%x, %g) : (tensor<128x256xf32>, tensor<256xf32>) -> tensor<128x256xbf16>
  %y = call @mbc_gemm_1(%n, %w) : (tensor<128x256xbf16>, tensor<256x256xbf16>) -> tensor<128x256xf32>
  return %y, %n : tensor<128x256xf32>, tensor<128x256xbf16>
}
func.func @too_wide(%x: tensor<256x2048xf32>, %g: tensor<2048xf32>, %w: tensor<1024x2048xbf16>) -> tensor<256x1024xf32> {
  %n = call @mbc_norm_2(%x, %g) : (tensor<256x2048xf32>, tensor<2048xf32>) -> tensor<256x2048xbf16>
  %y = call @mbc_gemm_2(%n, %w) : (tensor<256x2048xbf16>, tensor<1024x2048xbf16>) -> tensor<256x1024xf32>
  return %y : tensor<256x1024xf32>
}
func.func @f32_rows(%x: tensor<128x256xf32>, %g: tensor<256xf32>) -> tensor<128x256xf32> {
  %n = call @mbc_norm_3(%x, %g) : (tensor<128x256xf32>, tensor<256xf32>) -> tensor<128x256xf32>
  return %n : tensor<128x256xf32>
}
func.func @fewer_stages(%x: tensor<4096x512xf32>, %g: tensor<512xf32>, %w: tensor<4096x512xbf16>) -> tensor<4096x4096xf32> {
  %n = call @mbc_norm_4(%x, %g) : (tensor<4096x512xf32>, tensor<512xf32>) -> tensor<4096x512xbf16>
  %y = call @mbc_gemm_3(%n, %w) : (tensor<4096x512xbf16>, tensor<4096x512xbf16>) -> tensor<4096x4096xf32>
  return %y : tensor<4096x4096xf32>
}
