// mb-cuda-select-kernels: a fused local layer whose x is MEGABYTE-pytorch's
// finest-stage input, start_token(embedding(table, bytes)) + the dense
// global-to-local projection, builds it in its prologue: the projection
// becomes its GEMM over every global position (66 rows: 2 entries of 32
// patches and a start token), and the call takes the GEMM's rows, the
// bytes, and the table and start token as stored (bf16) in place of x.
// RUN: mbc-opt %s --mb-cuda-select-kernels --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-select-kernels=fuse-local-input=false --split-input-file | FileCheck %s --check-prefix=OFF
// RUN: mbc-opt %s --mb-cuda-select-kernels=reference-bodies=true --split-input-file | FileCheck %s --check-prefix=BODY

// CHECK-LABEL: func.func @local_input
// CHECK-SAME: (%[[H:[^:]*]]: tensor<2x33x256xf32>, %[[W:[^:]*]]: tensor<1024x256xbf16>, %[[B:[^:]*]]: tensor<1024xbf16>, %[[IDS:[^:]*]]: tensor<64x8xi32>, %[[TABLE:[^:]*]]: tensor<256x128xbf16>, %[[START:[^:]*]]: tensor<128xbf16>, %[[G1:[^:]*]]: tensor<128xf32>
// CHECK-NOT: mb.embedding
// CHECK-NOT: mb.start_token
// CHECK: %[[P:.*]] = call @mbc_gemm_0(%{{.*}}, %[[W]], %[[B]]) : (tensor<66x256xbf16>, tensor<1024x256xbf16>, tensor<1024xbf16>) -> tensor<66x1024xf32>
// CHECK: %[[P3:.*]] = tensor.expand_shape %[[P]]
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[P3]]
// CHECK: call @mbc_local_layer_0(%[[ROWS]], %[[IDS]], %[[TABLE]], %[[START]], %[[G1]], {{.*}}) : (tensor<66x1024xf32>, tensor<64x8xi32>, tensor<256x128xbf16>, tensor<128xbf16>, tensor<128xf32>, {{.*}}) -> tensor<576x128xf32>
// CHECK-NOT: = mb.
// CHECK: func.func private @mbc_local_layer_0({{.*}}) -> tensor<576x128xf32> attributes {mb.cuda_local_layer = {{{.*}}, input = {patches_per_sequence = 32 : i64, start_type = bf16, table_type = bf16, vocabulary = 256 : i64}, {{.*}}sequences = 64 : i64
// OFF-LABEL: func.func @local_input
// OFF: mb.embedding
// OFF: mb.start_token
// OFF: call @mbc_local_layer_{{[0-9]+}}(%{{.*}}) : (tensor<576x128xf32>,
// OFF-NOT: input =
// The emulation body rebuilds the input from the arguments with mb ops:
// the embedding and start token, the projection's rows less each entry's
// last, a zero vector in front.
// BODY-LABEL: func.func private @mbc_local_layer_0
// BODY: tensor.expand_shape %arg0 {{\[\[}}0, 1], [2]] output_shape [2, 33, 1024]
// BODY: mb.embedding %{{.*}}[%arg1] : tensor<256x128xf32>, tensor<64x8xi32> -> tensor<64x8x128xf32>
// BODY: mb.start_token
// BODY: tensor.extract_slice %{{.*}}[0, 0, 0] [2, 32, 1024]
// BODY: arith.addf
// BODY: call @mbc_norm_
func.func @local_input(%h: tensor<2x33x256xf32>, %w16: tensor<1024x256xbf16>, %b16: tensor<1024xbf16>, %ids: tensor<64x8xi32>, %table16: tensor<256x128xbf16>, %start16: tensor<128xbf16>, %g1: tensor<128xf32>, %wq16: tensor<128x128xbf16>, %wkv16: tensor<256x128xbf16>, %wo16: tensor<128x128xbf16>, %g2: tensor<128xf32>, %up16: tensor<512x128xbf16>, %ub: tensor<512xf32>, %down16: tensor<128x512xbf16>, %db: tensor<128xf32>) -> tensor<64x9x128xf32> {
  %w = arith.extf %w16 : tensor<1024x256xbf16> to tensor<1024x256xf32>
  %b = arith.extf %b16 : tensor<1024xbf16> to tensor<1024xf32>
  %table = arith.extf %table16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %start = arith.extf %start16 : tensor<128xbf16> to tensor<128xf32>
  %e = mb.embedding %table[%ids] : tensor<256x128xf32>, tensor<64x8xi32> -> tensor<64x8x128xf32>
  %st = mb.start_token %e, %start : tensor<64x8x128xf32>, tensor<128xf32> -> tensor<64x9x128xf32>
  %p = mb.global_to_local <dense> %h, %w, %b {patch_size = 8 : i64} : (tensor<2x33x256xf32>, tensor<1024x256xf32>, tensor<1024xf32>) -> tensor<64x9x128xf32>
  %x = arith.addf %st, %p : tensor<64x9x128xf32>
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wo = arith.extf %wo16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %up = arith.extf %up16 : tensor<512x128xbf16> to tensor<512x128xf32>
  %down = arith.extf %down16 : tensor<128x512xbf16> to tensor<128x512xf32>
  %s1 = mb.token_shift %x : tensor<64x9x128xf32>
  %n1 = mb.rms_norm %s1, %g1 {clamp, epsilon = 1.0e-08 : f64} : (tensor<64x9x128xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %a = mb.local_attention %n1, %wq, %wk, %wv, %wo {head_dim = 32 : i64, heads = 4 : i64} : (tensor<64x9x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<64x9x128xf32>
  %x1 = arith.addf %a, %x : tensor<64x9x128xf32>
  %s2 = mb.token_shift %x1 : tensor<64x9x128xf32>
  %n2 = mb.rms_norm %s2, %g2 {clamp, epsilon = 1.0e-08 : f64} : (tensor<64x9x128xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<64x9x128xf32>, tensor<512x128xf32>, tensor<512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %x2 = arith.addf %x1, %f : tensor<64x9x128xf32>
  return %x2 : tensor<64x9x128xf32>
}

// -----

// The embedded bytes have another reader: the layer takes x.
// CHECK-LABEL: func.func @embedded_read_twice
// CHECK: mb.start_token
// CHECK: call @mbc_local_layer_{{[0-9]+}}(%{{.*}}) : (tensor<576x128xf32>,
// CHECK-NOT: input =
func.func @embedded_read_twice(%h: tensor<2x33x256xf32>, %w16: tensor<1024x256xbf16>, %b16: tensor<1024xbf16>, %ids: tensor<64x8xi32>, %table16: tensor<256x128xbf16>, %start16: tensor<128xbf16>, %g1: tensor<128xf32>, %wq16: tensor<128x128xbf16>, %wkv16: tensor<256x128xbf16>, %wo16: tensor<128x128xbf16>, %g2: tensor<128xf32>, %up16: tensor<512x128xbf16>, %ub: tensor<512xf32>, %down16: tensor<128x512xbf16>, %db: tensor<128xf32>) -> (tensor<64x9x128xf32>, tensor<64x9x128xf32>) {
  %w = arith.extf %w16 : tensor<1024x256xbf16> to tensor<1024x256xf32>
  %b = arith.extf %b16 : tensor<1024xbf16> to tensor<1024xf32>
  %table = arith.extf %table16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %start = arith.extf %start16 : tensor<128xbf16> to tensor<128xf32>
  %e = mb.embedding %table[%ids] : tensor<256x128xf32>, tensor<64x8xi32> -> tensor<64x8x128xf32>
  %st = mb.start_token %e, %start : tensor<64x8x128xf32>, tensor<128xf32> -> tensor<64x9x128xf32>
  %p = mb.global_to_local <dense> %h, %w, %b {patch_size = 8 : i64} : (tensor<2x33x256xf32>, tensor<1024x256xf32>, tensor<1024xf32>) -> tensor<64x9x128xf32>
  %x = arith.addf %st, %p : tensor<64x9x128xf32>
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wo = arith.extf %wo16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %up = arith.extf %up16 : tensor<512x128xbf16> to tensor<512x128xf32>
  %down = arith.extf %down16 : tensor<128x512xbf16> to tensor<128x512xf32>
  %s1 = mb.token_shift %x : tensor<64x9x128xf32>
  %n1 = mb.rms_norm %s1, %g1 {clamp, epsilon = 1.0e-08 : f64} : (tensor<64x9x128xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %a = mb.local_attention %n1, %wq, %wk, %wv, %wo {head_dim = 32 : i64, heads = 4 : i64} : (tensor<64x9x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<64x9x128xf32>
  %x1 = arith.addf %a, %x : tensor<64x9x128xf32>
  %s2 = mb.token_shift %x1 : tensor<64x9x128xf32>
  %n2 = mb.rms_norm %s2, %g2 {clamp, epsilon = 1.0e-08 : f64} : (tensor<64x9x128xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<64x9x128xf32>, tensor<512x128xf32>, tensor<512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %x2 = arith.addf %x1, %f : tensor<64x9x128xf32>
  return %x2, %st : tensor<64x9x128xf32>, tensor<64x9x128xf32>
}

// -----

// The input itself has another reader: the layer takes x.
// CHECK-LABEL: func.func @input_read_twice
// CHECK: mb.start_token
// CHECK: call @mbc_local_layer_{{[0-9]+}}(%{{.*}}) : (tensor<576x128xf32>,
// CHECK-NOT: input =
func.func @input_read_twice(%h: tensor<2x33x256xf32>, %w16: tensor<1024x256xbf16>, %b16: tensor<1024xbf16>, %ids: tensor<64x8xi32>, %table16: tensor<256x128xbf16>, %start16: tensor<128xbf16>, %g1: tensor<128xf32>, %wq16: tensor<128x128xbf16>, %wkv16: tensor<256x128xbf16>, %wo16: tensor<128x128xbf16>, %g2: tensor<128xf32>, %up16: tensor<512x128xbf16>, %ub: tensor<512xf32>, %down16: tensor<128x512xbf16>, %db: tensor<128xf32>) -> (tensor<64x9x128xf32>, tensor<64x9x128xf32>) {
  %w = arith.extf %w16 : tensor<1024x256xbf16> to tensor<1024x256xf32>
  %b = arith.extf %b16 : tensor<1024xbf16> to tensor<1024xf32>
  %table = arith.extf %table16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %start = arith.extf %start16 : tensor<128xbf16> to tensor<128xf32>
  %e = mb.embedding %table[%ids] : tensor<256x128xf32>, tensor<64x8xi32> -> tensor<64x8x128xf32>
  %st = mb.start_token %e, %start : tensor<64x8x128xf32>, tensor<128xf32> -> tensor<64x9x128xf32>
  %p = mb.global_to_local <dense> %h, %w, %b {patch_size = 8 : i64} : (tensor<2x33x256xf32>, tensor<1024x256xf32>, tensor<1024xf32>) -> tensor<64x9x128xf32>
  %x = arith.addf %st, %p : tensor<64x9x128xf32>
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wo = arith.extf %wo16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %up = arith.extf %up16 : tensor<512x128xbf16> to tensor<512x128xf32>
  %down = arith.extf %down16 : tensor<128x512xbf16> to tensor<128x512xf32>
  %s1 = mb.token_shift %x : tensor<64x9x128xf32>
  %n1 = mb.rms_norm %s1, %g1 {clamp, epsilon = 1.0e-08 : f64} : (tensor<64x9x128xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %a = mb.local_attention %n1, %wq, %wk, %wv, %wo {head_dim = 32 : i64, heads = 4 : i64} : (tensor<64x9x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<64x9x128xf32>
  %x1 = arith.addf %a, %x : tensor<64x9x128xf32>
  %s2 = mb.token_shift %x1 : tensor<64x9x128xf32>
  %n2 = mb.rms_norm %s2, %g2 {clamp, epsilon = 1.0e-08 : f64} : (tensor<64x9x128xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %f = mb.ffn <gelu> %n2, %up, %ub, %down, %db : (tensor<64x9x128xf32>, tensor<512x128xf32>, tensor<512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<64x9x128xf32>
  %x2 = arith.addf %x1, %f : tensor<64x9x128xf32>
  return %x2, %x : tensor<64x9x128xf32>, tensor<64x9x128xf32>
}
