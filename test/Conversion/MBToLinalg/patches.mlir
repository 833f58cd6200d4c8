// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s

// Patches and stage boundaries only move data: reshapes, slices, inserts.

// CHECK-DAG: #[[LHS:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[WEIGHT_T:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>

// CHECK-LABEL: func.func @patchify
// CHECK-SAME: (%[[X:.+]]: tensor<2x16x8xf32>)
// CHECK: %[[E:.+]] = tensor.expand_shape %[[X]] {{\[}}[0], [1, 2], [3]] output_shape [2, 4, 4, 8]
// CHECK: %[[C:.+]] = tensor.collapse_shape %[[E]] {{\[}}[0], [1], [2, 3]] : tensor<2x4x4x8xf32> into tensor<2x4x32xf32>
// CHECK: return %[[C]]
func.func @patchify(%x: tensor<2x16x8xf32>) -> tensor<2x4x32xf32> {
  %0 = mb.patchify %x {patch_size = 4 : i64} : tensor<2x16x8xf32> -> tensor<2x4x32xf32>
  return %0 : tensor<2x4x32xf32>
}

// The pad goes to position 0, patches 0..K-2 to positions 1..K-1.
// CHECK-LABEL: func.func @patchify_shift
// CHECK-SAME: (%[[X:.+]]: tensor<2x16x8xf32>, %[[PAD:.+]]: tensor<32xf32>)
// CHECK: %[[GROUPED:.+]] = tensor.collapse_shape
// CHECK: %[[PADS:.+]] = linalg.broadcast ins(%[[PAD]] : tensor<32xf32>) outs(%{{.+}} : tensor<2x1x32xf32>) dimensions = [0, 1]
// CHECK: %[[EARLIER:.+]] = tensor.extract_slice %[[GROUPED]][0, 0, 0] [2, 3, 32] [1, 1, 1]
// CHECK: %[[R0:.+]] = tensor.insert_slice %[[PADS]] into %{{.+}}[0, 0, 0] [2, 1, 32] [1, 1, 1]
// CHECK: %[[R1:.+]] = tensor.insert_slice %[[EARLIER]] into %[[R0]][0, 1, 0] [2, 3, 32] [1, 1, 1]
// CHECK: return %[[R1]]
func.func @patchify_shift(%x: tensor<2x16x8xf32>, %pad: tensor<32xf32>) -> tensor<2x4x32xf32> {
  %0 = mb.patchify %x shift %pad {patch_size = 4 : i64} : tensor<2x16x8xf32>, tensor<32xf32> -> tensor<2x4x32xf32>
  return %0 : tensor<2x4x32xf32>
}

// CHECK-LABEL: func.func @start_token
// CHECK-SAME: (%[[X:.+]]: tensor<2x4x8xf32>, %[[START:.+]]: tensor<8xf32>)
// CHECK: %[[STARTS:.+]] = linalg.broadcast ins(%[[START]] : tensor<8xf32>) outs(%{{.+}} : tensor<2x1x8xf32>) dimensions = [0, 1]
// CHECK: %[[R0:.+]] = tensor.insert_slice %[[STARTS]] into %{{.+}}[0, 0, 0] [2, 1, 8]
// CHECK: %[[R1:.+]] = tensor.insert_slice %[[X]] into %[[R0]][0, 1, 0] [2, 4, 8]
// CHECK: return %[[R1]]
func.func @start_token(%x: tensor<2x4x8xf32>, %s: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.start_token %x, %s : tensor<2x4x8xf32>, tensor<8xf32> -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// Odd D = 7: the first ceil(7/2) = 4 features stay, the other 3 move one
// position later onto a zero tensor.
// CHECK-LABEL: func.func @token_shift_odd
// CHECK-SAME: (%[[X:.+]]: tensor<2x5x7xf32>)
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[ZEROS:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.+}} : tensor<2x5x7xf32>)
// CHECK: %[[KEPT:.+]] = tensor.extract_slice %[[X]][0, 0, 0] [2, 5, 4] [1, 1, 1]
// CHECK: %[[R0:.+]] = tensor.insert_slice %[[KEPT]] into %[[ZEROS]][0, 0, 0] [2, 5, 4]
// CHECK: %[[MOVED:.+]] = tensor.extract_slice %[[X]][0, 0, 4] [2, 4, 3] [1, 1, 1]
// CHECK: %[[R1:.+]] = tensor.insert_slice %[[MOVED]] into %[[R0]][0, 1, 4] [2, 4, 3]
// CHECK: return %[[R1]]
func.func @token_shift_odd(%x: tensor<2x5x7xf32>) -> tensor<2x5x7xf32> {
  %0 = mb.token_shift %x : tensor<2x5x7xf32>
  return %0 : tensor<2x5x7xf32>
}

// CHECK-LABEL: func.func @token_shift_even
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 0] [1, 3, 4]
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 4] [1, 2, 4]
// CHECK: tensor.insert_slice %{{.+}}[0, 1, 4] [1, 2, 4]
func.func @token_shift_even(%x: tensor<1x3x8xf32>) -> tensor<1x3x8xf32> {
  %0 = mb.token_shift %x : tensor<1x3x8xf32>
  return %0 : tensor<1x3x8xf32>
}

// Shared: the P slices of width C become rows of one [N*S*P, C] matrix
// multiplied by the one weight, read transposed.
// CHECK-LABEL: func.func @global_to_local_shared
// CHECK-SAME: (%[[G:.+]]: tensor<2x4x64xf32>, %[[W:.+]]: tensor<24x16xf32>)
// CHECK: %[[E:.+]] = tensor.expand_shape %[[G]] {{\[}}[0], [1], [2, 3]] output_shape [2, 4, 4, 16]
// CHECK: %[[ROWS:.+]] = tensor.collapse_shape %[[E]] {{\[}}[0, 1, 2], [3]] : tensor<2x4x4x16xf32> into tensor<32x16xf32>
// CHECK: %[[ACC:.+]] = linalg.fill
// CHECK: %[[P:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[W]] : tensor<32x16xf32>, tensor<24x16xf32>) outs(%[[ACC]] : tensor<32x24xf32>)
// CHECK: %[[R:.+]] = tensor.expand_shape %[[P]] {{\[}}[0, 1], [2]] output_shape [8, 4, 24]
// CHECK: return %[[R]]
func.func @global_to_local_shared(%g: tensor<2x4x64xf32>, %w: tensor<24x16xf32>) -> tensor<8x4x24xf32> {
  %0 = mb.global_to_local <shared> %g, %w {patch_size = 4 : i64} : (tensor<2x4x64xf32>, tensor<24x16xf32>) -> tensor<8x4x24xf32>
  return %0 : tensor<8x4x24xf32>
}

// Dense: drop the last position, Linear with bias, [N*S, P, D], zero vector
// in front.
// CHECK-LABEL: func.func @global_to_local_dense
// CHECK-SAME: (%[[G:.+]]: tensor<1x5x64xf32>, %[[W:.+]]: tensor<128x64xf32>, %[[B:.+]]: tensor<128xf32>)
// CHECK: %[[USED:.+]] = tensor.extract_slice %[[G]][0, 0, 0] [1, 4, 64] [1, 1, 1]
// CHECK: %[[ROWS:.+]] = tensor.collapse_shape %[[USED]] {{\[}}[0, 1], [2]] : tensor<1x4x64xf32> into tensor<4x64xf32>
// CHECK: %[[BIAS:.+]] = linalg.broadcast ins(%[[B]] : tensor<128xf32>) outs(%{{.+}} : tensor<4x128xf32>) dimensions = [0]
// CHECK: %[[P:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[W]] : {{.*}}) outs(%[[BIAS]] : tensor<4x128xf32>)
// CHECK: %[[SPLIT:.+]] = tensor.expand_shape %[[P]] {{\[}}[0], [1, 2]] output_shape [4, 4, 32]
// CHECK: %[[ZEROS:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<4x1x32xf32>)
// CHECK: %[[R0:.+]] = tensor.insert_slice %[[ZEROS]] into %{{.+}}[0, 0, 0] [4, 1, 32]
// CHECK: %[[R1:.+]] = tensor.insert_slice %[[SPLIT]] into %[[R0]][0, 1, 0] [4, 4, 32]
// CHECK: return %[[R1]]
func.func @global_to_local_dense(%g: tensor<1x5x64xf32>, %w: tensor<128x64xf32>, %b: tensor<128xf32>) -> tensor<4x5x32xf32> {
  %0 = mb.global_to_local <dense> %g, %w, %b {patch_size = 4 : i64} : (tensor<1x5x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<4x5x32xf32>
  return %0 : tensor<4x5x32xf32>
}

// CHECK-LABEL: func.func @merge_patches_shifted
// CHECK: tensor.expand_shape %{{.+}} {{\[}}[0, 1], [2], [3]] output_shape [2, 4, 4, 256]
// CHECK: tensor.collapse_shape %{{.+}} {{\[}}[0], [1, 2], [3]] : tensor<2x4x4x256xf32> into tensor<2x16x256xf32>
func.func @merge_patches_shifted(%x: tensor<8x4x256xf32>) -> tensor<2x16x256xf32> {
  %0 = mb.merge_patches <shifted> %x : tensor<8x4x256xf32> -> tensor<2x16x256xf32>
  return %0 : tensor<2x16x256xf32>
}

// Row 0: position 0 of sequence 0 of each batch entry; rows 1..15: positions
// 1..P of the sequences in order, the last prediction dropped.
// CHECK-LABEL: func.func @merge_patches_start_token
// CHECK-SAME: (%[[X:.+]]: tensor<8x5x256xf32>)
// CHECK: %[[G:.+]] = tensor.expand_shape %[[X]] {{\[}}[0, 1], [2], [3]] output_shape [2, 4, 5, 256]
// CHECK: %[[FIRST:.+]] = tensor.extract_slice %[[G]][0, 0, 0, 0] [2, 1, 1, 256] [1, 1, 1, 1]
// CHECK: %[[FIRST3:.+]] = tensor.collapse_shape %[[FIRST]] {{.*}} into tensor<2x1x256xf32>
// CHECK: %[[PRED:.+]] = tensor.extract_slice %[[G]][0, 0, 1, 0] [2, 4, 4, 256] [1, 1, 1, 1]
// CHECK: %[[PRED3:.+]] = tensor.collapse_shape %[[PRED]] {{\[}}[0], [1, 2], [3]] : tensor<2x4x4x256xf32> into tensor<2x16x256xf32>
// CHECK: %[[REST:.+]] = tensor.extract_slice %[[PRED3]][0, 0, 0] [2, 15, 256] [1, 1, 1]
// CHECK: %[[R0:.+]] = tensor.insert_slice %[[FIRST3]] into %{{.+}}[0, 0, 0] [2, 1, 256]
// CHECK: %[[R1:.+]] = tensor.insert_slice %[[REST]] into %[[R0]][0, 1, 0] [2, 15, 256]
// CHECK: return %[[R1]]
func.func @merge_patches_start_token(%x: tensor<8x5x256xf32>) -> tensor<2x16x256xf32> {
  %0 = mb.merge_patches <start_token> %x : tensor<8x5x256xf32> -> tensor<2x16x256xf32>
  return %0 : tensor<2x16x256xf32>
}

// Decode form: the first ceil(7/2) = 4 features from the new position, the
// other 3 from the previous one, as one elementwise select on the feature
// index (a concatenation would bufferize to a buffer and two copies).
// CHECK-LABEL: func.func @token_shift_step
// CHECK-SAME: (%[[X:.+]]: tensor<2x1x7xf32>, %[[PREV:.+]]: tensor<2x1x7xf32>)
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[R:.+]] = linalg.generic
// CHECK-SAME: ins(%[[X]], %[[PREV]] : tensor<2x1x7xf32>, tensor<2x1x7xf32>)
// CHECK: ^bb0(%[[NEW:.+]]: f32, %[[OLD:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[F:.+]] = linalg.index 2 : index
// CHECK: %[[C4:.+]] = arith.constant 4 : index
// CHECK: %[[KEPT:.+]] = arith.cmpi ult, %[[F]], %[[C4]] : index
// CHECK: %[[V:.+]] = arith.select %[[KEPT]], %[[NEW]], %[[OLD]] : f32
// CHECK: linalg.yield %[[V]]
// CHECK-NOT: tensor.insert_slice
// CHECK: return %[[R]]
func.func @token_shift_step(%x: tensor<2x1x7xf32>, %previous: tensor<2x1x7xf32>) -> tensor<2x1x7xf32> {
  %0 = mb.token_shift_step %x, %previous : tensor<2x1x7xf32>
  return %0 : tensor<2x1x7xf32>
}
