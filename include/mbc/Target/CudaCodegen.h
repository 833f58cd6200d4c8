//===- CudaCodegen.h - kernels, images and plans for CUDA -------*- C++ -*-===//
//
// What `mbc --target=cuda` stores in an artifact (docs/cuda.md): PTX (and
// cubins from ptxas) per architecture, the kernels' launch facts, and one
// plan per entry point, read from a module that mbc-cuda-pipeline lowered.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_TARGET_CUDACODEGEN_H
#define MBC_TARGET_CUDACODEGEN_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mbc {

struct CudaKernel {
  std::string name;
  /// "ptr", "i64", "i32" or "f32" per parameter.
  std::vector<std::string> params;
  std::array<int64_t, 3> block = {1, 1, 1};
  int64_t sharedBytes = 0;
  /// From `ptxas -v` for the first architecture, when ptxas ran.
  std::optional<int64_t> registers;
  std::optional<int64_t> spillStoreBytes;
};

struct CudaImage {
  std::string arch;
  /// "ptx" or "cubin".
  std::string format;
  std::string bytes;
};

struct CudaCode {
  std::vector<std::string> archs;
  std::string ptxIsa = "8.0";
  std::vector<CudaImage> images;
  std::vector<CudaKernel> kernels;
  /// Entry-point name -> plan (docs/cuda.md "plans").
  llvm::json::Object plans;
};

/// Reads a module after mbc-cuda-pipeline (serialized: a gpu.binary with one
/// PTX object per architecture): the PTX images, the kernels and a plan for
/// every entry point of `entryPoints` (mb.entry_points). An op of an entry
/// function that the plan cannot express is an error naming it.
llvm::Expected<CudaCode> extractCudaCode(mlir::ModuleOp module,
                                         mlir::ArrayAttr entryPoints);

/// ptxas: $MBC_PTXAS (set but empty: none, PTX only; not executable: an
/// error), else PATH, else /usr/local/cuda/bin; none when absent.
llvm::Expected<std::optional<std::string>> findPtxas();

/// Assembles every PTX image of `code` with `ptxas -v` into a cubin image
/// (added after the PTX ones) and records each kernel's registers and spill
/// stores (from the first architecture).
llvm::Error assembleCubins(CudaCode &code, llvm::StringRef ptxas);

/// The kernels' NVVM IR (LLVM IR of the gpu.module, for the first target)
/// of a module after mbc-cuda-pipeline without serialization.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateKernelsToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context);

/// META's "cuda" object (docs/cuda.md) for images laid out at `offsets`
/// into CUDA_CODE.
llvm::json::Object cudaMetadata(const CudaCode &code,
                                llvm::ArrayRef<uint64_t> offsets);

} // namespace mbc

#endif // MBC_TARGET_CUDACODEGEN_H
