//===- Passes.td - mbc's CUDA code-generation passes -------*- tablegen -*-===//
//
// From linalg on buffers (after the shared tensor-level decisions and
// bufferization) to kernels in one gpu.module: which ops become launches,
// how each launch's work maps onto threads, and the outlining that names
// the kernels of docs/cuda.md.
//
//===----------------------------------------------------------------------===//

#ifndef MBC_PASSES_CUDA_PASSES_TD
#define MBC_PASSES_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CudaFormKernels : Pass<"mb-cuda-form-kernels", "mlir::func::FuncOp"> {
  let summary = "make every computing op of a function a gpu.launch";
  let description = [{
    Runs on buffers. Nothing computes on the host: every op at the top level
    of the function that computes becomes one `gpu.launch`:

    - a workgroup `scf.forall` (mb-cpu-distribute's grid, now without
      results) becomes a launch with one block per workgroup (the grid is
      linearized, the forall's last dimension fastest); its body runs with
      the induction variables computed from the block id. Buffers the body
      allocates (tiles of fused producers; a partial tile gets a full
      tile's bytes) live in shared memory when together they fit in
      `shared-memory-bytes` (a workgroup attribution, viewed through
      `memref.view` and cast back to the generic address space), else they
      are hoisted: one byte buffer with a 256-byte aligned slice per
      workgroup, so the plan can place it in the arena;
    - any other linalg op becomes a launch with its parallel iterations
      spread over the whole grid (the linear iteration index from the
      global thread id, by grid strides). Consecutive all-parallel ops
      with static extents share one such launch, one after the other with
      no barrier, when that cannot change a result: every element one of
      them writes and another accesses is the same buffer through the same
      permutation indexing map over the same loop ranges (so one thread
      touches it in both), and all other buffers they share are only read
      or provably apart (distinct allocations; distinct function arguments,
      which the runtime gives buffers of their own; static views of one
      buffer whose element ranges do not overlap). Only allocations and
      ops a launch recomputes may sit between them. A decode step's
      first residual add, token shift and shift-state update are one
      launch so (the later ones, and the key and value cache rows, run in
      GEMV epilogues: mb-cuda-fuse-epilogues).

    The ops a launch's operands are computed with (views, scalar loads of a
    decode position, index arithmetic, constants, `memref.get_global`) are
    cloned into the launch, so the launch captures only allocations and
    function arguments; the host copies die. Each launch records in
    `mb.thread_mapping` whether its work is spread over the threads of one
    block ("block", a workgroup) or of the whole grid ("grid").
    `block-size` threads at most per block (fewer when the widest op has
    fewer parallel iterations). Any other op with side effects at the top
    level is an error naming it.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "most threads per block (a multiple of 32)">,
    Option<"sharedMemoryBytes", "shared-memory-bytes", "int64_t",
           /*default=*/"49152",
           "most static shared memory per block for workgroup buffers (0: "
           "always global memory)">,
    Option<"maxGridSize", "max-grid-size", "int64_t", /*default=*/"65535",
           "most blocks of a grid-mapped launch (threads loop over the "
           "rest)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def CudaFuseEpilogues : Pass<"mb-cuda-fuse-epilogues", "mlir::ModuleOp"> {
  let summary = "elementwise ops after a built kernel into its epilogue";
  let description = [{
    Runs on buffers, after mb-cuda-launch-selected-kernels and before
    mb-cuda-form-kernels. A built kernel whose `gpu.func` lists parameters
    in `mbc.epilogue_outputs` (a GEMV's `c` and `c2`) promises that each
    element of those outputs is stored once, by a `memref.store` of the
    thread that computed it. The all-parallel linalg ops with identity
    indexing maps (elementwise generics, copies) that follow its
    `gpu.launch_func` in the block, with only allocations and ops a launch
    recomputes between, run in that thread right after the store, for the
    element the store wrote: a decode layer's residual add, token shift and
    shift-state update after its output projection, or its new key and
    value cache rows after its q/kv projection, take no launch of their
    own.

    An op joins when some input is a static view of a kernel output (its
    elements found from the stored element's address in the output's
    buffer; views that miss the element skip it) or a buffer an op joined
    before wrote through the same view (read at the same element, by the
    same thread). Buffers the joined ops write must not be read by the
    kernel, nor accessed by the joined ops through another view or from
    another element; scalar loads they are computed with must not read what
    they write. The kernel is cloned with the joined ops' captured buffers
    as extra parameters (`epilogue_<n>`; views and scalar loads of a decode
    position are recomputed in the kernel), structurally identical clones
    are built once, and kernels left without launches are erased.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def CudaMapToThreads : Pass<"mb-cuda-map-to-threads", "mlir::func::FuncOp"> {
  let summary = "spread each linalg op inside a gpu.launch over its threads";
  let description = [{
    Every linalg op inside a `gpu.launch` becomes loops: its parallel loops
    (outermost run of them) as one linearized loop whose iterations are
    dealt to the threads round-robin (thread t takes t, t + stride, ...; the
    op's innermost parallel loop is the fastest-varying index, so adjacent
    threads touch adjacent elements of the result: coalesced), its
    reduction loops sequential in each thread, with the output element
    they accumulate kept in a register (loaded before the loop, stored
    after it). The stride is the block's
    thread count for `mb.thread_mapping = "block"` launches and the grid's
    for "grid" ones. An op without parallel loops runs on thread 0. In a
    block-mapped launch, a `gpu.barrier` separates consecutive ops (a later
    op reads what other threads of the block wrote). Math functions the
    linalg bodies use (exp, log, erf, tanh) are replaced by the same
    polynomial approximations the CPU code uses, and the f32 math ops
    NVPTX implements natively (sqrt, rsqrt, fma, floor, ceil, abs,
    copysign) become calls of LLVM intrinsics, so kernels need no libdevice
    (which links only where a CUDA toolkit is found).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def CudaHoistWeightConversions
    : Pass<"mb-cuda-hoist-weight-conversions", "mlir::ModuleOp"> {
  let summary = "round f32 weights to bf16 once, when the model loads";
  let description = [{
    In every public function, a `linalg.generic` that only rounds an f32
    weight argument (`mb.weight`) to bf16, element for element (identity
    maps, one `arith.truncf`, nearest even), is replaced by a new last
    argument `{mb.weight = "<name>:bf16", mb.derived_from = "<name>"}`.
    Such arguments are not in `mb.entry_points` (the CPU code's entry
    points take the same list): the module attribute `mb.derived_weights`
    lists them ({name, from, convert = "bf16", shape}), the artifact lists
    them as derived weight tensors, which the runtime computes from the
    stored ones when the model loads, and the CUDA plans reference them as
    `{"weight": name}` (docs/cuda.md). A weight rounded several times in a
    function gets one argument.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def CudaOutlineKernels : Pass<"mb-cuda-outline-kernels", "mlir::ModuleOp"> {
  let summary = "outline every gpu.launch into one gpu.module of kernels";
  let description = [{
    Each `gpu.launch` of a function `@f` becomes `gpu.func @f_dispatch_<n>`
    (n counts the function's launches in order) in the module's one
    `gpu.module @mbc_kernels`, and a `gpu.launch_func` in its place with the
    captured buffers as operands. Memref globals the kernels read are
    copied into the gpu.module. The module gets `gpu.container_module`.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def CudaAttachTargets : Pass<"mb-cuda-attach-targets", "mlir::ModuleOp"> {
  let summary = "attach one #nvvm.target per CUDA architecture";
  let description = [{
    Sets the targets of every gpu.module to one `#nvvm.target` per entry of
    `archs` (e.g. sm_90a, sm_80), with PTX ISA 8.0 features (`+ptx80`;
    older ISAs make LLVM abort on sm_90a). An architecture that is not
    `sm_<digits>[a]` is an error naming it.
  }];
  let options = [
    ListOption<"archs", "archs", "std::string",
               "CUDA architectures, e.g. sm_90a,sm_80">,
  ];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

#endif // MBC_PASSES_CUDA_PASSES_TD
