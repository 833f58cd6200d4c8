// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// heads * head_dim (4 * 16 = 64) differs from the model width 48.
// CHECK-LABEL: func @global_attention
func.func @global_attention(%x: tensor<2x17x48xf32>, %wq: tensor<64x48xf32>, %wk: tensor<64x48xf32>,
                            %wv: tensor<64x48xf32>, %wo: tensor<48x64xf32>) -> (tensor<2x17x48xf32>, tensor<2x17x48xf32>) {
  // CHECK: mb.global_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 16 : i64, heads = 4 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  %0 = mb.global_attention %x, %wq, %wk, %wv, %wo {heads = 4 : i64, head_dim = 16 : i64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  // CHECK: mb.global_attention {{.*}} {head_dim = 16 : i64, heads = 4 : i64, rotary_theta = 1.000000e+04 : f64, scale = 1.250000e-01 : f64}
  %1 = mb.global_attention %x, %wq, %wk, %wv, %wo {heads = 4 : i64, head_dim = 16 : i64, rotary_theta = 10000.0 : f64, scale = 0.125 : f64} : (tensor<2x17x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<64x48xf32>, tensor<48x64xf32>) -> tensor<2x17x48xf32>
  return %0, %1 : tensor<2x17x48xf32>, tensor<2x17x48xf32>
}
