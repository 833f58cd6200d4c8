// mb-cuda-fuse-head-log-softmax: the head's log-softmax on a wgmma GEMM's
// logits becomes the GEMM's epilogue, and mb.merge_patches <start_token>
// reading the log-probabilities its store order.
// RUN: mbc-opt %s --mb-cuda-fuse-head-log-softmax --split-input-file | FileCheck %s

// MEGABYTE-pytorch's head (2 batch entries of 4 patches of 8 bytes and the
// start token: 9 positions): one GEMM of 64-row tiles over all 256
// columns that writes the 2 x 32 bytes' log-probabilities in merged order;
// the log-softmax call, the merge and the unused declarations go.
// CHECK-LABEL: func.func @start_token
// CHECK-SAME: (%[[X:.*]]: tensor<72x128xbf16>, %[[W:.*]]: tensor<256x128xbf16>, %[[B:.*]]: tensor<256xf32>)
// CHECK-NOT: mbc_log_softmax
// CHECK-NOT: mb.merge_patches
// CHECK: %[[LOGP:.*]] = call @[[GF:mbc_gemm_[0-9]+]](%[[X]], %[[W]], %[[B]]) : (tensor<72x128xbf16>, tensor<256x128xbf16>, tensor<256xf32>) -> tensor<64x256xf32>
// CHECK: %[[OUT:.*]] = tensor.expand_shape %[[LOGP]] {{\[}}[0, 1], [2]] output_shape [2, 32, 256] : tensor<64x256xf32> into tensor<2x32x256xf32>
// CHECK: return %[[OUT]]
// CHECK-NOT: func.func private @mbc_gemm_0(
// CHECK-NOT: func.func private @mbc_log_softmax_0(
// CHECK: func.func private @[[GF]]({{.*}} attributes {mb.cuda_gemm = {activation = "none", bias = true, consumers = 1 : i64, element_type = bf16, k = 128 : i64, log_softmax = true, m = 72 : i64, merge_positions = 8 : i64, merge_sequences = 4 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 256 : i64}}
func.func private @mbc_gemm_0(tensor<72x128xbf16>, tensor<256x128xbf16>, tensor<256xf32>) -> tensor<72x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = true, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 72 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 128 : i64}}
func.func private @mbc_log_softmax_0(tensor<72x256xf32>) -> tensor<72x256xf32> attributes {mb.cuda_log_softmax = {columns = 256 : i64, rows = 72 : i64}}
func.func @start_token(%x: tensor<72x128xbf16>, %w: tensor<256x128xbf16>, %b: tensor<256xf32>) -> tensor<2x32x256xf32> {
  %logits = call @mbc_gemm_0(%x, %w, %b) : (tensor<72x128xbf16>, tensor<256x128xbf16>, tensor<256xf32>) -> tensor<72x256xf32>
  %e = tensor.expand_shape %logits [[0, 1], [2]] output_shape [8, 9, 256] : tensor<72x256xf32> into tensor<8x9x256xf32>
  %c = tensor.collapse_shape %e [[0, 1], [2]] : tensor<8x9x256xf32> into tensor<72x256xf32>
  %logp = call @mbc_log_softmax_0(%c) : (tensor<72x256xf32>) -> tensor<72x256xf32>
  %s = tensor.expand_shape %logp [[0, 1], [2]] output_shape [8, 9, 256] : tensor<72x256xf32> into tensor<8x9x256xf32>
  %m = mb.merge_patches <start_token> %s : tensor<8x9x256xf32> -> tensor<2x32x256xf32>
  return %m : tensor<2x32x256xf32>
}

// -----

// The paper's head (shifted patches: the merge is a reshape) takes the
// epilogue and stores rows as they are, N = 200 in a 256-column tile. Kept:
// an mma.sync GEMM (tiles of at most 128 columns); logits with another
// reader.
// CHECK-LABEL: func.func @shifted
// CHECK-NOT: mbc_log_softmax
// CHECK: call @[[SF:mbc_gemm_[0-9]+]]({{.*}}) : ({{.*}}) -> tensor<64x200xf32>
// CHECK: mb.merge_patches <shifted>
// CHECK-LABEL: func.func @mma_sync
// CHECK: call @mbc_gemm_1
// CHECK: call @mbc_log_softmax_1
// CHECK-LABEL: func.func @logits_read
// CHECK: call @mbc_gemm_0
// CHECK: call @mbc_log_softmax_0
// CHECK: func.func private @[[SF]]({{.*}} attributes {mb.cuda_gemm = {{{.*}}log_softmax = true, m = 64 : i64, mma = "wgmma", n = 200 : i64{{.*}}tile_n = 256 : i64}}
func.func private @mbc_gemm_0(tensor<64x128xbf16>, tensor<200x128xbf16>) -> tensor<64x200xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 64 : i64, mma = "wgmma", n = 200 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_1(tensor<64x128xbf16>, tensor<200x128xbf16>) -> tensor<64x200xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 64 : i64, mma = "mma_sync", n = 200 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 32 : i64, tile_m = 64 : i64, tile_n = 64 : i64}}
func.func private @mbc_log_softmax_0(tensor<64x200xf32>) -> tensor<64x200xf32> attributes {mb.cuda_log_softmax = {columns = 200 : i64, rows = 64 : i64}}
func.func private @mbc_log_softmax_1(tensor<64x200xf32>) -> tensor<64x200xf32> attributes {mb.cuda_log_softmax = {columns = 200 : i64, rows = 64 : i64}}
func.func @shifted(%x: tensor<64x128xbf16>, %w: tensor<200x128xbf16>) -> tensor<1x64x200xf32> {
  %logits = call @mbc_gemm_0(%x, %w) : (tensor<64x128xbf16>, tensor<200x128xbf16>) -> tensor<64x200xf32>
  %logp = call @mbc_log_softmax_0(%logits) : (tensor<64x200xf32>) -> tensor<64x200xf32>
  %s = tensor.expand_shape %logp [[0, 1], [2]] output_shape [8, 8, 200] : tensor<64x200xf32> into tensor<8x8x200xf32>
  %m = mb.merge_patches <shifted> %s : tensor<8x8x200xf32> -> tensor<1x64x200xf32>
  return %m : tensor<1x64x200xf32>
}
func.func @mma_sync(%x: tensor<64x128xbf16>, %w: tensor<200x128xbf16>) -> tensor<64x200xf32> {
  %logits = call @mbc_gemm_1(%x, %w) : (tensor<64x128xbf16>, tensor<200x128xbf16>) -> tensor<64x200xf32>
  %logp = call @mbc_log_softmax_1(%logits) : (tensor<64x200xf32>) -> tensor<64x200xf32>
  return %logp : tensor<64x200xf32>
}
func.func @logits_read(%x: tensor<64x128xbf16>, %w: tensor<200x128xbf16>) -> (tensor<64x200xf32>, tensor<64x200xf32>) {
  %logits = call @mbc_gemm_0(%x, %w) : (tensor<64x128xbf16>, tensor<200x128xbf16>) -> tensor<64x200xf32>
  %logp = call @mbc_log_softmax_0(%logits) : (tensor<64x200xf32>) -> tensor<64x200xf32>
  return %logp, %logits : tensor<64x200xf32>, tensor<64x200xf32>
}
