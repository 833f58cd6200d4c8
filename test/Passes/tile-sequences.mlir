// RUN: mbc-opt %s --pass-pipeline='builtin.module(func.func(mb-tile-sequences))' | FileCheck %s
// RUN: mbc-opt %s --pass-pipeline='builtin.module(func.func(mb-tile-sequences{rows=40}))' | FileCheck %s --check-prefix=ROWS
// RUN: mbc-opt %s --pass-pipeline='builtin.module(func.func(mb-tile-sequences),mb-lower-sequence-tiles)' | FileCheck %s --check-prefix=LOWER

// A two-layer local model over 32 patches of 9 positions (start token + 8
// bytes): everything from the residual stream's first add to the head is
// one region; the tile is the largest divisor of 32 with <= 128 rows (14 ->
// 8 sequences of 9 positions = 72 rows), rows=40 gives 4 (36 rows). The
// projection of the global context is row-wise, so it joins the region.

// CHECK-LABEL: func @local_model
// CHECK-NEXT: %[[R:.*]] = mb.sequence_tiles(%arg1, %arg0) tile 8 : (tensor<32x9x16xf32>, tensor<32x9x16xf32>) -> tensor<32x9x256xf32> {
// CHECK-NEXT: ^bb0(%[[G:.*]]: tensor<8x9x16xf32>, %[[X:.*]]: tensor<8x9x16xf32>):
// CHECK-NEXT:   %[[C:.*]] = mb.linear %[[G]], %arg3 : (tensor<8x9x16xf32>, tensor<16x16xf32>) -> tensor<8x9x16xf32>
// CHECK-NEXT:   %[[H0:.*]] = arith.addf %[[X]], %[[C]] : tensor<8x9x16xf32>
// CHECK-NEXT:   %[[S0:.*]] = mb.token_shift %[[H0]] : tensor<8x9x16xf32>
// CHECK-NEXT:   %[[N0:.*]] = mb.rms_norm %[[S0]], %arg2 {{.*}} -> tensor<8x9x16xf32>
// CHECK-NEXT:   %[[A0:.*]] = mb.local_attention %[[N0]], %arg3, %arg3, %arg3, %arg4 {{.*}} -> tensor<8x9x16xf32>
// CHECK-NEXT:   %[[H1:.*]] = arith.addf %[[A0]], %[[H0]] : tensor<8x9x16xf32>
// CHECK-NEXT:   %[[N1:.*]] = mb.rms_norm %[[H1]], %arg2 {{.*}} -> tensor<8x9x16xf32>
// CHECK-NEXT:   %[[F1:.*]] = mb.ffn <gelu> %[[N1]], %arg5, %arg6, %arg7, %arg2 {{.*}} -> tensor<8x9x16xf32>
// CHECK-NEXT:   %[[H2:.*]] = arith.addf %[[F1]], %[[H1]] : tensor<8x9x16xf32>
// CHECK-NEXT:   %[[L:.*]] = mb.head %[[H2]], %arg8 : (tensor<8x9x16xf32>, tensor<256x16xf32>) -> tensor<8x9x256xf32>
// CHECK-NEXT:   mb.yield %[[L]] : tensor<8x9x256xf32>
// CHECK-NEXT: }
// CHECK-NEXT: return %[[R]]

// ROWS: mb.sequence_tiles(%arg1, %arg0) tile 4 : (tensor<32x9x16xf32>, tensor<32x9x16xf32>) -> tensor<32x9x256xf32>
// ROWS: ^bb0(%{{.*}}: tensor<4x9x16xf32>, %{{.*}}: tensor<4x9x16xf32>):

// LOWER-LABEL: func @local_model
// LOWER:      %[[E:.*]] = tensor.empty() : tensor<32x9x256xf32>
// LOWER-NEXT: %[[R:.*]] = scf.forall (%[[I:.*]]) in (4) shared_outs(%[[O:.*]] = %[[E]]) -> (tensor<32x9x256xf32>) {
// LOWER-NEXT:   %[[C8:.*]] = arith.constant 8 : index
// LOWER-NEXT:   %[[F:.*]] = arith.muli %[[I]], %[[C8]] : index
// LOWER-NEXT:   %[[G:.*]] = tensor.extract_slice %arg1[%[[F]], 0, 0] [8, 9, 16] [1, 1, 1] : tensor<32x9x16xf32> to tensor<8x9x16xf32>
// LOWER-NEXT:   %[[X:.*]] = tensor.extract_slice %arg0[%[[F]], 0, 0] [8, 9, 16] [1, 1, 1] : tensor<32x9x16xf32> to tensor<8x9x16xf32>
// LOWER-NEXT:   %[[C:.*]] = mb.linear %[[G]]
// LOWER-NEXT:   arith.addf %[[X]], %[[C]] : tensor<8x9x16xf32>
// LOWER:        %[[L:.*]] = mb.head {{.*}} -> tensor<8x9x256xf32>
// LOWER-NEXT:   scf.forall.in_parallel {
// LOWER-NEXT:     tensor.parallel_insert_slice %[[L]] into %[[O]][%[[F]], 0, 0] [8, 9, 256] [1, 1, 1] : tensor<8x9x256xf32> into tensor<32x9x256xf32>
// LOWER-NEXT:   }
// LOWER-NEXT: } {mb.sequence_tile = 8 : i64}
// LOWER-NEXT: return %[[R]]
// LOWER-NOT: mb.sequence_tiles
func.func @local_model(%x: tensor<32x9x16xf32>, %global: tensor<32x9x16xf32>, %g: tensor<16xf32>,
                       %w: tensor<16x16xf32>, %wo: tensor<16x16xf32>, %up: tensor<64x16xf32>,
                       %upb: tensor<64xf32>, %down: tensor<16x64xf32>, %head: tensor<256x16xf32>) -> tensor<32x9x256xf32> {
  %ctx = mb.linear %global, %w : (tensor<32x9x16xf32>, tensor<16x16xf32>) -> tensor<32x9x16xf32>
  %h0 = arith.addf %x, %ctx : tensor<32x9x16xf32>
  %s0 = mb.token_shift %h0 : tensor<32x9x16xf32>
  %n0 = mb.rms_norm %s0, %g {epsilon = 1.0e-8 : f64} : (tensor<32x9x16xf32>, tensor<16xf32>) -> tensor<32x9x16xf32>
  %a0 = mb.local_attention %n0, %w, %w, %w, %wo {heads = 2 : i64, head_dim = 8 : i64} : (tensor<32x9x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<32x9x16xf32>
  %h1 = arith.addf %a0, %h0 : tensor<32x9x16xf32>
  %n1 = mb.rms_norm %h1, %g {epsilon = 1.0e-8 : f64} : (tensor<32x9x16xf32>, tensor<16xf32>) -> tensor<32x9x16xf32>
  %f1 = mb.ffn <gelu> %n1, %up, %upb, %down, %g : (tensor<32x9x16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<16x64xf32>, tensor<16xf32>) -> tensor<32x9x16xf32>
  %h2 = arith.addf %f1, %h1 : tensor<32x9x16xf32>
  %logits = mb.head %h2, %head : (tensor<32x9x16xf32>, tensor<256x16xf32>) -> tensor<32x9x256xf32>
  return %logits : tensor<32x9x256xf32>
}

// An activation also used outside (returned) stays whole: the region starts
// after it.
// CHECK-LABEL: func @used_outside
// CHECK:      %[[N:.*]] = mb.rms_norm %arg0
// CHECK-NEXT: %[[R:.*]] = mb.sequence_tiles(%[[N]]) tile 8
// CHECK-NEXT: ^bb0(%[[T:.*]]: tensor<8x9x16xf32>):
// CHECK-NEXT:   mb.head %[[T]]
// CHECK:      return %[[R]], %[[N]]
func.func @used_outside(%x: tensor<32x9x16xf32>, %g: tensor<16xf32>, %head: tensor<256x16xf32>) -> (tensor<32x9x256xf32>, tensor<32x9x16xf32>) {
  %n = mb.rms_norm %x, %g {epsilon = 1.0e-8 : f64} : (tensor<32x9x16xf32>, tensor<16xf32>) -> tensor<32x9x16xf32>
  %logits = mb.head %n, %head : (tensor<32x9x16xf32>, tensor<256x16xf32>) -> tensor<32x9x256xf32>
  return %logits, %n : tensor<32x9x256xf32>, tensor<32x9x16xf32>
}

// A decode step (one sequence) and a batch of 2 sequences (fewer than
// min-tiles tiles) are left alone.
// CHECK-LABEL: func @too_few
// CHECK-NOT: mb.sequence_tiles
// CHECK: return
func.func @too_few(%x: tensor<2x9x16xf32>, %y: tensor<1x1x16xf32>, %head: tensor<256x16xf32>) -> (tensor<2x9x256xf32>, tensor<1x1x256xf32>) {
  %a = mb.head %x, %head : (tensor<2x9x16xf32>, tensor<256x16xf32>) -> tensor<2x9x256xf32>
  %b = mb.head %y, %head : (tensor<1x1x16xf32>, tensor<256x16xf32>) -> tensor<1x1x256xf32>
  return %a, %b : tensor<2x9x256xf32>, tensor<1x1x256xf32>
}
