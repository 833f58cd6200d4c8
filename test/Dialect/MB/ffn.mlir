// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @ffn
func.func @ffn(%x: tensor<2x9x32xf32>, %w1: tensor<128x32xf32>, %b1: tensor<128xf32>,
               %w2: tensor<32x128xf32>, %b2: tensor<32xf32>) -> (tensor<2x9x32xf32>, tensor<2x9x32xf32>, tensor<2x9x32xf32>) {
  // CHECK: mb.ffn <gelu> %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  %0 = mb.ffn <gelu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  // CHECK: mb.ffn <gelu_tanh>
  %1 = mb.ffn <gelu_tanh> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  // CHECK: mb.ffn <relu>
  %2 = mb.ffn <relu> %x, %w1, %b1, %w2, %b2 : (tensor<2x9x32xf32>, tensor<128x32xf32>, tensor<128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return %0, %1, %2 : tensor<2x9x32xf32>, tensor<2x9x32xf32>, tensor<2x9x32xf32>
}
