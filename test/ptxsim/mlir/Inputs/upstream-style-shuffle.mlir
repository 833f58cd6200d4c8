// A program in the form of MLIR's CUDA integration tests (their RUN line
// substitutions, host code through MLIR's GPU runtime functions), for
// run-mlir-integration-tests.test: a warp's butterfly sum of its lane ids.
// RUN: mlir-opt %s -gpu-lower-to-nvvm-pipeline="cubin-format=%gpu_compilation_format" \
// RUN: | mlir-runner \
// RUN:   --shared-libs=%mlir_cuda_runtime \
// RUN:   --shared-libs=%mlir_runner_utils \
// RUN:   --entry-point-result=void \
// RUN: | FileCheck %s

// CHECK: [496,  496,  496,
func.func @main() {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %t0 = gpu.wait async
  %sums, %t1 = gpu.alloc async [%t0] () : memref<32xf32>
  gpu.wait [%t1]
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%nx = %c32, %ny = %c1, %nz = %c1) {
    %lane = arith.index_cast %tx : index to i32
    %value = arith.sitofp %lane : i32 to f32
    %width = arith.constant 32 : i32
    %o1 = arith.constant 1 : i32
    %o2 = arith.constant 2 : i32
    %o4 = arith.constant 4 : i32
    %o8 = arith.constant 8 : i32
    %o16 = arith.constant 16 : i32
    %s1, %v1 = gpu.shuffle xor %value, %o1, %width : f32
    %a1 = arith.addf %value, %s1 : f32
    %s2, %v2 = gpu.shuffle xor %a1, %o2, %width : f32
    %a2 = arith.addf %a1, %s2 : f32
    %s4, %v4 = gpu.shuffle xor %a2, %o4, %width : f32
    %a4 = arith.addf %a2, %s4 : f32
    %s8, %v8 = gpu.shuffle xor %a4, %o8, %width : f32
    %a8 = arith.addf %a4, %s8 : f32
    %s16, %v16 = gpu.shuffle xor %a8, %o16, %width : f32
    %a16 = arith.addf %a8, %s16 : f32
    memref.store %a16, %sums[%tx] : memref<32xf32>
    gpu.terminator
  }
  %host = memref.alloc() : memref<32xf32>
  %t2 = gpu.wait async
  %t3 = gpu.memcpy async [%t2] %host, %sums : memref<32xf32>, memref<32xf32>
  gpu.wait [%t3]
  %print = memref.cast %host : memref<32xf32> to memref<*xf32>
  call @printMemrefF32(%print) : (memref<*xf32>) -> ()
  return
}
func.func private @printMemrefF32(memref<*xf32>)
