//===- KernelBuilderUtils.h - helpers shared by the kernel builders -*- C++
//-*-===//
#ifndef MBC_PASSES_CUDA_KERNELS_KERNELBUILDERUTILS_H
#define MBC_PASSES_CUDA_KERNELS_KERNELBUILDERUTILS_H

#include "passes/CUDA/Kernels/KernelInfo.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace mbc::cuda {

/// gpu.func attribute listing the argument indices that are 128-byte
/// CUtensorMaps passed by value; mb-cuda-grid-constant-params turns them
/// into byval grid constants after the conversion to NVVM.
inline constexpr llvm::StringLiteral kTensorMapParamsAttrName =
    "mbc.tensor_map_params";
/// Dynamic shared memory a CTA may opt into on sm_80 .. sm_90 (227 KiB).
inline constexpr int64_t kMaxDynamicSharedBytes = 227 * 1024;

/// The 128-byte swizzle of TMA boxes and wgmma operands: rows of 128 bytes
/// (64 16-bit elements), 8-row atoms of 1024 bytes that start 1024-aligned.
inline constexpr int64_t kSwizzleRowBytes = 128;
inline constexpr int64_t kSwizzleAtomBytes = 1024;
/// mbarrier.try_wait's suspend-time hint, in nanoseconds.
inline constexpr int64_t kMBarrierWaitTicks = 10000000;

/// Registers a thread of a `threads`-thread CTA may start with (.maxnreg):
/// 64K / threads, rounded down to a multiple of 8. Kernels that move
/// registers between warpgroups with setmaxnreg need it fixed (ptxas
/// ignores setmaxnreg, C7508, when it cannot tell the count at entry).
constexpr int32_t entryRegisters(int64_t threads) {
  return static_cast<int32_t>(65536 / threads / 8 * 8);
}

/// CTAs of `sharedBytes` dynamic shared memory each that an sm_90 SM holds
/// at once (228 KiB a SM, 1 KiB of it reserved per CTA); at least 1.
constexpr int64_t residentCtas(int64_t sharedBytes) {
  int64_t ctas = 228 * 1024 / (sharedBytes + 1024);
  return ctas > 1 ? ctas : 1;
}

/// gpu.func attribute holding KernelInfo::toAttribute().
inline constexpr llvm::StringLiteral kLaunchAttrName = "mbc.launch";

/// gpu.func attribute naming the parameters (KernelParam names) each of
/// whose elements the kernel stores once, by one memref.store of the
/// thread that computed it (mb-cuda-fuse-epilogues reads it).
inline constexpr llvm::StringLiteral kEpilogueOutputsAttrName =
    "mbc.epilogue_outputs";

/// Reports `message` through `emitError` and fails: how the spec checks of
/// the builders reject what they do not support.
mlir::LogicalResult
failSpec(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
         const llvm::Twine &message);

/// f32, bf16 or f16 by name (the test-build passes' type options); null
/// otherwise.
mlir::Type parseFloatTypeName(mlir::Builder &builder, llvm::StringRef name);

/// parseFloatTypeName for the test-build option `option`; null after the
/// error "<option> = '<name>' (expected f32, bf16 or f16)" otherwise.
mlir::Type
parseFloatTypeOption(mlir::Builder &builder, llvm::StringRef option,
                     llvm::StringRef name,
                     llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// The gpu.module @kernels of `module` (which gets gpu.container_module),
/// created when absent: where the mb-cuda-test-build-* passes put kernels.
mlir::gpu::GPUModuleOp getOrCreateKernelModule(mlir::ModuleOp module);

/// #gpu.address_space<workgroup>.
mlir::Attribute getWorkgroupSpace(mlir::MLIRContext *context);

/// The kernel's dynamic shared memory as memref<?xi8, workgroup> (its size
/// is the launch's `shared_bytes`).
mlir::Value createDynamicShared(mlir::OpBuilder &b, mlir::Location loc);

/// memref<shape x elementType, workgroup> at `byteOffset` of `shared`
/// (createDynamicShared's).
mlir::Value viewShared(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value shared, mlir::Value byteOffset,
                       llvm::ArrayRef<int64_t> shape, mlir::Type elementType);

/// Byte offset into `shared` (memref<?xi8, workgroup>) of its first
/// `alignment`-aligned byte; the kernel allocates `alignment` extra bytes.
mlir::Value alignSharedBase(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value shared, int64_t alignment);

/// Appends the epilogue operands of a [M, N] product to a kernel's argument
/// types and `info.params`: bias [N] of `biasType` (f32 when null) and f32
/// residual [M, N] when enabled.
void appendEpilogueParams(llvm::SmallVectorImpl<mlir::Type> &argTypes,
                          KernelInfo &info, int64_t m, int64_t n, bool bias,
                          mlir::Type biasType, bool residual, mlir::Type f32);

/// Checks an epilogue's bias type: f32 (or null), bf16 or f16.
mlir::LogicalResult
verifyBiasType(mlir::Type biasType,
               llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// A gpu.func kernel `name` with these arguments at `builder`'s insertion
/// point: known block size `info.block`, launch facts as `mbc.launch`.
mlir::gpu::GPUFuncOp createKernelFunc(mlir::OpBuilder &builder,
                                      mlir::Location loc, llvm::StringRef name,
                                      llvm::ArrayRef<mlir::Type> argTypes,
                                      const KernelInfo &info);

/// GELU of an f32 scalar or vector: 0.5 x (1 + erf(x / sqrt 2)), or the tanh
/// form 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
mlir::Value buildGelu(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                      bool tanhForm);

/// A row norm: RMSNorm with the epsilon inside the root, MEGABYTE-pytorch's
/// RMSNorm (the epsilon clamps the norm), or LayerNorm (with a bias).
enum class NormKind { Rms, RmsClamp, Layer };

/// A kernel taking one row per warp, `rowsPerBlock` warps a CTA: this
/// thread's lane and row, and the scf.if that the whole warp enters when
/// its row is below `rows`, with `b` set at the start of its body.
struct WarpRow {
  mlir::Value lane, row;
  mlir::scf::IfOp inside;
};
WarpRow beginWarpRow(mlir::OpBuilder &b, mlir::Location loc, int64_t rows,
                     int64_t rowsPerBlock);

/// 1 / sqrt(meanSquare + eps) (RMSNorm, LayerNorm on centered values) or
/// MEGABYTE-pytorch's 1 / max(sqrt(meanSquare), eps) (RmsClamp), in f32.
mlir::Value buildInverseRms(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value meanSquare, NormKind kind,
                            double epsilon);

/// norm(x) * weight (+ bias) of one row of `dim` features spread over a
/// warp: `values` are this lane's vector<2xf32> pairs of the row,
/// `weights` / `biases` (empty without bias) the matching pairs; the
/// statistics are sums over the lane's pairs reduced by warp shuffles (two
/// passes for LayerNorm: mean, then the centered squares). Returns the f32
/// pairs.
llvm::SmallVector<mlir::Value>
buildWarpRowNorm(mlir::OpBuilder &b, mlir::Location loc,
                 llvm::ArrayRef<mlir::Value> values,
                 llvm::ArrayRef<mlir::Value> weights,
                 llvm::ArrayRef<mlir::Value> biases, NormKind kind,
                 double epsilon, int64_t dim);

/// MEGABYTE-pytorch's token shift for the feature pair at `column` of
/// `row` (`firstPosition`: the row is its sequence's first): the row to
/// read, the previous one for the second half of the `dim` features, and
/// an i1 that is true when the pair is zeros instead (second half, first
/// position).
std::pair<mlir::Value, mlir::Value>
buildTokenShiftSource(mlir::OpBuilder &b, mlir::Location loc, mlir::Value row,
                      mlir::Value column, mlir::Value firstPosition,
                      int64_t dim);

/// `lanes` consecutive elements at `indices` of a parameter (norm weight,
/// bias, embedding row) stored as f32, bf16 or f16, as vector<lanes x f32>:
/// 16-bit ones are widened after the load (which is `lanes` x the element
/// size aligned).
mlir::Value loadWidened(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value memref, mlir::ValueRange indices,
                        int64_t lanes);

/// 2^x of an f32 with ex2.approx.ftz.f32 (llvm.nvvm.ex2.approx.ftz.f; no
/// libdevice call).
mlir::Value buildExp2Approx(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value x);

/// i1 parity of use `use` (index) of an mbarrier: use u waits for the
/// completion of phase u, whose parity is u % 2.
mlir::Value buildMBarrierParity(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Value use);

/// bar.sync `id`, `threads` (i32 values): a named barrier (0 is
/// __syncthreads) over `threads` threads of the CTA.
void buildNamedBarrierSync(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value id, mlir::Value threads);

/// Rotary's inverse frequency for index `i` (f32) of a head of `headDim`:
/// 2^(-(2 i / dh) log2 theta) through ex2.approx (relative error ~2^-22;
/// PyTorch computes 1 / theta^(2i / dh) in f32).
mlir::Value buildRotaryInverseFrequency(mlir::OpBuilder &b, mlir::Location loc,
                                        mlir::Value i, int64_t headDim,
                                        double theta);

/// The max (`isMax`) or sum of an f32 over the lanes reached by xor
/// shuffles with these lane offsets: {1, 2} reduces a quad (one row of an
/// mma C fragment), {16, 8, 4, 2, 1} a whole warp.
mlir::Value buildXorReduce(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value value, llvm::ArrayRef<int32_t> offsets,
                           bool isMax);

} // namespace mbc::cuda

#endif // MBC_PASSES_CUDA_KERNELS_KERNELBUILDERUTILS_H
