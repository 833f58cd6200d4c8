//===- Pipelines.cpp - mbc's named pass pipelines -------------------------===//
//
// mbc-cpu-pipeline: mb -> linalg on tensors -> buffers -> loops -> LLVM
// dialect with the entry-point ABI of docs/artifact.md. mbc runs it; mbc-opt
// exposes it for tests (`mbc-opt --mbc-cpu-pipeline`).
//
// mbc-cuda-pipeline: the same tensor-level decisions (mb -> linalg, fusion,
// workgroup distribution), then buffers -> one gpu.launch per dispatch ->
// kernels in one gpu.module lowered to NVVM -> PTX per architecture
// (docs/cuda.md). The host side is left as allocations and gpu.launch_func
// ops, which lib/Target/CudaPlan.cpp turns into the runtime's plan.
//
//===----------------------------------------------------------------------===//
#include "passes/CPU/Passes.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Passes.h"
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace mbc {

/// The tensor-level prefix both targets share: entry-point ABI, mb ->
/// linalg and the fusion decisions. The CUDA pipeline does not use the
/// local-model region and online-softmax forms yet (sequenceRows and
/// attentionBlock 0): its generic kernels take one dispatch per op.
static void buildSharedTensorPipeline(
    OpPassManager &pm, const CpuPipelineOptions &options,
    llvm::function_ref<void(OpPassManager &)> addTargetOpPasses = {},
    bool decodeGemvs = false, bool cudaGenericKernels = false) {
  pm.addPass(createWeightsToArguments());
  // Target-specific rewrites of mb ops (the CUDA tensor-core GEMMs).
  if (addTargetOpPasses)
    addTargetOpPasses(pm);
  // The fused local model: the last stage's transformer runs per tile of
  // sequences (one dispatch, one workgroup per tile).
  if (options.sequenceRows > 0) {
    TileSequencesOptions tiles;
    tiles.rows = options.sequenceRows;
    pm.addNestedPass<func::FuncOp>(createTileSequences(tiles));
    pm.addPass(createLowerSequenceTiles());
  }
  // Long causal attention with online softmax, one workgroup per (sequence
  // x head, block of queries).
  ConvertMBToLinalgOptions toLinalg;
  toLinalg.attentionBlock = options.attentionBlock;
  toLinalg.decodeGemvs = decodeGemvs;
  pm.addPass(createConvertMBToLinalg(toLinalg));
  // A decode row's RMSNorm read only by GEMVs becomes their prologue (the
  // GEMVs of cached attention exist from convert-mb-to-linalg on).
  // Then two GEMVs of the same rows (a layer's q and kv) share a launch.
  // A local decode layer's attention (a short cache) becomes the prologue
  // of its output projection's GEMV.
  if (decodeGemvs) {
    pm.addPass(createCudaFuseGemvNorms());
    pm.addPass(createCudaFuseGemvAttention());
    pm.addPass(createCudaPairGemvs());
  }
  pm.addPass(createConvertElementwiseToLinalgPass());
  // Upstream linalg-fuse-elementwise-ops would fuse GELU and norms into the
  // next matmul's inner loop (recomputed N times per element).
  // CUDA generic kernels are one launch per op: concatenations become
  // generics that fuse into their readers (the CPU's vectorized loops would
  // not take their per-element branches).
  CpuFuseElementwiseOptions fusion;
  fusion.concatenations = cudaGenericKernels;
  pm.addPass(createCpuFuseElementwise(fusion));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // [N, K] weights of large contractions copied to [K, N] once per call,
  // before any workgroup distribution (which would copy them per workgroup).
  // On the GPU the [K, N] layout makes adjacent threads (adjacent N) read
  // adjacent weights.
  pm.addPass(createCpuPackContractionOperands({options.packMinRows}));
  // Packs of weights read inside a tile loop are made once, outside it.
  pm.addPass(createLoopInvariantCodeMotionPass());
}

void buildCpuTensorPipeline(OpPassManager &pm,
                            const CpuPipelineOptions &options) {
  if (!options.emulateCudaKernels.empty()) {
    CpuPipelineOptions emulated;
    emulated.copyOptionValuesFrom(options);
    emulated.sequenceRows = 0;
    emulated.attentionBlock = 0;
    buildSharedTensorPipeline(
        pm, emulated,
        [&](OpPassManager &nested) {
          CudaSelectKernelsOptions selection;
          selection.mma = options.emulateCudaKernels;
          selection.referenceBodies = true;
          nested.addPass(createCudaSelectKernels(selection));
          nested.addPass(createCudaPairGemms());
          nested.addPass(createCudaFuseGemmNorms());
          nested.addPass(createCudaFuseHeadLogSoftmax());
          nested.addPass(createCudaChainLocalLayers());
        },
        /*decodeGemvs=*/true, /*cudaGenericKernels=*/true);
    // The GEMVs of cached attention appear in convert-mb-to-linalg: define
    // every selected kernel after it.
    pm.addPass(createCudaReferenceKernels());
    pm.addPass(createInlinerPass());
    pm.addPass(createSymbolDCEPass());
  } else {
    buildSharedTensorPipeline(pm, options);
  }
  // --- Workgroup distribution (passes/CPU, DESIGN.md's dispatch model):
  // heavy ops tiled into scf.forall workgroup grids with their producers
  // fused in, recorded as mb.workgroup_tiles. Everything below tiles each op
  // inside its workgroup.
  CpuDistributeOptions distribute;
  distribute.workgroups = options.workgroups;
  distribute.minIterations = options.minIterations;
  pm.addNestedPass<func::FuncOp>(createCpuDistribute(distribute));
  // --- Single-workgroup code generation (passes/CPU): tile sizes recorded
  // as mb.kernel_config, then tiling (scf.for) and vectorization of every
  // linalg op, wherever it is (also inside workgroup scf.forall bodies).
  pm.addPass(createCpuCollapseContractionRows());
  pm.addPass(createCpuSelectKernelConfigs({options.vectorBits}));
  pm.addPass(createCpuTileAndVectorize());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// Buffers for both targets: updates written back to inout arguments,
/// one-shot bufferization across function boundaries, and results as
/// runtime-owned out-params (allocations that only feed a result are
/// replaced by the out-param itself).
static void addBufferizationToOutParams(OpPassManager &pm) {
  pm.addPass(createWriteBackUpdates());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // The updated caches (mb-write-back-updates) are their arguments now.
  pm.addPass(createDropUpdatedResults());
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  // A layer's updated cache slice written back into the whole cache is a
  // copy between two identical subviews: CSE makes them one value and the
  // canonicalizer drops the self-copy (one copy of the slice per layer and
  // cache, every decode step, otherwise).
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
}

void buildCpuLoweringPipeline(OpPassManager &pm,
                              const CpuPipelineOptions &options) {
  addBufferizationToOutParams(pm);
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createMemRefCopyToLinalg());
  pm.addNestedPass<func::FuncOp>(createElideOutputCopies());
  // --- Dispatches (passes/CPU): each workgroup forall, now on buffers,
  // becomes a function called per workgroup through the host context's
  // parallel_for. Later passes lower the dispatch functions like any other.
  pm.addPass(createCpuOutlineDispatches());
  // Copies that bufferization introduced (slices, concatenations) get
  // mb.kernel_config and vectors too.
  pm.addPass(createCpuSelectKernelConfigs({options.vectorBits}));
  pm.addPass(createCpuTileAndVectorize());
  // --- Vector lowering (passes/CPU): accumulators hoisted on buffers,
  // contractions to FMAs, transfers to 1-D loads and stores.
  pm.addPass(createCpuLowerVectors({options.vectorBits}));
  VectorTransferToSCFOptions vectorToSCF;
  vectorToSCF.enableFullUnroll();
  pm.addPass(createConvertVectorToSCFPass(vectorToSCF));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createConvertLinalgToLoopsPass());
  // Strided-metadata expansion creates affine.apply for dynamic offsets
  // (decode positions), so affine is lowered after it.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  // bf16 conversions without compiler-runtime calls.
  pm.addPass(createCpuExpandBFloat16());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  // Horizontal sums as trees, not one lane at a time.
  vectorToLLVM.reassociateFPReductions = true;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  // Vector math (floor, sqrt, fma of the polynomial approximations) becomes
  // LLVM intrinsics before math-to-libm could unroll it into scalar calls.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  ConvertFuncToLLVMPassOptions funcToLLVM;
  // Static shapes: each buffer crosses the ABI as one pointer.
  funcToLLVM.useBarePtrCallConv = true;
  pm.addPass(createConvertFuncToLLVMPass(funcToLLVM));
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createEntryWrappers());
  pm.addPass(createCanonicalizerPass());
}

void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options) {
  buildCpuTensorPipeline(pm, options);
  buildCpuLoweringPipeline(pm, options);
}

void buildCudaTensorPipeline(OpPassManager &pm,
                             const CudaPipelineOptions &options) {
  CpuPipelineOptions shared;
  shared.sequenceRows = 0;
  shared.attentionBlock = 0;
  buildSharedTensorPipeline(
      pm, shared,
      [&](OpPassManager &nested) {
        // Large projections (linear, FFN, head, attention's) -> tensor-core
        // GEMMs with their epilogues, attention -> flash attention, launched
        // after bufferization (mb-cuda-launch-selected-kernels).
        if (!options.tensorCores)
          return;
        CudaSelectKernelsOptions selection;
        selection.mma = options.mmaKind();
        selection.minRows = options.gemmMinRows;
        selection.fuseLocalLayers = options.fuseLocalLayers;
        selection.fuseLocalInput = options.fuseLocalInput;
        nested.addPass(createCudaSelectKernels(selection));
        // An attention layer's q and kv projections: one launch; a norm
        // read only by GEMMs: their prologue.
        nested.addPass(createCudaPairGemms());
        if (options.fuseGemmNorms)
          nested.addPass(createCudaFuseGemmNorms());
        // The head's log-softmax (and the merge into bytes): its GEMM's
        // epilogue. Consecutive fused local layers: one kernel.
        nested.addPass(createCudaFuseHeadLogSoftmax());
        nested.addPass(createCudaChainLocalLayers());
      },
      /*decodeGemvs=*/options.tensorCores, /*cudaGenericKernels=*/true);
  // f32 weights the tensor-core kernels read as bf16: rounded once, when
  // the model loads (derived weights), not by a kernel in every call.
  if (options.tensorCores)
    pm.addPass(createCudaHoistWeightConversions());
  // Workgroups are thread blocks: many more and smaller than CPU ones.
  CpuDistributeOptions distribute;
  distribute.workgroups = options.workgroups;
  distribute.minIterations = options.minIterations;
  pm.addNestedPass<func::FuncOp>(createCpuDistribute(distribute));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildCudaLoweringPipeline(OpPassManager &pm,
                               const CudaPipelineOptions &options) {
  addBufferizationToOutParams(pm);
  // No deallocation: every allocation left becomes an arena slot of the
  // plan, placed by liveness.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createMemRefCopyToLinalg());
  // Calls of selected tensor-core kernels -> launches of built kernels.
  pm.addPass(createCudaLaunchSelectedKernels());
  // A buffer only copied into an output is that output (no copy launch;
  // the CPU pipeline does the same).
  pm.addNestedPass<func::FuncOp>(createElideOutputCopies());
  // Elementwise ops after a GEMV (residual, token shift, cache rows) run
  // in its threads, after each element's store.
  pm.addPass(createCudaFuseEpilogues());
  // --- Kernels (passes/CUDA): one launch per dispatch, work spread over
  // threads, outlined into @mbc_kernels.
  CudaFormKernelsOptions formKernels;
  formKernels.blockSize = options.blockSize;
  pm.addNestedPass<func::FuncOp>(createCudaFormKernels(formKernels));
  pm.addNestedPass<func::FuncOp>(createCudaMapToThreads());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCudaOutlineKernels());
  // --- Device lowering (the gpu-lower-to-nvvm list): views to pointer
  // arithmetic, loops to branches, everything to NVVM. Buffers cross the
  // kernel boundary as bare pointers (docs/cuda.md: "ptr" params).
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  // Built tensor-core kernels: nvgpu (TMA, mbarrier, wgmma, ldmatrix,
  // mma.sync, cp.async) and vector ops to NVVM; their erf/tanh as
  // polynomials (no libdevice).
  device.addPass(createCudaExpandMath());
  device.addPass(createConvertNVGPUToNVVMPass());
  // A K block's wgmmas as one group; first products from zero accumulators
  // as scale-d 0 (what mb-cuda-kernels-to-ptx does for the kernel tests).
  device.addPass(createCudaMergeWgmmaGroups());
  device.addPass(createConvertVectorToSCFPass());
  device.addPass(memref::createExpandStridedMetadataPass());
  device.addPass(createLowerAffinePass());
  device.addPass(createSCFToControlFlowPass());
  device.addPass(createConvertNVVMToLLVMPass());
  ConvertGpuOpsToNVVMOpsOptions toNVVM;
  toNVVM.useBarePtrCallConv = true;
  toNVVM.indexBitwidth = 64;
  device.addPass(createConvertGpuOpsToNVVMOps(toNVVM));
  // Tensor maps by value (.param, grid constant), as docs/cuda.md says.
  device.addNestedPass<LLVM::LLVMFuncOp>(createCudaGridConstantParams());
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  CudaAttachTargetsOptions targets;
  for (const std::string &arch : options.archList())
    targets.archs.push_back(arch);
  pm.addPass(createCudaAttachTargets(targets));
}

void buildCudaPipeline(OpPassManager &pm, const CudaPipelineOptions &options) {
  buildCudaTensorPipeline(pm, options);
  buildCudaLoweringPipeline(pm, options);
  if (options.serialize) {
    // PTX from LLVM's NVPTX backend, in process, one object per target.
    GpuModuleToBinaryPassOptions toBinary;
    toBinary.compilationTarget = "isa";
    pm.addPass(createGpuModuleToBinaryPass(toBinary));
  }
}

std::string CudaPipelineOptions::mmaKind() const {
  for (const std::string &arch : archList())
    if (arch != "sm_90a")
      return "mma_sync";
  return "wgmma";
}

std::vector<std::string> CudaPipelineOptions::archList() const {
  if (archs.empty())
    return {"sm_90a"};
  return std::vector<std::string>(archs.begin(), archs.end());
}

void registerPipelines() {
  PassPipelineRegistration<CudaPipelineOptions>(
      "mbc-cuda-pipeline",
      "lower an mb module to kernels for NVIDIA GPUs (one gpu.module, PTX "
      "per architecture) and a host side of allocations and launches "
      "(docs/cuda.md)",
      buildCudaPipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "mbc-cpu-pipeline",
      "lower an mb module to the LLVM dialect for the host CPU, with the "
      "entry-point ABI of docs/artifact.md",
      buildCpuPipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "mbc-cpu-tensor-pipeline",
      "first half of mbc-cpu-pipeline: entry-point ABI and mb -> linalg on "
      "tensors",
      buildCpuTensorPipeline);
}

} // namespace mbc
