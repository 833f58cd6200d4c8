// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @embedding
func.func @embedding(%table: tensor<256x16xf32>, %ids: tensor<2x64xi32>,
                     %pos: tensor<128x16xf32>) -> tensor<2x64x16xf32> {
  // CHECK: mb.embedding %{{.*}}[%{{.*}}] : tensor<256x16xf32>, tensor<2x64xi32> -> tensor<2x64x16xf32>
  %0 = mb.embedding %table[%ids] : tensor<256x16xf32>, tensor<2x64xi32> -> tensor<2x64x16xf32>
  // CHECK: mb.position_embedding %{{.*}}, %{{.*}} : tensor<2x64x16xf32>, tensor<128x16xf32> -> tensor<2x64x16xf32>
  %1 = mb.position_embedding %0, %pos : tensor<2x64x16xf32>, tensor<128x16xf32> -> tensor<2x64x16xf32>
  return %1 : tensor<2x64x16xf32>
}
