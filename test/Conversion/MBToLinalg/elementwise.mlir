// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s

// Element-wise arith on whole tensors (the residual adds between blocks)
// becomes linalg.generic in the same pass; mb.param stays for the pass that
// turns parameters into function arguments.

// CHECK-LABEL: func.func @residual
// CHECK-SAME: (%[[A:.+]]: tensor<2x5x8xf32>, %[[B:.+]]: tensor<2x5x8xf32>)
// CHECK: %[[SUM:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[A]], %[[B]] : tensor<2x5x8xf32>, tensor<2x5x8xf32>)
// CHECK: arith.addf %{{.+}}, %{{.+}} : f32
// CHECK-NOT: arith.addf %{{.+}} : tensor
// CHECK: return %[[SUM]]
func.func @residual(%a: tensor<2x5x8xf32>, %b: tensor<2x5x8xf32>) -> tensor<2x5x8xf32> {
  %0 = arith.addf %a, %b : tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// CHECK-LABEL: func.func @params_stay
// CHECK: %[[W:.+]] = mb.param "to_logits.weight" : tensor<256x8xf32>
// CHECK: linalg.matmul {{.*}} ins(%{{.+}}, %[[W]] :
func.func @params_stay(%x: tensor<4x8xf32>) -> tensor<4x256xf32> {
  %w = mb.param "to_logits.weight" : tensor<256x8xf32>
  %0 = mb.head %x, %w : (tensor<4x8xf32>, tensor<256x8xf32>) -> tensor<4x256xf32>
  return %0 : tensor<4x256xf32>
}

// Scalar arith is left alone.
// CHECK-LABEL: func.func @scalars
// CHECK: arith.addf %{{.+}}, %{{.+}} : f32
// CHECK-NOT: linalg
func.func @scalars(%a: f32, %b: f32) -> f32 {
  %0 = arith.addf %a, %b : f32
  return %0 : f32
}

// bf16/f16 weights are widened with arith.extf on tensors by the importer.
// CHECK-LABEL: func.func @widen
// CHECK: %[[W:.+]] = mb.param "w" : tensor<4x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[W]] : tensor<4x8xbf16>) outs(%{{.+}} : tensor<4x8xf32>)
// CHECK: arith.extf %{{.+}} : bf16 to f32
func.func @widen() -> tensor<4x8xf32> {
  %w = mb.param "w" : tensor<4x8xbf16>
  %0 = arith.extf %w : tensor<4x8xbf16> to tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
