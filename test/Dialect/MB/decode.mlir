// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// The decode forms used by the generation entry points.
// CHECK-LABEL: func @decode
func.func @decode(%x: tensor<1x1x32xf32>, %prev: tensor<1x1x32xf32>, %wq: tensor<64x32xf32>,
                  %wo: tensor<32x64xf32>, %kc: tensor<1x9x64xf32>, %vc: tensor<1x9x64xf32>,
                  %table: tensor<8x32xf32>, %pos: index) -> (tensor<1x1x32xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, tensor<1x1x32xf32>, tensor<1x1x32xf32>) {
  // CHECK: mb.token_shift_step %{{.*}}, %{{.*}} : tensor<1x1x32xf32>
  %0 = mb.token_shift_step %x, %prev : tensor<1x1x32xf32>
  // CHECK: mb.cached_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} at %{{.*}} {head_dim = 16 : i64, heads = 4 : i64, rotary_theta = 1.000000e+04 : f64} : (tensor<1x1x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, index) -> (tensor<1x1x32xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>)
  %1, %2, %3 = mb.cached_attention %0, %wq, %wq, %wq, %wo, %kc, %vc at %pos {heads = 4 : i64, head_dim = 16 : i64, rotary_theta = 10000.0 : f64} : (tensor<1x1x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x32xf32>, tensor<32x64xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, index) -> (tensor<1x1x32xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>)
  // CHECK: mb.position_embedding %{{.*}}, %{{.*}} offset %{{.*}} : tensor<1x1x32xf32>, tensor<8x32xf32> -> tensor<1x1x32xf32>
  %4 = mb.position_embedding %1, %table offset %pos : tensor<1x1x32xf32>, tensor<8x32xf32> -> tensor<1x1x32xf32>
  return %1, %2, %3, %4, %0 : tensor<1x1x32xf32>, tensor<1x9x64xf32>, tensor<1x9x64xf32>, tensor<1x1x32xf32>, tensor<1x1x32xf32>
}
