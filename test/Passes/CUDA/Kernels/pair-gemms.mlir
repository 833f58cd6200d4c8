// mb-cuda-pair-gemms: two GEMMs of the same rows with the same kernel
// configuration and no epilogue become one paired GEMM call returning both
// products; anything else stays. Then the paired kernel's launch, and its
// reference body (the emulation's).
// RUN: mbc-opt %s --mb-cuda-pair-gemms --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cuda-pair-gemms --split-input-file --mb-cuda-reference-kernels | FileCheck %s --check-prefix=BODY

// A global layer's q and kv projections (bf16 results for attention): one
// call, b2 last, both results; the old declarations go.
// CHECK-LABEL: func.func @q_and_kv
// CHECK-SAME: (%[[X:.*]]: tensor<129x128xbf16>, %[[WQ:.*]]: tensor<128x128xbf16>, %[[WKV:.*]]: tensor<256x128xbf16>)
// CHECK: %[[P:.*]]:2 = call @[[F:mbc_gemm_[0-9]+]](%[[X]], %[[WQ]], %[[WKV]]) : (tensor<129x128xbf16>, tensor<128x128xbf16>, tensor<256x128xbf16>) -> (tensor<129x128xbf16>, tensor<129x256xbf16>)
// CHECK-NOT: call
// CHECK: return %[[P]]#0, %[[P]]#1
// CHECK-NOT: func.func private @mbc_gemm_0(
// CHECK-NOT: func.func private @mbc_gemm_1(
// CHECK: func.func private @[[F]]({{.*}}) -> (tensor<129x128xbf16>, tensor<129x256xbf16>) attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 128 : i64, output_type = bf16, paired_n = 256 : i64, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
// The reference body: two products of A, each rounded to bf16.
// BODY-LABEL: func.func private @mbc_gemm_2
// BODY: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<129x128xbf16>, tensor<128x128xbf16>)
// BODY: arith.truncf {{.*}} : f32 to bf16
// BODY: linalg.generic {{.*}} ins(%arg0, %arg2 : tensor<129x128xbf16>, tensor<256x128xbf16>)
// BODY: arith.truncf {{.*}} : f32 to bf16
// BODY: return %{{.*}}, %{{.*}} : tensor<129x128xbf16>, tensor<129x256xbf16>
func.func private @mbc_gemm_0(tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xbf16> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 128 : i64, output_type = bf16, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_1(tensor<129x128xbf16>, tensor<256x128xbf16>) -> tensor<129x256xbf16> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 256 : i64, output_type = bf16, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func @q_and_kv(%x: tensor<129x128xbf16>, %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xbf16>) -> (tensor<129x128xbf16>, tensor<129x256xbf16>) {
  %q = call @mbc_gemm_0(%x, %wq) : (tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xbf16>
  %kv = call @mbc_gemm_1(%x, %wkv) : (tensor<129x128xbf16>, tensor<256x128xbf16>) -> tensor<129x256xbf16>
  return %q, %kv : tensor<129x128xbf16>, tensor<129x256xbf16>
}

// -----

// Kept apart: different A; a bias (the epilogue stays per product);
// different tiles; the second's weight made after the first call by an op
// with effects (a call).
// CHECK-LABEL: func.func @kept_apart
// CHECK-COUNT-2: call @mbc_gemm_0
// CHECK: call @mbc_gemm_1
// CHECK: call @mbc_gemm_2
// CHECK: call @mbc_gemm_0
// CHECK-NOT: paired_n
func.func private @mbc_gemm_0(tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 128 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_1(tensor<129x128xbf16>, tensor<128x128xbf16>, tensor<128xf32>) -> tensor<129x128xf32> attributes {mb.cuda_gemm = {activation = "none", bias = true, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 128 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_2(tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 128 : i64, output_type = f32, residual = false, stages = 4 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @make_weight(tensor<128x128xf32>) -> tensor<128x128xbf16>
func.func @kept_apart(%x: tensor<129x128xbf16>, %y: tensor<129x128xbf16>, %w: tensor<128x128xbf16>, %b: tensor<128xf32>, %w32: tensor<128x128xf32>) -> (tensor<129x128xf32>, tensor<129x128xf32>, tensor<129x128xf32>, tensor<129x128xf32>, tensor<129x128xf32>) {
  %a = call @mbc_gemm_0(%x, %w) : (tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32>
  %c = call @mbc_gemm_0(%y, %w) : (tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32>
  %d = call @mbc_gemm_1(%x, %w, %b) : (tensor<129x128xbf16>, tensor<128x128xbf16>, tensor<128xf32>) -> tensor<129x128xf32>
  %e = call @mbc_gemm_2(%x, %w) : (tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32>
  %late = call @make_weight(%w32) : (tensor<128x128xf32>) -> tensor<128x128xbf16>
  %f = call @mbc_gemm_0(%x, %late) : (tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32>
  return %a, %c, %d, %e, %f : tensor<129x128xf32>, tensor<129x128xf32>, tensor<129x128xf32>, tensor<129x128xf32>, tensor<129x128xf32>
}

// -----

// An f32 weight rounded after the first call (side-effect free) is rounded
// before it instead, and the two are paired.
// CHECK-LABEL: func.func @rounded_late
// CHECK: %[[W2:.*]] = arith.truncf %arg2
// CHECK-NEXT: %[[P:.*]]:2 = call @mbc_gemm_2(%arg0, %arg1, %[[W2]])
// CHECK-NOT: call
// CHECK: return %[[P]]#0, %[[P]]#1
func.func private @mbc_gemm_0(tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 128 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func private @mbc_gemm_1(tensor<129x128xbf16>, tensor<256x128xbf16>) -> tensor<129x256xf32> attributes {mb.cuda_gemm = {activation = "none", bias = false, consumers = 1 : i64, element_type = bf16, k = 128 : i64, m = 129 : i64, mma = "wgmma", n = 256 : i64, output_type = f32, residual = false, stages = 3 : i64, tile_k = 64 : i64, tile_m = 64 : i64, tile_n = 128 : i64}}
func.func @rounded_late(%x: tensor<129x128xbf16>, %wq: tensor<128x128xbf16>, %wkv: tensor<256x128xf32>) -> (tensor<129x128xf32>, tensor<129x256xf32>) {
  %q = call @mbc_gemm_0(%x, %wq) : (tensor<129x128xbf16>, tensor<128x128xbf16>) -> tensor<129x128xf32>
  %w16 = arith.truncf %wkv : tensor<256x128xf32> to tensor<256x128xbf16>
  %kv = call @mbc_gemm_1(%x, %w16) : (tensor<129x128xbf16>, tensor<256x128xbf16>) -> tensor<129x256xf32>
  return %q, %kv : tensor<129x128xf32>, tensor<129x256xf32>
}
