// mb-cuda-launch-selected-kernels: after bufferization, each call of an
// mb.cuda_gemm declaration becomes a launch of a built kernel writing a new
// buffer; wgmma's tensor-map params get the buffers they describe through
// unrealized casts, and the launch carries the kernel's launch facts.
// RUN: mbc-opt %s --mb-cuda-launch-selected-kernels --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @score
// CHECK-SAME: (%[[W:.*]]: memref<512x128xbf16>, %[[B:.*]]: memref<512xf32>, %[[X:.*]]: memref<128x128xbf16>, %[[OUT:.*]]: memref<128x512xf32>)
// CHECK: %[[C:.*]] = memref.alloc() : memref<128x512xf32>
// CHECK-DAG: %[[MAPA:.*]] = builtin.unrealized_conversion_cast %[[X]] : memref<128x128xbf16> to !llvm.ptr
// CHECK-DAG: %[[MAPB:.*]] = builtin.unrealized_conversion_cast %[[W]] : memref<512x128xbf16> to !llvm.ptr
// CHECK: gpu.launch_func @mbc_kernels::@score_gemm_0 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %{{.*}} args(%[[MAPA]] : !llvm.ptr, %[[MAPB]] : !llvm.ptr, %[[C]] : memref<128x512xf32>, %[[B]] : memref<512xf32>)
// CHECK-SAME: mbc.launch = {block = array<i64: 128, 1, 1>, grid = array<i64: 4, 2, 1>, params = [{kind = "tensor_map", name = "a", tensor_map = {base = "a", box = array<i64: 64, 64>, dims = array<i64: 128, 128>
// CHECK: memref.copy %[[C]], %[[OUT]]
// CHECK-NOT: @mbc_gemm_0
// CHECK: gpu.module @mbc_kernels
// CHECK: gpu.func @score_gemm_0(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: memref<128x512xf32>, %{{.*}}: memref<512xf32>) kernel
// CHECK: nvgpu.warpgroup.mma
func.func private @mbc_gemm_0(memref<128x128xbf16>, memref<512x128xbf16>, memref<512xf32>) -> memref<128x512xf32> attributes {mb.cuda_gemm = {activation = "gelu", bias = true, element_type = bf16, k = 128 : i64, m = 128 : i64, mma = "wgmma", n = 512 : i64, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func @score(%w: memref<512x128xbf16>, %b: memref<512xf32>, %x: memref<128x128xbf16>, %out: memref<128x512xf32>) {
  %0 = call @mbc_gemm_0(%x, %w, %b) : (memref<128x128xbf16>, memref<512x128xbf16>, memref<512xf32>) -> memref<128x512xf32>
  memref.copy %0, %out : memref<128x512xf32> to memref<128x512xf32>
  return
}

// -----

// mma.sync kernels take A and B by pointer.
// CHECK-LABEL: func.func @local
// CHECK-NOT: unrealized_conversion_cast
// CHECK: gpu.launch_func @mbc_kernels::@local_gemm_0 {{.*}} args(%{{.*}} : memref<72x64xf16>, %{{.*}} : memref<64x64xf16>, %{{.*}} : memref<72x64xf32>, %{{.*}} : memref<72x64xf32>)
// CHECK: nvgpu.mma.sync
func.func private @mbc_gemm_3(memref<72x64xf16>, memref<64x64xf16>, memref<72x64xf32>) -> memref<72x64xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, element_type = f16, k = 64 : i64, m = 72 : i64, mma = "mma_sync", n = 64 : i64, residual = true, stages = 3 : i64, tile_k = 32 : i64, tile_m = 64 : i64, tile_n = 64 : i64}}
func.func @local(%x: memref<72x64xf16>, %w: memref<64x64xf16>, %r: memref<72x64xf32>, %out: memref<72x64xf32>) {
  %0 = call @mbc_gemm_3(%x, %w, %r) : (memref<72x64xf16>, memref<64x64xf16>, memref<72x64xf32>) -> memref<72x64xf32>
  memref.copy %0, %out : memref<72x64xf32> to memref<72x64xf32>
  return
}

// -----

func.func private @mbc_gemm_0(memref<128x128xbf16>, memref<512x128xbf16>) -> memref<128x512xf32> attributes {mb.cuda_gemm = {activation = "swish", bias = false, element_type = bf16, k = 128 : i64, m = 128 : i64, mma = "wgmma", n = 512 : i64, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func @bad_activation(%x: memref<128x128xbf16>, %w: memref<512x128xbf16>) -> memref<128x512xf32> {
  // expected-error @+1 {{mb.cuda_gemm: activation = 'swish' (expected none, gelu, gelu_tanh or relu)}}
  %0 = call @mbc_gemm_0(%x, %w) : (memref<128x128xbf16>, memref<512x128xbf16>) -> memref<128x512xf32>
  return %0 : memref<128x512xf32>
}

// -----

func.func private @mbc_gemm_0(memref<128x128xbf16>, memref<512x128xbf16>) -> memref<128x512xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, element_type = bf16, k = 128 : i64, m = 128 : i64, mma = "wgmma", n = 512 : i64, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_n = 128 : i64}}
func.func @missing_field(%x: memref<128x128xbf16>, %w: memref<512x128xbf16>) -> memref<128x512xf32> {
  // expected-error @+1 {{mb.cuda_gemm: 'tile_m' must be an integer}}
  %0 = call @mbc_gemm_0(%x, %w) : (memref<128x128xbf16>, memref<512x128xbf16>) -> memref<128x512xf32>
  return %0 : memref<128x512xf32>
}

// -----

// Attention: q, k, v, then the new output buffer.
// CHECK-LABEL: func.func @attend
// CHECK: %[[O:.*]] = memref.alloc() : memref<2x128x64xf32>
// CHECK: gpu.launch_func @mbc_kernels::@attend_attention_0 blocks in {{.*}} args(%{{.*}} : memref<2x128x64xbf16>, %{{.*}} : memref<2x128x64xbf16>, %{{.*}} : memref<2x128x64xbf16>, %[[O]] : memref<2x128x64xf32>)
// CHECK-SAME: grid = array<i64: 2, 2, 1>
// CHECK: gpu.func @attend_attention_0
func.func private @mbc_attention_0(memref<2x128x64xbf16>, memref<2x128x64xbf16>, memref<2x128x64xbf16>) -> memref<2x128x64xf32> attributes {mb.cuda_attention = {batch_heads = 2 : i64, causal = true, element_type = bf16, head_dim = 64 : i64, key_block = 32 : i64, patch_length = 0 : i64, scale = 1.250000e-01 : f64, seq_len = 128 : i64}}
func.func @attend(%q: memref<2x128x64xbf16>, %k: memref<2x128x64xbf16>, %v: memref<2x128x64xbf16>) -> memref<2x128x64xf32> {
  %0 = call @mbc_attention_0(%q, %k, %v) : (memref<2x128x64xbf16>, memref<2x128x64xbf16>, memref<2x128x64xbf16>) -> memref<2x128x64xf32>
  return %0 : memref<2x128x64xf32>
}

// -----

func.func private @mbc_attention_0(memref<2x100x64xbf16>, memref<2x100x64xbf16>, memref<2x100x64xbf16>) -> memref<2x100x64xf32> attributes {mb.cuda_attention = {batch_heads = 2 : i64, causal = true, element_type = bf16, head_dim = 64 : i64, key_block = 32 : i64, patch_length = 0 : i64, scale = 1.250000e-01 : f64, seq_len = 100 : i64}}
func.func @unpadded(%q: memref<2x100x64xbf16>, %k: memref<2x100x64xbf16>, %v: memref<2x100x64xbf16>) -> memref<2x100x64xf32> {
  // expected-error @+1 {{seq-len = 100 is not a multiple of 64}}
  %0 = call @mbc_attention_0(%q, %k, %v) : (memref<2x100x64xbf16>, memref<2x100x64xbf16>, memref<2x100x64xbf16>) -> memref<2x100x64xf32>
  return %0 : memref<2x100x64xf32>
}

// -----

// GEMV: a, w, the new output, then bias.
// CHECK-LABEL: func.func @step
// CHECK: %[[C:.*]] = memref.alloc() : memref<1x512xf32>
// CHECK: gpu.launch_func @mbc_kernels::@step_gemv_0 {{.*}} args(%{{.*}} : memref<1x128xf32>, %{{.*}} : memref<512x128xbf16>, %[[C]] : memref<1x512xf32>, %{{.*}} : memref<512xf32>)
// CHECK-SAME: block = array<i64: 256, 1, 1>, grid = array<i64: 32, 1, 1>
func.func private @mbc_gemv_0(memref<1x128xf32>, memref<512x128xbf16>, memref<512xf32>) -> memref<1x512xf32> attributes {mb.cuda_gemv = {activation = "gelu", bias = true, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 512 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
func.func @step(%x: memref<1x128xf32>, %w: memref<512x128xbf16>, %b: memref<512xf32>) -> memref<1x512xf32> {
  %0 = call @mbc_gemv_0(%x, %w, %b) : (memref<1x128xf32>, memref<512x128xbf16>, memref<512xf32>) -> memref<1x512xf32>
  return %0 : memref<1x512xf32>
}

// -----

// A 16-bit output (an FFN's hidden activation): C is bf16, rounded after
// the epilogue.
// CHECK-LABEL: func.func @up
// CHECK: %[[C:.*]] = memref.alloc() : memref<128x512xbf16>
// CHECK: gpu.launch_func @mbc_kernels::@up_gemm_0 {{.*}} %[[C]] : memref<128x512xbf16>
// CHECK: gpu.func @up_gemm_0(%{{.*}}: memref<128x128xbf16>, %{{.*}}: memref<512x128xbf16>, %{{.*}}: memref<128x512xbf16>, %{{.*}}: memref<512xf32>)
// CHECK: arith.truncf {{.*}} : vector<{{[0-9]+}}xf32> to vector<{{[0-9]+}}xbf16>
func.func private @mbc_gemm_0(memref<128x128xbf16>, memref<512x128xbf16>, memref<512xf32>) -> memref<128x512xbf16> attributes {mb.cuda_gemm = {activation = "gelu", bias = true, element_type = bf16, k = 128 : i64, m = 128 : i64, mma = "mma_sync", n = 512 : i64, output_type = bf16, residual = false, stages = 3 : i64, tile_k = 32 : i64, tile_m = 64 : i64, tile_n = 64 : i64}}
func.func @up(%x: memref<128x128xbf16>, %w: memref<512x128xbf16>, %b: memref<512xf32>) -> memref<128x512xbf16> {
  %0 = call @mbc_gemm_0(%x, %w, %b) : (memref<128x128xbf16>, memref<512x128xbf16>, memref<512xf32>) -> memref<128x512xbf16>
  return %0 : memref<128x512xbf16>
}

// -----

func.func private @mbc_gemm_0(memref<128x128xbf16>, memref<512x128xbf16>) -> memref<128x512xf16> attributes {mb.cuda_gemm = {activation = "none", bias = false, element_type = bf16, k = 128 : i64, m = 128 : i64, mma = "wgmma", n = 512 : i64, output_type = f16, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func @mixed_output(%x: memref<128x128xbf16>, %w: memref<512x128xbf16>) -> memref<128x512xf16> {
  // expected-error @+1 {{GEMM output type must be f32 or the input type}}
  %0 = call @mbc_gemm_0(%x, %w) : (memref<128x128xbf16>, memref<512x128xbf16>) -> memref<128x512xf16>
  return %0 : memref<128x512xf16>
}

// -----

// Decode attention's declaration has a body (a fresh result), so after
// buffer-results-to-out-params its call passes the output buffer last and
// returns nothing: that buffer is the launch's output (no new allocation),
// after q, the caches and the position; the function goes with the call.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%[[Q:.*]]: memref<1x128xf32>, %[[K:.*]]: memref<2x9x128xf32>, %[[V:.*]]: memref<2x9x128xf32>, %[[P:.*]]: memref<1xi64>, %[[OUT:.*]]: memref<1x128xf32>)
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch_func @mbc_kernels::@decode_decode_attention_0 {{.*}} args(%[[Q]] : memref<1x128xf32>, %[[K]] : memref<2x9x128xf32>, %[[V]] : memref<2x9x128xf32>, %[[P]] : memref<1xi64>, %[[OUT]] : memref<1x128xf32>)
// CHECK-SAME: block = array<i64: 128, 1, 1>, grid = array<i64: 2, 1, 1>
// CHECK-NOT: @mbc_decode_attention_0
// CHECK: gpu.func @decode_decode_attention_0
func.func private @mbc_decode_attention_0(%q: memref<1x128xf32>, %k: memref<2x9x128xf32>, %v: memref<2x9x128xf32>, %p: memref<1xi64>, %o: memref<1x128xf32>) attributes {mb.cuda_decode_attention = {cache_length = 9 : i64, cache_rows = 2 : i64, first_row = 1 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 1.250000e-01 : f64, sequences = 1 : i64, splits = 1 : i64, warps = 4 : i64}} {
  return
}
func.func @decode(%q: memref<1x128xf32>, %k: memref<2x9x128xf32>, %v: memref<2x9x128xf32>, %p: memref<1xi64>, %out: memref<1x128xf32>) {
  call @mbc_decode_attention_0(%q, %k, %v, %p, %out) : (memref<1x128xf32>, memref<2x9x128xf32>, memref<2x9x128xf32>, memref<1xi64>, memref<1x128xf32>) -> ()
  return
}

// -----

// A split decode attention (flash-decoding): the first kernel writes each
// split's partial state to a buffer of its own ([N, H, splits, D + 2]), the
// combine kernel launched right after merges them into the call's output.
// CHECK-LABEL: func.func @split_decode
// CHECK-SAME: (%[[Q:.*]]: memref<1x128xf32>, %[[K:.*]]: memref<1x1024x128xf32>, %[[V:.*]]: memref<1x1024x128xf32>, %[[P:.*]]: memref<1xi64>, %[[OUT:.*]]: memref<1x128xf32>)
// CHECK: %[[PARTIALS:.*]] = memref.alloc() : memref<1x2x8x66xf32>
// CHECK: gpu.launch_func @mbc_kernels::@split_decode_decode_attention_0 {{.*}} args(%[[Q]] : memref<1x128xf32>, %[[K]] : memref<1x1024x128xf32>, %[[V]] : memref<1x1024x128xf32>, %[[P]] : memref<1xi64>, %[[PARTIALS]] : memref<1x2x8x66xf32>)
// CHECK-SAME: grid = array<i64: 2, 1, 8>
// CHECK: gpu.launch_func @mbc_kernels::@split_decode_decode_combine_0 {{.*}} args(%[[PARTIALS]] : memref<1x2x8x66xf32>, %[[OUT]] : memref<1x128xf32>)
// CHECK-SAME: block = array<i64: 64, 1, 1>, grid = array<i64: 2, 1, 1>
// CHECK: gpu.func @split_decode_decode_attention_0
// CHECK: gpu.func @split_decode_decode_combine_0
func.func private @mbc_decode_attention_0(%q: memref<1x128xf32>, %k: memref<1x1024x128xf32>, %v: memref<1x1024x128xf32>, %p: memref<1xi64>, %o: memref<1x128xf32>) attributes {mb.cuda_decode_attention = {cache_length = 1024 : i64, cache_rows = 1 : i64, first_row = 0 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 1.250000e-01 : f64, sequences = 1 : i64, splits = 8 : i64, warps = 4 : i64}} {
  return
}
func.func @split_decode(%q: memref<1x128xf32>, %k: memref<1x1024x128xf32>, %v: memref<1x1024x128xf32>, %p: memref<1xi64>, %out: memref<1x128xf32>) {
  call @mbc_decode_attention_0(%q, %k, %v, %p, %out) : (memref<1x128xf32>, memref<1x1024x128xf32>, memref<1x1024x128xf32>, memref<1xi64>, memref<1x128xf32>) -> ()
  return
}
