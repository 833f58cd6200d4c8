// RUN: mbc-opt %s --mb-cpu-select-kernel-configs=vector-bits=512 --split-input-file | FileCheck %s --check-prefixes=CHECK,AVX512
// RUN: mbc-opt %s --mb-cpu-select-kernel-configs=vector-bits=256 --split-input-file | FileCheck %s --check-prefixes=CHECK,AVX2

// A [K, N] matmul: outer-product kernel, 8 x 32 registers with AVX-512
// (4 x 16 with AVX2), cache tiles 128 x 256 x 256 with loops n, k, m.

func.func @matmul(%a: tensor<1024x512xf32>, %b: tensor<512x1024xf32>, %c: tensor<1024x1024xf32>) -> tensor<1024x1024xf32> {
  %0 = linalg.matmul ins(%a, %b : tensor<1024x512xf32>, tensor<512x1024xf32>) outs(%c : tensor<1024x1024xf32>) -> tensor<1024x1024xf32>
  return %0 : tensor<1024x1024xf32>
}
// CHECK-LABEL: func.func @matmul
// AVX512: linalg.matmul {mb.kernel_config = {cache_order = array<i64: 1, 2, 0>, cache_tiles = array<i64: 128, 256, 256>, kind = "contraction", register_tiles = array<i64: 8, 32, 1>}}
// AVX2: linalg.matmul {mb.kernel_config = {cache_order = array<i64: 1, 2, 0>, cache_tiles = array<i64: 128, 256, 256>, kind = "contraction", register_tiles = array<i64: 4, 16, 1>}}

// -----

// Loops no longer than a cache tile are not cache-tiled (0); the batch
// loop is tiled by 1. (9 rows: one 8-row tile and a remainder.)

func.func @batch_matmul(%a: tensor<4x9x32xf32>, %b: tensor<4x32x129xf32>, %c: tensor<4x9x129xf32>) -> tensor<4x9x129xf32> {
  %0 = linalg.batch_matmul ins(%a, %b : tensor<4x9x32xf32>, tensor<4x32x129xf32>) outs(%c : tensor<4x9x129xf32>) -> tensor<4x9x129xf32>
  return %0 : tensor<4x9x129xf32>
}
// CHECK-LABEL: func.func @batch_matmul
// AVX512: {mb.kernel_config = {cache_order = array<i64: 0, 2, 3, 1>, cache_tiles = array<i64: 1, 0, 0, 0>, kind = "contraction", register_tiles = array<i64: 1, 8, 32, 1>}}

// -----

// [N, K] weight with one row (a decode step): dot products of 4 weight rows
// with K split into 64 lanes (4 registers).

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @gemv(%x: tensor<1x256xf32>, %w: tensor<1024x256xbf16>, %init: tensor<1x1024xf32>) -> tensor<1x1024xf32> {
  %y = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<1x256xf32>, tensor<1024x256xbf16>) outs(%init : tensor<1x1024xf32>) {
  ^bb0(%in: f32, %in_0: bf16, %out: f32):
    %e = arith.extf %in_0 : bf16 to f32
    %p = arith.mulf %in, %e : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1024xf32>
  return %y : tensor<1x1024xf32>
}
// CHECK-LABEL: func.func @gemv
// AVX512: mb.kernel_config = {kind = "dot_product", register_tiles = array<i64: 1, 4, 64>}
// AVX2: mb.kernel_config = {kind = "dot_product", register_tiles = array<i64: 1, 4, 32>}

// -----

// Elementwise: vectors along the result's innermost loop; a transposing op
// gets a square tile (an in-register transpose); a row reduction reduces
// four registers of its contiguous loop at a time.

#id = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @elementwise(%x: tensor<129x256xf32>, %y: tensor<256x129xf32>, %r: tensor<129xf32>) -> (tensor<129x256xf32>, tensor<129x256xf32>, tensor<129xf32>) {
  %empty = tensor.empty() : tensor<129x256xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<129x256xf32>) outs(%empty : tensor<129x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  } -> tensor<129x256xf32>
  %transposed = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<256x129xf32>) outs(%empty : tensor<129x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<129x256xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : tensor<129x256xf32>) outs(%r : tensor<129xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } -> tensor<129xf32>
  return %exp, %transposed, %sum : tensor<129x256xf32>, tensor<129x256xf32>, tensor<129xf32>
}
// CHECK-LABEL: func.func @elementwise
// AVX512: mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 1, 16>}
// AVX512: mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 16, 16>}
// AVX512: mb.kernel_config = {kind = "reduction", register_tiles = array<i64: 1, 64>}
// AVX2: mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 1, 8>}
// AVX2: mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 8, 8>}
// AVX2: mb.kernel_config = {kind = "reduction", register_tiles = array<i64: 1, 32>}

// -----

// A config that is already there (a test or an earlier pass pinned it) is
// kept.

func.func @pinned(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = linalg.matmul {mb.kernel_config = {kind = "contraction", register_tiles = array<i64: 4, 16, 1>}} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}
// CHECK-LABEL: func.func @pinned
// CHECK: linalg.matmul {mb.kernel_config = {kind = "contraction", register_tiles = array<i64: 4, 16, 1>}}
