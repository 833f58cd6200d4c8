// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s

// The gather: one parallel generic over the result reads the id through its
// indexing map and extracts the table row; ids are zero-extended (i8 bytes
// 128..255 stay positive).
// CHECK-DAG: #[[IDS:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[ROWS:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>

// CHECK-LABEL: func.func @embedding
// CHECK-SAME: (%[[TABLE:.+]]: tensor<256x8xf32>, %[[IDS_ARG:.+]]: tensor<2x16xi32>)
// CHECK: linalg.generic {indexing_maps = [#[[IDS]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[IDS_ARG]] : tensor<2x16xi32>)
// CHECK: ^bb0(%[[ID:.+]]: i32, %{{.+}}: f32):
// CHECK: %[[ROW:.+]] = arith.index_castui %[[ID]] : i32 to index
// CHECK: %[[FEATURE:.+]] = linalg.index 2 : index
// CHECK: %[[VALUE:.+]] = tensor.extract %[[TABLE]][%[[ROW]], %[[FEATURE]]] : tensor<256x8xf32>
// CHECK: linalg.yield %[[VALUE]]
// CHECK-NOT: mb.
func.func @embedding(%table: tensor<256x8xf32>, %ids: tensor<2x16xi32>) -> tensor<2x16x8xf32> {
  %0 = mb.embedding %table[%ids] : tensor<256x8xf32>, tensor<2x16xi32> -> tensor<2x16x8xf32>
  return %0 : tensor<2x16x8xf32>
}

// CHECK-LABEL: func.func @embedding_byte_ids
// CHECK: arith.index_castui %{{.+}} : i8 to index
func.func @embedding_byte_ids(%table: tensor<256x8xf32>, %ids: tensor<4xi8>) -> tensor<4x8xf32> {
  %0 = mb.embedding %table[%ids] : tensor<256x8xf32>, tensor<4xi8> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// Rows 0..S-1 of a longer table, broadcast over the sequences and added.
// CHECK-LABEL: func.func @position_embedding
// CHECK-SAME: (%[[X:.+]]: tensor<2x16x8xf32>, %[[POS:.+]]: tensor<32x8xf32>)
// CHECK: %[[FIRST:.+]] = tensor.extract_slice %[[POS]][0, 0] [16, 8] [1, 1] : tensor<32x8xf32> to tensor<16x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[ID3]], #[[ROWS]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[FIRST]] : tensor<2x16x8xf32>, tensor<16x8xf32>)
// CHECK: arith.addf
func.func @position_embedding(%x: tensor<2x16x8xf32>, %table: tensor<32x8xf32>) -> tensor<2x16x8xf32> {
  %0 = mb.position_embedding %x, %table : tensor<2x16x8xf32>, tensor<32x8xf32> -> tensor<2x16x8xf32>
  return %0 : tensor<2x16x8xf32>
}

// A table exactly as long as the sequence is used whole.
// CHECK-LABEL: func.func @position_embedding_full_table
// CHECK-NOT: tensor.extract_slice
// CHECK: linalg.generic
func.func @position_embedding_full_table(%x: tensor<1x4x8xf32>, %table: tensor<4x8xf32>) -> tensor<1x4x8xf32> {
  %0 = mb.position_embedding %x, %table : tensor<1x4x8xf32>, tensor<4x8xf32> -> tensor<1x4x8xf32>
  return %0 : tensor<1x4x8xf32>
}

// A decode step's runtime offset selects the table rows.
// CHECK-LABEL: func.func @position_embedding_offset
// CHECK-SAME: (%[[X:.+]]: tensor<2x1x8xf32>, %[[POS:.+]]: tensor<16x8xf32>, %[[OFFSET:.+]]: index)
// CHECK: %[[ROW:.+]] = tensor.extract_slice %[[POS]][%[[OFFSET]], 0] [1, 8] [1, 1] : tensor<16x8xf32> to tensor<1x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[ID3]], #[[ROWS]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[ROW]] : tensor<2x1x8xf32>, tensor<1x8xf32>)
func.func @position_embedding_offset(%x: tensor<2x1x8xf32>, %table: tensor<16x8xf32>, %offset: index) -> tensor<2x1x8xf32> {
  %0 = mb.position_embedding %x, %table offset %offset : tensor<2x1x8xf32>, tensor<16x8xf32> -> tensor<2x1x8xf32>
  return %0 : tensor<2x1x8xf32>
}
