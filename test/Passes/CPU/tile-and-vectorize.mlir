// RUN: mbc-opt %s --mb-cpu-tile-and-vectorize --canonicalize --cse --split-input-file | FileCheck %s

// Pinned tiles (mb.kernel_config): cache tiles 128 x 256 x 256 in loop order
// n, k, m, then 8 x 32 register tiles as vector.outerproduct with the
// accumulator carried in registers through the innermost K loop. K is
// cache-tiled, so the fill stays before the loops.

func.func @matmul(%a: tensor<256x512xf32>, %b: tensor<512x1024xf32>) -> tensor<256x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<256x1024xf32>
  %init = linalg.fill {mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 1, 16>}} ins(%zero : f32) outs(%empty : tensor<256x1024xf32>) -> tensor<256x1024xf32>
  %c = linalg.matmul {mb.kernel_config = {cache_order = array<i64: 1, 2, 0>, cache_tiles = array<i64: 128, 256, 256>, kind = "contraction", register_tiles = array<i64: 8, 32, 1>}} ins(%a, %b : tensor<256x512xf32>, tensor<512x1024xf32>) outs(%init : tensor<256x1024xf32>) -> tensor<256x1024xf32>
  return %c : tensor<256x1024xf32>
}
// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[A:.+]]: tensor<256x512xf32>, %[[B:.+]]: tensor<512x1024xf32>)
// CHECK: %[[FILLED:.+]] = scf.for
// CHECK: vector.transfer_write %{{.+}} : vector<1x16xf32>, tensor<256x1024xf32>
// CHECK: scf.for %[[N:.+]] = %c0 to %c1024 step %c256 iter_args(%{{.+}} = %[[FILLED]])
// CHECK-NEXT: scf.for %[[K:.+]] = %c0 to %c512 step %c256
// CHECK-NEXT: scf.for %[[M:.+]] = %c0 to %c256 step %c128
// CHECK: scf.for %{{.+}} = %c0 to %c128 step %c8
// CHECK-NEXT: scf.for %{{.+}} = %c0 to %c256 step %c32
// CHECK: %[[ACC:.+]] = vector.transfer_read %{{.+}} : tensor<8x32xf32>, vector<8x32xf32>
// CHECK-NEXT: %[[SUM:.+]] = scf.for %{{.+}} = %c0 to %c256 step %c1 iter_args(%[[ARG:.+]] = %[[ACC]]) -> (vector<8x32xf32>)
// CHECK: %[[COLUMN:.+]] = vector.transfer_read %[[A]]{{.+}} : tensor<256x512xf32>, vector<8xf32>
// CHECK: %[[ROW:.+]] = vector.transfer_read %[[B]]{{.+}} : tensor<512x1024xf32>, vector<32xf32>
// CHECK-NEXT: %[[OUTER:.+]] = vector.outerproduct %[[COLUMN]], %[[ROW]], %[[ARG]] {kind = #vector.kind<add>} : vector<8xf32>, vector<32xf32>
// CHECK-NEXT: scf.yield %[[OUTER]] : vector<8x32xf32>
// CHECK: vector.transfer_write %[[SUM]]
// CHECK-NOT: linalg.
// CHECK-NOT: scf.forall

// -----

// K fits one cache tile: the zero fill moves into the register tiles, so
// the accumulators start as constant zeros and the result is written once.
// 9 rows: an 8-row tile, then the remainder row as a 1 x 32 tile.

func.func @fused_fill_and_remainder(%a: tensor<9x128xf32>, %b: tensor<128x64xf32>) -> tensor<9x64xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<9x64xf32>
  %init = linalg.fill {mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 1, 16>}} ins(%zero : f32) outs(%empty : tensor<9x64xf32>) -> tensor<9x64xf32>
  %c = linalg.matmul {mb.kernel_config = {kind = "contraction", register_tiles = array<i64: 8, 32, 1>}} ins(%a, %b : tensor<9x128xf32>, tensor<128x64xf32>) outs(%init : tensor<9x64xf32>) -> tensor<9x64xf32>
  return %c : tensor<9x64xf32>
}
// CHECK-LABEL: func.func @fused_fill_and_remainder
// CHECK-DAG: %[[ZERO_ROW:.+]] = arith.constant dense<0.000000e+00> : vector<1x32xf32>
// CHECK-DAG: %[[ZEROS:.+]] = arith.constant dense<0.000000e+00> : vector<8x32xf32>
// CHECK-NOT: linalg.fill
// CHECK: scf.for %{{.+}} = %c0 to %c128 step %c1 iter_args(%[[ARG:.+]] = %[[ZEROS]]) -> (vector<8x32xf32>)
// CHECK: vector.outerproduct %{{.+}}, %{{.+}}, %[[ARG]] {kind = #vector.kind<add>} : vector<8xf32>, vector<32xf32>
// CHECK: scf.for %{{.+}} = %c0 to %c128 step %c1 iter_args(%[[ARG1:.+]] = %[[ZERO_ROW]]) -> (vector<1x32xf32>)
// CHECK: vector.outerproduct %{{.+}}, %{{.+}}, %[[ARG1]] {kind = #vector.kind<add>} : vector<1xf32>, vector<32xf32>
// CHECK-NOT: linalg.

// -----

// A decode GEMV on PyTorch's [N, K] bf16 weight: K is split into 64 lanes
// that accumulate with FMAs across the K loop (4 weight rows at a time),
// then one horizontal sum per result.

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @gemv(%x: tensor<1x256xf32>, %w: tensor<64x256xbf16>, %init: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %y = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x, %w : tensor<1x256xf32>, tensor<64x256xbf16>) outs(%init : tensor<1x64xf32>) attrs = {mb.kernel_config = {kind = "dot_product", register_tiles = array<i64: 1, 4, 64>}} {
  ^bb0(%in: f32, %in_0: bf16, %out: f32):
    %e = arith.extf %in_0 : bf16 to f32
    %p = arith.mulf %in, %e : f32
    %s = arith.addf %out, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
// CHECK-LABEL: func.func @gemv
// CHECK: %[[ZEROS:.+]] = arith.constant dense<0.000000e+00> : vector<1x4x64xf32>
// CHECK: %[[PARTIAL:.+]] = scf.for %{{.+}} = %c0 to %c64 step %c4
// CHECK: scf.for %{{.+}} = %c0 to %c4 step %c1 iter_args(%[[ACC:.+]] = %[[ZEROS]]) -> (vector<1x4x64xf32>)
// CHECK: %[[W:.+]] = vector.transfer_read {{.+}} : tensor<64x4x64xbf16>, vector<1x4x1x64xbf16>
// CHECK: arith.extf %[[W]]
// CHECK: %[[FMA:.+]] = vector.fma %{{.+}}, %{{.+}}, %[[ACC]] : vector<1x4x64xf32>
// CHECK-NEXT: scf.yield %[[FMA]]
// CHECK: scf.for %{{.+}} = %c0 to %c64 step %c1
// CHECK: %[[LANES:.+]] = vector.transfer_read %[[PARTIAL]]{{.+}} vector<1x1x64xf32>
// CHECK: vector.multi_reduction <add>, %[[LANES]], %{{.+}} [2] : vector<1x1x64xf32> to vector<1x1xf32>

// -----

// Inside a workgroup's scf.forall: tiled with scf.for (no nested forall),
// 16 lanes along the row, the 129th column as a 1-lane remainder.

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @elementwise_in_workgroups(%x: tensor<64x129xf32>) -> tensor<64x129xf32> {
  %empty = tensor.empty() : tensor<64x129xf32>
  %r = scf.forall (%i) = (0) to (64) step (32) shared_outs(%out = %empty) -> (tensor<64x129xf32>) {
    %xs = tensor.extract_slice %x[%i, 0] [32, 129] [1, 1] : tensor<64x129xf32> to tensor<32x129xf32>
    %os = tensor.extract_slice %out[%i, 0] [32, 129] [1, 1] : tensor<64x129xf32> to tensor<32x129xf32>
    %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%xs : tensor<32x129xf32>) outs(%os : tensor<32x129xf32>) attrs = {mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 1, 16>}} {
    ^bb0(%in: f32, %o: f32):
      %v = math.exp %in : f32
      linalg.yield %v : f32
    } -> tensor<32x129xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %e into %out[%i, 0] [32, 129] [1, 1] : tensor<32x129xf32> into tensor<64x129xf32>
    }
  }
  return %r : tensor<64x129xf32>
}
// CHECK-LABEL: func.func @elementwise_in_workgroups
// CHECK: scf.forall
// CHECK-NOT: scf.forall
// CHECK: scf.for %{{.+}} = %c0 to %c32 step %c1
// CHECK: scf.for %{{.+}} = %c0 to %c128 step %c16
// CHECK: math.exp %{{.+}} : vector<1x16xf32>
// CHECK: math.exp %{{.+}} : vector<1x1xf32>
// CHECK: scf.forall.in_parallel

// -----

// After bufferization: a strided copy (a slice) in 16-lane rows; the last
// 8 columns of each row as one 8-lane tile.

func.func @copy_on_buffers(%src: memref<9x40xf32, strided<[64, 1], offset: ?>>, %dst: memref<9x40xf32>) {
  linalg.copy {mb.kernel_config = {kind = "elementwise", register_tiles = array<i64: 1, 16>}} ins(%src : memref<9x40xf32, strided<[64, 1], offset: ?>>) outs(%dst : memref<9x40xf32>)
  return
}
// CHECK-LABEL: func.func @copy_on_buffers
// CHECK: scf.for %{{.+}} = %c0 to %c9 step %c1
// CHECK: scf.for %{{.+}} = %c0 to %c32 step %c16
// CHECK: %[[ROW:.+]] = vector.transfer_read {{.+}} vector<1x16xf32>
// CHECK: vector.transfer_write %[[ROW]]
// CHECK: %[[TAIL:.+]] = vector.transfer_read {{.+}} vector<1x8xf32>
// CHECK: vector.transfer_write %[[TAIL]]
// CHECK-NOT: linalg.copy
