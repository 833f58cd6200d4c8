//===- LogSoftmaxKernel.h - the head's log-softmax, one warp a row -*- C++
//-*-===//
//
// Builds one gpu.func computing, for every row of x [rows, columns] (f32
// logits),
//   out[r, c] = x[r, c] - max_r - ln(sum_c' exp(x[r, c'] - max_r))
// in one pass over the row held in registers: one warp per row (4 per
// CTA), lane l owns the columns l + 32 j (each j a coalesced 128-byte warp
// load; the columns past the end read as -inf, which adds exp(-inf) = 0),
// the max and the sum of exponentials come from xor shuffles. The
// exponentials are ex2.approx of (x - max) log2(e), the logarithm
// lg2.approx times ln(2): relative errors near 2^-22, far below what a
// byte's log-probability needs. It replaces the generic max reduction,
// sum reduction and elementwise kernels (and their fills) of the head.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_LOGSOFTMAXKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_LOGSOFTMAXKERNEL_H

#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mbc::cuda {

struct LogSoftmaxSpec {
  int64_t rows = 0;
  /// The vocabulary: at most kMaxLogSoftmaxColumns (a lane keeps its
  /// columns of the row in registers).
  int64_t columns = 0;
};

inline constexpr int64_t kMaxLogSoftmaxColumns = 2048;

mlir::LogicalResult
verifyLogSoftmaxSpec(const LogSoftmaxSpec &spec,
                     llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// log-softmax of one row spread over a warp: `values` are this lane's f32
/// elements of the row (-inf for columns past its end); returns them
/// minus the row's max and ln(sum of exp), in the same order (max and sum
/// by xor shuffles, ex2.approx and lg2.approx as above). The log-softmax
/// kernel's rows and a head GEMM's log-softmax epilogue (GemmKernel.h).
llvm::SmallVector<mlir::Value>
buildLogSoftmaxRow(mlir::OpBuilder &b, mlir::Location loc,
                   llvm::ArrayRef<mlir::Value> values);

/// Appends kernel `name` to `module`. Parameters: x, out.
mlir::FailureOr<KernelInfo> buildLogSoftmaxKernel(mlir::OpBuilder &builder,
                                                  mlir::gpu::GPUModuleOp module,
                                                  llvm::StringRef name,
                                                  const LogSoftmaxSpec &spec,
                                                  mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_LOGSOFTMAXKERNEL_H
