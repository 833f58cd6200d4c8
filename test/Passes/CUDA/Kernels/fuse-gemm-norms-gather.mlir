// mb-cuda-fuse-gemm-norms: the patch embedding's LayerNorm, whose input is
// the patch's bytes embedded and concatenated (mb.patchify of
// mb.embedding, read by nothing else), becomes the patch projection's
// prologue that gathers its rows: the GEMM takes the bytes as [rows, 8]
// i32 and the bf16 table as stored in place of x, and the norm spec
// records the gather. gather-rows=false keeps x (the embedded rows).
// RUN: mbc-opt %s --mb-cuda-fuse-gemm-norms | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-fuse-gemm-norms=gather-rows=false | FileCheck %s --check-prefix=ROWS

// CHECK-LABEL: func.func @patch_embedding
// CHECK-SAME: (%[[IDS:[^:]*]]: tensor<1x1024xi32>, %[[T:[^:]*]]: tensor<256x64xbf16>, %[[G:[^:]*]]: tensor<512xbf16>, %[[B:[^:]*]]: tensor<512xbf16>, %[[W:[^:]*]]: tensor<256x512xbf16>, %[[BIAS:[^:]*]]: tensor<256xf32>)
// CHECK-NOT: mb.embedding
// CHECK-NOT: mb.patchify
// CHECK: tensor.collapse_shape %[[IDS]]
// CHECK: %[[IDROWS:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [128, 8] : tensor<1024xi32> into tensor<128x8xi32>
// CHECK: call @[[GEMM:mbc_gemm_[0-9]+]](%[[IDROWS]], %[[T]], %[[W]], %[[BIAS]], %[[G]], %[[B]]) : (tensor<128x8xi32>, tensor<256x64xbf16>, tensor<256x512xbf16>, tensor<256xf32>, tensor<512xbf16>, tensor<512xbf16>) -> tensor<128x256xf32>
// CHECK-NOT: mbc_norm
// CHECK: func.func private @[[GEMM]]({{.*}}norm_prologue = {dim = 512 : i64, epsilon = 1.000000e-05 : f64, gather = {slots = 8 : i64, table_type = bf16, vocabulary = 256 : i64}, norm = "layer"
// ROWS-LABEL: func.func @patch_embedding
// ROWS: %[[P:.*]] = mb.patchify
// ROWS: %[[X:.*]] = tensor.collapse_shape %[[P]]
// ROWS: call @mbc_gemm_{{[0-9]+}}(%[[X]], {{.*}}) : (tensor<128x512xf32>,
// ROWS-NOT: gather =

func.func @patch_embedding(%arg0: tensor<1x1024xi32>, %arg1: tensor<256x64xbf16>, %arg2: tensor<512xbf16>, %arg3: tensor<512xbf16>, %arg4: tensor<256x512xbf16>, %arg5: tensor<256xf32>) -> tensor<1x128x256xf32> {
  %0 = arith.extf %arg1 : tensor<256x64xbf16> to tensor<256x64xf32>
  %1 = arith.extf %arg2 : tensor<512xbf16> to tensor<512xf32>
  %2 = arith.extf %arg3 : tensor<512xbf16> to tensor<512xf32>
  %3 = arith.extf %arg4 : tensor<256x512xbf16> to tensor<256x512xf32>
  %4 = mb.embedding %0[%arg0] : tensor<256x64xf32>, tensor<1x1024xi32> -> tensor<1x1024x64xf32>
  %5 = mb.patchify %4 {patch_size = 8 : i64} : tensor<1x1024x64xf32> -> tensor<1x128x512xf32>
  %collapsed = tensor.collapse_shape %5 [[0, 1], [2]] : tensor<1x128x512xf32> into tensor<128x512xf32>
  %6 = call @mbc_norm_0(%collapsed, %arg2, %arg3) : (tensor<128x512xf32>, tensor<512xbf16>, tensor<512xbf16>) -> tensor<128x512xbf16>
  %7 = call @mbc_gemm_0(%6, %arg4, %arg5) : (tensor<128x512xbf16>, tensor<256x512xbf16>, tensor<256xf32>) -> tensor<128x256xf32>
  %expanded = tensor.expand_shape %7 [[0, 1], [2]] output_shape [1, 128, 256] : tensor<128x256xf32> into tensor<1x128x256xf32>
  return %expanded : tensor<1x128x256xf32>
}
func.func private @mbc_gemm_0(tensor<128x512xbf16> {bufferization.access = "read"}, tensor<256x512xbf16> {bufferization.access = "read"}, tensor<256xf32> {bufferization.access = "read"}) -> tensor<128x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = true, consumers = 1 : i64, element_type = bf16, k = 512 : i64, m = 128 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_norm_0(tensor<128x512xf32> {bufferization.access = "read"}, tensor<512xbf16> {bufferization.access = "read"}, tensor<512xbf16> {bufferization.access = "read"}) -> tensor<128x512xbf16> attributes {mb.cuda_norm = {dim = 512 : i64, epsilon = 1.000000e-05 : f64, norm = "layer", output_type = bf16, positions = 128 : i64, rows = 128 : i64, token_shift = false, weight_type = bf16}}
