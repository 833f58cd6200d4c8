// RUN: mbc-opt %s | FileCheck %s
// RUN: mbc-opt %s --mlir-print-op-generic | mbc-opt | FileCheck %s

// The paper's form: one-patch shift with a learned pad patch.
// CHECK-LABEL: func @patchify_shift
func.func @patchify_shift(%e: tensor<1x64x16xf32>, %pad: tensor<64xf32>) -> tensor<1x16x64xf32> {
  // CHECK: mb.patchify %{{.*}} shift %{{.*}} {patch_size = 4 : i64} : tensor<1x64x16xf32>, tensor<64xf32> -> tensor<1x16x64xf32>
  %0 = mb.patchify %e shift %pad {patch_size = 4 : i64} : tensor<1x64x16xf32>, tensor<64xf32> -> tensor<1x16x64xf32>
  return %0 : tensor<1x16x64xf32>
}

// MEGABYTE-pytorch's form: plain regrouping, then dual patch norm.
// CHECK-LABEL: func @patchify_plain
func.func @patchify_plain(%e: tensor<3x48x8xf32>) -> tensor<3x8x48xf32> {
  // CHECK: mb.patchify %{{.*}} {patch_size = 6 : i64} : tensor<3x48x8xf32> -> tensor<3x8x48xf32>
  %0 = mb.patchify %e {patch_size = 6 : i64} : tensor<3x48x8xf32> -> tensor<3x8x48xf32>
  return %0 : tensor<3x8x48xf32>
}
