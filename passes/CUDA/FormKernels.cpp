//===- FormKernels.cpp - computing ops -> gpu.launch ----------------------===//
//
// The CUDA side of the dispatch model (DESIGN.md): a workgroup scf.forall is
// one launch whose grid is the workgroup count; every other computing op is
// a launch of its own, so no model arithmetic runs on the host.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/LaunchOperands.h"
#include "passes/CUDA/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ValueBoundsOpInterface.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mbc {
#define GEN_PASS_DEF_CUDAFORMKERNELS
#include "passes/CUDA/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

constexpr StringLiteral kThreadMappingAttrName = "mb.thread_mapping";
constexpr int64_t kWarpSize = 32;
constexpr int64_t kWorkgroupSliceAlignment = 256;
constexpr int64_t kSharedAlignment = 16;

/// Parallel iterations of `op` (its static parallel loop ranges); 0 when one
/// is dynamic.
int64_t parallelIterations(linalg::LinalgOp op) {
  int64_t iterations = 1;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (auto [extent, iterator] :
       llvm::zip(op.getStaticLoopRanges(), iterators)) {
    if (iterator != utils::IteratorType::parallel)
      continue;
    if (ShapedType::isDynamic(extent))
      return 0;
    iterations *= extent;
  }
  return iterations;
}

/// The element range [first, last] of its root buffer that `memref` spans,
/// when its layout is static.
std::optional<std::pair<int64_t, int64_t>> elementRange(Value memref) {
  auto type = dyn_cast<MemRefType>(memref.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset) ||
      llvm::any_of(strides, ShapedType::isDynamic))
    return std::nullopt;
  int64_t last = offset;
  for (auto [extent, stride] : llvm::zip(type.getShape(), strides))
    last += (extent - 1) * stride;
  return std::make_pair(offset, last);
}

/// Whether two memrefs may share an element. Distinct allocations, and
/// distinct function arguments (the runtime gives every entry argument a
/// buffer of its own), never do; views of one buffer do unless their static
/// ranges are apart.
bool mayAlias(Value a, Value b) {
  if (a == b)
    return true;
  bool typedA, typedB;
  Value rootA = rootBuffer(a, typedA), rootB = rootBuffer(b, typedB);
  if (rootA != rootB)
    return !isOwnBuffer(rootA) || !isOwnBuffer(rootB);
  // Static ranges compare only when both types give their offset from the
  // same root, in the same elements.
  if (!typedA || !typedB)
    return true;
  auto rangeA = elementRange(a), rangeB = elementRange(b);
  if (!rangeA || !rangeB ||
      getElementTypeOrSelf(a.getType()) != getElementTypeOrSelf(b.getType()))
    return true;
  return !(rangeA->second < rangeB->first || rangeB->second < rangeA->first);
}

/// One memory access of a linalg op: the memref, whether it is written, and
/// the indexing map (null: elements the op's iteration does not determine,
/// as a gather's or a scalar load's).
struct Access {
  Value memref;
  bool write;
  AffineMap map;
};

/// What `op` and the ops cloned into its launch with it read and write.
SmallVector<Access> accessesOf(linalg::LinalgOp op,
                               ArrayRef<Operation *> clonedProducers) {
  SmallVector<Access> accesses;
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (op.isDpsInit(&operand)) {
      accesses.push_back({operand.get(), true, map});
      // An output the body reads: read at the element written.
      if (op.payloadUsesValueFromOperand(&operand))
        accesses.push_back({operand.get(), false, map});
    } else {
      accesses.push_back({operand.get(), false, map});
    }
  }
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(op->getRegions(), captured);
  for (Value value : captured)
    if (isa<MemRefType>(value.getType()))
      accesses.push_back({value, false, AffineMap()});
  for (Operation *producer : clonedProducers)
    if (auto load = dyn_cast<memref::LoadOp>(producer))
      accesses.push_back({load.getMemRef(), false, AffineMap()});
  return accesses;
}

/// Bytes a workgroup buffer needs: a partial tile (dynamic size) gets the
/// bytes of a full one (the constant upper bound of its size).
FailureOr<int64_t> workgroupBufferBytes(memref::AllocOp alloc) {
  MemRefType type = alloc.getType();
  if (!type.getLayout().isIdentity() || type.getMemorySpace() ||
      !type.getElementType().isIntOrFloat())
    return alloc.emitOpError("mb-cuda-form-kernels: a workgroup buffer "
                             "needs an identity layout and scalar "
                             "elements, got ")
           << type;
  int64_t elements = 1;
  unsigned dynamicIndex = 0;
  for (int64_t extent : type.getShape()) {
    if (!ShapedType::isDynamic(extent)) {
      elements *= extent;
      continue;
    }
    FailureOr<int64_t> bound = ValueBoundsConstraintSet::computeConstantBound(
        presburger::BoundType::UB,
        ValueBoundsConstraintSet::Variable(
            alloc.getDynamicSizes()[dynamicIndex++]),
        /*stopCondition=*/nullptr, /*closedUB=*/true);
    if (failed(bound) || *bound < 0)
      return alloc.emitOpError("mb-cuda-form-kernels: no constant upper "
                               "bound for a dynamic size of ")
             << type;
    elements *= *bound;
  }
  return std::max<int64_t>(
      1, elements * llvm::divideCeil(type.getElementTypeBitWidth(), 8));
}

/// The buffers a workgroup body allocates; failure (reported) when the body
/// deallocates.
FailureOr<SmallVector<memref::AllocOp>> workgroupBuffers(scf::ForallOp forall) {
  SmallVector<memref::AllocOp> allocs;
  WalkResult walk = forall.getBody()->walk([&](Operation *op) {
    if (isa<memref::DeallocOp>(op)) {
      op->emitOpError("mb-cuda-form-kernels: deallocation inside a "
                      "workgroup is not supported");
      return WalkResult::interrupt();
    }
    if (auto alloc = dyn_cast<memref::AllocOp>(op))
      allocs.push_back(alloc);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return allocs;
}

struct CudaFormKernelsPass : impl::CudaFormKernelsBase<CudaFormKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp function = getOperation();
    if (function.isExternal())
      return;
    if (blockSize <= 0 || blockSize % kWarpSize != 0 || blockSize > 1024) {
      function.emitError("mb-cuda-form-kernels: block-size must be a "
                         "multiple of 32 in [32, 1024], got ")
          << static_cast<int64_t>(blockSize);
      return signalPassFailure();
    }
    SmallVector<Operation *> computing;
    for (Operation &op : function.getFunctionBody().front()) {
      if (isa<scf::ForallOp, linalg::LinalgOp>(op)) {
        computing.push_back(&op);
        continue;
      }
      // Launches of built kernels (mb-cuda-launch-selected-kernels) and
      // the casts that name their tensor maps' buffers are already final.
      if (op.hasTrait<OpTrait::IsTerminator>() ||
          isa<memref::AllocOp, memref::DeallocOp, gpu::LaunchFuncOp,
              UnrealizedConversionCastOp>(op) ||
          isClonableIntoLaunch(&op))
        continue;
      op.emitOpError("mb-cuda-form-kernels: cannot run on the device (only "
                     "linalg ops and workgroup scf.forall loops become "
                     "kernels; this op would compute on the host)");
      return signalPassFailure();
    }
    // Runs of elementwise-dependent linalg ops share one launch.
    SmallVector<SmallVector<linalg::LinalgOp>> groups;
    for (Operation *op : computing) {
      auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
      if (!linalgOp)
        continue;
      if (!groups.empty() && canJoin(groups.back(), linalgOp))
        groups.back().push_back(linalgOp);
      else
        groups.push_back({linalgOp});
    }
    IRRewriter rewriter(&getContext());
    for (Operation *op : computing)
      if (auto forall = dyn_cast<scf::ForallOp>(op))
        if (failed(formWorkgroupKernel(rewriter, forall)))
          return signalPassFailure();
    for (ArrayRef<linalg::LinalgOp> group : groups)
      if (failed(formOpKernel(rewriter, group)))
        return signalPassFailure();
    // Host copies of what the launches recompute are dead now.
    Block &body = function.getFunctionBody().front();
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
      if (op.use_empty() &&
          (isClonableIntoLaunch(&op) || isa<memref::AllocOp>(op) ||
           isOpTriviallyDead(&op)))
        rewriter.eraseOp(&op);
  }

  int64_t threadsFor(int64_t widestIterations) {
    if (widestIterations <= 0)
      return blockSize;
    int64_t rounded = llvm::divideCeil(widestIterations, kWarpSize) * kWarpSize;
    return std::min<int64_t>(blockSize, rounded);
  }

  /// An op a grid launch may share: all loops parallel, static extents.
  static bool isShareable(linalg::LinalgOp op) {
    return op.hasPureBufferSemantics() && op.getNumLoops() > 0 &&
           op.getNumParallelLoops() == op.getNumLoops() &&
           parallelIterations(op) > 0;
  }

  /// Whether `next` may run in the launch of `group`, after it. Both spread
  /// their iterations over the grid the same way (the linear iteration
  /// index from the global thread id), so with no barrier between them an
  /// element one op writes and the other accesses must be touched by one
  /// thread in both: the same buffer through the same permutation map over
  /// the same loop ranges. Other buffers must not alias what either writes.
  /// Only allocations and ops a launch recomputes may sit between them.
  static bool canJoin(ArrayRef<linalg::LinalgOp> group, linalg::LinalgOp next) {
    if (!isShareable(next) || !isShareable(group.front()))
      return false;
    Operation *last = group.back();
    if (last->getBlock() != next->getBlock())
      return false;
    for (Operation *between = last->getNextNode(); between != next;
         between = between->getNextNode())
      if (!isa<memref::AllocOp>(between) && !isClonableIntoLaunch(between))
        return false;
    SmallVector<Access> nextAccesses =
        accessesOf(next, clonedProducers(next));
    SmallVector<int64_t> nextRanges = next.getStaticLoopRanges();
    for (linalg::LinalgOp member : group) {
      bool sameRanges = member.getStaticLoopRanges() == nextRanges;
      for (const Access &a : accessesOf(member, clonedProducers(member)))
        for (const Access &b : nextAccesses) {
          if ((!a.write && !b.write) || !mayAlias(a.memref, b.memref))
            continue;
          bool sameElement = sameRanges && a.memref == b.memref && a.map &&
                             a.map == b.map && a.map.isPermutation();
          if (!sameElement)
            return false;
        }
    }
    return true;
  }

  /// Creates a launch of `gridSize` x `threads` before the last of `ops`,
  /// clones each op, preceded by the ops its operands are computed with,
  /// into it in order, and erases the ops. Returns the clones.
  SmallVector<Operation *> launchAround(RewriterBase &rewriter,
                                        ArrayRef<Operation *> ops,
                                        int64_t gridSize, int64_t threads,
                                        StringRef mapping) {
    Operation *lastOp = ops.back();
    Location loc = lastOp->getLoc();
    rewriter.setInsertionPoint(lastOp);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value grid = arith::ConstantIndexOp::create(rewriter, loc, gridSize);
    Value block = arith::ConstantIndexOp::create(rewriter, loc, threads);
    auto launch =
        gpu::LaunchOp::create(rewriter, loc, grid, one, one, block, one, one);
    launch->setAttr(kThreadMappingAttrName, rewriter.getStringAttr(mapping));

    Block &body = launch.getBody().front();
    rewriter.setInsertionPointToStart(&body);
    IRMapping clones;
    SmallVector<Operation *> cloned;
    for (Operation *op : ops) {
      for (Operation *producer : clonedProducers(op))
        if (!clones.contains(producer->getResult(0)))
          rewriter.clone(*producer, clones);
      cloned.push_back(rewriter.clone(*op, clones));
    }
    gpu::TerminatorOp::create(rewriter, loc);
    for (Operation *op : ops)
      rewriter.eraseOp(op);
    return cloned;
  }

  LogicalResult formOpKernel(RewriterBase &rewriter,
                             ArrayRef<linalg::LinalgOp> group) {
    int64_t iterations = 0;
    bool dynamic = false;
    SmallVector<Operation *> ops;
    for (linalg::LinalgOp op : group) {
      if (!op.hasPureBufferSemantics())
        return op->emitOpError("mb-cuda-form-kernels: expected an op on "
                               "buffers (run bufferization first)");
      int64_t opIterations = parallelIterations(op);
      dynamic |= opIterations <= 0;
      iterations = std::max(iterations, opIterations);
      ops.push_back(op);
    }
    int64_t threads = threadsFor(dynamic ? 0 : iterations);
    int64_t blocks =
        dynamic ? maxGridSize
                : std::min<int64_t>(maxGridSize,
                                    llvm::divideCeil(iterations, threads));
    launchAround(rewriter, ops, std::max<int64_t>(blocks, 1), threads, "grid");
    return success();
  }

  LogicalResult formWorkgroupKernel(RewriterBase &rewriter,
                                    scf::ForallOp forall) {
    if (forall.getNumResults() != 0)
      return forall.emitOpError("mb-cuda-form-kernels: a workgroup forall "
                                "must have no results (run bufferization "
                                "first)");
    std::optional<SmallVector<int64_t>> lower =
        getConstantIntValues(forall.getMixedLowerBound());
    std::optional<SmallVector<int64_t>> upper =
        getConstantIntValues(forall.getMixedUpperBound());
    std::optional<SmallVector<int64_t>> step =
        getConstantIntValues(forall.getMixedStep());
    if (!lower || !upper || !step)
      return forall.emitOpError("mb-cuda-form-kernels: a workgroup forall "
                                "needs static bounds (its grid)");
    SmallVector<int64_t> counts;
    int64_t workgroups = 1;
    for (auto [lb, ub, st] : llvm::zip(*lower, *upper, *step)) {
      counts.push_back(st > 0 && ub > lb ? llvm::divideCeil(ub - lb, st) : 0);
      workgroups *= counts.back();
    }
    if (workgroups == 0) {
      rewriter.eraseOp(forall);
      return success();
    }
    // Workgroup buffers in shared memory when they fit, else slices of a
    // global arena buffer.
    FailureOr<SmallVector<memref::AllocOp>> buffers = workgroupBuffers(forall);
    if (failed(buffers))
      return failure();
    int64_t sharedBytes = 0;
    SmallVector<int64_t> bufferBytes;
    for (memref::AllocOp alloc : *buffers) {
      FailureOr<int64_t> bytes = workgroupBufferBytes(alloc);
      if (failed(bytes))
        return failure();
      bufferBytes.push_back(*bytes);
      sharedBytes += llvm::alignTo(*bytes, kSharedAlignment);
    }
    bool inSharedMemory = !buffers->empty() && sharedBytes <= sharedMemoryBytes;
    if (!inSharedMemory &&
        failed(hoistWorkgroupBuffers(rewriter, forall, counts, *lower, *step)))
      return failure();

    int64_t widest = 1;
    bool dynamic = false;
    forall.getBody()->walk([&](linalg::LinalgOp op) {
      int64_t iterations = parallelIterations(op);
      dynamic |= iterations == 0;
      widest = std::max(widest, iterations);
    });
    int64_t threads = threadsFor(dynamic ? 0 : widest);
    auto clone = cast<scf::ForallOp>(
        launchAround(rewriter, {forall}, workgroups, threads, "block")
            .front());

    // The induction variables from the linear block id, the last dimension
    // fastest.
    auto launch = clone->getParentOfType<gpu::LaunchOp>();
    rewriter.setInsertionPoint(clone);
    Location loc = clone.getLoc();
    Value linear = launch.getBlockIds().x;
    SmallVector<Value> inductionValues(counts.size());
    int64_t inner = 1;
    for (int64_t d = counts.size() - 1; d >= 0; --d) {
      Value index = linear;
      if (inner > 1)
        index = arith::DivUIOp::create(
            rewriter, loc, index,
            arith::ConstantIndexOp::create(rewriter, loc, inner));
      if (d > 0)
        index = arith::RemUIOp::create(
            rewriter, loc, index,
            arith::ConstantIndexOp::create(rewriter, loc, counts[d]));
      Value scaled = arith::MulIOp::create(
          rewriter, loc, index,
          arith::ConstantIndexOp::create(rewriter, loc, (*step)[d]));
      inductionValues[d] = arith::AddIOp::create(
          rewriter, loc, scaled,
          arith::ConstantIndexOp::create(rewriter, loc, (*lower)[d]));
      inner *= counts[d];
    }
    if (inSharedMemory)
      placeInSharedMemory(rewriter, launch, clone, bufferBytes, sharedBytes);
    Block *body = clone.getBody();
    rewriter.eraseOp(body->getTerminator());
    rewriter.inlineBlockBefore(body, clone, inductionValues);
    rewriter.eraseOp(clone);
    return success();
  }

  /// The buffers `forall` allocates (of `bufferBytes` each, in walk order)
  /// become 16-byte aligned pieces of one workgroup (shared memory)
  /// attribution of `launch`, cast to the generic address space so their
  /// users keep their types.
  void placeInSharedMemory(RewriterBase &rewriter, gpu::LaunchOp launch,
                           scf::ForallOp forall, ArrayRef<int64_t> bufferBytes,
                           int64_t sharedBytes) {
    auto workgroupSpace = gpu::AddressSpaceAttr::get(
        rewriter.getContext(), gpu::AddressSpace::Workgroup);
    auto sharedType =
        MemRefType::get({sharedBytes}, rewriter.getI8Type(),
                        MemRefLayoutAttrInterface(), workgroupSpace);
    Value shared = launch.addWorkgroupAttribution(sharedType, launch.getLoc());
    int64_t offset = 0;
    for (auto [alloc, bytes] :
         llvm::zip_equal(*workgroupBuffers(forall), bufferBytes)) {
      MemRefType type = alloc.getType();
      rewriter.setInsertionPoint(alloc);
      Location loc = alloc.getLoc();
      Value shift = arith::ConstantIndexOp::create(rewriter, loc, offset);
      auto view = memref::ViewOp::create(
          rewriter, loc,
          MemRefType::get(type.getShape(), type.getElementType(),
                          MemRefLayoutAttrInterface(), workgroupSpace),
          shared, shift, alloc.getDynamicSizes());
      rewriter.replaceOpWithNewOp<memref::MemorySpaceCastOp>(alloc, type, view);
      offset += llvm::alignTo(bytes, kSharedAlignment);
    }
  }

  /// Buffers allocated inside a workgroup become slices of one byte buffer
  /// allocated before the forall (one slice per workgroup).
  LogicalResult hoistWorkgroupBuffers(RewriterBase &rewriter,
                                      scf::ForallOp forall,
                                      ArrayRef<int64_t> counts,
                                      ArrayRef<int64_t> lower,
                                      ArrayRef<int64_t> step) {
    FailureOr<SmallVector<memref::AllocOp>> allocs = workgroupBuffers(forall);
    if (failed(allocs))
      return failure();
    if (allocs->empty())
      return success();

    int64_t workgroups = 1;
    for (int64_t count : counts)
      workgroups *= count;
    // The linear workgroup index, computed once at the top of the body.
    Block *body = forall.getBody();
    rewriter.setInsertionPointToStart(body);
    Location loc = forall.getLoc();
    Value linear = arith::ConstantIndexOp::create(rewriter, loc, 0);
    for (auto [d, inductionVar] : llvm::enumerate(forall.getInductionVars())) {
      Value shifted = arith::SubIOp::create(
          rewriter, loc, inductionVar,
          arith::ConstantIndexOp::create(rewriter, loc, lower[d]));
      Value index = arith::DivUIOp::create(
          rewriter, loc, shifted,
          arith::ConstantIndexOp::create(rewriter, loc, step[d]));
      linear = arith::AddIOp::create(
          rewriter, loc,
          arith::MulIOp::create(
              rewriter, loc, linear,
              arith::ConstantIndexOp::create(rewriter, loc, counts[d])),
          index);
    }

    for (memref::AllocOp alloc : *allocs) {
      FailureOr<int64_t> bytes = workgroupBufferBytes(alloc);
      if (failed(bytes))
        return failure();
      int64_t slice = llvm::alignTo(*bytes, kWorkgroupSliceAlignment);
      rewriter.setInsertionPoint(forall);
      auto bytesType =
          MemRefType::get({slice * workgroups}, rewriter.getI8Type());
      Value buffer = memref::AllocOp::create(rewriter, alloc.getLoc(),
                                             bytesType, ValueRange{},
                                             rewriter.getI64IntegerAttr(256));
      rewriter.setInsertionPoint(alloc);
      Value offset = arith::MulIOp::create(
          rewriter, alloc.getLoc(), linear,
          arith::ConstantIndexOp::create(rewriter, alloc.getLoc(), slice));
      rewriter.replaceOpWithNewOp<memref::ViewOp>(
          alloc, alloc.getType(), buffer, offset, alloc.getDynamicSizes());
    }
    return success();
  }
};

} // namespace
} // namespace mbc
