//===- ModelImporter.cpp - model directory to mb IR -----------------------===//
//
// Emits a validated model (config + safetensors) as one `@score` function of
// mb ops. The two architectures share the per-stage transformer emission and
// differ in how bytes enter each stage and how stages connect
// (../shared/MEGABYTE.md, docs/config.md).
//
//===----------------------------------------------------------------------===//
#include "mbc/Import/ModelImporter.h"

#include "dialects/MB/MBDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace mbc {

void loadImportDialects(MLIRContext &context) {
  context.loadDialect<mb::MBDialect, func::FuncDialect, arith::ArithDialect,
                      tensor::TensorDialect>();
}

namespace {

llvm::Error importError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Builds the body of @score. One instance per import.
class ModelEmitter {
public:
  ModelEmitter(ImplicitLocOpBuilder &builder, const ModelConfig &config,
               const SafetensorsFile &weights, int64_t batch,
               int64_t sequenceLength)
      : b(builder), config(config), weights(weights), batch(batch),
        sequenceLength(sequenceLength), f32(builder.getF32Type()) {}

  /// Emits the model on `bytes` ([B, T] i32) and returns [B, T, V] log p.
  Value emit(Value bytes) {
    if (config.architecture == Architecture::MegabyteLucidrains)
      return emitLucidrains(bytes);
    return emitPaper(bytes);
  }

private:
  size_t numStages() const { return config.stages.size(); }
  int64_t patches() const { return sequenceLength / config.patchSize(); }

  /// Positions of stage `stage` in this import (stage 0: the patches of the
  /// sequence, which may be fewer than the config's maximum).
  int64_t positions(size_t stage) const {
    return stage == 0 ? patches() : config.stages[stage].seqLen;
  }

  /// N_s: independent sequences that stage `stage` runs over.
  int64_t sequences(size_t stage) const {
    int64_t count = batch;
    for (size_t s = 0; s < stage; ++s)
      count *= positions(s);
    return count;
  }

  RankedTensorType tensorType(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, f32);
  }

  /// The weight `name` as f32 (mb.param in its stored dtype, widened when
  /// needed). Each name is emitted once, so tied weights share one op.
  Value param(StringRef name) {
    auto cached = params.find(name);
    if (cached != params.end())
      return cached->second;
    const TensorInfo *tensor = weights.find(name);
    assert(tensor && "weights were validated against the config");
    Type stored = f32;
    if (tensor->dtype == DType::F16)
      stored = b.getF16Type();
    else if (tensor->dtype == DType::BF16)
      stored = b.getBF16Type();
    auto storedType = RankedTensorType::get(tensor->shape, stored);
    Value value = mb::ParamOp::create(b, storedType, b.getStringAttr(name),
                                      ElementsAttr());
    if (stored != f32)
      value = arith::ExtFOp::create(b, tensorType(tensor->shape), value);
    params[name] = value;
    return value;
  }

  /// Reshapes i32 ids [B, T] to [N_s, positions_s * U_s]: the byte sequence
  /// of every stage-s sequence.
  Value idsForStage(Value bytes, size_t stage) {
    int64_t count = sequences(stage);
    int64_t length = batch * sequenceLength / count;
    if (count == batch)
      return bytes;
    auto flatType =
        RankedTensorType::get({batch * sequenceLength}, b.getI32Type());
    Value flat = tensor::CollapseShapeOp::create(
        b, flatType, bytes, ArrayRef<ReassociationIndices>{{0, 1}});
    auto type = RankedTensorType::get({count, length}, b.getI32Type());
    return tensor::ExpandShapeOp::create(
        b, type, flat, ArrayRef<ReassociationIndices>{{0, 1}});
  }

  Value embed(Value ids, StringRef table) {
    Value weight = param(table);
    auto idsShape = cast<RankedTensorType>(ids.getType()).getShape();
    int64_t width = cast<RankedTensorType>(weight.getType()).getDimSize(1);
    return mb::EmbeddingOp::create(
        b, tensorType({idsShape[0], idsShape[1], width}), weight, ids);
  }

  Value linear(Value input, StringRef weight, StringRef bias) {
    Value w = param(weight);
    auto shape =
        llvm::to_vector(cast<RankedTensorType>(input.getType()).getShape());
    shape.back() = cast<RankedTensorType>(w.getType()).getDimSize(0);
    return mb::LinearOp::create(b, tensorType(shape), input, w,
                                bias.empty() ? Value() : param(bias));
  }

  Value norm(Value input, const std::string &prefix, bool clamp) {
    FloatAttr eps = b.getF64FloatAttr(config.normEps);
    if (config.norm == NormKind::LayerNorm)
      return mb::LayerNormOp::create(b, input.getType(), input,
                                     param(prefix + ".weight"),
                                     param(prefix + ".bias"), eps);
    return mb::RMSNormOp::create(b, input.getType(), input,
                                 param(prefix + (clamp ? ".g" : ".weight")),
                                 eps, clamp ? b.getUnitAttr() : UnitAttr());
  }

  Value add(Value lhs, Value rhs) { return arith::AddFOp::create(b, lhs, rhs); }

  /// Names of one layer's tensors, per architecture.
  struct LayerNames {
    std::string attnNorm, wq, wk, wv, wkv, wo;
    std::string ffnNorm, upWeight, upBias, downWeight, downBias;
  };

  LayerNames layerNames(size_t stage, int64_t layer) {
    LayerNames names;
    if (config.architecture == Architecture::MegabyteLucidrains) {
      std::string p =
          llvm::formatv("transformers.{0}.layers.{1}.", stage, layer);
      names.attnNorm = p + "0.norm";
      names.wq = p + "0.to_q.weight";
      names.wkv = p + "0.to_kv.weight";
      names.wo = p + "0.to_out.weight";
      names.ffnNorm = p + "1.0";
      names.upWeight = p + "1.1.weight";
      names.upBias = p + "1.1.bias";
      names.downWeight = p + "1.4.weight";
      names.downBias = p + "1.4.bias";
      return names;
    }
    std::string p = llvm::formatv("stages.{0}.layers.{1}.", stage, layer);
    names.attnNorm = p + "attn_norm";
    names.wq = p + "attn.q.weight";
    names.wk = p + "attn.k.weight";
    names.wv = p + "attn.v.weight";
    names.wo = p + "attn.out.weight";
    names.ffnNorm = p + "ffn_norm";
    names.upWeight = p + "ffn.up.weight";
    names.upBias = p + "ffn.up.bias";
    names.downWeight = p + "ffn.down.weight";
    names.downBias = p + "ffn.down.bias";
    return names;
  }

  /// Rows [begin, begin + count) of a 2-D weight (lucidrains' fused to_kv).
  Value rows(Value weight, int64_t begin, int64_t count) {
    int64_t columns = cast<RankedTensorType>(weight.getType()).getDimSize(1);
    return tensor::ExtractSliceOp::create(
        b, tensorType({count, columns}), weight, ValueRange{}, ValueRange{},
        ValueRange{}, b.getDenseI64ArrayAttr({begin, 0}),
        b.getDenseI64ArrayAttr({count, columns}),
        b.getDenseI64ArrayAttr({1, 1}));
  }

  /// The pre-norm transformer of one stage on x [N, S, D].
  Value transformer(Value x, size_t stage) {
    const StageConfig &cfg = config.stages[stage];
    bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
    int64_t inner = cfg.heads * cfg.dimHead;
    FloatAttr theta =
        config.rotary ? b.getF64FloatAttr(config.rotaryTheta) : FloatAttr();
    for (int64_t layer = 0; layer < cfg.depth; ++layer) {
      b.setLoc(NameLoc::get(b.getStringAttr(
          llvm::formatv("stage {0} layer {1}", stage, layer).str())));
      LayerNames names = layerNames(stage, layer);

      Value h = config.tokenShift ? mb::TokenShiftOp::create(b, x) : x;
      h = norm(h, names.attnNorm, lucidrains);
      Value wq = param(names.wq), wk, wv;
      if (lucidrains) {
        Value wkv = param(names.wkv);
        wk = rows(wkv, 0, inner);
        wv = rows(wkv, inner, inner);
      } else {
        wk = param(names.wk);
        wv = param(names.wv);
      }
      Value wo = param(names.wo);
      IntegerAttr heads = b.getI64IntegerAttr(cfg.heads);
      IntegerAttr headDim = b.getI64IntegerAttr(cfg.dimHead);
      if (stage == 0)
        h = mb::GlobalAttentionOp::create(b, x.getType(), h, wq, wk, wv, wo,
                                          heads, headDim, theta, FloatAttr());
      else
        h = mb::LocalAttentionOp::create(b, x.getType(), h, wq, wk, wv, wo,
                                         heads, headDim, theta, FloatAttr());
      x = add(h, x);

      h = config.tokenShift ? mb::TokenShiftOp::create(b, x) : x;
      h = norm(h, names.ffnNorm, lucidrains);
      mb::Activation activation = mb::Activation::relu;
      if (config.activation == Activation::Gelu)
        activation = mb::Activation::gelu;
      else if (config.activation == Activation::GeluTanh)
        activation = mb::Activation::gelu_tanh;
      h = mb::FFNOp::create(
          b, x.getType(), h, param(names.upWeight), param(names.upBias),
          param(names.downWeight), param(names.downBias),
          mb::ActivationAttr::get(b.getContext(), activation));
      x = add(h, x);
    }
    return finalNorm(x, stage);
  }

  /// Stage `stage`'s final norm of `x`, when the model has one.
  Value finalNorm(Value x, size_t stage) {
    if (!config.finalNorm)
      return x;
    bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
    std::string prefix =
        lucidrains ? llvm::formatv("transformers.{0}.norm", stage).str()
                   : llvm::formatv("stages.{0}.final_norm", stage).str();
    return norm(x, prefix, lucidrains);
  }

  RankedTensorType withPositions(Value value, int64_t positions) {
    auto shape =
        llvm::to_vector(cast<RankedTensorType>(value.getType()).getShape());
    shape[1] = positions;
    return tensorType(shape);
  }

  /// MEGABYTE-pytorch: every stage embeds bytes with its own table (upper
  /// stages through the dual patch norm), prepends a start token and adds the
  /// coarser stage's dense projection.
  Value emitLucidrains(Value bytes) {
    size_t last = numStages() - 1;
    Value previous;
    for (size_t stage = 0; stage <= last; ++stage) {
      b.setLoc(NameLoc::get(
          b.getStringAttr(llvm::formatv("stage {0}", stage).str())));
      const StageConfig &cfg = config.stages[stage];
      int64_t count = sequences(stage);
      Value ids = idsForStage(bytes, stage);
      Value tokens;
      if (stage == last) {
        tokens = embed(ids, "token_embs.0.weight");
      } else {
        std::string table = llvm::formatv("token_embs.{0}", last - stage).str();
        int64_t unit = config.bytesPerPosition(stage);
        Value embedded = embed(ids, table + ".0.weight");
        int64_t width = config.stages[last].dim * unit;
        tokens = mb::PatchifyOp::create(
            b, tensorType({count, positions(stage), width}), embedded, Value(),
            unit);
        tokens = norm2(tokens, table + ".2");
        tokens = linear(tokens, table + ".3.weight", table + ".3.bias");
        tokens = norm2(tokens, table + ".4");
      }
      if (config.posEmb)
        tokens = mb::PositionEmbeddingOp::create(
            b, tokens.getType(), tokens,
            param(llvm::formatv("pos_embs.{0}.weight", stage).str()), Value());
      Value x = mb::StartTokenOp::create(
          b, withPositions(tokens, positions(stage) + 1), tokens,
          param(llvm::formatv("start_tokens.{0}", stage).str()));
      if (previous) {
        std::string proj =
            llvm::formatv("to_next_transformer_projections.{0}.1", stage - 1);
        Value projected = mb::GlobalToLocalOp::create(
            b, x.getType(), previous, param(proj + ".weight"),
            param(proj + ".bias"),
            mb::ProjectionModeAttr::get(b.getContext(),
                                        mb::ProjectionMode::dense),
            b.getI64IntegerAttr(cfg.seqLen));
        x = add(x, projected);
      }
      previous = transformer(x, stage);
    }
    b.setLoc(NameLoc::get(b.getStringAttr("head")));
    Value logp = head(previous, param("to_logits.weight"),
                      param("to_logits.bias"), /*tied=*/false);
    return mb::MergePatchesOp::create(
        b, tensorType({batch, sequenceLength, config.vocabSize}), logp,
        mb::AlignmentAttr::get(b.getContext(), mb::Alignment::start_token));
  }

  /// LayerNorm with weight and bias named PREFIX.weight / PREFIX.bias,
  /// whatever the transformer's own norm is (the dual patch norm).
  Value norm2(Value input, const std::string &prefix) {
    return mb::LayerNormOp::create(
        b, input.getType(), input, param(prefix + ".weight"),
        param(prefix + ".bias"), b.getF64FloatAttr(1e-5));
  }

  Value head(Value x, Value weight, Value bias, bool tied) {
    auto shape =
        llvm::to_vector(cast<RankedTensorType>(x.getType()).getShape());
    shape.back() = config.vocabSize;
    return mb::HeadOp::create(b, tensorType(shape), x, weight, bias, tied);
  }

  /// The paper: each stage sees the bytes of the previous position through
  /// a one-position shift with a learned pad, plus the coarser stage's output
  /// through one shared projection.
  Value emitPaper(Value bytes) {
    size_t last = numStages() - 1;
    Value previous;
    for (size_t stage = 0; stage <= last; ++stage) {
      b.setLoc(NameLoc::get(
          b.getStringAttr(llvm::formatv("stage {0}", stage).str())));
      const StageConfig &cfg = config.stages[stage];
      std::string prefix = llvm::formatv("stages.{0}.", stage).str();
      int64_t unit = config.bytesPerPosition(stage);
      Value embedded =
          embed(idsForStage(bytes, stage), prefix + "byte_embedding.weight");
      if (stage == 0)
        embedded = mb::PositionEmbeddingOp::create(
            b, embedded.getType(), embedded,
            param(prefix + "position_embedding.weight"), Value());
      Value x = mb::PatchifyOp::create(
          b, tensorType({sequences(stage), positions(stage), cfg.dim}),
          embedded, param(prefix + "pad"), unit);
      if (previous) {
        Value projected = mb::GlobalToLocalOp::create(
            b, x.getType(), previous, param(prefix + "from_parent.weight"),
            Value(),
            mb::ProjectionModeAttr::get(b.getContext(),
                                        mb::ProjectionMode::shared),
            b.getI64IntegerAttr(cfg.seqLen));
        x = add(x, projected);
      }
      if (stage > 0 && config.posEmb)
        x = mb::PositionEmbeddingOp::create(
            b, x.getType(), x, param(prefix + "position_embedding.weight"),
            Value());
      previous = transformer(x, stage);
    }
    b.setLoc(NameLoc::get(b.getStringAttr("head")));
    std::string lastPrefix = llvm::formatv("stages.{0}.", last).str();
    Value weight = config.tieEmbeddings
                       ? param(lastPrefix + "byte_embedding.weight")
                       : param("head.weight");
    Value bias = config.headBias ? param("head.bias") : Value();
    Value logp = head(previous, weight, bias, config.tieEmbeddings);
    return mb::MergePatchesOp::create(
        b, tensorType({batch, sequenceLength, config.vocabSize}), logp,
        mb::AlignmentAttr::get(b.getContext(), mb::Alignment::shifted));
  }

  //===--------------------------------------------------------------------===//
  // Generation entry points (batch 1, one position at a time)
  //===--------------------------------------------------------------------===//

  /// One argument or result of an entry point.
  struct Binding {
    std::string name;
    Type type;
    bool inout = false;
  };

  /// Creates `func.func @name` with named arguments and results and moves
  /// the builder into its body.
  func::FuncOp beginFunction(ModuleOp module, StringRef name,
                             ArrayRef<Binding> arguments,
                             ArrayRef<Binding> results) {
    b.setInsertionPointToEnd(module.getBody());
    b.setLoc(NameLoc::get(b.getStringAttr(name)));
    SmallVector<Type> argumentTypes, resultTypes;
    for (const Binding &binding : arguments)
      argumentTypes.push_back(binding.type);
    for (const Binding &binding : results)
      resultTypes.push_back(binding.type);
    auto function = func::FuncOp::create(
        b, name, b.getFunctionType(argumentTypes, resultTypes));
    for (auto [index, binding] : llvm::enumerate(arguments)) {
      function.setArgAttr(index, "mb.name", b.getStringAttr(binding.name));
      if (binding.inout)
        function.setArgAttr(index, "mb.inout", b.getUnitAttr());
    }
    // A result marked inout is the new value of the argument of that name.
    for (auto [index, binding] : llvm::enumerate(results))
      function.setResultAttr(index, binding.inout ? "mb.updates" : "mb.name",
                             b.getStringAttr(binding.name));
    Block *body = function.addEntryBlock();
    b.setInsertionPointToEnd(body);
    params.clear();
    return function;
  }

  RankedTensorType i32Type(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getI32Type());
  }
  RankedTensorType i64Type(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b.getI64Type());
  }

  /// The scalar position held by a [1] i64 argument, as an index.
  Value positionOf(Value argument) {
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value position = tensor::ExtractOp::create(b, argument, ValueRange{zero});
    return arith::IndexCastOp::create(b, b.getIndexType(), position);
  }

  Value reshape(Value value, ArrayRef<int64_t> shape) {
    auto type = cast<RankedTensorType>(value.getType());
    auto target = RankedTensorType::get(shape, type.getElementType());
    // Every reshape here adds or drops unit dimensions around one block of
    // data, so going through the flat form is exact.
    auto flatType =
        RankedTensorType::get({type.getNumElements()}, type.getElementType());
    SmallVector<ReassociationIndices> all(1);
    for (int64_t i = 0; i < type.getRank(); ++i)
      all[0].push_back(i);
    Value flat = type.getRank() == 1
                     ? value
                     : tensor::CollapseShapeOp::create(b, flatType, value, all)
                           .getResult();
    if (shape.size() == 1)
      return flat;
    SmallVector<ReassociationIndices> expand(1);
    for (size_t i = 0; i < shape.size(); ++i)
      expand[0].push_back(i);
    return tensor::ExpandShapeOp::create(b, target, flat, expand);
  }

  /// max(position - 1, 0) * scale: the table row of unit position-1.
  Value previousUnitRow(Value position, int64_t scale) {
    Value one = arith::ConstantIndexOp::create(b, 1);
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value previous = arith::SubIOp::create(b, position, one);
    previous = arith::MaxSIOp::create(b, previous, zero);
    if (scale == 1)
      return previous;
    return arith::MulIOp::create(b, previous,
                                 arith::ConstantIndexOp::create(b, scale));
  }

  /// `first` at position 0, else `otherwise` (start token / pad selection).
  Value selectAtStart(Value position, Value first, Value otherwise) {
    Value zero = arith::ConstantIndexOp::create(b, 0);
    Value isStart =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, position, zero);
    return arith::SelectOp::create(b, isStart, first, otherwise);
  }

  /// Positions of a stage's sequence in generation (a start token adds one).
  int64_t decodePositions(size_t stage) const {
    bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
    return config.stages[stage].seqLen + (lucidrains ? 1 : 0);
  }

  void emitEmbed(ModuleOp module, size_t stage) {
    bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
    size_t last = numStages() - 1;
    int64_t dim = config.stages[stage].dim;
    int64_t unit = config.bytesPerPosition(stage);
    beginFunction(module, llvm::formatv("embed_{0}", stage).str(),
                  {{"unit", i32Type({unit})}, {"position", i64Type({1})}},
                  {{"token", tensorType({dim})}});
    Value position = positionOf(b.getBlock()->getArgument(1));
    Value ids = reshape(b.getBlock()->getArgument(0), {1, unit});
    Value token;
    if (lucidrains) {
      if (stage == last) {
        token = embed(ids, "token_embs.0.weight");
      } else {
        std::string table = llvm::formatv("token_embs.{0}", last - stage).str();
        Value embedded = embed(ids, table + ".0.weight");
        int64_t width = config.stages[last].dim * unit;
        token = mb::PatchifyOp::create(b, tensorType({1, 1, width}), embedded,
                                       Value(), unit);
        token = norm2(token, table + ".2");
        token = linear(token, table + ".3.weight", table + ".3.bias");
        token = norm2(token, table + ".4");
      }
      if (config.posEmb)
        token = mb::PositionEmbeddingOp::create(
            b, token.getType(), token,
            param(llvm::formatv("pos_embs.{0}.weight", stage).str()),
            previousUnitRow(position, 1));
      Value start = reshape(
          param(llvm::formatv("start_tokens.{0}", stage).str()), {1, 1, dim});
      token = selectAtStart(position, start, token);
    } else {
      std::string prefix = llvm::formatv("stages.{0}.", stage).str();
      Value embedded = embed(ids, prefix + "byte_embedding.weight");
      if (stage == 0)
        embedded = mb::PositionEmbeddingOp::create(
            b, embedded.getType(), embedded,
            param(prefix + "position_embedding.weight"),
            previousUnitRow(position, unit));
      token = mb::PatchifyOp::create(b, tensorType({1, 1, dim}), embedded,
                                     Value(), unit);
      Value pad = reshape(param(prefix + "pad"), {1, 1, dim});
      token = selectAtStart(position, pad, token);
      if (stage > 0 && config.posEmb)
        token = mb::PositionEmbeddingOp::create(
            b, token.getType(), token,
            param(prefix + "position_embedding.weight"), position);
    }
    func::ReturnOp::create(b, reshape(token, {dim}));
  }

  void emitStep(ModuleOp module, size_t stage) {
    const StageConfig &cfg = config.stages[stage];
    bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
    int64_t dim = cfg.dim;
    int64_t inner = cfg.heads * cfg.dimHead;
    int64_t layers = std::max<int64_t>(cfg.depth, 1);
    int64_t positions = decodePositions(stage);
    auto cacheType = tensorType({layers, positions, inner});
    auto shiftType = tensorType({layers, 2, dim});
    func::FuncOp function =
        beginFunction(module, llvm::formatv("step_{0}", stage).str(),
                      {{"token", tensorType({dim})},
                       {"context", tensorType({dim})},
                       {"position", i64Type({1})},
                       {"k_cache", cacheType, true},
                       {"v_cache", cacheType, true},
                       {"shift", shiftType, true}},
                      {{"hidden", tensorType({dim})},
                       {"k_cache", cacheType, true},
                       {"v_cache", cacheType, true},
                       {"shift", shiftType, true}});
    Block *body = b.getBlock();
    Value position = positionOf(body->getArgument(2));
    Value kCache = body->getArgument(3), vCache = body->getArgument(4);
    Value shift = body->getArgument(5);
    Value x =
        reshape(add(body->getArgument(0), body->getArgument(1)), {1, 1, dim});
    FloatAttr theta =
        config.rotary ? b.getF64FloatAttr(config.rotaryTheta) : FloatAttr();
    auto sliceType = tensorType({1, positions, inner});
    auto rowType = tensorType({1, 1, dim});
    auto cacheSlice = [&](Value cache, int64_t layer) -> Value {
      return tensor::ExtractSliceOp::create(
          b, sliceType, cache, ValueRange{}, ValueRange{}, ValueRange{},
          b.getDenseI64ArrayAttr({layer, 0, 0}),
          b.getDenseI64ArrayAttr({1, positions, inner}),
          b.getDenseI64ArrayAttr({1, 1, 1}));
    };
    auto putCache = [&](Value slice, Value cache, int64_t layer) -> Value {
      return tensor::InsertSliceOp::create(
          b, slice, cache, ValueRange{}, ValueRange{}, ValueRange{},
          b.getDenseI64ArrayAttr({layer, 0, 0}),
          b.getDenseI64ArrayAttr({1, positions, inner}),
          b.getDenseI64ArrayAttr({1, 1, 1}));
    };
    // Token shift: the previous position's sublayer input, then this one's.
    auto shifted = [&](Value input, int64_t layer, int64_t sublayer) -> Value {
      if (!config.tokenShift)
        return input;
      Value previous = tensor::ExtractSliceOp::create(
          b, rowType, shift, ValueRange{}, ValueRange{}, ValueRange{},
          b.getDenseI64ArrayAttr({layer, sublayer, 0}),
          b.getDenseI64ArrayAttr({1, 1, dim}),
          b.getDenseI64ArrayAttr({1, 1, 1}));
      // The shift reads the previous row before this row replaces it, so
      // bufferization can read it in place instead of copying it aside.
      Value result = mb::TokenShiftStepOp::create(b, input, previous);
      shift = tensor::InsertSliceOp::create(
          b, input, shift, ValueRange{}, ValueRange{}, ValueRange{},
          b.getDenseI64ArrayAttr({layer, sublayer, 0}),
          b.getDenseI64ArrayAttr({1, 1, dim}),
          b.getDenseI64ArrayAttr({1, 1, 1}));
      return result;
    };
    for (int64_t layer = 0; layer < cfg.depth; ++layer) {
      b.setLoc(NameLoc::get(b.getStringAttr(
          llvm::formatv("stage {0} layer {1} step", stage, layer).str())));
      LayerNames names = layerNames(stage, layer);
      Value h = norm(shifted(x, layer, 0), names.attnNorm, lucidrains);
      Value wq = param(names.wq), wk, wv;
      if (lucidrains) {
        Value wkv = param(names.wkv);
        wk = rows(wkv, 0, inner);
        wv = rows(wkv, inner, inner);
      } else {
        wk = param(names.wk);
        wv = param(names.wv);
      }
      auto attention = mb::CachedAttentionOp::create(
          b, TypeRange{x.getType(), sliceType, sliceType}, h, wq, wk, wv,
          param(names.wo), cacheSlice(kCache, layer), cacheSlice(vCache, layer),
          position, b.getI64IntegerAttr(cfg.heads),
          b.getI64IntegerAttr(cfg.dimHead), theta, FloatAttr());
      kCache = putCache(attention.getNewKCache(), kCache, layer);
      vCache = putCache(attention.getNewVCache(), vCache, layer);
      x = add(attention.getResult(), x);

      h = norm(shifted(x, layer, 1), names.ffnNorm, lucidrains);
      mb::Activation activation = mb::Activation::relu;
      if (config.activation == Activation::Gelu)
        activation = mb::Activation::gelu;
      else if (config.activation == Activation::GeluTanh)
        activation = mb::Activation::gelu_tanh;
      h = mb::FFNOp::create(
          b, x.getType(), h, param(names.upWeight), param(names.upBias),
          param(names.downWeight), param(names.downBias),
          mb::ActivationAttr::get(b.getContext(), activation));
      x = add(h, x);
    }
    // The row leaves without the stage's final norm: project_s and head
    // apply it where they read the row, so that it folds into their GEMV's
    // prologue (mb-cuda-fuse-gemv-norms) instead of taking a launch here.
    // The updated caches and shift state are results that the compiled code
    // writes back into the arguments they update (mb-write-back-updates).
    (void)function;
    func::ReturnOp::create(
        b, ValueRange{reshape(x, {dim}), kCache, vCache, shift});
  }

  void emitProject(ModuleOp module, size_t stage) {
    bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
    int64_t dim = config.stages[stage].dim;
    int64_t nextPositions = config.stages[stage + 1].seqLen;
    int64_t nextDim = config.stages[stage + 1].dim;
    beginFunction(module, llvm::formatv("project_{0}", stage).str(),
                  {{"hidden", tensorType({dim})}},
                  {{"context", tensorType({nextPositions, nextDim})}});
    Value hidden =
        finalNorm(reshape(b.getBlock()->getArgument(0), {1, 1, dim}), stage);
    Value context;
    if (lucidrains) {
      std::string proj =
          llvm::formatv("to_next_transformer_projections.{0}.1", stage);
      context = linear(hidden, proj + ".weight", proj + ".bias");
    } else {
      context = mb::GlobalToLocalOp::create(
          b, tensorType({1, nextPositions, nextDim}), hidden,
          param(
              llvm::formatv("stages.{0}.from_parent.weight", stage + 1).str()),
          Value(),
          mb::ProjectionModeAttr::get(b.getContext(),
                                      mb::ProjectionMode::shared),
          b.getI64IntegerAttr(nextPositions));
    }
    func::ReturnOp::create(b, reshape(context, {nextPositions, nextDim}));
  }

  void emitHead(ModuleOp module) {
    size_t last = numStages() - 1;
    int64_t dim = config.stages[last].dim;
    beginFunction(module, "head", {{"hidden", tensorType({dim})}},
                  {{"logp", tensorType({config.vocabSize})}});
    Value hidden =
        finalNorm(reshape(b.getBlock()->getArgument(0), {1, 1, dim}), last);
    Value logp;
    if (config.architecture == Architecture::MegabyteLucidrains) {
      logp = head(hidden, param("to_logits.weight"), param("to_logits.bias"),
                  /*tied=*/false);
    } else {
      std::string lastPrefix = llvm::formatv("stages.{0}.", last).str();
      Value weight = config.tieEmbeddings
                         ? param(lastPrefix + "byte_embedding.weight")
                         : param("head.weight");
      Value bias = config.headBias ? param("head.bias") : Value();
      logp = head(hidden, weight, bias, config.tieEmbeddings);
    }
    func::ReturnOp::create(b, reshape(logp, {config.vocabSize}));
  }

public:
  /// Emits embed_s, step_s, project_s (s < last) and head into `module`.
  void emitGeneration(ModuleOp module) {
    for (size_t stage = 0; stage < numStages(); ++stage) {
      emitEmbed(module, stage);
      emitStep(module, stage);
      if (stage + 1 < numStages())
        emitProject(module, stage);
    }
    emitHead(module);
  }

private:
  ImplicitLocOpBuilder &b;
  const ModelConfig &config;
  const SafetensorsFile &weights;
  int64_t batch;
  int64_t sequenceLength;
  Type f32;
  llvm::StringMap<Value> params;
};

} // namespace

llvm::Expected<OwningOpRef<ModuleOp>>
importModel(MLIRContext &context, const ModelConfig &config,
            const SafetensorsFile &weights, const ImportOptions &options) {
  loadImportDialects(context);
  int64_t maxLength = config.maxSequenceLength();
  int64_t patch = config.patchSize();
  int64_t length = options.sequenceLength ? options.sequenceLength : maxLength;
  if (options.batch < 1 || options.batch > (int64_t(1) << 20))
    return importError(
        llvm::formatv("--batch: {0} is not in [1, 2^20]", options.batch));
  if (length < 1 || length > maxLength || length % patch != 0)
    return importError(llvm::formatv(
        "--seq-len: {0} must be a positive multiple of the patch size {1} "
        "and at most the model's maximum {2}",
        length, patch, maxLength));

  Location fileLoc = FileLineColLoc::get(&context, weights.path(), 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  ImplicitLocOpBuilder b(fileLoc, &context);
  (*module)->setAttr("mb.architecture", b.getStringAttr(stringifyArchitecture(
                                            config.architecture)));
  (*module)->setAttr("mb.vocab_size", b.getI64IntegerAttr(config.vocabSize));
  (*module)->setAttr("mb.patch_size", b.getI64IntegerAttr(patch));
  (*module)->setAttr("mb.weights", b.getStringAttr(weights.path()));

  b.setInsertionPointToEnd(module->getBody());
  auto inputType =
      RankedTensorType::get({options.batch, length}, b.getI32Type());
  auto outputType = RankedTensorType::get(
      {options.batch, length, config.vocabSize}, b.getF32Type());
  auto function = func::FuncOp::create(
      b, "score", b.getFunctionType({inputType}, {outputType}));
  function.setArgAttr(0, "mb.name", b.getStringAttr("bytes"));
  function.setResultAttr(0, "mb.name", b.getStringAttr("logp"));
  Block *body = function.addEntryBlock();
  b.setInsertionPointToEnd(body);

  ModelEmitter emitter(b, config, weights, options.batch, length);
  Value logp = emitter.emit(body->getArgument(0));
  b.setLoc(fileLoc);
  func::ReturnOp::create(b, logp);
  if (options.generation)
    emitter.emitGeneration(*module);

  if (failed(verify(*module)))
    return importError("internal error: the imported IR does not verify");
  return std::move(module);
}

} // namespace mbc
