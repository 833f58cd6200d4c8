// RUN: mbc-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(mb-cuda-form-kernels))'
// RUN: not mbc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mb-cuda-form-kernels{block-size=48}))' 2>&1 | FileCheck %s --check-prefix=BLOCK
// BLOCK: mb-cuda-form-kernels: block-size must be a multiple of 32 in [32, 1024], got 48

func.func @host_store(%out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  // expected-error @below {{'memref.store' op mb-cuda-form-kernels: cannot run on the device}}
  memref.store %one, %out[%c0] : memref<4xf32>
  return
}

// -----

func.func @dynamic_grid(%n: index, %out: memref<?xf32>) {
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'scf.forall' op mb-cuda-form-kernels: a workgroup forall needs static bounds}}
  scf.forall (%i) in (%n) {
    %v = memref.subview %out[%i] [1] [1] : memref<?xf32> to memref<1xf32, strided<[1], offset: ?>>
    linalg.fill ins(%zero : f32) outs(%v : memref<1xf32, strided<[1], offset: ?>>)
  }
  return
}

