// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @shifted
func.func @shifted(%x: tensor<32x4x256xf32>) -> tensor<2x64x256xf32> {
  // CHECK: mb.merge_patches <shifted> %{{.*}} : tensor<32x4x256xf32> -> tensor<2x64x256xf32>
  %0 = mb.merge_patches <shifted> %x : tensor<32x4x256xf32> -> tensor<2x64x256xf32>
  return %0 : tensor<2x64x256xf32>
}

// CHECK-LABEL: func @start_token
func.func @start_token(%x: tensor<16x5x256xf32>) -> tensor<1x64x256xf32> {
  // CHECK: mb.merge_patches <start_token> %{{.*}} : tensor<16x5x256xf32> -> tensor<1x64x256xf32>
  %0 = mb.merge_patches <start_token> %x : tensor<16x5x256xf32> -> tensor<1x64x256xf32>
  return %0 : tensor<1x64x256xf32>
}
