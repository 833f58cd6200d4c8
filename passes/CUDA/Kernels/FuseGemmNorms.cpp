//===- FuseGemmNorms.cpp - mb-cuda-fuse-gemm-norms ------------------------===//
//
// A norm kernel's call whose only readers are GEMM calls becomes those
// GEMMs' prologue (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "dialects/MB/MBDialect.h"
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFUSEGEMMNORMS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaFuseGemmNormsPass
    : public impl::CudaFuseGemmNormsBase<CudaFuseGemmNormsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::SetVector<func::FuncOp> touched;
    for (func::CallOp normCall : cuda::callsOfSelectedKernels(
             module, symbols, cuda::kSelectedNormAttrName)) {
      auto normFunction = symbols.lookup<func::FuncOp>(normCall.getCallee());
      if (fuse(normCall, symbols, touched) ||
          (epilogueNorms && fuseEpilogue(normCall, symbols, touched)))
        touched.insert(normFunction);
    }
    // Declarations (or emulation bodies) nothing calls any more.
    cuda::eraseUncalled(touched.getArrayRef(), module);
  }

  bool fuse(func::CallOp normCall, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    FailureOr<cuda::NormSpec> norm = cuda::normSpecOfCall(normCall, symbols);
    if (failed(norm) || norm->outputType.isF32() ||
        normCall.getNumResults() != 1 ||
        // x, weight (and a LayerNorm's bias).
        normCall.getNumOperands() !=
            (norm->norm == cuda::NormKind::Layer ? 3u : 2u))
      return false;
    SmallVector<func::CallOp> gemmCalls;
    SmallVector<Operation *> reshapes;
    if (failed(cuda::selectedReaders(normCall.getResult(0), symbols,
                                     cuda::kSelectedGemmAttrName, gemmCalls,
                                     reshapes)) ||
        gemmCalls.empty())
      return false;
    // Every reader must take the prologue, or the norm stays for all.
    SmallVector<cuda::GemmSpec, 2> specs;
    for (func::CallOp call : gemmCalls) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      FailureOr<cuda::GemmSpec> spec = cuda::gemmSpecFromAttribute(
          callee->getAttrOfType<DictionaryAttr>(cuda::kSelectedGemmAttrName),
          [&] { return call.emitOpError(); });
      if (failed(spec) || spec->norm || spec->m != norm->rows ||
          spec->k != norm->dim || spec->inputType != norm->outputType)
        return false;
      spec->norm = *norm;
      // The resident A takes shared memory the A stages no longer do; B
      // keeps as many stages as still fit (at least 2).
      if (!cuda::fitGemmStages(&getContext(), *spec))
        return false;
      specs.push_back(*spec);
    }
    // MEGABYTE-pytorch's patch embedding: x is a patch's bytes embedded and
    // concatenated, read by nothing else; the prologue gathers its rows
    // from the table instead.
    SmallVector<Value, 2> input = {normCall.getOperand(0)};
    SmallVector<Operation *> gathered;
    if (gatherRows)
      if (std::optional<Gather> gather = matchGather(input[0], *norm)) {
        OpBuilder b(normCall);
        Location loc = normCall.getLoc();
        input = {mb_to_linalg::reshape(b, loc, gather->ids,
                                       {norm->rows, gather->spec.slots}),
                 cuda::narrowTo(b, loc, gather->table, gather->spec.tableType)};
        for (cuda::GemmSpec &spec : specs)
          spec.norm->gather = gather->spec;
        gathered = gather->ops;
      }
    for (auto [call, spec] : llvm::zip(gemmCalls, specs)) {
      OpBuilder b(call);
      // x (or the gather's ids and table), the GEMM's own operands (b,
      // bias, residual), the norm's weight and bias, then a paired GEMM's
      // b2: callSelectedGemm's order.
      OperandRange own = call.getOperands().drop_front();
      unsigned paired = spec.pairedN > 0 ? 1 : 0;
      SmallVector<Value> operands(input.begin(), input.end());
      llvm::append_range(operands, own.drop_back(paired));
      llvm::append_range(operands, normCall.getOperands().drop_front());
      llvm::append_range(operands, own.take_back(paired));
      touched.insert(symbols.lookup<func::FuncOp>(call.getCallee()));
      func::CallOp fused = cuda::callSelectedGemmOp(
          b, call.getLoc(), getOperation(), spec, operands);
      call.replaceAllUsesWith(fused.getResults());
      call.erase();
    }
    for (Operation *reshape : llvm::reverse(reshapes))
      if (reshape->use_empty())
        reshape->erase();
    normCall.erase();
    for (Operation *op : gathered)
      op->erase();
    return true;
  }

  /// A norm kernel writing f32 rows whose x is only a wgmma GEMM's result
  /// (through reshapes): the GEMM's epilogue when its N fits one tile.
  bool fuseEpilogue(func::CallOp normCall, SymbolTable &symbols,
                    llvm::SetVector<func::FuncOp> &touched) {
    FailureOr<cuda::NormSpec> norm = cuda::normSpecOfCall(normCall, symbols);
    if (failed(norm) || !norm->outputType.isF32() || norm->tokenShift ||
        norm->gather || normCall.getNumResults() != 1)
      return false;
    SmallVector<Operation *> reshapes;
    FailureOr<cuda::ProducingGemm> gemm = cuda::producingSelectedGemm(
        normCall.getOperand(0), getOperation(), reshapes);
    if (failed(gemm) || gemm->spec.config.mma != cuda::MmaKind::Wgmma ||
        gemm->spec.outputNorm || gemm->spec.m != norm->rows ||
        gemm->spec.n != norm->dim)
      return false;
    func::CallOp gemmCall = gemm->call;
    // A CTA holds whole rows: one warpgroup of 64 rows x N columns (at most
    // 256, 128 accumulator registers a thread), as many B stages as fit.
    cuda::GemmSpec spec = gemm->spec;
    spec.outputNorm = *norm;
    spec.config.tileN = spec.n;
    spec.config.tileM = 64;
    spec.config.consumers = 1;
    if (!cuda::fitGemmStages(&getContext(), spec))
      return false;
    // The GEMM's operands, then the norm's weight, [bias] and [start row].
    OpBuilder b(normCall);
    SmallVector<Value> operands(gemmCall.getOperands());
    llvm::append_range(operands, normCall.getOperands().drop_front());
    func::CallOp fused = cuda::callSelectedGemmOp(
        b, normCall.getLoc(), getOperation(), spec, operands);
    touched.insert(gemm->function);
    normCall.replaceAllUsesWith(fused.getResults());
    normCall.erase();
    for (Operation *reshape : reshapes)
      if (reshape->use_empty())
        reshape->erase();
    gemmCall.erase();
    return true;
  }

  /// The ops that built rows `x` of `norm` from a table (their order of
  /// erasure), the table, the ids and the gather's spec.
  struct Gather {
    SmallVector<Operation *> ops;
    Value table, ids;
    cuda::NormGatherSpec spec;
  };

  /// x = collapse?(mb.patchify(mb.embedding(table, ids))) (no pad patch),
  /// each value read only on this path, ids [B, T] i32.
  static std::optional<Gather> matchGather(Value x,
                                           const cuda::NormSpec &norm) {
    if (norm.tokenShift || !x.hasOneUse())
      return std::nullopt;
    Gather gather;
    Value patches = x;
    if (auto collapse = x.getDefiningOp<tensor::CollapseShapeOp>()) {
      gather.ops.push_back(collapse);
      patches = collapse.getSrc();
    }
    auto patchify = patches.getDefiningOp<mb::PatchifyOp>();
    if (!patchify || patchify.getShift() || !patches.hasOneUse())
      return std::nullopt;
    auto embedding = patchify.getInput().getDefiningOp<mb::EmbeddingOp>();
    if (!embedding || !embedding->hasOneUse())
      return std::nullopt;
    gather.ops.append({patchify, embedding});
    auto ids = cast<RankedTensorType>(embedding.getIds().getType());
    auto table = cast<RankedTensorType>(embedding.getTable().getType());
    int64_t slots = patchify.getPatchSize();
    if (!ids.hasStaticShape() || !ids.getElementType().isInteger(32) ||
        ids.getNumElements() != norm.rows * slots ||
        table.getDimSize(1) * slots != norm.dim)
      return std::nullopt;
    gather.table = embedding.getTable();
    gather.ids = embedding.getIds();
    gather.spec.vocabulary = table.getDimSize(0);
    gather.spec.slots = slots;
    // The table as stored (a 16-bit argument's type, else f32).
    gather.spec.tableType = cuda::gemvWeightType(gather.table);
    cuda::NormSpec gathered = norm;
    gathered.gather = gather.spec;
    if (!cuda::acceptsQuietly(x.getContext(), [&](auto emitError) {
          return cuda::verifyNormSpec(gathered, emitError);
        }))
      return std::nullopt;
    return gather;
  }
};

} // namespace
} // namespace mbc
