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
    materialize. For the same reason a `tensor.extract` from a converted
    tensor (an embedding gather) reads the original and converts the
    element, and a `linalg.broadcast` of a converted tensor is generalized
    so the conversion fuses into it.

    With `concatenations` (the CUDA pipeline, whose generic kernels are one
    launch per op): a concatenation (tensor.insert_slice of parts along one
    dimension into a tensor.empty they cover) becomes one linalg.generic
    that reads, per element, the part holding it (scf.if on the index), so
    it fuses into its elementwise consumer like any elementwise producer;
    the part producers that are cheap elementwise generics (gathers,
    conversions, broadcasts) and fills are evaluated where their element is
    read, and parts that are slices or reshapes of a tensor are read from
    that tensor at the computed index (no copy of the view). MEGABYTE's
    local input (start token, byte embeddings, projected global context) is
    then one launch instead of one per slice, and scoring's output rows are
    read straight from the head's log-probabilities.
  }];
  let options = [
    Option<"concatenations", "concatenations", "bool", /*default=*/"false",
           "rewrite concatenations into fusible generics">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
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

def CpuCollapseContractionRows : Pass<"mb-cpu-collapse-contraction-rows"> {
  let summary = "merge the M loops of contractions into one row loop";
  let description = [{
    The outer-product kernel tiles one M loop by `mr` rows. When a
    contraction has several M loops that are contiguous in the left operand
    and the result (the local model's patches x positions, [P, 9, D]), the
    innermost one alone (9 positions) leaves a partial tile in every row
    group. This pass collapses the maximal run of M loops that ends with the
    result's innermost M loop into one loop (`linalg` reshapes around the
    op), so the rows are tiled as one sequence (72 = 9 x 8 rows).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CpuSelectKernelConfigs : Pass<"mb-cpu-select-kernel-configs"> {
  let summary = "choose cache and register tiles for every linalg op";
  let description = [{
    Attaches `mb.kernel_config` to every linalg op (on tensors, or on
    buffers: the copies bufferization leaves) that does not carry one yet: a dictionary with the op's `kind` ("contraction",
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
    inside `scf.forall` workgroup loops; consumers first), with `scf.for`
    only:

    - cache tiles in `cache_order`, then register tiles: the parallel loops
      first, then the reduction loops innermost. While no reduction loop is
      tiled, an elementwise producer of the op's init (the zero fill, a
      broadcast bias) is fused into the tiles, so accumulators start in
      registers;
    - register loops whose tile does not divide their range are peeled; the
      remainders are tiled again by 1 along their dynamic extents, so every
      register tile has a static shape;
    - contraction tiles become `vector.outerproduct` (a column of A, a row
      of B); `dot_product` ops are first split along K into lanes that
      accumulate with `vector.fma`, then summed once; all other tiles go
      through the linalg vectorizer (gathers for indexed reads);
    - accumulators of reduction loops are hoisted into loop-carried vectors.

    A malformed `mb.kernel_config` is an error naming the entry.
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

def CpuExpandBFloat16 : Pass<"mb-cpu-expand-bf16"> {
  let summary = "bf16 conversions as integer arithmetic";
  let description = [{
    Rewrites `arith.truncf` to bf16 (round to nearest even) and
    `arith.extf` from bf16 (a 16-bit shift) into integer ops, scalars and
    vectors alike, with upstream's ExpandBFloat16 patterns. Without it,
    LLVM lowers an f32 -> bf16 truncation on an x86 CPU without AVX512-BF16
    to a call of `__truncsfbf2`, a compiler-runtime function the artifact's
    shared object cannot count on where it is loaded. The CPU lowering runs
    it before the conversion to LLVM.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def CpuDistribute : Pass<"mb-cpu-distribute", "mlir::func::FuncOp"> {
  let summary = "tile heavy linalg ops into scf.forall workgroups";
  let description = [{
    The CPU side of the dispatch model (DESIGN.md): a linalg op on tensors
    at the top level of a function is tiled along its outer parallel loops
    into an `scf.forall`, one iteration per workgroup, when its workgroup
    (the op and the single-use linalg producers it absorbs) has at least
    twice `min-iterations` loop iterations. It aims at about `workgroups`
    workgroups (fewer for small ops): outer loops are split first, an inner
    loop only while the outer ones give fewer than half the workgroups
    wanted. Reduction loops are never split, so results do not depend on
    how many threads run the workgroups. Tiles are multiples of a vector
    (16) along the loop contiguous in the result and, when a contraction is
    in the workgroup, of 8 rows along the other loops (the CPU kernel's
    register rows); a tile that divides its loop is preferred.

    The choice is recorded on the op (and kept on its tile inside the
    forall) as `mb.workgroup_tiles = array<i64: ...>`, one tile per loop,
    0 = not distributed; an op that already carries the attribute is tiled
    as it says (all zeros: left alone). Ops are visited last to first, and
    a producer is fused into its consumer's forall when the consumer is its
    only user and its tile moves with every workgroup index (fills, bias
    broadcasts, norm statistics, activations of the rows a workgroup reads),
    so nothing is computed twice; a weight every workgroup would read whole
    keeps its own workgroups. `mb-cpu-outline-dispatches` turns each forall
    into a dispatch after bufferization.
  }];
  let options = [
    Option<"workgroups", "workgroups", "int64_t", /*default=*/"32",
           "workgroups to aim at per dispatch (several per thread, so "
           "threads that finish early take more)">,
    Option<"minIterations", "min-iterations", "int64_t", /*default=*/"131072",
           "fewest loop iterations (reductions included) worth a workgroup; "
           "ops below twice this stay on the calling thread (the default "
           "keeps decode steps whole: their vectorized ops take less time "
           "than a parallel_for's wake-up and join)">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def CpuOutlineDispatches : Pass<"mb-cpu-outline-dispatches", "mlir::ModuleOp"> {
  let summary = "turn workgroup scf.foralls into parallel_for dispatches";
  let description = [{
    Runs on buffers, after bufferization. For each entry point of
    `mb.entry_points`, every outermost `scf.forall` (a workgroup grid of
    `mb-cpu-distribute`, without results now) with static bounds becomes a
    dispatch (docs/artifact.md):

    - a private function `@<entry>_dispatch_<n>(!llvm.ptr, i64)` whose body
      is the forall body for one workgroup id (a multi-dimensional grid is
      linearized, the last dimension fastest). It reads the values the body
      used from the captures struct its first argument points to: a memref
      as its LLVM descriptor (rebuilt with `unrealized_conversion_cast`,
      which the LLVM conversions fold away), an index as i64, other scalars
      as they are; constants and `memref.get_global` are rebuilt instead.
    - at the forall's place: the captures stored into a stack struct
      (allocated once, in the entry block), and a call of
      `context->parallel_for(context->runtime, @dispatch, captures, count)`
      through the function pointer loaded from the entry point's first
      argument (the `mbrt_host_context`).

    Each dispatch is recorded in its entry point's element of
    `mb.entry_points`, in a `dispatches` array of dictionaries with its
    `name` and `workgroups` (the grid's counts per dimension); the artifact
    writer lists them as META "dispatches". Nested foralls stay loops inside their dispatch; a forall
    that cannot be outlined (dynamic bounds, a captured value of another
    type) stays a sequential loop, with a warning.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

#endif // MBC_PASSES_CPU_PASSES_TD
