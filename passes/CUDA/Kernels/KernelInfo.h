//===- KernelInfo.h - launch facts of a generated CUDA kernel ---*- C++ -*-===//
//
// What a kernel builder tells the CUDA pipeline and, through META, the
// runtime: grid, block, dynamic shared memory and the parameter list in the
// order and kinds of docs/cuda.md ("ptr", "i64", "i32", "f32", "tensor_map").
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_KERNELINFO_H
#define MBC_PASSES_CUDA_KERNELS_KERNELINFO_H

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <cstdint>
#include <string>

namespace mbc::cuda {

/// How the runtime encodes a "tensor_map" parameter with
/// cuTensorMapEncodeTiled (docs/cuda.md): the global tensor `operand` (the
/// name of a "ptr"-kind operand of the same kernel, e.g. "a"), its element
/// type, sizes and byte strides innermost first, the box copied per TMA load
/// and the shared-memory swizzle.
struct TensorMapDescription {
  std::string operand;
  std::string dtype;                          // "bf16" | "f16" | "f32"
  llvm::SmallVector<int64_t, 2> dims;         // innermost first
  llvm::SmallVector<int64_t, 1> stridesBytes; // outer dims, one fewer than dims
  llvm::SmallVector<int64_t, 2> box;          // innermost first
  int64_t swizzleBytes = 0;                   // 0, 32, 64 or 128
};

/// One kernel parameter. `kind` is one of docs/cuda.md's kinds; `name` says
/// which operand it is (a, b, c, bias, residual, ...), so a plan can bind it.
struct KernelParam {
  std::string name;
  std::string kind; // "ptr" | "i64" | "i32" | "f32" | "tensor_map"
  TensorMapDescription tensorMap; // only for kind == "tensor_map"
};

struct KernelInfo {
  std::string name;
  std::array<int64_t, 3> grid = {1, 1, 1};
  std::array<int64_t, 3> block = {1, 1, 1};
  int64_t dynamicSharedBytes = 0;
  llvm::SmallVector<KernelParam> params;

  /// The same facts as an attribute (`mbc.launch` on the built gpu.func),
  /// so tests can check them and the CUDA pipeline can read them back.
  mlir::DictionaryAttr toAttribute(mlir::MLIRContext *context) const;
};

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_KERNELINFO_H
