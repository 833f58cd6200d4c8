//===- FuseHeadLogSoftmax.cpp - mb-cuda-fuse-head-log-softmax -------------===//
//
// The head's log-softmax call on a GEMM's logits becomes the GEMM's
// epilogue, and the byte order of mb.merge_patches <start_token> its store
// (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "dialects/MB/MBDialect.h"
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFUSEHEADLOGSOFTMAX
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct CudaFuseHeadLogSoftmaxPass
    : public impl::CudaFuseHeadLogSoftmaxBase<CudaFuseHeadLogSoftmaxPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::SetVector<func::FuncOp> touched;
    for (func::CallOp call : cuda::callsOfSelectedKernels(
             module, symbols, cuda::kSelectedLogSoftmaxAttrName))
      fuse(call, symbols, touched);
    cuda::eraseUncalled(touched.getArrayRef(), module);
  }

  void fuse(func::CallOp logSoftmax, SymbolTable &symbols,
            llvm::SetVector<func::FuncOp> &touched) {
    if (logSoftmax.getNumOperands() != 1 || logSoftmax.getNumResults() != 1)
      return;
    SmallVector<Operation *> reshapes;
    FailureOr<cuda::ProducingGemm> gemm = cuda::producingSelectedGemm(
        logSoftmax.getOperand(0), getOperation(), reshapes);
    if (failed(gemm) || gemm->spec.config.mma != cuda::MmaKind::Wgmma ||
        gemm->spec.logSoftmax)
      return;
    func::CallOp gemmCall = gemm->call;
    // A CTA holds whole rows: one warpgroup of 64 rows x N columns (at most
    // 256, 128 accumulator registers a thread), as many B stages as fit.
    cuda::GemmSpec spec = gemm->spec;
    spec.logSoftmax = true;
    spec.config.tileN = llvm::alignTo(spec.n, 64);
    spec.config.tileM = 64;
    spec.config.consumers = 1;
    if (!cuda::fitGemmStages(&getContext(), spec))
      return;

    // The log-probabilities' one reader, mb.merge_patches <start_token>
    // (through a reshape to [sequences, P + 1, V]): the GEMM stores the
    // merged rows itself.
    Value result = logSoftmax.getResult(0);
    mb::MergePatchesOp merge;
    Operation *toSequences = nullptr;
    if (result.hasOneUse()) {
      Operation *user = *result.getUsers().begin();
      if (isa<tensor::ExpandShapeOp>(user) && user->getResult(0).hasOneUse()) {
        toSequences = user;
        merge = dyn_cast<mb::MergePatchesOp>(
            *user->getResult(0).getUsers().begin());
      }
      if (merge && merge.getAlignment() == mb::Alignment::start_token) {
        auto input = cast<RankedTensorType>(merge.getInput().getType());
        auto output = cast<RankedTensorType>(merge.getType());
        int64_t sequences = input.getDimSize(0), batch = output.getDimSize(0);
        if (batch > 0 && sequences % batch == 0 &&
            input.getDimSize(0) * input.getDimSize(1) == spec.m) {
          cuda::GemmSpec merged = spec;
          merged.mergePositions = input.getDimSize(1) - 1;
          merged.mergeSequences = sequences / batch;
          if (cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
                return cuda::verifyGemmSpec(merged, emitError);
              }))
            spec = merged;
        }
      }
    }

    OpBuilder b(logSoftmax);
    Location loc = logSoftmax.getLoc();
    func::CallOp fused = cuda::callSelectedGemmOp(b, loc, getOperation(), spec,
                                                  gemmCall.getOperands());
    touched.insert(gemm->function);
    touched.insert(symbols.lookup<func::FuncOp>(logSoftmax.getCallee()));
    Value rows = fused.getResult(0);
    if (spec.mergePositions > 0) {
      auto mergedType = cast<RankedTensorType>(merge.getType());
      merge.replaceAllUsesWith(
          mb_to_linalg::reshape(b, loc, rows, mergedType.getShape()));
      merge.erase();
      toSequences->erase();
    } else {
      result.replaceAllUsesWith(mb_to_linalg::reshape(
          b, loc, rows, cast<RankedTensorType>(result.getType()).getShape()));
    }
    logSoftmax.erase();
    for (Operation *reshape : reshapes)
      if (reshape->use_empty())
        reshape->erase();
    gemmCall.erase();
  }
};

} // namespace
} // namespace mbc
