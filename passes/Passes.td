//===- Passes.td - mbc's passes ----------------------------*- tablegen -*-===//

#ifndef MBC_PASSES_TD
#define MBC_PASSES_TD

include "mlir/Pass/PassBase.td"

def InlineWeights : Pass<"mb-inline-weights", "mlir::ModuleOp"> {
  let summary = "inline the model's weights into mb.param ops";
  let description = [{
    Reads the safetensors file `weights` and attaches every `mb.param`'s
    tensor as a `dense_resource` value, so the module no longer depends on
    the file. Fails, naming the parameter, when a tensor is missing or its
    shape or dtype differs from the op's result type.
  }];
  let options = [
    Option<"weights", "weights", "std::string", /*default=*/"",
           "path of the safetensors file holding the weights">,
  ];
  let dependentDialects = ["::mbc::mb::MBDialect"];
}

def ConvertMBToLinalg : Pass<"convert-mb-to-linalg", "mlir::ModuleOp"> {
  let summary = "lower mb ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Rewrites every mb op except `mb.param` (a later pass turns parameters
    into function arguments) into named linalg ops (`linalg.matmul` and
    `linalg.batch_matmul` reading PyTorch's `[out, in]` weights through
    transposed indexing maps, `linalg.fill`, `linalg.broadcast`,
    `linalg.transpose`), `linalg.generic` ops with parallel and reduction
    iterators, and tensor reshapes and slices. The result keeps the exact
    f32 semantics of the op descriptions and MEGABYTE.md (exact erf GELU,
    stable softmax and log_softmax, biased LayerNorm variance, NeoX rotary).
    The decode forms (`mb.cached_attention`, `mb.token_shift_step`, a
    runtime `offset` of `mb.position_embedding`) are converted too.

    Element-wise arith ops on tensors (the residual adds) become
    `linalg.generic` too, so no op on whole tensors is left outside linalg.
    Fails, naming the op, if anything cannot be converted.

    With `attention-block=B` > 0, causal attention over at least 2B
    positions never materializes its [S, S] scores: an `scf.forall` over
    (sequence x head, block of B queries), recorded as `mb.attention_block`,
    loops (`scf.for`) over the key blocks up to the diagonal with online
    softmax (running max, sum and output, rescaled per block).
  }];
  let options = [
    Option<"attentionBlock", "attention-block", "int64_t", /*default=*/"0",
           "query/key block of online-softmax attention (0: whole scores)">,
    Option<"decodeGemvs", "decode-gemvs", "bool", /*default=*/"false",
           "CUDA: the projections of mb.cached_attention (decode, <= 16 "
           "sequences; weights read as stored) as calls of selected "
           "GEMV kernels (mb-cuda-select-kernels' @mbc_gemv_<n>), k and v "
           "as one over a to_kv weight, and its core (f32 caches) as one "
           "decode-attention kernel, split over several CTAs for caches of "
           "512 positions or more (DecodeAttentionKernel.h)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def WeightsToArguments : Pass<"mb-weights-to-arguments", "mlir::ModuleOp"> {
  let summary = "turn mb.param ops into entry-point arguments and record the ABI";
  let description = [{
    Gives every public function (an entry point) the argument list of the
    compiled-code ABI (docs/artifact.md): a leading `!llvm.ptr` host context,
    then one tensor argument per distinct weight it reads (in first-use
    order, replacing its `mb.param` ops), then its original inputs. Records
    each entry point's argument list, including its results as outputs, in
    the module attribute `mb.entry_points`, which survives lowering and
    becomes the artifact's entry-point table.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def EntryWrappers : Pass<"mb-entry-wrappers", "mlir::ModuleOp"> {
  let summary = "add the void(void **) wrapper of every entry point";
  let description = [{
    Runs on the LLVM dialect after the bare-pointer calling convention: for
    each entry point recorded in `mb.entry_points`, adds
    `llvm.func @mbc_entry_<name>(!llvm.ptr)` that loads argument i from
    element i of the pointer array and calls the lowered function. This is
    the symbol the runtime resolves. Beside it, the constant string
    `mbc_entry_<name>_signature` lists the arguments the code takes, one
    line each (`context`, or `KIND NAME DTYPE [D0,D1]`), which the runtime
    compares with the artifact's META before it calls anything.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def MemRefCopyToLinalg : Pass<"mb-memref-copy-to-linalg"> {
  let summary = "rewrite memref.copy as linalg.copy";
  let description = [{
    Bufferization copies between strided views (slices of activations) as
    `memref.copy`, whose LLVM lowering calls `memrefCopy` from MLIR's runner
    utilities, a library the runtime does not ship. As `linalg.copy` they
    become ordinary loops that the rest of the pipeline tiles and vectorizes.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def ElideOutputCopies : Pass<"mb-elide-output-copies", "::mlir::func::FuncOp"> {
  let summary = "buffers only copied into an output argument become views of it";
  let description = [{
    After bufferization and buffer-results-to-out-params: a static
    `memref.alloc` whose value reaches an entry's output argument only
    through a `linalg.copy` (possibly through collapse/expand reshapes, each
    with that one use), where the output argument has no other use, every
    other use of the allocation comes before the copy in its block and both
    have identity layouts, is replaced by a view of the output argument
    with the allocation's shape, and the copy goes away: what writes the
    allocation writes the output. hoist-static-allocs misses these when a
    reshape stands between the allocation and the returned value (an
    embedding's [1, 1, D] row returned as [D]); on the GPU each such copy
    is a launch. The allocation's deallocation, if any, goes too.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def WriteBackUpdates : Pass<"mb-write-back-updates", "mlir::ModuleOp"> {
  let summary = "write results marked mb.updates into their arguments' buffers";
  let description = [{
    Decode entry points return the new KV caches and token-shift state as
    results marked `mb.updates = "<argument name>"`. Before bufferization,
    this pass materializes each such value in the argument it updates
    (`bufferization.materialize_in_destination %new in %argument`, the
    tensor form) and marks the argument writable. One-Shot Bufferize then
    writes the updates into the runtime's cache buffers in place (the new
    row of each layer's cache, not a copy of the cache) or fails to
    bufferize; the results, now their arguments' buffers, are dropped after
    it (mb-drop-updated-results).
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def DropUpdatedResults : Pass<"mb-drop-updated-results", "mlir::ModuleOp"> {
  let summary = "after bufferization, drop the mb.updates results";
  let description = [{
    After One-Shot Bufferize, a result marked `mb.updates = "<argument>"`
    (mb-write-back-updates) returns the argument's own buffer: the update
    was written in place. This pass removes those results (entry points are
    public, so upstream drop-equivalent-buffer-results leaves them), and
    fails, naming the result, if one returns any other buffer.
  }];
}

def TileSequences : Pass<"mb-tile-sequences", "mlir::func::FuncOp"> {
  let summary = "group the local model into one mb.sequence_tiles region";
  let description = [{
    The fused local model of DESIGN.md: the last stage's transformer (from
    its input through the residual stream, token shifts, norms, attention,
    FFNs and the head) works on `[N, S, D]` activations whose N sequences
    (batch x patches) are independent. This pass moves that chain, rooted at
    each rank-3 `mb.head`, into an `mb.sequence_tiles` region over tiles of
    `tile` sequences, so one workgroup computes a whole tile through every
    local layer with its activations in cache instead of streaming all N
    sequences through memory once per op.

    The tile is the largest divisor of N with at most `rows` rows (tile x S),
    kept to at least `min-tiles` tiles; with fewer sequences than that
    (decode steps) nothing changes. An op joins the region when every
    sequence operand (the activation input of a norm, attention, FFN,
    linear, token shift or head, either operand of an element-wise op) is
    `[N, ...]` and all its users are in the region.
  }];
  let options = [
    Option<"rows", "rows", "int64_t", /*default=*/"128",
           "most rows (sequences x positions) of one tile">,
    Option<"minTiles", "min-tiles", "int64_t", /*default=*/"4",
           "fewest tiles worth a region">,
  ];
  let dependentDialects = ["::mbc::mb::MBDialect"];
}

def LowerSequenceTiles : Pass<"mb-lower-sequence-tiles", "mlir::ModuleOp"> {
  let summary = "mb.sequence_tiles to an scf.forall over tiles";
  let description = [{
    Each `mb.sequence_tiles` becomes an `scf.forall` with one iteration per
    tile (recorded as `mb.sequence_tile`): the inputs' tiles are
    `tensor.extract_slice`s, the body's ops move into the loop unchanged and
    the yielded tiles are inserted into the results with
    `tensor.parallel_insert_slice`. On the CPU each such loop is one
    dispatch whose workgroups are the tiles.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // MBC_PASSES_TD
