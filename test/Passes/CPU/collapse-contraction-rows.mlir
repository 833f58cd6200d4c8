// RUN: mbc-opt %s --mb-cpu-collapse-contraction-rows --split-input-file | FileCheck %s

// The local model's [patches, positions, D] rows: patches and positions are
// one run of rows in both x and the result, so they become one M loop of
// 8 x 9 = 72 rows.

#x = affine_map<(p, i, n, k) -> (p, i, k)>
#w = affine_map<(p, i, n, k) -> (k, n)>
#y = affine_map<(p, i, n, k) -> (p, i, n)>
func.func @patch_rows(%x: tensor<8x9x128xf32>, %w: tensor<128x512xf32>, %init: tensor<8x9x512xf32>) -> tensor<8x9x512xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : tensor<8x9x128xf32>, tensor<128x512xf32>) outs(%init : tensor<8x9x512xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %p = arith.mulf %in, %in_0 : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<8x9x512xf32>
  return %y : tensor<8x9x512xf32>
}
// CHECK-LABEL: func.func @patch_rows
// CHECK-SAME: (%[[X:.+]]: tensor<8x9x128xf32>, %[[W:.+]]: tensor<128x512xf32>, %[[INIT:.+]]: tensor<8x9x512xf32>)
// CHECK-DAG: %[[X_ROWS:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<8x9x128xf32> into tensor<72x128xf32>
// CHECK-DAG: %[[INIT_ROWS:.+]] = tensor.collapse_shape %[[INIT]] {{\[}}[0, 1], [2]] : tensor<8x9x512xf32> into tensor<72x512xf32>
// CHECK: %[[Y:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[X_ROWS]], %[[W]] : tensor<72x128xf32>, tensor<128x512xf32>) outs(%[[INIT_ROWS]] : tensor<72x512xf32>)
// CHECK: tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [8, 9, 512] : tensor<72x512xf32> into tensor<8x9x512xf32>

// -----

// Batch loops (heads) between the row loops: nothing to merge.

#q = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#k = affine_map<(b, h, i, j, d) -> (b, h, d, j)>
#s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
func.func @heads(%q: tensor<8x4x9x32xf32>, %k: tensor<8x4x32x9xf32>, %init: tensor<8x4x9x9xf32>) -> tensor<8x4x9x9xf32> {
  %s = linalg.generic {indexing_maps = [#q, #k, #s], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %k : tensor<8x4x9x32xf32>, tensor<8x4x32x9xf32>) outs(%init : tensor<8x4x9x9xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %p = arith.mulf %in, %in_0 : f32
    %a = arith.addf %out, %p : f32
    linalg.yield %a : f32
  } -> tensor<8x4x9x9xf32>
  return %s : tensor<8x4x9x9xf32>
}
// CHECK-LABEL: func.func @heads
// CHECK-NOT: tensor.collapse_shape
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.+}}, %{{.+}} : tensor<8x4x9x32xf32>, tensor<8x4x32x9xf32>)

// -----

// The init's producer (a bf16 bias broadcast over the rows) is collapsed
// with the contraction, so tiling can still fuse it into the register
// tiles.

#x2 = affine_map<(p, i, n, k) -> (p, i, k)>
#w2 = affine_map<(p, i, n, k) -> (k, n)>
#y2 = affine_map<(p, i, n, k) -> (p, i, n)>
#bias = affine_map<(p, i, n) -> (n)>
#id = affine_map<(p, i, n) -> (p, i, n)>
func.func @bias_init(%x: tensor<8x9x128xf32>, %w: tensor<128x512xf32>, %b: tensor<512xbf16>) -> tensor<8x9x512xf32> {
  %e = tensor.empty() : tensor<8x9x512xf32>
  %init = linalg.generic {indexing_maps = [#bias, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%b : tensor<512xbf16>) outs(%e : tensor<8x9x512xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %c = arith.extf %in : bf16 to f32
    linalg.yield %c : f32
  } -> tensor<8x9x512xf32>
  %y = linalg.generic {indexing_maps = [#x2, #w2, #y2], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : tensor<8x9x128xf32>, tensor<128x512xf32>) outs(%init : tensor<8x9x512xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %p = arith.mulf %in, %in_0 : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<8x9x512xf32>
  return %y : tensor<8x9x512xf32>
}
// CHECK-LABEL: func.func @bias_init
// CHECK: %[[BIAS:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK-SAME: outs(%{{.+}} : tensor<72x512xf32>)
// CHECK: arith.extf
// CHECK: linalg.generic
// CHECK-SAME: outs(%[[BIAS]] : tensor<72x512xf32>)
