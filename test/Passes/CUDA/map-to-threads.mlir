// RUN: mbc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(mb-cuda-map-to-threads))' | FileCheck %s

// Grid mapping: thread (block * blockDim + tid) takes every
// (gridDim * blockDim)-th element of the linearized [4, 300] space, the
// innermost dimension fastest (adjacent threads, adjacent elements);
// the reduction stays a sequential loop in each thread, its accumulator in
// a register (one load before, one store after); exp becomes a
// polynomial and sqrt an LLVM intrinsic (no libdevice call).
// CHECK-LABEL: func.func @grid
// CHECK: gpu.launch blocks([[BX:%[a-z0-9_]+]], %{{.*}}, %{{.*}}) in ([[GX:%[a-z0-9_]+]] = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads([[TX:%[a-z0-9_]+]], %{{.*}}, %{{.*}}) in ([[BDX:%[a-z0-9_]+]] = %{{.*}},
// CHECK: [[START:%[a-z0-9_]+]] = arith.muli [[BX]], [[BDX]]
// CHECK: [[FIRST:%[a-z0-9_]+]] = arith.addi [[START]], [[TX]]
// CHECK: [[STRIDE:%[a-z0-9_]+]] = arith.muli [[GX]], [[BDX]]
// CHECK: scf.for [[L:%[a-z0-9_]+]] = [[FIRST]] to %{{.*}} step [[STRIDE]]
// CHECK: [[COL:%[a-z0-9_]+]] = arith.remui [[L]], %c300
// CHECK: [[ROW:%[a-z0-9_]+]] = arith.divui [[L]], %c300
// CHECK: [[INIT:%[a-z0-9_]+]] = memref.load %{{.*}}[[[ROW]], [[COL]]]
// CHECK: [[SUM:%[a-z0-9_]+]] = scf.for [[K:%[a-z0-9_]+]] = {{.*}} iter_args([[ACC:%[a-z0-9_]+]] = [[INIT]]) -> (f32)
// CHECK: memref.load %{{.*}}[[[ROW]], [[COL]], [[K]]]
// CHECK-NOT: math.exp
// CHECK: llvm.call_intrinsic "llvm.sqrt.f32"(%{{.*}}) : (f32) -> f32
// CHECK-NOT: memref.store
// CHECK: [[NEXT:%[a-z0-9_]+]] = arith.addf %{{.*}}, [[ACC]]
// CHECK: scf.yield [[NEXT]]
// CHECK: memref.store [[SUM]], %{{.*}}[[[ROW]], [[COL]]]
// CHECK-NOT: gpu.barrier
#in = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @grid(%a: memref<4x300x16xf32>, %b: memref<4x300xf32>) {
  %c1 = arith.constant 1 : index
  %c5 = arith.constant 5 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c5, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%a : memref<4x300x16xf32>) outs(%b : memref<4x300xf32>) {
    ^bb0(%x: f32, %acc: f32):
      %e = math.exp %x : f32
      %r = math.sqrt %e : f32
      %s = arith.addf %r, %acc : f32
      linalg.yield %s : f32
    }
    gpu.terminator
  } {mb.thread_mapping = "grid"}
  return
}

// -----

// A grid launch holding several ops (mb-cuda-form-kernels grouped ops whose
// dependences stay inside one thread): each op's iterations are dealt out
// the same way, one after the other, with no barrier between them.
// CHECK-LABEL: func.func @grid_group
// CHECK: [[FIRST:%[a-z0-9_]+]] = arith.addi
// CHECK: [[STRIDE:%[a-z0-9_]+]] = arith.muli
// CHECK: scf.for [[I:%[a-z0-9_]+]] = [[FIRST]] to %c64{{(_[0-9]+)?}} step [[STRIDE]]
// CHECK: memref.store %{{.*}}, [[TMP:%[a-z0-9_]+]][[[I]]]
// CHECK-NOT: gpu.barrier
// CHECK: scf.for [[J:%[a-z0-9_]+]] = [[FIRST]] to %c64{{(_[0-9]+)?}} step [[STRIDE]]
// CHECK: memref.load [[TMP]][[[J]]]
// CHECK-NOT: gpu.barrier
// CHECK: gpu.terminator
#id1 = affine_map<(d0) -> (d0)>
func.func @grid_group(%a: memref<64xf32>, %b: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %tmp = memref.alloc() : memref<64xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
        ins(%a : memref<64xf32>) outs(%tmp : memref<64xf32>) {
    ^bb0(%x: f32, %o: f32):
      %d = arith.addf %x, %x : f32
      linalg.yield %d : f32
    }
    linalg.copy ins(%tmp : memref<64xf32>) outs(%b : memref<64xf32>)
    gpu.terminator
  } {mb.thread_mapping = "grid"}
  return
}

// -----

// Block mapping: the threads of one block share the workgroup's ops; a
// barrier separates them. An op without parallel loops runs on thread 0.
// CHECK-LABEL: func.func @block
// CHECK: gpu.launch {{.*}} threads([[TX:%[a-z0-9_]+]], %{{.*}}, %{{.*}}) in ([[BDX:%[a-z0-9_]+]] = %{{.*}},
// CHECK: scf.for %{{.*}} = [[TX]] to %c64 step [[BDX]]
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK: [[FIRST:%[a-z0-9_]+]] = arith.cmpi eq, [[TX]], %c0
// CHECK: scf.if [[FIRST]]
// CHECK: scf.for
// CHECK: memref.store
#id = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
func.func @block(%a: memref<64xf32>, %sum: memref<f32>) {
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    linalg.fill ins(%zero : f32) outs(%a : memref<64xf32>)
    linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction"]}
        ins(%a : memref<64xf32>) outs(%sum : memref<f32>) {
    ^bb0(%x: f32, %acc: f32):
      %s = arith.addf %x, %acc : f32
      linalg.yield %s : f32
    }
    gpu.terminator
  } {mb.thread_mapping = "block"}
  return
}
