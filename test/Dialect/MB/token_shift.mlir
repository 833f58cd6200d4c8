// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @token_shift
func.func @token_shift(%x: tensor<4x9x33xf32>) -> tensor<4x9x33xf32> {
  // CHECK: mb.token_shift %{{.*}} : tensor<4x9x33xf32>
  %0 = mb.token_shift %x : tensor<4x9x33xf32>
  return %0 : tensor<4x9x33xf32>
}
