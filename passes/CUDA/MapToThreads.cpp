//===- MapToThreads.cpp - linalg ops in a launch -> thread loops ----------===//
#include "passes/CUDA/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAMAPTOTHREADS
#include "passes/CUDA/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

constexpr StringLiteral kThreadMappingAttrName = "mb.thread_mapping";

struct ThreadSpace {
  /// This thread's first linear index and the distance to its next one.
  Value first;
  Value stride;
};

/// Deals the iterations of `loop` (linearized, its last dimension fastest)
/// to the threads: an scf.for from `space.first` by `space.stride`.
void distributeOverThreads(RewriterBase &rewriter, scf::ParallelOp loop,
                           const ThreadSpace &space) {
  Location loc = loop.getLoc();
  rewriter.setInsertionPoint(loop);
  SmallVector<Value> counts;
  Value total = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (auto [lower, upper, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value extent = arith::SubIOp::create(rewriter, loc, upper, lower);
    Value count = arith::CeilDivUIOp::create(rewriter, loc, extent, step);
    counts.push_back(count);
    total = arith::MulIOp::create(rewriter, loc, total, count);
  }
  auto threadLoop =
      scf::ForOp::create(rewriter, loc, space.first, total, space.stride);
  rewriter.setInsertionPointToStart(threadLoop.getBody());
  Value remaining = threadLoop.getInductionVar();
  SmallVector<Value> inductionValues(counts.size());
  for (int64_t d = counts.size() - 1; d >= 0; --d) {
    Value index = remaining;
    if (d > 0) {
      index = arith::RemUIOp::create(rewriter, loc, remaining, counts[d]);
      remaining = arith::DivUIOp::create(rewriter, loc, remaining, counts[d]);
    }
    Value scaled =
        arith::MulIOp::create(rewriter, loc, index, loop.getStep()[d]);
    inductionValues[d] =
        arith::AddIOp::create(rewriter, loc, scaled, loop.getLowerBound()[d]);
  }
  Block *body = loop.getBody();
  rewriter.eraseOp(body->getTerminator());
  rewriter.inlineBlockBefore(body, threadLoop.getBody()->getTerminator(),
                             inductionValues);
  rewriter.eraseOp(loop);
}

/// In a reduction loop that loads and stores one element of the op's output
/// at indices the loop does not change, the element lives in a register
/// (a loop-carried value): one load before the loop, one store after it.
/// LLVM cannot do this itself because it cannot prove that the output does
/// not alias the inputs; bufferization guarantees that a reduction's output
/// never aliases what it reads.
void keepAccumulatorsInRegisters(RewriterBase &rewriter, scf::ForOp loop) {
  while (true) {
    memref::LoadOp accumulatorLoad;
    memref::StoreOp accumulatorStore;
    for (Operation &op : loop.getBody()->without_terminator()) {
      auto store = dyn_cast<memref::StoreOp>(op);
      if (!store || !loop.isDefinedOutsideOfLoop(store.getMemRef()) ||
          !llvm::all_of(store.getIndices(), [&](Value index) {
            return loop.isDefinedOutsideOfLoop(index);
          }))
        continue;
      memref::LoadOp load;
      bool otherAccess = false;
      for (Operation *user : store.getMemRef().getUsers()) {
        if (user == store || !loop->isAncestor(user))
          continue;
        auto candidate = dyn_cast<memref::LoadOp>(user);
        if (!candidate || load || candidate->getBlock() != loop.getBody() ||
            !llvm::equal(candidate.getIndices(), store.getIndices()) ||
            !candidate->isBeforeInBlock(store)) {
          otherAccess = true;
          break;
        }
        load = candidate;
      }
      if (load && !otherAccess) {
        accumulatorLoad = load;
        accumulatorStore = store;
        break;
      }
    }
    if (!accumulatorStore)
      return;

    Location loc = accumulatorStore.getLoc();
    Value memref = accumulatorStore.getMemRef();
    SmallVector<Value> indices(accumulatorStore.getIndices());
    rewriter.setInsertionPoint(loop);
    Value initial = memref::LoadOp::create(rewriter, loc, memref, indices);
    Value stored = accumulatorStore.getValueToStore();
    FailureOr<LoopLikeOpInterface> replaced = loop.replaceWithAdditionalYields(
        rewriter, ValueRange{initial},
        /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
          return SmallVector<Value>{stored};
        });
    if (failed(replaced))
      return;
    auto newLoop = cast<scf::ForOp>(replaced->getOperation());
    rewriter.replaceOp(accumulatorLoad, newLoop.getRegionIterArgs().back());
    rewriter.eraseOp(accumulatorStore);
    rewriter.setInsertionPointAfter(newLoop);
    memref::StoreOp::create(rewriter, loc, newLoop.getResults().back(), memref,
                            indices);
    loop = newLoop;
  }
}

/// The LLVM intrinsic (f32) that NVPTX compiles to one instruction for the
/// math ops left after the polynomial approximations; none for others.
StringRef nativeIntrinsicFor(Operation *op) {
  return llvm::TypeSwitch<Operation *, StringRef>(op)
      .Case([](math::SqrtOp) { return "llvm.sqrt.f32"; })
      .Case([](math::FmaOp) { return "llvm.fma.f32"; })
      .Case([](math::FloorOp) { return "llvm.floor.f32"; })
      .Case([](math::CeilOp) { return "llvm.ceil.f32"; })
      .Case([](math::AbsFOp) { return "llvm.fabs.f32"; })
      .Case([](math::CopySignOp) { return "llvm.copysign.f32"; })
      .Default([](Operation *) { return StringRef(); });
}

/// Scalar f32 math ops become calls of LLVM intrinsics NVPTX implements
/// natively (sqrt.rn, fma.rn, cvt.rmi, abs, ...); convert-gpu-to-nvvm would
/// otherwise call libdevice (__nv_sqrtf, ...), which only links where a
/// CUDA toolkit is found at compile time.
void useNativeIntrinsics(RewriterBase &rewriter, Region &region) {
  SmallVector<Operation *> ops;
  region.walk([&](Operation *op) {
    if (isa<math::RsqrtOp>(op) || !nativeIntrinsicFor(op).empty())
      if (op->getNumResults() == 1 && op->getResult(0).getType().isF32())
        ops.push_back(op);
  });
  for (Operation *op : ops) {
    rewriter.setInsertionPoint(op);
    Location loc = op->getLoc();
    Type f32 = rewriter.getF32Type();
    if (auto rsqrt = dyn_cast<math::RsqrtOp>(op)) {
      Value root =
          LLVM::CallIntrinsicOp::create(rewriter, loc, f32,
                                        rewriter.getStringAttr("llvm.sqrt.f32"),
                                        ValueRange{rsqrt.getOperand()})
              .getResult(0);
      Value one = arith::ConstantOp::create(rewriter, loc,
                                            rewriter.getF32FloatAttr(1.0f));
      rewriter.replaceOpWithNewOp<arith::DivFOp>(op, one, root);
      continue;
    }
    auto call = LLVM::CallIntrinsicOp::create(
        rewriter, loc, f32, rewriter.getStringAttr(nativeIntrinsicFor(op)),
        op->getOperands());
    rewriter.replaceOp(op, call.getResults());
  }
}

struct CudaMapToThreadsPass : impl::CudaMapToThreadsBase<CudaMapToThreadsPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk(
        [&](gpu::LaunchOp launch) { launches.push_back(launch); });
    IRRewriter rewriter(&getContext());
    for (gpu::LaunchOp launch : launches)
      if (failed(mapLaunch(rewriter, launch)))
        return signalPassFailure();
  }

  LogicalResult mapLaunch(RewriterBase &rewriter, gpu::LaunchOp launch) {
    auto mapping = launch->getAttrOfType<StringAttr>(kThreadMappingAttrName);
    if (!mapping ||
        (mapping.getValue() != "block" && mapping.getValue() != "grid"))
      return launch.emitOpError("mb-cuda-map-to-threads: expected ")
             << kThreadMappingAttrName
             << " = \"block\" or \"grid\" (made by mb-cuda-form-kernels)";
    bool wholeGrid = mapping.getValue() == "grid";
    Block &body = launch.getBody().front();
    Location loc = launch.getLoc();
    rewriter.setInsertionPointToStart(&body);
    ThreadSpace space;
    space.first = launch.getThreadIds().x;
    space.stride = launch.getBlockSize().x;
    if (wholeGrid) {
      Value blockStart = arith::MulIOp::create(
          rewriter, loc, launch.getBlockIds().x, launch.getBlockSize().x);
      space.first = arith::AddIOp::create(rewriter, loc, blockStart,
                                          launch.getThreadIds().x);
      space.stride = arith::MulIOp::create(
          rewriter, loc, launch.getGridSize().x, launch.getBlockSize().x);
    }

    SmallVector<linalg::LinalgOp> ops;
    launch.getBody().walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    // Ops of a workgroup see each other's results after a barrier; the ops
    // of a grid launch (mb-cuda-form-kernels grouped them so) only touch,
    // in one op, elements that the same thread touched in the others.
    for (auto [index, op] : llvm::enumerate(ops)) {
      if (op->getParentOp() != launch)
        return op->emitOpError("mb-cuda-map-to-threads: expected at the top "
                               "level of its gpu.launch");
      if (index > 0 && !wholeGrid) {
        rewriter.setInsertionPoint(op);
        gpu::BarrierOp::create(rewriter, op.getLoc());
      }
      if (failed(mapOp(rewriter, op, space)))
        return failure();
    }

    // Math functions as polynomials (as on the CPU), so no libdevice call
    // is left in the kernels.
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) { return true; });
    if (failed(applyPatternsGreedily(launch.getBody(), std::move(patterns))))
      return launch.emitOpError(
          "mb-cuda-map-to-threads: math approximation did not converge");
    useNativeIntrinsics(rewriter, launch.getBody());
    return success();
  }

  LogicalResult mapOp(RewriterBase &rewriter, linalg::LinalgOp op,
                      const ThreadSpace &space) {
    Location loc = op.getLoc();
    bool hasParallelLoop = op.getNumParallelLoops() > 0;
    scf::IfOp onFirstThread;
    if (!hasParallelLoop) {
      rewriter.setInsertionPoint(op);
      Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
      Value isFirst = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, space.first, zero);
      onFirstThread = scf::IfOp::create(rewriter, loc, isFirst);
      rewriter.moveOpBefore(op, onFirstThread.thenBlock()->getTerminator());
    }
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::LinalgLoops> loops =
        linalg::linalgOpToParallelLoops(rewriter, op);
    if (failed(loops))
      return op->emitOpError("mb-cuda-map-to-threads: cannot lower to loops");
    std::string name = op->getName().getStringRef().str();
    rewriter.eraseOp(op);
    // Innermost reduction loops first: what one keeps in a register becomes
    // a load and store around it in the next loop out.
    // The loops index with affine.apply of one loop variable each (the
    // indexing maps are projections); use the variable itself, so a load and
    // a store of the same element have the same index values.
    if (!loops->empty())
      loops->front()->walk([&](affine::AffineApplyOp apply) {
        AffineMap map = apply.getAffineMap();
        if (map.getNumResults() == 1)
          if (auto dim = dyn_cast<AffineDimExpr>(map.getResult(0)))
            rewriter.replaceOp(apply, apply.getOperand(dim.getPosition()));
      });
    SmallVector<scf::ForOp> reductions;
    if (!loops->empty())
      loops->front()->walk(
          [&](scf::ForOp reduction) { reductions.push_back(reduction); });
    if (!loops->empty())
      if (auto outermost = dyn_cast<scf::ForOp>(loops->front()))
        if (reductions.empty() || reductions.back() != outermost)
          reductions.push_back(outermost);
    for (scf::ForOp reduction : reductions)
      keepAccumulatorsInRegisters(rewriter, reduction);
    if (!hasParallelLoop)
      return success();
    for (Operation *loop : *loops)
      if (auto parallel = dyn_cast<scf::ParallelOp>(loop)) {
        distributeOverThreads(rewriter, parallel, space);
        return success();
      }
    return emitError(loc, "mb-cuda-map-to-threads: '")
           << name << "' has parallel loops but produced no scf.parallel";
  }
};

} // namespace
} // namespace mbc
