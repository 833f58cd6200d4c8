//===- ModelMetadata.cpp - the META section, parsed and validated ---------===//
#include "ModelMetadata.h"
#include "MetaReader.h"
#include "RuntimeError.h"

#include "mbc/ArtifactFormat.h"

#include <limits>
#include <set>

namespace mbrt {

using nlohmann::json;

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::I32:
  case DType::F32:
    return 4;
  case DType::I64:
    return 8;
  case DType::F16:
  case DType::BF16:
    return 2;
  }
  return 0;
}

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  }
  return "?";
}

const char *weightDTypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  default:
    return dtypeName(dtype);
  }
}

int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim; // shapes are bounded when parsed, so this cannot overflow
  return count;
}

std::string shapeToString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

const char *argKindName(ArgKind kind) {
  static const char *const names[] = {"context", "weight", "input", "output",
                                      "inout"};
  return names[int(kind)];
}

int EntryPoint::findArg(const std::string &argName) const {
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].kind != ArgKind::Weight && args[i].kind != ArgKind::Context &&
        args[i].name == argName)
      return static_cast<int>(i);
  return -1;
}

const EntryPoint *ModelMetadata::findEntry(const std::string &name) const {
  for (const EntryPoint &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

size_t ModelMetadata::findWeight(const std::string &name) const {
  size_t index = 0;
  while (index < weights.size() && weights[index].name != name)
    ++index;
  return index;
}

namespace {

DType parseWeightDType(const MetaReader &reader, const json &object,
                       const std::string &path) {
  std::string name = reader.stringAt(object, path, "dtype");
  if (name == "F32")
    return DType::F32;
  if (name == "F16")
    return DType::F16;
  if (name == "BF16")
    return DType::BF16;
  reader.error(keyPath(path, "dtype"),
               "expected \"F32\", \"F16\" or \"BF16\", got \"" + name + "\"");
}

DType parseBufferDType(const MetaReader &reader, const json &object,
                       const std::string &path) {
  std::string name = reader.stringAt(object, path, "dtype");
  for (DType dtype :
       {DType::I32, DType::I64, DType::F32, DType::F16, DType::BF16})
    if (name == dtypeName(dtype))
      return dtype;
  reader.error(keyPath(path, "dtype"),
               "expected one of \"i32\", \"i64\", \"f32\", \"f16\", \"bf16\", "
               "got \"" +
                   name + "\"");
}

void parseModelConfig(const MetaReader &reader, const json &root,
                      ModelMetadata &meta) {
  const json &model = reader.objectAt(root, "", "model");
  meta.architectureName = reader.stringAt(model, "model", "architecture");
  if (meta.architectureName == "megabyte")
    meta.architecture = Architecture::Megabyte;
  else if (meta.architectureName == "megabyte-lucidrains")
    meta.architecture = Architecture::MegabyteLucidrains;
  else
    reader.error("model.architecture",
                 "expected \"megabyte\" or \"megabyte-lucidrains\", got \"" +
                     meta.architectureName + "\"");
  meta.vocabSize = static_cast<int32_t>(
      reader.integerAt(model, "model", "vocab_size", 1, int64_t(1) << 24));
  if (reader.optionalMember(model, "model", "pad_id"))
    meta.padId = static_cast<int32_t>(
        reader.integerAt(model, "model", "pad_id", 0, meta.vocabSize - 1));
  const json &stages = reader.arrayAt(model, "model", "stages");
  if (stages.size() < 2)
    reader.error("model.stages", "expected at least 2 stages, got " +
                                     std::to_string(stages.size()));
  meta.maxLength = 1;
  meta.stages.resize(stages.size());
  for (size_t s = 0; s < stages.size(); ++s) {
    std::string path = indexPath("model.stages", s);
    int64_t seqLen =
        reader.integerAt(stages[s], path, "seq_len", 1, int64_t(1) << 30);
    if (meta.maxLength > (int64_t(1) << 40) / seqLen)
      reader.error("model.stages", "the product of seq_len exceeds 2^40");
    meta.maxLength *= seqLen;
    meta.stages[s].seqLen = seqLen;
  }
}

/// weights.tensors[i].derived: {"from": an earlier stored F32 tensor of the
/// same shape, "convert": "bf16"}, the tensor BF16.
void parseDerivedWeight(const MetaReader &reader, const json &entry,
                        const std::string &path, const ModelMetadata &meta,
                        WeightTensor &tensor) {
  std::string derivedPath = keyPath(path, "derived");
  const json &derived = reader.objectAt(entry, path, "derived");
  std::string from = reader.stringAt(derived, derivedPath, "from");
  std::string convert = reader.stringAt(derived, derivedPath, "convert");
  if (convert != "bf16")
    reader.error(keyPath(derivedPath, "convert"),
                 "expected \"bf16\" (f32 rounded to nearest even), got \"" +
                     convert + "\"");
  if (tensor.dtype != DType::BF16)
    reader.error(keyPath(path, "dtype"),
                 "a tensor derived by \"convert\": \"bf16\" is BF16, got " +
                     std::string(weightDTypeName(tensor.dtype)));
  // `meta` holds the tensors listed before this one.
  size_t index = meta.findWeight(from);
  if (index == meta.weights.size() || meta.weights[index].derived)
    reader.error(keyPath(derivedPath, "from"),
                 "\"" + from +
                     "\" is not a stored tensor listed before this one");
  const WeightTensor &source = meta.weights[index];
  if (source.dtype != DType::F32 || source.shape != tensor.shape)
    reader.error(keyPath(derivedPath, "from"),
                 "\"" + from + "\" is " + weightDTypeName(source.dtype) + " " +
                     shapeToString(source.shape) + "; a bf16 rounding of " +
                     shapeToString(tensor.shape) + " needs F32 " +
                     shapeToString(tensor.shape));
  if (reader.optionalMember(entry, path, "offset"))
    reader.error(keyPath(path, "offset"),
                 "a derived tensor is stored nowhere (no offset)");
  tensor.derived = true;
  tensor.source = index;
}

void parseWeights(const MetaReader &reader, const json &root,
                  ModelMetadata &meta) {
  const json &weights = reader.objectAt(root, "", "weights");
  std::string mode = reader.stringAt(weights, "weights", "mode");
  if (mode != "embedded" && mode != "external")
    reader.error("weights.mode",
                 "expected \"embedded\" or \"external\", got \"" + mode + "\"");
  meta.weightsEmbedded = mode == "embedded";
  if (!meta.weightsEmbedded) {
    meta.weightsFile = reader.stringAt(weights, "weights", "file");
    if (meta.weightsFile.empty())
      reader.error("weights.file", "is empty");
  }
  const json &tensors = reader.arrayAt(weights, "weights", "tensors");
  std::set<std::string> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string path = indexPath("weights.tensors", i);
    WeightTensor tensor;
    tensor.name = reader.stringAt(tensors[i], path, "name");
    if (!names.insert(tensor.name).second)
      reader.error(keyPath(path, "name"),
                   "tensor \"" + tensor.name + "\" is listed twice");
    tensor.dtype = parseWeightDType(reader, tensors[i], path);
    tensor.shape = reader.shapeAt(tensors[i], path);
    uint64_t bytes =
        uint64_t(elementCount(tensor.shape)) * dtypeSize(tensor.dtype);
    if (reader.optionalMember(tensors[i], path, "derived")) {
      parseDerivedWeight(reader, tensors[i], path, meta, tensor);
      tensor.size = bytes;
      meta.weights.push_back(std::move(tensor));
      continue;
    }
    if (meta.weightsEmbedded) {
      tensor.offset = reader.integerAt(tensors[i], path, "offset", 0,
                                       std::numeric_limits<int64_t>::max());
      tensor.size = reader.integerAt(tensors[i], path, "size", 0,
                                     std::numeric_limits<int64_t>::max());
      if (tensor.size != bytes)
        reader.error(keyPath(path, "size"),
                     std::to_string(tensor.size) + " bytes, but shape " +
                         shapeToString(tensor.shape) + " of " +
                         weightDTypeName(tensor.dtype) + " needs " +
                         std::to_string(bytes));
    }
    tensor.size = bytes;
    meta.weights.push_back(std::move(tensor));
  }
}

void parseEntryPoints(const MetaReader &reader, const json &root,
                      ModelMetadata &meta) {
  const json &entries = reader.arrayAt(root, "", "entry_points");
  std::set<std::string> entryNames;
  for (size_t e = 0; e < entries.size(); ++e) {
    EntryPoint entry;
    entry.jsonPath = indexPath("entry_points", e);
    entry.name = reader.stringAt(entries[e], entry.jsonPath, "name");
    if (!entryNames.insert(entry.name).second)
      reader.error(keyPath(entry.jsonPath, "name"),
                   "entry point \"" + entry.name + "\" is listed twice");
    entry.symbol = reader.stringAt(entries[e], entry.jsonPath, "symbol");
    if (entry.symbol.empty())
      reader.error(keyPath(entry.jsonPath, "symbol"), "is empty");
    std::string argsPath = keyPath(entry.jsonPath, "args");
    const json &args = reader.arrayAt(entries[e], entry.jsonPath, "args");
    std::set<std::string> argNames;
    for (size_t a = 0; a < args.size(); ++a) {
      std::string path = indexPath(argsPath, a);
      EntryArg arg;
      std::string kind = reader.stringAt(args[a], path, "kind");
      if (kind == "context")
        arg.kind = ArgKind::Context;
      else if (kind == "weight")
        arg.kind = ArgKind::Weight;
      else if (kind == "input")
        arg.kind = ArgKind::Input;
      else if (kind == "output")
        arg.kind = ArgKind::Output;
      else if (kind == "inout")
        arg.kind = ArgKind::InOut;
      else
        reader.error(keyPath(path, "kind"),
                     "expected \"context\", \"weight\", \"input\", \"output\" "
                     "or \"inout\", got \"" +
                         kind + "\"");
      if ((arg.kind == ArgKind::Context) != (a == 0))
        reader.error(keyPath(path, "kind"),
                     a == 0 ? "args[0] must be the context"
                            : "only args[0] may be the context");
      if (arg.kind == ArgKind::Weight) {
        arg.name = reader.stringAt(args[a], path, "name");
        size_t index = meta.findWeight(arg.name);
        if (index == meta.weights.size())
          reader.error(keyPath(path, "name"),
                       "weight \"" + arg.name + "\" is not in weights.tensors");
        // Derived tensors exist on CUDA only (docs/artifact.md).
        if (meta.weights[index].derived)
          reader.error(keyPath(path, "name"),
                       "weight \"" + arg.name +
                           "\" is a derived tensor: only CUDA plans read "
                           "those ({\"weight\": NAME}), entry points take "
                           "stored tensors");
        arg.weightIndex = index;
      } else if (arg.kind != ArgKind::Context) {
        arg.name = reader.stringAt(args[a], path, "name");
        if (!argNames.insert(arg.name).second)
          reader.error(keyPath(path, "name"),
                       "argument \"" + arg.name + "\" is listed twice");
        arg.dtype = parseBufferDType(reader, args[a], path);
        arg.shape = reader.shapeAt(args[a], path);
      }
      entry.args.push_back(std::move(arg));
    }
    if (entry.args.empty())
      reader.error(argsPath, "is empty: args[0] must be the context");
    meta.entryPoints.push_back(std::move(entry));
  }
}

void parseGeneration(const MetaReader &reader, const json &root,
                     ModelMetadata &meta) {
  const json *generation = reader.optionalMember(root, "", "generation");
  if (!generation)
    return;
  meta.hasGeneration = true;
  const json &stages = reader.arrayAt(*generation, "generation", "stages");
  if (stages.size() != meta.stages.size())
    reader.error("generation.stages", std::to_string(stages.size()) +
                                          " stages, but model.stages "
                                          "has " +
                                          std::to_string(meta.stages.size()));
  meta.startToken = reader.booleanAt(*generation, "generation", "start_token");
  bool expectStart = meta.architecture == Architecture::MegabyteLucidrains;
  if (meta.startToken != expectStart)
    reader.error("generation.start_token",
                 std::string("architecture \"") + meta.architectureName +
                     "\" needs " + (expectStart ? "true" : "false"));
  constexpr int64_t maxDim = int64_t(1) << 30;
  int64_t unitsBelow = 1;
  for (size_t s = stages.size(); s-- > 0;) {
    std::string path = indexPath("generation.stages", s);
    GenerationStage &stage = meta.stages[s];
    stage.dim = reader.integerAt(stages[s], path, "dim", 1, maxDim);
    stage.positions = reader.integerAt(stages[s], path, "positions", 1, maxDim);
    stage.layers = reader.integerAt(stages[s], path, "layers", 0, maxDim);
    stage.kvWidth = reader.integerAt(stages[s], path, "kv_width", 0, maxDim);
    stage.units = reader.integerAt(stages[s], path, "units", 1,
                                   std::numeric_limits<int64_t>::max());
    int64_t expectedPositions = stage.seqLen + (meta.startToken ? 1 : 0);
    if (stage.positions != expectedPositions)
      reader.error(keyPath(path, "positions"),
                   "expected " + std::to_string(expectedPositions) +
                       " (model.stages[" + std::to_string(s) + "].seq_len " +
                       std::to_string(stage.seqLen) +
                       (meta.startToken ? " + 1 start token)" : ")") +
                       ", got " + std::to_string(stage.positions));
    if (stage.units != unitsBelow)
      reader.error(keyPath(path, "units"),
                   "expected " + std::to_string(unitsBelow) +
                       " (the product of the finer stages' seq_len), got " +
                       std::to_string(stage.units));
    unitsBelow *= stage.seqLen;
  }
}

/// Checks that entry `entry` has a non-weight argument `name` of `kind`,
/// `dtype` and `shape` (an empty shape matches any, for the score window).
void expectArg(const MetaReader &reader, const EntryPoint &entry,
               const std::string &name, ArgKind kind, DType dtype,
               const std::vector<int64_t> &shape) {
  std::string wanted = std::string(argKindName(kind)) + " \"" + name +
                       "\" of " + dtypeName(dtype) + " " + shapeToString(shape);
  int index = entry.findArg(name);
  if (index < 0)
    reader.error(keyPath(entry.jsonPath, "args"),
                 "entry point \"" + entry.name + "\" needs an " + wanted);
  const EntryArg &arg = entry.args[index];
  std::string path = indexPath(keyPath(entry.jsonPath, "args"), index);
  if (arg.kind != kind || arg.dtype != dtype || arg.shape != shape)
    reader.error(path, "entry point \"" + entry.name + "\" needs an " + wanted +
                           ", got " + argKindName(arg.kind) + " of " +
                           dtypeName(arg.dtype) + " " +
                           shapeToString(arg.shape));
}

void validateScoreEntry(const MetaReader &reader, const ModelMetadata &meta) {
  const EntryPoint *score = meta.findEntry("score");
  if (!score)
    return;
  int bytesIndex = score->findArg("bytes");
  if (bytesIndex < 0 || score->args[bytesIndex].shape.size() != 2 ||
      score->args[bytesIndex].shape[0] < 1 ||
      score->args[bytesIndex].shape[1] < 1)
    reader.error(keyPath(score->jsonPath, "args"),
                 "entry point \"score\" needs an input \"bytes\" of i32 [B, "
                 "T] with B, T >= 1");
  int64_t batch = score->args[bytesIndex].shape[0];
  int64_t window = score->args[bytesIndex].shape[1];
  expectArg(reader, *score, "bytes", ArgKind::Input, DType::I32,
            {batch, window});
  expectArg(reader, *score, "logp", ArgKind::Output, DType::F32,
            {batch, window, meta.vocabSize});
}

void validateGenerationEntries(const MetaReader &reader,
                               const ModelMetadata &meta) {
  if (!meta.hasGeneration)
    return;
  auto require = [&](const std::string &name) -> const EntryPoint & {
    const EntryPoint *entry = meta.findEntry(name);
    if (!entry)
      reader.error("entry_points", "generation needs an entry point \"" + name +
                                       "\", and there is none");
    return *entry;
  };
  size_t last = meta.stages.size() - 1;
  for (size_t s = 0; s <= last; ++s) {
    const GenerationStage &stage = meta.stages[s];
    std::string suffix = "_" + std::to_string(s);
    const EntryPoint &embed = require("embed" + suffix);
    expectArg(reader, embed, "unit", ArgKind::Input, DType::I32, {stage.units});
    expectArg(reader, embed, "position", ArgKind::Input, DType::I64, {1});
    expectArg(reader, embed, "token", ArgKind::Output, DType::F32, {stage.dim});
    const EntryPoint &step = require("step" + suffix);
    expectArg(reader, step, "token", ArgKind::Input, DType::F32, {stage.dim});
    expectArg(reader, step, "context", ArgKind::Input, DType::F32, {stage.dim});
    expectArg(reader, step, "position", ArgKind::Input, DType::I64, {1});
    expectArg(reader, step, "hidden", ArgKind::Output, DType::F32, {stage.dim});
    if (s < last) {
      const GenerationStage &next = meta.stages[s + 1];
      const EntryPoint &project = require("project" + suffix);
      expectArg(reader, project, "hidden", ArgKind::Input, DType::F32,
                {stage.dim});
      expectArg(reader, project, "context", ArgKind::Output, DType::F32,
                {next.seqLen, next.dim});
    }
  }
  const EntryPoint &head = require("head");
  expectArg(reader, head, "hidden", ArgKind::Input, DType::F32,
            {meta.stages[last].dim});
  expectArg(reader, head, "logp", ArgKind::Output, DType::F32,
            {meta.vocabSize});
}

} // namespace

ModelMetadata parseModelMetadata(const std::string &artifactPath,
                                 const uint8_t *data, size_t size) {
  MetaReader reader(artifactPath);
  ModelMetadata meta;
  meta.text.assign(reinterpret_cast<const char *>(data), size);
  try {
    meta.document = json::parse(meta.text);
  } catch (const json::parse_error &error) {
    reader.error("", std::string("not valid JSON: ") + error.what());
  }
  const json &root = meta.document;
  if (!root.is_object())
    reader.error("",
                 "expected a JSON object, got " + MetaReader::describe(root));
  meta.formatVersion = static_cast<uint32_t>(
      reader.integerAt(root, "", "format_version", 1, MBX_FORMAT_VERSION));
  meta.compiler = reader.stringAt(root, "", "compiler");
  const json &targets = reader.arrayAt(root, "", "targets");
  for (size_t i = 0; i < targets.size(); ++i)
    reader.stringAt(targets[i], indexPath("targets", i), "kind");
  parseModelConfig(reader, root, meta);
  parseWeights(reader, root, meta);
  parseEntryPoints(reader, root, meta);
  parseGeneration(reader, root, meta);
  validateScoreEntry(reader, meta);
  validateGenerationEntries(reader, meta);
  return meta;
}

} // namespace mbrt
