// RUN: mbc-opt %s --mb-weights-to-arguments -split-input-file -verify-diagnostics

// expected-error @+1 {{argument 1 needs a static tensor type of f32/i32/i64 and an mb.name attribute}}
func.func @unnamed(%bytes: tensor<1x8xi32>) {
  return
}

// -----

// expected-error @+1 {{result 0 needs a static tensor type of f32/i32/i64 and an mb.name attribute}}
func.func @unnamed_result(%bytes: tensor<1x8xi32> {mb.name = "bytes"}) -> tensor<1x8xi32> {
  return %bytes : tensor<1x8xi32>
}
