// RUN: mbc-opt %s --mb-drop-updated-results -verify-diagnostics

// After bufferization, an update that is not the argument's own buffer (it
// was not written in place) is an error, not a silently lost update.
// expected-error @+1 {{result 0 (mb.updates) is not its argument's buffer after bufferization: the update was not written in place}}
func.func @copied(%c: memref<2x4xf32> {mb.name = "k_cache"}) -> (memref<2x4xf32> {mb.updates = "k_cache"}) {
  %new = memref.alloc() : memref<2x4xf32>
  return %new : memref<2x4xf32>
}
