// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @start_token
func.func @start_token(%x: tensor<4x8x32xf32>, %start: tensor<32xf32>) -> tensor<4x9x32xf32> {
  // CHECK: mb.start_token %{{.*}}, %{{.*}} : tensor<4x8x32xf32>, tensor<32xf32> -> tensor<4x9x32xf32>
  %0 = mb.start_token %x, %start : tensor<4x8x32xf32>, tensor<32xf32> -> tensor<4x9x32xf32>
  return %0 : tensor<4x9x32xf32>
}
