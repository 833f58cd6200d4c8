//===- ModelConfig.cpp - config.json of a MEGABYTE model ------------------===//
//
// Reads config.json against the schema in docs/config.md. Every problem is
// reported as "<file>: <key path>: <problem>"; nothing here asserts on input.
//
//===----------------------------------------------------------------------===//

#include "mbc/Import/ModelConfig.h"
#include "mbc/Import/StrictJson.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <limits>
#include <optional>

using namespace llvm;

namespace mbc {

StringRef stringifyArchitecture(Architecture architecture) {
  switch (architecture) {
  case Architecture::Megabyte:
    return "megabyte";
  case Architecture::MegabyteLucidrains:
    return "megabyte-lucidrains";
  }
  return "unknown";
}

StringRef stringifyNormKind(NormKind norm) {
  switch (norm) {
  case NormKind::LayerNorm:
    return "layernorm";
  case NormKind::RMSNorm:
    return "rmsnorm";
  }
  return "unknown";
}

StringRef stringifyActivation(Activation activation) {
  switch (activation) {
  case Activation::Gelu:
    return "gelu";
  case Activation::GeluTanh:
    return "gelu_tanh";
  case Activation::Relu:
    return "relu";
  }
  return "unknown";
}

int64_t ModelConfig::bytesPerPosition(size_t stage) const {
  int64_t bytes = 1;
  for (size_t s = stage + 1; s < stages.size(); ++s)
    bytes *= stages[s].seqLen;
  return bytes;
}

int64_t ModelConfig::maxSequenceLength() const {
  int64_t length = 1;
  for (const StageConfig &stage : stages)
    length *= stage.seqLen;
  return length;
}

namespace {

/// No tensor, activation or parameter total may exceed this many elements:
/// far beyond any trainable model, small enough that products of a few such
/// numbers are still checked rather than silently wrapped.
constexpr int64_t maxElements = int64_t(1) << 40;
/// More stages or layers than this is a malformed file, not a model, and
/// would only make expectedParameters() build millions of names.
constexpr size_t maxStages = 16;
constexpr int64_t maxDepth = 4096;
/// A config.json is a few hundred bytes; refuse to parse anything huge.
constexpr uint64_t maxConfigFileBytes = 16 << 20;

constexpr int64_t int64Max = std::numeric_limits<int64_t>::max();

const char *const topLevelKeys[] = {
    "architecture", "vocab_size", "stages",         "ff_mult",   "norm",
    "norm_eps",     "activation", "pos_emb",        "rotary",    "rotary_theta",
    "token_shift",  "final_norm", "tie_embeddings", "head_bias", "pad_id"};
const char *const stageKeys[] = {"dim", "depth", "heads", "dim_head",
                                 "seq_len"};

/// One factor of a size product, e.g. {"vocab_size", 256, "vocab_size"}.
struct SizeFactor {
  StringRef name;
  int64_t value;
  /// The config key the value comes from; empty for constants.
  std::string keyPath;
};

/// A product of config values that must stay within maxElements.
struct SizeCheck {
  StringRef what;
  SmallVector<SizeFactor, 4> factors;
};

class ConfigReader {
public:
  ConfigReader(StringRef path, const StrictJsonDocument &document)
      : path(path), document(document) {}

  Expected<ModelConfig> read();

private:
  Error fail(StringRef keyPath, const Twine &problem) const {
    return createStringError((path + ": " + keyPath + ": " + problem).str());
  }

  Error checkKnownKeys(const json::Object &object, StringRef objectPath,
                       ArrayRef<const char *> allowed) const;

  /// Reads an integer in [min, max]. An absent key yields std::nullopt.
  Expected<std::optional<int64_t>> readInteger(const json::Object &object,
                                               StringRef objectPath,
                                               StringRef key, int64_t min,
                                               int64_t max) const;
  Expected<int64_t> readRequiredInteger(const json::Object &object,
                                        StringRef objectPath, StringRef key,
                                        int64_t min, int64_t max) const;
  Expected<std::optional<bool>> readBool(const json::Object &object,
                                         StringRef key) const;
  Expected<std::optional<double>> readPositiveNumber(const json::Object &object,
                                                     StringRef key) const;
  /// Reads a string that must be one of `choices`; returns its index.
  Expected<std::optional<size_t>> readChoice(const json::Object &object,
                                             StringRef key,
                                             ArrayRef<StringRef> choices) const;

  Error readStages(const json::Object &root, ModelConfig &config) const;
  Error readOptionalFields(const json::Object &root, ModelConfig &config) const;
  Error checkLucidrainsRequirements(const json::Object &root,
                                    const ModelConfig &config) const;
  Error checkPaperDivisibility(const ModelConfig &config) const;
  Error checkSizes(const ModelConfig &config) const;
  Error checkSize(const SizeCheck &check) const;

  StringRef path;
  const StrictJsonDocument &document;
};

std::string stagePath(size_t stage) { return joinIndexPath("stages", stage); }

std::string stageKeyPath(size_t stage, StringRef key) {
  return joinKeyPath(stagePath(stage), key);
}

Error ConfigReader::checkKnownKeys(const json::Object &object,
                                   StringRef objectPath,
                                   ArrayRef<const char *> allowed) const {
  // Sorted so that the reported key does not depend on hash order.
  std::vector<StringRef> unknown;
  for (const auto &member : object)
    if (!is_contained(allowed, StringRef(member.first)))
      unknown.push_back(member.first);
  if (unknown.empty())
    return Error::success();
  llvm::sort(unknown);
  std::string allowedList = join(allowed.begin(), allowed.end(), ", ");
  return fail(joinKeyPath(objectPath, unknown.front()),
              "unknown key (expected one of " + allowedList + ")");
}

Expected<std::optional<int64_t>>
ConfigReader::readInteger(const json::Object &object, StringRef objectPath,
                          StringRef key, int64_t min, int64_t max) const {
  const json::Value *value = object.get(key);
  if (!value)
    return std::nullopt;
  std::optional<int64_t> integer = document.getInteger(*value);
  if (integer && *integer >= min && *integer <= max)
    return integer;
  std::string expected;
  if (max == int64Max && min == 1)
    expected = "a positive integer";
  else if (max == int64Max && min == 0)
    expected = "a non-negative integer";
  else
    expected = formatv("an integer in [{0}, {1}]", min, max).str();
  return fail(joinKeyPath(objectPath, key),
              "expected " + expected + ", got " + document.describe(*value));
}

Expected<int64_t> ConfigReader::readRequiredInteger(const json::Object &object,
                                                    StringRef objectPath,
                                                    StringRef key, int64_t min,
                                                    int64_t max) const {
  Expected<std::optional<int64_t>> value =
      readInteger(object, objectPath, key, min, max);
  if (!value)
    return value.takeError();
  if (!*value)
    return fail(joinKeyPath(objectPath, key), "required key is missing");
  return **value;
}

Expected<std::optional<bool>> ConfigReader::readBool(const json::Object &object,
                                                     StringRef key) const {
  const json::Value *value = object.get(key);
  if (!value)
    return std::nullopt;
  if (std::optional<bool> flag = value->getAsBoolean())
    return flag;
  return fail(key, "expected true or false, got " + document.describe(*value));
}

Expected<std::optional<double>>
ConfigReader::readPositiveNumber(const json::Object &object,
                                 StringRef key) const {
  const json::Value *value = object.get(key);
  if (!value)
    return std::nullopt;
  std::optional<double> number = value->getAsNumber();
  if (number && std::isfinite(*number) && *number > 0)
    return number;
  return fail(key,
              "expected a positive number, got " + document.describe(*value));
}

Expected<std::optional<size_t>>
ConfigReader::readChoice(const json::Object &object, StringRef key,
                         ArrayRef<StringRef> choices) const {
  const json::Value *value = object.get(key);
  if (!value)
    return std::nullopt;
  std::optional<StringRef> text = value->getAsString();
  if (text)
    for (auto [index, choice] : enumerate(choices))
      if (*text == choice)
        return index;
  std::string quoted;
  for (StringRef choice : choices)
    quoted += (quoted.empty() ? "\"" : ", \"") + choice.str() + "\"";
  return fail(key, "expected one of " + quoted + ", got " +
                       document.describe(*value));
}

Error ConfigReader::readStages(const json::Object &root,
                               ModelConfig &config) const {
  const json::Value *stagesValue = root.get("stages");
  if (!stagesValue)
    return fail("stages", "required key is missing");
  const json::Array *stages = stagesValue->getAsArray();
  if (!stages)
    return fail("stages", "expected an array of stage objects, got " +
                              document.describe(*stagesValue));
  if (stages->size() < 2 || stages->size() > maxStages)
    return fail("stages", formatv("expected 2 to {0} stages, got {1}",
                                  maxStages, stages->size())
                              .str());

  for (auto [index, stageValue] : enumerate(*stages)) {
    std::string objectPath = stagePath(index);
    const json::Object *stage = stageValue.getAsObject();
    if (!stage)
      return fail(objectPath, "expected an object with dim, depth, heads, "
                              "dim_head and seq_len, got " +
                                  document.describe(stageValue));
    if (Error err = checkKnownKeys(*stage, objectPath, stageKeys))
      return err;
    StageConfig parsed;
    struct IntegerField {
      StringRef key;
      int64_t min, max;
      int64_t &out;
    } fields[] = {{"dim", 1, int64Max, parsed.dim},
                  {"depth", 0, maxDepth, parsed.depth},
                  {"heads", 1, int64Max, parsed.heads},
                  {"dim_head", 1, int64Max, parsed.dimHead},
                  {"seq_len", 1, int64Max, parsed.seqLen}};
    for (IntegerField &field : fields) {
      Expected<int64_t> value = readRequiredInteger(
          *stage, objectPath, field.key, field.min, field.max);
      if (!value)
        return value.takeError();
      field.out = *value;
    }
    config.stages.push_back(parsed);
  }
  return Error::success();
}

Error ConfigReader::readOptionalFields(const json::Object &root,
                                       ModelConfig &config) const {
  bool lucidrains = config.architecture == Architecture::MegabyteLucidrains;
  // Defaults per architecture (docs/config.md); for megabyte-lucidrains they
  // are the only values the architecture allows.
  config.norm = lucidrains ? NormKind::RMSNorm : NormKind::LayerNorm;
  config.normEps = lucidrains ? 1e-8 : 1e-5;
  config.activation = lucidrains ? Activation::Gelu : Activation::Relu;
  config.tokenShift = lucidrains;
  config.finalNorm = true;
  config.headBias = lucidrains;

  if (Expected<std::optional<int64_t>> ffMult =
          readInteger(root, "", "ff_mult", 1, int64Max)) {
    config.ffMult = ffMult->value_or(config.ffMult);
  } else {
    return ffMult.takeError();
  }

  if (auto norm = readChoice(root, "norm", {"layernorm", "rmsnorm"})) {
    if (*norm)
      config.norm = **norm == 0 ? NormKind::LayerNorm : NormKind::RMSNorm;
  } else {
    return norm.takeError();
  }
  if (auto activation =
          readChoice(root, "activation", {"gelu", "gelu_tanh", "relu"})) {
    if (*activation)
      config.activation = Activation(**activation);
  } else {
    return activation.takeError();
  }

  struct NumberField {
    StringRef key;
    double &out;
  } numbers[] = {{"norm_eps", config.normEps},
                 {"rotary_theta", config.rotaryTheta}};
  for (NumberField &field : numbers) {
    Expected<std::optional<double>> value = readPositiveNumber(root, field.key);
    if (!value)
      return value.takeError();
    field.out = value->value_or(field.out);
  }

  struct BoolField {
    StringRef key;
    bool &out;
  } flags[] = {{"pos_emb", config.posEmb},
               {"rotary", config.rotary},
               {"token_shift", config.tokenShift},
               {"final_norm", config.finalNorm},
               {"tie_embeddings", config.tieEmbeddings},
               {"head_bias", config.headBias}};
  for (BoolField &field : flags) {
    Expected<std::optional<bool>> value = readBool(root, field.key);
    if (!value)
      return value.takeError();
    field.out = value->value_or(field.out);
  }

  Expected<std::optional<int64_t>> padId =
      readInteger(root, "", "pad_id", 0, config.vocabSize - 1);
  if (!padId)
    return padId.takeError();
  config.padId = padId->value_or(0);
  return Error::success();
}

Error ConfigReader::checkLucidrainsRequirements(
    const json::Object &root, const ModelConfig &config) const {
  // Only keys the file sets can differ from the required values, since the
  // defaults are those values.
  auto require = [&](StringRef key, bool satisfied,
                     StringRef requiredValue) -> Error {
    if (satisfied)
      return Error::success();
    const json::Value *value = root.get(key);
    return fail(key, "megabyte-lucidrains requires " + requiredValue +
                         ", got " + (value ? document.describe(*value) : ""));
  };
  if (Error err =
          require("norm", config.norm == NormKind::RMSNorm, "\"rmsnorm\""))
    return err;
  if (Error err = require("activation", config.activation == Activation::Gelu,
                          "\"gelu\" (MEGABYTE-pytorch uses exact GELU)"))
    return err;
  if (Error err = require("token_shift", config.tokenShift, "true"))
    return err;
  if (Error err = require("final_norm", config.finalNorm, "true"))
    return err;
  if (Error err = require("head_bias", config.headBias, "true"))
    return err;
  return require("tie_embeddings", !config.tieEmbeddings,
                 "false (its head is untied)");
}

Error ConfigReader::checkPaperDivisibility(const ModelConfig &config) const {
  // docs/config.md also asks D_{s-1} % seq_len_s == 0 (equal slices of the
  // parent); that follows from this check for s-1, since seq_len_s divides
  // U_{s-1}.
  for (size_t s = 0; s < config.stages.size(); ++s) {
    int64_t dim = config.stages[s].dim;
    int64_t bytes = config.bytesPerPosition(s);
    if (dim % bytes != 0)
      return fail(stageKeyPath(s, "dim"),
                  formatv("megabyte needs stage {0}'s dim ({1}) to be a "
                          "multiple of its bytes per position U_{0} = {2}, so "
                          "each byte gets dim / U_{0} embedding features",
                          s, dim, bytes)
                      .str());
  }
  return Error::success();
}

Error ConfigReader::checkSize(const SizeCheck &check) const {
  int64_t product = 1;
  bool overflow = false;
  for (const SizeFactor &factor : check.factors)
    overflow |= MulOverflow(product, factor.value, product);
  if (!overflow && product <= maxElements)
    return Error::success();
  // The largest factor is the likely typo, so its key heads the message.
  const SizeFactor *blamed = nullptr;
  std::string names, values;
  for (const SizeFactor &factor : check.factors) {
    if (!factor.keyPath.empty() && (!blamed || factor.value > blamed->value))
      blamed = &factor;
    names += (names.empty() ? "" : " * ") + factor.name.str();
    values += (values.empty() ? "" : " * ") + std::to_string(factor.value);
  }
  std::string verdict =
      overflow ? std::string("overflows 64 bits")
               : "is " + std::to_string(product) + " elements, more than 2^40";
  return fail(blamed ? StringRef(blamed->keyPath) : StringRef("stages"),
              check.what + " (" + names + " = " + values + ") " + verdict);
}

Error ConfigReader::checkSizes(const ModelConfig &config) const {
  const size_t numStages = config.stages.size();
  const bool lucidrains =
      config.architecture == Architecture::MegabyteLucidrains;
  const SizeFactor vocab{"vocab_size", config.vocabSize, "vocab_size"};
  const SizeFactor ffMult{"ff_mult", config.ffMult, "ff_mult"};
  auto stageFactor = [&](StringRef name, size_t s, StringRef key,
                         int64_t value) {
    return SizeFactor{name, value, stageKeyPath(s, key)};
  };
  const SizeFactor lastDim =
      stageFactor("last dim", numStages - 1, "dim", config.stages.back().dim);

  // Positions of stage s over a whole sequence: prod(seq_len[0..s]). The
  // last one is T; checking each bounds every U_s as well.
  std::vector<int64_t> positions;
  int64_t running = 1;
  for (size_t s = 0; s < numStages; ++s) {
    if (Error err = checkSize(
            {"sequence length up to this stage",
             {stageFactor("positions of the stages above", s > 0 ? s - 1 : 0,
                          "seq_len", running),
              stageFactor("seq_len", s, "seq_len", config.stages[s].seqLen)}}))
      return err;
    running *= config.stages[s].seqLen;
    positions.push_back(running);
  }

  for (size_t s = 0; s < numStages; ++s) {
    const StageConfig &stage = config.stages[s];
    const SizeFactor dim = stageFactor("dim", s, "dim", stage.dim);
    const SizeFactor heads = stageFactor("heads", s, "heads", stage.heads);
    const SizeFactor dimHead =
        stageFactor("dim_head", s, "dim_head", stage.dimHead);
    const SizeFactor stagePositions =
        stageFactor("positions", s, "seq_len", positions[s]);
    std::vector<SizeCheck> checks = {
        {"attention width", {heads, dimHead}},
        {"key/value weight", {{"2", 2, ""}, heads, dimHead, dim}},
        {"FFN weight", {ffMult, dim, dim}},
        {"FFN activations", {stagePositions, ffMult, dim}},
        {"attention activations", {stagePositions, heads, dimHead}},
    };
    const int64_t bytes = config.bytesPerPosition(s);
    if (lucidrains && s + 1 < numStages) {
      const StageConfig &next = config.stages[s + 1];
      SizeFactor patch = stageFactor("U", s + 1, "seq_len", bytes);
      checks.push_back({"patch embedding weight", {patch, lastDim, dim}});
      checks.push_back(
          {"projection to the next stage",
           {dim, stageFactor("next seq_len", s + 1, "seq_len", next.seqLen),
            stageFactor("next dim", s + 1, "dim", next.dim)}});
    }
    if (lucidrains && s + 1 == numStages)
      checks.push_back({"token embedding", {vocab, dim}});
    if (!lucidrains) {
      SizeFactor embeddingWidth =
          stageFactor("dim / U", s, "dim", stage.dim / bytes);
      checks.push_back({"byte embedding", {vocab, embeddingWidth}});
      if (s == 0)
        checks.push_back(
            {"position embedding",
             {stageFactor("T", numStages - 1, "seq_len", positions.back()),
              embeddingWidth}});
      else
        checks.push_back(
            {"from_parent weight",
             {dim, stageFactor("parent dim / seq_len", s - 1, "dim",
                               config.stages[s - 1].dim / stage.seqLen)}});
      if (s + 1 == numStages)
        checks.push_back({"head weight", {vocab, dim}});
    }
    for (const SizeCheck &check : checks)
      if (Error err = checkSize(check))
        return err;
  }

  // Every single tensor is now within bounds, so the shapes below are exact;
  // their sum is what is left to check.
  int64_t total = 0;
  for (const ParameterSpec &parameter : expectedParameters(config)) {
    int64_t elements = 1;
    for (int64_t extent : parameter.shape)
      elements *= extent;
    if (AddOverflow(total, elements, total) || total > maxElements)
      return fail("stages", "the model has more than 2^40 parameters in "
                            "total (reached at tensor '" +
                                parameter.name + "')");
  }
  return Error::success();
}

Expected<ModelConfig> ConfigReader::read() {
  const json::Object *root = document.root().getAsObject();
  if (!root)
    return createStringError(
        (path + ": expected a JSON object at the top level, got " +
         document.describe(document.root()))
            .str());
  if (Error err = checkKnownKeys(*root, "", topLevelKeys))
    return err;

  ModelConfig config;
  auto architecture =
      readChoice(*root, "architecture", {"megabyte", "megabyte-lucidrains"});
  if (!architecture)
    return architecture.takeError();
  if (!*architecture)
    return fail("architecture", "required key is missing");
  config.architecture = **architecture == 0 ? Architecture::Megabyte
                                            : Architecture::MegabyteLucidrains;

  Expected<int64_t> vocabSize =
      readRequiredInteger(*root, "", "vocab_size", 2, 65536);
  if (!vocabSize)
    return vocabSize.takeError();
  config.vocabSize = *vocabSize;

  if (Error err = readStages(*root, config))
    return err;
  if (Error err = readOptionalFields(*root, config))
    return err;

  if (config.architecture == Architecture::MegabyteLucidrains) {
    if (Error err = checkLucidrainsRequirements(*root, config))
      return err;
  }
  if (config.rotary) {
    // rotate_half splits each head in two equal halves.
    for (auto [index, stage] : enumerate(config.stages))
      if (stage.dimHead % 2 != 0)
        return fail(
            stageKeyPath(index, "dim_head"),
            formatv("rotary needs an even head width, got {0}", stage.dimHead)
                .str());
  }
  // Sizes first: the divisibility check computes U_s, which must not
  // overflow.
  if (Error err = checkSizes(config))
    return err;
  if (config.architecture == Architecture::Megabyte) {
    if (Error err = checkPaperDivisibility(config))
      return err;
  }
  return config;
}

} // namespace

Expected<ModelConfig> parseModelConfig(StringRef text, StringRef path) {
  if (text.empty())
    return createStringError((path + ": file is empty").str());
  Expected<StrictJsonDocument> document = StrictJsonDocument::parse(text);
  if (!document)
    return createStringError(
        (path + ": " + toString(document.takeError())).str());
  return ConfigReader(path, *document).read();
}

Expected<ModelConfig> readModelConfig(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createStringError(
        (path + ": cannot read: " + buffer.getError().message()).str());
  uint64_t size = (*buffer)->getBufferSize();
  if (size > maxConfigFileBytes)
    return createStringError(
        formatv("{0}: file is {1} bytes, more than a config can be ({2})", path,
                size, maxConfigFileBytes)
            .str());
  return parseModelConfig((*buffer)->getBuffer(), path);
}

//===----------------------------------------------------------------------===//
// Expected tensors
//===----------------------------------------------------------------------===//

namespace {

/// Collects specs; names are built from Twines so call sites read like the
/// state_dict keys they produce.
class ParameterList {
public:
  explicit ParameterList(std::vector<ParameterSpec> &parameters)
      : parameters(parameters) {}

  void add(const Twine &name, std::vector<int64_t> shape,
           bool optional = false) {
    parameters.push_back({name.str(), std::move(shape), optional});
  }

private:
  std::vector<ParameterSpec> &parameters;
};

void addPaperParameters(const ModelConfig &config, ParameterList &list) {
  const int64_t vocab = config.vocabSize;
  const size_t numStages = config.stages.size();
  const bool normHasBias = config.norm == NormKind::LayerNorm;
  auto addNorm = [&](const Twine &prefix, int64_t width) {
    list.add(prefix + ".weight", {width});
    if (normHasBias)
      list.add(prefix + ".bias", {width});
  };

  for (size_t s = 0; s < numStages; ++s) {
    const StageConfig &stage = config.stages[s];
    const std::string prefix = "stages." + std::to_string(s);
    const int64_t dim = stage.dim;
    const int64_t embeddingWidth = dim / config.bytesPerPosition(s);
    const int64_t attentionWidth = stage.heads * stage.dimHead;
    const int64_t hidden = config.ffMult * dim;

    list.add(prefix + ".byte_embedding.weight", {vocab, embeddingWidth});
    if (s == 0)
      list.add(prefix + ".position_embedding.weight",
               {config.maxSequenceLength(), embeddingWidth});
    else if (config.posEmb)
      list.add(prefix + ".position_embedding.weight", {stage.seqLen, dim});
    list.add(prefix + ".pad", {dim});
    if (s > 0)
      list.add(prefix + ".from_parent.weight",
               {dim, config.stages[s - 1].dim / stage.seqLen});
    for (int64_t i = 0; i < stage.depth; ++i) {
      const std::string layer = prefix + ".layers." + std::to_string(i);
      addNorm(layer + ".attn_norm", dim);
      for (const char *projection : {".attn.q", ".attn.k", ".attn.v"})
        list.add(layer + projection + ".weight", {attentionWidth, dim});
      list.add(layer + ".attn.out.weight", {dim, attentionWidth});
      addNorm(layer + ".ffn_norm", dim);
      list.add(layer + ".ffn.up.weight", {hidden, dim});
      list.add(layer + ".ffn.up.bias", {hidden});
      list.add(layer + ".ffn.down.weight", {dim, hidden});
      list.add(layer + ".ffn.down.bias", {dim});
    }
    if (config.finalNorm)
      addNorm(prefix + ".final_norm", dim);
  }

  const int64_t lastDim = config.stages.back().dim;
  if (!config.tieEmbeddings)
    list.add("head.weight", {vocab, lastDim});
  if (config.headBias)
    list.add("head.bias", {vocab});
}

/// MEGABYTE-pytorch's state_dict() keys, in its registration order.
void addLucidrainsParameters(const ModelConfig &config, ParameterList &list) {
  const int64_t vocab = config.vocabSize;
  const size_t numStages = config.stages.size();
  const int64_t lastDim = config.stages.back().dim;

  for (size_t s = 0; s < numStages; ++s)
    list.add("start_tokens." + Twine(s), {config.stages[s].dim});
  if (config.posEmb)
    for (size_t s = 0; s < numStages; ++s)
      list.add("pos_embs." + Twine(s) + ".weight",
               {config.stages[s].seqLen, config.stages[s].dim});

  // token_embs.0 embeds bytes for the finest stage; token_embs.j (j >= 1)
  // feeds stage numStages-1-j, whose positions cover U bytes each: "dual
  // patch norm" LayerNorm(U * lastDim) -> Linear -> LayerNorm(dim).
  list.add("token_embs.0.weight", {vocab, lastDim});
  for (size_t j = 1; j < numStages; ++j) {
    const size_t stage = numStages - 1 - j;
    const int64_t dim = config.stages[stage].dim;
    const int64_t patchWidth = config.bytesPerPosition(stage) * lastDim;
    const std::string prefix = "token_embs." + std::to_string(j);
    list.add(prefix + ".0.weight", {vocab, lastDim});
    list.add(prefix + ".2.weight", {patchWidth});
    list.add(prefix + ".2.bias", {patchWidth});
    list.add(prefix + ".3.weight", {dim, patchWidth});
    list.add(prefix + ".3.bias", {dim});
    list.add(prefix + ".4.weight", {dim});
    list.add(prefix + ".4.bias", {dim});
  }

  for (size_t s = 0; s < numStages; ++s) {
    const StageConfig &stage = config.stages[s];
    const std::string prefix = "transformers." + std::to_string(s);
    const int64_t dim = stage.dim;
    const int64_t attentionWidth = stage.heads * stage.dimHead;
    const int64_t hidden = config.ffMult * dim;
    // A buffer PyTorch saves in the state_dict; mbc recomputes it from
    // rotary_theta, so a checkpoint may leave it out.
    if (config.rotary)
      list.add(prefix + ".rotary_emb.inv_freq", {stage.dimHead / 2},
               /*optional=*/true);
    for (int64_t i = 0; i < stage.depth; ++i) {
      const std::string layer = prefix + ".layers." + std::to_string(i);
      list.add(layer + ".0.norm.g", {dim});
      list.add(layer + ".0.to_q.weight", {attentionWidth, dim});
      list.add(layer + ".0.to_kv.weight", {2 * attentionWidth, dim});
      list.add(layer + ".0.to_out.weight", {dim, attentionWidth});
      list.add(layer + ".1.0.g", {dim});
      list.add(layer + ".1.1.weight", {hidden, dim});
      list.add(layer + ".1.1.bias", {hidden});
      list.add(layer + ".1.4.weight", {dim, hidden});
      list.add(layer + ".1.4.bias", {dim});
    }
    list.add(prefix + ".norm.g", {dim});
  }

  for (size_t s = 0; s + 1 < numStages; ++s) {
    const StageConfig &next = config.stages[s + 1];
    const int64_t width = next.seqLen * next.dim;
    const std::string prefix =
        "to_next_transformer_projections." + std::to_string(s);
    list.add(prefix + ".1.weight", {width, config.stages[s].dim});
    list.add(prefix + ".1.bias", {width});
  }

  list.add("to_logits.weight", {vocab, lastDim});
  list.add("to_logits.bias", {vocab});
}

} // namespace

std::vector<ParameterSpec> expectedParameters(const ModelConfig &config) {
  std::vector<ParameterSpec> parameters;
  if (config.stages.empty())
    return parameters;
  ParameterList list(parameters);
  switch (config.architecture) {
  case Architecture::Megabyte:
    addPaperParameters(config, list);
    break;
  case Architecture::MegabyteLucidrains:
    addLucidrainsParameters(config, list);
    break;
  }
  return parameters;
}

} // namespace mbc
