//===- LaunchOperands.h - what a launch captures and recomputes -*- C++ -*-===//
//
// Shared by the passes that move host-level buffer ops into kernels
// (mb-cuda-form-kernels, mb-cuda-fuse-epilogues): which ops a kernel may
// recompute from the buffers it captures, and which buffer a view is of.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_LAUNCHOPERANDS_H
#define MBC_PASSES_CUDA_LAUNCHOPERANDS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

namespace mbc {

/// Ops a launch may recompute from the values they read: views, index and
/// scalar arithmetic, constants, scalar loads (a decode position).
bool isClonableIntoLaunch(mlir::Operation *op);

/// The allocation or function argument `memref` is a view of; `typed` says
/// whether every view on the way keeps its offset from that root in its
/// type (memref.view of a byte buffer does not: its shift is an operand).
mlir::Value rootBuffer(mlir::Value memref, bool &typed);

/// Whether `root` is a buffer of its own: an allocation, a global or a
/// function argument.
bool isOwnBuffer(mlir::Value root);

/// The ops `op`'s operands (and the values its regions use from above) are
/// computed with that a launch recomputes: their backward slice of clonable
/// ops in `op`'s block, in block order.
llvm::SmallVector<mlir::Operation *> clonedProducers(mlir::Operation *op);

/// The same for `values` used in `block`.
llvm::SmallVector<mlir::Operation *>
clonedProducers(llvm::ArrayRef<mlir::Value> values, mlir::Block *block);

} // namespace mbc

#endif // MBC_PASSES_CUDA_LAUNCHOPERANDS_H
