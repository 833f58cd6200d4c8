//===- Passes.h - mbc's passes and pipelines --------------------*- C++ -*-===//
#ifndef MBC_PASSES_PASSES_H
#define MBC_PASSES_PASSES_H

#include "dialects/MB/MBDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mbc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

/// The decisions mbc-cpu-pipeline leaves open (tests pin them; mbc derives
/// vector-bits from its --cpu target).
struct CpuPipelineOptions : mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> attentionBlock{
      *this, "attention-block",
      llvm::cl::desc("query/key block of online-softmax attention (0: the "
                     "scores whole)"),
      llvm::cl::init(64)};
  Option<int64_t> sequenceRows{
      *this, "sequence-rows",
      llvm::cl::desc("most rows of one local-model tile (mb-tile-sequences; "
                     "0: no local-model region)"),
      llvm::cl::init(128)};
  Option<int64_t> workgroups{
      *this, "workgroups",
      llvm::cl::desc("workgroups a heavy op is split into (mb-cpu-distribute)"),
      llvm::cl::init(32)};
  Option<int64_t> minIterations{
      *this, "min-iterations",
      llvm::cl::desc(
          "fewest loop iterations per workgroup (mb-cpu-distribute)"),
      llvm::cl::init(131072)};
  Option<int64_t> packMinRows{
      *this, "pack-min-rows",
      llvm::cl::desc("smallest M whose contraction reads a [K, N] copy of its "
                     "[N, K] weight (mb-cpu-pack-contraction-operands)"),
      llvm::cl::init(16)};
  Option<int64_t> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("vector register width in bits (0: this machine's)"),
      llvm::cl::init(0)};
  Option<std::string> emulateCudaKernels{
      *this, "emulate-cuda-kernels",
      llvm::cl::desc("testing: make the CUDA pipeline's tensor-core kernel "
                     "selection (mb-cuda-select-kernels with this mma, then "
                     "mb-cuda-reference-kernels) and its tensor-level "
                     "structure (no local-model region, no online "
                     "softmax), so the CPU computes what the GPU would "
                     "with 16-bit kernel operands; empty: off"),
      llvm::cl::init("")};
};

/// mbc-cpu-pipeline and its two halves (tensor level, then lowering to the
/// LLVM dialect).
void buildCpuTensorPipeline(mlir::OpPassManager &pm,
                            const CpuPipelineOptions &options = {});
void buildCpuLoweringPipeline(mlir::OpPassManager &pm,
                              const CpuPipelineOptions &options = {});
void buildCpuPipeline(mlir::OpPassManager &pm,
                      const CpuPipelineOptions &options = {});

/// Options of mbc-cuda-pipeline.
struct CudaPipelineOptions
    : public mlir::PassPipelineOptions<CudaPipelineOptions> {
  ListOption<std::string> archs{
      *this, "archs",
      llvm::cl::desc("CUDA architectures, e.g. sm_90a,sm_80 (default "
                     "sm_90a)")};
  Option<bool> serialize{
      *this, "serialize",
      llvm::cl::desc("end with gpu-module-to-binary (PTX per architecture)"),
      llvm::cl::init(true)};
  Option<int64_t> workgroups{
      *this, "workgroups",
      llvm::cl::desc("workgroups (thread blocks) to aim at per dispatch"),
      llvm::cl::init(1024)};
  Option<int64_t> minIterations{
      *this, "min-iterations",
      llvm::cl::desc("fewest loop iterations worth a workgroup"),
      llvm::cl::init(2048)};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("most threads per block"),
                            llvm::cl::init(256)};
  Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc("projections and attention with >= gemm-min-rows "
                     "rows run on tensor-core kernels (bf16/f16 operands, "
                     "f32 accumulation; mb-cuda-select-kernels); false: "
                     "every op uses the generic f32 kernels"),
      llvm::cl::init(true)};
  Option<bool> fuseLocalLayers{
      *this, "fuse-local-layers",
      llvm::cl::desc("with tensor-cores: each local-model layer the fused "
                     "kernel supports runs as one kernel "
                     "(LocalLayerKernel.h); false: its ops are selected one "
                     "by one"),
      llvm::cl::init(true)};
  Option<bool> fuseLocalInput{
      *this, "fuse-local-input",
      llvm::cl::desc("with fuse-local-layers: the first fused local layer "
                     "builds MEGABYTE-pytorch's local input (start token, "
                     "byte embeddings, global-to-local projection) in its "
                     "prologue; false: a kernel of its own writes it"),
      llvm::cl::init(true)};
  Option<bool> fuseGemmNorms{
      *this, "fuse-gemm-norms",
      llvm::cl::desc("with tensor-cores: a norm read only by GEMMs that "
                     "take it becomes their prologue "
                     "(mb-cuda-fuse-gemm-norms); false: a norm kernel of "
                     "its own"),
      llvm::cl::init(true)};
  Option<int64_t> gemmMinRows{
      *this, "gemm-min-rows",
      llvm::cl::desc("fewest rows a projection needs for a tensor-core "
                     "GEMM"),
      llvm::cl::init(64)};

  /// The tensor-core instruction every listed architecture runs: wgmma when
  /// all are sm_90a, else mma_sync (sm_80 and newer).
  std::string mmaKind() const;

  /// `archs`, or sm_90a when none is given.
  std::vector<std::string> archList() const;
};

/// mbc-cuda-pipeline and its parts: the tensor level (shared decisions and
/// workgroup distribution), the lowering to NVVM with the host side left as
/// allocations and gpu.launch_func, then (serialize) PTX per architecture.
void buildCudaTensorPipeline(mlir::OpPassManager &pm,
                             const CudaPipelineOptions &options);
void buildCudaLoweringPipeline(mlir::OpPassManager &pm,
                               const CudaPipelineOptions &options);
void buildCudaPipeline(mlir::OpPassManager &pm,
                       const CudaPipelineOptions &options);

/// Registers every mbc pass and named pipeline with the global registry
/// (mbc-opt and mbc's --mlir-* options see them).
void registerPasses();

} // namespace mbc

#endif // MBC_PASSES_PASSES_H
