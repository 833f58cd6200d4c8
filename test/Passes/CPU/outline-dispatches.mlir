// RUN: mbc-opt %s --mb-cpu-outline-dispatches --split-input-file | FileCheck %s
// The outlined module lowers to the LLVM dialect without casts left over.
// RUN: mbc-opt %s --split-input-file \
// RUN:   --pass-pipeline='builtin.module(mb-cpu-outline-dispatches,expand-strided-metadata,lower-affine,convert-scf-to-cf,finalize-memref-to-llvm,convert-arith-to-llvm,convert-func-to-llvm{use-bare-ptr-memref-call-conv=true},convert-cf-to-llvm,reconcile-unrealized-casts)' \
// RUN:   | FileCheck %s --check-prefix=LLVM

// One workgroup grid of an entry point: the body becomes @scale_dispatch_0,
// run per workgroup through context->parallel_for.

module attributes {mb.entry_points = [{name = "scale", args = [{kind = "context"}]}]} {
  func.func @scale(%context: !llvm.ptr, %x: memref<64x32xf32>, %y: memref<64x32xf32>, %factor: f32) {
    %c0 = arith.constant 0 : index
    %c32 = arith.constant 32 : index
    %c1 = arith.constant 1 : index
    scf.forall (%row) = (0) to (64) step (8) {
      %in = memref.subview %x[%row, 0] [8, 32] [1, 1] : memref<64x32xf32> to memref<8x32xf32, strided<[32, 1], offset: ?>>
      %out = memref.subview %y[%row, 0] [8, 32] [1, 1] : memref<64x32xf32> to memref<8x32xf32, strided<[32, 1], offset: ?>>
      scf.for %i = %c0 to %c32 step %c1 {
        %v = memref.load %in[%c0, %i] : memref<8x32xf32, strided<[32, 1], offset: ?>>
        %s = arith.mulf %v, %factor : f32
        memref.store %s, %out[%c0, %i] : memref<8x32xf32, strided<[32, 1], offset: ?>>
      }
    }
    return
  }
}
// CHECK: module attributes {mb.entry_points = [{args = [{kind = "context"}], dispatches = [{name = "scale_dispatch_0", workgroups = [8]}], name = "scale"}]}
// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[CONTEXT:.+]]: !llvm.ptr, %[[X:.+]]: memref<64x32xf32>, %[[Y:.+]]: memref<64x32xf32>, %[[FACTOR:.+]]: f32)
// CHECK: %[[ONE:.+]] = llvm.mlir.constant(1 : i64) : i64
// CHECK: %[[CAPTURES:.+]] = llvm.alloca %[[ONE]] x !llvm.struct<(struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, f32)>
// CHECK-NOT: scf.forall
// CHECK: %[[X_DESC:.+]] = builtin.unrealized_conversion_cast %[[X]] : memref<64x32xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[X_FIELD:.+]] = llvm.getelementptr %[[CAPTURES]][0, 0]
// CHECK: llvm.store %[[X_DESC]], %[[X_FIELD]]
// CHECK: %[[Y_DESC:.+]] = builtin.unrealized_conversion_cast %[[Y]]
// CHECK: %[[Y_FIELD:.+]] = llvm.getelementptr %[[CAPTURES]][0, 1]
// CHECK: llvm.store %[[Y_DESC]], %[[Y_FIELD]]
// CHECK: %[[FACTOR_FIELD:.+]] = llvm.getelementptr %[[CAPTURES]][0, 2]
// CHECK: llvm.store %[[FACTOR]], %[[FACTOR_FIELD]] : f32, !llvm.ptr
// parallel_for is the context's first field, runtime its second.
// CHECK: %[[PARALLEL_FOR:.+]] = llvm.load %[[CONTEXT]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[RUNTIME_FIELD:.+]] = llvm.getelementptr %[[CONTEXT]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, ptr)>
// CHECK: %[[RUNTIME:.+]] = llvm.load %[[RUNTIME_FIELD]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[FUNCTION:.+]] = constant @scale_dispatch_0 : (!llvm.ptr, i64) -> ()
// CHECK: %[[FUNCTION_POINTER:.+]] = builtin.unrealized_conversion_cast %[[FUNCTION]] : (!llvm.ptr, i64) -> () to !llvm.ptr
// CHECK: %[[COUNT:.+]] = llvm.mlir.constant(8 : i64) : i64
// CHECK: llvm.call %[[PARALLEL_FOR]](%[[RUNTIME]], %[[FUNCTION_POINTER]], %[[CAPTURES]], %[[COUNT]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK-NEXT: return

// CHECK-LABEL: func.func private @scale_dispatch_0
// CHECK-SAME: (%[[CAPTURED:.+]]: !llvm.ptr, %[[WORKGROUP:.+]]: i64) attributes {llvm.linkage = #llvm.linkage<internal>}
// Constants are rebuilt, not captured.
// CHECK-DAG: arith.constant 0 : index
// CHECK-DAG: arith.constant 32 : index
// CHECK: %[[X_FIELD:.+]] = llvm.getelementptr %[[CAPTURED]][0, 0]
// CHECK: %[[X_DESC:.+]] = llvm.load %[[X_FIELD]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[X:.+]] = builtin.unrealized_conversion_cast %[[X_DESC]] : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<64x32xf32>
// CHECK: %[[Y:.+]] = builtin.unrealized_conversion_cast %{{.*}} to memref<64x32xf32>
// CHECK: %[[FACTOR_FIELD:.+]] = llvm.getelementptr %[[CAPTURED]][0, 2]
// CHECK: %[[FACTOR:.+]] = llvm.load %[[FACTOR_FIELD]] : !llvm.ptr -> f32
// Workgroup w covers rows [8w, 8w + 8).
// CHECK: %[[W:.+]] = arith.index_cast %[[WORKGROUP]] : i64 to index
// CHECK: %[[OFFSET:.+]] = arith.muli %[[W]], %{{.*}} : index
// CHECK: %[[ROW:.+]] = arith.addi %{{.*}}, %[[OFFSET]] : index
// CHECK: memref.subview %[[X]][%[[ROW]], 0] [8, 32] [1, 1]
// CHECK: memref.subview %[[Y]][%[[ROW]], 0] [8, 32] [1, 1]
// CHECK: scf.for
// CHECK: arith.mulf %{{.*}}, %[[FACTOR]]
// CHECK: return

// LLVM-LABEL: llvm.func @scale
// LLVM-NOT: builtin.unrealized_conversion_cast
// LLVM: %[[FUNCTION:.+]] = llvm.mlir.addressof @scale_dispatch_0 : !llvm.ptr
// LLVM: llvm.call %{{.*}}(%{{.*}}, %[[FUNCTION]], %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, !llvm.ptr, i64) -> ()
// LLVM-LABEL: llvm.func internal @scale_dispatch_0(%{{.*}}: !llvm.ptr, %{{.*}}: i64)
// LLVM-NOT: builtin.unrealized_conversion_cast
// LLVM: llvm.return

// -----

// A two-dimensional grid is linearized, the last dimension fastest; an index
// used by the body is captured as i64.

module attributes {mb.entry_points = [{name = "grid", args = [{kind = "context"}]}]} {
  func.func @grid(%context: !llvm.ptr, %y: memref<4x6xindex>, %base: index) {
    scf.forall (%i, %j) in (4, 6) {
      %v = arith.addi %i, %base : index
      memref.store %v, %y[%i, %j] : memref<4x6xindex>
    }
    return
  }
}
// CHECK: dispatches = [{name = "grid_dispatch_0", workgroups = [4, 6]}]
// CHECK-LABEL: func.func @grid
// CHECK-SAME: (%[[CONTEXT:.+]]: !llvm.ptr, %{{.+}}: memref<4x6xindex>, %[[BASE:.+]]: index)
// CHECK: %[[BASE64:.+]] = arith.index_cast %[[BASE]] : index to i64
// CHECK: llvm.store %[[BASE64]], %{{.*}} : i64, !llvm.ptr
// CHECK: %[[COUNT:.+]] = llvm.mlir.constant(24 : i64) : i64
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %[[COUNT]])
// CHECK-LABEL: func.func private @grid_dispatch_0
// CHECK-SAME: (%[[CAPTURED:.+]]: !llvm.ptr, %[[WORKGROUP:.+]]: i64)
// CHECK: %[[BASE64:.+]] = llvm.load %{{.*}} : !llvm.ptr -> i64
// CHECK: %[[BASE:.+]] = arith.index_cast %[[BASE64]] : i64 to index
// CHECK: %[[W:.+]] = arith.index_cast %[[WORKGROUP]] : i64 to index
// CHECK: %[[SIX:.+]] = arith.constant 6 : index
// CHECK: %[[J:.+]] = arith.remui %[[W]], %[[SIX]] : index
// CHECK: %[[I:.+]] = arith.divui %[[W]], %[[SIX]] : index
// CHECK: %[[J_IV:.+]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: %[[I_IV:.+]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: %[[V:.+]] = arith.addi %[[I_IV]], %[[BASE]] : index
// CHECK: memref.store %[[V]], %{{.*}}[%[[I_IV]], %[[J_IV]]]

// -----

// Only entry points dispatch: a private helper (no host context) keeps its
// forall, and so does a forall nested in a workgroup.

module attributes {mb.entry_points = [{name = "outer", args = [{kind = "context"}]}]} {
  func.func private @helper(%y: memref<8xf32>) {
    %one = arith.constant 1.0 : f32
    scf.forall (%i) in (8) {
      memref.store %one, %y[%i] : memref<8xf32>
    }
    return
  }
  func.func @outer(%context: !llvm.ptr, %y: memref<8x8xf32>) {
    %one = arith.constant 1.0 : f32
    scf.forall (%i) in (8) {
      scf.forall (%j) in (8) {
        memref.store %one, %y[%i, %j] : memref<8x8xf32>
      }
    }
    return
  }
}
// CHECK: dispatches = [{name = "outer_dispatch_0", workgroups = [8]}]
// CHECK-LABEL: func.func private @helper
// CHECK: scf.forall
// CHECK-LABEL: func.func @outer
// CHECK-NOT: scf.forall
// CHECK: llvm.call
// CHECK-LABEL: func.func private @outer_dispatch_0
// CHECK: scf.forall (%{{.*}}) in (8)
// CHECK: memref.store

// -----

// A grid of dynamic size stays a loop (the workgroup count is recorded at
// compile time).

module attributes {mb.entry_points = [{name = "dynamic", args = [{kind = "context"}]}]} {
  func.func @dynamic(%context: !llvm.ptr, %y: memref<64xf32>, %n: index) {
    %one = arith.constant 1.0 : f32
    scf.forall (%i) in (%n) {
      memref.store %one, %y[%i] : memref<64xf32>
    }
    return
  }
}
// CHECK: dispatches = []
// CHECK-LABEL: func.func @dynamic
// CHECK: scf.forall
// CHECK-NOT: llvm.call
