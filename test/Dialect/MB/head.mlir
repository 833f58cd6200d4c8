// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @head
func.func @head(%x: tensor<16x5x32xf32>, %w: tensor<256x32xf32>, %b: tensor<256xf32>) -> (tensor<16x5x256xf32>, tensor<16x5x256xf32>) {
  // CHECK: mb.head %{{.*}}, %{{.*}}, %{{.*}} : (tensor<16x5x32xf32>, tensor<256x32xf32>, tensor<256xf32>) -> tensor<16x5x256xf32>
  %0 = mb.head %x, %w, %b : (tensor<16x5x32xf32>, tensor<256x32xf32>, tensor<256xf32>) -> tensor<16x5x256xf32>
  // The paper's tied head reuses the byte embedding and has no bias.
  // CHECK: mb.head %{{.*}}, %{{.*}} {tied} : (tensor<16x5x32xf32>, tensor<256x32xf32>) -> tensor<16x5x256xf32>
  %1 = mb.head %x, %w {tied} : (tensor<16x5x32xf32>, tensor<256x32xf32>) -> tensor<16x5x256xf32>
  return %0, %1 : tensor<16x5x256xf32>, tensor<16x5x256xf32>
}
