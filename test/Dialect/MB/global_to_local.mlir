// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// The paper: one Dg -> Dl matrix shared by all P positions.
// CHECK-LABEL: func @shared
func.func @shared(%g: tensor<2x16x64xf32>, %w: tensor<24x16xf32>) -> tensor<32x4x24xf32> {
  // CHECK: mb.global_to_local <shared> %{{.*}}, %{{.*}} {patch_size = 4 : i64} : (tensor<2x16x64xf32>, tensor<24x16xf32>) -> tensor<32x4x24xf32>
  %0 = mb.global_to_local <shared> %g, %w {patch_size = 4 : i64} : (tensor<2x16x64xf32>, tensor<24x16xf32>) -> tensor<32x4x24xf32>
  return %0 : tensor<32x4x24xf32>
}

// MEGABYTE-pytorch: dense projection, reshape, zero front pad.
// CHECK-LABEL: func @dense
func.func @dense(%g: tensor<1x17x64xf32>, %w: tensor<128x64xf32>, %b: tensor<128xf32>) -> tensor<16x5x32xf32> {
  // CHECK: mb.global_to_local <dense> %{{.*}}, %{{.*}}, %{{.*}} {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<16x5x32xf32>
  %0 = mb.global_to_local <dense> %g, %w, %b {patch_size = 4 : i64} : (tensor<1x17x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<16x5x32xf32>
  return %0 : tensor<16x5x32xf32>
}
