// RUN: mbc-opt %s --mb-cpu-pack-contraction-operands --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cpu-pack-contraction-operands=min-rows=64 --split-input-file | FileCheck %s --check-prefix=ROWS64

// A linear layer, x [M, K] times PyTorch's weight [N, K]: with 32 rows the
// bf16 weight is copied once to [K, N] f32 (the conversion moves into the
// copy) and the contraction reads the copy.

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @linear(%x: tensor<32x128xf32>, %w: tensor<64x128xbf16>, %init: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %y = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<32x128xf32>, tensor<64x128xbf16>) outs(%init : tensor<32x64xf32>) {
  ^bb0(%in: f32, %in_0: bf16, %out: f32):
    %e = arith.extf %in_0 : bf16 to f32
    %p = arith.mulf %in, %e : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<32x64xf32>
  return %y : tensor<32x64xf32>
}
// CHECK-DAG: #[[KN:.+]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[B_KN:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.+]]: tensor<32x128xf32>, %[[W:.+]]: tensor<64x128xbf16>, %[[INIT:.+]]: tensor<32x64xf32>)
// CHECK: %[[EMPTY:.+]] = tensor.empty() : tensor<128x64xf32>
// CHECK: %[[PACKED:.+]] = linalg.generic {indexing_maps = [#[[KN]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[W]] : tensor<64x128xbf16>) outs(%[[EMPTY]] : tensor<128x64xf32>)
// CHECK: arith.extf
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[B_KN]], #{{.+}}]
// CHECK-SAME: ins(%[[X]], %[[PACKED]] : tensor<32x128xf32>, tensor<128x64xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.+]]: f32, %[[IN_B:.+]]: f32, %[[OUT:.+]]: f32):
// CHECK-NEXT: %[[P:.+]] = arith.mulf %[[IN]], %[[IN_B]] : f32
// CHECK-NEXT: arith.addf %[[OUT]], %[[P]] : f32

// ROWS64-LABEL: func.func @linear
// ROWS64-NOT: tensor.empty
// ROWS64: linalg.generic
// ROWS64-SAME: ins(%{{.+}}, %{{.+}} : tensor<32x128xf32>, tensor<64x128xbf16>)

// -----

// Attention scores q k^T with batch loops: the keys are copied to
// [batch, head, d, position] so that positions (N) are contiguous.

#q = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#k = affine_map<(b, h, i, j, d) -> (b, h, j, d)>
#s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
func.func @scores(%q: tensor<1x4x129x32xf32>, %k: tensor<1x4x129x32xf32>, %init: tensor<1x4x129x129xf32>) -> tensor<1x4x129x129xf32> {
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<1x4x129x32xf32>, tensor<1x4x129x32xf32>) outs(%init : tensor<1x4x129x129xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %p = arith.mulf %in, %in_0 : f32
    %a = arith.addf %out, %p : f32
    linalg.yield %a : f32
  } -> tensor<1x4x129x129xf32>
  return %s : tensor<1x4x129x129xf32>
}
// CHECK-LABEL: func.func @scores
// CHECK: %[[EMPTY:.+]] = tensor.empty() : tensor<1x4x32x129xf32>
// CHECK: %[[PACKED:.+]] = linalg.generic
// CHECK-SAME: outs(%[[EMPTY]] : tensor<1x4x32x129xf32>)
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.+}}, %[[PACKED]] : tensor<1x4x129x32xf32>, tensor<1x4x32x129xf32>)

// -----

// Already [K, N]: nothing to do.

func.func @already_kn(%x: tensor<32x128xf32>, %w: tensor<128x64xf32>, %init: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<32x128xf32>, tensor<128x64xf32>) outs(%init : tensor<32x64xf32>) -> tensor<32x64xf32>
  return %y : tensor<32x64xf32>
}
// CHECK-LABEL: func.func @already_kn
// CHECK-NOT: tensor.empty
// CHECK: linalg.matmul
