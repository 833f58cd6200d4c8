//===- TileAndVectorize.cpp - mb.kernel_config -> vector code on tensors --===//
//
// Applies each op's mb.kernel_config: cache tiles, register tiles (both with
// scf.for), peeling of partial register tiles, vectorization of the static
// register tiles, and hoisting of the accumulators out of reduction loops.
//
//===----------------------------------------------------------------------===//
#include "passes/CPU/ContractionAnalysis.h"
#include "passes/CPU/KernelConfig.h"
#include "passes/CPU/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mbc {
#define GEN_PASS_DEF_CPUTILEANDVECTORIZE
#include "passes/CPU/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

/// Marks the register tiles between tiling and vectorization.
constexpr StringLiteral kRegisterTileAttrName = "mb.register_tile";

struct TiledLevel {
  Operation *tiledOp;
  SmallVector<LoopLikeOpInterface> loops;
  /// Tiles of the producers fused into the loops (fills, bias broadcasts).
  SmallVector<Operation *> fusedProducers;
};

/// Tiles `op` by `sizes` (0 = untiled; a size that covers a static loop is
/// not tiled either, so no one-trip loops appear) with loops in `order`.
/// With `fuseInit`, when no reduction loop is tiled, an elementwise linalg
/// producer of the op's init (a zero fill, a broadcast bias) is computed per
/// tile inside the loops: the accumulators then start from registers
/// instead of a round trip of the whole result through memory.
FailureOr<TiledLevel> tileLevel(RewriterBase &rewriter, linalg::LinalgOp op,
                                ArrayRef<int64_t> sizes,
                                ArrayRef<int64_t> order,
                                bool fuseInit = false) {
  SmallVector<int64_t> extents = op.getStaticLoopRanges();
  SmallVector<int64_t> effective(sizes);
  for (auto [size, extent] : llvm::zip(effective, extents))
    if (!ShapedType::isDynamic(extent) && extent <= size)
      size = 0;
  if (llvm::all_of(effective, [](int64_t size) { return size == 0; }))
    return TiledLevel{op, {}, {}};
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (auto [size, iterator] : llvm::zip(effective, iterators))
    if (size != 0 && iterator == utils::IteratorType::reduction)
      fuseInit = false;
  // (On buffers there is no init value to fuse: ops write in place.)
  if (!op.hasPureTensorSemantics())
    fuseInit = false;

  scf::SCFTilingOptions options;
  options.setTileSizes(getAsIndexOpFoldResult(op.getContext(), effective));
  if (!order.empty())
    options.setInterchange(order);
  rewriter.setInsertionPoint(op);
  auto tilingInterface = cast<TilingInterface>(op.getOperation());
  if (!fuseInit) {
    FailureOr<scf::SCFTilingResult> tiled =
        scf::tileUsingSCF(rewriter, tilingInterface, options);
    if (failed(tiled))
      return op->emitError("mb-cpu-tile-and-vectorize: tiling failed");
    rewriter.replaceOp(op, tiled->replacements);
    return TiledLevel{tiled->tiledOps.back(), tiled->loops, {}};
  }

  scf::SCFTileAndFuseOptions fuseOptions;
  fuseOptions.setTilingOptions(options);
  fuseOptions.setFusionControlFn(
      [](tensor::ExtractSliceOp, OpResult producer, bool isDestination)
          -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
        auto linalgProducer = dyn_cast<linalg::LinalgOp>(producer.getOwner());
        // (The original stays for any other user; one use is the loop
        // nest's init at this point.)
        if (!isDestination || !linalgProducer ||
            linalgProducer.getNumReductionLoops() != 0)
          return std::nullopt;
        return scf::SCFTileAndFuseOptions::ControlFnResult{};
      });
  FailureOr<scf::SCFTileAndFuseResult> tiled =
      scf::tileConsumerAndFuseProducersUsingSCF(rewriter, tilingInterface,
                                                fuseOptions);
  if (failed(tiled))
    return op->emitError("mb-cpu-tile-and-vectorize: tiling failed");
  for (OpResult result : op->getResults())
    rewriter.replaceAllUsesWith(result, tiled->replacements.lookup(result));
  rewriter.eraseOp(op);
  TiledLevel level{tiled->tiledAndFusedOps.front(), tiled->loops, {}};
  for (Operation *fused : llvm::drop_begin(tiled->tiledAndFusedOps)) {
    fused->removeAttr(kKernelConfigAttrName);
    level.fusedProducers.push_back(fused);
  }
  return level;
}

/// Parallel loops first (in loop order), reductions innermost.
SmallVector<int64_t> registerLoopOrder(linalg::LinalgOp op) {
  SmallVector<int64_t> order;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (auto [loop, iterator] : llvm::enumerate(iterators))
    if (iterator == utils::IteratorType::parallel)
      order.push_back(loop);
  for (auto [loop, iterator] : llvm::enumerate(iterators))
    if (iterator != utils::IteratorType::parallel)
      order.push_back(loop);
  return order;
}

/// Cache tiles, then register tiles (parallel loops, with the init's
/// producer fused, then reduction loops); peels the parallel register loops
/// whose tile does not divide their range, so the main tiles get static
/// shapes.
LogicalResult tileToRegisterTiles(RewriterBase &rewriter, linalg::LinalgOp op,
                                  ArrayRef<int64_t> cacheTiles,
                                  ArrayRef<int64_t> cacheOrder,
                                  ArrayRef<int64_t> registerTiles,
                                  KernelKind kind) {
  MLIRContext *context = op.getContext();
  linalg::LinalgOp current = op;
  if (!cacheTiles.empty()) {
    FailureOr<TiledLevel> cache = tileLevel(rewriter, current, cacheTiles,
                                            cacheOrder, /*fuseInit=*/true);
    if (failed(cache))
      return failure();
    current = cast<linalg::LinalgOp>(cache->tiledOp);
  }
  SmallVector<int64_t> order = registerLoopOrder(current);
  SmallVector<utils::IteratorType> iterators =
      current.getIteratorTypesArray();
  SmallVector<int64_t> parallelTiles(registerTiles),
      reductionTiles(registerTiles);
  for (auto [loop, iterator] : llvm::enumerate(iterators)) {
    if (iterator == utils::IteratorType::parallel)
      reductionTiles[loop] = 0;
    else
      parallelTiles[loop] = 0;
  }
  FailureOr<TiledLevel> parallel =
      tileLevel(rewriter, current, parallelTiles, order, /*fuseInit=*/true);
  if (failed(parallel))
    return failure();
  for (Operation *fused : parallel->fusedProducers)
    fused->setAttr(kRegisterTileAttrName,
                   StringAttr::get(context,
                                   stringifyKernelKind(KernelKind::Elementwise)));
  FailureOr<TiledLevel> reduction =
      tileLevel(rewriter, cast<linalg::LinalgOp>(parallel->tiledOp),
                reductionTiles, order);
  if (failed(reduction))
    return failure();
  reduction->tiledOp->setAttr(kRegisterTileAttrName,
                              StringAttr::get(context, stringifyKernelKind(kind)));
  // Innermost first: peeling an outer loop then copies the inner remainder
  // loops into its partial iteration as well.
  SmallVector<LoopLikeOpInterface> loops(parallel->loops);
  llvm::append_range(loops, reduction->loops);
  for (LoopLikeOpInterface loop : llvm::reverse(loops)) {
    auto forOp = dyn_cast<scf::ForOp>(loop.getOperation());
    if (!forOp)
      continue;
    scf::ForOp partialIteration;
    (void)scf::peelForLoopAndSimplifyBounds(rewriter, forOp, partialIteration);
  }
  return success();
}

/// Lets LLVM fuse the body's multiply-add into an FMA.
void allowContraction(linalg::LinalgOp op) {
  op.getBlock()->walk([](Operation *nested) {
    if (auto mul = dyn_cast<arith::MulFOp>(nested))
      mul.setFastmath(mul.getFastmath() | arith::FastMathFlags::contract);
    if (auto add = dyn_cast<arith::AddFOp>(nested))
      add.setFastmath(add.getFastmath() | arith::FastMathFlags::contract);
  });
}

/// Dot products: K is split into `lanes` independent partial sums (a
/// parallel loop of the split op, so they stay in vector registers across
/// the K loop), then one reduction of the lanes per result. Returns false,
/// changing nothing, when the op cannot be split.
FailureOr<bool> tileDotProduct(RewriterBase &rewriter, linalg::LinalgOp op,
                               const KernelConfig &config) {
  // (Upstream splitReduction builds malformed tensor.empty ops for dynamic
  // shapes.)
  std::optional<ContractionLoops> loops = getDotProductLoops(op);
  if (!loops || op.hasDynamicShape())
    return false;
  int64_t lanes = config.registerTiles[loops->k];
  AffineMap resultMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  unsigned resultRank = resultMap.getNumResults();
  std::optional<unsigned> nPosition =
      resultMap.getResultPosition(rewriter.getAffineDimExpr(loops->n));
  if (!nPosition)
    return false;
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::SplitReductionResult> split = linalg::splitReduction(
      rewriter, op, [&](linalg::LinalgOp) {
        return linalg::SplitReductionOptions{lanes, resultRank,
                                             /*innerParallel=*/true};
      });
  if (failed(split))
    return false;

  linalg::LinalgOp partial = split->splitLinalgOp;
  allowContraction(partial);
  AffineMap partialMap =
      partial.getMatchingIndexingMap(partial.getDpsInitOperand(0));
  SmallVector<int64_t> partialTiles(partial.getNumLoops(), 1);
  partialTiles[partialMap.getDimPosition(*nPosition)] =
      config.registerTiles[loops->n];
  partialTiles[partialMap.getDimPosition(resultRank)] = lanes;
  if (failed(tileToRegisterTiles(rewriter, partial, {}, {}, partialTiles,
                                 KernelKind::Elementwise)))
    return failure();

  linalg::LinalgOp combine = split->resultCombiningLinalgOp;
  SmallVector<int64_t> combineTiles(combine.getNumLoops(), 1);
  combineTiles.back() = lanes;
  if (failed(tileToRegisterTiles(rewriter, combine, {}, {}, combineTiles,
                                 KernelKind::Reduction)))
    return failure();
  return true;
}

/// Applies `conversions` (scalar casts of the op body) to a vector.
Value convertVector(OpBuilder &builder, Location loc, Value vector,
                    ArrayRef<Operation *> conversions) {
  for (Operation *conversion : conversions) {
    auto type = cast<VectorType>(vector.getType());
    OperationState state(loc, conversion->getName());
    state.addOperands(vector);
    state.addTypes(
        VectorType::get(type.getShape(), conversion->getResult(0).getType()));
    state.addAttributes(conversion->getAttrs());
    vector = builder.create(state)->getResult(0);
  }
  return vector;
}

/// Vectorizes a static outer-product register tile (every loop but M and N
/// of extent 1) into `vector.outerproduct`: a column of A, a row of B.
LogicalResult vectorizeOuterProduct(RewriterBase &rewriter,
                                    linalg::LinalgOp tile) {
  std::optional<ContractionLoops> loops = getOuterProductLoops(tile);
  if (!loops)
    return failure();
  SmallVector<int64_t> extents = tile.getStaticLoopRanges();
  for (auto [loop, extent] : llvm::enumerate(extents))
    if (loop != loops->m && loop != loops->n && extent != 1)
      return failure();
  std::optional<SmallVector<Operation *>> lhsConversions =
      getOperandConversions(tile, 0);
  std::optional<SmallVector<Operation *>> rhsConversions =
      getOperandConversions(tile, 1);
  if (!lhsConversions || !rhsConversions)
    return failure();
  for (Operation *conversion :
       llvm::concat<Operation *const>(*lhsConversions, *rhsConversions))
    if (!conversion->hasTrait<OpTrait::Elementwise>())
      return failure();

  // The accumulator tile is read as [M, N] in the result's order.
  AffineMap resultMap = tile.getMatchingIndexingMap(tile.getDpsInitOperand(0));
  if (*resultMap.getResultPosition(rewriter.getAffineDimExpr(loops->m)) >
      *resultMap.getResultPosition(rewriter.getAffineDimExpr(loops->n)))
    return failure();

  Location loc = tile.getLoc();
  rewriter.setInsertionPoint(tile);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  // The transfer of `operand` along `along` (loops), at the tile's origin.
  auto transferMap = [&](OpOperand *operand, ArrayRef<unsigned> along,
                         SmallVectorImpl<int64_t> &shape) -> AffineMap {
    AffineMap map = tile.getMatchingIndexingMap(operand);
    SmallVector<AffineExpr> exprs;
    for (unsigned loop : along) {
      std::optional<unsigned> position =
          map.getResultPosition(rewriter.getAffineDimExpr(loop));
      if (!position)
        return AffineMap();
      exprs.push_back(rewriter.getAffineDimExpr(*position));
      shape.push_back(extents[loop]);
    }
    return AffineMap::get(map.getNumResults(), 0, exprs, rewriter.getContext());
  };
  auto read = [&](OpOperand *operand, ArrayRef<unsigned> along) -> Value {
    SmallVector<int64_t> shape;
    AffineMap map = transferMap(operand, along, shape);
    if (!map)
      return Value();
    auto type = cast<RankedTensorType>(operand->get().getType());
    SmallVector<Value> indices(type.getRank(), zero);
    SmallVector<bool> inBounds(shape.size(), true);
    return vector::TransferReadOp::create(
        rewriter, loc, VectorType::get(shape, type.getElementType()),
        operand->get(), indices, std::nullopt, map, inBounds);
  };
  OpOperand *init = tile.getDpsInitOperand(0);
  Value lhs = read(tile.getDpsInputOperand(0), {loops->m});
  Value rhs = read(tile.getDpsInputOperand(1), {loops->n});
  if (!lhs || !rhs)
    return failure();
  lhs = convertVector(rewriter, loc, lhs, *lhsConversions);
  rhs = convertVector(rewriter, loc, rhs, *rhsConversions);
  // The accumulator moves as a whole tile (unit dimensions included), so
  // its read and write fold onto the enclosing loop's tensor and leave the
  // reduction loop.
  auto initType = cast<RankedTensorType>(init->get().getType());
  auto accType = VectorType::get(initType.getShape(), initType.getElementType());
  SmallVector<Value> indices(initType.getRank(), zero);
  SmallVector<bool> inBounds(initType.getRank(), true);
  Value acc = vector::TransferReadOp::create(rewriter, loc, accType,
                                             init->get(), indices, std::nullopt,
                                             inBounds);
  auto tileType = VectorType::get(
      {extents[loops->m], extents[loops->n]}, initType.getElementType());
  Value product = vector::OuterProductOp::create(
      rewriter, loc, tileType, lhs, rhs,
      vector::ShapeCastOp::create(rewriter, loc, tileType, acc),
      vector::CombiningKind::ADD);
  auto write = vector::TransferWriteOp::create(
      rewriter, loc,
      vector::ShapeCastOp::create(rewriter, loc, accType, product),
      init->get(), indices, inBounds);
  rewriter.replaceOp(tile, write->getResults());
  return success();
}

/// addf(acc, mulf(a, b)) on vectors, where the multiply allows contraction
/// (allowContraction), becomes vector.fma; unit-dimension shape casts the
/// vectorizer puts in between are moved onto the factors.
struct FuseMultiplyAdd : OpRewritePattern<arith::AddFOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(arith::AddFOp add,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<VectorType>(add.getType());
    if (!type)
      return failure();
    for (unsigned operand = 0; operand < 2; ++operand) {
      Value product = add->getOperand(operand);
      auto cast = product.getDefiningOp<vector::ShapeCastOp>();
      if (cast)
        product = cast.getSource();
      auto mul = product.getDefiningOp<arith::MulFOp>();
      if (!mul || !mul->hasOneUse() || (cast && !cast->hasOneUse()) ||
          !arith::bitEnumContainsAll(mul.getFastmath(),
                                     arith::FastMathFlags::contract))
        continue;
      Value lhs = mul.getLhs(), rhs = mul.getRhs();
      if (cast) {
        lhs = vector::ShapeCastOp::create(rewriter, add.getLoc(), type, lhs);
        rhs = vector::ShapeCastOp::create(rewriter, add.getLoc(), type, rhs);
      }
      rewriter.replaceOpWithNewOp<vector::FMAOp>(add, lhs, rhs,
                                                 add->getOperand(1 - operand));
      return success();
    }
    return failure();
  }
};

void addCanonicalizationPatterns(MLIRContext *context,
                                 RewritePatternSet &patterns) {
  for (Dialect *dialect : context->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName op : context->getRegisteredOperations())
    op.getCanonicalizationPatterns(patterns, context);
}

/// Canonicalization with the loop-bound simplifications of affine.min/max
/// that peeling and unit tiles rely on.
void canonicalize(Operation *root) {
  MLIRContext *context = root->getContext();
  RewritePatternSet patterns(context);
  addCanonicalizationPatterns(context, patterns);
  scf::populateSCFForLoopCanonicalizationPatterns(patterns);
  // Like the canonicalizer: not converging within the iteration limit is
  // not an error.
  (void)applyPatternsGreedily(root, std::move(patterns));
}

struct CpuTileAndVectorizePass
    : impl::CpuTileAndVectorizeBase<CpuTileAndVectorizePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    Operation *root = getOperation();
    IRRewriter rewriter(context);

    // 1. Tile every configured op, wherever it is.
    SmallVector<std::pair<linalg::LinalgOp, KernelConfig>> configured;
    WalkResult walk = root->walk([&](linalg::LinalgOp op) {
      FailureOr<std::optional<KernelConfig>> config =
          readKernelConfig(op, op.getNumLoops());
      if (failed(config))
        return WalkResult::interrupt();
      if (*config &&
          (op.hasPureTensorSemantics() || op.hasPureBufferSemantics()))
        configured.emplace_back(op, std::move(**config));
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    // Consumers first: their tiles take the fills and broadcasts of their
    // inits along, which then have no other use left.
    for (auto &[op, config] : llvm::reverse(configured)) {
      if (op->getNumResults() != 0 && op->use_empty()) {
        rewriter.eraseOp(op);
        continue;
      }
      op->removeAttr(kKernelConfigAttrName);
      if (config.kind == KernelKind::DotProduct) {
        FailureOr<bool> split = tileDotProduct(rewriter, op, config);
        if (failed(split))
          return signalPassFailure();
        if (*split)
          continue;
      }
      if (failed(tileToRegisterTiles(rewriter, op, config.cacheTiles,
                                     config.cacheOrder, config.registerTiles,
                                     config.kind)))
        return signalPassFailure();
    }

    // 2. Fold the peeled bounds: the main tiles' slices become static.
    canonicalize(root);

    // 3. The peeled remainders (dynamic extents below the register tile)
    // are tiled by 1 along those extents, so they get static tiles too.
    {
      SmallVector<linalg::LinalgOp> remainders;
      root->walk([&](linalg::LinalgOp op) {
        if (op->hasAttr(kRegisterTileAttrName) && op.hasDynamicShape())
          remainders.push_back(op);
      });
      for (linalg::LinalgOp op : remainders) {
        SmallVector<int64_t> sizes;
        for (int64_t extent : op.getStaticLoopRanges())
          sizes.push_back(ShapedType::isDynamic(extent) ? 1 : 0);
        Attribute kind = op->getAttr(kRegisterTileAttrName);
        FailureOr<TiledLevel> unit =
            tileLevel(rewriter, op, sizes, registerLoopOrder(op));
        if (failed(unit))
          return signalPassFailure();
        unit->tiledOp->setAttr(kRegisterTileAttrName, kind);
      }
      canonicalize(root);
    }

    // 4. Vectorize the static register tiles; tiles that stay dynamic remain
    // linalg ops (the loop lowering handles them).
    SmallVector<linalg::LinalgOp> tiles;
    root->walk([&](linalg::LinalgOp op) {
      if (op->hasAttr(kRegisterTileAttrName))
        tiles.push_back(op);
    });
    for (linalg::LinalgOp tile : tiles) {
      auto kind = tile->getAttrOfType<StringAttr>(kRegisterTileAttrName);
      tile->removeAttr(kRegisterTileAttrName);
      if (tile.hasDynamicShape())
        continue;
      if (kind.getValue() == stringifyKernelKind(KernelKind::Contraction) &&
          succeeded(vectorizeOuterProduct(rewriter, tile)))
        continue;
      if (failed(linalg::vectorizeOpPrecondition(tile, {}, {},
                                                 /*vectorizeNDExtract=*/true)))
        continue;
      rewriter.setInsertionPoint(tile);
      FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
          rewriter, tile, {}, {}, /*vectorizeNDExtract=*/true);
      if (succeeded(vectorized))
        rewriter.replaceOp(tile, vectorized->replacements);
    }

    // 5. Transfers through the tile slices; broadcasts and unit dimensions
    // of the vectorized ops folded away.
    {
      RewritePatternSet patterns(context);
      vector::populateSinkVectorOpsPatterns(patterns);
      tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
      patterns.add<FuseMultiplyAdd>(context);
      addCanonicalizationPatterns(context, patterns);
      // Like the canonicalizer: not converging within the iteration limit
      // is not an error.
      (void)applyPatternsGreedily(root, std::move(patterns));
    }

    // 6. Accumulators stay in registers across the reduction loops.
    SmallVector<scf::ForOp> loops;
    root->walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops)
      (void)hoistLoopInvariantSubsets(rewriter, loop);
  }
};

} // namespace
} // namespace mbc
