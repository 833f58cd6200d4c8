// RUN: mbc-opt %s -split-input-file -verify-diagnostics

func.func @param_empty_name() {
  // expected-error @+1 {{name must not be empty}}
  %0 = mb.param "" : tensor<2xf32>
  return
}

// -----

func.func @param_value_type() {
  // expected-error @+1 {{inline value of type 'tensor<2xf32>' does not match the result type 'tensor<3xf32>'}}
  %0 = mb.param "w" = dense<[1.0, 2.0]> : tensor<2xf32> : tensor<3xf32>
  return
}

// -----

func.func @param_dynamic(%x: tensor<?xf32>) {
  // expected-error @+1 {{must be statically shaped tensor of floating-point values}}
  %0 = mb.param "w" : tensor<?xf32>
  return
}

// -----

func.func @embedding_table_rank(%t: tensor<256xf32>, %ids: tensor<1x8xi32>) {
  // expected-error @+1 {{table must have rank 2 (vocabulary, features), got 'tensor<256xf32>'}}
  %0 = mb.embedding %t[%ids] : tensor<256xf32>, tensor<1x8xi32> -> tensor<1x8x4xf32>
  return
}

// -----

func.func @embedding_result_rank(%t: tensor<256x4xf32>, %ids: tensor<1x8xi32>) {
  // expected-error @+1 {{result must have rank 3 (ids dims, features)}}
  %0 = mb.embedding %t[%ids] : tensor<256x4xf32>, tensor<1x8xi32> -> tensor<8x4xf32>
  return
}

// -----

func.func @embedding_ids_dim(%t: tensor<256x4xf32>, %ids: tensor<1x8xi32>) {
  // expected-error @+1 {{result dimension 1 (ids dimension) is 9, expected 8}}
  %0 = mb.embedding %t[%ids] : tensor<256x4xf32>, tensor<1x8xi32> -> tensor<1x9x4xf32>
  return
}

// -----

func.func @embedding_features(%t: tensor<256x4xf32>, %ids: tensor<1x8xi32>) {
  // expected-error @+1 {{result dimension 2 (features) is 5, expected 4}}
  %0 = mb.embedding %t[%ids] : tensor<256x4xf32>, tensor<1x8xi32> -> tensor<1x8x5xf32>
  return
}

// -----

func.func @embedding_element_type(%t: tensor<256x4xbf16>, %ids: tensor<1x8xi32>) {
  // expected-error @+1 {{result has element type 'f32', expected 'bf16' like the input}}
  %0 = mb.embedding %t[%ids] : tensor<256x4xbf16>, tensor<1x8xi32> -> tensor<1x8x4xf32>
  return
}

// -----

func.func @embedding_float_ids(%t: tensor<256x4xf32>, %ids: tensor<1x8xf32>) {
  // expected-error @+1 {{must be statically shaped tensor of signless integer values}}
  %0 = mb.embedding %t[%ids] : tensor<256x4xf32>, tensor<1x8xf32> -> tensor<1x8x4xf32>
  return
}

// -----

func.func @position_table_short(%x: tensor<1x8x4xf32>, %t: tensor<7x4xf32>) {
  // expected-error @+1 {{table dimension 0 (positions) is 7, fewer than the input's 8 positions}}
  %0 = mb.position_embedding %x, %t : tensor<1x8x4xf32>, tensor<7x4xf32> -> tensor<1x8x4xf32>
  return
}

// -----

func.func @position_table_features(%x: tensor<1x8x4xf32>, %t: tensor<8x5xf32>) {
  // expected-error @+1 {{table dimension 1 (features) is 5, expected 4}}
  %0 = mb.position_embedding %x, %t : tensor<1x8x4xf32>, tensor<8x5xf32> -> tensor<1x8x4xf32>
  return
}

// -----

func.func @position_input_rank(%x: tensor<8x4xf32>, %t: tensor<8x4xf32>) {
  // expected-error @+1 {{input must have rank 3 (sequences, positions, features), got 'tensor<8x4xf32>'}}
  %0 = mb.position_embedding %x, %t : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
  return
}

// -----

func.func @position_result(%x: tensor<1x8x4xf32>, %t: tensor<8x4xf32>) {
  // expected-error @+1 {{result type 'tensor<1x8x4xf16>' must equal the input type 'tensor<1x8x4xf32>'}}
  %0 = mb.position_embedding %x, %t : tensor<1x8x4xf32>, tensor<8x4xf32> -> tensor<1x8x4xf16>
  return
}

// -----

func.func @patchify_not_multiple(%x: tensor<1x10x4xf32>) {
  // expected-error @+1 {{input dimension 1 (positions) is 10, not a multiple of patch_size 4}}
  %0 = mb.patchify %x {patch_size = 4 : i64} : tensor<1x10x4xf32> -> tensor<1x2x16xf32>
  return
}

// -----

func.func @patchify_result_width(%x: tensor<1x8x4xf32>) {
  // expected-error @+1 {{result dimension 2 (patch_size * features) is 8, expected 16}}
  %0 = mb.patchify %x {patch_size = 4 : i64} : tensor<1x8x4xf32> -> tensor<1x2x8xf32>
  return
}

// -----

func.func @patchify_result_patches(%x: tensor<1x8x4xf32>) {
  // expected-error @+1 {{result dimension 1 (positions / patch_size) is 4, expected 2}}
  %0 = mb.patchify %x {patch_size = 4 : i64} : tensor<1x8x4xf32> -> tensor<1x4x16xf32>
  return
}

// -----

func.func @patchify_shift_width(%x: tensor<1x8x4xf32>, %pad: tensor<4xf32>) {
  // expected-error @+1 {{shift dimension 0 (patch_size * features) is 4, expected 16}}
  %0 = mb.patchify %x shift %pad {patch_size = 4 : i64} : tensor<1x8x4xf32>, tensor<4xf32> -> tensor<1x2x16xf32>
  return
}

// -----

func.func @patchify_shift_type(%x: tensor<1x8x4xf32>, %pad: tensor<16xbf16>) {
  // expected-error @+1 {{shift has element type 'bf16', expected 'f32' like the input (convert weights explicitly)}}
  %0 = mb.patchify %x shift %pad {patch_size = 4 : i64} : tensor<1x8x4xf32>, tensor<16xbf16> -> tensor<1x2x16xf32>
  return
}

// -----

func.func @patchify_zero(%x: tensor<1x8x4xf32>) {
  // expected-error @+1 {{attribute 'patch_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = mb.patchify %x {patch_size = 0 : i64} : tensor<1x8x4xf32> -> tensor<1x2x16xf32>
  return
}

// -----

func.func @start_token_width(%x: tensor<4x8x32xf32>, %s: tensor<16xf32>) {
  // expected-error @+1 {{start dimension 0 (features) is 16, expected 32}}
  %0 = mb.start_token %x, %s : tensor<4x8x32xf32>, tensor<16xf32> -> tensor<4x9x32xf32>
  return
}

// -----

func.func @start_token_positions(%x: tensor<4x8x32xf32>, %s: tensor<32xf32>) {
  // expected-error @+1 {{result dimension 1 (positions + 1) is 8, expected 9}}
  %0 = mb.start_token %x, %s : tensor<4x8x32xf32>, tensor<32xf32> -> tensor<4x8x32xf32>
  return
}

// -----

func.func @shared_bias(%g: tensor<2x16x64xf32>, %w: tensor<24x16xf32>, %b: tensor<24xf32>) {
  // expected-error @+1 {{the shared projection takes no bias}}
  %0 = mb.global_to_local <shared> %g, %w, %b {patch_size = 4 : i64} : (tensor<2x16x64xf32>, tensor<24x16xf32>, tensor<24xf32>) -> tensor<32x4x24xf32>
  return
}

// -----

func.func @shared_width(%g: tensor<2x16x62xf32>, %w: tensor<24x16xf32>) {
  // expected-error @+1 {{input dimension 2 (features) is 62, not a multiple of patch_size 4}}
  %0 = mb.global_to_local <shared> %g, %w {patch_size = 4 : i64} : (tensor<2x16x62xf32>, tensor<24x16xf32>) -> tensor<32x4x24xf32>
  return
}

// -----

func.func @shared_weight(%g: tensor<2x16x64xf32>, %w: tensor<24x8xf32>) {
  // expected-error @+1 {{weight dimension 1 (input features / patch_size) is 8, expected 16}}
  %0 = mb.global_to_local <shared> %g, %w {patch_size = 4 : i64} : (tensor<2x16x64xf32>, tensor<24x8xf32>) -> tensor<32x4x24xf32>
  return
}

// -----

func.func @shared_result(%g: tensor<2x16x64xf32>, %w: tensor<24x16xf32>) {
  // expected-error @+1 {{result dimension 0 (sequences * positions) is 16, expected 32}}
  %0 = mb.global_to_local <shared> %g, %w {patch_size = 4 : i64} : (tensor<2x16x64xf32>, tensor<24x16xf32>) -> tensor<16x4x24xf32>
  return
}

// -----

func.func @dense_positions(%g: tensor<1x1x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{input dimension 1 (positions incl. start token) is 1, expected at least 2}}
  %0 = mb.global_to_local <dense> %g, %w {patch_size = 4 : i64} : (tensor<1x1x64xf32>, tensor<128x64xf32>) -> tensor<0x5x32xf32>
  return
}

// -----

func.func @dense_in_features(%g: tensor<1x17x64xf32>, %w: tensor<128x32xf32>) {
  // expected-error @+1 {{weight dimension 1 (input features) is 32, expected 64}}
  %0 = mb.global_to_local <dense> %g, %w {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<128x32xf32>) -> tensor<16x5x32xf32>
  return
}

// -----

func.func @dense_out_multiple(%g: tensor<1x17x64xf32>, %w: tensor<130x64xf32>) {
  // expected-error @+1 {{weight dimension 0 (patch_size * out features) is 130, not a multiple of patch_size 4}}
  %0 = mb.global_to_local <dense> %g, %w {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<130x64xf32>) -> tensor<16x5x32xf32>
  return
}

// -----

func.func @dense_bias(%g: tensor<1x17x64xf32>, %w: tensor<128x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{bias dimension 0 (patch_size * out features) is 64, expected 128}}
  %0 = mb.global_to_local <dense> %g, %w, %b {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<128x64xf32>, tensor<64xf32>) -> tensor<16x5x32xf32>
  return
}

// -----

func.func @dense_result(%g: tensor<1x17x64xf32>, %w: tensor<128x64xf32>) {
  // expected-error @+1 {{result dimension 1 (patch_size + 1) is 4, expected 5}}
  %0 = mb.global_to_local <dense> %g, %w {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<128x64xf32>) -> tensor<16x4x32xf32>
  return
}

// -----

func.func @dense_weight_type(%g: tensor<1x17x64xf32>, %w: tensor<128x64xf16>) {
  // expected-error @+1 {{weight has element type 'f16', expected 'f32' like the input}}
  %0 = mb.global_to_local <dense> %g, %w {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<128x64xf16>) -> tensor<16x5x32xf32>
  return
}

// -----

func.func @merge_batch(%x: tensor<15x5x256xf32>) {
  // expected-error @+1 {{input dimension 0 (sequences) is 15, not a multiple of the result's batch 2}}
  %0 = mb.merge_patches <start_token> %x : tensor<15x5x256xf32> -> tensor<2x30x256xf32>
  return
}

// -----

func.func @merge_start_positions(%x: tensor<16x1x256xf32>) {
  // expected-error @+1 {{input dimension 1 (patch_size + 1) is 1, expected at least 2}}
  %0 = mb.merge_patches <start_token> %x : tensor<16x1x256xf32> -> tensor<1x0x256xf32>
  return
}

// -----

func.func @merge_bytes(%x: tensor<16x5x256xf32>) {
  // expected-error @+1 {{result dimension 1 (bytes) is 80, expected 64}}
  %0 = mb.merge_patches <start_token> %x : tensor<16x5x256xf32> -> tensor<1x80x256xf32>
  return
}

// -----

func.func @merge_vocabulary(%x: tensor<16x4x256xf32>) {
  // expected-error @+1 {{result dimension 2 (vocabulary) is 255, expected 256}}
  %0 = mb.merge_patches <shifted> %x : tensor<16x4x256xf32> -> tensor<1x64x255xf32>
  return
}

// -----

func.func @merge_rank(%x: tensor<16x4x256xf32>) {
  // expected-error @+1 {{result must have rank 3 (batch, bytes, vocabulary)}}
  %0 = mb.merge_patches <shifted> %x : tensor<16x4x256xf32> -> tensor<64x256xf32>
  return
}

// -----

func.func @layer_norm_weight(%x: tensor<2x9x32xf32>, %w: tensor<16xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{weight dimension 0 (features) is 16, expected 32}}
  %0 = mb.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64} : (tensor<2x9x32xf32>, tensor<16xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @layer_norm_bias_rank(%x: tensor<2x9x32xf32>, %w: tensor<32xf32>, %b: tensor<1x32xf32>) {
  // expected-error @+1 {{bias must have rank 1 (features)}}
  %0 = mb.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>, tensor<1x32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @layer_norm_epsilon(%x: tensor<2x9x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{epsilon must be positive and finite, got 0}}
  %0 = mb.layer_norm %x, %w, %b {epsilon = 0.0 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @rms_norm_result(%x: tensor<2x9x32xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{result type 'tensor<2x8x32xf32>' must equal the input type 'tensor<2x9x32xf32>'}}
  %0 = mb.rms_norm %x, %w {clamp, epsilon = 1.0e-08 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

func.func @rms_norm_weight_type(%x: tensor<2x9x32xf32>, %w: tensor<32xbf16>) {
  // expected-error @+1 {{weight has element type 'bf16', expected 'f32' like the input}}
  %0 = mb.rms_norm %x, %w {epsilon = 1.0e-08 : f64} : (tensor<2x9x32xf32>, tensor<32xbf16>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @rms_norm_scalar(%x: tensor<f32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{input must have rank >= 1, got 'tensor<f32>'}}
  %0 = mb.rms_norm %x, %w {epsilon = 1.0e-08 : f64} : (tensor<f32>, tensor<32xf32>) -> tensor<f32>
  return
}

// -----

func.func @linear_in(%x: tensor<2x8x48xf32>, %w: tensor<32x40xf32>) {
  // expected-error @+1 {{weight dimension 1 (input features) is 40, expected 48}}
  %0 = mb.linear %x, %w : (tensor<2x8x48xf32>, tensor<32x40xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<2x8x48xf32>, %w: tensor<48xf32>) {
  // expected-error @+1 {{weight must have rank 2 (out, in)}}
  %0 = mb.linear %x, %w : (tensor<2x8x48xf32>, tensor<48xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<2x8x48xf32>, %w: tensor<32x48xf32>, %b: tensor<48xf32>) {
  // expected-error @+1 {{bias dimension 0 (out features) is 48, expected 32}}
  %0 = mb.linear %x, %w, %b : (tensor<2x8x48xf32>, tensor<32x48xf32>, tensor<48xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

func.func @linear_result(%x: tensor<2x8x48xf32>, %w: tensor<32x48xf32>) {
  // expected-error @+1 {{result dimension 2 (out features) is 48, expected 32}}
  %0 = mb.linear %x, %w : (tensor<2x8x48xf32>, tensor<32x48xf32>) -> tensor<2x8x48xf32>
  return
}

// -----

func.func @linear_result_batch(%x: tensor<2x8x48xf32>, %w: tensor<32x48xf32>) {
  // expected-error @+1 {{result dimension 1 (input dimension) is 9, expected 8}}
  %0 = mb.linear %x, %w : (tensor<2x8x48xf32>, tensor<32x48xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @token_shift_rank(%x: tensor<9x32xf32>) {
  // expected-error @+1 {{input must have rank 3 (sequences, positions, features), got 'tensor<9x32xf32>'}}
  %0 = mb.token_shift %x : tensor<9x32xf32>
  return
}

// -----

func.func @ffn_up(%x: tensor<2x9x32xf32>, %w1: tensor<128x16xf32>, %b1: tensor<128xf32>, %w2: tensor<32x128xf32>, %b2: tensor<32xf32>) {
  // expected-error @+1 {{up_weight dimension 1 (features) is 16, expected 32}}
  %0 = mb.ffn <gelu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x16xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @ffn_up_bias(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<64xf32>, %w2: tensor<32x128xf32>, %b2: tensor<32xf32>) {
  // expected-error @+1 {{up_bias dimension 0 (hidden) is 64, expected 128}}
  %0 = mb.ffn <gelu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<64xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @ffn_down(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<32x64xf32>, %b2: tensor<32xf32>) {
  // expected-error @+1 {{down_weight dimension 1 (hidden) is 64, expected 128}}
  %0 = mb.ffn <relu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @ffn_down_bias(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<32x128xf32>, %b2: tensor<16xf32>) {
  // expected-error @+1 {{down_bias dimension 0 (features) is 16, expected 32}}
  %0 = mb.ffn <relu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<16xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @ffn_type(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<32x128xbf16>, %b2: tensor<32xf32>) {
  // expected-error @+1 {{down_weight has element type 'bf16', expected 'f32' like the input}}
  %0 = mb.ffn <relu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xbf16>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @ffn_result(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<32x128xf32>, %b2: tensor<32xf32>) {
  // expected-error @+1 {{result type 'tensor<2x9x128xf32>' must equal the input type 'tensor<2x9x32xf32>'}}
  %0 = mb.ffn <gelu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x128xf32>
  return
}

// -----

func.func @ffn_activation(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>, %w2: tensor<32x128xf32>, %b2: tensor<32xf32>) {
  // expected-error @+2 {{expected ::mbc::mb::Activation to be one of: gelu, gelu_tanh, relu}}
  // expected-error @+1 {{failed to parse MB_ActivationAttr parameter 'value'}}
  %0 = mb.ffn <swish> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return
}

// -----

func.func @attention_input_rank(%x: tensor<17x48xf32>, %wq: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{input must have rank 3 (sequences, positions, features)}}
  %0 = mb.global_attention %x, %wq, %wq, %wq, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<17x48xf32>
  return
}

// -----

func.func @attention_wq_rows(%x: tensor<2x17x48xf32>, %wq: tensor<96x48xf32>, %wk: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{wq dimension 0 (heads * head_dim) is 96, expected 64}}
  %0 = mb.global_attention %x, %wq, %wk, %wk, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<96x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_wk_cols(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wk: tensor<64x32xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{wk dimension 1 (features) is 32, expected 48}}
  %0 = mb.local_attention %x, %wq, %wk, %wq, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x32xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_wv_rank(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wv: tensor<64x48x1xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{wv must have rank 2 (heads * head_dim, features)}}
  %0 = mb.local_attention %x, %wq, %wq, %wv, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48x1xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_wo(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wo: tensor<64x48xf32>) {
  // expected-error @+1 {{wo dimension 0 (features) is 64, expected 48}}
  %0 = mb.global_attention %x, %wq, %wq, %wq, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_type(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf16>, %wk: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{wq has element type 'f16', expected 'f32' like the input}}
  %0 = mb.global_attention %x, %wq, %wk, %wk, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf16>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_rotary_odd(%x: tensor<2x17x48xf32>, %wq: tensor<60x48xf32>, %wo: tensor<48x60xf32>) {
  // expected-error @+1 {{rotary embedding needs an even head_dim, got 15}}
  %0 = mb.global_attention %x, %wq, %wq, %wq, %wo {heads = 4 : i64, head_dim = 15 : i64, rotary_theta = 10000.0 : f64} : (tensor<2x17x48xf32>, tensor<60x48xf32>, tensor<60x48xf32>, tensor<60x48xf32>, tensor<48x60xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_rotary_theta(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{rotary_theta must be positive and finite, got -1}}
  %0 = mb.local_attention %x, %wq, %wq, %wq, %wo {heads = 4 : i64, head_dim = 16 : i64, rotary_theta = -1.0 : f64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_scale(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{scale must be positive and finite, got 0}}
  %0 = mb.global_attention %x, %wq, %wq, %wq, %wo {heads = 4 : i64, head_dim = 16 : i64, scale = 0.0 : f64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @attention_result(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{result type 'tensor<2x17x64xf32>' must equal the input type 'tensor<2x17x48xf32>'}}
  %0 = mb.global_attention %x, %wq, %wq, %wq, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x64xf32>
  return
}

// -----

func.func @attention_heads(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wo: tensor<48x64xf32>) {
  // expected-error @+1 {{attribute 'heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = mb.global_attention %x, %wq, %wq, %wq, %wo {heads = 0 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return
}

// -----

func.func @head_features(%x: tensor<16x5x32xf32>, %w: tensor<256x16xf32>) {
  // expected-error @+1 {{weight dimension 1 (features) is 16, expected 32}}
  %0 = mb.head %x, %w : (tensor<16x5x32xf32>, tensor<256x16xf32>) -> tensor<16x5x256xf32>
  return
}

// -----

func.func @head_bias(%x: tensor<16x5x32xf32>, %w: tensor<256x32xf32>, %b: tensor<255xf32>) {
  // expected-error @+1 {{bias dimension 0 (vocabulary) is 255, expected 256}}
  %0 = mb.head %x, %w, %b : (tensor<16x5x32xf32>, tensor<256x32xf32>, tensor<255xf32>) -> tensor<16x5x256xf32>
  return
}

// -----

func.func @head_result(%x: tensor<16x5x32xf32>, %w: tensor<256x32xf32>) {
  // expected-error @+1 {{result dimension 2 (vocabulary) is 128, expected 256}}
  %0 = mb.head %x, %w : (tensor<16x5x32xf32>, tensor<256x32xf32>) -> tensor<16x5x128xf32>
  return
}

// -----

func.func @head_weight_rank(%x: tensor<16x5x32xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight must have rank 2 (vocabulary, features)}}
  %0 = mb.head %x, %w : (tensor<16x5x32xf32>, tensor<32xf32>) -> tensor<16x5x256xf32>
  return
}

// -----

func.func @token_shift_step_positions(%x: tensor<1x2x32xf32>) {
  // expected-error @+1 {{input dimension 1 (one new position) is 2, expected 1}}
  %0 = mb.token_shift_step %x, %x : tensor<1x2x32xf32>
  return
}

// -----

func.func @token_shift_step_rank(%x: tensor<1x32xf32>) {
  // expected-error @+1 {{input must have rank 3 (sequences, 1, features)}}
  %0 = mb.token_shift_step %x, %x : tensor<1x32xf32>
  return
}

// -----

func.func @cached_attention_positions(%x: tensor<1x2x32xf32>, %wq: tensor<64x32xf32>, %wo: tensor<32x64xf32>, %c: tensor<1x9x64xf32>, %p: index) {
  // expected-error @+1 {{input dimension 1 (one new position) is 2, expected 1}}
  %0, %1, %2 = mb.cached_attention %x, %wq, %wq, %wq, %wo, %c, %c at %p {heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x2x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, index) -> (tensor<1x2x32xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>)
  return
}

// -----

func.func @cached_attention_cache_rank(%x: tensor<1x1x32xf32>, %wq: tensor<64x32xf32>, %wo: tensor<32x64xf32>, %c: tensor<9x64xf32>, %p: index) {
  // expected-error @+1 {{k_cache must have rank 3 (sequences, positions, heads * head_dim)}}
  %0, %1, %2 = mb.cached_attention %x, %wq, %wq, %wq, %wo, %c, %c at %p {heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x1x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<9x64xf32>, tensor<9x64xf32>, index) -> (tensor<1x1x32xf32>, tensor<9x64xf32>, tensor<9x64xf32>)
  return
}

// -----

func.func @cached_attention_cache_width(%x: tensor<1x1x32xf32>, %wq: tensor<64x32xf32>, %wo: tensor<32x64xf32>, %k: tensor<1x9x64xf32>, %v: tensor<1x9x32xf32>, %p: index) {
  // expected-error @+1 {{v_cache dimension 2 (heads * head_dim) is 32, expected 64}}
  %0, %1, %2 = mb.cached_attention %x, %wq, %wq, %wq, %wo, %k, %v at %p {heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x1x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<1x9x64xf32>, tensor<1x9x32xf32>, index) -> (tensor<1x1x32xf32>, tensor<1x9x64xf32>, tensor<1x9x32xf32>)
  return
}

// -----

func.func @cached_attention_new_cache(%x: tensor<1x1x32xf32>, %wq: tensor<64x32xf32>, %wo: tensor<32x64xf32>, %c: tensor<1x9x64xf32>, %p: index) {
  // expected-error @+1 {{new_k_cache dimension 1 (positions) is 8, expected 9}}
  %0, %1, %2 = mb.cached_attention %x, %wq, %wq, %wq, %wo, %c, %c at %p {heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x1x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, index) -> (tensor<1x1x32xf32>, tensor<1x8x64xf32>, tensor<1x9x64xf32>)
  return
}

// -----

func.func @cached_attention_weights(%x: tensor<1x1x32xf32>, %wq: tensor<48x32xf32>, %wo: tensor<32x64xf32>, %c: tensor<1x9x64xf32>, %p: index) {
  // expected-error @+1 {{wq dimension 0 (heads * head_dim) is 48, expected 64}}
  %0, %1, %2 = mb.cached_attention %x, %wq, %wq, %wq, %wo, %c, %c at %p {heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x1x32xf32>, tensor<48x32xf32>, tensor<48x32xf32>, tensor<48x32xf32>, tensor<32x64xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, index) -> (tensor<1x1x32xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>)
  return
}

// -----

func.func @cached_attention_cache_type(%x: tensor<1x1x32xf32>, %wq: tensor<64x32xf32>, %wo: tensor<32x64xf32>, %c: tensor<1x9x64xbf16>, %p: index) {
  // expected-error @+1 {{k_cache has element type 'bf16', expected 'f32' like the input}}
  %0, %1, %2 = mb.cached_attention %x, %wq, %wq, %wq, %wo, %c, %c at %p {heads = 4 : i64, head_dim = 16 : i64} : (tensor<1x1x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<1x9x64xbf16>, tensor<1x9x64xbf16>, index) -> (tensor<1x1x32xf32>, tensor<1x9x64xbf16>, tensor<1x9x64xbf16>)
  return
}

// -----

func.func @sequence_tiles_tile(%x: tensor<30x9x16xf32>) -> tensor<30x9x16xf32> {
  // expected-error @+1 {{tile 8 does not divide the 30 sequences}}
  %0 = mb.sequence_tiles(%x) tile 8 : (tensor<30x9x16xf32>) -> tensor<30x9x16xf32> {
  ^bb0(%a: tensor<8x9x16xf32>):
    mb.yield %a : tensor<8x9x16xf32>
  }
  return %0 : tensor<30x9x16xf32>
}

// -----

func.func @sequence_tiles_input(%x: tensor<16x9x16xf32>) -> tensor<32x9x16xf32> {
  // expected-error @+1 {{input 0 dimension 0 (sequences) is 16, expected 32 like result 0}}
  %0 = mb.sequence_tiles(%x) tile 8 : (tensor<16x9x16xf32>) -> tensor<32x9x16xf32> {
  ^bb0(%a: tensor<8x9x16xf32>):
    mb.yield %a : tensor<8x9x16xf32>
  }
  return %0 : tensor<32x9x16xf32>
}

// -----

func.func @sequence_tiles_argument(%x: tensor<32x9x16xf32>) -> tensor<32x9x16xf32> {
  // expected-error @+1 {{body argument 0 has type 'tensor<4x9x16xf32>', expected 'tensor<8x9x16xf32>' (a tile of input 0)}}
  %0 = mb.sequence_tiles(%x) tile 8 : (tensor<32x9x16xf32>) -> tensor<32x9x16xf32> {
  ^bb0(%a: tensor<4x9x16xf32>):
    mb.yield %a : tensor<4x9x16xf32>
  }
  return %0 : tensor<32x9x16xf32>
}

// -----

func.func @sequence_tiles_yield(%x: tensor<32x9x16xf32>) -> tensor<32x9x8xf32> {
  // expected-error @+1 {{body yields 'tensor<8x9x16xf32>' for result 0, expected 'tensor<8x9x8xf32>'}}
  %0 = mb.sequence_tiles(%x) tile 8 : (tensor<32x9x16xf32>) -> tensor<32x9x8xf32> {
  ^bb0(%a: tensor<8x9x16xf32>):
    mb.yield %a : tensor<8x9x16xf32>
  }
  return %0 : tensor<32x9x8xf32>
}
