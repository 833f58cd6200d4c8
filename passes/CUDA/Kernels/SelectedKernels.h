//===- SelectedKernels.h - kernel specs carried between passes --*- C++ -*-===//
//
// mb-cuda-select-gemms records a tensor-core GEMM as a call of a private
// function whose `mb.cuda_gemm` attribute is the kernel's GemmSpec;
// mb-cuda-launch-selected-kernels reads it back after bufferization.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_SELECTEDKERNELS_H
#define MBC_PASSES_CUDA_KERNELS_SELECTEDKERNELS_H

#include "passes/CUDA/Kernels/GemmKernel.h"

#include "mlir/IR/BuiltinAttributes.h"

namespace mbc::cuda {

inline constexpr llvm::StringLiteral kSelectedGemmAttrName = "mb.cuda_gemm";

/// {m, n, k, element_type, mma, tile_m, tile_n, tile_k, stages, bias,
/// activation, residual}; B is always [N, K] (nn.Linear's layout).
mlir::DictionaryAttr gemmSpecToAttribute(mlir::MLIRContext *context,
                                         const GemmSpec &spec);

/// The spec an `mb.cuda_gemm` attribute describes; the message names the
/// missing or malformed field.
mlir::FailureOr<GemmSpec>
gemmSpecFromAttribute(mlir::DictionaryAttr attr,
                      llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_SELECTEDKERNELS_H
