// RUN: mbc-opt %s --mb-cuda-outline-kernels | FileCheck %s

// Every launch becomes a kernel of one gpu.module, named after its function
// and its index there; the constant table a kernel reads moves with it.
// CHECK: module attributes {gpu.container_module}
// CHECK-NOT: memref.global
// CHECK-LABEL: func.func @score
// CHECK: gpu.launch_func @mbc_kernels::@score_dispatch_0 blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%arg0 : memref<4xf32>)
// CHECK: gpu.launch_func @mbc_kernels::@score_dispatch_1 {{.*}} args(%[[T:.*]] : memref<4xf32>)
// CHECK: gpu.module @mbc_kernels
// CHECK-DAG: gpu.func @score_dispatch_0(%{{.*}}: memref<4xf32>) kernel
// CHECK-DAG: gpu.func @score_dispatch_1(%{{.*}}: memref<4xf32>) kernel
// CHECK-DAG: memref.global "private" constant @table
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
func.func @score(%out: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %t = memref.get_global @table : memref<4xf32>
    %v = memref.load %t[%tx] : memref<4xf32>
    memref.store %v, %out[%tx] : memref<4xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
    %v = memref.load %out[%tx] : memref<4xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %out[%tx] : memref<4xf32>
    gpu.terminator
  }
  return
}
