// RUN: mbc-opt %s --mb-write-back-updates -split-input-file -verify-diagnostics

// expected-error @+1 {{result 1 updates 'v_cache', which is not an argument}}
func.func @missing(%c: tensor<2x4xf32> {mb.name = "k_cache"}) -> (tensor<2x4xf32> {mb.name = "x"}, tensor<2x4xf32> {mb.updates = "v_cache"}) {
  return %c, %c : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// expected-error @+1 {{result 0 and the argument it updates differ in type}}
func.func @mismatch(%c: tensor<2x4xf32> {mb.name = "k_cache"}, %d: tensor<4x4xf32> {mb.name = "d"}) -> (tensor<4x4xf32> {mb.updates = "k_cache"}) {
  return %d : tensor<4x4xf32>
}

