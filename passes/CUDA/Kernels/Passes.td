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
    Option<"consumers", "consumers", "int64_t", /*default=*/"1",
           "wgmma: consumer warpgroups (1; or 2, with a producer warpgroup "
           "issuing the TMA loads)">,
    Option<"persistent", "persistent", "int64_t", /*default=*/"0",
           "wgmma with 2 consumers: a persistent kernel of at most this "
           "many CTAs walking the tiles (0: a CTA per tile)">,
    Option<"pairedN", "paired-n", "int64_t", /*default=*/"0",
           "columns of a second product of the same A in the same launch "
           "(0: none)">,
    Option<"rotaryColumns", "rotary-columns", "int64_t", /*default=*/"0",
           "rotary epilogue on the first columns of C (and C2), whole heads "
           "(0: none)">,
    Option<"rotaryHeadDim", "rotary-head-dim", "int64_t", /*default=*/"64",
           "rotary epilogue: head dimension">,
    Option<"rotaryPositions", "rotary-positions", "int64_t",
           /*default=*/"0",
           "rotary epilogue: positions per sequence (the position is row % "
           "this; 0: M)">,
    Option<"rotaryTheta", "rotary-theta", "double", /*default=*/"10000",
           "rotary epilogue: theta">,
    Option<"logSoftmax", "log-softmax", "bool", /*default=*/"false",
           "the head's log-softmax over each row in the epilogue (wgmma, "
           "N <= tile-n)">,
    Option<"mergePositions", "merge-positions", "int64_t", /*default=*/"0",
           "with log-softmax: store the rows as mb.merge_patches "
           "<start_token> orders them, P positions a sequence (0: as they "
           "are)">,
    Option<"mergeSequences", "merge-sequences", "int64_t", /*default=*/"1",
           "with merge-positions: sequences per batch entry">,
    Option<"norm", "norm", "std::string", /*default=*/"\"none\"",
           "norm prologue: none, rms, rms_clamp or layer (A is then the "
           "norm's f32 input rows, normalized by each CTA into shared "
           "memory)">,
    Option<"normPositions", "norm-positions", "int64_t", /*default=*/"0",
           "norm prologue: rows per sequence, the token shift's scope (0: "
           "M)">,
    Option<"normEpsilon", "norm-epsilon", "double", /*default=*/"1e-5",
           "norm prologue: epsilon">,
    Option<"normTokenShift", "norm-token-shift", "bool", /*default=*/"false",
           "norm prologue: MEGABYTE-pytorch's token shift first">,
    Option<"normWeightType", "norm-weight-type", "std::string",
           /*default=*/"\"f32\"",
           "norm prologue: weight/bias type: f32, bf16 or f16">,
    Option<"normGatherVocabulary", "norm-gather-vocabulary", "int64_t",
           /*default=*/"0",
           "norm prologue: > 0 gathers its rows (ids [m, slots], a table of "
           "this many rows of k / slots) instead of reading x">,
    Option<"normGatherSlots", "norm-gather-slots", "int64_t",
           /*default=*/"8", "norm prologue gather: ids a row">,
    Option<"normGatherTableType", "norm-gather-table-type", "std::string",
           /*default=*/"\"bf16\"",
           "norm prologue gather: the table's type: f32, bf16 or f16">,
    Option<"outNorm", "out-norm", "std::string", /*default=*/"\"none\"",
           "norm epilogue over C's rows: none, rms, rms_clamp or layer (f32 "
           "rows; N = tile-n)">,
    Option<"outNormEpsilon", "out-norm-epsilon", "double",
           /*default=*/"1e-5", "norm epilogue epsilon">,
    Option<"outNormWeightType", "out-norm-weight-type", "std::string",
           /*default=*/"\"bf16\"",
           "norm epilogue weight/bias type: f32, bf16 or f16">,
    Option<"outNormStartType", "out-norm-start-type", "std::string",
           /*default=*/"\"\"",
           "norm epilogue: a start row of this type before every sequence "
           "of out-norm-positions rows (empty: none)">,
    Option<"outNormPositions", "out-norm-positions", "int64_t",
           /*default=*/"0", "norm epilogue: rows per sequence (0: M)">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "A and B element type: bf16 or f16">,
    Option<"bLayout", "b-layout", "std::string", /*default=*/"\"nk\"",
           "B in global memory: nk ([N,K], nn.Linear weights) or kn">,
    Option<"bias", "bias", "bool", /*default=*/"false",
           "add a bias[N] in the epilogue">,
    Option<"biasType", "bias-type", "std::string", /*default=*/"\"f32\"",
           "the bias's element type: f32, bf16 or f16">,
    Option<"gelu", "gelu", "std::string", /*default=*/"\"none\"",
           "activation in the epilogue: none, erf (GELU), tanh (GELU's "
           "tanh approximation) or relu">,
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

def CudaTestBuildGemv : Pass<"mb-cuda-test-build-gemv", "::mlir::ModuleOp"> {
  let summary = "build one decode GEMV kernel into gpu.module @kernels";
  let description = [{
    Calls `buildGemvKernel` (passes/CUDA/Kernels/GemvKernel.h): C[M, N] =
    epilogue(A[M, K] W[N, K]^T) with f32 A and 16-bit W, a warp per
    `columns-per-warp` columns, lanes over K in 16-byte chunks. The kernel
    carries its launch facts as `mbc.launch`; an unsupported combination is
    an error that names the option.
  }];
  let options = [
    Option<"m", "m", "int64_t", /*default=*/"1", "rows (1..16)">,
    Option<"n", "n", "int64_t", /*default=*/"4096", "output columns">,
    Option<"k", "k", "int64_t", /*default=*/"4096",
           "reduction size (a multiple of 8; of 4 for f32 weights)">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "W element type: bf16, f16 or f32">,
    Option<"bias", "bias", "bool", /*default=*/"false", "add bias[N]">,
    Option<"biasType", "bias-type", "std::string", /*default=*/"\"f32\"",
           "the bias's element type: f32, bf16 or f16">,
    Option<"activation", "activation", "std::string", /*default=*/"\"none\"",
           "none, gelu, gelu_tanh or relu">,
    Option<"residual", "residual", "bool", /*default=*/"false",
           "add residual[M, N]">,
    Option<"warps", "warps", "int64_t", /*default=*/"8", "warps per block">,
    Option<"columnsPerWarp", "columns-per-warp", "int64_t", /*default=*/"2",
           "output columns per warp">,
    Option<"pairedN", "paired-n", "int64_t", /*default=*/"0",
           "a paired GEMV: the second product's N (0: none)">,
    Option<"thirdN", "third-n", "int64_t", /*default=*/"0",
           "with paired-n: a third product's N (0: none)">,
    Option<"norm", "norm", "std::string", /*default=*/"\"none\"",
           "norm prologue on A: none, rms, rms_clamp or layer">,
    Option<"normEpsilon", "norm-epsilon", "double", /*default=*/"1e-8",
           "the prologue norm's epsilon">,
    Option<"normWeightType", "norm-weight-type", "std::string",
           /*default=*/"\"f32\"", "the prologue norm weight's type: f32, "
           "bf16 or f16">,
    Option<"attentionHeads", "attention-heads", "int64_t", /*default=*/"0",
           "an attention prologue's heads (0: none); A is then the query "
           "and k = heads x attention-head-dim">,
    Option<"attentionHeadDim", "attention-head-dim", "int64_t",
           /*default=*/"64", "the attention prologue's head dim">,
    Option<"attentionCacheLength", "attention-cache-length", "int64_t",
           /*default=*/"9", "the attention prologue's cached positions">,
    Option<"attentionCacheRows", "attention-cache-rows", "int64_t",
           /*default=*/"0", "rows of the caches (0: m)">,
    Option<"attentionFirstRow", "attention-first-row", "int64_t",
           /*default=*/"0", "the caches' first row for A's rows">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"gemv\"",
           "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"];
}

def CudaTestBuildLocalLayer
    : Pass<"mb-cuda-test-build-local-layer", "::mlir::ModuleOp"> {
  let summary = "build one fused local-layer kernel into gpu.module @kernels";
  let description = [{
    Calls `buildLocalLayerKernel` (passes/CUDA/Kernels/LocalLayerKernel.h):
    a whole pre-norm layer of MEGABYTE's local model (token shift, norm,
    per-head attention inside each patch, output projection, residual,
    norm, FFN, residual) for 64 rows per CTA, weights streamed through a
    cp.async pipeline, mma.sync m16n8k16 products. The kernel carries its
    launch facts as `mbc.launch`; an unsupported combination is an error
    that names the option.
  }];
  let options = [
    Option<"sequences", "sequences", "int64_t", /*default=*/"128",
           "patches (x batch)">,
    Option<"positions", "positions", "int64_t", /*default=*/"9",
           "rows per patch (P or P + 1, at most 64)">,
    Option<"dim", "dim", "int64_t", /*default=*/"128",
           "model width (a multiple of 64)">,
    Option<"heads", "heads", "int64_t", /*default=*/"4", "attention heads">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"32",
           "head dimension: a multiple of 16 from 16 to 128">,
    Option<"hidden", "hidden", "int64_t", /*default=*/"512",
           "FFN width (a multiple of 64)">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "weight element type: bf16 or f16">,
    Option<"norm", "norm", "std::string", /*default=*/"\"rms_clamp\"",
           "rms (epsilon in the root), rms_clamp (MEGABYTE-pytorch) or layer">,
    Option<"epsilon", "epsilon", "double", /*default=*/"1e-8", "norm epsilon">,
    Option<"tokenShift", "token-shift", "bool", /*default=*/"true",
           "MEGABYTE-pytorch's token shift before both norms">,
    Option<"activation", "activation", "std::string", /*default=*/"\"gelu\"",
           "none, gelu, gelu_tanh or relu">,
    Option<"fusedKeyValue", "fused-kv", "bool", /*default=*/"true",
           "k and v weights as one [2 heads head-dim, dim] parameter">,
    Option<"scale", "scale", "double", /*default=*/"0",
           "softmax scale (0: 1 / sqrt(head-dim))">,
    Option<"vectorType", "vector-type", "std::string", /*default=*/"\"f32\"",
           "norm weights/biases and FFN biases: f32, bf16 or f16">,
    Option<"rotaryTheta", "rotary-theta", "double", /*default=*/"0",
           "rotary on q and k with this theta (0: none)">,
    Option<"layers", "layers", "int64_t", /*default=*/"1",
           "consecutive layers of this shape in one kernel (each with its "
           "own weights)">,
    Option<"inputVocabulary", "input-vocabulary", "int64_t",
           /*default=*/"0",
           "> 0: the kernel builds its input rows (LocalInputSpec) from "
           "context rows, bytes, an embedding table of this many rows and "
           "a start token, in place of x">,
    Option<"inputPatches", "input-patches", "int64_t", /*default=*/"0",
           "with input-vocabulary: patches per batch entry (K; the context "
           "has K + 1 rows per entry)">,
    Option<"inputTableType", "input-table-type", "std::string",
           /*default=*/"\"bf16\"",
           "with input-vocabulary: the embedding table's type (f32, bf16 "
           "or f16)">,
    Option<"inputStartType", "input-start-type", "std::string",
           /*default=*/"\"bf16\"",
           "with input-vocabulary: the start token's type (f32, bf16 or "
           "f16)">,
    Option<"stages", "stages", "int64_t", /*default=*/"3",
           "weight tiles in flight (2 to 4)">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"local_layer\"",
           "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"];
}

def CudaTestBuildDecodeAttention
    : Pass<"mb-cuda-test-build-decode-attention", "::mlir::ModuleOp"> {
  let summary = "build one decode-attention kernel (a new query against a KV cache)";
  let description = [{
    Calls `buildDecodeAttentionKernel`
    (passes/CUDA/Kernels/DecodeAttentionKernel.h): for each sequence and
    head, one query row against the cache rows 0..position (read from a
    device buffer), online softmax per warp merged in shared memory. The
    kernel carries its launch facts as `mbc.launch`; an unsupported
    combination is an error that names the option.
  }];
  let options = [
    Option<"sequences", "sequences", "int64_t", /*default=*/"1",
           "query rows (one per sequence)">,
    Option<"heads", "heads", "int64_t", /*default=*/"4", "heads">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"64",
           "head dimension: 32, 64 or 128">,
    Option<"cacheLength", "cache-length", "int64_t", /*default=*/"1024",
           "cache positions">,
    Option<"cacheRows", "cache-rows", "int64_t", /*default=*/"0",
           "cache buffer rows (0: sequences)">,
    Option<"firstRow", "first-row", "int64_t", /*default=*/"0",
           "the first sequence's cache row">,
    Option<"scale", "scale", "double", /*default=*/"0",
           "softmax scale (0: 1 / sqrt(head-dim))">,
    Option<"warps", "warps", "int64_t", /*default=*/"4", "warps per CTA">,
    Option<"keysPerStep", "keys-per-step", "int64_t", /*default=*/"4",
           "keys a warp takes per loop step: 1, 2 or 4">,
    Option<"splits", "splits", "int64_t", /*default=*/"1",
           "key splits (flash-decoding): more than 1 also builds the "
           "combine kernel <name>_combine">,
    Option<"kernelName", "name", "std::string",
           /*default=*/"\"decode_attention\"", "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
}

def CudaTestBuildLogSoftmax
    : Pass<"mb-cuda-test-build-log-softmax", "::mlir::ModuleOp"> {
  let summary = "build one log-softmax kernel (the head's, one warp a row)";
  let description = [{
    Calls `buildLogSoftmaxKernel` (passes/CUDA/Kernels/LogSoftmaxKernel.h):
    out = x - max - ln(sum exp(x - max)) per row of x [rows, columns] f32.
    The kernel carries its launch facts as `mbc.launch`; an unsupported
    combination is an error that names the option.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"1", "rows of x">,
    Option<"columns", "columns", "int64_t", /*default=*/"256",
           "columns of x (the vocabulary)">,
    Option<"kernelName", "name", "std::string",
           /*default=*/"\"log_softmax\"", "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"];
}

def CudaTestBuildNorm : Pass<"mb-cuda-test-build-norm", "::mlir::ModuleOp"> {
  let summary = "build one token-shift + norm + rounding kernel";
  let description = [{
    Calls `buildNormKernel` (passes/CUDA/Kernels/NormKernel.h): out =
    16-bit(norm(shift(x)) * weight (+ bias)) per row of x [rows, dim], one
    warp a row. The kernel carries its launch facts as `mbc.launch`; an
    unsupported combination is an error that names the option.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"129", "rows of x">,
    Option<"positions", "positions", "int64_t", /*default=*/"129",
           "rows per sequence (the token shift's scope)">,
    Option<"dim", "dim", "int64_t", /*default=*/"256",
           "features (a multiple of 64)">,
    Option<"norm", "norm", "std::string", /*default=*/"\"rms_clamp\"",
           "rms, rms_clamp or layer">,
    Option<"epsilon", "epsilon", "double", /*default=*/"1e-8", "norm epsilon">,
    Option<"tokenShift", "token-shift", "bool", /*default=*/"true",
           "MEGABYTE-pytorch's token shift first">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "output type: bf16, f16 or f32">,
    Option<"weightType", "weight-type", "std::string", /*default=*/"\"f32\"",
           "norm weight/bias type: f32, bf16 or f16">,
    Option<"startType", "start-type", "std::string", /*default=*/"\"\"",
           "f32, bf16 or f16: a start row of this type before every "
           "sequence of `positions` rows (mb.start_token); empty: none">,
    Option<"kernelName", "name", "std::string", /*default=*/"\"norm\"",
           "kernel symbol">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"];
}

def CudaTestBuildAttention
    : Pass<"mb-cuda-test-build-attention", "::mlir::ModuleOp"> {
  let summary = "build one flash-attention kernel into gpu.module @kernels";
  let description = [{
    Calls `buildAttentionKernel` (passes/CUDA/Kernels/AttentionKernel.h):
    online-softmax attention over [batch-heads, seq-len, head-dim] Q, K, V
    (bf16/f16) into an f32 O, with mma.sync m16n8k16 products (or, with
    `mma=wgmma`, wgmma products on sm_90a). The kernel
    carries its launch facts as `mbc.launch`; an unsupported combination is
    an error that names the option.
  }];
  let options = [
    Option<"batchHeads", "batch-heads", "int64_t", /*default=*/"8",
           "batch x heads (grid y)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"1024",
           "sequence length (queries and keys)">,
    Option<"headDim", "head-dim", "int64_t", /*default=*/"64",
           "head dimension: 32, 64 or 128">,
    Option<"elementType", "element-type", "std::string",
           /*default=*/"\"bf16\"", "Q, K, V element type: bf16 or f16">,
    Option<"causal", "causal", "bool", /*default=*/"true",
           "mask keys after the query">,
    Option<"scale", "scale", "double", /*default=*/"0",
           "softmax scale (0: 1 / sqrt(head-dim))">,
    Option<"keyBlock", "key-block", "int64_t", /*default=*/"64",
           "keys per K/V block: 32, 64 or 128">,
    Option<"rowTiles", "row-tiles", "int64_t", /*default=*/"1",
           "16-row query tiles per warp: 1 (64-row query block) or 2 (128)">,
    Option<"reloadQuery", "reload-query", "bool", /*default=*/"false",
           "read Q fragments from shared memory for every key block instead "
           "of keeping them in registers">,
    Option<"patchLength", "patch-length", "int64_t", /*default=*/"0",
           "local attention: rows per patch, block-diagonal causal mask "
           "(0: none)">,
    Option<"heads", "heads", "int64_t", /*default=*/"0",
           "token-major layout with this many heads per sequence (0: packed "
           "[batch-heads, seq-len, head-dim])">,
    Option<"qRow", "q-row", "int64_t", /*default=*/"0",
           "token-major: elements per Q row (0: heads x head-dim)">,
    Option<"kRow", "k-row", "int64_t", /*default=*/"0",
           "token-major: elements per K row (0: heads x head-dim)">,
    Option<"vRow", "v-row", "int64_t", /*default=*/"0",
           "token-major: elements per V row (0: heads x head-dim)">,
    Option<"kColumn", "k-column", "int64_t", /*default=*/"0",
           "token-major: K's first column">,
    Option<"vColumn", "v-column", "int64_t", /*default=*/"0",
           "token-major: V's first column">,
    Option<"outputType", "output-type", "std::string", /*default=*/"\"f32\"",
           "O's element type: f32 or the element type">,
    Option<"mma", "mma", "std::string", /*default=*/"\"mma_sync\"",
           "products: mma_sync (sm_80 and newer) or wgmma (sm_90a: TMA, a "
           "producer warpgroup and two consumers of 64 query rows)">,
    Option<"pingpong", "pingpong", "bool", /*default=*/"false",
           "wgmma: the two consumers take turns issuing their products "
           "(FlashAttention-3's ping-pong schedule)">,
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
    `math.fma`, `math.absf`, `arith.maxnumf` and scalar f32 `math.sqrt`
    and `math.floor` (also libdevice calls after conversion) into
    `llvm.intr.fma`, a sign-bit mask, `llvm.intr.maxnum`,
    `llvm.nvvm.sqrt.rn.f` and `llvm.nvvm.floor.f`. `math.sin` and
    `math.cos` (the fused local layer's rotary) become MLIR's polynomial
    approximations too.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def CudaExternDynamicShared
    : Pass<"mb-cuda-extern-dynamic-shared", "::mlir::gpu::GPUModuleOp"> {
  let summary = "make the dynamic shared memory base an extern array";
  let description = [{
    `convert-gpu-to-nvvm` lowers `gpu.dynamic_shared_memory` to an internal
    zero-length global in address space 3 (`__dynamic_shmem__N`). NVPTX
    prints it as a one-byte `.shared .b8 __dynamic_shmem__0;`, which ptxas
    lays out among the kernel's static shared variables; where it comes
    first (demoted into the one kernel using it, declared before the
    kernel's `__mbarrier` arrays) the dynamic data starts on top of the
    mbarriers (ptxas -v: 32 bytes of static shared memory for a 1-byte base
    at 0 and 24 bytes of mbarriers at 8). This pass gives those globals
    external linkage, so the PTX declares `.extern .shared .align 16 .b8
    __dynamic_shmem__0[];`, CUDA's dynamic shared memory: it begins after
    every static shared variable. Other globals are left alone.
  }];
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

def CudaMergeWgmmaGroups
    : Pass<"mb-cuda-merge-wgmma-groups", "::mlir::gpu::GPUModuleOp"> {
  let summary = "join consecutive wgmma groups into one";
  let description = [{
    After `convert-nvgpu-to-nvvm`: every `nvvm.wgmma.commit.group.sync.aligned`
    that closes a group ending in a `wgmma.mma_async` and is followed by a
    `wgmma.wait.group.sync.aligned`, ops without memory effects that read no
    wgmma result, a `wgmma.fence.aligned` and the next `wgmma.mma_async`
    loses the commit, the wait and the fence: the two groups become one
    (the PTX ISA orders wgmmas of one shape accumulating into the same
    registers). The GEMM builders issue one `nvgpu.warpgroup.mma` per 64
    rows and 16 K (each its own group, `wait_group 1`); after this pass a K
    block's wgmmas run as one group and one wait follows them. A
    `wgmma.mma_async` whose accumulator is all constant zeros (built from
    poison by insertvalues) becomes scale-d zero (D = A B) on poison: no
    instruction writes the registers, so ptxas inserts no
    warpgroup.arrive before it and serializes no wgmma.
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

def CudaSelectKernels : Pass<"mb-cuda-select-kernels", "::mlir::ModuleOp"> {
  let summary = "route projections and attention to tensor-core kernels";
  let description = [{
    Runs on the mb dialect, after mb-weights-to-arguments and before
    convert-mb-to-linalg (mbc-cuda-pipeline). Every `mb.linear`, `mb.ffn`,
    `mb.head`, `mb.global_to_local`, `mb.global_attention` and
    `mb.local_attention` whose rows
    (the product of the input's leading dimensions) number at least
    `min-rows` is rewritten into calls of private functions
    `@mbc_gemm_<n>` / `@mbc_attention_<n>` that stand for tensor-core
    kernels (passes/CUDA/Kernels/GemmKernel.h, AttentionKernel.h);
    mb-cuda-launch-selected-kernels turns each call into a launch of a
    built kernel after bufferization.

    - GEMM operands are 16-bit: the activation is rounded to the weight's
      storage type (`arith.truncf`, an elementwise op later fused into its
      producer); a weight stored as bf16/f16 is read as stored (the
      `arith.extf` of mb-weights-to-arguments is bypassed); a weight
      stored as f32 is rounded to bf16 on every call. Products accumulate
      in f32 and the result is f32.
    - GEMM epilogues: the bias, the FFN's activation (GELU, its tanh
      approximation or ReLU) and, when the op's only user is an
      `arith.addf` with another tensor of its type that exists before the
      op (the block's residual), that addition.
    - `mb.global_to_local` is one GEMM (a GEMV for decode rows) with the
      bias in its epilogue: dense (MEGABYTE-pytorch), every position but
      the last, then the zero start-position vector in front; shared (the
      paper), every P-th slice a row.
    - `mb.ffn` is two GEMMs, the up GEMM's epilogue writing the hidden
      activation in the down GEMM's 16-bit operand type (`output_type`);
      `mb.head` is the logits GEMM (a GEMV for decode rows), then the
      log-softmax over the vocabulary as one call of
      `@mbc_log_softmax_<n>` (`mb.cuda_log_softmax`: rows, columns), one
      warp a row (LogSoftmaxKernel.h), when `fuse-log-softmax` is set and
      the vocabulary fits a warp's registers (at most 2048 columns); else
      linalg reductions.
    - Decode rows (at most 16: the step, project and head entry points)
      become GEMVs (GemvKernel.h) on the f32 activations reading the
      weights as stored (bf16/f16, or f32), nothing rounded (an FFN's
      hidden activation stays f32), with the same epilogues. `mb.cuda_gemv` holds (m, n, k, weight_type, bias,
      activation, residual, warps, columns_per_warp). The projections of
      `mb.cached_attention` get GEMVs in convert-mb-to-linalg
      (`decode-gemvs`, which mbc-cuda-pipeline sets).
    - Attention (head dim 32, 64 or 128): q, k/v (one GEMM when k and v are
      the two halves of one weight, as MEGABYTE-pytorch's `to_kv`) and
      output projections (with the residual) on GEMMs, rotary on the f32
      projections, then flash attention on 16-bit q, k, v: global,
      token-major (each (sequence, head) read from the projections' rows,
      any number of positions), 32-key blocks, 128-row query blocks
      (`row_tiles` 2) for head dims up to 64 and 64-row ones for 128;
      local, one batch row per
      head holding every patch, packed (patches of at most 64 positions;
      zero rows only after the last, to a whole 64-row block), 64-key
      blocks, the kernel's block-diagonal causal mask keeping patches apart
      (across its blocks too). The kernel's output loses the zero rows and
      is rounded to 16 bits for the output projection.
    - A whole local-model layer (`fuse-local-layers`), matched first:
      `x1 = mb.local_attention(norm(shift?(x))) + x`, then
      `x2 = mb.ffn(norm(shift?(x1))) + x1`, both norms of one kind and
      epsilon (RMSNorm, MEGABYTE-pytorch's clamped RMSNorm or LayerNorm),
      token shift before both or neither, every projection
      weight stored in one 16-bit type, becomes one call of
      `@mbc_local_layer_<n>` (`mb.cuda_local_layer`: sequences, positions,
      dim, heads, head_dim, hidden, weight_type, norm, epsilon,
      token_shift, activation, fused_kv, scale, rotary_theta, stages), the
      fused kernel
      of LocalLayerKernel.h, when that kernel supports the sizes (patches
      of at most 64 positions, head dims multiples of 16 up to 128, dims
      multiples of 64, its tiles within shared memory). Otherwise the layer's ops are selected one by one.
      When x is MEGABYTE-pytorch's finest-stage input,
      `mb.start_token(mb.embedding(table, bytes), start) +
      mb.global_to_local <dense>(h, w, bias)`, each op with no other use
      (`fuse-local-input`), the projection becomes its GEMM (or GEMV) over
      every position of h and the call takes that GEMM's rows, the bytes,
      the table and the start token in place of x (the spec's `input`:
      vocabulary, patches_per_sequence, table_type, start_type): the first
      layer's prologue builds its input rows (LocalInputSpec), and the
      local input is never written to global memory.

    - After the rewrites above (`fuse-norms`): `arith.truncf` of
      `mb.rms_norm` / `mb.layer_norm` (of an `mb.token_shift`, or not; the
      GEMMs' rounded operand) where the norm and the shift have no other
      use becomes one call of `@mbc_norm_<n>` (`mb.cuda_norm`: rows,
      positions, dim, norm, epsilon, token_shift, output_type), one warp a
      row writing the 16-bit operand (NormKernel.h), instead of the shift's
      copies, the norm's kernels and the rounding. Every other norm becomes
      a norm kernel writing f32 rows; one whose rows only `mb.start_token`
      reads (the patch embedding's last LayerNorm) writes the start
      token's result itself (`start_type`: a start row before each
      sequence, the norm's rows one row on), so the concatenation takes no
      launch.

    Kernel choices are the functions' attributes, which tests can pin:
    `mb.cuda_gemm` (m, n, k, element_type, mma, tile_m, tile_n, tile_k,
    stages, consumers, bias, activation, residual, output_type) and
    `mb.cuda_attention`
    (batch_heads, seq_len, head_dim, element_type, causal, scale,
    key_block, patch_length). GEMM tile options set to a positive value
    pin them, 0 lets the pass choose (wgmma: 128 x 256 x 64 tiles, 4
    stages, a producer and two consumer warpgroups when such tiles fill a
    132-SM GPU; else 128 x 128 x 64, 3 stages, one warpgroup, or 64-row
    tiles when 128-row tiles would leave most of the GPU idle;
    mma_sync: 128 x 128 x 32, or 64 x 64). What the kernels do not support
    (N not a multiple of 8, K not a multiple of tile-k, head dims other
    than 32/64/128, patches longer than 64) keeps the generic lowering.
  }];
  let options = [
    Option<"mma", "mma", "std::string", /*default=*/"\"wgmma\"",
           "tensor-core instruction: wgmma (sm_90a only) or mma_sync "
           "(sm_80 and newer)">,
    Option<"minRows", "min-rows", "int64_t", /*default=*/"64",
           "fewest rows a projection needs to use a tensor-core kernel">,
    Option<"tileM", "tile-m", "int64_t", /*default=*/"0",
           "CTA tile rows (0: chosen per GEMM)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"0",
           "CTA tile columns (0: chosen per GEMM)">,
    Option<"tileK", "tile-k", "int64_t", /*default=*/"0",
           "K per pipeline stage (0: 64 for wgmma, 32 for mma_sync)">,
    Option<"stages", "stages", "int64_t", /*default=*/"0",
           "shared-memory pipeline stages (0: chosen per GEMM)">,
    Option<"consumers", "consumers", "int64_t", /*default=*/"0",
           "wgmma: consumer warpgroups, 1 or 2 (with a producer warpgroup); "
           "0: chosen per GEMM">,
    Option<"fuseLocalLayers", "fuse-local-layers", "bool",
           /*default=*/"true",
           "one fused kernel per local-model layer (LocalLayerKernel.h) "
           "where it applies">,
    Option<"fuseLocalInput", "fuse-local-input", "bool",
           /*default=*/"true",
           "a fused local layer builds MEGABYTE-pytorch's local input "
           "(start token, byte embeddings, global-to-local projection) in "
           "its prologue">,
    Option<"fuseNorms", "fuse-norms", "bool", /*default=*/"true",
           "a norm (after a token shift or not) whose only use is the "
           "16-bit operand of GEMMs becomes one kernel writing that operand "
           "(NormKernel.h)">,
    Option<"fuseLogSoftmax", "fuse-log-softmax", "bool", /*default=*/"true",
           "the head's log-softmax becomes one kernel, one warp a row "
           "(LogSoftmaxKernel.h)">,
    Option<"referenceBodies", "reference-bodies", "bool",
           /*default=*/"false",
           "give each fused local layer's and norm's function a body of mb "
           "ops built from its spec, selected like any other ops (CPU "
           "emulation)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CudaLaunchSelectedKernels
    : Pass<"mb-cuda-launch-selected-kernels", "::mlir::ModuleOp"> {
  let summary = "replace calls of selected kernels by launches of built kernels";
  let description = [{
    Runs on buffers (after bufferization, before mb-cuda-form-kernels). Each
    call of a private function carrying `mb.cuda_gemm` (mb-cuda-select-kernels)
    becomes a `gpu.launch_func` of a kernel built by `buildGemmKernel` into
    `gpu.module @mbc_kernels`, named `<function>_gemm_<n>`. The call's
    result becomes a new allocation the kernel writes. A tensor-map
    parameter (`!llvm.ptr` in the kernel) gets the buffer it describes
    through an `unrealized_conversion_cast`, which only the plan reads; the
    launch carries the kernel's launch facts (`mbc.launch`: grid, block,
    dynamic shared memory, parameter kinds and tensor-map descriptions),
    from which the plan (lib/Target/CudaPlan.cpp) writes "tensor_map"
    arguments and `shared_bytes`. The declarations are erased.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect",
    "::mlir::ub::UBDialect", "::mlir::vector::VectorDialect"];
}

def CudaFuseGemvNorms : Pass<"mb-cuda-fuse-gemv-norms", "::mlir::ModuleOp"> {
  let summary = "a decode row's norm into the prologue of the GEMVs reading it";
  let description = [{
    After convert-mb-to-linalg (which makes the GEMVs of cached attention):
    a call of a selected norm kernel (`mb.cuda_norm`) of at most 16 rows,
    an RMSNorm (rms or rms_clamp) or a LayerNorm writing f32 rows without
    token shift, whose every use (through tensor reshapes) is the A operand
    of a selected GEMV of its rows and features (`mb.cuda_gemv`, no
    prologue yet) that takes the prologue (a LayerNorm's rows must fit the
    kernel's shared memory), is removed: each GEMV instead takes the norm's
    input, weight (and bias) and normalizes in its prologue (GemvKernel.h:
    `norm`, `norm_epsilon`, `norm_weight_type`), so a decode step's norm is
    no launch of its own. Declarations left without calls are erased.
    Norms with other users stay.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CudaFuseGemmNorms : Pass<"mb-cuda-fuse-gemm-norms", "::mlir::ModuleOp"> {
  let summary = "a norm kernel into the prologue of the GEMMs reading it, "
                "or the epilogue of the GEMM it reads";
  let description = [{
    After mb-cuda-select-kernels and mb-cuda-pair-gemms: a call of a
    selected norm kernel (`mb.cuda_norm`: token shift, RMSNorm or
    LayerNorm, rounded to 16 bits) whose every use (through tensor
    reshapes) is the A operand of a selected GEMM (`mb.cuda_gemm`, no
    prologue yet) of its rows, features and element type that takes the
    prologue (GemmKernel.h: `norm`; the tile's whole A, tile-m x K 16-bit
    values, must fit shared memory beside at least 2 B stages: the GEMM
    keeps as many of its stages as fit; and the kernel must not be
    persistent) is removed: each GEMM instead takes the norm's f32
    input, its own operands, then the norm's weight (and bias) before a
    paired GEMM's second B, and every CTA normalizes its rows into shared
    memory first. A layer's norm is then no launch of its own and its
    rounded rows never reach global memory. Declarations (or emulation
    bodies) left without calls are erased. Norms with other users stay.

    When the norm's input is MEGABYTE-pytorch's patch embedding,
    `collapse?(mb.patchify(mb.embedding(table, bytes)))` (no pad patch, no
    token shift, each value read only on this path; `gather-rows`), the
    GEMMs take the bytes as [rows, patch] i32 and the table as stored in
    place of x (the norm spec's `gather`: vocabulary, slots, table_type),
    and the prologue gathers each row's embeddings: the embedded bytes are
    never written to global memory.

    A norm kernel writing f32 rows (no token shift; with start rows or
    not: the patch embedding's last LayerNorm) whose input is only the
    result of a selected wgmma GEMM (through reshapes) of N a multiple of
    64 up to 256 becomes that GEMM's epilogue (`epilogue-norms`;
    GemmKernel.h: `outputNorm`, the attribute's `norm_epilogue`): the GEMM
    takes one warpgroup, 64 x N tiles (a CTA holds whole rows) and as many
    stages as fit, then the norm's weight, bias and start row after its own
    operands; the GEMM's f32 rows never reach global memory and the norm
    takes no launch.
  }];
  let options = [
    Option<"gatherRows", "gather-rows", "bool", /*default=*/"true",
           "a norm of embedded patches gathers its rows from the table">,
    Option<"epilogueNorms", "epilogue-norms", "bool", /*default=*/"true",
           "an f32 norm of a wgmma GEMM's rows (N <= 256) becomes the GEMM's "
           "epilogue">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CudaFuseHeadLogSoftmax
    : Pass<"mb-cuda-fuse-head-log-softmax", "::mlir::ModuleOp"> {
  let summary = "the head's log-softmax into its GEMM's epilogue, and the "
                "byte order of mb.merge_patches into its store";
  let description = [{
    After mb-cuda-select-kernels (and mb-cuda-fuse-gemm-norms): a call of
    the selected log-softmax kernel (`mb.cuda_log_softmax`) whose input
    (through reshapes) is the only use of a selected wgmma GEMM's result
    (the head's logits: bias only) becomes that GEMM's epilogue
    (GemmKernel.h: `log_softmax`): the GEMM takes 64-row tiles of all N
    columns (N <= 256, the byte vocabulary), one warpgroup, as many B
    stages as fit, and writes the log-probabilities. When those are read
    only by `mb.merge_patches <start_token>` (through a reshape into
    sequences), the GEMM also stores each row where the merge puts it and
    skips the rows it drops (`merge_positions`, `merge_sequences`); the
    merge becomes a reshape. Scoring's head is then one launch: no logits
    and no unmerged log-probabilities in global memory. mma.sync GEMMs
    (whose tiles are at most 128 columns) keep the log-softmax kernel.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CudaChainLocalLayers
    : Pass<"mb-cuda-chain-local-layers", "::mlir::ModuleOp"> {
  let summary = "consecutive fused local layers of one shape in one kernel";
  let description = [{
    After mb-cuda-select-kernels: a chain of calls of one fused local layer
    spec (`mb.cuda_local_layer`, one layer each), each reading the
    previous one's result (its only use) as x, becomes one call of the
    spec with `layers` = the chain's length (LocalLayerKernel.h): x, then
    every layer's parameters in order. The kernel keeps each tile's
    residual stream in shared memory through all the layers (the whole
    local transformer in one launch: no round trip of the rows through
    global memory between layers, and the next layer's weights stream in
    while the last one finishes). A chain longer than one kernel's
    unrolled schedule allows is cut to the longest prefix that fits. With
    emulation bodies, the chained function's body calls the layers'
    functions in order. Declarations left without calls are erased.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def CudaFuseGemvAttention
    : Pass<"mb-cuda-fuse-gemv-attention", "::mlir::ModuleOp"> {
  let summary = "a decode attention over a short cache into the prologue "
                "of the GEMV reading it";
  let description = [{
    After convert-mb-to-linalg (which makes the decode attention calls and
    the GEMVs of cached attention): a call of a selected decode attention
    (`mb.cuda_decode_attention`) with one split whose result's only use
    (through tensor reshapes with no other use) is the A operand of a
    selected GEMV without a prologue or paired product (the layer's output
    projection) is removed when the GEMV takes the prologue: a cache of at
    most 32 positions (the local model's patch) and rows that fit the
    kernel's shared memory (GemvKernel.h: `attention_heads`,
    `attention_head_dim`, `attention_cache_length`, `attention_cache_rows`,
    `attention_first_row`, `attention_scale`). The GEMV then takes the
    query, its own operands, the caches and the position, and each of its
    blocks computes the attention rows into shared memory first, so a local
    decode layer's attention is no launch of its own. Declarations left
    without calls are erased.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CudaPairGemvs : Pass<"mb-cuda-pair-gemvs", "::mlir::ModuleOp"> {
  let summary = "two GEMVs of the same rows in one launch";
  let description = [{
    After mb-cuda-fuse-gemv-norms: two calls of selected GEMVs
    (`mb.cuda_gemv`) in one block that read the same A (and, with a norm
    prologue, the same norm weight and bias) with the same rows, K, weight type,
    launch shape and norm, neither with a bias, activation or residual nor
    already paired, become one call of a paired GEMV (GemvKernel.h:
    `paired_n`) returning both products: a decode layer's q and kv
    projections of the normalized token are one launch. Pairing runs from
    the last call backwards, each with the nearest earlier call it pairs
    with, and a pair takes a third call before it that pairs with both
    (`third_n`): separate q, k and v projections (the paper's) are one
    launch, whose epilogue the cache rows k and v are written in. The call
    takes the place of the first; the second's operands must be defined before it,
    or be made by ops without side effects from values that are (an f32
    weight's rounding), which move before it. Declarations left without
    calls are erased.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def CudaPairGemms : Pass<"mb-cuda-pair-gemms", "::mlir::ModuleOp"> {
  let summary = "two GEMMs of the same rows in one launch";
  let description = [{
    After mb-cuda-select-kernels: two calls of selected GEMMs
    (`mb.cuda_gemm`) in one block that read the same A with the same rows,
    K, element and output types and kernel configuration (mma, tiles,
    stages, consumers), neither with a bias, activation or residual nor
    already paired, become one call of a paired GEMM (GemmKernel.h:
    `paired_n`) returning both products: an attention layer's q and kv
    projections are one launch, the second product's N tiles after the
    first's in the grid. Pairs are chosen as mb-cuda-pair-gemvs chooses
    them (separate q, k and v without rotary: k and v; with rotary, q and
    k, whose rotation must agree). The call takes the place of the first; the
    second's operands must be defined before it, or be made by ops without
    side effects from values that are (an f32 weight's rounding), which
    move before it. Declarations left without calls are erased.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def CudaReferenceKernels : Pass<"mb-cuda-reference-kernels", "::mlir::ModuleOp"> {
  let summary = "define selected kernels by their arithmetic, for the CPU";
  let description = [{
    Gives every `mb.cuda_gemm` / `mb.cuda_attention` declaration of
    mb-cuda-select-kernels a body on tensors that computes what the kernel
    computes: for a GEMM, the stored 16-bit operands widened to f32,
    products summed in f32, then the epilogue (+ bias, activation, +
    residual); for attention, scores of the widened q and k in f32, the
    causal (and per-patch) mask, softmax and the product with v (in f32,
    where the kernel rounds the probabilities to 16 bits). Followed by `inline` and `symbol-dce` (as
    `mbc-cpu-pipeline{emulate-cuda-kernels=...}` does), the CPU runs the
    model with the CUDA pipeline's kernel selection and operand rounding,
    so end-to-end tests check mb-cuda-select-kernels' rewrites (operands,
    epilogues, fused residuals, attention layouts, padding and masks)
    against PyTorch on a machine without a GPU. It says nothing about the
    tensor-core kernels themselves.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // MBC_PASSES_CUDA_KERNELS_PASSES_TD
