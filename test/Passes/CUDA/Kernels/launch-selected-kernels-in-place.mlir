// mb-cuda-launch-selected-kernels then mb-elide-output-copies (as the CUDA
// pipeline runs them): a kernel result only copied into an entry's output
// is written there directly.
// RUN: mbc-opt %s --pass-pipeline='builtin.module(mb-cuda-launch-selected-kernels, func.func(mb-elide-output-copies))' | FileCheck %s

// A result only copied (through a reshape) into an out-param that nothing
// else uses: the kernel writes the out-param directly (viewed with the
// result's shape), no allocation and no copy remain. An out-param that is
// also read keeps the allocation and the copy.
// CHECK-LABEL: func.func @in_place
// CHECK-SAME: (%[[X:.*]]: memref<1x256xf32>, %[[OUT:.*]]: memref<256xf32>)
// CHECK-NOT: memref.alloc
// CHECK: %[[VIEW:.*]] = memref.expand_shape %[[OUT]] {{\[\[}}0, 1]] output_shape [1, 256] : memref<256xf32> into memref<1x256xf32>
// CHECK: gpu.launch_func @mbc_kernels::@in_place_log_softmax_0 {{.*}} args(%[[X]] : memref<1x256xf32>, %[[VIEW]] : memref<1x256xf32>)
// CHECK-NOT: linalg.copy
// CHECK: return
// CHECK-LABEL: func.func @out_param_read
// CHECK: %[[ALLOC:.*]] = memref.alloc() : memref<1x256xf32>
// CHECK: gpu.launch_func @mbc_kernels::@in_place_log_softmax_0 {{.*}} args(%{{.*}} : memref<1x256xf32>, %[[ALLOC]] : memref<1x256xf32>)
// CHECK: linalg.copy
func.func private @mbc_log_softmax_0(memref<1x256xf32>) -> memref<1x256xf32> attributes {mb.cuda_log_softmax = {columns = 256 : i64, rows = 1 : i64}}
func.func @in_place(%x: memref<1x256xf32>, %out: memref<256xf32>) {
  %0 = call @mbc_log_softmax_0(%x) : (memref<1x256xf32>) -> memref<1x256xf32>
  %1 = memref.collapse_shape %0 [[0, 1]] : memref<1x256xf32> into memref<256xf32>
  linalg.copy ins(%1 : memref<256xf32>) outs(%out : memref<256xf32>)
  return
}
func.func @out_param_read(%x: memref<1x256xf32>, %out: memref<256xf32>, %other: memref<256xf32>) {
  linalg.copy ins(%out : memref<256xf32>) outs(%other : memref<256xf32>)
  %0 = call @mbc_log_softmax_0(%x) : (memref<1x256xf32>) -> memref<1x256xf32>
  %1 = memref.collapse_shape %0 [[0, 1]] : memref<1x256xf32> into memref<256xf32>
  linalg.copy ins(%1 : memref<256xf32>) outs(%out : memref<256xf32>)
  return
}
