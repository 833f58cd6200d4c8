// RUN: mbc-opt %s --mb-cpu-lower-vectors=vector-bits=512 --split-input-file | FileCheck %s

// The outer-product kernel on buffers: one FMA per accumulator row, the A
// element broadcast (LLVM folds the broadcast into the FMA's memory
// operand), the B row loaded once.

func.func @outer_product_kernel(%a: memref<9x128xf32>, %b: memref<128x64xf32>, %c: memref<9x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %pad = ub.poison : f32
  %zeros = arith.constant dense<0.0> : vector<8x32xf32>
  %sum = scf.for %k = %c0 to %c128 step %c1 iter_args(%acc = %zeros) -> (vector<8x32xf32>) {
    %col = vector.transfer_read %a[%c0, %k], %pad {in_bounds = [true], permutation_map = affine_map<(d0, d1) -> (d0)>} : memref<9x128xf32>, vector<8xf32>
    %row = vector.transfer_read %b[%k, %c0], %pad {in_bounds = [true]} : memref<128x64xf32>, vector<32xf32>
    %next = vector.outerproduct %col, %row, %acc {kind = #vector.kind<add>} : vector<8xf32>, vector<32xf32>
    scf.yield %next : vector<8x32xf32>
  }
  vector.transfer_write %sum, %c[%c0, %c0] {in_bounds = [true, true]} : vector<8x32xf32>, memref<9x64xf32>
  return
}
// CHECK-LABEL: func.func @outer_product_kernel
// CHECK: scf.for
// CHECK: %[[ROW:.+]] = vector.load %{{.+}} : memref<128x64xf32>, vector<32xf32>
// CHECK-COUNT-8: vector.fma %{{.+}}, %[[ROW]], %{{.+}} : vector<32xf32>
// CHECK-NOT: vector.outerproduct
// CHECK-NOT: vector.contract
// CHECK: scf.yield

// -----

// erf on vectors becomes a polynomial (libm has no vector erf; math-to-libm
// would unroll it into scalar calls); row sums become horizontal
// reductions.

func.func @gelu_and_row_sum(%x: memref<4x64xf32>, %y: memref<4x64xf32>, %s: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %pad = ub.poison : f32
  %v = vector.transfer_read %x[%c0, %c0], %pad {in_bounds = [true, true]} : memref<4x64xf32>, vector<4x64xf32>
  %e = math.erf %v : vector<4x64xf32>
  vector.transfer_write %e, %y[%c0, %c0] {in_bounds = [true, true]} : vector<4x64xf32>, memref<4x64xf32>
  %init = vector.transfer_read %s[%c0], %pad {in_bounds = [true]} : memref<4xf32>, vector<4xf32>
  %r = vector.multi_reduction <add>, %v, %init [1] : vector<4x64xf32> to vector<4xf32>
  vector.transfer_write %r, %s[%c0] {in_bounds = [true]} : vector<4xf32>, memref<4xf32>
  return
}
// CHECK-LABEL: func.func @gelu_and_row_sum
// CHECK-NOT: math.erf
// CHECK-COUNT-4: vector.reduction <add>, %{{.+}}, %{{.+}} : vector<64xf32> into f32
// CHECK-NOT: vector.multi_reduction

// -----

// Scalar math is left for libm (the peeled remainders are vectors too).

func.func @scalar_erf_stays(%x: f32) -> f32 {
  %e = math.erf %x : f32
  return %e : f32
}
// CHECK-LABEL: func.func @scalar_erf_stays
// CHECK: math.erf %{{.+}} : f32
