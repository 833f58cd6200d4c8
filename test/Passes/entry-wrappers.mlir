// RUN: mbc-opt %s --mb-entry-wrappers | FileCheck %s

// The wrapper loads argument i from element i of the pointer array.
// CHECK-LABEL: llvm.func @mbc_entry_score(
// CHECK-SAME: %[[ARGS:[a-z0-9]+]]: !llvm.ptr)
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[ARGS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A1:.*]] = llvm.load %[[P1]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P2:.*]] = llvm.getelementptr %[[ARGS]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[A2:.*]] = llvm.load %[[P2]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @score(%[[A0]], %[[A1]], %[[A2]]) : (!llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CHECK: llvm.return
// The arguments the code takes, a line each, for the runtime to compare with
// META's (docs/artifact.md).
// CHECK: llvm.mlir.global external constant @mbc_entry_score_signature("context\0Ainput bytes i32 [1,8]\0Aoutput logp f32 [1,8,4]\00")
module attributes {mb.entry_points = [{name = "score", args = [{kind = "context"}, {kind = "input", name = "bytes", dtype = "i32", shape = [1, 8]}, {kind = "output", name = "logp", dtype = "f32", shape = [1, 8, 4]}]}]} {
  llvm.func @score(%ctx: !llvm.ptr, %bytes: !llvm.ptr, %out: !llvm.ptr) {
    llvm.return
  }
}
