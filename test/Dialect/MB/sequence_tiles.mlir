// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @sequence_tiles
func.func @sequence_tiles(%x: tensor<32x9x16xf32>, %c: tensor<32x9x16xf32>, %g: tensor<16xf32>) -> tensor<32x9x16xf32> {
  // CHECK: %[[R:.*]] = mb.sequence_tiles(%{{.*}}, %{{.*}}) tile 8 : (tensor<32x9x16xf32>, tensor<32x9x16xf32>) -> tensor<32x9x16xf32> {
  // CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<8x9x16xf32>, %[[B:.*]]: tensor<8x9x16xf32>):
  // CHECK-NEXT: %[[S:.*]] = arith.addf %[[A]], %[[B]] : tensor<8x9x16xf32>
  // CHECK-NEXT: %[[N:.*]] = mb.rms_norm %[[S]], %{{.*}}
  // CHECK-NEXT: mb.yield %[[N]] : tensor<8x9x16xf32>
  %0 = mb.sequence_tiles(%x, %c) tile 8 : (tensor<32x9x16xf32>, tensor<32x9x16xf32>) -> tensor<32x9x16xf32> {
  ^bb0(%a: tensor<8x9x16xf32>, %b: tensor<8x9x16xf32>):
    %s = arith.addf %a, %b : tensor<8x9x16xf32>
    %n = mb.rms_norm %s, %g {epsilon = 1.0e-5 : f64} : (tensor<8x9x16xf32>, tensor<16xf32>) -> tensor<8x9x16xf32>
    mb.yield %n : tensor<8x9x16xf32>
  }
  return %0 : tensor<32x9x16xf32>
}
