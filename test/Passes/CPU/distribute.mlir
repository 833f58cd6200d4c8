// RUN: mbc-opt %s --pass-pipeline='builtin.module(func.func(mb-cpu-distribute{workgroups=32 min-iterations=16384}))' --split-input-file | FileCheck %s

// A matmul is split by rows, 8 at a time (the CPU kernel's register rows),
// into 32 workgroups; the fill of its accumulator moves into the forall.

func.func @matmul_rows(%a: tensor<256x512xf32>, %b: tensor<512x256xf32>) -> tensor<256x256xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<256x256xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<256x256xf32>) -> tensor<256x256xf32>
  %product = linalg.matmul ins(%a, %b : tensor<256x512xf32>, tensor<512x256xf32>) outs(%init : tensor<256x256xf32>) -> tensor<256x256xf32>
  return %product : tensor<256x256xf32>
}
// CHECK-LABEL: func.func @matmul_rows
// CHECK-SAME: (%[[A:.+]]: tensor<256x512xf32>, %[[B:.+]]: tensor<512x256xf32>)
// CHECK: %[[EMPTY:.+]] = tensor.empty() : tensor<256x256xf32>
// CHECK-NOT: linalg.fill
// CHECK: %[[RESULT:.+]] = scf.forall (%[[ROW:.+]]) = (0) to (256) step (8) shared_outs(%[[OUT:.+]] = %[[EMPTY]])
// CHECK: %[[A_ROWS:.+]] = tensor.extract_slice %[[A]][%[[ROW]], 0] [8, 512] [1, 1]
// CHECK: %[[OUT_ROWS:.+]] = tensor.extract_slice %[[OUT]][%[[ROW]], 0] [8, 256] [1, 1]
// CHECK: %[[FILL:.+]] = linalg.fill ins(%{{.*}} : f32) outs(%[[OUT_ROWS]] : tensor<8x256xf32>)
// CHECK: %[[TILE:.+]] = linalg.matmul {mb.workgroup_tiles = array<i64: 8, 0, 0>} ins(%[[A_ROWS]], %{{.*}} : tensor<8x512xf32>, tensor<512x256xf32>) outs(%[[FILL]] : tensor<8x256xf32>)
// CHECK: scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %[[TILE]] into %[[OUT]][%[[ROW]], 0] [8, 256] [1, 1]
// CHECK: return %[[RESULT]]

// -----

// Too little work for two workgroups: left alone.

func.func @small_stays(%a: tensor<4x16xf32>, %b: tensor<16x16xf32>, %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %product = linalg.matmul ins(%a, %b : tensor<4x16xf32>, tensor<16x16xf32>) outs(%c : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %product : tensor<4x16xf32>
}
// CHECK-LABEL: func.func @small_stays
// CHECK-NOT: scf.forall
// CHECK-NOT: mb.workgroup_tiles
// CHECK: linalg.matmul ins

// -----

// Elementwise: the outer loop is split into 32 workgroups of 16 rows; the
// contiguous loop stays whole.

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @elementwise_rows(%x: tensor<512x1024xf32>, %y: tensor<512x1024xf32>) -> tensor<512x1024xf32> {
  %empty = tensor.empty() : tensor<512x1024xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<512x1024xf32>, tensor<512x1024xf32>) outs(%empty : tensor<512x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<512x1024xf32>
  return %sum : tensor<512x1024xf32>
}
// CHECK-LABEL: func.func @elementwise_rows
// CHECK: scf.forall (%{{.+}}) = (0) to (512) step (16)
// CHECK: linalg.generic {{.*}}ins(%{{.*}}, %{{.*}} : tensor<16x1024xf32>, tensor<16x1024xf32>) outs(%{{.*}} : tensor<16x1024xf32>) attrs =  {mb.workgroup_tiles = array<i64: 16, 0>}

// -----

// A reduction is never split: row sums are distributed by rows (a vector of
// 16 results each), every workgroup reads whole rows.

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
func.func @row_sums(%x: tensor<64x4096xf32>, %init: tensor<64xf32>) -> tensor<64xf32> {
  %sums = linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<64x4096xf32>) outs(%init : tensor<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  return %sums : tensor<64xf32>
}
// CHECK-LABEL: func.func @row_sums
// CHECK: scf.forall (%[[ROW:.+]]) = (0) to (64) step (16)
// CHECK: tensor.extract_slice %{{.*}}[%[[ROW]], 0] [16, 4096] [1, 1]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}}tensor<16x4096xf32>{{.*}}mb.workgroup_tiles = array<i64: 16, 0>

// -----

// Producers are fused when their tile moves with the workgroup (the
// conversion of the rows a workgroup reads), not when every workgroup would
// recompute the same tile (the conversion of the whole weight, which gets
// its own workgroups instead).

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @fuse_row_producer(%a: tensor<256x512xbf16>, %b: tensor<512x256xbf16>, %c: tensor<256x256xf32>) -> tensor<256x256xf32> {
  %a_empty = tensor.empty() : tensor<256x512xf32>
  %a32 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<256x512xbf16>) outs(%a_empty : tensor<256x512xf32>) {
  ^bb0(%x: bf16, %out: f32):
    %e = arith.extf %x : bf16 to f32
    linalg.yield %e : f32
  } -> tensor<256x512xf32>
  %b_empty = tensor.empty() : tensor<512x256xf32>
  %b32 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%b : tensor<512x256xbf16>) outs(%b_empty : tensor<512x256xf32>) {
  ^bb0(%x: bf16, %out: f32):
    %e = arith.extf %x : bf16 to f32
    linalg.yield %e : f32
  } -> tensor<512x256xf32>
  %product = linalg.matmul ins(%a32, %b32 : tensor<256x512xf32>, tensor<512x256xf32>) outs(%c : tensor<256x256xf32>) -> tensor<256x256xf32>
  return %product : tensor<256x256xf32>
}
// CHECK-LABEL: func.func @fuse_row_producer
// CHECK-SAME: (%[[A:.+]]: tensor<256x512xbf16>, %[[B:.+]]: tensor<512x256xbf16>
// CHECK-NOT: linalg.generic
// CHECK: %[[B32:.+]] = scf.forall (%[[K:.+]]) = (0) to (512) step (64)
// CHECK: %[[B_ROWS:.+]] = tensor.extract_slice %[[B]][%[[K]], 0] [64, 256] [1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[B_ROWS]] : tensor<64x256xbf16>){{.*}}mb.workgroup_tiles = array<i64: 64, 0>
// CHECK: scf.forall (%[[ROW:.+]]) = (0) to (256) step (8)
// CHECK: %[[A_ROWS:.+]] = tensor.extract_slice %[[A]][%[[ROW]], 0] [8, 512] [1, 1]
// CHECK: %[[A32_ROWS:.+]] = linalg.generic {{.*}} ins(%[[A_ROWS]] : tensor<8x512xbf16>)
// CHECK: %[[B32_ALL:.+]] = tensor.extract_slice %[[B32]][0, 0] [512, 256] [1, 1]
// CHECK: linalg.matmul {mb.workgroup_tiles = array<i64: 8, 0, 0>} ins(%[[A32_ROWS]], %[[B32_ALL]] :

// -----

// Pinned tiles are applied as given; all zeros keeps an op whole.

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @pinned(%x: tensor<512x1024xf32>) -> (tensor<512x1024xf32>, tensor<512x1024xf32>) {
  %empty = tensor.empty() : tensor<512x1024xf32>
  %columns = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<512x1024xf32>) outs(%empty : tensor<512x1024xf32>) attrs = {mb.workgroup_tiles = array<i64: 0, 256>} {
  ^bb0(%a: f32, %out: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<512x1024xf32>
  %whole = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<512x1024xf32>) outs(%empty : tensor<512x1024xf32>) attrs = {mb.workgroup_tiles = array<i64: 0, 0>} {
  ^bb0(%a: f32, %out: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<512x1024xf32>
  return %columns, %whole : tensor<512x1024xf32>, tensor<512x1024xf32>
}
// CHECK-LABEL: func.func @pinned
// CHECK: scf.forall (%[[COLUMN:.+]]) = (0) to (1024) step (256)
// CHECK: tensor.extract_slice %{{.*}}[0, %[[COLUMN]]] [512, 256] [1, 1]
// CHECK: mb.workgroup_tiles = array<i64: 0, 256>
// CHECK: scf.forall.in_parallel
// CHECK-NOT: scf.forall
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<512x1024xf32>) outs(%{{.*}} : tensor<512x1024xf32>) attrs =  {mb.workgroup_tiles = array<i64: 0, 0>}

// -----

// An elementwise epilogue (bias add) is distributed with the matmul it
// consumes: one forall computes the fill, the matmul rows and the epilogue
// of 8 rows; the group's work sets the grid, the matmul its row granule.

#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @matmul_epilogue(%a: tensor<256x512xf32>, %b: tensor<512x256xf32>, %bias: tensor<256xf32>) -> tensor<256x256xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<256x256xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<256x256xf32>) -> tensor<256x256xf32>
  %product = linalg.matmul ins(%a, %b : tensor<256x512xf32>, tensor<512x256xf32>) outs(%init : tensor<256x256xf32>) -> tensor<256x256xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%product, %bias : tensor<256x256xf32>, tensor<256xf32>) outs(%empty : tensor<256x256xf32>) {
  ^bb0(%p: f32, %c: f32, %out: f32):
    %s = arith.addf %p, %c : f32
    linalg.yield %s : f32
  } -> tensor<256x256xf32>
  return %biased : tensor<256x256xf32>
}
// CHECK-LABEL: func.func @matmul_epilogue
// CHECK-NOT: linalg.
// CHECK: scf.forall (%[[ROW:.+]]) = (0) to (256) step (8)
// CHECK: %[[FILL:.+]] = linalg.fill {{.*}} -> tensor<8x256xf32>
// CHECK: %[[PRODUCT:.+]] = linalg.matmul ins({{.*}} : tensor<8x512xf32>, tensor<512x256xf32>) outs(%[[FILL]] : tensor<8x256xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[PRODUCT]], %{{.*}} : tensor<8x256xf32>, tensor<256xf32>){{.*}}mb.workgroup_tiles = array<i64: 8, 0>
// CHECK: scf.forall.in_parallel
// CHECK-NOT: linalg.
// CHECK: return

// -----

// A skinny contraction of a large weight (16 MB, larger than its 129 rows):
// split along the columns, so each workgroup streams only its part of the
// weight (row workgroups would each read all of it).

func.func @large_weight_columns(%a: tensor<129x1024xf32>, %b: tensor<1024x4096xf32>) -> tensor<129x4096xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<129x4096xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<129x4096xf32>) -> tensor<129x4096xf32>
  %product = linalg.matmul ins(%a, %b : tensor<129x1024xf32>, tensor<1024x4096xf32>) outs(%init : tensor<129x4096xf32>) -> tensor<129x4096xf32>
  return %product : tensor<129x4096xf32>
}
// CHECK-LABEL: func.func @large_weight_columns
// CHECK: scf.forall (%{{.*}}) = (0) to (4096) step (128)
// CHECK: mb.workgroup_tiles = array<i64: 0, 128, 0>

// -----

// The same weight against more rows than it has bytes: rows first.

func.func @large_weight_rows(%a: tensor<8192x1024xf32>, %b: tensor<1024x4096xf32>) -> tensor<8192x4096xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<8192x4096xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<8192x4096xf32>) -> tensor<8192x4096xf32>
  %product = linalg.matmul ins(%a, %b : tensor<8192x1024xf32>, tensor<1024x4096xf32>) outs(%init : tensor<8192x4096xf32>) -> tensor<8192x4096xf32>
  return %product : tensor<8192x4096xf32>
}
// CHECK-LABEL: func.func @large_weight_rows
// CHECK: scf.forall (%{{.*}}) = (0) to (8192) step (256)
// CHECK: mb.workgroup_tiles = array<i64: 256, 0, 0>
