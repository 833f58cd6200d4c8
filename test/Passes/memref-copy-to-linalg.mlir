// RUN: mbc-opt %s --mb-memref-copy-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @copy(
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%{{.*}} : memref<4x2xf32, strided<[8, 1], offset: 2>>) outs(%{{.*}} : memref<4x2xf32>)
func.func @copy(%a: memref<4x8xf32>, %b: memref<4x2xf32>) {
  %s = memref.subview %a[0, 2] [4, 2] [1, 1] : memref<4x8xf32> to memref<4x2xf32, strided<[8, 1], offset: 2>>
  memref.copy %s, %b : memref<4x2xf32, strided<[8, 1], offset: 2>> to memref<4x2xf32>
  return
}
