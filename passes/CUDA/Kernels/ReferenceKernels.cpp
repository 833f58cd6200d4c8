//===- ReferenceKernels.cpp - mb-cuda-reference-kernels -------------------===//
//
// Bodies for the @mbc_gemm_<n>, @mbc_gemv_<n> and @mbc_attention_<n>
// declarations of the CUDA kernel selection, so the CPU can run a model as
// the CUDA pipeline selects its kernels (see Passes.td).
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/KernelBuilderUtils.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"

#include <cmath>
#include <limits>

namespace mbc {
#define GEN_PASS_DEF_CUDAREFERENCEKERNELS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

Value constantF32(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

/// softmax over the last dimension of a rank-3 f32 tensor of (masked)
/// scores: max, sum of exponentials, normalized exponentials.
Value softmaxLastDimension(OpBuilder &b, Location loc, Value masked) {
  namespace ml = mb_to_linalg;
  auto type = cast<RankedTensorType>(masked.getType());
  Value max = ml::createLastDimensionReduction(
      b, loc, {masked}, {}, -std::numeric_limits<double>::infinity(),
      [](OpBuilder &n, Location l, ValueRange args) -> Value {
        return arith::MaximumFOp::create(n, l, args[0], args[1]);
      });
  Value sum = ml::createLastDimensionReduction(
      b, loc, {masked}, {max}, 0.0,
      [](OpBuilder &n, Location l, ValueRange args) -> Value {
        Value e =
            math::ExpOp::create(n, l, arith::SubFOp::create(n, l, args[0], args[1]));
        return arith::AddFOp::create(n, l, args[2], e);
      });
  AffineMap identity3 = AffineMap::getMultiDimIdentityMap(3, b.getContext());
  AffineMap rows3 = identity3.dropResult(2);
  return ml::createElementwise(
      b, loc, type, {masked, max, sum}, {identity3, rows3, rows3},
      [](OpBuilder &n, Location l, ValueRange args) -> Value {
        Value e =
            math::ExpOp::create(n, l, arith::SubFOp::create(n, l, args[0], args[1]));
        return arith::DivFOp::create(n, l, e, args[2]);
      });
}

struct CudaReferenceKernelsPass
    : public impl::CudaReferenceKernelsBase<CudaReferenceKernelsPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>()) {
      // A decode-attention declaration has a body that only declares a
      // fresh result (see callSelectedDecodeAttention); the reference
      // replaces it.
      if (!function.isExternal()) {
        // So does a GEMV's with an attention prologue.
        if (!function->hasAttr(cuda::kSelectedDecodeAttentionAttrName) &&
            !function->hasAttr(cuda::kSelectedGemvAttrName))
          continue;
        function.eraseBody();
      }
      auto emitError = [&] { return function.emitOpError(); };
      if (auto attr = function->getAttrOfType<DictionaryAttr>(
              cuda::kSelectedGemmAttrName)) {
        FailureOr<cuda::GemmSpec> spec =
            cuda::gemmSpecFromAttribute(attr, emitError);
        if (failed(spec))
          return signalPassFailure();
        if (spec->pairedN > 0)
          definePairedGemm(function, *spec);
        else
          define(function, *spec);
      } else if (auto attr = function->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedGemvAttrName)) {
        FailureOr<cuda::GemvSpec> gemv =
            cuda::gemvSpecFromAttribute(attr, emitError);
        if (failed(gemv))
          return signalPassFailure();
        if (gemv->pairedN > 0) {
          definePairedGemv(function, *gemv);
          continue;
        }
        // The same arithmetic as a GEMM whose A is already f32.
        cuda::GemmSpec spec;
        spec.m = gemv->m;
        spec.n = gemv->n;
        spec.k = gemv->k;
        spec.bias = gemv->bias;
        spec.biasType = gemv->biasType;
        spec.activation = gemv->activation;
        spec.residual = gemv->residual;
        define(function, spec,
               gemv->normPrologue || gemv->attentionPrologue ? &*gemv
                                                             : nullptr);
        function->removeAttr(cuda::kSelectedGemvAttrName);
      } else if (auto attr = function->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedAttentionAttrName)) {
        FailureOr<cuda::AttentionSpec> spec =
            cuda::attentionSpecFromAttribute(attr, emitError);
        if (failed(spec))
          return signalPassFailure();
        define(function, *spec);
      } else if (auto attr = function->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedDecodeAttentionAttrName)) {
        FailureOr<cuda::DecodeAttentionSpec> spec =
            cuda::decodeAttentionSpecFromAttribute(attr, emitError);
        if (failed(spec))
          return signalPassFailure();
        define(function, *spec);
      } else if (auto attr = function->getAttrOfType<DictionaryAttr>(
                     cuda::kSelectedLogSoftmaxAttrName)) {
        if (failed(cuda::logSoftmaxSpecFromAttribute(attr, emitError)))
          return signalPassFailure();
        // The same linalg as the generic head's.
        OpBuilder b(function.getContext());
        Block *body = cuda::beginReferenceBody(b, function);
        func::ReturnOp::create(
            b, function.getLoc(),
            mb_to_linalg::createLogSoftmax(b, function.getLoc(),
                                           body->getArgument(0)));
      } else if (function->hasAttr(cuda::kSelectedLocalLayerAttrName) ||
                 function->hasAttr(cuda::kSelectedNormAttrName)) {
        // Its body (mb ops) comes from mb-cuda-select-kernels itself.
        function.emitOpError("a fused local layer or norm without a body: run "
                             "mb-cuda-select-kernels with reference-bodies "
                             "to emulate it");
        return signalPassFailure();
      }
    }
  }

  /// O = softmax(scale * Q K^T, masked) V per batch row, from the 16-bit
  /// inputs in f32: causal (key <= query) and, with a patch length P, only
  /// keys of the query's own patch (key / P == query / P). Token-major
  /// operands are first gathered per (sequence, head) and O scattered back;
  /// a 16-bit O is rounded once, at the end.
  void define(func::FuncOp function, const cuda::AttentionSpec &spec) {
    namespace ml = mb_to_linalg;
    MLIRContext *ctx = function.getContext();
    OpBuilder b(ctx);
    Location loc = function.getLoc();
    Block *body = cuda::beginReferenceBody(b, function);
    Value q = body->getArgument(0), k = body->getArgument(1),
          v = body->getArgument(2);
    Type f32 = b.getF32Type();
    int64_t batch = spec.batchHeads, length = spec.seqLen;
    AffineExpr d0, d1, d2, d3;
    bindDims(ctx, d0, d1, d2, d3);
    int64_t sequences = spec.tokenMajor() ? batch / spec.heads : 0;
    // (n, h, s, d) <-> (n, s, h, d): the one permutation both ways.
    AffineMap swap = AffineMap::get(4, 0, {d0, d2, d1, d3}, ctx);
    if (spec.tokenMajor()) {
      auto gather = [&](Value rows, int64_t column) {
        Value heads = ml::reshape(
            b, loc,
            ml::extractSlice(b, loc, rows, {0, 0, column},
                             {sequences, length, spec.heads * spec.headDim}),
            {sequences, length, spec.heads, spec.headDim});
        Value packed = ml::createElementwise(
            b, loc,
            RankedTensorType::get({sequences, spec.heads, length, spec.headDim},
                                  spec.inputType),
            {heads}, {swap},
            [](OpBuilder &, Location, ValueRange args) { return args[0]; });
        return ml::reshape(b, loc, packed, {batch, length, spec.headDim});
      };
      q = gather(q, 0);
      k = gather(k, spec.kColumn);
      v = gather(v, spec.vColumn);
    }
    auto map = [&](ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(4, 0, exprs, ctx);
    };
    using utils::IteratorType;
    SmallVector<IteratorType> reduce = {
        IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
        IteratorType::reduction};
    // scores[b, i, j] = sum_d q[b, i, d] k[b, j, d]
    auto scoresType = RankedTensorType::get({batch, length, length}, f32);
    Value scores =
        linalg::GenericOp::create(
            b, loc, scoresType, ValueRange{q, k},
            ValueRange{
                ml::createFilled(b, loc, scoresType.getShape(), f32, 0.0)},
            ArrayRef<AffineMap>{map({d0, d1, d3}), map({d0, d2, d3}),
                                map({d0, d1, d2})},
            reduce,
            [&](OpBuilder &n, Location l, ValueRange args) {
              Value x = arith::ExtFOp::create(n, l, f32, args[0]);
              Value y = arith::ExtFOp::create(n, l, f32, args[1]);
              linalg::YieldOp::create(
                  n, l,
                  arith::AddFOp::create(n, l, args[2],
                                        arith::MulFOp::create(n, l, x, y))
                      .getResult());
            })
            .getResult(0);
    // Masked and scaled: the lowest float where a key is hidden.
    Value masked = ml::createElementwise(
        b, loc, scoresType, {scores},
        {AffineMap::getMultiDimIdentityMap(3, ctx)},
        [&](OpBuilder &n, Location l, ValueRange args) -> Value {
          Value query = linalg::IndexOp::create(n, l, 1);
          Value key = linalg::IndexOp::create(n, l, 2);
          Value visible = arith::ConstantIntOp::create(n, l, 1, 1);
          if (spec.causal)
            visible = arith::CmpIOp::create(n, l, arith::CmpIPredicate::ule,
                                            key, query);
          if (spec.patchLength > 0) {
            Value patch =
                arith::ConstantIndexOp::create(n, l, spec.patchLength);
            Value same = arith::CmpIOp::create(
                n, l, arith::CmpIPredicate::eq,
                arith::DivUIOp::create(n, l, key, patch),
                arith::DivUIOp::create(n, l, query, patch));
            visible = arith::AndIOp::create(n, l, visible, same);
          }
          double scale =
              spec.scale > 0 ? spec.scale : 1.0 / std::sqrt(spec.headDim);
          Value scaled =
              arith::MulFOp::create(n, l, args[0], constantF32(n, l, scale));
          return arith::SelectOp::create(
              n, l, visible, scaled,
              constantF32(n, l, -std::numeric_limits<float>::max()));
        });
    Value probabilities = softmaxLastDimension(b, loc, masked);
    // out[b, i, d] = sum_j p[b, i, j] v[b, j, d]
    auto outType = RankedTensorType::get({batch, length, spec.headDim}, f32);
    Value out =
        linalg::GenericOp::create(
            b, loc, outType, ValueRange{probabilities, v},
            ValueRange{ml::createFilled(b, loc, outType.getShape(), f32, 0.0)},
            ArrayRef<AffineMap>{map({d0, d1, d3}), map({d0, d3, d2}),
                                map({d0, d1, d2})},
            reduce,
            [&](OpBuilder &n, Location l, ValueRange args) {
              Value y = arith::ExtFOp::create(n, l, f32, args[1]);
              linalg::YieldOp::create(
                  n, l,
                  arith::AddFOp::create(n, l, args[2],
                                        arith::MulFOp::create(n, l, args[0], y))
                      .getResult());
            })
            .getResult(0);
    Type outputType = spec.outputType ? spec.outputType : f32;
    auto round = [&](OpBuilder &n, Location l, ValueRange args) -> Value {
      if (outputType.isF32())
        return args[0];
      return arith::TruncFOp::create(n, l, outputType, args[0]);
    };
    if (spec.tokenMajor()) {
      Value heads = ml::reshape(
          b, loc, out, {sequences, spec.heads, length, spec.headDim});
      out = ml::reshape(
          b, loc,
          ml::createElementwise(b, loc,
                                RankedTensorType::get({sequences, length,
                                                       spec.heads,
                                                       spec.headDim},
                                                      outputType),
                                {heads}, {swap}, round),
          {sequences, length, spec.heads * spec.headDim});
    } else if (!outputType.isF32()) {
      out = ml::createElementwise(
          b, loc, cast<RankedTensorType>(out.getType()).clone(outputType),
          {out}, {AffineMap::getMultiDimIdentityMap(3, ctx)}, round);
    }
    func::ReturnOp::create(b, loc, out);
    function->removeAttr(cuda::kSelectedAttentionAttrName);
  }

  /// out[n, h] = softmax_j(scale q[n, h] . k[n, j, h], j <= position)
  /// v[n, j, h] in f32, the position read from its tensor.
  void define(func::FuncOp function, const cuda::DecodeAttentionSpec &spec) {
    OpBuilder b(function.getContext());
    Block *body = cuda::beginReferenceBody(b, function);
    func::ReturnOp::create(
        b, function.getLoc(),
        buildDecodeAttention(b, function.getLoc(), spec, body->getArgument(0),
                             body->getArgument(1), body->getArgument(2),
                             body->getArgument(3)));
    function->removeAttr(cuda::kSelectedDecodeAttentionAttrName);
  }

  /// Decode attention of q [N, H * D] over the caches' rows
  /// firstRow..firstRow + N, keys 0..position (tensor<1xi64>), in linalg:
  /// out [N, H * D] f32.
  static Value buildDecodeAttention(OpBuilder &b, Location loc,
                                    const cuda::DecodeAttentionSpec &spec,
                                    Value q, Value kCache, Value vCache,
                                    Value positionTensor) {
    namespace ml = mb_to_linalg;
    MLIRContext *ctx = b.getContext();
    int64_t n = spec.sequences, heads = spec.heads, dim = spec.headDim,
            length = spec.cacheLength;
    Type f32 = b.getF32Type();
    Value query = ml::reshape(b, loc, q, {n, heads, dim});
    // This call's rows of the caches.
    auto rows = [&](Value cache) {
      return ml::reshape(
          b, loc,
          ml::extractSlice(b, loc, cache, {spec.firstRow, 0, 0},
                           {n, length, heads * dim}),
          {n, length, heads, dim});
    };
    Value keys = rows(kCache);
    Value values = rows(vCache);
    Value position = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        tensor::ExtractOp::create(
            b, loc, positionTensor,
            ValueRange{arith::ConstantIndexOp::create(b, loc, 0)}));
    AffineExpr d0, d1, d2, d3;
    bindDims(ctx, d0, d1, d2, d3);
    auto map = [&](ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(4, 0, exprs, ctx);
    };
    SmallVector<utils::IteratorType> reduce = {
        utils::IteratorType::parallel, utils::IteratorType::parallel,
        utils::IteratorType::parallel, utils::IteratorType::reduction};
    auto multiplyAdd = [&](OpBuilder &nested, Location nestedLoc,
                           ValueRange args) {
      linalg::YieldOp::create(
          nested, nestedLoc,
          arith::AddFOp::create(
              nested, nestedLoc, args[2],
              arith::MulFOp::create(nested, nestedLoc, args[0], args[1]))
              .getResult());
    };
    // scores[n, h, j] = sum_d q[n, h, d] k[n, j, h, d]; loops (n, h, j, d).
    auto scoresType = RankedTensorType::get({n, heads, length}, f32);
    Value scores =
        linalg::GenericOp::create(
            b, loc, scoresType, ValueRange{query, keys},
            ValueRange{ml::createFilled(b, loc, scoresType.getShape(), f32,
                                        0.0)},
            ArrayRef<AffineMap>{map({d0, d1, d3}), map({d0, d2, d1, d3}),
                                map({d0, d1, d2})},
            reduce, multiplyAdd)
            .getResult(0);
    double scale = spec.scale > 0 ? spec.scale : 1.0 / std::sqrt(dim);
    Value masked = ml::createElementwise(
        b, loc, scoresType, {scores},
        {AffineMap::getMultiDimIdentityMap(3, ctx)},
        [&](OpBuilder &nested, Location l, ValueRange args) -> Value {
          Value key = linalg::IndexOp::create(nested, l, 2);
          Value visible = arith::CmpIOp::create(
              nested, l, arith::CmpIPredicate::ule, key, position);
          Value scaled = arith::MulFOp::create(nested, l, args[0],
                                               constantF32(nested, l, scale));
          return arith::SelectOp::create(
              nested, l, visible, scaled,
              constantF32(nested, l, -std::numeric_limits<float>::max()));
        });
    Value probabilities = softmaxLastDimension(b, loc, masked);
    // out[n, h, d] = sum_j p[n, h, j] v[n, j, h, d]; loops (n, h, d, j).
    auto outType = RankedTensorType::get({n, heads, dim}, f32);
    Value out =
        linalg::GenericOp::create(
            b, loc, outType, ValueRange{probabilities, values},
            ValueRange{
                ml::createFilled(b, loc, outType.getShape(), f32, 0.0)},
            ArrayRef<AffineMap>{map({d0, d1, d3}), map({d0, d3, d1, d2}),
                                map({d0, d1, d2})},
            reduce, multiplyAdd)
            .getResult(0);
    return ml::reshape(b, loc, out, {n, heads * dim});
  }

  /// A [M, K] x W [N, K]^T in f32 (operands widened), C [M, N] f32.
  static Value buildProduct(OpBuilder &b, Location loc, Value a, Value w,
                            int64_t rows, int64_t columns) {
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    auto resultType = RankedTensorType::get({rows, columns}, f32);
    Value empty = tensor::EmptyOp::create(b, loc, resultType.getShape(), f32);
    Value zero = linalg::FillOp::create(b, loc, constantF32(b, loc, 0.0), empty)
                     .getResult(0);
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    auto map = [&](ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(3, 0, exprs, ctx);
    };
    return linalg::GenericOp::create(
               b, loc, resultType, ValueRange{a, w}, ValueRange{zero},
               ArrayRef<AffineMap>{map({m, k}), map({n, k}), map({m, n})},
               ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel,
                                             utils::IteratorType::reduction},
               [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
                 auto widen = [&](Value v) -> Value {
                   return v.getType().isF32()
                              ? v
                              : arith::ExtFOp::create(nested, nestedLoc, f32, v)
                                    .getResult();
                 };
                 Value sum = arith::AddFOp::create(
                     nested, nestedLoc, args[2],
                     arith::MulFOp::create(nested, nestedLoc, widen(args[0]),
                                           widen(args[1])));
                 linalg::YieldOp::create(nested, nestedLoc, sum);
               })
        .getResult(0);
  }

  /// A GEMM's norm prologue (GemmSpec::norm) on the f32 rows `x` [M, K]:
  /// MEGABYTE-pytorch's token shift within sequences (the second half of
  /// the features one position later, zeros first), the norm as mb.rms_norm
  /// / mb.layer_norm lower (the same builders), rounded to the GEMM's
  /// operand type as the kernel keeps it. `normOperands`: the weight (and
  /// a LayerNorm's bias).
  static Value normalizeRows(OpBuilder &b, Location loc,
                             const cuda::NormSpec &spec, ValueRange input,
                             ValueRange normOperands) {
    namespace ml = mb_to_linalg;
    Value x = input[0];
    if (spec.gather) {
      // The rows gathered from the table: each row's ids' embeddings,
      // concatenated (what mb.embedding and mb.patchify compute).
      x = ml::reshape(b, loc,
                      convertTo(b, loc,
                                ml::createEmbedding(b, loc, input[1], input[0]),
                                b.getF32Type()),
                      {spec.rows, spec.dim});
    }
    if (spec.tokenShift) {
      int64_t sequences = spec.rows / spec.positions, keep = spec.dim / 2;
      Value rows =
          ml::reshape(b, loc, x, {sequences, spec.positions, spec.dim});
      Value previous =
          ml::extractSlice(b, loc, rows, {0, 0, keep},
                           {sequences, spec.positions - 1, spec.dim - keep});
      Value zeros = ml::createFilled(b, loc, {sequences, 1, spec.dim - keep},
                                     b.getF32Type(), 0.0);
      Value shifted =
          ml::concatenate(b, loc,
                          {ml::extractSlice(b, loc, rows, {0, 0, 0},
                                            {sequences, spec.positions, keep}),
                           ml::concatenate(b, loc, {zeros, previous}, 1)},
                          2);
      x = ml::reshape(b, loc, shifted, {spec.rows, spec.dim});
    }
    Value y = spec.norm == cuda::NormKind::Layer
                  ? ml::createLayerNorm(b, loc, x, normOperands[0],
                                        normOperands[1], spec.epsilon)
                  : ml::createRMSNorm(b, loc, x, normOperands[0], spec.epsilon,
                                      spec.norm == cuda::NormKind::RmsClamp);
    return convertTo(b, loc, y, spec.outputType);
  }

  /// The norm operands' count of a GEMM's norm prologue (0 without one).
  static unsigned normOperandCount(const cuda::GemmSpec &spec) {
    if (!spec.norm)
      return 0;
    return spec.norm->norm == cuda::NormKind::Layer ? 2 : 1;
  }

  /// The arguments that stand for A: 2 for a gathering norm prologue (the
  /// ids and the table), else 1.
  static unsigned aArgumentCount(const cuda::GemmSpec &spec) {
    return spec.norm && spec.norm->gather ? 2 : 1;
  }

  /// A paired GEMM: both products of A (normalized by a norm prologue),
  /// rounded to the output type as the kernel stores them (no epilogue).
  /// Arguments: a (or x), w, [norm weight, [norm bias]], w2.
  void definePairedGemm(func::FuncOp function, const cuda::GemmSpec &spec) {
    OpBuilder b(function.getContext());
    Location loc = function.getLoc();
    Block *body = cuda::beginReferenceBody(b, function);
    unsigned aArguments = aArgumentCount(spec);
    Value a = body->getArgument(0);
    unsigned normOperands = normOperandCount(spec);
    if (spec.norm)
      a = normalizeRows(
          b, loc, *spec.norm, body->getArguments().take_front(aArguments),
          body->getArguments().slice(aArguments + 1, normOperands));
    Type outputType = spec.outputType ? spec.outputType : b.getF32Type();
    SmallVector<Value> results;
    for (auto [w, n] :
         {std::pair(body->getArgument(aArguments), spec.n),
          std::pair(body->getArgument(aArguments + 1 + normOperands),
                    spec.pairedN)})
      results.push_back(convertTo(
          b, loc, rotate(b, loc, buildProduct(b, loc, a, w, spec.m, n), spec),
          outputType));
    func::ReturnOp::create(b, loc, results);
    function->removeAttr(cuda::kSelectedGemmAttrName);
  }

  /// The rotary epilogue (GemmSpec::rotaryColumns) on an f32 [M, N]
  /// product: mb_to_linalg::applyRotary, as the unfused pipeline rotates
  /// q and k, on the first rotary-columns columns.
  static Value rotate(OpBuilder &b, Location loc, Value product,
                      const cuda::GemmSpec &spec) {
    namespace ml = mb_to_linalg;
    if (spec.rotaryColumns == 0)
      return product;
    int64_t n = cast<RankedTensorType>(product.getType()).getDimSize(1);
    int64_t columns = spec.rotaryColumns, dh = spec.rotaryHeadDim;
    Value head = ml::extractSlice(b, loc, product, {0, 0}, {spec.m, columns});
    Value rotated = ml::reshape(
        b, loc,
        ml::applyRotary(b, loc,
                        ml::reshape(b, loc, head,
                                    {spec.m / spec.rotaryPositions,
                                     spec.rotaryPositions, columns / dh, dh}),
                        ml::createInverseFrequencies(b, loc, b.getF32Type(),
                                                     spec.rotaryTheta, dh),
                        b.getIndexAttr(0)),
        {spec.m, columns});
    if (columns == n)
      return rotated;
    Value rest =
        ml::extractSlice(b, loc, product, {0, columns}, {spec.m, n - columns});
    return ml::concatenate(b, loc, {rotated, rest}, 1);
  }

  /// `value` (a float tensor) in `type`, elementwise as linalg (this pass
  /// runs after the elementwise ops became linalg): rounded to a narrower
  /// type, widened to a wider one.
  static Value convertTo(OpBuilder &b, Location loc, Value value, Type type) {
    auto sourceType = cast<RankedTensorType>(value.getType());
    Type source = sourceType.getElementType();
    if (source == type)
      return value;
    bool widen = source.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth();
    return mb_to_linalg::createElementwise(
        b, loc, sourceType.clone(type), value,
        mb_to_linalg::identityMap(b.getContext(), sourceType.getRank()),
        [&](OpBuilder &n, Location l, ValueRange args) -> Value {
          if (widen)
            return arith::ExtFOp::create(n, l, type, args[0]);
          return arith::TruncFOp::create(n, l, type, args[0]);
        });
  }

  /// A GEMV's norm prologue on `a`, as mb.rms_norm / mb.layer_norm lower
  /// (the same builders): `normOperands` are the norm's weight (and a
  /// LayerNorm's bias).
  static Value normalize(OpBuilder &b, Location loc, Value a,
                         const cuda::GemvSpec &spec, ValueRange normOperands) {
    if (spec.normKind == cuda::NormKind::Layer)
      return mb_to_linalg::createLayerNorm(b, loc, a, normOperands[0],
                                           normOperands[1], spec.normEpsilon);
    return mb_to_linalg::createRMSNorm(
        b, loc, a, normOperands[0], spec.normEpsilon,
        spec.normKind == cuda::NormKind::RmsClamp);
  }

  /// A paired GEMV: every product of the (normalized) A, no epilogue.
  /// Arguments: a, w, [norm weight, [norm bias]], w2[, w3].
  void definePairedGemv(func::FuncOp function, const cuda::GemvSpec &spec) {
    OpBuilder b(function.getContext());
    Location loc = function.getLoc();
    Block *body = cuda::beginReferenceBody(b, function);
    Value a = body->getArgument(0);
    unsigned normOperands = cuda::gemvNormOperandCount(spec);
    if (spec.normPrologue)
      a = normalize(b, loc, a, spec,
                    body->getArguments().slice(2, normOperands));
    SmallVector<Value> products = {
        buildProduct(b, loc, a, body->getArgument(1), spec.m, spec.n)};
    unsigned next = 2 + normOperands;
    for (int64_t n : {spec.pairedN, spec.thirdN})
      if (n > 0)
        products.push_back(
            buildProduct(b, loc, a, body->getArgument(next++), spec.m, n));
    func::ReturnOp::create(b, loc, products);
    function->removeAttr(cuda::kSelectedGemvAttrName);
  }

  /// With `prologue` (a GEMV's norm or attention prologue), A is first
  /// normalized with the last arguments as the norm's weight (and bias), or
  /// attended over the last arguments' caches.
  void define(func::FuncOp function, const cuda::GemmSpec &spec,
              const cuda::GemvSpec *prologue = nullptr) {
    MLIRContext *ctx = function.getContext();
    OpBuilder b(ctx);
    Location loc = function.getLoc();
    Block *body = cuda::beginReferenceBody(b, function);
    Value a = body->getArgument(0);
    if (prologue && prologue->attentionPrologue) {
      // A is the query; the caches and the position are the last operands.
      ValueRange last = body->getArguments().take_back(
          cuda::gemvAttentionOperandCount(*prologue));
      a = buildDecodeAttention(b, loc, prologue->attention, a, last[0],
                               last[1], last[2]);
    } else if (prologue) {
      a = normalize(b, loc, a, *prologue,
                    body->getArguments().take_back(
                        cuda::gemvNormOperandCount(*prologue)));
    }
    unsigned aArguments = aArgumentCount(spec);
    Value w = body->getArgument(aArguments);
    unsigned next = aArguments + 1;
    Value bias = spec.bias ? body->getArgument(next++) : Value();
    Value residual = spec.residual ? body->getArgument(next++) : Value();
    // A GEMM's norm prologue: its weight (and bias) follow the epilogue's.
    if (spec.norm)
      a = normalizeRows(
          b, loc, *spec.norm, body->getArguments().take_front(aArguments),
          body->getArguments().slice(next, normOperandCount(spec)));
    Type f32 = b.getF32Type();
    Value product =
        rotate(b, loc, buildProduct(b, loc, a, w, spec.m, spec.n), spec);
    auto map = [&](ArrayRef<AffineExpr> exprs, unsigned dims) {
      return AffineMap::get(dims, 0, exprs, ctx);
    };

    SmallVector<Value> inputs = {product};
    AffineExpr row, column;
    bindDims(ctx, row, column);
    SmallVector<AffineMap> maps = {map({row, column}, 2)};
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(map({column}, 2));
    }
    if (residual) {
      inputs.push_back(residual);
      maps.push_back(map({row, column}, 2));
    }
    maps.push_back(map({row, column}, 2));
    // A 16-bit output is rounded after the epilogue, as the kernel does.
    Type outputType = spec.outputType ? spec.outputType : f32;
    auto outputTensorType = RankedTensorType::get({spec.m, spec.n}, outputType);
    Value outputInit = tensor::EmptyOp::create(
        b, loc, outputTensorType.getShape(), outputType);
    Value result =
        linalg::GenericOp::create(
            b, loc, outputTensorType, inputs, ValueRange{outputInit}, maps,
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                          utils::IteratorType::parallel},
            [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
              Value value = args[0];
              unsigned index = 1;
              if (bias) {
                // A 16-bit bias is widened, as the kernels' epilogues do.
                Value term = args[index++];
                if (!term.getType().isF32())
                  term = arith::ExtFOp::create(nested, nestedLoc, f32, term);
                value = arith::AddFOp::create(nested, nestedLoc, value, term);
              }
              if (spec.activation == cuda::Activation::Relu)
                value = arith::MaximumFOp::create(
                    nested, nestedLoc, value,
                    constantF32(nested, nestedLoc, 0.0));
              else if (spec.activation != cuda::Activation::None)
                value = cuda::buildGelu(nested, nestedLoc, value,
                                        spec.activation ==
                                            cuda::Activation::GeluTanh);
              if (residual)
                value = arith::AddFOp::create(nested, nestedLoc, value,
                                              args[index++]);
              if (!outputType.isF32())
                value = arith::TruncFOp::create(nested, nestedLoc, outputType,
                                                value);
              linalg::YieldOp::create(nested, nestedLoc, value);
            })
            .getResult(0);
    // The head's log-softmax epilogue, as the log-softmax kernel's
    // reference computes it, then (merged rows) mb.merge_patches
    // <start_token>'s order, as its lowering builds it.
    if (spec.logSoftmax)
      result = mb_to_linalg::createLogSoftmax(b, loc, result);
    // A norm epilogue: the norm as mb.rms_norm / mb.layer_norm lower, then
    // (start rows) mb.start_token as it lowers. Its weight, [bias] and
    // [start row] follow the prologue's norm operands.
    if (const std::optional<cuda::NormSpec> &outputNorm = spec.outputNorm) {
      namespace ml = mb_to_linalg;
      ValueRange operands =
          body->getArguments().drop_front(next + normOperandCount(spec));
      result = outputNorm->norm == cuda::NormKind::Layer
                   ? ml::createLayerNorm(b, loc, result, operands[0],
                                         operands[1], outputNorm->epsilon)
                   : ml::createRMSNorm(
                         b, loc, result, operands[0], outputNorm->epsilon,
                         outputNorm->norm == cuda::NormKind::RmsClamp);
      if (outputNorm->startType) {
        int64_t sequences = spec.m / outputNorm->positions;
        Value start = ml::broadcastLastDimension(
            b, loc, convertTo(b, loc, operands.back(), f32),
            {sequences, 1, spec.n});
        Value rows = ml::reshape(b, loc, result,
                                 {sequences, outputNorm->positions, spec.n});
        result = ml::reshape(b, loc, ml::concatenate(b, loc, {start, rows}, 1),
                             {cuda::gemmOutputRows(spec), spec.n});
      }
    }
    if (spec.mergePositions > 0) {
      int64_t sequences = spec.m / (spec.mergePositions + 1);
      int64_t bytes = spec.mergeSequences * spec.mergePositions;
      Value merged = mb_to_linalg::mergeStartTokenRows(
          b, loc,
          mb_to_linalg::reshape(b, loc, result,
                                {sequences, spec.mergePositions + 1, spec.n}),
          sequences / spec.mergeSequences, bytes);
      result = mb_to_linalg::reshape(b, loc, merged,
                                     {cuda::gemmOutputRows(spec), spec.n});
    }
    func::ReturnOp::create(b, loc, result);
    function->removeAttr(cuda::kSelectedGemmAttrName);
  }
};

} // namespace
} // namespace mbc
