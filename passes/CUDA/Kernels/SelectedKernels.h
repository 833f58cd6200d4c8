//===- SelectedKernels.h - kernel specs carried between passes --*- C++ -*-===//
//
// mb-cuda-select-kernels records a tensor-core GEMM as a call of a private
// function whose `mb.cuda_gemm` attribute is the kernel's GemmSpec;
// mb-cuda-launch-selected-kernels reads it back after bufferization.
//
//===----------------------------------------------------------------------===//
#ifndef MBC_PASSES_CUDA_KERNELS_SELECTEDKERNELS_H
#define MBC_PASSES_CUDA_KERNELS_SELECTEDKERNELS_H

#include "passes/CUDA/Kernels/AttentionKernel.h"
#include "passes/CUDA/Kernels/DecodeAttentionKernel.h"
#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/GemvKernel.h"
#include "passes/CUDA/Kernels/LocalLayerKernel.h"
#include "passes/CUDA/Kernels/LogSoftmaxKernel.h"
#include "passes/CUDA/Kernels/NormKernel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc::cuda {

inline constexpr llvm::StringLiteral kSelectedGemmAttrName = "mb.cuda_gemm";
inline constexpr llvm::StringLiteral kSelectedAttentionAttrName =
    "mb.cuda_attention";
inline constexpr llvm::StringLiteral kSelectedGemvAttrName = "mb.cuda_gemv";
inline constexpr llvm::StringLiteral kSelectedLocalLayerAttrName =
    "mb.cuda_local_layer";
inline constexpr llvm::StringLiteral kSelectedNormAttrName = "mb.cuda_norm";
inline constexpr llvm::StringLiteral kSelectedDecodeAttentionAttrName =
    "mb.cuda_decode_attention";
inline constexpr llvm::StringLiteral kSelectedLogSoftmaxAttrName =
    "mb.cuda_log_softmax";

/// The attribute spelling of an epilogue activation ("none", "gelu",
/// "gelu_tanh", "relu", mb's activation names) and back.
llvm::StringRef activationName(Activation activation);
std::optional<Activation> parseActivation(llvm::StringRef name);

/// The attribute spelling of a local layer's norm ("rms", "rms_clamp",
/// "layer") and back.
llvm::StringRef normKindName(NormKind norm);
std::optional<NormKind> parseNormKind(llvm::StringRef name);

/// How GEMMs are chosen (mb-cuda-select-kernels' options).
struct GemmSelection {
  std::string mma = "wgmma"; // "wgmma" | "mma_sync"
  int64_t minRows = 64;
  int64_t tileM = 0, tileN = 0, tileK = 0; // 0: chosen per GEMM
  int64_t stages = 0;                      // 0: chosen per GEMM
  int64_t consumers = 0;                   // wgmma; 0: chosen per GEMM
};

/// The spec of an [M, K] x [N, K]^T GEMM with this epilogue, tiles chosen
/// unless pinned; failure when the kernels do not support it (N not a
/// multiple of 8, K not of tile-k, ...).
mlir::FailureOr<GemmSpec> selectGemmSpec(mlir::MLIRContext *context,
                                         const GemmSelection &selection,
                                         int64_t m, int64_t n, int64_t k,
                                         mlir::Type elementType, bool bias,
                                         Activation activation, bool residual);

/// Whether `weight` is read from a bf16/f16 argument (an arith.extf of one,
/// or a slice of that).
bool isStoredIn16Bits(mlir::Value weight);

/// The [2 * inner, D] weight whose two row halves `wk` and `wv` are (both
/// tensor.extract_slice of it: MEGABYTE-pytorch's to_kv), so one product
/// serves k and v; null otherwise.
mlir::Value kvWeightSource(mlir::Value wk, mlir::Value wv, int64_t inner);

/// The 16-bit type a weight is stored in (what its arith.extf reads, also
/// through a tensor.extract_slice), else bf16.
mlir::Type weightStorageType(mlir::Value weight);

/// The type a decode GEMV reads `weight` in: as stored, the 16-bit type
/// of a bf16/f16 argument, else f32 (nothing is rounded in decode). The
/// prologues that gather from embedding tables read them so too.
mlir::Type gemvWeightType(mlir::Value weight);

/// `value` as `elementType`: itself when it has that type, the source of an
/// extf from that type (a slice of it for a slice of the extf), else an
/// arith.truncf.
mlir::Value narrowTo(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value,
                     mlir::Type elementType);

/// Whether `verify(emitError)` accepts a spec, without reporting what it
/// rejects (a selection falls back quietly).
bool acceptsQuietly(
    mlir::MLIRContext *context,
    llvm::function_ref<mlir::LogicalResult(
        llvm::function_ref<mlir::InFlightDiagnostic()>)>
        verify);

/// The selected GEMM call (one result) that `value` is the result of,
/// through tensor reshapes each of one use (appended to `reshapes`, the
/// one nearest `value` first), the result itself of one use: the call,
/// its function and its spec, parsed quietly; failure otherwise.
struct ProducingGemm {
  mlir::func::CallOp call;
  mlir::func::FuncOp function;
  GemmSpec spec;
};
mlir::FailureOr<ProducingGemm>
producingSelectedGemm(mlir::Value value, mlir::ModuleOp module,
                      llvm::SmallVectorImpl<mlir::Operation *> &reshapes);

/// Lowers `spec`'s stages (to 2 at least) until verifyGemmSpec accepts it
/// (a rewrite that took shared memory); false when it never does.
bool fitGemmStages(mlir::MLIRContext *context, GemmSpec &spec);

/// The entry block of a selected kernel's function about to get its
/// reference body, with the insertion point at its start; the read-only
/// marks of its arguments are dropped (a body has its own uses).
mlir::Block *beginReferenceBody(mlir::OpBuilder &b, mlir::func::FuncOp function);

/// `value` (a tensor) in f32: itself, or an arith.extf of it.
mlir::Value widenToF32(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value value);

/// The calls in `module` of functions carrying the attribute `attrName`
/// (a selected kernel's spec), in walk order.
llvm::SmallVector<mlir::func::CallOp>
callsOfSelectedKernels(mlir::ModuleOp module, mlir::SymbolTable &symbols,
                       llvm::StringRef attrName);

/// The calls of selected kernels carrying `attrName` that read `value` as
/// their operand 0 through tensor reshapes (collected, with the reshapes,
/// outermost last), or failure when anything else reads it.
mlir::LogicalResult
selectedReaders(mlir::Value value, mlir::SymbolTable &symbols,
                llvm::StringRef attrName,
                llvm::SmallVectorImpl<mlir::func::CallOp> &calls,
                llvm::SmallVectorImpl<mlir::Operation *> &reshapes);

/// The norm kernel spec of `call`'s callee, read without diagnostics
/// (failure: not a well-formed `mb.cuda_norm`).
mlir::FailureOr<NormSpec> normSpecOfCall(mlir::func::CallOp call,
                                         mlir::SymbolTable &symbols);

/// Erases the functions among `functions` (selected kernels' declarations
/// or emulation bodies a rewrite stopped calling) that nothing calls.
void eraseUncalled(llvm::ArrayRef<mlir::func::FuncOp> functions,
                   mlir::ModuleOp module);

/// Declares a private function `<prefix>_<n>` at the end of `module` whose
/// attribute `attrName` is `spec` and whose operands are read-only for
/// bufferization, and calls it with `operands`; returns the result.
mlir::Value callSelectedKernel(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::ModuleOp module, llvm::StringRef prefix,
                               llvm::StringRef attrName,
                               mlir::DictionaryAttr spec,
                               mlir::ValueRange operands,
                               mlir::Type resultType);
/// The same with any number of results; returns the call.
mlir::func::CallOp
callSelectedKernel(mlir::OpBuilder &b, mlir::Location loc,
                   mlir::ModuleOp module, llvm::StringRef prefix,
                   llvm::StringRef attrName, mlir::DictionaryAttr spec,
                   mlir::ValueRange operands, mlir::TypeRange resultTypes);

/// A GEMM call: operands a [M, K], b [N, K] (16-bit), then bias [N] and
/// residual [M, N] (f32) when the spec has them, or (paired) b2
/// [pairedN, K]; returns C [M, N] in the output type.
mlir::Value callSelectedGemm(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::ModuleOp module, const GemmSpec &spec,
                             mlir::ValueRange operands);
/// The same call; a paired GEMM's returns C2 [M, pairedN] second.
mlir::func::CallOp callSelectedGemmOp(mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::ModuleOp module,
                                      const GemmSpec &spec,
                                      mlir::ValueRange operands);

/// A GEMV call: operands a [M, K] f32, w [N, K] (16-bit), then bias [N]
/// and residual [M, N] when the spec has them, then the norm weight [K]
/// with a norm prologue, then the key and value caches and the position
/// with an attention prologue (a is then the query rows), then (paired)
/// w2 [pairedN, K]; returns C [M, N] f32, and (paired) C2 [M, pairedN] as
/// the call's second result.
mlir::func::CallOp callSelectedGemv(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::ModuleOp module, const GemvSpec &spec,
                                    mlir::ValueRange operands);

/// {m, n, k, weight_type, bias, activation, residual, warps,
/// columns_per_warp}.
mlir::DictionaryAttr gemvSpecToAttribute(mlir::MLIRContext *context,
                                         const GemvSpec &spec);
mlir::FailureOr<GemvSpec>
gemvSpecFromAttribute(mlir::DictionaryAttr attr,
                      llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// An attention call: q, k, v [batchHeads, seqLen, headDim] (16-bit),
/// returns O [batchHeads, seqLen, headDim]; token-major (spec.heads > 0):
/// q, k, v [sequences, seqLen, row elements], returns O [sequences, seqLen,
/// heads x headDim]. O is of spec.outputType (f32 when null).
mlir::Value callSelectedAttention(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::ModuleOp module,
                                  const AttentionSpec &spec, mlir::Value q,
                                  mlir::Value k, mlir::Value v);

/// {batch_heads, seq_len, head_dim, element_type, causal, scale, key_block,
/// patch_length}.
mlir::DictionaryAttr attentionSpecToAttribute(mlir::MLIRContext *context,
                                              const AttentionSpec &spec);
mlir::FailureOr<AttentionSpec> attentionSpecFromAttribute(
    mlir::DictionaryAttr attr,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// {m, n, k, element_type, mma, tile_m, tile_n, tile_k, stages, consumers,
/// bias, activation, residual, output_type, [bias_type], [paired_n]}; B is
/// always [N, K] (nn.Linear's layout).
mlir::DictionaryAttr gemmSpecToAttribute(mlir::MLIRContext *context,
                                         const GemmSpec &spec);

/// The spec an `mb.cuda_gemm` attribute describes; the message names the
/// missing or malformed field.
mlir::FailureOr<GemmSpec>
gemmSpecFromAttribute(mlir::DictionaryAttr attr,
                      llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// A fused local-layer call: operands in localLayerParamNames' order
/// without `out` (x [N * S, D] f32, norm weights/biases and FFN biases f32,
/// projection weights 16-bit); returns out [N * S, D] f32.
mlir::Value callSelectedLocalLayer(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::ModuleOp module,
                                   const LocalLayerSpec &spec,
                                   mlir::ValueRange operands);

/// {sequences, positions, dim, heads, head_dim, hidden, weight_type,
/// vector_type, norm,
/// epsilon, token_shift, activation, fused_kv, scale, rotary_theta,
/// stages}.
mlir::DictionaryAttr localLayerSpecToAttribute(mlir::MLIRContext *context,
                                               const LocalLayerSpec &spec);
mlir::FailureOr<LocalLayerSpec> localLayerSpecFromAttribute(
    mlir::DictionaryAttr attr,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// A norm call: x [rows, dim] f32, weight [dim], bias [dim] (LayerNorm);
/// returns out [rows, dim] in the spec's 16-bit output type.
mlir::Value callSelectedNorm(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::ModuleOp module, const NormSpec &spec,
                             mlir::ValueRange operands);

/// {rows, positions, dim, norm, epsilon, token_shift, output_type,
/// weight_type}.
mlir::DictionaryAttr normSpecToAttribute(mlir::MLIRContext *context,
                                         const NormSpec &spec);
mlir::FailureOr<NormSpec>
normSpecFromAttribute(mlir::DictionaryAttr attr,
                      llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// A decode-attention call: q [N, H * D] f32, k and v caches [R, L, H * D]
/// f32 (this step's row already written; rows firstRow.. are the call's),
/// position tensor<1xi64>; returns out [N, H * D] f32.
mlir::Value callSelectedDecodeAttention(mlir::OpBuilder &b, mlir::Location loc,
                                        mlir::ModuleOp module,
                                        const DecodeAttentionSpec &spec,
                                        mlir::ValueRange operands);

/// {sequences, heads, head_dim, cache_length, cache_rows, first_row, scale,
/// warps, splits, keys_per_step}.
mlir::DictionaryAttr
decodeAttentionSpecToAttribute(mlir::MLIRContext *context,
                               const DecodeAttentionSpec &spec);
mlir::FailureOr<DecodeAttentionSpec> decodeAttentionSpecFromAttribute(
    mlir::DictionaryAttr attr,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// A log-softmax call: x [rows, columns] f32; returns log_softmax(x) over
/// each row, f32.
mlir::Value callSelectedLogSoftmax(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::ModuleOp module,
                                   const LogSoftmaxSpec &spec, mlir::Value x);

/// {rows, columns}.
mlir::DictionaryAttr logSoftmaxSpecToAttribute(mlir::MLIRContext *context,
                                               const LogSoftmaxSpec &spec);
mlir::FailureOr<LogSoftmaxSpec> logSoftmaxSpecFromAttribute(
    mlir::DictionaryAttr attr,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_SELECTEDKERNELS_H
