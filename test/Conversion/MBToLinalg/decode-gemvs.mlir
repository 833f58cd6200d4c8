// convert-mb-to-linalg{decode-gemvs}: the projections of a decode step's
// cached attention over 16-bit weights become calls of selected GEMVs on
// the f32 rows (k and v as one over the to_kv weight, whose halves they
// are); an f32 weight keeps the linalg matmul.
// RUN: mbc-opt %s --convert-mb-to-linalg=decode-gemvs=true | FileCheck %s
// RUN: mbc-opt %s --convert-mb-to-linalg | FileCheck %s --check-prefix=OFF

// CHECK-LABEL: func.func @step
// CHECK-SAME: %[[WQ:[a-z0-9]+]]: tensor<128x128xbf16>, %[[WKV:[a-z0-9]+]]: tensor<256x128xbf16>, %[[WO:[a-z0-9]+]]: tensor<128x128xf32>
// CHECK: call @mbc_gemv_0(%{{.*}}, %[[WQ]]) : (tensor<1x128xf32>, tensor<128x128xbf16>) -> tensor<1x128xf32>
// CHECK: call @mbc_gemv_1(%{{.*}}, %[[WKV]]) : (tensor<1x128xf32>, tensor<256x128xbf16>) -> tensor<1x256xf32>
// CHECK: tensor.insert_slice
// The output projection's weight is f32: a linalg contraction.
// CHECK: linalg.matmul
// CHECK-NOT: call @mbc_gemv_2
// CHECK: func.func private @mbc_gemv_0({{.*}} attributes {mb.cuda_gemv = {activation = "none", bias = false, columns_per_warp = 2 : i64, k = 128 : i64, m = 1 : i64, n = 128 : i64, residual = false, warps = 8 : i64, weight_type = bf16}}
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
