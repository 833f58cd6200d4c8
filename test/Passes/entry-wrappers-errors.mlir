// RUN: mbc-opt %s --mb-entry-wrappers -split-input-file -verify-diagnostics

// expected-error @+1 {{mb-entry-wrappers: the module has no mb.entry_points (run mb-weights-to-arguments first)}}
module {
}

// -----

// expected-error @+1 {{entry point '"score"' was not lowered to an llvm.func}}
module attributes {mb.entry_points = [{name = "score", args = [{kind = "context"}]}]} {
}

// -----

module attributes {mb.entry_points = [{name = "score", args = [{kind = "context"}, {kind = "input", name = "bytes", dtype = "i32", shape = [1, 8]}]}]} {
  // expected-error @+1 {{entry point '"score"' must take 2 pointers (bare-pointer memref convention)}}
  llvm.func @score(%ctx: !llvm.ptr, %n: i64) {
    llvm.return
  }
}
