// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// CHECK-LABEL: func @params
func.func @params() -> (tensor<4x3xf32>, tensor<2xbf16>, tensor<2xf32>) {
  // CHECK: mb.param "to_logits.weight" : tensor<4x3xf32>
  %0 = mb.param "to_logits.weight" : tensor<4x3xf32>
  // CHECK: mb.param "start_tokens.0" : tensor<2xbf16>
  %1 = mb.param "start_tokens.0" : tensor<2xbf16>
  // CHECK: mb.param "stages.0.pad" = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  %2 = mb.param "stages.0.pad" = dense<[1.0, 2.0]> : tensor<2xf32> : tensor<2xf32>
  return %0, %1, %2 : tensor<4x3xf32>, tensor<2xbf16>, tensor<2xf32>
}
