// RUN: mbc-opt %s --pass-pipeline="builtin.module(gpu.module(mb-cuda-extern-dynamic-shared))" | FileCheck %s

// The dynamic shared memory base that convert-gpu-to-nvvm makes (an internal
// zero-length array in shared memory) becomes an external declaration, so
// NVPTX declares it as CUDA's dynamic shared memory; the static shared
// mbarriers, a zero-length global of another address space and a shared
// array with a value stay as they are.
// CHECK-LABEL: gpu.module @kernels
// CHECK-DAG: llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK-DAG: llvm.mlir.global private @__mbarrier() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<3 x i64>
// CHECK-DAG: llvm.mlir.global internal @global_empty() {addr_space = 1 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK-DAG: llvm.mlir.global internal @shared_table(dense<1> : tensor<4xi32>) {addr_space = 3 : i32} : !llvm.array<4 x i32>
gpu.module @kernels {
  llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
  llvm.mlir.global private @__mbarrier() {addr_space = 3 : i32, alignment = 8 : i64} : !llvm.array<3 x i64>
  llvm.mlir.global internal @global_empty() {addr_space = 1 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
  llvm.mlir.global internal @shared_table(dense<1> : tensor<4xi32>) {addr_space = 3 : i32} : !llvm.array<4 x i32>
}

// After the whole device pipeline, the PTX declares the base extern, at
// module scope, with no size.
// RUN: mbc-opt %S/Inputs/empty.mlir --mb-cuda-test-build-gemm="m=128 n=128 k=128" -o %t.mlir
// RUN: mbc-opt %t.mlir --mb-cuda-kernels-to-ptx="chip=sm_90a" --mb-cuda-write-ptx=output=%t.ptx -o /dev/null
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// PTX: .extern .shared .align 16 .b8 __dynamic_shmem__0[];
// PTX: .entry gemm(
// PTX: .shared .align 8 .b8 __mbarrier[24];
