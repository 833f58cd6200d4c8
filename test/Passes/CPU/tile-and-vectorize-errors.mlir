// RUN: mbc-opt %s --mb-cpu-tile-and-vectorize --split-input-file --verify-diagnostics

func.func @wrong_rank(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.kernel_config: 'register_tiles' must be an array<i64> with one entry per loop (3)}}
  %0 = linalg.matmul {mb.kernel_config = {kind = "contraction", register_tiles = array<i64: 8, 32>}} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @unknown_kind(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.kernel_config: 'kind' must be one of "contraction", "dot_product", "elementwise", "reduction"}}
  %0 = linalg.matmul {mb.kernel_config = {kind = "gemm", register_tiles = array<i64: 8, 32, 1>}} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @missing_register_tiles(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.kernel_config: missing 'register_tiles'}}
  %0 = linalg.matmul {mb.kernel_config = {kind = "contraction"}} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @negative(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.kernel_config: 'cache_tiles' has a negative size}}
  %0 = linalg.matmul {mb.kernel_config = {kind = "contraction", cache_tiles = array<i64: -1, 0, 0>, register_tiles = array<i64: 8, 32, 1>}} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @not_a_permutation(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.kernel_config: 'cache_order' must be a permutation of the loops}}
  %0 = linalg.matmul {mb.kernel_config = {kind = "contraction", cache_order = array<i64: 0, 0, 1>, register_tiles = array<i64: 8, 32, 1>}} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @not_a_dictionary(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.kernel_config must be a dictionary}}
  %0 = linalg.matmul {mb.kernel_config = [8, 32, 1]} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}
