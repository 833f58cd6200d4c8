//===- Passes.td - mbc's CUDA kernel builders as passes ----*- tablegen -*-===//
//
// Test entry points of the tensor-core kernel builders, and the passes that
// take a gpu.module of built kernels to PTX text.
//
//===----------------------------------------------------------------------===//

#ifndef MBC_PASSES_CUDA_KERNELS_PASSES_TD
#define MBC_PASSES_CUDA_KERNELS_PASSES_TD

include "mlir/Pass/PassBase.td"

def CudaTestBuildGemm : Pass<"mb-cuda-test-build-gemm", "::mlir::ModuleOp"> {
  let summary = "build one tensor-core GEMM kernel into gpu.module @kernels";
  let description = [{
    Calls `buildGemmKernel` (passes/CUDA/Kernels/GemmKernel.h) with the
    options below and appends the kernel to `gpu.module @kernels` (created
    when absent; the module gets `gpu.container_module`). The kernel carries
    its launch facts (grid, block, dynamic shared bytes, parameter kinds and
    tensor-map descriptions) as the `mbc.launch` attribute. An unsupported
    combination is an error that names the option.
  }];
  let options = [
    Option<"m", "m", "int64_t", /*default=*/"256", "rows of A and C">,
    Option<"n", "n", "int64_t", /*default=*/"256", "columns of C">,
    Option<"k", "k", "int64_t", /*default=*/"256", "reduction size">,
    Option<"mma", "mma", "std::string", /*default=*/"\"wgmma\"",
           "tensor-core instruction: wgmma (sm_90a) or mma_sync (sm_80)">,
    Option<"tileM", "tile-m", "int64_t", /*default=*/"128", "CTA tile rows">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"128",
           "CTA tile columns">,
    Option<"tileK", "tile-k", "int64_t", /*default=*/"64",
           "K per pipeline stage">,
    Option<"stages", "stages", "int64_t", /*default=*/"3",
           "shared-memory pipeline stages">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "A and B element type: bf16 or f16">,
    Option<"bLayout", "b-layout", "std::string", /*default=*/"\"nk\"",
           "B in global memory: nk ([N,K], nn.Linear weights) or kn">,
    Option<"bias", "bias", "bool", /*default=*/"false",
           "add an f32 bias[N] in the epilogue">,
    Option<"gelu", "gelu", "std::string", /*default=*/"\"none\"",
           "GELU in the epilogue: none, erf or tanh">,
    Option<"residual", "residual", "bool", /*default=*/"false",
           "add an f32 residual[M,N] in the epilogue">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"gemm\"",
           "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect",
    "::mlir::ub::UBDialect", "::mlir::vector::VectorDialect"];
}

def CudaTestBuildAttention
    : Pass<"mb-cuda-test-build-attention", "::mlir::ModuleOp"> {
  let summary = "build one flash-attention kernel into gpu.module @kernels";
  let description = [{
    Calls `buildAttentionKernel` (passes/CUDA/Kernels/AttentionKernel.h):
    online-softmax attention over [batch-heads, seq-len, head-dim] Q, K, V
    (bf16/f16) into an f32 O, with mma.sync m16n8k16 products. The kernel
    carries its launch facts as `mbc.launch`; an unsupported combination is
    an error that names the option.
  }];
  let options = [
    Option<"batchHeads", "batch-heads", "int64_t", /*default=*/"8",
           "batch x heads (grid y)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"1024",
           "sequence length (queries and keys)">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"64",
           "head dimension: 64 or 128">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "Q, K, V element type: bf16 or f16">,
    Option<"causal", "causal", "bool", /*default=*/"true",
           "mask keys after the query">,
    Option<"scale", "scale", "double", /*default=*/"0",
           "softmax scale (0: 1 / sqrt(head-dim))">,
    Option<"keyBlock", "key-block", "int64_t", /*default=*/"64",
           "keys per K/V block: 32, 64 or 128">,
    Option<"patchLength", "patch-length", "int64_t", /*default=*/"0",
           "local attention: rows per patch, block-diagonal causal mask "
           "(0: none)">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"attention\"",
           "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
}

def CudaExpandMath : Pass<"mb-cuda-expand-math"> {
  let summary = "expand math.erf and math.tanh into polynomial arithmetic";
  let description = [{
    `convert-gpu-to-nvvm` turns `math.erf` and `math.tanh` into calls to
    libdevice (`__nv_erff`, `__nv_tanhf`), which `gpu-module-to-binary` links
    only when it finds a CUDA toolkit at compile time; otherwise ptxas
    rejects the PTX ("Unresolved extern function"). mbc's kernels must not
    depend on that, so this pass rewrites both with MLIR's polynomial
    approximations (mlir/Dialect/Math/Transforms, the same ones the CPU path
    uses) into arith/math ops that lower to plain PTX arithmetic, and
    `math.fma` and `math.absf` (also libdevice calls after conversion) into
    `llvm.intr.fma` and a sign-bit mask.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def CudaGridConstantParams
    : Pass<"mb-cuda-grid-constant-params", "::mlir::LLVM::LLVMFuncOp"> {
  let summary = "pass the tensor maps of NVVM kernels by value";
  let description = [{
    Kernel builders mark the arguments that are 128-byte CUtensorMaps with
    `mbc.tensor_map_params` (argument indices) on the gpu.func. After
    `convert-gpu-to-nvvm` (which drops unknown argument attributes but keeps
    function attributes) this pass gives those arguments of the llvm.func
    `llvm.byval = !llvm.array<128 x i8>`, `llvm.align = 64` and
    `nvvm.grid_constant`, so the PTX parameter is `.param .align 64 .b8
    [128]` and TMA instructions read the map from parameter space, as
    docs/cuda.md specifies ("tensor_map" taken by value).
  }];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

def CudaWritePtx : Pass<"mb-cuda-write-ptx", "::mlir::ModuleOp"> {
  let summary = "write the PTX of every gpu.binary to a file";
  let description = [{
    After `gpu-module-to-binary{format=isa}`, writes the PTX text of every
    object of every gpu.binary, in order, to `output` ("-" for stdout), so
    tests can FileCheck it and run ptxas on it. Fails when an object is not
    PTX text.
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "file to write, - for stdout">,
  ];
}

#endif // MBC_PASSES_CUDA_KERNELS_PASSES_TD
