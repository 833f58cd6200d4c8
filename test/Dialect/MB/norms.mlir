// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @norms
func.func @norms(%x: tensor<2x9x32xf32>, %w: tensor<32xf32>, %b: tensor<32xf32>) -> (tensor<2x9x32xf32>, tensor<2x9x32xf32>, tensor<2x9x32xf32>) {
  // CHECK: mb.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-05 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  %0 = mb.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  // MEGABYTE-pytorch's RMSNorm: the epsilon clamps the norm.
  // CHECK: mb.rms_norm %{{.*}}, %{{.*}} {clamp, epsilon = 1.000000e-08 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  %1 = mb.rms_norm %x, %w {clamp, epsilon = 1.0e-08 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  // CHECK: mb.rms_norm %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  %2 = mb.rms_norm %x, %w {epsilon = 1.0e-03 : f64} : (tensor<2x9x32xf32>, tensor<32xf32>) -> tensor<2x9x32xf32>
  return %0, %1, %2 : tensor<2x9x32xf32>, tensor<2x9x32xf32>, tensor<2x9x32xf32>
}
