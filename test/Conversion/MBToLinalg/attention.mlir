// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s

// Attention: q/k/v projections (matmul, transposed weight), heads split and
// moved to the batch dim, q k^T as a batch_matmul with a transposed k map,
// scale + causal select, stable softmax, p v, heads merged, out-projection.

// CHECK-DAG: #[[LHS:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[WEIGHT_T:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[ID4:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[FREQ:.+]] = affine_map<(d0, d1, d2, d3) -> (d3)>
// CHECK-DAG: #[[Q:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[K_T:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[SCORES:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// Decode contractions read the caches [N, L, H, dh] in place.
// CHECK-DAG: #[[CACHE_K:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
// CHECK-DAG: #[[CACHE_V:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d1, d2)>

// CHECK-LABEL: func.func @global_attention
// CHECK-SAME: (%[[X:.+]]: tensor<2x5x32xf32>, %[[WQ:.+]]: tensor<16x32xf32>, %[[WK:.+]]: tensor<16x32xf32>, %[[WV:.+]]: tensor<16x32xf32>, %[[WO:.+]]: tensor<32x16xf32>)
// CHECK: %[[ROWS:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : tensor<2x5x32xf32> into tensor<10x32xf32>
// CHECK: %[[QP:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[WQ]] :
// CHECK: %[[Q4:.+]] = tensor.expand_shape %[[QP]] {{\[}}[0, 1], [2, 3]] output_shape [2, 5, 2, 8]
// CHECK: %[[KP:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[WK]] :
// CHECK: %[[K4:.+]] = tensor.expand_shape %[[KP]]
// CHECK: %[[VP:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[ROWS]], %[[WV]] :
// CHECK: %[[V4:.+]] = tensor.expand_shape %[[VP]]
// CHECK-NOT: math.cos
// CHECK: %[[QT:.+]] = linalg.transpose ins(%[[Q4]] : tensor<2x5x2x8xf32>) outs(%{{.+}} : tensor<2x2x5x8xf32>) permutation = [0, 2, 1, 3]
// CHECK: %[[QB:.+]] = tensor.collapse_shape %[[QT]] {{\[}}[0, 1], [2], [3]] : tensor<2x2x5x8xf32> into tensor<4x5x8xf32>
// CHECK: %[[KT:.+]] = linalg.transpose ins(%[[K4]]
// CHECK: %[[KB:.+]] = tensor.collapse_shape %[[KT]]
// CHECK: %[[VT:.+]] = linalg.transpose ins(%[[V4]]
// CHECK: %[[VB:.+]] = tensor.collapse_shape %[[VT]]
// CHECK: %[[S:.+]] = linalg.batch_matmul indexing_maps = [#[[Q]], #[[K_T]], #[[SCORES]]] ins(%[[QB]], %[[KB]] : tensor<4x5x8xf32>, tensor<4x5x8xf32>) outs(%{{.+}} : tensor<4x5x5xf32>)
// Default scale head_dim^-0.5; masked entries get the lowest finite f32.
// CHECK-DAG: %[[SCALE:.+]] = arith.constant 0.353553385 : f32
// CHECK-DAG: %[[LOWEST:.+]] = arith.constant -3.40282347E+38 : f32
// CHECK: %[[MASKED:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[S]] : tensor<4x5x5xf32>)
// CHECK: ^bb0(%[[SCORE:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[QUERY:.+]] = linalg.index 1 : index
// CHECK: %[[KEY:.+]] = linalg.index 2 : index
// CHECK: %[[VISIBLE:.+]] = arith.cmpi ule, %[[KEY]], %[[QUERY]] : index
// CHECK: %[[SCALED:.+]] = arith.mulf %[[SCORE]], %[[SCALE]]
// CHECK: %[[SEL:.+]] = arith.select %[[VISIBLE]], %[[SCALED]], %[[LOWEST]] : f32
// CHECK: linalg.yield %[[SEL]]
// CHECK: %[[NEG_INF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MAX_INIT:.+]] = linalg.fill ins(%[[NEG_INF]] : f32)
// CHECK: %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MASKED]] : tensor<4x5x5xf32>) outs(%[[MAX_INIT]] : tensor<4x5xf32>)
// CHECK: arith.maximumf
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[OUT]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MASKED]], %[[MAX]] :
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: %[[P:.+]] = linalg.generic {indexing_maps = [#[[ID3]], #[[OUT]], #[[OUT]], #[[ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[MASKED]], %[[MAX]], %[[SUM]] :
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: %[[PV:.+]] = linalg.batch_matmul ins(%[[P]], %[[VB]] : tensor<4x5x5xf32>, tensor<4x5x8xf32>) outs(%{{.+}} : tensor<4x5x8xf32>)
// CHECK: %[[PV4:.+]] = tensor.expand_shape %[[PV]] {{\[}}[0, 1], [2], [3]] output_shape [2, 2, 5, 8]
// CHECK: %[[MERGED:.+]] = linalg.transpose ins(%[[PV4]] : tensor<2x2x5x8xf32>) outs(%{{.+}} : tensor<2x5x2x8xf32>) permutation = [0, 2, 1, 3]
// CHECK: %[[MROWS:.+]] = tensor.collapse_shape %[[MERGED]] {{\[}}[0, 1], [2, 3]] : tensor<2x5x2x8xf32> into tensor<10x16xf32>
// CHECK: %[[O:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]] ins(%[[MROWS]], %[[WO]] : tensor<10x16xf32>, tensor<32x16xf32>)
// CHECK: %[[R:.+]] = tensor.expand_shape %[[O]] {{\[}}[0, 1], [2]] output_shape [2, 5, 32]
// CHECK: return %[[R]]
func.func @global_attention(%x: tensor<2x5x32xf32>, %wq: tensor<16x32xf32>, %wk: tensor<16x32xf32>, %wv: tensor<16x32xf32>, %wo: tensor<32x16xf32>) -> tensor<2x5x32xf32> {
  %0 = mb.global_attention %x, %wq, %wk, %wv, %wo {head_dim = 8 : i64, heads = 2 : i64} : (tensor<2x5x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<2x5x32xf32>
  return %0 : tensor<2x5x32xf32>
}

// Rotary (NeoX rotate-half over the full head dim) on q and k only:
// inv_freq[i] = 1 / theta^(2i/dh) as f32 constants, angle = s * inv_freq[i],
// first half x1*cos - x2*sin, second half x2*cos + x1*sin.
// CHECK-LABEL: func.func @local_attention_rotary
// CHECK: %[[INV_FREQ:.+]] = arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
// CHECK: %[[X1:.+]] = tensor.extract_slice %{{.+}}[0, 0, 0, 0] [8, 5, 2, 4] [1, 1, 1, 1] : tensor<8x5x2x8xf32> to tensor<8x5x2x4xf32>
// CHECK: %[[X2:.+]] = tensor.extract_slice %{{.+}}[0, 0, 0, 4] [8, 5, 2, 4] [1, 1, 1, 1] : tensor<8x5x2x8xf32> to tensor<8x5x2x4xf32>
// CHECK: %[[ROT:.+]]:2 = linalg.generic {indexing_maps = [#[[ID4]], #[[ID4]], #[[FREQ]], #[[ID4]], #[[ID4]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[X1]], %[[X2]], %[[INV_FREQ]] :
// CHECK: ^bb0(%[[A:.+]]: f32, %[[B:.+]]: f32, %[[F:.+]]: f32, %{{.+}}: f32, %{{.+}}: f32):
// CHECK: %[[POS:.+]] = linalg.index 1 : index
// CHECK: %[[POSI:.+]] = arith.index_castui %[[POS]] : index to i64
// CHECK: %[[POSF:.+]] = arith.uitofp %[[POSI]] : i64 to f32
// CHECK: %[[ANGLE:.+]] = arith.mulf %[[POSF]], %[[F]]
// CHECK: %[[COS:.+]] = math.cos %[[ANGLE]]
// CHECK: %[[SIN:.+]] = math.sin %[[ANGLE]]
// CHECK: %[[NEG:.+]] = arith.negf %[[B]]
// CHECK: %[[NEGSIN:.+]] = arith.mulf %[[NEG]], %[[SIN]]
// CHECK: %[[ACOS:.+]] = arith.mulf %[[A]], %[[COS]]
// CHECK: %[[OUT1:.+]] = arith.addf %[[ACOS]], %[[NEGSIN]]
// CHECK: %[[ASIN:.+]] = arith.mulf %[[A]], %[[SIN]]
// CHECK: %[[BCOS:.+]] = arith.mulf %[[B]], %[[COS]]
// CHECK: %[[OUT2:.+]] = arith.addf %[[BCOS]], %[[ASIN]]
// CHECK: linalg.yield %[[OUT1]], %[[OUT2]]
// CHECK: tensor.insert_slice %[[ROT]]#0 into %{{.+}}[0, 0, 0, 0] [8, 5, 2, 4]
// CHECK: tensor.insert_slice %[[ROT]]#1 into %{{.+}}[0, 0, 0, 4] [8, 5, 2, 4]
// The same rotation for k, none for v.
// CHECK: linalg.generic
// CHECK: math.cos
// CHECK-NOT: math.cos
// CHECK: linalg.batch_matmul indexing_maps = [#[[Q]], #[[K_T]], #[[SCORES]]]
// An explicit scale replaces head_dim^-0.5.
// CHECK: arith.constant 2.500000e-01 : f32
// CHECK: arith.cmpi ule
// CHECK: arith.select
func.func @local_attention_rotary(%x: tensor<8x5x16xf32>, %wq: tensor<16x16xf32>, %wk: tensor<16x16xf32>, %wv: tensor<16x16xf32>, %wo: tensor<16x16xf32>) -> tensor<8x5x16xf32> {
  %0 = mb.local_attention %x, %wq, %wk, %wv, %wo {head_dim = 8 : i64, heads = 2 : i64, rotary_theta = 1.000000e+04 : f64, scale = 2.500000e-01 : f64} : (tensor<8x5x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<8x5x16xf32>
  return %0 : tensor<8x5x16xf32>
}

// One decode step: q/k/v of the new position, rotary at `position`, k and v
// written into the caches at row `position`, contractions that read the
// caches in place as [N, L, H, dh], keys after `position` masked.
// CHECK-LABEL: func.func @cached_attention
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<2x9x16xf32>, %[[VC:[a-z0-9]+]]: tensor<2x9x16xf32>, %[[P:[a-z0-9]+]]: index)
// CHECK-COUNT-2: linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]]
// CHECK: %[[VP:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]]
// CHECK: %[[V:.+]] = tensor.expand_shape %[[VP]] {{.*}} output_shape [2, 1, 2, 8]
// CHECK: linalg.index 1 : index
// CHECK: arith.addi %{{.+}}, %[[P]] : index
// CHECK: math.cos
// CHECK: linalg.index 1 : index
// CHECK: arith.addi %{{.+}}, %[[P]] : index
// CHECK: %[[K:.+]] = tensor.insert_slice %{{.+}} into %{{.+}}[0, 0, 0, 4]
// CHECK: %[[KROW:.+]] = tensor.collapse_shape %[[K]] {{.*}} into tensor<2x1x16xf32>
// CHECK: %[[NEWK:.+]] = tensor.insert_slice %[[KROW]] into %[[KC]][0, %[[P]], 0] [2, 1, 16] [1, 1, 1]
// CHECK: %[[VROW:.+]] = tensor.collapse_shape %[[V]] {{.*}} into tensor<2x1x16xf32>
// CHECK: %[[NEWV:.+]] = tensor.insert_slice %[[VROW]] into %[[VC]][0, %[[P]], 0] [2, 1, 16] [1, 1, 1]
// CHECK: %[[KEYS:.+]] = tensor.expand_shape %[[NEWK]] {{.*}} output_shape [2, 9, 2, 8]
// CHECK: %[[VALUES:.+]] = tensor.expand_shape %[[NEWV]] {{.*}} output_shape [2, 9, 2, 8]
// CHECK: %[[S:.+]] = linalg.generic {indexing_maps = [#[[Q]], #[[CACHE_K]], #[[SCORES]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.+}}, %[[KEYS]] : tensor<2x2x8xf32>, tensor<2x9x2x8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[S]] : tensor<2x2x9xf32>)
// CHECK: %[[KEY:.+]] = linalg.index 2 : index
// CHECK: %[[VISIBLE:.+]] = arith.cmpi ule, %[[KEY]], %[[P]] : index
// CHECK: arith.select %[[VISIBLE]]
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: %[[PROB:.+]] = linalg.generic
// CHECK: arith.divf
// CHECK: %[[ATT:.+]] = linalg.generic {indexing_maps = [#[[Q]], #[[CACHE_V]], #[[SCORES]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[PROB]], %[[VALUES]] : tensor<2x2x9xf32>, tensor<2x9x2x8xf32>)
// CHECK: %[[O:.+]] = linalg.matmul indexing_maps = [#[[LHS]], #[[WEIGHT_T]], #[[OUT]]]
// CHECK: %[[R:.+]] = tensor.expand_shape %[[O]] {{.*}} output_shape [2, 1, 32]
// CHECK: return %[[R]], %[[NEWK]], %[[NEWV]]
func.func @cached_attention(%x: tensor<2x1x32xf32>, %wq: tensor<16x32xf32>, %wk: tensor<16x32xf32>, %wv: tensor<16x32xf32>, %wo: tensor<32x16xf32>, %kc: tensor<2x9x16xf32>, %vc: tensor<2x9x16xf32>, %p: index) -> (tensor<2x1x32xf32>, tensor<2x9x16xf32>, tensor<2x9x16xf32>) {
  %r, %k, %v = mb.cached_attention %x, %wq, %wk, %wv, %wo, %kc, %vc at %p {head_dim = 8 : i64, heads = 2 : i64, rotary_theta = 1.000000e+04 : f64} : (tensor<2x1x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<2x9x16xf32>, tensor<2x9x16xf32>, index) -> (tensor<2x1x32xf32>, tensor<2x9x16xf32>, tensor<2x9x16xf32>)
  return %r, %k, %v : tensor<2x1x32xf32>, tensor<2x9x16xf32>, tensor<2x9x16xf32>
}
