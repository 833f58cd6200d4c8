// mb-cuda-select-kernels: projections with enough rows become calls of
// @mbc_gemm_<n> (16-bit operands, epilogues, fused residual); the kernel
// choice is the callee's mb.cuda_gemm attribute, pinned by the options.
// RUN: mbc-opt %s --mb-cuda-select-kernels --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-select-kernels="mma=mma_sync tile-m=32 tile-n=64 tile-k=64 stages=4" --split-input-file | FileCheck %s --check-prefix=PINNED
// RUN: mbc-opt %s --mb-cuda-select-kernels=min-rows=1000 --split-input-file | FileCheck %s --check-prefix=FEW
// RUN: mbc-opt %s --mb-cuda-select-kernels=fuse-log-softmax=false --split-input-file | FileCheck %s --check-prefix=GENERIC
// RUN: mbc-opt %s --mb-cuda-select-kernels="consumers=2 tile-n=128 stages=4" --split-input-file | FileCheck %s --check-prefix=WS
// RUN: mbc-opt %s --mb-cuda-select-kernels="consumers=2 tile-m=64" --split-input-file | FileCheck %s --check-prefix=BAD-WS
// RUN: not mbc-opt %s --mb-cuda-select-kernels=mma=hmma --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @ffn_residual
// CHECK-SAME: (%[[X:.*]]: tensor<2x64x128xf32>, %[[R:.*]]: tensor<2x64x128xf32>, %[[UP:.*]]: tensor<512x128xbf16>, %[[UB:.*]]: tensor<512xf32>, %[[DOWN:.*]]: tensor<128x512xbf16>, %[[DB:.*]]: tensor<128xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<2x64x128xf32> into tensor<128x128xf32>
// CHECK: %[[X16:.*]] = arith.truncf %[[X2]] : tensor<128x128xf32> to tensor<128x128xbf16>
// The up GEMM writes the hidden activation in bf16 for the down GEMM.
// CHECK: %[[H:.*]] = call @mbc_gemm_0(%[[X16]], %[[UP]], %[[UB]]) : ({{.*}}) -> tensor<128x512xbf16>
// CHECK-NOT: arith.truncf
// CHECK: %[[H2:.*]] = tensor.collapse_shape
// CHECK: %[[R2:.*]] = tensor.collapse_shape %[[R]]
// CHECK: %[[Y:.*]] = call @mbc_gemm_1(%[[H2]], %[[DOWN]], %[[DB]], %[[R2]])
// CHECK: %[[Y3:.*]] = tensor.expand_shape %[[Y]]
// CHECK-NOT: mb.ffn
// CHECK-NOT: arith.addf
// CHECK: return %[[Y3]]
// CHECK: func.func private @mbc_gemm_0(tensor<128x128xbf16> {bufferization.access = "read"}, tensor<512x128xbf16> {bufferization.access = "read"}, tensor<512xf32> {bufferization.access = "read"}) -> tensor<128x512xbf16>
// CHECK-SAME: mb.cuda_gemm = {activation = "gelu", bias = true, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 128 : i64, mma = "wgmma", n = 512 : i64, output_type = bf16, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}
// CHECK: func.func private @mbc_gemm_1({{.*}}) -> tensor<128x128xf32>
// CHECK-SAME: activation = "none", bias = true, {{.*}} residual = true

// PINNED-LABEL: func.func @ffn_residual
// PINNED: mb.cuda_gemm = {activation = "gelu", {{.*}} mma = "mma_sync", {{.*}} stages = 4 : i64, tile_k = 64 : i64, tile_m = 32 : i64, tile_n = 64 : i64}
// FEW-LABEL: func.func @ffn_residual
// FEW: mb.ffn <gelu>
// FEW-NOT: call @mbc_gemm
// BAD: mb-cuda-select-kernels: mma = 'hmma' (expected wgmma or mma_sync)
func.func @ffn_residual(%x: tensor<2x64x128xf32>, %r: tensor<2x64x128xf32>,
                        %up: tensor<512x128xbf16>, %ub: tensor<512xf32>,
                        %down: tensor<128x512xbf16>, %db: tensor<128xf32>)
    -> tensor<2x64x128xf32> {
  %upf = arith.extf %up : tensor<512x128xbf16> to tensor<512x128xf32>
  %downf = arith.extf %down : tensor<128x512xbf16> to tensor<128x512xf32>
  %y = mb.ffn <gelu> %x, %upf, %ub, %downf, %db : (tensor<2x64x128xf32>, tensor<512x128xf32>, tensor<512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<2x64x128xf32>
  %z = arith.addf %y, %r : tensor<2x64x128xf32>
  return %z : tensor<2x64x128xf32>
}

// -----

// An f32 weight is rounded to bf16 (each call); no bias; ReLU FFNs and
// f16 weights keep their types.
// CHECK-LABEL: func.func @linear_f32_weight
// CHECK: %[[W16:.*]] = arith.truncf %{{.*}} : tensor<64x256xf32> to tensor<64x256xbf16>
// CHECK: call @mbc_gemm_0(%{{.*}}, %[[W16]]) : (tensor<100x256xbf16>, tensor<64x256xbf16>) -> tensor<100x64xf32>
// CHECK: mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 256 : i64, m = 100 : i64
func.func @linear_f32_weight(%x: tensor<1x100x256xf32>, %w: tensor<64x256xf32>) -> tensor<1x100x64xf32> {
  %y = mb.linear %x, %w : (tensor<1x100x256xf32>, tensor<64x256xf32>) -> tensor<1x100x64xf32>
  return %y : tensor<1x100x64xf32>
}

// -----

// A projection whose 128 x 256 tiles fill a 132-SM GPU (4096 x 2048: 512
// tiles) gets the warp-specialized wgmma kernel: a producer and two
// consumer warpgroups, 4 stages; its half (4096 x 1024, 128 such tiles)
// keeps one warpgroup and 128 x 128 tiles. Pinned: consumers = 2 with
// 128 x 128 tiles.
// CHECK-LABEL: func.func @wide_linear
// CHECK: mb.cuda_gemm = {activation = "none", bias = false, consumers = 2 : i64, element_type = bf16, k = 1024 : i64, m = 4096 : i64, mma = "wgmma", n = 2048 : i64, output_type = f32, residual = false, stages = 4 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 256 : i64}
// CHECK: mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 1024 : i64, m = 4096 : i64, mma = "wgmma", n = 1024 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 128 : i64}
// WS-LABEL: func.func @wide_linear
// WS: mb.cuda_gemm = {{{.*}} consumers = 2 : i64, {{.*}} n = 2048 : i64, {{.*}} stages = 4 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 128 : i64}
// WS: mb.cuda_gemm = {{{.*}} consumers = 2 : i64, {{.*}} n = 1024 : i64, {{.*}} stages = 4 : i64, tile_k = 64 : i64, tile_m = 128 : i64, tile_n = 128 : i64}
// 4096 rows are above min-rows = 1000.
// FEW-LABEL: func.func @wide_linear
// FEW: call @mbc_gemm_0
// A pinned combination the kernels reject keeps the generic lowering.
// BAD-WS-LABEL: func.func @wide_linear
// BAD-WS-NOT: call @mbc_gemm
// BAD-WS: return
func.func @wide_linear(%x: tensor<1x4096x1024xbf16>, %w: tensor<2048x1024xbf16>, %w2: tensor<1024x1024xbf16>) -> (tensor<1x4096x2048xf32>, tensor<1x4096x1024xf32>) {
  %xf = arith.extf %x : tensor<1x4096x1024xbf16> to tensor<1x4096x1024xf32>
  %wf = arith.extf %w : tensor<2048x1024xbf16> to tensor<2048x1024xf32>
  %w2f = arith.extf %w2 : tensor<1024x1024xbf16> to tensor<1024x1024xf32>
  %y = mb.linear %xf, %wf : (tensor<1x4096x1024xf32>, tensor<2048x1024xf32>) -> tensor<1x4096x2048xf32>
  %y2 = mb.linear %xf, %w2f : (tensor<1x4096x1024xf32>, tensor<1024x1024xf32>) -> tensor<1x4096x1024xf32>
  return %y, %y2 : tensor<1x4096x2048xf32>, tensor<1x4096x1024xf32>
}

// -----

// CHECK-LABEL: func.func @relu_f16
// CHECK: arith.truncf %{{.*}} : tensor<72x64xf32> to tensor<72x64xf16>
// CHECK: mb.cuda_gemm = {activation = "relu", bias = true, consumers = 1 : i64, element_type = f16
func.func @relu_f16(%x: tensor<8x9x64xf32>, %up: tensor<256x64xf16>, %ub: tensor<256xf32>,
                    %down: tensor<64x256xf16>, %db: tensor<64xf32>) -> tensor<8x9x64xf32> {
  %upf = arith.extf %up : tensor<256x64xf16> to tensor<256x64xf32>
  %downf = arith.extf %down : tensor<64x256xf16> to tensor<64x256xf32>
  %y = mb.ffn <relu> %x, %upf, %ub, %downf, %db : (tensor<8x9x64xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64x256xf32>, tensor<64xf32>) -> tensor<8x9x64xf32>
  return %y : tensor<8x9x64xf32>
}

// -----

// What the kernels cannot take stays generic: one row with K = 30 (not a
// multiple of a GEMV lane's 4 f32 weights), K = 48 (not a multiple of
// tile-k), N = 20 (not a multiple of 8).
// CHECK-LABEL: func.func @unsupported
// CHECK-COUNT-3: mb.linear
// CHECK-NOT: call
func.func @unsupported(%row: tensor<1x1x30xf32>, %w: tensor<64x30xf32>,
                       %x48: tensor<1x100x48xf32>, %w48: tensor<64x48xf32>,
                       %x: tensor<1x100x256xf32>, %w20: tensor<20x256xf32>)
    -> (tensor<1x1x64xf32>, tensor<1x100x64xf32>, tensor<1x100x20xf32>) {
  %a = mb.linear %row, %w : (tensor<1x1x30xf32>, tensor<64x30xf32>) -> tensor<1x1x64xf32>
  %b = mb.linear %x48, %w48 : (tensor<1x100x48xf32>, tensor<64x48xf32>) -> tensor<1x100x64xf32>
  %c = mb.linear %x, %w20 : (tensor<1x100x256xf32>, tensor<20x256xf32>) -> tensor<1x100x20xf32>
  return %a, %b, %c : tensor<1x1x64xf32>, tensor<1x100x64xf32>, tensor<1x100x20xf32>
}

// -----

// The head: the logits GEMM with its bias, then the log-softmax over the
// vocabulary as one call of @mbc_log_softmax_<n> on the [rows, V] logits
// (LogSoftmaxKernel.h); with fuse-log-softmax=false, linalg reductions (max,
// sum of exp) and one elementwise op.
// CHECK-LABEL: func.func @head
// CHECK: %[[L:.*]] = call @mbc_gemm_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<72x64xbf16>, tensor<256x64xbf16>, tensor<256xf32>) -> tensor<72x256xf32>
// CHECK-NOT: linalg.generic
// CHECK: %[[P:.*]] = call @mbc_log_softmax_0(%{{.*}}) : (tensor<72x256xf32>) -> tensor<72x256xf32>
// CHECK: %[[P3:.*]] = tensor.expand_shape %[[P]] {{\[\[}}0, 1], [2]] output_shape [8, 9, 256]
// CHECK: return %[[P3]]
// CHECK: func.func private @mbc_log_softmax_0(tensor<72x256xf32> {bufferization.access = "read"}) -> tensor<72x256xf32> attributes {mb.cuda_log_softmax = {columns = 256 : i64, rows = 72 : i64}}
// GENERIC-LABEL: func.func @head
// GENERIC: %[[L:.*]] = call @mbc_gemm_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<72x64xbf16>, tensor<256x64xbf16>, tensor<256xf32>) -> tensor<72x256xf32>
// GENERIC: %[[L3:.*]] = tensor.expand_shape %[[L]]
// GENERIC: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[L3]]
// GENERIC: arith.maximumf
// GENERIC: math.exp
// GENERIC: math.log
// GENERIC-NOT: mbc_log_softmax
func.func @head(%x: tensor<8x9x64xf32>, %w: tensor<256x64xbf16>, %bias: tensor<256xf32>) -> tensor<8x9x256xf32> {
  %wf = arith.extf %w : tensor<256x64xbf16> to tensor<256x64xf32>
  %y = mb.head %x, %wf, %bias : (tensor<8x9x64xf32>, tensor<256x64xf32>, tensor<256xf32>) -> tensor<8x9x256xf32>
  return %y : tensor<8x9x256xf32>
}

// -----

// A vocabulary wider than a warp's registers hold (2048 columns) keeps the
// generic log-softmax.
// CHECK-LABEL: func.func @head_wide_vocabulary
// CHECK: call @mbc_gemm_0
// CHECK-NOT: mbc_log_softmax
// CHECK: math.log
func.func @head_wide_vocabulary(%x: tensor<64x64xf32>, %w: tensor<4096x64xbf16>) -> tensor<64x4096xf32> {
  %wf = arith.extf %w : tensor<4096x64xbf16> to tensor<4096x64xf32>
  %y = mb.head %x, %wf : (tensor<64x64xf32>, tensor<4096x64xf32>) -> tensor<64x4096xf32>
  return %y : tensor<64x4096xf32>
}

// -----

// Global attention with rotary: q and kv (one GEMM over the to_kv weight
// whose halves are k and v). On sm_90a (wgmma GEMMs, the default) the
// GEMMs rotate q and the k half of kv in their epilogue and write bf16
// rows, read by flash attention in place (K and V the halves of one
// buffer); with mma_sync (PINNED) they write f32, rotary runs on q and k,
// each is rounded to bf16 rows. Either way 65 positions, no padded copies,
// and bf16 O rows go straight into the output projection, which adds the
// residual.
// CHECK-LABEL: func.func @global_attention
// CHECK-SAME: %[[WKV:[a-z0-9]+]]: tensor<256x128xbf16>
// CHECK: call @mbc_gemm_0({{.*}}) : (tensor<65x128xbf16>, tensor<128x128xbf16>) -> tensor<65x128xbf16>
// CHECK: call @mbc_gemm_1(%{{.*}}, %[[WKV]]) : (tensor<65x128xbf16>, tensor<256x128xbf16>) -> tensor<65x256xbf16>
// CHECK-NOT: linalg
// CHECK: %[[O:.*]] = call @mbc_attention_0({{.*}}) : (tensor<1x65x128xbf16>, tensor<1x65x256xbf16>, tensor<1x65x256xbf16>) -> tensor<1x65x128xbf16>
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[O]] {{.*}} into tensor<65x128xbf16>
// CHECK: call @mbc_gemm_2(%[[ROWS]], {{.*}}) : (tensor<65x128xbf16>, tensor<128x128xbf16>, tensor<65x128xf32>) -> tensor<65x128xf32>
// CHECK-NOT: mb.global_attention
// CHECK-NOT: arith.addf
// CHECK: @mbc_gemm_0{{.*}}output_type = bf16, residual = false, rotary_columns = 128 : i64, rotary_head_dim = 64 : i64, rotary_positions = 65 : i64, rotary_theta = 1.000000e+04 : f64
// CHECK: @mbc_gemm_1{{.*}}n = 256 : i64, output_type = bf16, residual = false, rotary_columns = 128 : i64
// sm_90a (mma = wgmma, the default): the wgmma kernel, 128-key blocks;
// sm_80 (mma_sync): 32-key blocks, two 16-row tiles a warp.
// CHECK: mb.cuda_attention = {batch_heads = 2 : i64, causal = true, element_type = bf16, head_dim = 64 : i64, heads = 2 : i64, k_column = 0 : i64, k_row = 256 : i64, key_block = 128 : i64, mma = "wgmma", output_type = bf16, patch_length = 0 : i64, q_row = 128 : i64, scale = 1.250000e-01 : f64, seq_len = 65 : i64, v_column = 128 : i64, v_row = 256 : i64}
// CHECK: @mbc_gemm_2{{.*}}residual = true
// PINNED-LABEL: func.func @global_attention
// PINNED: call @mbc_gemm_0({{.*}}) : (tensor<65x128xbf16>, tensor<128x128xbf16>) -> tensor<65x128xf32>
// PINNED: arith.truncf {{.*}} : tensor<65x128xf32> to tensor<65x128xbf16>
// PINNED: call @mbc_gemm_1({{.*}}) : (tensor<65x128xbf16>, tensor<256x128xbf16>) -> tensor<65x256xf32>
// PINNED-NOT: linalg.fill
// PINNED: call @mbc_attention_0({{.*}}) : (tensor<1x65x128xbf16>, tensor<1x65x128xbf16>, tensor<1x65x128xbf16>) -> tensor<1x65x128xbf16>
// PINNED-NOT: rotary_columns
// PINNED: mb.cuda_attention = {batch_heads = 2 : i64, causal = true, element_type = bf16, head_dim = 64 : i64, heads = 2 : i64, k_column = 0 : i64, k_row = 128 : i64, key_block = 32 : i64, output_type = bf16, patch_length = 0 : i64, q_row = 128 : i64, row_tiles = 2 : i64, scale = 1.250000e-01 : f64, seq_len = 65 : i64, v_column = 0 : i64, v_row = 128 : i64}
func.func @global_attention(%x: tensor<1x65x128xf32>, %r: tensor<1x65x128xf32>,
                            %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xbf16>,
                            %wo: tensor<128x128xbf16>) -> tensor<1x65x128xf32> {
  %q = arith.extf %wq : tensor<128x128xbf16> to tensor<128x128xf32>
  %kv = arith.extf %wkv : tensor<256x128xbf16> to tensor<256x128xf32>
  %k = tensor.extract_slice %kv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %v = tensor.extract_slice %kv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %o = arith.extf %wo : tensor<128x128xbf16> to tensor<128x128xf32>
  %y = mb.global_attention %x, %q, %k, %v, %o {head_dim = 64 : i64, heads = 2 : i64, rotary_theta = 10000.0 : f64} : (tensor<1x65x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<1x65x128xf32>
  %z = arith.addf %y, %r : tensor<1x65x128xf32>
  return %z : tensor<1x65x128xf32>
}

// -----

// Head dim 128: with mma_sync, 128-row query blocks with Q re-read from
// shared memory for every key block (with Q held in registers, ptxas
// spills).
// CHECK-LABEL: func.func @global_attention_head_dim_128
// CHECK: mb.cuda_attention = {batch_heads = 2 : i64, causal = true, element_type = bf16, head_dim = 128 : i64, heads = 2 : i64, k_column = 0 : i64, k_row = 256 : i64, key_block = 128 : i64, mma = "wgmma", output_type = bf16, patch_length = 0 : i64, q_row = 256 : i64, scale = 0.088388347648318433 : f64, seq_len = 300 : i64, v_column = 0 : i64, v_row = 256 : i64}
// PINNED-LABEL: func.func @global_attention_head_dim_128
// PINNED: mb.cuda_attention = {batch_heads = 2 : i64, causal = true, element_type = bf16, head_dim = 128 : i64, heads = 2 : i64, k_column = 0 : i64, k_row = 256 : i64, key_block = 32 : i64, output_type = bf16, patch_length = 0 : i64, q_row = 256 : i64, reload_query = true, row_tiles = 2 : i64, scale = 0.088388347648318433 : f64, seq_len = 300 : i64, v_column = 0 : i64, v_row = 256 : i64}
func.func @global_attention_head_dim_128(%x: tensor<1x300x256xf32>,
                            %wq: tensor<256x256xbf16>, %wk: tensor<256x256xbf16>,
                            %wv: tensor<256x256xbf16>, %wo: tensor<256x256xbf16>) -> tensor<1x300x256xf32> {
  %q = arith.extf %wq : tensor<256x256xbf16> to tensor<256x256xf32>
  %k = arith.extf %wk : tensor<256x256xbf16> to tensor<256x256xf32>
  %v = arith.extf %wv : tensor<256x256xbf16> to tensor<256x256xf32>
  %o = arith.extf %wo : tensor<256x256xbf16> to tensor<256x256xf32>
  %y = mb.global_attention %x, %q, %k, %v, %o {head_dim = 128 : i64, heads = 2 : i64} : (tensor<1x300x256xf32>, tensor<256x256xf32>, tensor<256x256xf32>, tensor<256x256xf32>, tensor<256x256xf32>) -> tensor<1x300x256xf32>
  return %y : tensor<1x300x256xf32>
}

// -----

// Without rotary, q and kv come out of their GEMMs as bf16 rows (no
// elementwise op at all) and the kv rows are K (from column 0) and V (from
// column 128) of one buffer.
// CHECK-LABEL: func.func @global_attention_no_rotary
// CHECK: %[[Q:.*]] = call @mbc_gemm_0({{.*}}) : (tensor<65x128xbf16>, tensor<128x128xbf16>) -> tensor<65x128xbf16>
// CHECK: %[[KV:.*]] = call @mbc_gemm_1({{.*}}) : (tensor<65x128xbf16>, tensor<256x128xbf16>) -> tensor<65x256xbf16>
// CHECK-DAG: %[[K:.*]] = tensor.expand_shape %[[KV]] {{.*}} into tensor<1x65x256xbf16>
// CHECK-DAG: %[[V:.*]] = tensor.expand_shape %[[KV]] {{.*}} into tensor<1x65x256xbf16>
// CHECK-DAG: %[[Q3:.*]] = tensor.expand_shape %[[Q]] {{.*}} into tensor<1x65x128xbf16>
// CHECK: call @mbc_attention_0(%[[Q3]], {{.*}}) : (tensor<1x65x128xbf16>, tensor<1x65x256xbf16>, tensor<1x65x256xbf16>) -> tensor<1x65x128xbf16>
// CHECK-NOT: linalg.generic
// CHECK: mb.cuda_gemm = {{{.*}} output_type = bf16
// CHECK: mb.cuda_gemm = {{{.*}} output_type = bf16
// CHECK: mb.cuda_attention = {{{.*}} k_column = 0 : i64, k_row = 256 : i64, {{.*}} v_column = 128 : i64, v_row = 256 : i64}
func.func @global_attention_no_rotary(%x: tensor<1x65x128xf32>, %r: tensor<1x65x128xf32>,
                            %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xbf16>,
                            %wo: tensor<128x128xbf16>) -> tensor<1x65x128xf32> {
  %q = arith.extf %wq : tensor<128x128xbf16> to tensor<128x128xf32>
  %kv = arith.extf %wkv : tensor<256x128xbf16> to tensor<256x128xf32>
  %k = tensor.extract_slice %kv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %v = tensor.extract_slice %kv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %o = arith.extf %wo : tensor<128x128xbf16> to tensor<128x128xf32>
  %y = mb.global_attention %x, %q, %k, %v, %o {head_dim = 64 : i64, heads = 2 : i64} : (tensor<1x65x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<1x65x128xf32>
  %z = arith.addf %y, %r : tensor<1x65x128xf32>
  return %z : tensor<1x65x128xf32>
}

// -----

// Local attention: 10 patches of 9 positions per head, packed (patches
// straddle the kernel's 64-row blocks); the 90 rows padded to 128.
// CHECK-LABEL: func.func @local_attention
// CHECK: linalg.fill {{.*}} -> tensor<2x128x64xbf16>
// CHECK: call @mbc_attention_0({{.*}}) : (tensor<2x128x64xbf16>, tensor<2x128x64xbf16>, tensor<2x128x64xbf16>) -> tensor<2x128x64xf32>
// Head dim 16: not supported, the op stays.
// CHECK-LABEL: func.func @head_dim_16
// CHECK: mb.local_attention
// CHECK: mb.cuda_attention = {batch_heads = 2 : i64, {{.*}} key_block = 64 : i64, patch_length = 9 : i64, scale = 1.250000e-01 : f64, seq_len = 128 : i64}
func.func @local_attention(%x: tensor<10x9x128xf32>, %wq: tensor<128x128xf32>,
                           %wk: tensor<128x128xf32>, %wv: tensor<128x128xf32>,
                           %wo: tensor<128x128xf32>) -> tensor<10x9x128xf32> {
  %y = mb.local_attention %x, %wq, %wk, %wv, %wo {head_dim = 64 : i64, heads = 2 : i64} : (tensor<10x9x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<10x9x128xf32>
  return %y : tensor<10x9x128xf32>
}
func.func @head_dim_16(%x: tensor<10x9x128xf32>, %wq: tensor<128x128xf32>,
                       %wk: tensor<128x128xf32>, %wv: tensor<128x128xf32>,
                       %wo: tensor<128x128xf32>) -> tensor<10x9x128xf32> {
  %y = mb.local_attention %x, %wq, %wk, %wv, %wo {head_dim = 16 : i64, heads = 8 : i64} : (tensor<10x9x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>) -> tensor<10x9x128xf32>
  return %y : tensor<10x9x128xf32>
}

// -----

// Decode rows (<= 16): GEMVs on the f32 activations reading the weights as
// stored (16-bit ones widened in the kernel, f32 ones as they are: nothing
// rounded), the FFN's hidden activation staying f32.
// CHECK-LABEL: func.func @decode
// CHECK-NOT: arith.truncf
// CHECK: %[[H:.*]] = call @mbc_gemv_0(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x128xf32>, tensor<512x128xbf16>, tensor<512xf32>) -> tensor<1x512xf32>
// CHECK: call @mbc_gemv_1(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x512xf32>, tensor<128x512xbf16>, tensor<128xf32>, tensor<1x128xf32>) -> tensor<1x128xf32>
// CHECK: call @mbc_gemv_2(%{{.*}}, %{{.*}}) : (tensor<1x128xf32>, tensor<64x128xf32>) -> tensor<1x64xf32>
// CHECK-NOT: mb.linear
// CHECK: mb.cuda_gemv = {activation = "gelu", bias = true, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 512 : i64, residual = false, warps = 8 : i64, weight_type = bf16}
// CHECK: mb.cuda_gemv = {activation = "none", bias = true, {{.*}} residual = true
// CHECK: mb.cuda_gemv = {activation = "none", bias = false, {{.*}} weight_type = f32}
func.func @decode(%x: tensor<1x1x128xf32>, %r: tensor<1x1x128xf32>,
                  %up: tensor<512x128xbf16>, %ub: tensor<512xf32>,
                  %down: tensor<128x512xbf16>, %db: tensor<128xf32>,
                  %w32: tensor<64x128xf32>)
    -> (tensor<1x1x128xf32>, tensor<1x1x64xf32>) {
  %upf = arith.extf %up : tensor<512x128xbf16> to tensor<512x128xf32>
  %downf = arith.extf %down : tensor<128x512xbf16> to tensor<128x512xf32>
  %y = mb.ffn <gelu> %x, %upf, %ub, %downf, %db : (tensor<1x1x128xf32>, tensor<512x128xf32>, tensor<512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<1x1x128xf32>
  %z = arith.addf %y, %r : tensor<1x1x128xf32>
  %l = mb.linear %x, %w32 : (tensor<1x1x128xf32>, tensor<64x128xf32>) -> tensor<1x1x64xf32>
  return %z, %l : tensor<1x1x128xf32>, tensor<1x1x64xf32>
}

// -----

// Biases stored as bf16 (an extf of the argument, as mb-weights-to-arguments
// leaves them) are read as stored: the kernels widen them in the epilogue,
// so no kernel widens a bias on every call.
// CHECK-LABEL: func.func @bf16_biases
// CHECK-SAME: %[[UB:[a-z0-9]+]]: tensor<512xbf16>, %{{.*}}: tensor<128x512xbf16>, %[[DB:[a-z0-9]+]]: tensor<128xbf16>)
// CHECK: call @mbc_gemm_0(%{{.*}}, %{{.*}}, %[[UB]]) : (tensor<128x128xbf16>, tensor<512x128xbf16>, tensor<512xbf16>) -> tensor<128x512xf32>
// CHECK: call @mbc_gemv_0(%{{.*}}, %{{.*}}, %[[DB]]) : (tensor<1x512xf32>, tensor<128x512xbf16>, tensor<128xbf16>) -> tensor<1x128xf32>
// CHECK: mb.cuda_gemm = {activation = "none", bias = true, bias_type = bf16,
// CHECK: mb.cuda_gemv = {activation = "none", bias = true, bias_type = bf16,
func.func @bf16_biases(%x: tensor<2x64x128xf32>, %h: tensor<1x1x512xf32>,
                       %up: tensor<512x128xbf16>, %ub: tensor<512xbf16>,
                       %down: tensor<128x512xbf16>, %db: tensor<128xbf16>)
    -> (tensor<2x64x512xf32>, tensor<1x1x128xf32>) {
  %upf = arith.extf %up : tensor<512x128xbf16> to tensor<512x128xf32>
  %ubf = arith.extf %ub : tensor<512xbf16> to tensor<512xf32>
  %downf = arith.extf %down : tensor<128x512xbf16> to tensor<128x512xf32>
  %dbf = arith.extf %db : tensor<128xbf16> to tensor<128xf32>
  %y = mb.linear %x, %upf, %ubf : (tensor<2x64x128xf32>, tensor<512x128xf32>, tensor<512xf32>) -> tensor<2x64x512xf32>
  %z = mb.linear %h, %downf, %dbf : (tensor<1x1x512xf32>, tensor<128x512xf32>, tensor<128xf32>) -> tensor<1x1x128xf32>
  return %y, %z : tensor<2x64x512xf32>, tensor<1x1x128xf32>
}

// -----

// The global-to-local projection: MEGABYTE-pytorch's dense mode projects
// every position on one GEMM with the bias in its epilogue, drops the last
// position's rows and puts the zero start-position vector in front.
// CHECK-LABEL: func.func @global_to_local_dense
// CHECK-SAME: (%[[G:.*]]: tensor<2x65x256xf32>, %[[W:.*]]: tensor<1024x256xbf16>, %[[B:.*]]: tensor<1024xf32>)
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %[[G]]
// CHECK: %[[A:.*]] = arith.truncf %[[ROWS]] : tensor<130x256xf32> to tensor<130x256xbf16>
// CHECK: %[[P:.*]] = call @mbc_gemm_0(%[[A]], %[[W]], %[[B]]) : (tensor<130x256xbf16>, tensor<1024x256xbf16>, tensor<1024xf32>) -> tensor<130x1024xf32>
// CHECK: %[[P3:.*]] = tensor.expand_shape %[[P]]
// CHECK: tensor.extract_slice %[[P3]][0, 0, 0] [2, 64, 1024] [1, 1, 1]
// CHECK: tensor.insert_slice
// CHECK-NOT: mb.global_to_local
// FEW-LABEL: func.func @global_to_local_dense
// FEW: mb.global_to_local
func.func @global_to_local_dense(%g: tensor<2x65x256xf32>, %w16: tensor<1024x256xbf16>, %b: tensor<1024xf32>) -> tensor<128x9x128xf32> {
  %w = arith.extf %w16 : tensor<1024x256xbf16> to tensor<1024x256xf32>
  %l = mb.global_to_local <dense> %g, %w, %b {patch_size = 8 : i64} : (tensor<2x65x256xf32>, tensor<1024x256xf32>, tensor<1024xf32>) -> tensor<128x9x128xf32>
  return %l : tensor<128x9x128xf32>
}

// -----

// The paper's shared mode: every P-th slice is a row of one GEMM by the
// [D, C] weight (no bias).
// CHECK-LABEL: func.func @global_to_local_shared
// CHECK: call @mbc_gemm_0(%{{.*}}, %{{.*}}) : (tensor<512x64xbf16>, tensor<128x64xbf16>) -> tensor<512x128xf32>
// CHECK-NOT: mb.global_to_local
func.func @global_to_local_shared(%g: tensor<1x64x512xf32>, %w16: tensor<128x64xbf16>) -> tensor<64x8x128xf32> {
  %w = arith.extf %w16 : tensor<128x64xbf16> to tensor<128x64xf32>
  %l = mb.global_to_local <shared> %g, %w {patch_size = 8 : i64} : (tensor<1x64x512xf32>, tensor<128x64xf32>) -> tensor<64x8x128xf32>
  return %l : tensor<64x8x128xf32>
}
