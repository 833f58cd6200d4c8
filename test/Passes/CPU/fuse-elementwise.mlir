// RUN: mbc-opt %s --mb-cpu-fuse-elementwise --split-input-file | FileCheck %s
// RUN: mbc-opt %s --mb-cpu-fuse-elementwise=concatenations=true --split-input-file | FileCheck %s --check-prefix=CONCAT

// GELU followed by a matmul: the matmul reads the GELU result once per
// output column, so fusing would evaluate erf N times per element. The GELU
// stays a separate op; the bf16 -> f32 conversion of the weight is fused
// (a pure conversion is cheaper to redo than to store).

#rows = affine_map<(m, k) -> (m, k)>
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @gelu_then_matmul(%x: tensor<64x128xf32>, %w: tensor<32x128xbf16>, %init: tensor<64x32xf32>) -> tensor<64x32xf32> {
  %half = arith.constant 0.5 : f32
  %empty = tensor.empty() : tensor<64x128xf32>
  %gelu = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<64x128xf32>) outs(%empty : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.erf %in : f32
    %s = arith.mulf %e, %half : f32
    linalg.yield %s : f32
  } -> tensor<64x128xf32>
  %wempty = tensor.empty() : tensor<32x128xf32>
  %wf32 = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<32x128xbf16>) outs(%wempty : tensor<32x128xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %e = arith.extf %in : bf16 to f32
    linalg.yield %e : f32
  } -> tensor<32x128xf32>
  %mm = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%gelu, %wf32 : tensor<64x128xf32>, tensor<32x128xf32>) outs(%init : tensor<64x32xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %p = arith.mulf %in, %in_0 : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x32xf32>
  return %mm : tensor<64x32xf32>
}
// CHECK-LABEL: func.func @gelu_then_matmul
// CHECK-SAME: (%[[X:.+]]: tensor<64x128xf32>, %[[W:.+]]: tensor<32x128xbf16>, %[[INIT:.+]]: tensor<64x32xf32>)
// CHECK: %[[GELU:.+]] = linalg.generic
// CHECK-SAME: ins(%[[X]] : tensor<64x128xf32>)
// CHECK: math.erf
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[GELU]], %[[W]] : tensor<64x128xf32>, tensor<32x128xbf16>)
// CHECK-SAME: outs(%[[INIT]] : tensor<64x32xf32>)
// CHECK-NOT: math.erf
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf

// -----

// Elementwise chains with permutation maps fuse as upstream's fusion would:
// every producer element is computed once in the consumer.

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @elementwise_chain(%x: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %empty = tensor.empty() : tensor<16x64xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<16x64xf32>) outs(%empty : tensor<16x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  } -> tensor<16x64xf32>
  %add = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%exp, %x : tensor<16x64xf32>, tensor<16x64xf32>) outs(%empty : tensor<16x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  return %add : tensor<16x64xf32>
}
// CHECK-LABEL: func.func @elementwise_chain
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: arith.addf
// CHECK-NOT: linalg.generic
// CHECK: return

// -----

// A row statistic consumed by a broadcast: the expensive 1/sqrt stays
// materialized once per row instead of once per element.

#row = affine_map<(d0, d1) -> (d0)>
#full = affine_map<(d0, d1) -> (d0, d1)>
#vec = affine_map<(d0) -> (d0)>
func.func @row_scale(%x: tensor<16x64xf32>, %var: tensor<16xf32>) -> tensor<16x64xf32> {
  %one = arith.constant 1.0 : f32
  %rempty = tensor.empty() : tensor<16xf32>
  %rstd = linalg.generic {indexing_maps = [#vec, #vec], iterator_types = ["parallel"]} ins(%var : tensor<16xf32>) outs(%rempty : tensor<16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = math.sqrt %in : f32
    %r = arith.divf %one, %s : f32
    linalg.yield %r : f32
  } -> tensor<16xf32>
  %empty = tensor.empty() : tensor<16x64xf32>
  %scaled = linalg.generic {indexing_maps = [#full, #row, #full], iterator_types = ["parallel", "parallel"]} ins(%x, %rstd : tensor<16x64xf32>, tensor<16xf32>) outs(%empty : tensor<16x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %m = arith.mulf %in, %in_0 : f32
    linalg.yield %m : f32
  } -> tensor<16x64xf32>
  return %scaled : tensor<16x64xf32>
}
// CHECK-LABEL: func.func @row_scale
// CHECK: %[[RSTD:.+]] = linalg.generic
// CHECK: math.sqrt
// CHECK: linalg.generic
// CHECK-SAME: %[[RSTD]]
// CHECK-NOT: math.sqrt
// CHECK: return

// -----

// A gather from a widened bf16 embedding table reads the bf16 table and
// widens the element it gathers: no f32 copy of the table.
// CHECK-LABEL: func.func @gather_from_widened_table
// CHECK-SAME: (%[[TABLE:.*]]: tensor<256x64xbf16>, %[[TOKENS:.*]]: tensor<8xi32>)
// CHECK: linalg.generic
// CHECK: %[[E:.*]] = tensor.extract %[[TABLE]][%{{.*}}, %{{.*}}] : tensor<256x64xbf16>
// CHECK: %[[W:.*]] = arith.extf %[[E]] : bf16 to f32
// CHECK: linalg.yield %[[W]]
// CHECK-NOT: linalg.generic
#table = affine_map<(v, d) -> (v, d)>
#token = affine_map<(t, d) -> (t)>
#row = affine_map<(t, d) -> (t, d)>
func.func @gather_from_widened_table(%table: tensor<256x64xbf16>, %tokens: tensor<8xi32>) -> tensor<8x64xf32> {
  %empty = tensor.empty() : tensor<256x64xf32>
  %wide = linalg.generic {indexing_maps = [#table, #table], iterator_types = ["parallel", "parallel"]} ins(%table : tensor<256x64xbf16>) outs(%empty : tensor<256x64xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %e = arith.extf %in : bf16 to f32
    linalg.yield %e : f32
  } -> tensor<256x64xf32>
  %init = tensor.empty() : tensor<8x64xf32>
  %rows = linalg.generic {indexing_maps = [#token, #row], iterator_types = ["parallel", "parallel"]} ins(%tokens : tensor<8xi32>) outs(%init : tensor<8x64xf32>) {
  ^bb0(%t: i32, %out: f32):
    %i = arith.index_castui %t : i32 to index
    %d = linalg.index 1 : index
    %v = tensor.extract %wide[%i, %d] : tensor<256x64xf32>
    linalg.yield %v : f32
  } -> tensor<8x64xf32>
  return %rows : tensor<8x64xf32>
}

// -----

// A broadcast of a widened bf16 vector (a start token) widens while it
// broadcasts: one op.
// CHECK-LABEL: func.func @broadcast_widened
// CHECK-SAME: (%[[TOKEN:.*]]: tensor<256xbf16>)
// CHECK: linalg.generic {{.*}} ins(%[[TOKEN]] : tensor<256xbf16>) outs(%{{.*}} : tensor<1x1x256xf32>)
// CHECK: arith.extf
// CHECK-NOT: linalg.broadcast
#vector = affine_map<(i) -> (i)>
func.func @broadcast_widened(%token: tensor<256xbf16>) -> tensor<1x1x256xf32> {
  %empty = tensor.empty() : tensor<256xf32>
  %wide = linalg.generic {indexing_maps = [#vector, #vector], iterator_types = ["parallel"]} ins(%token : tensor<256xbf16>) outs(%empty : tensor<256xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %e = arith.extf %in : bf16 to f32
    linalg.yield %e : f32
  } -> tensor<256xf32>
  %init = tensor.empty() : tensor<1x1x256xf32>
  %b = linalg.broadcast ins(%wide : tensor<256xf32>) outs(%init : tensor<1x1x256xf32>) dimensions = [0, 1]
  return %b : tensor<1x1x256xf32>
}

// -----

// MEGABYTE's local input with concatenations=true (the CUDA pipeline):
// [start token; byte embeddings] + [zeros; projected context] along the
// position dimension is one generic. Each element reads the part holding it
// (scf.if on the position); the start token's widening, the embedding
// gather and the zero fill are evaluated where their element is read.
// CONCAT-LABEL: func.func @local_input
// CONCAT-SAME: (%[[START:.*]]: tensor<64xbf16>, %[[TABLE:.*]]: tensor<256x64xbf16>, %[[TOKENS:.*]]: tensor<4x8xi32>, %[[CONTEXT:.*]]: tensor<4x8x64xf32>)
// CONCAT-NOT: tensor.insert_slice
// CONCAT: linalg.generic
// CONCAT-SAME: outs(%{{.*}} : tensor<4x9x64xf32>)
// CONCAT: scf.if
// CONCAT: scf.yield %cst
// CONCAT: } else {
// CONCAT: tensor.extract %[[CONTEXT]]
// CONCAT: scf.if
// CONCAT: tensor.extract %[[START]]
// CONCAT: arith.extf
// CONCAT: } else {
// CONCAT: tensor.extract %[[TOKENS]]
// CONCAT: tensor.extract %[[TABLE]]
// CONCAT: arith.extf
// CONCAT: arith.addf
// CONCAT-NOT: linalg.generic
// CONCAT-NOT: tensor.insert_slice
// Without the option the slices stay.
// CHECK-LABEL: func.func @local_input
// CHECK: tensor.insert_slice
#bcast = affine_map<(p, j, d) -> (d)>
#tok = affine_map<(p, j, d) -> (p, j)>
#id3 = affine_map<(p, j, d) -> (p, j, d)>
func.func @local_input(%start: tensor<64xbf16>, %table: tensor<256x64xbf16>, %tokens: tensor<4x8xi32>, %context: tensor<4x8x64xf32>) -> tensor<4x9x64xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4x1x64xf32>
  %first = linalg.generic {indexing_maps = [#bcast, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%start : tensor<64xbf16>) outs(%e0 : tensor<4x1x64xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<4x1x64xf32>
  %e1 = tensor.empty() : tensor<4x8x64xf32>
  %rows = linalg.generic {indexing_maps = [#tok, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%tokens : tensor<4x8xi32>) outs(%e1 : tensor<4x8x64xf32>) {
  ^bb0(%t: i32, %out: f32):
    %i = arith.index_castui %t : i32 to index
    %d = linalg.index 2 : index
    %v = tensor.extract %table[%i, %d] : tensor<256x64xbf16>
    %w = arith.extf %v : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<4x8x64xf32>
  %e2 = tensor.empty() : tensor<4x9x64xf32>
  %a0 = tensor.insert_slice %first into %e2[0, 0, 0] [4, 1, 64] [1, 1, 1] : tensor<4x1x64xf32> into tensor<4x9x64xf32>
  %a = tensor.insert_slice %rows into %a0[0, 1, 0] [4, 8, 64] [1, 1, 1] : tensor<4x8x64xf32> into tensor<4x9x64xf32>
  %e3 = tensor.empty() : tensor<4x1x64xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%e3 : tensor<4x1x64xf32>) -> tensor<4x1x64xf32>
  %e4 = tensor.empty() : tensor<4x9x64xf32>
  %b0 = tensor.insert_slice %zeros into %e4[0, 0, 0] [4, 1, 64] [1, 1, 1] : tensor<4x1x64xf32> into tensor<4x9x64xf32>
  %b = tensor.insert_slice %context into %b0[0, 1, 0] [4, 8, 64] [1, 1, 1] : tensor<4x8x64xf32> into tensor<4x9x64xf32>
  %e5 = tensor.empty() : tensor<4x9x64xf32>
  %sum = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%a, %b : tensor<4x9x64xf32>, tensor<4x9x64xf32>) outs(%e5 : tensor<4x9x64xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<4x9x64xf32>
  return %sum : tensor<4x9x64xf32>
}

// -----

// Slices offset along two dimensions are no concatenation: they stay.
// CONCAT-LABEL: func.func @two_dimensions
// CONCAT-COUNT-2: tensor.insert_slice
// CHECK-LABEL: func.func @two_dimensions
func.func @two_dimensions(%x: tensor<65x64xf32>, %y: tensor<64x64xf32>) -> tensor<65x128xf32> {
  %e = tensor.empty() : tensor<65x128xf32>
  %a = tensor.insert_slice %x into %e[0, 0] [65, 64] [1, 1] : tensor<65x64xf32> into tensor<65x128xf32>
  %b = tensor.insert_slice %y into %a[1, 64] [64, 64] [1, 1] : tensor<64x64xf32> into tensor<65x128xf32>
  return %b : tensor<65x128xf32>
}

// -----

// Parts that are views (slices and reshapes, as of the head's rows in
// scoring) are read through: each element is extracted from the viewed
// tensor at the computed index, so no view is copied.
// CONCAT-LABEL: func.func @through_views
// CONCAT-SAME: (%[[LOGP:.*]]: tensor<18x4xf32>)
// CONCAT-NOT: tensor.expand_shape
// CONCAT-NOT: tensor.collapse_shape
// CONCAT-NOT: tensor.extract_slice
// CONCAT: linalg.generic
// CONCAT: scf.if
// CONCAT: tensor.extract %[[LOGP]]
// CONCAT: } else {
// CONCAT: affine.apply
// CONCAT: tensor.extract %[[LOGP]]
// CONCAT-NOT: tensor.insert_slice
func.func @through_views(%logp: tensor<18x4xf32>) -> tensor<16x4xf32> {
  %e = tensor.expand_shape %logp [[0, 1], [2]] output_shape [2, 9, 4] : tensor<18x4xf32> into tensor<2x9x4xf32>
  %s = tensor.extract_slice %e[0, 1, 0] [2, 8, 4] [1, 1, 1] : tensor<2x9x4xf32> to tensor<2x8x4xf32>
  %c = tensor.collapse_shape %s [[0, 1], [2]] : tensor<2x8x4xf32> into tensor<16x4xf32>
  %first = tensor.extract_slice %logp[0, 0] [1, 4] [1, 1] : tensor<18x4xf32> to tensor<1x4xf32>
  %rest = tensor.extract_slice %c[0, 0] [15, 4] [1, 1] : tensor<16x4xf32> to tensor<15x4xf32>
  %empty = tensor.empty() : tensor<16x4xf32>
  %a = tensor.insert_slice %first into %empty[0, 0] [1, 4] [1, 1] : tensor<1x4xf32> into tensor<16x4xf32>
  %b = tensor.insert_slice %rest into %a[1, 0] [15, 4] [1, 1] : tensor<15x4xf32> into tensor<16x4xf32>
  return %b : tensor<16x4xf32>
}

// -----

// A row computed from a collapsed operand: the generic is expanded to the
// operand's 4-D shape (the reshape moves to its result), unless its result
// is inserted into a bigger tensor (a KV cache row written in place by
// bufferization), which a reshape between them would turn into a copy.

#row = affine_map<(s, t, c) -> (s, t, c)>
func.func @row_into_cache(%heads: tensor<1x1x2x64xf32>, %cache: tensor<1x65x128xf32>, %position: index) -> tensor<1x65x128xf32> {
  %flat = tensor.collapse_shape %heads [[0], [1], [2, 3]] : tensor<1x1x2x64xf32> into tensor<1x1x128xf32>
  %empty = tensor.empty() : tensor<1x1x128xf32>
  %scaled = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%flat : tensor<1x1x128xf32>) outs(%empty : tensor<1x1x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<1x1x128xf32>
  %written = tensor.insert_slice %scaled into %cache[0, %position, 0] [1, 1, 128] [1, 1, 1] : tensor<1x1x128xf32> into tensor<1x65x128xf32>
  return %written : tensor<1x65x128xf32>
}
// CHECK-LABEL: func.func @row_into_cache
// CONCAT-LABEL: func.func @row_into_cache
// CHECK: %[[ROW:.+]] = linalg.generic
// CHECK-SAME: outs(%{{.+}} : tensor<1x1x128xf32>)
// CHECK: tensor.insert_slice %[[ROW]] into

func.func @row_returned(%heads: tensor<1x1x2x64xf32>) -> tensor<1x1x128xf32> {
  %flat = tensor.collapse_shape %heads [[0], [1], [2, 3]] : tensor<1x1x2x64xf32> into tensor<1x1x128xf32>
  %empty = tensor.empty() : tensor<1x1x128xf32>
  %scaled = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel", "parallel"]} ins(%flat : tensor<1x1x128xf32>) outs(%empty : tensor<1x1x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  } -> tensor<1x1x128xf32>
  return %scaled : tensor<1x1x128xf32>
}
// CHECK-LABEL: func.func @row_returned
// CHECK: linalg.generic
// CHECK-SAME: outs(%{{.+}} : tensor<1x1x2x64xf32>)
