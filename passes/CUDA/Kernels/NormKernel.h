//===- NormKernel.h - token shift + norm + rounding, one warp a row -*- C++
//-*-===//
//
// Builds one gpu.func computing, for every row of x [rows, dim] (f32),
//   out[r] = round16(norm(shift(x)[r]) * weight (+ bias))
// where `shift` is MEGABYTE-pytorch's token shift inside sequences of
// `positions` rows (when enabled) and round16 the 16-bit operand type of
// the GEMM that reads `out` (none for an f32 output: the decode rows a
// GEMV reads). One warp per row (4 per CTA): lanes own the
// feature pairs 2 lane + 64 j, read with 8-byte loads (a warp reads 256
// contiguous bytes per step), the statistics come from warp shuffles. It
// replaces the token shift's copies, the norm's reduction and elementwise
// kernels and the rounding before a GEMM with one launch; with a start
// row it also writes mb.start_token's result (the start rows and the
// normalized rows one row on), so the concatenation takes no launch.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_NORMKERNEL_H
#define MBC_PASSES_CUDA_KERNELS_NORMKERNEL_H

#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

#include <optional>
#include <string>

namespace mbc::cuda {

/// A norm's rows gathered from an embedding table instead of read from x
/// (mb-cuda-fuse-gemm-norms: MEGABYTE-pytorch's patch embedding, the
/// patch's bytes embedded and concatenated): features [s D, (s + 1) D) of
/// row r are table[ids[r, s]], D = dim / slots. GEMM prologues only.
struct NormGatherSpec {
  int64_t vocabulary = 0; // the table's rows
  int64_t slots = 0;      // ids a row: the patch size
  mlir::Type tableType;   // f32, bf16 or f16, as stored
};

struct NormSpec {
  int64_t rows = 0;      // N * S
  int64_t positions = 0; // S: rows per sequence (the token shift's scope)
  int64_t dim = 0;       // a multiple of 64
  NormKind norm = NormKind::Rms;
  double epsilon = 1e-5;
  bool tokenShift = false;
  /// bf16 or f16 (a GEMM's operand, rounded), or f32 (a decode GEMV's).
  mlir::Type outputType;
  /// The norm's weight and bias as stored: f32, bf16 or f16 (null: f32).
  mlir::Type weightType;
  /// The rows gathered from a table (ids, table in place of x); none: x.
  std::optional<NormGatherSpec> gather;
  /// Non-null (norm kernels only): the rows are stored as mb.start_token
  /// places them, a start row (an operand [dim] of this type: f32, bf16
  /// or f16) before every sequence of `positions` rows: row r at r + r /
  /// positions + 1, the start row at s (positions + 1) for sequence s.
  /// MEGABYTE's global input: the patch embedding's last norm writes it.
  mlir::Type startType;
};

/// The rows a norm kernel writes: rows, + one a sequence with a start row.
int64_t normOutputRows(const NormSpec &spec);

mlir::LogicalResult
verifyNormSpec(const NormSpec &spec,
               llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// norm(shift(x))[row] * weight (+ bias) in f32, not rounded, computed by
/// one warp: lane `lane` gets the pairs of features 2 lane + 64 j (j <
/// dim / 64) as vector<2xf32>, statistics by warp shuffles. `input` is x,
/// an f32 memref [rows, dim], or with a gather spec the ids [rows, slots]
/// (i32) and the table [vocabulary, dim / slots]; `bias` is null without
/// one. The norm kernel's row and a GEMM's norm prologue (GemmKernel.h).
llvm::SmallVector<mlir::Value>
buildNormRow(mlir::OpBuilder &b, mlir::Location loc, const NormSpec &spec,
             mlir::ValueRange input, mlir::Value weight, mlir::Value bias,
             mlir::Value row, mlir::Value lane);

/// The parameters that stand for x: x, or the ids and table of a gather.
llvm::SmallVector<std::string> normInputParamNames(const NormSpec &spec);

/// Their memref types, in that order.
llvm::SmallVector<mlir::Type> normInputTypes(mlir::Builder &b,
                                             const NormSpec &spec);

/// Appends kernel `name` to `module`. Parameters: x, weight, [bias],
/// [start], out.
mlir::FailureOr<KernelInfo> buildNormKernel(mlir::OpBuilder &builder,
                                            mlir::gpu::GPUModuleOp module,
                                            llvm::StringRef name,
                                            const NormSpec &spec,
                                            mlir::Location loc);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_NORMKERNEL_H
