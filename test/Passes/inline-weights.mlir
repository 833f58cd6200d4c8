// mb-inline-weights attaches tensors by name, and names the parameter when a
// tensor is missing or its type differs.
// RUN: rm -rf %t && %make_model --arch megabyte-lucidrains --stages '16,1,2,8,4;8,1,2,4,4' -o %t
// RUN: mbc-opt %s --mb-inline-weights=weights=%t/model.safetensors -split-input-file -verify-diagnostics | FileCheck %s

// CHECK: mb.param "to_logits.bias" = dense_resource<to_logits.bias> : tensor<256xf32> : tensor<256xf32>
func.func @ok() -> tensor<256xf32> {
  %0 = mb.param "to_logits.bias" : tensor<256xf32>
  return %0 : tensor<256xf32>
}

// -----

func.func @missing() -> tensor<256xf32> {
  // expected-error @+1 {{tensor 'no.such.tensor' is not in}}
  %0 = mb.param "no.such.tensor" : tensor<256xf32>
  return %0 : tensor<256xf32>
}

// -----

func.func @wrong_type() -> tensor<128xf32> {
  // expected-error @+1 {{model.safetensors is 'tensor<256xf32>', the op expects 'tensor<128xf32>'}}
  %0 = mb.param "to_logits.bias" : tensor<128xf32>
  return %0 : tensor<128xf32>
}
