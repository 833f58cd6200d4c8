//===- SelectKernels.cpp - mb-cuda-select-kernels -------------------------===//
//
// mb.linear / mb.ffn / mb.head / attention -> calls of @mbc_gemm_<n>,
// @mbc_gemv_<n> and @mbc_attention_<n>: private functions whose attribute
// is the kernel's spec (Passes.td says which op gets what). The calls
// bufferize like any call (operands read, result a new buffer);
// mb-cuda-launch-selected-kernels builds the kernels and launches them.
//
//===----------------------------------------------------------------------===//
#include "passes/CUDA/Kernels/GemmKernel.h"
#include "passes/CUDA/Kernels/Passes.h"
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "dialects/MB/MBDialect.h"
#include "passes/Conversion/MBToLinalg/LinalgBuilders.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>

namespace mbc {
#define GEN_PASS_DEF_CUDASELECTKERNELS
#include "passes/CUDA/Kernels/Passes.h.inc"
} // namespace mbc

using namespace mlir;

namespace mbc {
namespace {

struct GemmCall {
  Value a, b, bias, residual;
  cuda::Activation activation = cuda::Activation::None;
};

struct CudaSelectKernelsPass
    : public impl::CudaSelectKernelsBase<CudaSelectKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (mma != "wgmma" && mma != "mma_sync") {
      module.emitError("mb-cuda-select-kernels: mma = '")
          << mma << "' (expected wgmma or mma_sync)";
      return signalPassFailure();
    }
    selection.mma = mma;
    selection.minRows = minRows;
    selection.tileM = tileM;
    selection.tileN = tileN;
    selection.tileK = tileK;
    selection.stages = stages;
    selection.consumers = consumers;
    // Whole local layers first: their ops are then gone (or, with
    // reference-bodies, rebuilt inside the fused function's body, where
    // the walk below selects them one by one).
    if (fuseLocalLayers) {
      SmallVector<mb::LocalAttentionOp> attentions;
      for (auto function : module.getOps<func::FuncOp>())
        function.walk(
            [&](mb::LocalAttentionOp op) { attentions.push_back(op); });
      for (mb::LocalAttentionOp op : attentions)
        fuseLocalLayer(op);
    }
    SmallVector<Operation *> candidates;
    for (auto function : module.getOps<func::FuncOp>())
      function.walk([&](Operation *op) {
        if (isa<mb::LinearOp, mb::FFNOp, mb::HeadOp, mb::GlobalAttentionOp,
                mb::LocalAttentionOp, mb::GlobalToLocalOp>(op))
          candidates.push_back(op);
      });
    for (Operation *op : candidates) {
      if (auto linear = dyn_cast<mb::LinearOp>(op))
        rewriteLinear(linear);
      else if (auto head = dyn_cast<mb::HeadOp>(op))
        rewriteHead(head);
      else if (auto global = dyn_cast<mb::GlobalAttentionOp>(op))
        rewriteAttention(global, /*local=*/false);
      else if (auto local = dyn_cast<mb::LocalAttentionOp>(op))
        rewriteAttention(local, /*local=*/true);
      else if (auto projection = dyn_cast<mb::GlobalToLocalOp>(op))
        rewriteGlobalToLocal(projection);
      else
        rewriteFFN(cast<mb::FFNOp>(op));
    }
    // The GEMMs' rounded operands: norm (+ shift) + rounding in one kernel.
    if (fuseNorms) {
      SmallVector<arith::TruncFOp> roundings;
      for (auto function : module.getOps<func::FuncOp>())
        function.walk([&](arith::TruncFOp op) { roundings.push_back(op); });
      for (arith::TruncFOp op : roundings)
        fuseNorm(op);
      // Every other norm writes f32 rows: decode rows a GEMV reads, the
      // patch embedding's second LayerNorm; one kernel instead of a generic
      // launch per statistic.
      SmallVector<Operation *> norms;
      for (auto function : module.getOps<func::FuncOp>())
        function.walk([&](Operation *op) {
          if (isa<mb::RMSNormOp, mb::LayerNormOp>(op))
            norms.push_back(op);
        });
      for (Operation *op : norms)
        fuseF32Norm(op->getResult(0));
    }
  }

private:
  cuda::GemmSelection selection;

  FailureOr<cuda::GemmSpec> chooseSpec(int64_t m, int64_t n, int64_t k,
                                       Type elementType, const GemmCall &call) {
    return cuda::selectGemmSpec(&getContext(), selection, m, n, k, elementType,
                                static_cast<bool>(call.bias), call.activation,
                                static_cast<bool>(call.residual));
  }

  /// Decode rows (at most kMaxGemvRows): a GEMV over the weight as stored
  /// (bf16/f16, or f32: decode rounds nothing).
  FailureOr<cuda::GemvSpec> gemvSpec(int64_t m, int64_t n, int64_t k,
                                     Value weight, const GemmCall &call) {
    if (m > cuda::kMaxGemvRows)
      return failure();
    cuda::GemvSpec spec;
    spec.m = m;
    spec.n = n;
    spec.k = k;
    spec.weightType = cuda::gemvWeightType(weight);
    spec.bias = static_cast<bool>(call.bias);
    spec.activation = call.activation;
    spec.residual = static_cast<bool>(call.residual);
    if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
          return cuda::verifyGemvSpec(spec, emitError);
        }))
      return failure();
    return spec;
  }

  /// Whether a projection of `m` rows by `weight` [n, k] with this
  /// epilogue has a selected kernel: a GEMV for decode rows, a GEMM from
  /// min-rows up.
  bool canProject(int64_t m, int64_t n, int64_t k, Value weight,
                  const GemmCall &call) {
    if (m <= cuda::kMaxGemvRows)
      return succeeded(gemvSpec(m, n, k, weight, call));
    return succeeded(
        chooseSpec(m, n, k, cuda::weightStorageType(weight), call));
  }

  static int64_t rowsOf(Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    int64_t rows = 1;
    for (int64_t extent : type.getShape().drop_back())
      rows *= extent;
    return rows;
  }

  /// [..., K] -> [M, K].
  static Value toMatrix(OpBuilder &b, Location loc, Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == 2)
      return value;
    ReassociationIndices rows;
    for (int64_t i = 0; i + 1 < type.getRank(); ++i)
      rows.push_back(i);
    SmallVector<ReassociationIndices> groups = {
        rows, {static_cast<int64_t>(type.getRank() - 1)}};
    return tensor::CollapseShapeOp::create(b, loc, value, groups);
  }

  /// [M, N] -> the shape of `like`.
  static Value fromMatrix(OpBuilder &b, Location loc, Value matrix,
                          RankedTensorType like) {
    if (like.getRank() == 2)
      return matrix;
    ReassociationIndices rows;
    for (int64_t i = 0; i + 1 < like.getRank(); ++i)
      rows.push_back(i);
    SmallVector<ReassociationIndices> groups = {
        rows, {static_cast<int64_t>(like.getRank() - 1)}};
    return tensor::ExpandShapeOp::create(b, loc, like, matrix, groups);
  }

  /// The residual `op`'s result is added to, when that addition is its only
  /// use and the residual exists before `op`; the addition is returned too.
  static std::pair<arith::AddFOp, Value> residualUse(Operation *op) {
    Value result = op->getResult(0);
    if (!result.hasOneUse())
      return {};
    auto add = dyn_cast<arith::AddFOp>(*result.getUsers().begin());
    if (!add || add.getType() != result.getType())
      return {};
    Value other = add.getLhs() == result ? add.getRhs() : add.getLhs();
    if (other == result)
      return {};
    Operation *producer = other.getDefiningOp();
    bool before = producer
                      ? producer->getBlock() == op->getBlock() &&
                            producer->isBeforeInBlock(op)
                      : cast<BlockArgument>(other).getOwner() == op->getBlock();
    if (!before)
      return {};
    return {add, other};
  }

  /// One projection of `input` [..., K] by `weight` [N, K]; returns the f32
  /// result in the input's shape with N last, or null when unsupported.
  /// `outputType` (GEMMs only): a 16-bit result for a following GEMM.
  Value emitProjection(OpBuilder &b, Location loc, Value input, Value weight,
                       Value bias, cuda::Activation activation, Value residual,
                       Type outputType = {}) {
    auto inputType = cast<RankedTensorType>(input.getType());
    auto weightType = cast<RankedTensorType>(weight.getType());
    int64_t m = rowsOf(input);
    int64_t k = inputType.getShape().back();
    int64_t n = weightType.getDimSize(0);
    Type elementType = cuda::weightStorageType(weight);
    GemmCall call;
    call.bias = bias;
    call.activation = activation;
    call.residual = residual;
    SmallVector<int64_t> shape(inputType.getShape());
    shape.back() = n;
    auto resultType = inputType.clone(shape, b.getF32Type());
    // A bias stored in 16 bits is read as stored (widened in the epilogue),
    // not widened by a kernel of its own on every call.
    Type biasType;
    if (bias && cuda::isStoredIn16Bits(bias)) {
      biasType = cuda::weightStorageType(bias);
      bias = cuda::narrowTo(b, loc, bias, biasType);
    }
    if (m <= cuda::kMaxGemvRows) {
      // Decode: f32 activations, weights as stored.
      FailureOr<cuda::GemvSpec> gemv = gemvSpec(m, n, k, weight, call);
      if (failed(gemv))
        return {};
      gemv->biasType = biasType;
      SmallVector<Value> operands = {
          toMatrix(b, loc, input),
          cuda::narrowTo(b, loc, weight, gemv->weightType)};
      if (bias)
        operands.push_back(bias);
      if (residual)
        operands.push_back(toMatrix(b, loc, residual));
      return fromMatrix(
          b, loc,
          cuda::callSelectedGemv(b, loc, getOperation(), *gemv, operands)
              .getResult(0),
          resultType);
    }
    FailureOr<cuda::GemmSpec> spec = chooseSpec(m, n, k, elementType, call);
    if (failed(spec))
      return {};
    spec->biasType = biasType;
    if (outputType && outputType == elementType) {
      spec->outputType = outputType;
      resultType = resultType.clone(outputType);
    }
    call.a = cuda::narrowTo(b, loc, toMatrix(b, loc, input), elementType);
    call.b = cuda::narrowTo(b, loc, weight, elementType);
    SmallVector<Value> operands = {call.a, call.b};
    if (bias)
      operands.push_back(bias);
    if (residual)
      operands.push_back(toMatrix(b, loc, residual));
    Value product =
        cuda::callSelectedGemm(b, loc, getOperation(), *spec, operands);
    return fromMatrix(b, loc, product, resultType);
  }

  /// Projections with enough rows for a GEMM, or few enough for a GEMV.
  bool selectable(Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    int64_t rows = rowsOf(input);
    return type.getElementType().isF32() &&
           (rows >= minRows || rows <= cuda::kMaxGemvRows);
  }

  bool bigEnough(Value input) {
    auto type = cast<RankedTensorType>(input.getType());
    return type.getElementType().isF32() && rowsOf(input) >= minRows;
  }

  void rewriteLinear(mb::LinearOp op) {
    if (!selectable(op.getInput()))
      return;
    auto [add, residual] = residualUse(op);
    OpBuilder b(op);
    Value result =
        emitProjection(b, op.getLoc(), op.getInput(), op.getWeight(),
                       op.getBias(), cuda::Activation::None, residual);
    if (!result && residual) {
      add = {};
      result = emitProjection(b, op.getLoc(), op.getInput(), op.getWeight(),
                              op.getBias(), cuda::Activation::None, Value());
    }
    if (!result)
      return;
    finish(op, result, add);
  }

  static cuda::Activation toCuda(mb::Activation activation) {
    switch (activation) {
    case mb::Activation::gelu:
      return cuda::Activation::GeluErf;
    case mb::Activation::gelu_tanh:
      return cuda::Activation::GeluTanh;
    case mb::Activation::relu:
      break;
    }
    return cuda::Activation::Relu;
  }

  void rewriteFFN(mb::FFNOp op) {
    if (!selectable(op.getInput()))
      return;
    cuda::Activation activation = toCuda(op.getActivation());
    // Check both GEMMs before rewriting either.
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    int64_t m = rowsOf(op.getInput());
    int64_t d = inputType.getShape().back();
    int64_t h =
        cast<RankedTensorType>(op.getUpWeight().getType()).getDimSize(0);
    auto [add, residual] = residualUse(op);
    GemmCall up, down;
    up.bias = op.getUpBias();
    up.activation = activation;
    down.bias = op.getDownBias();
    down.residual = residual;
    if (!canProject(m, h, d, op.getUpWeight(), up))
      return;
    if (!canProject(m, d, h, op.getDownWeight(), down)) {
      down.residual = {};
      add = {};
      if (!canProject(m, d, h, op.getDownWeight(), down))
        return;
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    // A GEMM's hidden activation is written in the down GEMM's 16-bit
    // operand type by the up GEMM's epilogue (no rounding kernel between).
    Type upType = cuda::weightStorageType(op.getUpWeight());
    Type hiddenType =
        upType == cuda::weightStorageType(op.getDownWeight()) ? upType : Type();
    Value hidden = emitProjection(b, loc, op.getInput(), op.getUpWeight(),
                                  up.bias, activation, Value(), hiddenType);
    Value result = emitProjection(b, loc, hidden, op.getDownWeight(), down.bias,
                                  cuda::Activation::None, down.residual);
    assert(hidden && result && "specs were checked");
    finish(op, result, add);
  }

  /// Causal self-attention: the q, k/v and output projections on GEMMs
  /// (k and v as one when they are the two halves of one weight), rotary
  /// on the f32 projections, then flash attention on 16-bit q, k, v.
  /// Global: token-major, straight from the projections' rows (16-bit GEMM
  /// results without rotary; one rounding elementwise op each with it), O
  /// 16-bit rows for the output projection. Local: per head, the patches'
  /// rows one after another (the kernel's block-diagonal causal mask keeps
  /// patches apart, also across its 64-row blocks), zero rows after them
  /// to a whole block.
  template <typename AttentionOp>
  void rewriteAttention(AttentionOp op, bool local) {
    namespace ml = mb_to_linalg;
    if (!bigEnough(op.getInput()))
      return;
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    int64_t sequences = inputType.getDimSize(0);
    int64_t positions = inputType.getDimSize(1);
    int64_t features = inputType.getDimSize(2);
    int64_t heads = op.getHeads();
    int64_t headDim = op.getHeadDim();
    int64_t rows = sequences * positions;
    int64_t inner = heads * headDim;
    Type elementType = cuda::weightStorageType(op.getWq());

    cuda::AttentionSpec spec;
    spec.inputType = elementType;
    spec.headDim = headDim;
    spec.causal = true;
    spec.scale = op.getSoftmaxScale();
    // Global: 32-key blocks (with 64, the 128-row kernel needs 255
    // registers at head dim 64 and spills at 128;
    // test/Passes/CUDA/Kernels/attention-ptxas.mlir); the local kernel's
    // patches need 64.
    spec.keyBlock = local ? 64 : 32;
    if (local) {
      // Patches packed, one after another; the rows are padded to whole
      // 64-row blocks (their own patches to the mask).
      if (positions > 64)
        return;
      spec.batchHeads = heads;
      spec.seqLen = llvm::alignTo(rows, 64);
      spec.patchLength = positions;
    } else {
      spec.batchHeads = sequences * heads;
      spec.seqLen = positions;
      spec.heads = heads;
      spec.qRowElements = inner;
      spec.outputType = elementType;
      // 128-row query blocks: two 16-row tiles a warp share each K/V
      // fragment read. Head dim 128 fits the registers only with Q read
      // from shared memory for every key block (ptxas: 252 registers, no
      // spills; with Q held, 255 and spills).
      spec.rowTiles = 2;
      spec.reloadQuery = headDim == 128;
      // sm_90a: wgmma products fed by TMA (128-row query blocks, 128-key
      // blocks) where the head dimension fills 128-byte rows.
      if (selection.mma == "wgmma" && (headDim == 64 || headDim == 128)) {
        spec.mma = cuda::MmaKind::Wgmma;
        spec.keyBlock = 128;
        spec.rowTiles = 1;
        spec.reloadQuery = false;
      }
    }
    // k and v from one [2 * inner, D] weight when they are its halves.
    Value kvSource = cuda::kvWeightSource(op.getWk(), op.getWv(), inner);
    if (!local) {
      spec.kRowElements = spec.vRowElements = kvSource ? 2 * inner : inner;
      spec.vColumn = kvSource ? inner : 0;
    }
    if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
          return cuda::verifyAttentionSpec(spec, emitError);
        }))
      return;
    auto [add, residual] = residualUse(op);
    auto projection = [&](int64_t n, bool withResidual) {
      return chooseSpec(rows, n, features, elementType,
                        GemmCall{{},
                                 {},
                                 {},
                                 withResidual ? residual : Value(),
                                 cuda::Activation::None});
    };
    if (failed(projection(inner, false)) ||
        (kvSource && failed(projection(2 * inner, false))))
      return;
    if (residual &&
        failed(chooseSpec(
            rows, features, inner, elementType,
            GemmCall{{}, {}, {}, residual, cuda::Activation::None}))) {
      residual = {};
      add = {};
    }
    if (failed(chooseSpec(rows, features, inner, elementType, GemmCall{})))
      return;

    OpBuilder b(op);
    Location loc = op.getLoc();
    Type f32 = b.getF32Type();
    ModuleOp module = getOperation();
    Value x16 =
        cuda::narrowTo(b, loc, toMatrix(b, loc, op.getInput()), elementType);
    // With `rotaryColumns`, the product's first columns leave the GEMM
    // rotated (the global q and k; null when its tiles cannot hold whole
    // heads or the GEMMs are not wgmma).
    FloatAttr theta = op.getRotaryThetaAttr();
    auto gemmSpecFor = [&](Value a, Value weight, Value residualRows,
                           Type outputType,
                           int64_t rotaryColumns) -> FailureOr<cuda::GemmSpec> {
      auto weightType = cast<RankedTensorType>(weight.getType());
      int64_t k = cast<RankedTensorType>(a.getType()).getDimSize(1);
      cuda::GemmSpec gemmSpec = *chooseSpec(
          rows, weightType.getDimSize(0), k, elementType,
          GemmCall{{}, {}, {}, residualRows, cuda::Activation::None});
      gemmSpec.outputType = outputType;
      if (rotaryColumns > 0) {
        gemmSpec.rotaryColumns = rotaryColumns;
        gemmSpec.rotaryHeadDim = headDim;
        gemmSpec.rotaryPositions = positions;
        gemmSpec.rotaryTheta = theta.getValueAsDouble();
        if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
              return cuda::verifyGemmSpec(gemmSpec, emitError);
            }))
          return failure();
      }
      return gemmSpec;
    };
    auto gemm = [&](Value a, Value weight, Value residualRows,
                    Type outputType = Type(), int64_t rotaryColumns = 0) {
      cuda::GemmSpec gemmSpec =
          *gemmSpecFor(a, weight, residualRows, outputType, rotaryColumns);
      SmallVector<Value> operands = {
          a, cuda::narrowTo(b, loc, weight, elementType)};
      if (residualRows)
        operands.push_back(residualRows);
      return cuda::callSelectedGemm(b, loc, module, gemmSpec, operands);
    };
    Value residualRows = residual ? toMatrix(b, loc, residual) : Value();
    if (!local) {
      // Rotary in the q and kv GEMMs' epilogue when both take it.
      bool rotaryEpilogue =
          theta && selection.mma == "wgmma" &&
          succeeded(gemmSpecFor(x16, op.getWq(), {}, elementType, inner)) &&
          succeeded(gemmSpecFor(x16, kvSource ? kvSource : op.getWk(), {},
                                elementType, inner)) &&
          (kvSource ||
           succeeded(gemmSpecFor(x16, op.getWv(), {}, elementType, 0)));
      Value merged = tokenMajorAttention(
          b, loc, op, spec, x16, kvSource, rotaryEpilogue,
          [&](Value weight, Type outputType, int64_t rotaryColumns) {
            return gemm(x16, weight, {}, outputType, rotaryColumns);
          });
      Value out = gemm(merged, op.getWo(), residualRows);
      finish(op, ml::reshape(b, loc, out, inputType.getShape()), add);
      return;
    }
    SmallVector<int64_t> split = {sequences, positions, heads, headDim};
    Value q = ml::reshape(b, loc, gemm(x16, op.getWq(), {}), split);
    Value k, v;
    if (kvSource) {
      Value kv = gemm(x16, kvSource, {});
      k = ml::extractSlice(b, loc, kv, {0, 0}, {rows, inner});
      v = ml::extractSlice(b, loc, kv, {0, inner}, {rows, inner});
    } else {
      k = gemm(x16, op.getWk(), {});
      v = gemm(x16, op.getWv(), {});
    }
    k = ml::reshape(b, loc, k, split);
    v = ml::reshape(b, loc, v, split);
    if (FloatAttr theta = op.getRotaryThetaAttr()) {
      Value frequencies = ml::createInverseFrequencies(
          b, loc, f32, theta.getValueAsDouble(), headDim);
      q = ml::applyRotary(b, loc, q, frequencies, b.getIndexAttr(0));
      k = ml::applyRotary(b, loc, k, frequencies, b.getIndexAttr(0));
    }

    // [N, S, H, dh] f32 -> the kernel's 16-bit layout [H, N S, dh], rows
    // padded with zeros to the kernel's sequence length.
    MLIRContext *ctx = b.getContext();
    AffineExpr d0, d1, d2, d3;
    bindDims(ctx, d0, d1, d2, d3);
    // From the packed iteration space (h, n, s, d) to [N, S, H, dh].
    AffineMap fromPacked = AffineMap::get(4, 0, {d1, d2, d0, d3}, ctx);
    SmallVector<int64_t> realShape = {heads, sequences, positions, headDim};
    auto pack = [&](Value x) {
      Value packed = ml::createElementwise(
          b, loc, RankedTensorType::get(realShape, elementType), {x},
          {fromPacked}, [&](OpBuilder &nb, Location nl, ValueRange args) {
            return arith::TruncFOp::create(nb, nl, elementType, args[0])
                .getResult();
          });
      packed = ml::reshape(b, loc, packed, {heads, rows, headDim});
      if (spec.seqLen == rows)
        return packed;
      Value zeros = ml::createFilled(b, loc, {heads, spec.seqLen, headDim},
                                     elementType, 0.0);
      return ml::insertSlice(b, loc, packed, zeros, {0, 0, 0});
    };
    Value attended = cuda::callSelectedAttention(b, loc, module, spec, pack(q),
                                                 pack(k), pack(v));
    // Back to [N * S, H * dh], rounded for the output projection.
    if (spec.seqLen != rows)
      attended =
          ml::extractSlice(b, loc, attended, {0, 0, 0}, {heads, rows, headDim});
    Value real = ml::reshape(b, loc, attended, realShape);
    // From (n, s, h, d) to the packed [H, N, S, dh].
    AffineMap toPacked = AffineMap::get(4, 0, {d2, d0, d1, d3}, ctx);
    Value merged = ml::createElementwise(
        b, loc, RankedTensorType::get(split, elementType), {real}, {toPacked},
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          return arith::TruncFOp::create(nb, nl, elementType, args[0])
              .getResult();
        });
    merged = ml::reshape(b, loc, merged, {rows, inner});
    Value out = gemm(merged, op.getWo(), residualRows);
    finish(op, ml::reshape(b, loc, out, inputType.getShape()), add);
  }

  /// Global attention on the projections' rows: q, k, v (k and v one
  /// buffer when `kvSource`) from `project(weight, outputType)`, 16-bit
  /// straight from the GEMM without rotary, f32 then rotary and rounding
  /// with it; returns O as [rows, heads x head-dim] 16-bit rows.
  template <typename AttentionOp>
  Value tokenMajorAttention(OpBuilder &b, Location loc, AttentionOp op,
                            cuda::AttentionSpec spec, Value x16, Value kvSource,
                            bool rotaryEpilogue,
                            function_ref<Value(Value, Type, int64_t)> project) {
    namespace ml = mb_to_linalg;
    Type elementType = spec.inputType;
    int64_t heads = spec.heads, headDim = spec.headDim;
    int64_t sequences = spec.batchHeads / heads, positions = spec.seqLen;
    int64_t rows = sequences * positions, inner = heads * headDim;
    // With rotary in the GEMMs' epilogue, q, k and v leave their GEMMs
    // rotated and 16-bit, as without rotary.
    FloatAttr theta = rotaryEpilogue ? FloatAttr() : op.getRotaryThetaAttr();
    int64_t rotaryColumns = rotaryEpilogue ? inner : 0;
    Type projected = theta ? Type() : elementType;
    Value frequencies;
    if (theta)
      frequencies = ml::createInverseFrequencies(
          b, loc, b.getF32Type(), theta.getValueAsDouble(), headDim);
    // [rows, inner] f32 -> rotary (q, k) -> 16-bit [rows, inner].
    auto round = [&](Value x, bool rotate) {
      if (!theta)
        return x;
      if (rotate)
        x = ml::reshape(
            b, loc,
            ml::applyRotary(
                b, loc,
                ml::reshape(b, loc, x, {sequences, positions, heads, headDim}),
                frequencies, b.getIndexAttr(0)),
            {rows, inner});
      return cuda::narrowTo(b, loc, x, elementType);
    };
    Value q =
        round(project(op.getWq(), projected, rotaryColumns), /*rotate=*/true);
    Value k, v;
    if (kvSource && !theta) {
      k = v = project(kvSource, projected, rotaryColumns);
    } else if (kvSource) {
      Value kv = project(kvSource, projected, 0);
      k = round(ml::extractSlice(b, loc, kv, {0, 0}, {rows, inner}), true);
      v = round(ml::extractSlice(b, loc, kv, {0, inner}, {rows, inner}), false);
    } else {
      k = round(project(op.getWk(), projected, rotaryColumns), true);
      v = round(project(op.getWv(), projected, 0), false);
    }
    auto width = [](Value x) {
      return cast<RankedTensorType>(x.getType()).getDimSize(1);
    };
    spec.qRowElements = width(q);
    spec.kRowElements = width(k);
    spec.vRowElements = width(v);
    spec.kColumn = 0;
    spec.vColumn = k == v ? inner : 0;
    auto sequenceRows = [&](Value x) {
      return ml::reshape(b, loc, x, {sequences, positions, width(x)});
    };
    Value attended = cuda::callSelectedAttention(
        b, loc, getOperation(), spec, sequenceRows(q), sequenceRows(k),
        sequenceRows(v));
    return ml::reshape(b, loc, attended, {rows, inner});
  }

  /// The global-to-local projection as one GEMM (GEMV for decode rows)
  /// with the bias in its epilogue: `shared`, the rows of every P-th slice
  /// of width C by the [D, C] weight; `dense`, every position by the
  /// [P * D, C] weight, then (generic) the last position's rows dropped and
  /// the zero start-position vector put in front.
  void rewriteGlobalToLocal(mb::GlobalToLocalOp op) {
    namespace ml = mb_to_linalg;
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t patch = op.getPatchSize();
    int64_t sequences = inputType.getDimSize(0);
    int64_t width = resultType.getDimSize(2);
    OpBuilder b(op);
    Location loc = op.getLoc();
    if (op.getMode() == mb::ProjectionMode::shared) {
      int64_t slice = inputType.getDimSize(2) / patch;
      Value rows = ml::reshape(
          b, loc, op.getInput(),
          {sequences * inputType.getDimSize(1) * patch, slice});
      // Not selected: the reshape goes too, so that the input (the global
      // stage's final norm) keeps its one use and becomes a norm kernel.
      auto dropRows = [&] {
        for (Value v = rows; v != op.getInput() && v.use_empty();) {
          Operation *reshape = v.getDefiningOp();
          v = reshape->getOperand(0);
          reshape->erase();
        }
      };
      if (!selectable(rows))
        return dropRows();
      Value projected = emitProjection(b, loc, rows, op.getWeight(), Value(),
                                       cuda::Activation::None, Value());
      if (!projected)
        return dropRows();
      finish(op, ml::reshape(b, loc, projected, resultType.getShape()), {});
      return;
    }
    // Every position is projected and the last one's rows dropped after:
    // a selected kernel's operand must be a whole buffer, not a slice view.
    if (!selectable(op.getInput()))
      return;
    Value projected =
        emitProjection(b, loc, op.getInput(), op.getWeight(), op.getBias(),
                       cuda::Activation::None, Value());
    if (!projected)
      return;
    finish(op, denseLocalRows(b, loc, projected, patch, width), {});
  }

  /// The dense global-to-local result from its projection over every
  /// position, [B, K + 1, P * D]: each batch entry's last position
  /// dropped, the rest as [B K, P, D] with one zero vector in front,
  /// [B K, P + 1, D].
  static Value denseLocalRows(OpBuilder &b, Location loc, Value projected,
                              int64_t patch, int64_t width) {
    namespace ml = mb_to_linalg;
    auto type = cast<RankedTensorType>(projected.getType());
    int64_t sequences = type.getDimSize(0);
    int64_t positions = type.getDimSize(1) - 1;
    Value used = ml::extractSlice(b, loc, projected, {0, 0, 0},
                                  {sequences, positions, patch * width});
    Value perSequence =
        ml::reshape(b, loc, used, {sequences * positions, patch, width});
    Value zeros = ml::createFilled(b, loc, {sequences * positions, 1, width},
                                   type.getElementType(), 0.0);
    return ml::concatenate(b, loc, {zeros, perSequence}, 1);
  }

  /// The head: the logits GEMM (+ bias), then log-softmax over the
  /// vocabulary as linalg reductions (generic kernels).
  void rewriteHead(mb::HeadOp op) {
    if (!cast<RankedTensorType>(op.getInput().getType())
             .getElementType()
             .isF32())
      return;
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value logits =
        selectable(op.getInput())
            ? emitProjection(b, loc, op.getInput(), op.getWeight(),
                             op.getBias(), cuda::Activation::None, Value())
            : Value();
    // Logits no kernel takes (an f32 weight's decode row, too few rows for a
    // GEMM) stay linalg; the log-softmax after them is a kernel all the same.
    if (!logits)
      logits = mb_to_linalg::createLinear(b, loc, op.getInput(), op.getWeight(),
                                          op.getBias());
    finish(op, emitLogSoftmax(b, loc, logits), {});
  }

  /// The log-softmax of the head's f32 logits [..., V] over V: one warp-a-row
  /// kernel when the vocabulary fits one (fuse-log-softmax), else generic
  /// linalg.
  Value emitLogSoftmax(OpBuilder &b, Location loc, Value logits) {
    auto type = cast<RankedTensorType>(logits.getType());
    cuda::LogSoftmaxSpec spec;
    spec.rows = rowsOf(logits);
    spec.columns = type.getShape().back();
    if (!fuseLogSoftmax || !type.hasStaticShape() ||
        !cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
          return cuda::verifyLogSoftmaxSpec(spec, emitError);
        }))
      return mb_to_linalg::createLogSoftmax(b, loc, logits);
    Value rows = cuda::callSelectedLogSoftmax(b, loc, getOperation(), spec,
                                              toMatrix(b, loc, logits));
    return fromMatrix(b, loc, rows, type);
  }

  /// The type the 1-D parameters `vectors` are all stored in when every
  /// one is a 16-bit argument widened (the kernels then read them as
  /// stored), else f32.
  static Type commonVectorType(ArrayRef<Value> vectors, MLIRContext *ctx) {
    Type common;
    for (Value vector : vectors) {
      if (!vector)
        continue;
      if (!cuda::isStoredIn16Bits(vector))
        return Float32Type::get(ctx);
      Type stored = cuda::weightStorageType(vector);
      if (common && stored != common)
        return Float32Type::get(ctx);
      common = stored;
    }
    return common ? common : Float32Type::get(ctx);
  }

  /// `norm(shift?(input))` feeding one op: the norm's facts and ops.
  struct NormOfShift {
    Operation *norm = nullptr;
    Operation *shift = nullptr; // mb.token_shift, or null
    Value input, weight, bias;
    cuda::NormKind kind = cuda::NormKind::Rms;
    double epsilon = 0;
  };

  static std::optional<NormOfShift> matchNormOfShift(Value value) {
    if (!value.hasOneUse())
      return std::nullopt;
    NormOfShift match;
    if (auto rms = value.getDefiningOp<mb::RMSNormOp>()) {
      match.kind =
          rms.getClamp() ? cuda::NormKind::RmsClamp : cuda::NormKind::Rms;
      match.input = rms.getInput();
      match.weight = rms.getWeight();
      match.epsilon = rms.getEpsilon().convertToDouble();
    } else if (auto layer = value.getDefiningOp<mb::LayerNormOp>()) {
      match.kind = cuda::NormKind::Layer;
      match.input = layer.getInput();
      match.weight = layer.getWeight();
      match.bias = layer.getBias();
      match.epsilon = layer.getEpsilon().convertToDouble();
    } else {
      return std::nullopt;
    }
    match.norm = value.getDefiningOp();
    if (auto shift = match.input.getDefiningOp<mb::TokenShiftOp>()) {
      if (!shift.getResult().hasOneUse())
        return std::nullopt;
      match.shift = shift;
      match.input = shift.getInput();
    }
    return match;
  }

  /// The arith.addf adding `value` (its only use) to `other`.
  static arith::AddFOp residualAdd(Value value, Value other) {
    if (!value.hasOneUse())
      return {};
    auto add = dyn_cast<arith::AddFOp>(*value.getUsers().begin());
    if (!add || (add.getLhs() == value ? add.getRhs() : add.getLhs()) != other)
      return {};
    return add;
  }

  /// MEGABYTE-pytorch's finest-stage input, x = mb.start_token(
  /// mb.embedding(table, bytes), start) + mb.global_to_local <dense>(...),
  /// each op read only on this path.
  struct LocalInput {
    arith::AddFOp add;
    mb::StartTokenOp start;
    mb::EmbeddingOp embedding;
    mb::GlobalToLocalOp projection;
    cuda::LocalInputSpec spec;
  };

  std::optional<LocalInput> matchLocalInput(Value x) {
    LocalInput match;
    match.add = x.getDefiningOp<arith::AddFOp>();
    // x's readers are the layer's first norm (or shift) and its residual
    // add, which the fused call replaces; any other needs x itself.
    if (!match.add || !x.hasNUses(2))
      return std::nullopt;
    for (Value operand : match.add->getOperands()) {
      if (auto start = operand.getDefiningOp<mb::StartTokenOp>())
        match.start = start;
      else if (auto projection = operand.getDefiningOp<mb::GlobalToLocalOp>())
        match.projection = projection;
    }
    if (!match.start || !match.projection || !match.start->hasOneUse() ||
        !match.projection->hasOneUse() ||
        match.projection.getMode() != mb::ProjectionMode::dense)
      return std::nullopt;
    match.embedding = match.start.getInput().getDefiningOp<mb::EmbeddingOp>();
    if (!match.embedding || !match.embedding->hasOneUse())
      return std::nullopt;
    auto ids = cast<RankedTensorType>(match.embedding.getIds().getType());
    auto table = cast<RankedTensorType>(match.embedding.getTable().getType());
    auto coarse = cast<RankedTensorType>(match.projection.getInput().getType());
    auto xType = cast<RankedTensorType>(x.getType());
    int64_t patches = coarse.getDimSize(1) - 1;
    if (ids.getRank() != 2 || !ids.getElementType().isInteger(32) ||
        coarse.getRank() != 3 || !coarse.hasStaticShape() || patches <= 0 ||
        coarse.getDimSize(0) * patches != xType.getDimSize(0) ||
        match.projection.getPatchSize() + 1 != xType.getDimSize(1) ||
        !selectable(match.projection.getInput()))
      return std::nullopt;
    match.spec.vocabulary = table.getDimSize(0);
    match.spec.patchesPerSequence = patches;
    // The table and the start token as stored (a 16-bit argument's type,
    // else f32).
    match.spec.tableType = cuda::gemvWeightType(match.embedding.getTable());
    match.spec.startType = cuda::gemvWeightType(match.start.getStart());
    return match;
  }

  /// x1 = local_attention(norm(shift?(x))) + x;
  /// x2 = ffn(norm(shift?(x1))) + x1  ->  one fused local-layer call.
  void fuseLocalLayer(mb::LocalAttentionOp attention) {
    std::optional<NormOfShift> first =
        matchNormOfShift(attention.getInput());
    if (!first)
      return;
    Value x = first->input;
    arith::AddFOp firstAdd = residualAdd(attention.getResult(), x);
    if (!firstAdd)
      return;
    Value x1 = firstAdd.getResult();
    // x1 feeds the second norm (through its shift) and the second residual.
    SmallVector<Operation *> users(x1.getUsers());
    if (users.size() != 2)
      return;
    mb::FFNOp ffn;
    arith::AddFOp secondAdd;
    for (Operation *user : users)
      if (auto add = dyn_cast<arith::AddFOp>(user))
        for (Value operand : add->getOperands())
          if (auto producer = operand.getDefiningOp<mb::FFNOp>()) {
            ffn = producer;
            secondAdd = add;
          }
    if (!ffn || residualAdd(ffn.getResult(), x1) != secondAdd)
      return;
    std::optional<NormOfShift> second = matchNormOfShift(ffn.getInput());
    if (!second || second->input != x1 || second->kind != first->kind ||
        second->epsilon != first->epsilon ||
        static_cast<bool>(second->shift) != static_cast<bool>(first->shift))
      return;

    auto inputType = cast<RankedTensorType>(x.getType());
    if (inputType.getRank() != 3 || !inputType.getElementType().isF32())
      return;
    Value weights[] = {attention.getWq(), attention.getWk(),
                       attention.getWv(), attention.getWo(),
                       ffn.getUpWeight(), ffn.getDownWeight()};
    // Weights stored in one 16-bit type, or all in f32: rounded to bf16
    // (once, at load: mb-cuda-hoist-weight-conversions).
    Type weightType = cuda::weightStorageType(weights[0]);
    bool allF32 = llvm::none_of(
        weights, [](Value weight) { return cuda::isStoredIn16Bits(weight); });
    for (Value weight : weights)
      if (!allF32 && (!cuda::isStoredIn16Bits(weight) ||
                      cuda::weightStorageType(weight) != weightType))
        return;
    cuda::LocalLayerSpec spec;
    spec.sequences = inputType.getDimSize(0);
    spec.positions = inputType.getDimSize(1);
    spec.dim = inputType.getDimSize(2);
    spec.heads = attention.getHeads();
    spec.headDim = attention.getHeadDim();
    spec.hidden =
        cast<RankedTensorType>(ffn.getUpWeight().getType()).getDimSize(0);
    spec.weightType = weightType;
    spec.vectorType = commonVectorType(
        {first->weight, first->bias, second->weight, second->bias,
         ffn.getUpBias(), ffn.getDownBias()},
        &getContext());
    spec.norm = first->kind;
    spec.epsilon = first->epsilon;
    spec.tokenShift = static_cast<bool>(first->shift);
    spec.activation = toCuda(ffn.getActivation());
    spec.scale = attention.getSoftmaxScale();
    if (FloatAttr theta = attention.getRotaryThetaAttr())
      spec.rotaryTheta = theta.getValueAsDouble();
    Value kvSource = cuda::kvWeightSource(attention.getWk(), attention.getWv(),
                                          spec.inner());
    spec.fusedKeyValue = static_cast<bool>(kvSource);
    if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
          return cuda::verifyLocalLayerSpec(spec, emitError);
        }))
      return;

    OpBuilder b(secondAdd);
    Location loc = attention.getLoc();
    auto narrow = [&](Value weight) {
      return cuda::narrowTo(b, loc, weight, weightType);
    };
    auto vector = [&](Value value) {
      return cuda::narrowTo(b, loc, value, spec.vectorType);
    };
    SmallVector<Value> operands;
    std::optional<LocalInput> input =
        fuseLocalInput ? matchLocalInput(x) : std::nullopt;
    if (input) {
      spec.input = input->spec;
      Value projected;
      if (cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
            return cuda::verifyLocalLayerSpec(spec, emitError);
          }))
        projected = emitProjection(
            b, loc, input->projection.getInput(), input->projection.getWeight(),
            input->projection.getBias(), cuda::Activation::None, Value());
      if (projected) {
        operands = {toMatrix(b, loc, projected), input->embedding.getIds(),
                    cuda::narrowTo(b, loc, input->embedding.getTable(),
                                   input->spec.tableType),
                    cuda::narrowTo(b, loc, input->start.getStart(),
                                   input->spec.startType)};
      } else {
        spec.input.reset();
        input.reset();
      }
    }
    if (!input)
      operands.push_back(toMatrix(b, loc, x));
    operands.push_back(vector(first->weight));
    if (first->bias)
      operands.push_back(vector(first->bias));
    operands.push_back(narrow(attention.getWq()));
    if (kvSource) {
      operands.push_back(narrow(kvSource));
    } else {
      operands.push_back(narrow(attention.getWk()));
      operands.push_back(narrow(attention.getWv()));
    }
    operands.append({narrow(attention.getWo()), vector(second->weight)});
    if (second->bias)
      operands.push_back(vector(second->bias));
    operands.append({narrow(ffn.getUpWeight()), vector(ffn.getUpBias()),
                     narrow(ffn.getDownWeight()), vector(ffn.getDownBias())});
    ModuleOp module = getOperation();
    Value rows =
        cuda::callSelectedLocalLayer(b, loc, module, spec, operands);
    if (referenceBodies)
      defineLocalLayer(
          module.lookupSymbol<func::FuncOp>(
              rows.getDefiningOp<func::CallOp>().getCallee()),
          spec);
    secondAdd.getResult().replaceAllUsesWith(
        fromMatrix(b, loc, rows, inputType));
    for (Operation *op : {static_cast<Operation *>(secondAdd),
                          static_cast<Operation *>(ffn), second->norm,
                          second->shift, static_cast<Operation *>(firstAdd),
                          static_cast<Operation *>(attention), first->norm,
                          first->shift})
      if (op)
        op->erase();
    if (input)
      for (Operation *op : {static_cast<Operation *>(input->add),
                            static_cast<Operation *>(input->start),
                            static_cast<Operation *>(input->embedding),
                            static_cast<Operation *>(input->projection)})
        op->erase();
  }

  /// truncf(collapse?(norm(shift?(x)))) -> one norm kernel writing the
  /// 16-bit rows.
  /// One norm kernel computing `norm` into `outputType` rows [rows, dim]
  /// (inserted at `b`): the call's result, or null when the kernel does
  /// not take the norm.
  /// With `start` (an mb.start_token's start row), the kernel writes the
  /// start token's result instead (NormSpec::startType).
  Value emitNorm(OpBuilder &b, const NormOfShift &norm,
                 RankedTensorType normType, Type outputType, Value start = {}) {
    cuda::NormSpec spec;
    spec.rows = rowsOf(norm.norm->getResult(0));
    spec.dim = normType.getShape().back();
    spec.positions =
        normType.getRank() == 3 ? normType.getDimSize(1) : spec.rows;
    spec.norm = norm.kind;
    spec.epsilon = norm.epsilon;
    spec.tokenShift = static_cast<bool>(norm.shift);
    spec.outputType = outputType;
    spec.weightType = commonVectorType({norm.weight, norm.bias}, &getContext());
    if (start)
      spec.startType = commonVectorType({start}, &getContext());
    if (!cuda::acceptsQuietly(&getContext(), [&](auto emitError) {
          return cuda::verifyNormSpec(spec, emitError);
        }))
      return {};
    Location loc = norm.norm->getLoc();
    SmallVector<Value> operands = {
        toMatrix(b, loc, norm.input),
        cuda::narrowTo(b, loc, norm.weight, spec.weightType)};
    if (norm.bias)
      operands.push_back(cuda::narrowTo(b, loc, norm.bias, spec.weightType));
    if (start)
      operands.push_back(cuda::narrowTo(b, loc, start, spec.startType));
    ModuleOp module = getOperation();
    Value rows = cuda::callSelectedNorm(b, loc, module, spec, operands);
    if (referenceBodies)
      defineNorm(module.lookupSymbol<func::FuncOp>(
                     rows.getDefiningOp<func::CallOp>().getCallee()),
                 spec, normType);
    return rows;
  }

  /// A norm as one norm kernel writing f32 rows; when the rows' one reader
  /// is mb.start_token (the patch embedding's last norm: MEGABYTE's global
  /// input), the kernel writes the start token's result.
  void fuseF32Norm(Value normResult) {
    std::optional<NormOfShift> norm = matchNormOfShift(normResult);
    auto normType = cast<RankedTensorType>(normResult.getType());
    if (!norm || !normType.getElementType().isF32())
      return;
    auto startToken =
        dyn_cast<mb::StartTokenOp>(*normResult.getUsers().begin());
    if (startToken &&
        (normType.getRank() != 3 || startToken.getInput() != normResult))
      startToken = {};
    OpBuilder b(startToken ? startToken.getOperation() : norm->norm);
    Value rows = startToken
                     ? emitNorm(b, *norm, normType, normType.getElementType(),
                                startToken.getStart())
                     : Value();
    if (rows) {
      startToken.replaceAllUsesWith(mb_to_linalg::reshape(
          b, startToken.getLoc(), rows, startToken.getType().getShape()));
      startToken.erase();
    } else {
      b.setInsertionPoint(norm->norm);
      rows = emitNorm(b, *norm, normType, normType.getElementType());
      if (!rows)
        return;
      normResult.replaceAllUsesWith(mb_to_linalg::reshape(
          b, norm->norm->getLoc(), rows, normType.getShape()));
    }
    for (Operation *op : {norm->norm, norm->shift})
      if (op)
        op->erase();
  }

  void fuseNorm(arith::TruncFOp rounding) {
    auto resultType = dyn_cast<RankedTensorType>(rounding.getType());
    if (!resultType || resultType.getRank() != 2)
      return;
    Value input = rounding.getIn();
    auto collapse = input.getDefiningOp<tensor::CollapseShapeOp>();
    if (collapse) {
      if (!input.hasOneUse())
        return;
      input = collapse.getSrc();
    }
    if (!input.getDefiningOp<mb::RMSNormOp>() &&
        !input.getDefiningOp<mb::LayerNormOp>())
      return;
    std::optional<NormOfShift> norm = matchNormOfShift(input);
    if (!norm)
      return;
    OpBuilder b(rounding);
    Value rows = emitNorm(b, *norm, cast<RankedTensorType>(input.getType()),
                          resultType.getElementType());
    if (!rows)
      return;
    rounding.getResult().replaceAllUsesWith(rows);
    for (Operation *op : {static_cast<Operation *>(rounding),
                          static_cast<Operation *>(collapse), norm->norm,
                          norm->shift})
      if (op)
        op->erase();
  }

  /// The body of a norm kernel's function: the mb ops it replaced.
  void defineNorm(func::FuncOp function, const cuda::NormSpec &spec,
                  RankedTensorType normType) {
    namespace ml = mb_to_linalg;
    OpBuilder b(function.getContext());
    Location loc = function.getLoc();
    Block *body = cuda::beginReferenceBody(b, function);
    Value x = ml::reshape(b, loc, body->getArgument(0), normType.getShape());
    auto widened = [&](unsigned i) {
      return cuda::widenToF32(b, loc, body->getArgument(i));
    };
    if (spec.tokenShift)
      x = mb::TokenShiftOp::create(b, loc, x);
    FloatAttr epsilon = b.getF64FloatAttr(spec.epsilon);
    Value y;
    if (spec.norm == cuda::NormKind::Layer)
      y = mb::LayerNormOp::create(b, loc, normType, x, widened(1), widened(2),
                                  epsilon);
    else
      y = mb::RMSNormOp::create(
          b, loc, normType, x, widened(1), epsilon,
          spec.norm == cuda::NormKind::RmsClamp ? b.getUnitAttr()
                                                : UnitAttr());
    if (spec.startType) {
      auto startedType = RankedTensorType::get(
          {normType.getDimSize(0), spec.positions + 1, spec.dim},
          normType.getElementType());
      y = mb::StartTokenOp::create(
          b, loc, startedType, y,
          widened(spec.norm == cuda::NormKind::Layer ? 3 : 2));
    }
    int64_t outputRows = cuda::normOutputRows(spec);
    Value rows = ml::reshape(b, loc, y, {outputRows, spec.dim});
    // Rounded to a 16-bit output as the kernel does; an f32 one as is.
    if (!spec.outputType.isF32())
      rows = arith::TruncFOp::create(
          b, loc,
          RankedTensorType::get({outputRows, spec.dim}, spec.outputType), rows);
    func::ReturnOp::create(b, loc, rows);
  }

  /// The body of a fused local layer's function, as mb ops built from its
  /// spec (what the kernel computes), so the CPU can run it.
  void defineLocalLayer(func::FuncOp function,
                        const cuda::LocalLayerSpec &spec) {
    namespace ml = mb_to_linalg;
    OpBuilder b(function.getContext());
    Location loc = function.getLoc();
    Block *body = cuda::beginReferenceBody(b, function);
    Type f32 = b.getF32Type();
    auto widen = [&](Value weight) { return cuda::widenToF32(b, loc, weight); };
    unsigned next = 0;
    auto argument = [&] { return body->getArgument(next++); };
    // 1-D parameters widened to f32 when passed in 16 bits.
    auto vectorArgument = [&] { return cuda::widenToF32(b, loc, argument()); };
    auto rowsType = RankedTensorType::get(
        {spec.sequences, spec.positions, spec.dim}, f32);
    Value x;
    if (const std::optional<cuda::LocalInputSpec> &input = spec.input) {
      // The ops the prologue replaced: start_token(embedding) + the dense
      // projection's rows, the last position of each batch entry dropped.
      int64_t patch = spec.positions - 1;
      int64_t batch = spec.sequences / input->patchesPerSequence;
      Value context =
          ml::reshape(b, loc, argument(),
                      {batch, input->patchesPerSequence + 1, patch * spec.dim});
      Value bytes = argument();
      Value table = widen(argument());
      Value start = vectorArgument();
      Value embedded = mb::EmbeddingOp::create(
          b, loc, RankedTensorType::get({spec.sequences, patch, spec.dim}, f32),
          table, bytes);
      Value started =
          mb::StartTokenOp::create(b, loc, rowsType, embedded, start);
      x = arith::AddFOp::create(
          b, loc, started, denseLocalRows(b, loc, context, patch, spec.dim));
    } else {
      x = ml::reshape(b, loc, argument(), rowsType.getShape());
    }
    bool layerNorm = spec.norm == cuda::NormKind::Layer;
    auto norm = [&](Value input, Value weight, Value bias) -> Value {
      if (spec.tokenShift)
        input = mb::TokenShiftOp::create(b, loc, input);
      FloatAttr epsilon = b.getF64FloatAttr(spec.epsilon);
      if (layerNorm)
        return mb::LayerNormOp::create(b, loc, rowsType, input, weight, bias,
                                       epsilon);
      return mb::RMSNormOp::create(
          b, loc, rowsType, input, weight, epsilon,
          spec.norm == cuda::NormKind::RmsClamp ? b.getUnitAttr()
                                                 : UnitAttr());
    };
    Value norm1Weight = vectorArgument();
    Value norm1Bias = layerNorm ? vectorArgument() : Value();
    Value wq = widen(argument());
    Value wk, wv;
    int64_t inner = spec.inner();
    if (spec.fusedKeyValue) {
      Value wkv = widen(argument());
      wk = ml::extractSlice(b, loc, wkv, {0, 0}, {inner, spec.dim});
      wv = ml::extractSlice(b, loc, wkv, {inner, 0}, {inner, spec.dim});
    } else {
      wk = widen(argument());
      wv = widen(argument());
    }
    Value wo = widen(argument());
    Value norm2Weight = vectorArgument();
    Value norm2Bias = layerNorm ? vectorArgument() : Value();
    Value upWeight = widen(argument());
    Value upBias = vectorArgument();
    Value downWeight = widen(argument());
    Value downBias = vectorArgument();

    Value attended = mb::LocalAttentionOp::create(
        b, loc, rowsType, norm(x, norm1Weight, norm1Bias), wq, wk, wv, wo,
        b.getI64IntegerAttr(spec.heads), b.getI64IntegerAttr(spec.headDim),
        spec.rotaryTheta != 0 ? b.getF64FloatAttr(spec.rotaryTheta)
                              : FloatAttr(),
        spec.scale != 0 ? b.getF64FloatAttr(spec.scale) : FloatAttr());
    Value x1 = arith::AddFOp::create(b, loc, attended, x);
    mb::Activation activation =
        spec.activation == cuda::Activation::GeluTanh ? mb::Activation::gelu_tanh
        : spec.activation == cuda::Activation::Relu   ? mb::Activation::relu
                                                      : mb::Activation::gelu;
    Value fed = mb::FFNOp::create(b, loc, rowsType,
                                  norm(x1, norm2Weight, norm2Bias), upWeight,
                                  upBias, downWeight, downBias, activation);
    Value x2 = arith::AddFOp::create(b, loc, fed, x1);
    func::ReturnOp::create(
        b, loc, ml::reshape(b, loc, x2, {spec.sequences * spec.positions,
                                         spec.dim}));
  }

  /// Replaces `op` by `result`; with a fused residual `add`, the addition
  /// is what `result` replaces.
  static void finish(Operation *op, Value result, arith::AddFOp add) {
    if (add) {
      add.getResult().replaceAllUsesWith(result);
      add.erase();
    } else {
      op->getResult(0).replaceAllUsesWith(result);
    }
    op->erase();
  }
};

} // namespace
} // namespace mbc
