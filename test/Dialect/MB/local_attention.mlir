// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// 32 independent patches of 8 bytes plus a start token.
// CHECK-LABEL: func @local_attention
func.func @local_attention(%x: tensor<32x9x24xf32>, %wq: tensor<32x24xf32>, %wk: tensor<32x24xf32>,
                           %wv: tensor<32x24xf32>, %wo: tensor<24x32xf32>) -> tensor<32x9x24xf32> {
  // CHECK: mb.local_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {head_dim = 8 : i64, heads = 4 : i64, rotary_theta = 1.000000e+04 : f64} : (tensor<32x9x24xf32>, tensor<32x24xf32>, tensor<32x24xf32>, tensor<32x24xf32>, tensor<24x32xf32>) -> tensor<32x9x24xf32>
  %0 = mb.local_attention %x, %wq, %wk, %wv, %wo {heads = 4 : i64, head_dim = 8 : i64, rotary_theta = 10000.0 : f64} : (tensor<32x9x24xf32>, tensor<32x24xf32>, tensor<32x24xf32>, tensor<32x24xf32>, tensor<24x32xf32>) -> tensor<32x9x24xf32>
  return %0 : tensor<32x9x24xf32>
}
