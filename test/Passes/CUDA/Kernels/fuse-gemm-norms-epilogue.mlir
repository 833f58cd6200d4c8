// mb-cuda-fuse-gemm-norms: a norm kernel writing f32 rows (the patch
// embedding's last LayerNorm, with the global input's start rows) whose
// input is only a wgmma GEMM's result becomes that GEMM's epilogue: one
// warpgroup, 64 x N tiles (N = 256: whole rows a CTA), the norm's weight,
// bias and start row after the GEMM's own operands; the GEMM writes the
// start token's 2 x 65 rows. epilogue-norms=false keeps the norm kernel.
// RUN: mbc-opt %s --mb-cuda-fuse-gemm-norms --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-fuse-gemm-norms=epilogue-norms=false --split-input-file | FileCheck %s --check-prefix=OFF

// CHECK-LABEL: func.func @patch_projection_norm
// CHECK-SAME: (%[[A:[^:]*]]: tensor<128x512xbf16>, %[[W:[^:]*]]: tensor<256x512xbf16>, %[[BIAS:[^:]*]]: tensor<256xbf16>, %[[G:[^:]*]]: tensor<256xbf16>, %[[B:[^:]*]]: tensor<256xbf16>, %[[S:[^:]*]]: tensor<256xbf16>)
// CHECK: %[[ROWS:.*]] = call @[[GEMM:mbc_gemm_[0-9]+]](%[[A]], %[[W]], %[[BIAS]], %[[G]], %[[B]], %[[S]]) : (tensor<128x512xbf16>, tensor<256x512xbf16>, tensor<256xbf16>, tensor<256xbf16>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<130x256xf32>
// CHECK: tensor.expand_shape %[[ROWS]] {{.*}} output_shape [2, 65, 256]
// CHECK-NOT: call @mbc_norm
// CHECK: func.func private @[[GEMM]]({{.*}}consumers = 1 : i64{{.*}}norm_epilogue = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = f32, positions = 64 : i64, rows = 128 : i64, start_type = bf16, token_shift = false, weight_type = bf16}{{.*}}tile_m = 64 : i64, tile_n = 256 : i64
// CHECK-NOT: func.func private @mbc_norm_0
// OFF-LABEL: func.func @patch_projection_norm
// OFF: call @mbc_gemm_0
// OFF: call @mbc_norm_0
func.func @patch_projection_norm(%a: tensor<128x512xbf16>, %w: tensor<256x512xbf16>, %bias: tensor<256xbf16>, %g: tensor<256xbf16>, %b: tensor<256xbf16>, %s: tensor<256xbf16>) -> tensor<2x65x256xf32> {
  %0 = call @mbc_gemm_0(%a, %w, %bias) : (tensor<128x512xbf16>, tensor<256x512xbf16>, tensor<256xbf16>) -> tensor<128x256xf32>
  %1 = tensor.expand_shape %0 [[0, 1], [2]] output_shape [2, 64, 256] : tensor<128x256xf32> into tensor<2x64x256xf32>
  %2 = tensor.collapse_shape %1 [[0, 1], [2]] : tensor<2x64x256xf32> into tensor<128x256xf32>
  %3 = call @mbc_norm_0(%2, %g, %b, %s) : (tensor<128x256xf32>, tensor<256xbf16>, tensor<256xbf16>, tensor<256xbf16>) -> tensor<130x256xf32>
  %4 = tensor.expand_shape %3 [[0, 1], [2]] output_shape [2, 65, 256] : tensor<130x256xf32> into tensor<2x65x256xf32>
  return %4 : tensor<2x65x256xf32>
}
func.func private @mbc_gemm_0(tensor<128x512xbf16> {bufferization.access = "read"}, tensor<256x512xbf16> {bufferization.access = "read"}, tensor<256xbf16> {bufferization.access = "read"}) -> tensor<128x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = true, bias_type = bf16, consumers = 1 : i64, element_type = bf16, k = 512 : i64, m = 128 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_norm_0(tensor<128x256xf32> {bufferization.access = "read"}, tensor<256xbf16> {bufferization.access = "read"}, tensor<256xbf16> {bufferization.access = "read"}, tensor<256xbf16> {bufferization.access = "read"}) -> tensor<130x256xf32> attributes {mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = f32, positions = 64 : i64, rows = 128 : i64, start_type = bf16, token_shift = false, weight_type = bf16}}

// -----

// Not fused: N = 512 is wider than one wgmma tile of whole rows.
// CHECK-LABEL: func.func @wide_rows
// CHECK: call @mbc_gemm_0
// CHECK: call @mbc_norm_0
func.func @wide_rows(%a: tensor<128x256xbf16>, %w: tensor<512x256xbf16>, %g: tensor<512xbf16>) -> tensor<128x512xf32> {
  %0 = call @mbc_gemm_0(%a, %w) : (tensor<128x256xbf16>, tensor<512x256xbf16>) -> tensor<128x512xf32>
  %1 = call @mbc_norm_0(%0, %g) : (tensor<128x512xf32>, tensor<512xbf16>) -> tensor<128x512xf32>
  return %1 : tensor<128x512xf32>
}
func.func private @mbc_gemm_0(tensor<128x256xbf16> {bufferization.access = "read"}, tensor<512x256xbf16> {bufferization.access = "read"}) -> tensor<128x512xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 256 : i64, m = 128 : i64, mma = "wgmma", n = 512 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_norm_0(tensor<128x512xf32> {bufferization.access = "read"}, tensor<512xbf16> {bufferization.access = "read"}) -> tensor<128x512xf32> attributes {mb.cuda_norm = {dim = 512 : i64, epsilon = 1.000000e-05 : f64, norm = "rms", output_type = f32, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = bf16}}

// -----

// Not fused: the GEMM's rows have another reader (they must exist).
// CHECK-LABEL: func.func @rows_read_twice
// CHECK: call @mbc_gemm_0
// CHECK: call @mbc_norm_0
func.func @rows_read_twice(%a: tensor<128x256xbf16>, %w: tensor<256x256xbf16>, %g: tensor<256xbf16>) -> (tensor<128x256xf32>, tensor<128x256xf32>) {
  %0 = call @mbc_gemm_0(%a, %w) : (tensor<128x256xbf16>, tensor<256x256xbf16>) -> tensor<128x256xf32>
  %1 = call @mbc_norm_0(%0, %g) : (tensor<128x256xf32>, tensor<256xbf16>) -> tensor<128x256xf32>
  return %0, %1 : tensor<128x256xf32>, tensor<128x256xf32>
}
func.func private @mbc_gemm_0(tensor<128x256xbf16> {bufferization.access = "read"}, tensor<256x256xbf16> {bufferization.access = "read"}) -> tensor<128x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 256 : i64, m = 128 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_norm_0(tensor<128x256xf32> {bufferization.access = "read"}, tensor<256xbf16> {bufferization.access = "read"}) -> tensor<128x256xf32> attributes {mb.cuda_norm = {dim = 256 : i64, epsilon = 1.000000e-05 : f64, norm = "rms", output_type = f32, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = bf16}}
