// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s

// Norms: reductions over the last dim (parallel..., reduction), then one
// element-wise generic that normalises and applies the per-feature params.

// CHECK-DAG: #[[X:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[FEATURE:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[X2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW2:.+]] = affine_map<(d0, d1) -> (d0)>

// LayerNorm: sum, then the sum of squared deviations from the mean (biased
// variance), then (x - mean) * (1 / sqrt(var + eps)) * w + b.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[IN:.+]]: tensor<2x5x8xf32>, %[[W:.+]]: tensor<8xf32>, %[[B:.+]]: tensor<8xf32>)
// CHECK-DAG: %[[D:.+]] = arith.constant 8.000000e+00 : f32
// CHECK-DAG: %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[X]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[IN]] : tensor<2x5x8xf32>)
// CHECK: arith.addf
// CHECK: %[[SQDEV:.+]] = linalg.generic {indexing_maps = [#[[X]], #[[ROW]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[IN]], %[[SUM]] :
// CHECK: %[[MEAN:.+]] = arith.divf %{{.+}}, %[[D]]
// CHECK: %[[DEV:.+]] = arith.subf %{{.+}}, %[[MEAN]]
// CHECK: arith.mulf %[[DEV]], %[[DEV]]
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[ROW]], #[[ROW]], #[[FEATURE]], #[[FEATURE]], #[[X]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[IN]], %[[SUM]], %[[SQDEV]], %[[W]], %[[B]] :
// CHECK: arith.divf %{{.+}}, %[[D]]
// CHECK-NEXT: %[[VAR:.+]] = arith.divf %{{.+}}, %[[D]]
// CHECK: %[[VAREPS:.+]] = arith.addf %[[VAR]], %[[EPS]]
// CHECK: math.sqrt %[[VAREPS]]
func.func @layer_norm(%x: tensor<2x5x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64} : (tensor<2x5x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// Plain RMSNorm: x * rsqrt(sum(x^2) / D + eps) * w, rsqrt as 1 / sqrt.
// CHECK-LABEL: func.func @rms_norm
// CHECK-DAG: %[[EPS:.+]] = arith.constant 9.99999997E-7 : f32
// CHECK-DAG: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[D:.+]] = arith.constant 8.000000e+00 : f32
// CHECK: %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[X]], #[[ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[ROW]], #[[FEATURE]], #[[X]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%{{.+}}, %[[SQ]], %{{.+}} :
// CHECK: %[[MS:.+]] = arith.divf %{{.+}}, %[[D]]
// CHECK: %[[MSEPS:.+]] = arith.addf %[[MS]], %[[EPS]]
// CHECK: %[[ROOT:.+]] = math.sqrt %[[MSEPS]]
// CHECK: %[[INV:.+]] = arith.divf %[[ONE]], %[[ROOT]]
// CHECK: arith.mulf %{{.+}}, %[[INV]]
// CHECK-NOT: arith.maximumf
// CHECK: return
func.func @rms_norm(%x: tensor<2x5x8xf32>, %w: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : (tensor<2x5x8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// MEGABYTE-pytorch's RMSNorm: x / max(sqrt(sum(x^2)) * D^-1/2, eps) * w.
// CHECK-LABEL: func.func @rms_norm_clamp
// CHECK-DAG: %[[EPS:.+]] = arith.constant 9.99999993E-9 : f32
// CHECK-DAG: %[[SCALE:.+]] = arith.constant 0.353553385 : f32
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: %[[ROOT:.+]] = math.sqrt
// CHECK: %[[NORM:.+]] = arith.mulf %[[ROOT]], %[[SCALE]]
// CHECK: %[[CLAMPED:.+]] = arith.maximumf %[[NORM]], %[[EPS]]
// CHECK: arith.divf %{{.+}}, %[[CLAMPED]]
// CHECK-NOT: math.rsqrt
// CHECK: return
func.func @rms_norm_clamp(%x: tensor<2x5x8xf32>, %w: tensor<8xf32>) -> tensor<2x5x8xf32> {
  %0 = mb.rms_norm %x, %w {clamp, epsilon = 1.0e-08 : f64} : (tensor<2x5x8xf32>, tensor<8xf32>) -> tensor<2x5x8xf32>
  return %0 : tensor<2x5x8xf32>
}

// Any rank >= 1: a rank-2 input reduces over d1.
// CHECK-LABEL: func.func @layer_norm_rank2
// CHECK: linalg.generic {indexing_maps = [#[[X2]], #[[ROW2]]], iterator_types = ["parallel", "reduction"]}
func.func @layer_norm_rank2(%x: tensor<4x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %0 = mb.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64} : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
