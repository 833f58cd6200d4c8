// ptxsim's TMA 128-byte swizzle against an sm_90 GPU. A 64 x 128 f16 matrix
// B[i][j] = (128 i + j) / 8 is loaded by two cp.async.bulk.tensor boxes of
// 64 x 64 (columns 0..63, then 64..127) into 16 KiB of shared memory with
// the 128-byte swizzle, and the shared memory is printed as it lies (64 rows
// of 128 halves: each printed row is two 128-byte shared rows). The CHECK
// rows are what MLIR's integration test
// mlir/test/Integration/GPU/CUDA/sm90/tma_load_64x64_swizzle128b.mlir
// records for the same load on an sm_90 GPU ("Matrix B"): the 16-byte chunk
// c of box row r lands at chunk c ^ (r % 8). The program is mbc's; mlir-opt
// lowers it and mlir-runner runs it, the kernel on ptxsim through the fake
// CUDA driver and libmbc_mlir_gpu_runtime.so (test/ptxsim/mlir_gpu_runtime.c,
// MLIR's host-side GPU functions on the CUDA driver API).
// REQUIRES: ptxsim, mlir-runner
// RUN: mlir-opt %s -gpu-lower-to-nvvm-pipeline="cubin-chip=sm_90a cubin-features=+ptx80 opt-level=3 cubin-format=isa" \
// RUN:   | %cuda_env mlir-runner --entry-point-result=void \
// RUN:       --shared-libs=%mlir_cuda_runtime,%mlir_runner_utils,%mlir_c_runner_utils \
// RUN:   | FileCheck %s

!matrix = memref<64x128xf16>
!box = memref<64x64xf16, #gpu.address_space<workgroup>>
!map = !nvgpu.tensormap.descriptor<tensor = !box, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>
!barriers = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>, num_barriers = 1>

func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %host = memref.alloc() : !matrix
  scf.for %i = %c0 to %c64 step %c1 {
    scf.for %j = %c0 to %c128 step %c1 {
      %row = arith.muli %i, %c128 : index
      %linear = arith.addi %row, %j : index
      %chunk = arith.divui %linear, %c8 : index
      %int = arith.index_cast %chunk : index to i32
      %value = arith.sitofp %int : i32 to f16
      memref.store %value, %host[%i, %j] : !matrix
    }
  }
  %t0 = gpu.wait async
  %matrix, %t1 = gpu.alloc async [%t0] () : !matrix
  %printed, %t2 = gpu.alloc async [%t1] () : memref<64x128xf32>
  %t3 = gpu.memcpy async [%t2] %matrix, %host : !matrix, !matrix
  gpu.wait [%t3]
  %unranked = memref.cast %matrix : !matrix to memref<*xf16>
  %map = nvgpu.tma.create.descriptor %unranked box[%c64, %c64] : memref<*xf16> -> !map

  // 1 KiB before the boxes keeps them clear of the static mbarrier and
  // 1024-byte aligned, as the swizzle's atoms are.
  %sharedBytes = arith.constant 17408 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%nx = %c128, %ny = %c1, %nz = %c1)
             dynamic_shared_memory_size %sharedBytes {
    %k0 = arith.constant 0 : index
    %k1 = arith.constant 1 : index
    %k64 = arith.constant 64 : index
    %k128 = arith.constant 128 : index
    %first = arith.constant 1024 : index
    %second = arith.constant 9216 : index
    %bytes = arith.constant 16384 : index
    %shared = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %boxA = memref.view %shared[%first][] : memref<?xi8, #gpu.address_space<workgroup>> to !box
    %boxB = memref.view %shared[%second][] : memref<?xi8, #gpu.address_space<workgroup>> to !box
    %tile = memref.view %shared[%first][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64x128xf16, #gpu.address_space<workgroup>>
    %barrier = nvgpu.mbarrier.create -> !barriers
    %leader = arith.cmpi eq, %tx, %k0 : index
    scf.if %leader {
      nvgpu.mbarrier.init %barrier[%k0], %k1 : !barriers
    }
    gpu.barrier
    scf.if %leader {
      nvgpu.mbarrier.arrive.expect_tx %barrier[%k0], %bytes : !barriers
      nvgpu.tma.async.load %map[%k0, %k0], %barrier[%k0] to %boxA : !map, !barriers -> !box
      nvgpu.tma.async.load %map[%k64, %k0], %barrier[%k0] to %boxB : !map, !barriers -> !box
    }
    %phase = arith.constant 0 : i1
    %ticks = arith.constant 10000000 : index
    nvgpu.mbarrier.try_wait.parity %barrier[%k0], %phase, %ticks : !barriers
    scf.for %r = %tx to %k64 step %k128 {
      scf.for %c = %k0 to %k128 step %k1 {
        %half = memref.load %tile[%r, %c] : memref<64x128xf16, #gpu.address_space<workgroup>>
        %wide = arith.extf %half : f16 to f32
        memref.store %wide, %printed[%r, %c] : memref<64x128xf32>
      }
    }
    gpu.terminator
  }
  %result = memref.alloc() : memref<64x128xf32>
  %t4 = gpu.wait async
  %t5 = gpu.memcpy async [%t4] %result, %printed : memref<64x128xf32>, memref<64x128xf32>
  gpu.wait [%t5]
  %print = memref.cast %result : memref<64x128xf32> to memref<*xf32>
  call @printMemrefF32(%print) : (memref<*xf32>) -> ()
  return
}

// CHECK: sizes = [64, 128]
// row 0: box 1, rows 0 and 1
// CHECK-NEXT: 0,   0,   0,   0,   0,   0,   0,   0,   1,   1,   1,   1,   1,   1,   1,   1,   2,   2,   2,   2,   2,   2,   2,   2,   3,   3,   3,   3,   3,   3,   3,   3,   4,   4,   4,   4,   4,   4,   4,   4,   5,   5,   5,   5,   5,   5,   5,   5,   6,   6,   6,   6,   6,   6,   6,   6,   7,   7,   7,   7,   7,   7,   7,   7,   17,   17,   17,   17,   17,   17,   17,   17,   16,   16,   16,   16,   16,   16,   16,   16,   19,   19,   19,   19,   19,   19,   19,   19,   18,   18,   18,   18,   18,   18,   18,   18,   21,   21,   21,   21,   21,   21,   21,   21,   20,   20,   20,   20,   20,   20,   20,   20,   23,   23,   23,   23,   23,   23,   23,   23,   22,   22,   22,   22,   22,   22,   22,   22
// row 1: box 1, rows 2 and 3
// CHECK-NEXT: 34,   34,   34,   34,   34,   34,   34,   34,   35,   35,   35,   35,   35,   35,   35,   35,   32,   32,   32,   32,   32,   32,   32,   32,   33,   33,   33,   33,   33,   33,   33,   33,   38,   38,   38,   38,   38,   38,   38,   38,   39,   39,   39,   39,   39,   39,   39,   39,   36,   36,   36,   36,   36,   36,   36,   36,   37,   37,   37,   37,   37,   37,   37,   37,   51,   51,   51,   51,   51,   51,   51,   51,   50,   50,   50,   50,   50,   50,   50,   50,   49,   49,   49,   49,   49,   49,   49,   49,   48,   48,   48,   48,   48,   48,   48,   48,   55,   55,   55,   55,   55,   55,   55,   55,   54,   54,   54,   54,   54,   54,   54,   54,   53,   53,   53,   53,   53,   53,   53,   53,   52,   52,   52,   52,   52,   52,   52,   52
// row 31: box 1, rows 62 and 63
// CHECK: 998,   998,   998,   998,   998,   998,   998,   998,   999,   999,   999,   999,   999,   999,   999,   999,   996,   996,   996,   996,   996,   996,   996,   996,   997,   997,   997,   997,   997,   997,   997,   997,   994,   994,   994,   994,   994,   994,   994,   994,   995,   995,   995,   995,   995,   995,   995,   995,   992,   992,   992,   992,   992,   992,   992,   992,   993,   993,   993,   993,   993,   993,   993,   993,   1015,   1015,   1015,   1015,   1015,   1015,   1015,   1015,   1014,   1014,   1014,   1014,   1014,   1014,   1014,   1014,   1013,   1013,   1013,   1013,   1013,   1013,   1013,   1013,   1012,   1012,   1012,   1012,   1012,   1012,   1012,   1012,   1011,   1011,   1011,   1011,   1011,   1011,   1011,   1011,   1010,   1010,   1010,   1010,   1010,   1010,   1010,   1010,   1009,   1009,   1009,   1009,   1009,   1009,   1009,   1009,   1008,   1008,   1008,   1008,   1008,   1008,   1008,   1008
// row 32: box 2, rows 0 and 1
// CHECK-NEXT: 8,   8,   8,   8,   8,   8,   8,   8,   9,   9,   9,   9,   9,   9,   9,   9,   10,   10,   10,   10,   10,   10,   10,   10,   11,   11,   11,   11,   11,   11,   11,   11,   12,   12,   12,   12,   12,   12,   12,   12,   13,   13,   13,   13,   13,   13,   13,   13,   14,   14,   14,   14,   14,   14,   14,   14,   15,   15,   15,   15,   15,   15,   15,   15,   25,   25,   25,   25,   25,   25,   25,   25,   24,   24,   24,   24,   24,   24,   24,   24,   27,   27,   27,   27,   27,   27,   27,   27,   26,   26,   26,   26,   26,   26,   26,   26,   29,   29,   29,   29,   29,   29,   29,   29,   28,   28,   28,   28,   28,   28,   28,   28,   31,   31,   31,   31,   31,   31,   31,   31,   30,   30,   30,   30,   30,   30,   30,   30
// row 33: box 2, rows 2 and 3
// CHECK-NEXT: 42,   42,   42,   42,   42,   42,   42,   42,   43,   43,   43,   43,   43,   43,   43,   43,   40,   40,   40,   40,   40,   40,   40,   40,   41,   41,   41,   41,   41,   41,   41,   41,   46,   46,   46,   46,   46,   46,   46,   46,   47,   47,   47,   47,   47,   47,   47,   47,   44,   44,   44,   44,   44,   44,   44,   44,   45,   45,   45,   45,   45,   45,   45,   45,   59,   59,   59,   59,   59,   59,   59,   59,   58,   58,   58,   58,   58,   58,   58,   58,   57,   57,   57,   57,   57,   57,   57,   57,   56,   56,   56,   56,   56,   56,   56,   56,   63,   63,   63,   63,   63,   63,   63,   63,   62,   62,   62,   62,   62,   62,   62,   62,   61,   61,   61,   61,   61,   61,   61,   61,   60,   60,   60,   60,   60,   60,   60,   60
// row 63: box 2, rows 62 and 63
// CHECK: 1006,   1006,   1006,   1006,   1006,   1006,   1006,   1006,   1007,   1007,   1007,   1007,   1007,   1007,   1007,   1007,   1004,   1004,   1004,   1004,   1004,   1004,   1004,   1004,   1005,   1005,   1005,   1005,   1005,   1005,   1005,   1005,   1002,   1002,   1002,   1002,   1002,   1002,   1002,   1002,   1003,   1003,   1003,   1003,   1003,   1003,   1003,   1003,   1000,   1000,   1000,   1000,   1000,   1000,   1000,   1000,   1001,   1001,   1001,   1001,   1001,   1001,   1001,   1001,   1023,   1023,   1023,   1023,   1023,   1023,   1023,   1023,   1022,   1022,   1022,   1022,   1022,   1022,   1022,   1022,   1021,   1021,   1021,   1021,   1021,   1021,   1021,   1021,   1020,   1020,   1020,   1020,   1020,   1020,   1020,   1020,   1019,   1019,   1019,   1019,   1019,   1019,   1019,   1019,   1018,   1018,   1018,   1018,   1018,   1018,   1018,   1018,   1017,   1017,   1017,   1017,   1017,   1017,   1017,   1017,   1016,   1016,   1016,   1016,   1016,   1016,   1016,   1016
