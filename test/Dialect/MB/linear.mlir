// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @linear
func.func @linear(%x: tensor<2x8x48xf32>, %w: tensor<32x48xf32>, %b: tensor<32xf32>) -> (tensor<2x8x32xf32>, tensor<2x8x32xf32>) {
  // CHECK: mb.linear %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x8x48xf32>, tensor<32x48xf32>, tensor<32xf32>) -> tensor<2x8x32xf32>
  %0 = mb.linear %x, %w, %b : (tensor<2x8x48xf32>, tensor<32x48xf32>, tensor<32xf32>) -> tensor<2x8x32xf32>
  // CHECK: mb.linear %{{.*}}, %{{.*}} : (tensor<2x8x48xf32>, tensor<32x48xf32>) -> tensor<2x8x32xf32>
  %1 = mb.linear %x, %w : (tensor<2x8x48xf32>, tensor<32x48xf32>) -> tensor<2x8x32xf32>
  return %0, %1 : tensor<2x8x32xf32>, tensor<2x8x32xf32>
}
