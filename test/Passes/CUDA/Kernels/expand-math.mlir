// RUN: mbc-opt %s --pass-pipeline='builtin.module(gpu.module(mb-cuda-expand-math))' | FileCheck %s --implicit-check-not=math.erf --implicit-check-not=math.tanh --implicit-check-not=math.fma --implicit-check-not=math.absf

// GELU's erf and tanh become polynomial arithmetic (no libdevice call after
// convert-gpu-to-nvvm): FMAs as llvm.intr.fma, |x| as a sign-bit mask.
// CHECK-LABEL: gpu.func @gelu
// CHECK: llvm.intr.fma
// CHECK: arith.andi {{.*}} : vector<4xi32>
// CHECK: gpu.return
gpu.module @kernels {
  gpu.func @gelu(%x: vector<4xf32>, %out: memref<8xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %e = math.erf %x : vector<4xf32>
    %t = math.tanh %x : vector<4xf32>
    vector.store %e, %out[%c0] : memref<8xf32>, vector<4xf32>
    vector.store %t, %out[%c4] : memref<8xf32>, vector<4xf32>
    gpu.return
  }
}

// The fused local layer's norms: f32 sqrt as the NVVM intrinsic, not
// libdevice's __nv_sqrtf.
// CHECK-LABEL: gpu.func @norm
// CHECK: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"({{.*}}) : (f32) -> f32
// CHECK-NOT: math.sqrt
// CHECK: gpu.return
gpu.module @norms {
  gpu.func @norm(%x: f32, %out: memref<1xf32>) kernel {
    %c0 = arith.constant 0 : index
    %s = math.sqrt %x : f32
    memref.store %s, %out[%c0] : memref<1xf32>
    gpu.return
  }
}

// The fused local layer's rotary angles: sin and cos as polynomials.
// CHECK-LABEL: gpu.func @rotary
// CHECK-NOT: math.sin
// CHECK-NOT: math.cos
// CHECK-NOT: math.floor
// CHECK: llvm.call_intrinsic "llvm.nvvm.floor.f"
// CHECK: gpu.return
gpu.module @angles {
  gpu.func @rotary(%x: f32, %out: memref<2xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %s = math.sin %x : f32
    %c = math.cos %x : f32
    memref.store %s, %out[%c0] : memref<2xf32>
    memref.store %c, %out[%c1] : memref<2xf32>
    gpu.return
  }
}
