// convert-mb-to-linalg{decode-gemvs}: the projections of a decode step's
// cached attention over 16-bit weights become calls of selected GEMVs on
// the f32 rows (k and v as one over the to_kv weight, whose halves they
// are); weights are read as stored, f32 ones too (an f32 model decodes in
// f32).
// RUN: mbc-opt %s --convert-mb-to-linalg=decode-gemvs=true --split-input-file | FileCheck %s
// RUN: mbc-opt %s --convert-mb-to-linalg --split-input-file | FileCheck %s --check-prefix=OFF

// CHECK-LABEL: func.func @step
// CHECK-SAME: %[[WQ:[a-z0-9]+]]: tensor<128x128xbf16>, %[[WKV:[a-z0-9]+]]: tensor<256x128xbf16>, %[[WO:[a-z0-9]+]]: tensor<128x128xf32>
// CHECK: call @mbc_gemv_0(%{{.*}}, %[[WQ]]) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
// CHECK: call @mbc_gemv_1(%{{.*}}, %[[WKV]]) : (tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32>
// CHECK: tensor.insert_slice
// The output projection's weight is f32: a GEMV reading f32 weights.
// CHECK-NOT: linalg.matmul
// CHECK: call @mbc_gemv_2(%{{.*}}, %[[WO]]) : (tensor<1x128xf32>, tensor<128x128xf32>) -> tensor<1x128xf32>
// CHECK-NOT: linalg.matmul
// CHECK: func.func private @mbc_gemv_0({{.*}} attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
// CHECK: func.func private @mbc_gemv_2({{.*}} attributes {mb.cuda_gemv = {{{.*}}weight_type = f32}}
// OFF-LABEL: func.func @step
// OFF-NOT: call @mbc_gemv
func.func @step(%x: tensor<1x1x128xf32>, %wq16: tensor<128x128xbf16>,
                %wkv16: tensor<256x128xbf16>, %wo: tensor<128x128xf32>,
                %kc: tensor<1x9x128xf32>, %vc: tensor<1x9x128xf32>, %p: index)
    -> (tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>) {
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %r, %k, %v = mb.cached_attention %x, %wq, %wk, %wv, %wo, %kc, %vc at %p {head_dim = 64 : i64, heads = 2 : i64} : (tensor<1x1x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>, index) -> (tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>)
  return %r, %k, %v : tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>
}

// -----

// A layer's caches are static slices of the step's cache arguments: the
// decode-attention kernel reads the whole caches (this layer's rows from
// first_row) with the new row inserted, the insert the step makes anyway,
// and the position straight from its tensor<1xi64> argument.
// CHECK-LABEL: func.func @layer_slices
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<1xi64>, %[[K:[a-z0-9]+]]: tensor<2x9x128xf32>, %[[V:[a-z0-9]+]]: tensor<2x9x128xf32>
// CHECK: %[[KS:.*]] = tensor.extract_slice %[[K]][1, 0, 0] [1, 9, 128]
// CHECK: %[[KROW:.*]] = tensor.insert_slice %{{.*}} into %[[KS]]
// CHECK: %[[KW:.*]] = tensor.insert_slice %[[KROW]] into %[[K]][1, 0, 0] [1, 9, 128]
// CHECK: %[[VW:.*]] = tensor.insert_slice %{{.*}} into %[[V]][1, 0, 0] [1, 9, 128]
// CHECK: call @mbc_decode_attention_0(%{{.*}}, %[[KW]], %[[VW]], %[[POS]]) : (tensor<1x128xf32>, tensor<2x9x128xf32>, tensor<2x9x128xf32>, tensor<1xi64>) -> tensor<1x128xf32>
// CHECK: func.func private @mbc_decode_attention_0({{.*}}) -> tensor<1x128xf32> attributes {mb.cuda_decode_attention = {cache_length = 9 : i64, cache_rows = 2 : i64, first_row = 1 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 1.250000e-01 : f64, sequences = 1 : i64, splits = 1 : i64, warps = 4 : i64}}
// Its body returns a new tensor, so One-Shot Bufferize sees a result that
// aliases no cache and copies none.
// CHECK-NEXT: tensor.empty() : tensor<1x128xf32>
// OFF-LABEL: func.func @layer_slices
// OFF-NOT: call @mbc_decode_attention
func.func @layer_slices(%x: tensor<1x1x128xf32>, %wq16: tensor<128x128xbf16>,
                        %wkv16: tensor<256x128xbf16>, %wo16: tensor<128x128xbf16>,
                        %pos: tensor<1xi64>, %kc: tensor<2x9x128xf32>,
                        %vc: tensor<2x9x128xf32>)
    -> (tensor<1x1x128xf32>, tensor<2x9x128xf32>, tensor<2x9x128xf32>) {
  %c0 = arith.constant 0 : index
  %e = tensor.extract %pos[%c0] : tensor<1xi64>
  %p = arith.index_cast %e : i64 to index
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wo = arith.extf %wo16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %ks = tensor.extract_slice %kc[1, 0, 0] [1, 9, 128] [1, 1, 1] : tensor<2x9x128xf32> to tensor<1x9x128xf32>
  %vs = tensor.extract_slice %vc[1, 0, 0] [1, 9, 128] [1, 1, 1] : tensor<2x9x128xf32> to tensor<1x9x128xf32>
  %r, %k, %v = mb.cached_attention %x, %wq, %wk, %wv, %wo, %ks, %vs at %p {head_dim = 64 : i64, heads = 2 : i64} : (tensor<1x1x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>, index) -> (tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>)
  %kn = tensor.insert_slice %k into %kc[1, 0, 0] [1, 9, 128] [1, 1, 1] : tensor<1x9x128xf32> into tensor<2x9x128xf32>
  %vn = tensor.insert_slice %v into %vc[1, 0, 0] [1, 9, 128] [1, 1, 1] : tensor<1x9x128xf32> into tensor<2x9x128xf32>
  return %r, %kn, %vn : tensor<1x1x128xf32>, tensor<2x9x128xf32>, tensor<2x9x128xf32>
}

// -----

// A long cache (1,024 positions) with few heads: the keys of each head are
// split (flash-decoding) over min(64, ceil(256 CTAs / 2 heads), 1024 / 128)
// = 8 CTAs; with 128 keys a split, 4 warps.
// CHECK-LABEL: func.func @long_cache
// CHECK: call @mbc_decode_attention_0
// CHECK: mb.cuda_decode_attention = {cache_length = 1024 : i64, cache_rows = 1 : i64, first_row = 0 : i64, head_dim = 64 : i64, heads = 2 : i64, keys_per_step = 4 : i64, scale = 1.250000e-01 : f64, sequences = 1 : i64, splits = 8 : i64, warps = 4 : i64}
func.func @long_cache(%x: tensor<1x1x128xf32>, %wq16: tensor<128x128xbf16>,
                      %wkv16: tensor<256x128xbf16>, %wo16: tensor<128x128xbf16>,
                      %pos: tensor<1xi64>, %kc: tensor<1x1024x128xf32>,
                      %vc: tensor<1x1024x128xf32>)
    -> (tensor<1x1x128xf32>, tensor<1x1024x128xf32>, tensor<1x1024x128xf32>) {
  %c0 = arith.constant 0 : index
  %e = tensor.extract %pos[%c0] : tensor<1xi64>
  %p = arith.index_cast %e : i64 to index
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wo = arith.extf %wo16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %r, %k, %v = mb.cached_attention %x, %wq, %wk, %wv, %wo, %kc, %vc at %p {head_dim = 64 : i64, heads = 2 : i64} : (tensor<1x1x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<1x1024x128xf32>, tensor<1x1024x128xf32>, index) -> (tensor<1x1x128xf32>, tensor<1x1024x128xf32>, tensor<1x1024x128xf32>)
  return %r, %k, %v : tensor<1x1x128xf32>, tensor<1x1024x128xf32>, tensor<1x1024x128xf32>
}

// -----

// Rotary: q and k rotate, and v is copied, in one elementwise op over the
// rows [N, 1, H x dh] at the step's position (each element reads its
// partner head-dim / 2 away in its head), whose k and v results are the
// caches' rows at the position (written in place: the insert_slices
// match the extract_slices); without decode GEMVs, applyRotary's two ops
// each.
// CHECK-LABEL: func.func @step_rotary
// CHECK-SAME: %[[KC:[a-z0-9]+]]: tensor<1x9x128xf32>, %[[VC:[a-z0-9]+]]: tensor<1x9x128xf32>, %[[P:[a-z0-9]+]]: index
// CHECK: %[[KROW:.*]] = tensor.extract_slice %[[KC]][0, %[[P]], 0] [1, 1, 128] [1, 1, 1]
// CHECK: %[[VROW:.*]] = tensor.extract_slice %[[VC]][0, %[[P]], 0] [1, 1, 128] [1, 1, 1]
// CHECK: %[[ROT:.*]]:3 = linalg.generic {{.*}} outs(%{{.*}}, %[[KROW]], %[[VROW]] : tensor<1x1x128xf32>, tensor<1x1x128xf32>, tensor<1x1x128xf32>)
// CHECK: arith.remui %{{.*}}, %c64
// CHECK: arith.cmpi ult, %{{.*}}, %c32
// CHECK: math.cos
// CHECK: math.sin
// CHECK: arith.negf
// CHECK: linalg.yield %{{.*}}, %{{.*}}, %{{.*}} : f32, f32, f32
// CHECK-NOT: math.cos
// CHECK: tensor.insert_slice %[[ROT]]#1 into %[[KC]][0, %[[P]], 0] [1, 1, 128] [1, 1, 1]
// CHECK: tensor.insert_slice %[[ROT]]#2 into %[[VC]][0, %[[P]], 0] [1, 1, 128] [1, 1, 1]
// CHECK: call @mbc_decode_attention
// OFF-LABEL: func.func @step_rotary
// OFF-COUNT-2: math.cos
func.func @step_rotary(%x: tensor<1x1x128xf32>, %wq16: tensor<128x128xbf16>,
                %wkv16: tensor<256x128xbf16>, %wo: tensor<128x128xf32>,
                %kc: tensor<1x9x128xf32>, %vc: tensor<1x9x128xf32>, %p: index)
    -> (tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>) {
  %wq = arith.extf %wq16 : tensor<128x128xbf16> to tensor<128x128xf32>
  %wkv = arith.extf %wkv16 : tensor<256x128xbf16> to tensor<256x128xf32>
  %wk = tensor.extract_slice %wkv[0, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %wv = tensor.extract_slice %wkv[128, 0] [128, 128] [1, 1] : tensor<256x128xf32> to tensor<128x128xf32>
  %r, %k, %v = mb.cached_attention %x, %wq, %wk, %wv, %wo, %kc, %vc at %p {head_dim = 64 : i64, heads = 2 : i64, rotary_theta = 1.000000e+04 : f64} : (tensor<1x1x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>, index) -> (tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>)
  return %r, %k, %v : tensor<1x1x128xf32>, tensor<1x9x128xf32>, tensor<1x9x128xf32>
}
