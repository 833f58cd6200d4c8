// RUN: mbc-opt %s --pass-pipeline='builtin.module(func.func(mb-cpu-distribute))' --split-input-file --verify-diagnostics

func.func @wrong_rank(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.workgroup_tiles must be an array<i64> with one tile per loop (3)}}
  %0 = linalg.matmul {mb.workgroup_tiles = array<i64: 8, 0>} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @split_reduction(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.workgroup_tiles splits reduction loop 2 (workgroups never split a reduction)}}
  %0 = linalg.matmul {mb.workgroup_tiles = array<i64: 8, 0, 16>} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @negative(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.workgroup_tiles has a negative tile for loop 0}}
  %0 = linalg.matmul {mb.workgroup_tiles = array<i64: -8, 0, 0>} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

func.func @not_an_array(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>, %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  // expected-error @+1 {{mb.workgroup_tiles must be an array<i64> with one tile per loop (3)}}
  %0 = linalg.matmul {mb.workgroup_tiles = [8, 0, 0]} ins(%a, %b : tensor<64x64xf32>, tensor<64x64xf32>) outs(%c : tensor<64x64xf32>) -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}
