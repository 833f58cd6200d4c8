// RUN: mbc-opt %s --convert-mb-to-linalg='attention-block=4' | FileCheck %s
// RUN: mbc-opt %s --convert-mb-to-linalg='attention-block=8' | FileCheck %s --check-prefix=WHOLE
// RUN: not mbc-opt %s --convert-mb-to-linalg='attention-block=-1' 2>&1 | FileCheck %s --check-prefix=NEGATIVE

// 10 positions with blocks of 4: padded to 12, one workgroup per (sequence
// x head, query block) = (2 x 2, 3); the key loop runs to the diagonal
// block; running max / sum / output are updated in place (their update's
// init is the loop's iter_arg); the padded rows are sliced off.
// CHECK-LABEL: func @online_softmax
// CHECK:      tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0] [4, 10, 4] [1, 1, 1] : tensor<4x10x4xf32> into tensor<4x12x4xf32>
// CHECK:      %[[R:.*]] = scf.forall (%[[B:.*]], %[[QB:.*]]) in (4, 3) shared_outs(%[[O:.*]] = %{{.*}}) -> (tensor<4x12x4xf32>) {
// CHECK:        %[[Q:.*]] = tensor.extract_slice %{{.*}}[%[[B]], %{{.*}}, 0] [1, 4, 4] [1, 1, 1] : tensor<4x12x4xf32> to tensor<4x4xf32>
// CHECK:        %[[UB:.*]] = arith.addi %[[QB]], %c1
// CHECK:        %[[L:.*]]:3 = scf.for %[[KB:.*]] = %c0 to %[[UB]] step %c1 iter_args(%[[M:.*]] = %{{.*}}, %[[S:.*]] = %{{.*}}, %[[A:.*]] = %{{.*}}) -> (tensor<4xf32>, tensor<4xf32>, tensor<4x4xf32>) {
// CHECK:          linalg.matmul {{.*}} ins(%[[Q]], %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32>)
// CHECK:          arith.cmpi ule
// CHECK:          arith.maximumf
// CHECK:          %[[NM:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4xf32>) outs(%[[M]] : tensor<4xf32>)
// CHECK:          math.exp
// CHECK:          %[[NS:.*]] = linalg.generic {{.*}} outs(%[[S]] : tensor<4xf32>)
// CHECK:          %[[RA:.*]] = linalg.generic {{.*}} outs(%[[A]] : tensor<4x4xf32>)
// CHECK:          %[[NA:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32>) outs(%[[RA]] : tensor<4x4xf32>)
// CHECK:          scf.yield %[[NM]], %[[NS]], %[[NA]]
// CHECK:        arith.divf
// CHECK:        scf.forall.in_parallel {
// CHECK-NEXT:     tensor.parallel_insert_slice %{{.*}} into %[[O]][%[[B]], %{{.*}}, 0] [1, 4, 4] [1, 1, 1] : tensor<4x4xf32> into tensor<4x12x4xf32>
// CHECK:      } {mb.attention_block = 4 : i64}
// CHECK:      tensor.extract_slice %[[R]][0, 0, 0] [4, 10, 4] [1, 1, 1] : tensor<4x12x4xf32> to tensor<4x10x4xf32>

// Fewer than 2 blocks of positions: the scores stay whole.
// WHOLE-LABEL: func @online_softmax
// WHOLE-NOT: scf.forall
// WHOLE: linalg.batch_matmul
// WHOLE-NOT: scf.forall

// NEGATIVE: attention-block must be >= 0, got -1
func.func @online_softmax(%x: tensor<2x10x8xf32>, %w: tensor<8x8xf32>) -> tensor<2x10x8xf32> {
  %0 = mb.global_attention %x, %w, %w, %w, %w {heads = 2 : i64, head_dim = 4 : i64} : (tensor<2x10x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<2x10x8xf32>
  return %0 : tensor<2x10x8xf32>
}
