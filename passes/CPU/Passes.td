//===- Passes.td - mbc's CPU code-generation passes --------*- tablegen -*-===//
//
// Single-workgroup code quality on the CPU: which linalg ops are fused, the
// tile sizes each op gets (recorded as attributes first), tiling and
// vectorization on tensors, and the vector-to-LLVM preparation after
// bufferization.
//
//===----------------------------------------------------------------------===//

#ifndef MBC_PASSES_CPU_PASSES_TD
#define MBC_PASSES_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def CpuFuseElementwise : Pass<"mb-cpu-fuse-elementwise"> {
  let summary = "fuse elementwise linalg ops where no value is recomputed";
  let description = [{
    Upstream `linalg-fuse-elementwise-ops` fuses every single-use elementwise
    producer into its consumer. When the consumer reads the producer through
    a non-permutation indexing map (a contraction or a broadcast), the
    producer's body is then evaluated once per consumer iteration: a GELU
    fused into the next matmul computes `erf` N times per element. This pass
    applies the same patterns (elementwise fusion, reshape propagation by
    expansion, constant folding, canonicalization) but fuses a producer only
    when its every element is computed once in the consumer (the operand's
    map is a permutation), or when its body is a pure type conversion
    (`arith.extf` of bf16 weights), which is cheaper to redo than to
    materialize.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CpuPackContractionOperands : Pass<"mb-cpu-pack-contraction-operands"> {
  let summary = "materialize the weight operand of large contractions [K, N]";
  let description = [{
    The CPU register kernel of a contraction is an outer product: per step
    of the reduction it broadcasts `mr` elements of the left operand and
    loads `nr` contiguous elements of the right operand. Linear layers keep
    PyTorch's `[out, in]` = `[N, K]` weights, so the right operand is
    contiguous along K, not N. For a contraction with at least
    `min-rows` rows (the product of its M dimensions), this pass copies the
    right operand once per call into a `[K..., N...]` tensor (applying the
    body's type conversion of that operand, e.g. bf16 to f32, on the way)
    and rewrites the contraction to read the copy. The copy costs one read
    and write of the weight against `min-rows` multiply-adds per weight
    element. Smaller contractions (decode steps) keep the `[N, K]` layout and
    get a dot-product kernel instead.
  }];
  let options = [
    Option<"minRows", "min-rows", "int64_t", /*default=*/"16",
           "smallest M (product of the M dimensions) whose contraction gets "
           "its right operand transposed">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CpuSelectKernelConfigs : Pass<"mb-cpu-select-kernel-configs"> {
  let summary = "choose cache and register tiles for every linalg op";
  let description = [{
    Attaches `mb.kernel_config` to every linalg op on tensors that does not
    carry one yet: a dictionary with the op's `kind` ("contraction",
    "dot_product", "elementwise" or "reduction"), `cache_tiles` and
    `register_tiles` (one size per loop, 0 = not tiled at that level), and
    for contractions the `cache_order` of the tile loops (outermost first).
    Register tiles of contractions follow the outer-product kernel: `mr`
    rows by `nr` columns of accumulators (8 x 32 with 512-bit vectors: 16
    zmm registers; 4 x 16 with 256-bit vectors), one step of K. Other ops are
    vectorized along their innermost loop. `mb-cpu-tile-and-vectorize` only
    reads the attribute, so tests can pin tiles by writing it.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", /*default=*/"0",
           "vector register width to tile for: 512 (AVX-512), 256 (AVX2), "
           "128; 0 = the host CPU's">,
  ];
}

def CpuTileAndVectorize : Pass<"mb-cpu-tile-and-vectorize"> {
  let summary = "tile linalg ops by their mb.kernel_config and vectorize them";
  let description = [{
    For every linalg op with an `mb.kernel_config` (wherever it is, also
    inside `scf.forall` workgroup loops): tiles with `scf.for` to the cache
    tiles (in `cache_order`), then to the register tiles; peels register
    loops whose tiles do not divide the iteration space, so that the main
    tiles have static shapes; vectorizes every static register tile
    (contractions become `vector.contract`); and hoists the accumulators of
    the reduction loops into loop-carried vectors. Tiles that stay dynamic
    (the peeled remainders) are left as linalg ops for the loop lowering.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def CpuLowerVectors : Pass<"mb-cpu-lower-vectors"> {
  let summary = "lower vector ops to the forms the LLVM conversion takes";
  let description = [{
    Runs on buffers: hoists loop-invariant transfers, lowers
    `vector.contract` to outer products and `vector.fma`, transfers to 1-D
    loads and stores, transposes to shuffles, multi-reductions to
    reductions, and `math` ops on vectors (exp, erf, log, tanh) to
    polynomial approximations, so no vector math goes through libm. The
    pipeline then runs `convert-vector-to-scf` and `convert-vector-to-llvm`.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", /*default=*/"0",
           "vector register width (for the transpose lowering): 512, 256, "
           "128; 0 = the host CPU's">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // MBC_PASSES_CPU_PASSES_TD
