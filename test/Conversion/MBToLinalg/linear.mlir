// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s

// Projections: leading dims collapsed to rows, one linalg.matmul that reads
// the [Out, In] weight through a transposed map (no transpose copy), the
// bias broadcast into the accumulator.

// CHECK-DAG: #[[LHS:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[WEIGHT_T:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[X2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[X3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.+]]: tensor<2x5x8xf32>, %[[W:.+]]: tensor<16x8xf32>, %[[B:.+]]: tensor<16xf32>)
// CHECK: %[[ROWS:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<2x5x8xf32> into tensor<10x8xf32>
// CHECK: %[[ACC:.+]] = linalg.broadcast ins(%[[B]] : tensor<16xf32>) outs(%{{.+}} : tensor<10x16xf32>) dimensions = [0]
// CHECK: %[[P:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[W]] : tensor<10x8xf32>, tensor<16x8xf32>) outs(%[[ACC]] : tensor<10x16xf32>)
// CHECK: %[[R:.+]] = tensor.expand_shape %[[P]] {{\[}}[0, 1], [2]] output_shape [2, 5, 16]
// CHECK: return %[[R]]
func.func @linear(%x: tensor<2x5x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<2x5x16xf32> {
  %0 = mb.linear %x, %w, %b : (tensor<2x5x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  return %0 : tensor<2x5x16xf32>
}

// Without bias the accumulator is zero-filled; a 2-D input needs no reshape.
// CHECK-LABEL: func.func @linear_no_bias
// CHECK-SAME: (%[[X:.+]]: tensor<4x8xf32>, %[[W:.+]]: tensor<3x8xf32>)
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ACC:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.+}} : tensor<4x3xf32>)
// CHECK: %[[P:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[X]], %[[W]] : tensor<4x8xf32>, tensor<3x8xf32>) outs(%[[ACC]] : tensor<4x3xf32>)
// CHECK: return %[[P]]
func.func @linear_no_bias(%x: tensor<4x8xf32>, %w: tensor<3x8xf32>) -> tensor<4x3xf32> {
  %0 = mb.linear %x, %w : (tensor<4x8xf32>, tensor<3x8xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// FFN: up (bias), exact erf GELU 0.5 * x * (1 + erf(x / sqrt(2))), down (bias).
// CHECK-LABEL: func.func @ffn_gelu
// CHECK-SAME: (%[[X:.+]]: tensor<2x5x8xf32>, %[[W1:.+]]: tensor<32x8xf32>, %[[B1:.+]]: tensor<32xf32>, %[[W2:.+]]: tensor<8x32xf32>, %[[B2:.+]]: tensor<8xf32>)
// CHECK: %[[ROWS:.+]] = tensor.collapse_shape %[[X]]
// CHECK: %[[UPACC:.+]] = linalg.broadcast ins(%[[B1]]
// CHECK: %[[UP:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[W1]] : {{.*}}) outs(%[[UPACC]] : tensor<10x32xf32>)
// CHECK: %[[ACT:.+]] = linalg.generic {indexing_maps = [#[[X2]], #[[X2]]], iterator_types = ["parallel", "parallel"]} ins(%[[UP]] : tensor<10x32xf32>)
// CHECK: ^bb0(%[[H:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[INV_SQRT2:.+]] = arith.constant 0.707106769 : f32
// CHECK: %[[SCALED:.+]] = arith.mulf %[[H]], %[[INV_SQRT2]]
// CHECK: %[[ERF:.+]] = math.erf %[[SCALED]]
// CHECK: %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[HALFX:.+]] = arith.mulf %[[H]], %[[HALF]]
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK: %[[ONEPLUS:.+]] = arith.addf %[[ERF]], %[[ONE]]
// CHECK: %[[GELU:.+]] = arith.mulf %[[HALFX]], %[[ONEPLUS]]
// CHECK: linalg.yield %[[GELU]]
// CHECK: %[[DOWNACC:.+]] = linalg.broadcast ins(%[[B2]]
// CHECK: %[[DOWN:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ACT]], %[[W2]] : {{.*}}) outs(%[[DOWNACC]] : tensor<10x8xf32>)
// CHECK: %[[R:.+]] = tensor.expand_shape %[[DOWN]] {{\[}}[0, 1], [2]] output_shape [2, 5, 8]
// CHECK: return %[[R]]
func.func @ffn_gelu(%x: tensor<2x5x8xf32>, %w1: tensor<32x8xf32>, %b1: tensor<32xf32>, %w2: tensor<8x32xf32>, %b2: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.ffn <gelu> %x, %w1, %b1, %w2, %b2 : (tensor<2x5x8xf32>, tensor<32x8xf32>, tensor<32xf32>, tensor<8x32xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// tanh GELU: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
// CHECK-LABEL: func.func @ffn_gelu_tanh
// CHECK: linalg.generic
// CHECK: arith.constant 4.471500e-02 : f32
// CHECK: arith.constant 0.797884583 : f32
// CHECK: math.tanh
// CHECK-NOT: math.erf
// CHECK: return
func.func @ffn_gelu_tanh(%x: tensor<2x5x8xf32>, %w1: tensor<32x8xf32>, %b1: tensor<32xf32>, %w2: tensor<8x32xf32>, %b2: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.ffn <gelu_tanh> %x, %w1, %b1, %w2, %b2 : (tensor<2x5x8xf32>, tensor<32x8xf32>, tensor<32xf32>, tensor<8x32xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// CHECK-LABEL: func.func @ffn_relu
// CHECK: linalg.generic
// CHECK: ^bb0(%[[H:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: arith.maximumf %[[H]], %[[ZERO]]
// CHECK: return
func.func @ffn_relu(%x: tensor<2x5x8xf32>, %w1: tensor<32x8xf32>, %b1: tensor<32xf32>, %w2: tensor<8x32xf32>, %b2: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.ffn <relu> %x, %w1, %b1, %w2, %b2 : (tensor<2x5x8xf32>, tensor<32x8xf32>, tensor<32xf32>, tensor<8x32xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// Head: logits (matmul, bias), then a stable log_softmax over V:
// max (reduction), sum of exp(z - max) (reduction), z - max - log(sum).
// CHECK-LABEL: func.func @head
// CHECK-SAME: (%[[X:.+]]: tensor<2x5x8xf32>, %[[W:.+]]: tensor<256x8xf32>, %[[B:.+]]: tensor<256xf32>)
// CHECK: %[[P:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%{{.+}}, %[[W]] : tensor<10x8xf32>, tensor<256x8xf32>)
// CHECK: %[[Z:.+]] = tensor.expand_shape %[[P]]
// CHECK: %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MAX_INIT:.+]] = linalg.fill ins(%[[NEG_INF]] : f32)
// CHECK: %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[X3]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Z]] : tensor<2x5x256xf32>) outs(%[[MAX_INIT]] : tensor<2x5xf32>)
// CHECK: arith.maximumf
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[X3]], #[[OUT]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Z]], %[[MAX]] :
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#[[X3]], #[[OUT]], #[[OUT]], #[[X3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[Z]], %[[MAX]], %[[SUM]] :
// CHECK: %[[SHIFTED:.+]] = arith.subf
// CHECK: %[[LOGSUM:.+]] = math.log
// CHECK: arith.subf %[[SHIFTED]], %[[LOGSUM]]
func.func @head(%x: tensor<2x5x8xf32>, %w: tensor<256x8xf32>, %b: tensor<256xf32>) -> tensor<2x5x256xf32> {
  %0 = mb.head %x, %w, %b : (tensor<2x5x8xf32>, tensor<256x8xf32>, tensor<256xf32>) -> tensor<2x5x256xf32>
  return %0 : tensor<2x5x256xf32>
}

// A tied head without bias: the same arithmetic, zero accumulator.
// CHECK-LABEL: func.func @head_tied
// CHECK: linalg.fill
// CHECK: linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]]
// CHECK: math.log
func.func @head_tied(%x: tensor<4x8xf32>, %w: tensor<256x8xf32>) -> tensor<4x256xf32> {
  %0 = mb.head %x, %w {tied} : (tensor<4x8xf32>, tensor<256x8xf32>) -> tensor<4x256xf32>
  return %0 : tensor<4x256xf32>
}
