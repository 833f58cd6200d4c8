//===- SelectedKernels.cpp - kernel specs carried between passes ----------===//
#include "passes/CUDA/Kernels/SelectedKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;

namespace mbc::cuda {

StringRef activationName(Activation activation) {
  switch (activation) {
  case Activation::GeluErf:
    return "gelu";
  case Activation::GeluTanh:
    return "gelu_tanh";
  case Activation::Relu:
    return "relu";
  case Activation::None:
    break;
  }
  return "none";
}

std::optional<Activation> parseActivation(StringRef name) {
  return llvm::StringSwitch<std::optional<Activation>>(name)
      .Case("none", Activation::None)
      .Case("gelu", Activation::GeluErf)
      .Case("gelu_tanh", Activation::GeluTanh)
      .Case("relu", Activation::Relu)
      .Default(std::nullopt);
}

StringRef normKindName(NormKind norm) {
  switch (norm) {
  case NormKind::Rms:
    return "rms";
  case NormKind::RmsClamp:
    return "rms_clamp";
  case NormKind::Layer:
    break;
  }
  return "layer";
}

std::optional<NormKind> parseNormKind(StringRef name) {
  return llvm::StringSwitch<std::optional<NormKind>>(name)
      .Case("rms", NormKind::Rms)
      .Case("rms_clamp", NormKind::RmsClamp)
      .Case("layer", NormKind::Layer)
      .Default(std::nullopt);
}

namespace {

/// A 16-bit bias type as `bias_type` (absent: f32, as in attributes written
/// before 16-bit biases).
void appendBiasType(Builder &b, Type biasType,
                    SmallVectorImpl<NamedAttribute> &entries) {
  if (biasType && !biasType.isF32())
    entries.push_back(b.getNamedAttr("bias_type", TypeAttr::get(biasType)));
}

} // namespace

DictionaryAttr gemmSpecToAttribute(MLIRContext *context, const GemmSpec &spec) {
  Builder b(context);
  const GemmConfig &config = spec.config;
  StringRef activation = activationName(spec.activation);
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("m", b.getI64IntegerAttr(spec.m)),
      b.getNamedAttr("n", b.getI64IntegerAttr(spec.n)),
      b.getNamedAttr("k", b.getI64IntegerAttr(spec.k)),
      b.getNamedAttr("element_type", TypeAttr::get(spec.inputType)),
      b.getNamedAttr(
          "mma",
          b.getStringAttr(config.mma == MmaKind::Wgmma ? "wgmma" : "mma_sync")),
      b.getNamedAttr("tile_m", b.getI64IntegerAttr(config.tileM)),
      b.getNamedAttr("tile_n", b.getI64IntegerAttr(config.tileN)),
      b.getNamedAttr("tile_k", b.getI64IntegerAttr(config.tileK)),
      b.getNamedAttr("stages", b.getI64IntegerAttr(config.stages)),
      b.getNamedAttr("consumers", b.getI64IntegerAttr(config.consumers)),
      b.getNamedAttr("bias", b.getBoolAttr(spec.bias)),
      b.getNamedAttr("activation", b.getStringAttr(activation)),
      b.getNamedAttr("residual", b.getBoolAttr(spec.residual)),
      b.getNamedAttr(
          "output_type",
          TypeAttr::get(spec.outputType ? spec.outputType : b.getF32Type())),
  };
  appendBiasType(b, spec.biasType, entries);
  // Only when paired, so a plain GEMM reads as before.
  if (spec.pairedN > 0)
    entries.push_back(
        b.getNamedAttr("paired_n", b.getI64IntegerAttr(spec.pairedN)));
  if (spec.rotaryColumns > 0) {
    entries.push_back(b.getNamedAttr("rotary_columns",
                                     b.getI64IntegerAttr(spec.rotaryColumns)));
    entries.push_back(b.getNamedAttr("rotary_head_dim",
                                     b.getI64IntegerAttr(spec.rotaryHeadDim)));
    entries.push_back(b.getNamedAttr(
        "rotary_positions", b.getI64IntegerAttr(spec.rotaryPositions)));
    entries.push_back(
        b.getNamedAttr("rotary_theta", b.getF64FloatAttr(spec.rotaryTheta)));
  }
  if (spec.norm)
    entries.push_back(b.getNamedAttr("norm_prologue",
                                     normSpecToAttribute(context, *spec.norm)));
  if (spec.outputNorm)
    entries.push_back(b.getNamedAttr(
        "norm_epilogue", normSpecToAttribute(context, *spec.outputNorm)));
  if (spec.logSoftmax)
    entries.push_back(b.getNamedAttr("log_softmax", b.getBoolAttr(true)));
  if (spec.mergePositions > 0) {
    entries.push_back(b.getNamedAttr("merge_positions",
                                     b.getI64IntegerAttr(spec.mergePositions)));
    entries.push_back(b.getNamedAttr("merge_sequences",
                                     b.getI64IntegerAttr(spec.mergeSequences)));
  }
  return b.getDictionaryAttr(entries);
}

namespace {

/// Reads the fields of one selected-kernel attribute; a missing or
/// mistyped field is an error naming the attribute and the field.
struct SpecReader {
  DictionaryAttr attr;
  StringRef attrName;
  function_ref<InFlightDiagnostic()> emitError;

  LogicalResult fail(StringRef name, StringRef what) const {
    return emitError() << attrName << ": '" << name << "' must be " << what;
  }
  LogicalResult integer(StringRef name, int64_t &out) const {
    auto value = attr.getAs<IntegerAttr>(name);
    if (!value)
      return fail(name, "an integer");
    out = value.getInt();
    return success();
  }
  LogicalResult boolean(StringRef name, bool &out) const {
    auto value = attr.getAs<BoolAttr>(name);
    if (!value)
      return fail(name, "a bool");
    out = value.getValue();
    return success();
  }
  LogicalResult string(StringRef name, StringRef &out) const {
    auto value = attr.getAs<StringAttr>(name);
    if (!value)
      return fail(name, "a string");
    out = value.getValue();
    return success();
  }
  LogicalResult type(StringRef name, Type &out) const {
    auto value = attr.getAs<TypeAttr>(name);
    if (!value)
      return fail(name, "a type");
    out = value.getValue();
    return success();
  }
  LogicalResult real(StringRef name, double &out) const {
    auto value = attr.getAs<FloatAttr>(name);
    if (!value)
      return fail(name, "a float");
    out = value.getValueAsDouble();
    return success();
  }
  /// The nested spec `name` (a dictionary of `what`), or null when the
  /// attribute has none.
  FailureOr<DictionaryAttr> optionalDictionary(StringRef name,
                                               StringRef what) const {
    Attribute value = attr.get(name);
    if (!value)
      return DictionaryAttr();
    auto dictionary = dyn_cast<DictionaryAttr>(value);
    if (!dictionary)
      return fail(name, ("a dictionary (" + what + ")").str());
    return dictionary;
  }
  LogicalResult activation(Activation &out) const {
    StringRef name;
    if (failed(string("activation", name)))
      return failure();
    std::optional<Activation> parsed = parseActivation(name);
    if (!parsed)
      return emitError() << attrName << ": activation = '" << name
                         << "' (expected none, gelu, gelu_tanh or relu)";
    out = *parsed;
    return success();
  }
};

} // namespace

FailureOr<GemmSpec>
gemmSpecFromAttribute(DictionaryAttr attr,
                      function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedGemmAttrName, emitError};
  GemmSpec spec;
  GemmConfig &config = spec.config;
  StringRef mma;
  if (failed(read.integer("m", spec.m)) || failed(read.integer("n", spec.n)) ||
      failed(read.integer("k", spec.k)) ||
      failed(read.integer("tile_m", config.tileM)) ||
      failed(read.integer("tile_n", config.tileN)) ||
      failed(read.integer("tile_k", config.tileK)) ||
      failed(read.integer("stages", config.stages)) ||
      failed(read.boolean("bias", spec.bias)) ||
      failed(read.boolean("residual", spec.residual)) ||
      failed(read.string("mma", mma)) ||
      failed(read.type("element_type", spec.inputType)) ||
      failed(read.activation(spec.activation)))
    return failure();
  // Absent in attributes written before 16-bit outputs: f32.
  if (attr.get("output_type") &&
      failed(read.type("output_type", spec.outputType)))
    return failure();
  if (attr.get("bias_type") && failed(read.type("bias_type", spec.biasType)))
    return failure();
  // Absent in attributes written before warp specialization: 1.
  if (attr.get("consumers") &&
      failed(read.integer("consumers", config.consumers)))
    return failure();
  if (attr.get("paired_n") && failed(read.integer("paired_n", spec.pairedN)))
    return failure();
  if (attr.get("rotary_columns") &&
      (failed(read.integer("rotary_columns", spec.rotaryColumns)) ||
       failed(read.integer("rotary_head_dim", spec.rotaryHeadDim)) ||
       failed(read.integer("rotary_positions", spec.rotaryPositions)) ||
       failed(read.real("rotary_theta", spec.rotaryTheta))))
    return failure();
  FailureOr<DictionaryAttr> norm = read.optionalDictionary(
      "norm_prologue", (Twine("a ") + kSelectedNormAttrName + " spec").str());
  if (failed(norm))
    return failure();
  if (*norm) {
    FailureOr<NormSpec> normSpec = normSpecFromAttribute(*norm, emitError);
    if (failed(normSpec))
      return failure();
    spec.norm = *normSpec;
  }
  FailureOr<DictionaryAttr> outputNorm = read.optionalDictionary(
      "norm_epilogue", (Twine("a ") + kSelectedNormAttrName + " spec").str());
  if (failed(outputNorm))
    return failure();
  if (*outputNorm) {
    FailureOr<NormSpec> normSpec =
        normSpecFromAttribute(*outputNorm, emitError);
    if (failed(normSpec))
      return failure();
    spec.outputNorm = *normSpec;
  }
  if (attr.get("log_softmax") &&
      failed(read.boolean("log_softmax", spec.logSoftmax)))
    return failure();
  if (attr.get("merge_positions") &&
      (failed(read.integer("merge_positions", spec.mergePositions)) ||
       failed(read.integer("merge_sequences", spec.mergeSequences))))
    return failure();
  if (mma == "wgmma")
    config.mma = MmaKind::Wgmma;
  else if (mma == "mma_sync")
    config.mma = MmaKind::MmaSync;
  else
    return emitError() << kSelectedGemmAttrName << ": mma = '" << mma
                       << "' (expected wgmma or mma_sync)";
  spec.bLayout = BLayout::NK;
  if (failed(verifyGemmSpec(spec, emitError)))
    return failure();
  return spec;
}

/// SMs of the GPU the tile heuristic sizes grids for (H100/H200: 132).
constexpr int64_t kTargetSMs = 132;

FailureOr<GemmSpec> selectGemmSpec(MLIRContext *context,
                                   const GemmSelection &selection, int64_t m,
                                   int64_t n, int64_t k, Type elementType,
                                   bool bias, Activation activation,
                                   bool residual) {
  GemmSpec spec;
  spec.m = m;
  spec.n = n;
  spec.k = k;
  spec.inputType = elementType;
  spec.bLayout = BLayout::NK;
  spec.bias = bias;
  spec.activation = activation;
  spec.residual = residual;
  GemmConfig &config = spec.config;
  bool wgmma = selection.mma == "wgmma";
  config.mma = wgmma ? MmaKind::Wgmma : MmaKind::MmaSync;
  config.tileK = selection.tileK > 0 ? selection.tileK : (wgmma ? 64 : 32);
  auto tiles = [&](int64_t tm, int64_t tn) {
    return llvm::divideCeil(m, tm) * llvm::divideCeil(n, tn);
  };
  // Full-size tiles when they fill the GPU, else smaller ones. wgmma: a
  // 128 x 256 tile for a producer and two consumer warpgroups when even
  // those tiles fill the GPU (twice the MMA work per byte of shared memory
  // read of a 128 x 128 tile), 4 stages of 48 KiB.
  bool small = tiles(128, 128) < kTargetSMs;
  bool wide = wgmma && tiles(128, 256) >= kTargetSMs;
  config.consumers = selection.consumers > 0 ? selection.consumers
                     : wide                  ? 2
                                             : 1;
  bool specialized = wgmma && config.consumers == 2;
  config.tileM = selection.tileM > 0 ? selection.tileM
                 : specialized       ? 128
                 : small             ? 64
                                     : 128;
  config.tileN = selection.tileN > 0   ? selection.tileN
                 : specialized && wide ? 256
                 : (small && !wgmma)   ? 64
                                       : 128;
  config.stages = selection.stages > 0 ? selection.stages : specialized ? 4 : 3;
  if (m < selection.minRows || n % 8 != 0 || k % config.tileK != 0)
    return failure();
  ScopedDiagnosticHandler quiet(context,
                                [](Diagnostic &) { return success(); });
  if (failed(verifyGemmSpec(
          spec, [&] { return emitError(UnknownLoc::get(context)); })))
    return failure();
  return spec;
}

bool isStoredIn16Bits(Value weight) {
  if (auto slice = weight.getDefiningOp<tensor::ExtractSliceOp>())
    weight = slice.getSource();
  auto ext = weight.getDefiningOp<arith::ExtFOp>();
  if (!ext)
    return false;
  Type source = getElementTypeOrSelf(ext.getIn().getType());
  return source.isBF16() || source.isF16();
}

Value kvWeightSource(Value wk, Value wv, int64_t inner) {
  auto k = wk.getDefiningOp<tensor::ExtractSliceOp>();
  auto v = wv.getDefiningOp<tensor::ExtractSliceOp>();
  if (!k || !v || k.getSource() != v.getSource() || !k.hasUnitStride() ||
      !v.hasUnitStride() || k.getStaticOffsets() != ArrayRef<int64_t>{0, 0} ||
      v.getStaticOffsets() != ArrayRef<int64_t>{inner, 0} ||
      k.getStaticSizes() != v.getStaticSizes() ||
      k.getStaticSizes() !=
          ArrayRef<int64_t>{
              inner,
              cast<RankedTensorType>(k.getSource().getType()).getDimSize(1)} ||
      cast<RankedTensorType>(k.getSource().getType()).getDimSize(0) !=
          2 * inner)
    return {};
  return k.getSource();
}

Type weightStorageType(Value weight) {
  if (auto slice = weight.getDefiningOp<tensor::ExtractSliceOp>())
    weight = slice.getSource();
  if (auto ext = weight.getDefiningOp<arith::ExtFOp>()) {
    Type source = getElementTypeOrSelf(ext.getIn().getType());
    if (source.isBF16() || source.isF16())
      return source;
  }
  return BFloat16Type::get(weight.getContext());
}

Type gemvWeightType(Value weight) {
  if (isStoredIn16Bits(weight))
    return weightStorageType(weight);
  return getElementTypeOrSelf(weight.getType());
}

Value narrowTo(OpBuilder &b, Location loc, Value value, Type elementType) {
  if (getElementTypeOrSelf(value.getType()) == elementType)
    return value;
  if (auto ext = value.getDefiningOp<arith::ExtFOp>())
    if (getElementTypeOrSelf(ext.getIn().getType()) == elementType)
      return ext.getIn();
  if (auto slice = value.getDefiningOp<tensor::ExtractSliceOp>())
    if (auto ext = slice.getSource().getDefiningOp<arith::ExtFOp>())
      if (getElementTypeOrSelf(ext.getIn().getType()) == elementType)
        return tensor::ExtractSliceOp::create(
            b, loc, ext.getIn(), slice.getMixedOffsets(), slice.getMixedSizes(),
            slice.getMixedStrides());
  auto type = cast<RankedTensorType>(value.getType());
  return arith::TruncFOp::create(b, loc, type.clone(elementType), value);
}

bool acceptsQuietly(
    MLIRContext *context,
    function_ref<LogicalResult(function_ref<InFlightDiagnostic()>)> verify) {
  ScopedDiagnosticHandler quiet(context,
                                [](Diagnostic &) { return success(); });
  return succeeded(
      verify([&] { return emitError(UnknownLoc::get(context)); }));
}

Block *beginReferenceBody(OpBuilder &b, func::FuncOp function) {
  Block *body = function.addEntryBlock();
  b.setInsertionPointToStart(body);
  for (unsigned i = 0; i < function.getNumArguments(); ++i)
    function.removeArgAttr(
        i, bufferization::BufferizationDialect::kBufferAccessAttrName);
  return body;
}

Value widenToF32(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType().isF32())
    return value;
  return arith::ExtFOp::create(b, loc, type.clone(b.getF32Type()), value);
}

SmallVector<func::CallOp> callsOfSelectedKernels(ModuleOp module,
                                                 SymbolTable &symbols,
                                                 StringRef attrName) {
  SmallVector<func::CallOp> calls;
  module.walk([&](func::CallOp call) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    if (callee && callee->hasAttr(attrName))
      calls.push_back(call);
  });
  return calls;
}

LogicalResult selectedReaders(Value value, SymbolTable &symbols,
                              StringRef attrName,
                              SmallVectorImpl<func::CallOp> &calls,
                              SmallVectorImpl<Operation *> &reshapes) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(user)) {
      reshapes.push_back(user);
      if (failed(selectedReaders(user->getResult(0), symbols, attrName, calls,
                                 reshapes)))
        return failure();
      continue;
    }
    auto call = dyn_cast<func::CallOp>(user);
    auto callee =
        call ? symbols.lookup<func::FuncOp>(call.getCallee()) : func::FuncOp();
    if (!callee || !callee->hasAttr(attrName) || use.getOperandNumber() != 0)
      return failure();
    calls.push_back(call);
  }
  return success();
}

FailureOr<NormSpec> normSpecOfCall(func::CallOp call, SymbolTable &symbols) {
  auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
  auto attr = callee
                  ? callee->getAttrOfType<DictionaryAttr>(kSelectedNormAttrName)
                  : DictionaryAttr();
  if (!attr)
    return failure();
  ScopedDiagnosticHandler silence(call.getContext(),
                                  [](Diagnostic &) { return success(); });
  return normSpecFromAttribute(attr, [&] { return call.emitOpError(); });
}

FailureOr<ProducingGemm>
producingSelectedGemm(Value value, ModuleOp module,
                      SmallVectorImpl<Operation *> &reshapes) {
  while (Operation *op = value.getDefiningOp()) {
    if (!isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(op) ||
        !value.hasOneUse())
      break;
    reshapes.push_back(op);
    value = op->getOperand(0);
  }
  auto call = value.getDefiningOp<func::CallOp>();
  if (!call || call.getNumResults() != 1 || !value.hasOneUse())
    return failure();
  // Looked up in the module: the function may be newer than a caller's
  // symbol table.
  auto function = module.lookupSymbol<func::FuncOp>(call.getCallee());
  auto attr = function ? function->getAttrOfType<DictionaryAttr>(
                             kSelectedGemmAttrName)
                       : DictionaryAttr();
  if (!attr)
    return failure();
  ScopedDiagnosticHandler silence(module.getContext(),
                                  [](Diagnostic &) { return success(); });
  FailureOr<GemmSpec> spec =
      gemmSpecFromAttribute(attr, [&] { return call.emitOpError(); });
  if (failed(spec))
    return failure();
  return ProducingGemm{call, function, *spec};
}

bool fitGemmStages(MLIRContext *context, GemmSpec &spec) {
  auto accepts = [&] {
    return acceptsQuietly(context, [&](auto emitError) {
      return verifyGemmSpec(spec, emitError);
    });
  };
  while (!accepts()) {
    if (spec.config.stages <= 2)
      return false;
    --spec.config.stages;
  }
  return true;
}

void eraseUncalled(ArrayRef<func::FuncOp> functions, ModuleOp module) {
  for (func::FuncOp function : functions)
    if (SymbolTable::symbolKnownUseEmpty(function, module))
      function.erase();
}

Value callSelectedKernel(OpBuilder &b, Location loc, ModuleOp module,
                         StringRef prefix, StringRef attrName,
                         DictionaryAttr spec, ValueRange operands,
                         Type resultType) {
  return callSelectedKernel(b, loc, module, prefix, attrName, spec, operands,
                            TypeRange{resultType})
      .getResult(0);
}

func::CallOp callSelectedKernel(OpBuilder &b, Location loc, ModuleOp module,
                                StringRef prefix, StringRef attrName,
                                DictionaryAttr spec, ValueRange operands,
                                TypeRange resultTypes) {
  MLIRContext *ctx = b.getContext();
  auto functionType = FunctionType::get(ctx, operands.getTypes(), resultTypes);
  std::string name;
  for (int64_t index = 0;; ++index) {
    name = (prefix + "_" + Twine(index)).str();
    if (!module.lookupSymbol(name))
      break;
  }
  OpBuilder::InsertPoint here = b.saveInsertionPoint();
  b.setInsertionPointToEnd(module.getBody());
  auto declaration = func::FuncOp::create(b, loc, name, functionType);
  declaration.setPrivate();
  for (unsigned i = 0; i < operands.size(); ++i)
    declaration.setArgAttr(
        i, bufferization::BufferizationDialect::kBufferAccessAttrName,
        b.getStringAttr("read"));
  declaration->setAttr(attrName, spec);
  b.restoreInsertionPoint(here);
  return func::CallOp::create(b, loc, declaration, operands);
}

Value callSelectedGemm(OpBuilder &b, Location loc, ModuleOp module,
                       const GemmSpec &spec, ValueRange operands) {
  return callSelectedGemmOp(b, loc, module, spec, operands).getResult(0);
}

func::CallOp callSelectedGemmOp(OpBuilder &b, Location loc, ModuleOp module,
                                const GemmSpec &spec, ValueRange operands) {
  Type outputType = spec.outputType ? spec.outputType : b.getF32Type();
  SmallVector<Type> resultTypes = {
      RankedTensorType::get({gemmOutputRows(spec), spec.n}, outputType)};
  if (spec.pairedN > 0)
    resultTypes.push_back(
        RankedTensorType::get({spec.m, spec.pairedN}, outputType));
  return callSelectedKernel(b, loc, module, "mbc_gemm", kSelectedGemmAttrName,
                            gemmSpecToAttribute(b.getContext(), spec), operands,
                            resultTypes);
}

func::CallOp callSelectedGemv(OpBuilder &b, Location loc, ModuleOp module,
                              const GemvSpec &spec, ValueRange operands) {
  SmallVector<Type> resultTypes = {
      RankedTensorType::get({spec.m, spec.n}, b.getF32Type())};
  for (int64_t n : {spec.pairedN, spec.thirdN})
    if (n > 0)
      resultTypes.push_back(RankedTensorType::get({spec.m, n}, b.getF32Type()));
  func::CallOp call = callSelectedKernel(
      b, loc, module, "mbc_gemv", kSelectedGemvAttrName,
      gemvSpecToAttribute(b.getContext(), spec), operands, resultTypes);
  if (spec.attentionPrologue) {
    // As for callSelectedDecodeAttention: a body returning a new tensor, so
    // that bufferization does not take the result for an alias of the
    // caches and copy them for the call.
    auto declaration = module.lookupSymbol<func::FuncOp>(call.getCallee());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(declaration.addEntryBlock());
    func::ReturnOp::create(
        b, loc,
        tensor::EmptyOp::create(
            b, loc, cast<RankedTensorType>(resultTypes[0]).getShape(),
            b.getF32Type())
            .getResult());
  }
  return call;
}

DictionaryAttr gemvSpecToAttribute(MLIRContext *context, const GemvSpec &spec) {
  Builder b(context);
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("m", b.getI64IntegerAttr(spec.m)),
      b.getNamedAttr("n", b.getI64IntegerAttr(spec.n)),
      b.getNamedAttr("k", b.getI64IntegerAttr(spec.k)),
      b.getNamedAttr("weight_type", TypeAttr::get(spec.weightType)),
      b.getNamedAttr("bias", b.getBoolAttr(spec.bias)),
      b.getNamedAttr("activation",
                     b.getStringAttr(activationName(spec.activation))),
      b.getNamedAttr("residual", b.getBoolAttr(spec.residual)),
      b.getNamedAttr("warps", b.getI64IntegerAttr(spec.warps)),
      b.getNamedAttr("columns_per_warp",
                     b.getI64IntegerAttr(spec.columnsPerWarp)),
  };
  appendBiasType(b, spec.biasType, entries);
  // The norm prologue only when chosen, so a plain GEMV reads as before.
  if (spec.normPrologue)
    entries.append({
        b.getNamedAttr("norm", b.getStringAttr(normKindName(spec.normKind))),
        b.getNamedAttr("norm_epsilon", b.getF64FloatAttr(spec.normEpsilon)),
        b.getNamedAttr("norm_weight_type",
                       TypeAttr::get(spec.normWeightType ? spec.normWeightType
                                                         : b.getF32Type())),
    });
  // The attention prologue only when chosen, its caches' facts prefixed.
  if (spec.attentionPrologue) {
    const DecodeAttentionSpec &attention = spec.attention;
    entries.append({
        b.getNamedAttr("attention_heads", b.getI64IntegerAttr(attention.heads)),
        b.getNamedAttr("attention_head_dim",
                       b.getI64IntegerAttr(attention.headDim)),
        b.getNamedAttr("attention_cache_length",
                       b.getI64IntegerAttr(attention.cacheLength)),
        b.getNamedAttr("attention_cache_rows",
                       b.getI64IntegerAttr(attention.cacheRows)),
        b.getNamedAttr("attention_first_row",
                       b.getI64IntegerAttr(attention.firstRow)),
        b.getNamedAttr("attention_scale", b.getF64FloatAttr(attention.scale)),
    });
  }
  if (spec.pairedN > 0)
    entries.push_back(
        b.getNamedAttr("paired_n", b.getI64IntegerAttr(spec.pairedN)));
  if (spec.thirdN > 0)
    entries.push_back(
        b.getNamedAttr("third_n", b.getI64IntegerAttr(spec.thirdN)));
  return b.getDictionaryAttr(entries);
}

FailureOr<GemvSpec>
gemvSpecFromAttribute(DictionaryAttr attr,
                      function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedGemvAttrName, emitError};
  GemvSpec spec;
  if (failed(read.integer("m", spec.m)) || failed(read.integer("n", spec.n)) ||
      failed(read.integer("k", spec.k)) ||
      failed(read.integer("warps", spec.warps)) ||
      failed(read.integer("columns_per_warp", spec.columnsPerWarp)) ||
      failed(read.type("weight_type", spec.weightType)) ||
      failed(read.boolean("bias", spec.bias)) ||
      failed(read.boolean("residual", spec.residual)) ||
      failed(read.activation(spec.activation)))
    return failure();
  if (attr.get("bias_type") && failed(read.type("bias_type", spec.biasType)))
    return failure();
  if (attr.get("norm")) {
    StringRef norm;
    if (failed(read.string("norm", norm)) ||
        failed(read.real("norm_epsilon", spec.normEpsilon)) ||
        failed(read.type("norm_weight_type", spec.normWeightType)))
      return failure();
    std::optional<NormKind> parsed = parseNormKind(norm);
    if (!parsed)
      return emitError() << kSelectedGemvAttrName << ": norm = '" << norm
                         << "' (expected rms, rms_clamp or layer)";
    spec.normPrologue = true;
    spec.normKind = *parsed;
  }
  if (attr.get("paired_n") && failed(read.integer("paired_n", spec.pairedN)))
    return failure();
  if (attr.get("third_n") && failed(read.integer("third_n", spec.thirdN)))
    return failure();
  if (attr.get("attention_heads")) {
    DecodeAttentionSpec &attention = spec.attention;
    if (failed(read.integer("attention_heads", attention.heads)) ||
        failed(read.integer("attention_head_dim", attention.headDim)) ||
        failed(read.integer("attention_cache_length", attention.cacheLength)) ||
        failed(read.integer("attention_cache_rows", attention.cacheRows)) ||
        failed(read.integer("attention_first_row", attention.firstRow)) ||
        failed(read.real("attention_scale", attention.scale)))
      return failure();
    spec.attentionPrologue = true;
    attention.sequences = spec.m;
  }
  if (failed(verifyGemvSpec(spec, emitError)))
    return failure();
  return spec;
}

Value callSelectedAttention(OpBuilder &b, Location loc, ModuleOp module,
                            const AttentionSpec &spec, Value q, Value k,
                            Value v) {
  Type outputType = spec.outputType ? spec.outputType : b.getF32Type();
  auto resultType =
      spec.tokenMajor()
          ? RankedTensorType::get({spec.batchHeads / spec.heads, spec.seqLen,
                                   spec.heads * spec.headDim},
                                  outputType)
          : RankedTensorType::get({spec.batchHeads, spec.seqLen, spec.headDim},
                                  outputType);
  return callSelectedKernel(b, loc, module, "mbc_attention",
                            kSelectedAttentionAttrName,
                            attentionSpecToAttribute(b.getContext(), spec),
                            ValueRange{q, k, v}, resultType);
}

DictionaryAttr attentionSpecToAttribute(MLIRContext *context,
                                        const AttentionSpec &spec) {
  Builder b(context);
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("batch_heads", b.getI64IntegerAttr(spec.batchHeads)),
      b.getNamedAttr("seq_len", b.getI64IntegerAttr(spec.seqLen)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(spec.headDim)),
      b.getNamedAttr("element_type", TypeAttr::get(spec.inputType)),
      b.getNamedAttr("causal", b.getBoolAttr(spec.causal)),
      b.getNamedAttr("scale", b.getF64FloatAttr(spec.scale)),
      b.getNamedAttr("key_block", b.getI64IntegerAttr(spec.keyBlock)),
      b.getNamedAttr("patch_length", b.getI64IntegerAttr(spec.patchLength)),
  };
  // The token-major layout and a 16-bit output only when chosen, so a
  // packed f32 spec reads as before.
  if (spec.tokenMajor())
    entries.append({
        b.getNamedAttr("heads", b.getI64IntegerAttr(spec.heads)),
        b.getNamedAttr("q_row", b.getI64IntegerAttr(spec.qRowElements)),
        b.getNamedAttr("k_row", b.getI64IntegerAttr(spec.kRowElements)),
        b.getNamedAttr("v_row", b.getI64IntegerAttr(spec.vRowElements)),
        b.getNamedAttr("k_column", b.getI64IntegerAttr(spec.kColumn)),
        b.getNamedAttr("v_column", b.getI64IntegerAttr(spec.vColumn)),
    });
  if (spec.outputType && !spec.outputType.isF32())
    entries.push_back(
        b.getNamedAttr("output_type", TypeAttr::get(spec.outputType)));
  if (spec.rowTiles != 1)
    entries.push_back(
        b.getNamedAttr("row_tiles", b.getI64IntegerAttr(spec.rowTiles)));
  if (spec.reloadQuery)
    entries.push_back(b.getNamedAttr("reload_query", b.getBoolAttr(true)));
  if (spec.mma == MmaKind::Wgmma)
    entries.push_back(b.getNamedAttr("mma", b.getStringAttr("wgmma")));
  if (spec.pingpong)
    entries.push_back(b.getNamedAttr("pingpong", b.getBoolAttr(true)));
  return b.getDictionaryAttr(entries);
}

FailureOr<AttentionSpec>
attentionSpecFromAttribute(DictionaryAttr attr,
                           function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedAttentionAttrName, emitError};
  AttentionSpec spec;
  if (failed(read.integer("batch_heads", spec.batchHeads)) ||
      failed(read.integer("seq_len", spec.seqLen)) ||
      failed(read.integer("head_dim", spec.headDim)) ||
      failed(read.integer("key_block", spec.keyBlock)) ||
      failed(read.integer("patch_length", spec.patchLength)) ||
      failed(read.boolean("causal", spec.causal)) ||
      failed(read.real("scale", spec.scale)) ||
      failed(read.type("element_type", spec.inputType)))
    return failure();
  if (attr.contains("heads") &&
      (failed(read.integer("heads", spec.heads)) ||
       failed(read.integer("q_row", spec.qRowElements)) ||
       failed(read.integer("k_row", spec.kRowElements)) ||
       failed(read.integer("v_row", spec.vRowElements)) ||
       failed(read.integer("k_column", spec.kColumn)) ||
       failed(read.integer("v_column", spec.vColumn))))
    return failure();
  if (attr.contains("output_type") &&
      failed(read.type("output_type", spec.outputType)))
    return failure();
  if (attr.contains("row_tiles") &&
      failed(read.integer("row_tiles", spec.rowTiles)))
    return failure();
  if (attr.contains("reload_query") &&
      failed(read.boolean("reload_query", spec.reloadQuery)))
    return failure();
  if (attr.contains("mma")) {
    StringRef mma;
    if (failed(read.string("mma", mma)))
      return failure();
    if (mma != "wgmma" && mma != "mma_sync")
      return emitError() << kSelectedAttentionAttrName << ": mma = '" << mma
                         << "' (expected wgmma or mma_sync)";
    spec.mma = mma == "wgmma" ? MmaKind::Wgmma : MmaKind::MmaSync;
  }
  if (attr.contains("pingpong") &&
      failed(read.boolean("pingpong", spec.pingpong)))
    return failure();
  if (spec.heads < 0)
    return emitError() << kSelectedAttentionAttrName
                       << ": heads = " << spec.heads << " must be positive";
  if (failed(verifyAttentionSpec(spec, emitError)))
    return failure();
  return spec;
}

Value callSelectedLocalLayer(OpBuilder &b, Location loc, ModuleOp module,
                             const LocalLayerSpec &spec, ValueRange operands) {
  auto resultType = RankedTensorType::get(
      {spec.sequences * spec.positions, spec.dim}, b.getF32Type());
  return callSelectedKernel(b, loc, module, "mbc_local_layer",
                            kSelectedLocalLayerAttrName,
                            localLayerSpecToAttribute(b.getContext(), spec),
                            operands, resultType);
}

DictionaryAttr localLayerSpecToAttribute(MLIRContext *context,
                                         const LocalLayerSpec &spec) {
  Builder b(context);
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("sequences", b.getI64IntegerAttr(spec.sequences)),
      b.getNamedAttr("positions", b.getI64IntegerAttr(spec.positions)),
      b.getNamedAttr("dim", b.getI64IntegerAttr(spec.dim)),
      b.getNamedAttr("heads", b.getI64IntegerAttr(spec.heads)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(spec.headDim)),
      b.getNamedAttr("hidden", b.getI64IntegerAttr(spec.hidden)),
      b.getNamedAttr("weight_type", TypeAttr::get(spec.weightType)),
      b.getNamedAttr(
          "vector_type",
          TypeAttr::get(spec.vectorType ? spec.vectorType : b.getF32Type())),
      b.getNamedAttr("norm", b.getStringAttr(normKindName(spec.norm))),
      b.getNamedAttr("epsilon", b.getF64FloatAttr(spec.epsilon)),
      b.getNamedAttr("token_shift", b.getBoolAttr(spec.tokenShift)),
      b.getNamedAttr("activation",
                     b.getStringAttr(activationName(spec.activation))),
      b.getNamedAttr("fused_kv", b.getBoolAttr(spec.fusedKeyValue)),
      b.getNamedAttr("scale", b.getF64FloatAttr(spec.scale)),
      b.getNamedAttr("rotary_theta", b.getF64FloatAttr(spec.rotaryTheta)),
      b.getNamedAttr("stages", b.getI64IntegerAttr(spec.stages)),
  };
  // Only when chained, so a one-layer spec reads as before.
  if (spec.layers > 1)
    entries.push_back(
        b.getNamedAttr("layers", b.getI64IntegerAttr(spec.layers)));
  if (const std::optional<LocalInputSpec> &input = spec.input)
    entries.push_back(b.getNamedAttr(
        "input",
        b.getDictionaryAttr({
            b.getNamedAttr("vocabulary",
                           b.getI64IntegerAttr(input->vocabulary)),
            b.getNamedAttr("patches_per_sequence",
                           b.getI64IntegerAttr(input->patchesPerSequence)),
            b.getNamedAttr("table_type", TypeAttr::get(input->tableType)),
            b.getNamedAttr("start_type", TypeAttr::get(input->startType)),
        })));
  return b.getDictionaryAttr(entries);
}

FailureOr<LocalLayerSpec>
localLayerSpecFromAttribute(DictionaryAttr attr,
                            function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedLocalLayerAttrName, emitError};
  LocalLayerSpec spec;
  StringRef norm;
  if (failed(read.integer("sequences", spec.sequences)) ||
      failed(read.integer("positions", spec.positions)) ||
      failed(read.integer("dim", spec.dim)) ||
      failed(read.integer("heads", spec.heads)) ||
      failed(read.integer("head_dim", spec.headDim)) ||
      failed(read.integer("hidden", spec.hidden)) ||
      failed(read.integer("stages", spec.stages)) ||
      failed(read.type("weight_type", spec.weightType)) ||
      failed(read.type("vector_type", spec.vectorType)) ||
      failed(read.string("norm", norm)) ||
      failed(read.real("epsilon", spec.epsilon)) ||
      failed(read.real("scale", spec.scale)) ||
      failed(read.real("rotary_theta", spec.rotaryTheta)) ||
      failed(read.boolean("token_shift", spec.tokenShift)) ||
      failed(read.boolean("fused_kv", spec.fusedKeyValue)) ||
      failed(read.activation(spec.activation)))
    return failure();
  if (attr.get("layers") && failed(read.integer("layers", spec.layers)))
    return failure();
  FailureOr<DictionaryAttr> input = read.optionalDictionary(
      "input", "vocabulary, patches_per_sequence, table_type, start_type");
  if (failed(input))
    return failure();
  if (*input) {
    std::string inputName = (kSelectedLocalLayerAttrName + ".input").str();
    SpecReader readInput{*input, inputName, emitError};
    LocalInputSpec inputSpec;
    if (failed(readInput.integer("vocabulary", inputSpec.vocabulary)) ||
        failed(readInput.integer("patches_per_sequence",
                                 inputSpec.patchesPerSequence)) ||
        failed(readInput.type("table_type", inputSpec.tableType)) ||
        failed(readInput.type("start_type", inputSpec.startType)))
      return failure();
    spec.input = inputSpec;
  }
  std::optional<NormKind> parsed = parseNormKind(norm);
  if (!parsed)
    return emitError() << kSelectedLocalLayerAttrName << ": norm = '" << norm
                       << "' (expected rms, rms_clamp or layer)";
  spec.norm = *parsed;
  if (failed(verifyLocalLayerSpec(spec, emitError)))
    return failure();
  return spec;
}

Value callSelectedNorm(OpBuilder &b, Location loc, ModuleOp module,
                       const NormSpec &spec, ValueRange operands) {
  auto resultType =
      RankedTensorType::get({normOutputRows(spec), spec.dim}, spec.outputType);
  return callSelectedKernel(b, loc, module, "mbc_norm", kSelectedNormAttrName,
                            normSpecToAttribute(b.getContext(), spec),
                            operands, resultType);
}

DictionaryAttr normSpecToAttribute(MLIRContext *context, const NormSpec &spec) {
  Builder b(context);
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("rows", b.getI64IntegerAttr(spec.rows)),
      b.getNamedAttr("positions", b.getI64IntegerAttr(spec.positions)),
      b.getNamedAttr("dim", b.getI64IntegerAttr(spec.dim)),
      b.getNamedAttr("norm", b.getStringAttr(normKindName(spec.norm))),
      b.getNamedAttr("epsilon", b.getF64FloatAttr(spec.epsilon)),
      b.getNamedAttr("token_shift", b.getBoolAttr(spec.tokenShift)),
      b.getNamedAttr("output_type", TypeAttr::get(spec.outputType)),
      b.getNamedAttr(
          "weight_type",
          TypeAttr::get(spec.weightType ? spec.weightType : b.getF32Type())),
  };
  if (const std::optional<NormGatherSpec> &gather = spec.gather)
    entries.push_back(b.getNamedAttr(
        "gather",
        b.getDictionaryAttr({
            b.getNamedAttr("vocabulary",
                           b.getI64IntegerAttr(gather->vocabulary)),
            b.getNamedAttr("slots", b.getI64IntegerAttr(gather->slots)),
            b.getNamedAttr("table_type", TypeAttr::get(gather->tableType)),
        })));
  if (spec.startType)
    entries.push_back(
        b.getNamedAttr("start_type", TypeAttr::get(spec.startType)));
  return b.getDictionaryAttr(entries);
}

FailureOr<NormSpec>
normSpecFromAttribute(DictionaryAttr attr,
                      function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedNormAttrName, emitError};
  NormSpec spec;
  StringRef norm;
  if (failed(read.integer("rows", spec.rows)) ||
      failed(read.integer("positions", spec.positions)) ||
      failed(read.integer("dim", spec.dim)) ||
      failed(read.string("norm", norm)) ||
      failed(read.real("epsilon", spec.epsilon)) ||
      failed(read.boolean("token_shift", spec.tokenShift)) ||
      failed(read.type("output_type", spec.outputType)) ||
      failed(read.type("weight_type", spec.weightType)))
    return failure();
  FailureOr<DictionaryAttr> gather =
      read.optionalDictionary("gather", "vocabulary, slots, table_type");
  if (failed(gather))
    return failure();
  if (*gather) {
    std::string gatherName = (kSelectedNormAttrName + ".gather").str();
    SpecReader readGather{*gather, gatherName, emitError};
    NormGatherSpec gatherSpec;
    if (failed(readGather.integer("vocabulary", gatherSpec.vocabulary)) ||
        failed(readGather.integer("slots", gatherSpec.slots)) ||
        failed(readGather.type("table_type", gatherSpec.tableType)))
      return failure();
    spec.gather = gatherSpec;
  }
  if (attr.get("start_type") && failed(read.type("start_type", spec.startType)))
    return failure();
  std::optional<NormKind> parsed = parseNormKind(norm);
  if (!parsed)
    return emitError() << kSelectedNormAttrName << ": norm = '" << norm
                       << "' (expected rms, rms_clamp or layer)";
  spec.norm = *parsed;
  if (failed(verifyNormSpec(spec, emitError)))
    return failure();
  return spec;
}

Value callSelectedDecodeAttention(OpBuilder &b, Location loc, ModuleOp module,
                                  const DecodeAttentionSpec &spec,
                                  ValueRange operands) {
  auto resultType = RankedTensorType::get(
      {spec.sequences, spec.heads * spec.headDim}, b.getF32Type());
  Value result = callSelectedKernel(
      b, loc, module, "mbc_decode_attention", kSelectedDecodeAttentionAttrName,
      decodeAttentionSpecToAttribute(b.getContext(), spec), operands,
      resultType);
  // A body returning a new tensor, which tells One-Shot Bufferize the result
  // aliases no operand: it assumes an external function's result may alias
  // every operand, and the caches this call reads are updated in place
  // later in the step, so it would copy each whole cache (and the position)
  // for the call. The operands stay `bufferization.access = "read"`; the
  // body is never run (the call becomes a launch, or, emulated, the
  // reference replaces it). mb-cuda-launch-selected-kernels takes the out-param form that
  // buffer-results-to-out-params makes of the call.
  auto declaration = module.lookupSymbol<func::FuncOp>(
      result.getDefiningOp<func::CallOp>().getCallee());
  OpBuilder::InsertionGuard guard(b);
  Block *body = declaration.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value fresh =
      tensor::EmptyOp::create(b, loc, resultType.getShape(), b.getF32Type());
  func::ReturnOp::create(b, loc, fresh);
  return result;
}

DictionaryAttr decodeAttentionSpecToAttribute(MLIRContext *context,
                                              const DecodeAttentionSpec &spec) {
  Builder b(context);
  return b.getDictionaryAttr({
      b.getNamedAttr("sequences", b.getI64IntegerAttr(spec.sequences)),
      b.getNamedAttr("heads", b.getI64IntegerAttr(spec.heads)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(spec.headDim)),
      b.getNamedAttr("cache_length", b.getI64IntegerAttr(spec.cacheLength)),
      b.getNamedAttr("cache_rows", b.getI64IntegerAttr(spec.cacheRows)),
      b.getNamedAttr("first_row", b.getI64IntegerAttr(spec.firstRow)),
      b.getNamedAttr("scale", b.getF64FloatAttr(spec.scale)),
      b.getNamedAttr("warps", b.getI64IntegerAttr(spec.warps)),
      b.getNamedAttr("splits", b.getI64IntegerAttr(spec.splits)),
      b.getNamedAttr("keys_per_step", b.getI64IntegerAttr(spec.keysPerStep)),
  });
}

FailureOr<DecodeAttentionSpec>
decodeAttentionSpecFromAttribute(DictionaryAttr attr,
                                 function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedDecodeAttentionAttrName, emitError};
  DecodeAttentionSpec spec;
  if (failed(read.integer("sequences", spec.sequences)) ||
      failed(read.integer("heads", spec.heads)) ||
      failed(read.integer("head_dim", spec.headDim)) ||
      failed(read.integer("cache_length", spec.cacheLength)) ||
      failed(read.integer("cache_rows", spec.cacheRows)) ||
      failed(read.integer("first_row", spec.firstRow)) ||
      failed(read.real("scale", spec.scale)) ||
      failed(read.integer("warps", spec.warps)) ||
      failed(read.integer("splits", spec.splits)) ||
      failed(read.integer("keys_per_step", spec.keysPerStep)))
    return failure();
  if (failed(verifyDecodeAttentionSpec(spec, emitError)))
    return failure();
  return spec;
}

Value callSelectedLogSoftmax(OpBuilder &b, Location loc, ModuleOp module,
                             const LogSoftmaxSpec &spec, Value x) {
  auto resultType =
      RankedTensorType::get({spec.rows, spec.columns}, b.getF32Type());
  return callSelectedKernel(b, loc, module, "mbc_log_softmax",
                            kSelectedLogSoftmaxAttrName,
                            logSoftmaxSpecToAttribute(b.getContext(), spec),
                            ValueRange{x}, resultType);
}

DictionaryAttr logSoftmaxSpecToAttribute(MLIRContext *context,
                                         const LogSoftmaxSpec &spec) {
  Builder b(context);
  return b.getDictionaryAttr({
      b.getNamedAttr("rows", b.getI64IntegerAttr(spec.rows)),
      b.getNamedAttr("columns", b.getI64IntegerAttr(spec.columns)),
  });
}

FailureOr<LogSoftmaxSpec>
logSoftmaxSpecFromAttribute(DictionaryAttr attr,
                            function_ref<InFlightDiagnostic()> emitError) {
  SpecReader read{attr, kSelectedLogSoftmaxAttrName, emitError};
  LogSoftmaxSpec spec;
  if (failed(read.integer("rows", spec.rows)) ||
      failed(read.integer("columns", spec.columns)))
    return failure();
  if (failed(verifyLogSoftmaxSpec(spec, emitError)))
    return failure();
  return spec;
}

} // namespace mbc::cuda
