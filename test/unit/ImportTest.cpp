//===- ImportTest.cpp - config.json and safetensors reading ---------------===//
//
// Every error class the readers report, and the paths that must succeed.
// Inputs are built in memory or written as raw bytes into a temporary
// directory, so no fixture files are needed.
//
//===----------------------------------------------------------------------===//

#include "mbc/Import/ModelConfig.h"
#include "mbc/Import/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using namespace mbc;
using namespace llvm;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

constexpr const char *configPath = "m/config.json";

::testing::AssertionResult contains(const std::string &text,
                                    const std::string &part) {
  if (text.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\" does not contain \"" << part << "\"";
}

template <typename T> std::string errorOf(Expected<T> value) {
  if (value)
    return "<no error>";
  return toString(value.takeError());
}

std::string errorOf(Error error) {
  if (!error)
    return "<no error>";
  return toString(std::move(error));
}

json::Object stage(int64_t dim, int64_t depth, int64_t heads, int64_t dimHead,
                   int64_t seqLen) {
  return json::Object{{"dim", dim},
                      {"depth", depth},
                      {"heads", heads},
                      {"dim_head", dimHead},
                      {"seq_len", seqLen}};
}

/// A small valid two-stage MEGABYTE-pytorch config.
json::Object lucidrainsConfig() {
  return json::Object{
      {"architecture", "megabyte-lucidrains"},
      {"vocab_size", 256},
      {"stages", json::Array{stage(32, 1, 2, 8, 4), stage(16, 1, 2, 8, 4)}}};
}

/// A small valid two-stage paper config: D_0 = P * Dg = 4 * 8.
json::Object paperConfig() {
  return json::Object{
      {"architecture", "megabyte"},
      {"vocab_size", 256},
      {"stages", json::Array{stage(32, 1, 2, 8, 4), stage(16, 1, 2, 8, 4)}}};
}

std::string serialize(json::Object object) {
  return formatv("{0}", json::Value(std::move(object))).str();
}

json::Object &stageOf(json::Object &config, size_t index) {
  return *(*config.getArray("stages"))[index].getAsObject();
}

/// Parses `config` after `edit` has changed it.
Expected<ModelConfig>
parseEdited(json::Object config,
            const std::function<void(json::Object &)> &edit) {
  edit(config);
  return parseModelConfig(serialize(std::move(config)), configPath);
}

std::string configError(json::Object config,
                        const std::function<void(json::Object &)> &edit) {
  return errorOf(parseEdited(std::move(config), edit));
}

std::string rawConfigError(StringRef text) {
  return errorOf(parseModelConfig(text, configPath));
}

int64_t elementCount(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t extent : shape)
    count *= extent;
  return count;
}

int64_t parameterTotal(const ModelConfig &config, bool includeOptional) {
  int64_t total = 0;
  for (const ParameterSpec &spec : expectedParameters(config))
    if (includeOptional || !spec.optional)
      total += elementCount(spec.shape);
  return total;
}

const ParameterSpec *findSpec(const std::vector<ParameterSpec> &specs,
                              StringRef name) {
  for (const ParameterSpec &spec : specs)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

/// One tensor to put into a safetensors file.
struct RawTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

std::string withHeaderLength(uint64_t length, StringRef rest) {
  std::string file(8, '\0');
  support::endian::write64le(file.data(), length);
  return file + rest.str();
}

/// A safetensors file from a header text and a data section.
std::string safetensorsBytes(StringRef header, StringRef data) {
  return withHeaderLength(header.size(), (header + data).str());
}

/// A well-formed safetensors file holding `tensors`, back to back.
std::string safetensorsBytes(ArrayRef<RawTensor> tensors,
                             json::Object metadata = {}) {
  json::Object header;
  std::string data;
  for (const RawTensor &tensor : tensors) {
    json::Array shape;
    for (int64_t extent : tensor.shape)
      shape.push_back(extent);
    header[tensor.name] =
        json::Object{{"dtype", tensor.dtype},
                     {"shape", std::move(shape)},
                     {"data_offsets",
                      json::Array{int64_t(data.size()),
                                  int64_t(data.size() + tensor.bytes.size())}}};
    data += tensor.bytes;
  }
  if (!metadata.empty())
    header["__metadata__"] = std::move(metadata);
  return safetensorsBytes(serialize(std::move(header)), data);
}

std::string float32Bytes(ArrayRef<float> values) {
  std::string bytes(values.size() * 4, '\0');
  for (auto [i, value] : enumerate(values)) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    support::endian::write32le(bytes.data() + 4 * i, bits);
  }
  return bytes;
}

/// Every tensor `config` implies, zero-filled F32 (optional ones left out).
std::vector<RawTensor> tensorsFor(const ModelConfig &config) {
  std::vector<RawTensor> tensors;
  for (const ParameterSpec &spec : expectedParameters(config))
    if (!spec.optional)
      tensors.push_back({spec.name, "F32", spec.shape,
                         std::string(elementCount(spec.shape) * 4, '\0')});
  return tensors;
}

/// A temporary directory, removed with everything in it.
class ImportFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(sys::fs::createUniqueDirectory("mbc-import-test", directory));
  }
  void TearDown() override { sys::fs::remove_directories(directory); }

  std::string pathOf(StringRef name) const {
    SmallString<256> path(directory);
    sys::path::append(path, name);
    return std::string(path);
  }

  /// Grows the file at `path` to `size` bytes without writing them, so
  /// that size limits can be tested cheaply.
  void extendSparse(StringRef path, uint64_t size) const {
    int fd;
    ASSERT_FALSE(sys::fs::openFileForReadWrite(
        path, fd, sys::fs::CD_OpenExisting, sys::fs::OF_None));
    EXPECT_FALSE(sys::fs::resize_file_sparse(fd, size));
    sys::Process::SafelyCloseFileDescriptor(fd);
  }

  std::string write(StringRef name, StringRef bytes) const {
    std::string path = pathOf(name);
    std::error_code error;
    raw_fd_ostream out(path, error);
    EXPECT_FALSE(error) << error.message();
    out << bytes;
    return path;
  }

  /// Opens `bytes` written as model.safetensors.
  Expected<SafetensorsFile> openBytes(StringRef bytes) const {
    return SafetensorsFile::open(write("model.safetensors", bytes));
  }

  std::string openError(StringRef bytes) const {
    return errorOf(openBytes(bytes));
  }

  /// The error from an entry of a file whose data section is `dataSize`
  /// zero bytes.
  std::string entryError(StringRef entry, size_t dataSize = 64) const {
    return openError(safetensorsBytes(("{\"t\": " + entry + "}").str(),
                                      std::string(dataSize, '\0')));
  }

  SmallString<128> directory;
};

//===----------------------------------------------------------------------===//
// config.json: what must parse
//===----------------------------------------------------------------------===//

TEST(ModelConfigTest, LucidrainsDefaultsAreItsRequiredValues) {
  Expected<ModelConfig> config =
      parseModelConfig(serialize(lucidrainsConfig()), configPath);
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->architecture, Architecture::MegabyteLucidrains);
  EXPECT_EQ(config->vocabSize, 256);
  ASSERT_EQ(config->stages.size(), 2u);
  EXPECT_EQ(config->stages[1].dim, 16);
  EXPECT_EQ(config->stages[1].dimHead, 8);
  EXPECT_EQ(config->ffMult, 4);
  EXPECT_EQ(config->norm, NormKind::RMSNorm);
  EXPECT_DOUBLE_EQ(config->normEps, 1e-8);
  EXPECT_EQ(config->activation, Activation::Gelu);
  EXPECT_TRUE(config->tokenShift);
  EXPECT_TRUE(config->finalNorm);
  EXPECT_TRUE(config->headBias);
  EXPECT_FALSE(config->tieEmbeddings);
  EXPECT_FALSE(config->posEmb);
  EXPECT_FALSE(config->rotary);
  EXPECT_DOUBLE_EQ(config->rotaryTheta, 10000.0);
  EXPECT_EQ(config->padId, 0);
  EXPECT_EQ(config->patchSize(), 4);
  EXPECT_EQ(config->maxSequenceLength(), 16);
}

TEST(ModelConfigTest, PaperDefaults) {
  Expected<ModelConfig> config =
      parseModelConfig(serialize(paperConfig()), configPath);
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->architecture, Architecture::Megabyte);
  EXPECT_EQ(config->norm, NormKind::LayerNorm);
  EXPECT_DOUBLE_EQ(config->normEps, 1e-5);
  EXPECT_EQ(config->activation, Activation::Relu);
  EXPECT_FALSE(config->tokenShift);
  EXPECT_TRUE(config->finalNorm);
  EXPECT_FALSE(config->headBias);
  EXPECT_FALSE(config->tieEmbeddings);
}

TEST(ModelConfigTest, ExplicitOptionalFieldsAreRead) {
  Expected<ModelConfig> config = parseEdited(paperConfig(), [](auto &c) {
    c["ff_mult"] = 2;
    c["norm"] = "rmsnorm";
    c["norm_eps"] = 1e-6;
    c["activation"] = "gelu_tanh";
    c["pos_emb"] = true;
    c["rotary"] = true;
    c["rotary_theta"] = 500000; // an integer is a valid number
    c["token_shift"] = true;
    c["final_norm"] = false;
    c["tie_embeddings"] = true;
    c["head_bias"] = true;
    c["pad_id"] = 255;
  });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->ffMult, 2);
  EXPECT_EQ(config->norm, NormKind::RMSNorm);
  EXPECT_DOUBLE_EQ(config->normEps, 1e-6);
  EXPECT_EQ(config->activation, Activation::GeluTanh);
  EXPECT_TRUE(config->posEmb);
  EXPECT_TRUE(config->rotary);
  EXPECT_DOUBLE_EQ(config->rotaryTheta, 500000.0);
  EXPECT_TRUE(config->tokenShift);
  EXPECT_FALSE(config->finalNorm);
  EXPECT_TRUE(config->tieEmbeddings);
  EXPECT_TRUE(config->headBias);
  EXPECT_EQ(config->padId, 255);
}

TEST(ModelConfigTest, ThreeStagesDeriveBytesPerPosition) {
  Expected<ModelConfig> config = parseEdited(lucidrainsConfig(), [](auto &c) {
    c["stages"] = json::Array{stage(64, 1, 2, 8, 8), stage(32, 1, 2, 8, 4),
                              stage(16, 1, 2, 8, 2)};
  });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->bytesPerPosition(0), 8);
  EXPECT_EQ(config->bytesPerPosition(1), 2);
  EXPECT_EQ(config->bytesPerPosition(2), 1);
  EXPECT_EQ(config->patchSize(), 8);
  EXPECT_EQ(config->maxSequenceLength(), 64);
}

TEST(ModelConfigTest, StringifyRoundTrips) {
  EXPECT_EQ(stringifyArchitecture(Architecture::MegabyteLucidrains),
            "megabyte-lucidrains");
  EXPECT_EQ(stringifyArchitecture(Architecture::Megabyte), "megabyte");
  EXPECT_EQ(stringifyNormKind(NormKind::RMSNorm), "rmsnorm");
  EXPECT_EQ(stringifyActivation(Activation::GeluTanh), "gelu_tanh");
}

TEST_F(ImportFileTest, ReadsConfigFromFile) {
  std::string path = write("config.json", serialize(lucidrainsConfig()));
  Expected<ModelConfig> config = readModelConfig(path);
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(config->stages.size(), 2u);
}

//===----------------------------------------------------------------------===//
// config.json: the file and its JSON
//===----------------------------------------------------------------------===//

TEST_F(ImportFileTest, ConfigFileMissing) {
  std::string path = pathOf("config.json");
  EXPECT_TRUE(
      contains(errorOf(readModelConfig(path)), path + ": cannot read: "));
}

TEST_F(ImportFileTest, ConfigIsADirectory) {
  std::string path = pathOf("config.json");
  ASSERT_FALSE(sys::fs::create_directory(path));
  EXPECT_TRUE(contains(errorOf(readModelConfig(path)), path + ": "));
}

TEST_F(ImportFileTest, ConfigFileHuge) {
  std::string path = write("config.json", "{");
  extendSparse(path, 17 << 20);
  EXPECT_TRUE(
      contains(errorOf(readModelConfig(path)), "more than a config can be"));
}

TEST(ModelConfigTest, EmptyText) {
  EXPECT_EQ(rawConfigError(""), "m/config.json: file is empty");
}

TEST(ModelConfigTest, TruncatedJson) {
  std::string text = serialize(lucidrainsConfig());
  EXPECT_TRUE(contains(rawConfigError(StringRef(text).drop_back(5)),
                       "m/config.json: invalid JSON: "));
}

TEST(ModelConfigTest, BinaryIsNotUtf8) {
  EXPECT_TRUE(contains(rawConfigError(StringRef("\x89PNG\r\n\x1a\n\xff", 9)),
                       "m/config.json: invalid JSON: "));
  EXPECT_TRUE(contains(rawConfigError("{\"architecture\": \"\xff\"}"),
                       "Invalid UTF-8"));
}

TEST(ModelConfigTest, NotAnObject) {
  EXPECT_EQ(rawConfigError("[1, 2]"),
            "m/config.json: expected a JSON object at the top level, got "
            "[1,2]");
}

TEST(ModelConfigTest, NestingTooDeepIsRejectedBeforeParsing) {
  // Deep enough to overflow a recursive parser's stack if it ever got there.
  std::string text(1 << 20, '[');
  EXPECT_TRUE(contains(rawConfigError(text), "nested deeper than 64 levels"));
}

TEST(ModelConfigTest, DuplicateTopLevelKey) {
  std::string text = serialize(lucidrainsConfig());
  text.insert(1, "\"vocab_size\": 300, ");
  EXPECT_EQ(rawConfigError(text),
            "m/config.json: vocab_size: key appears more than once");
}

TEST(ModelConfigTest, DuplicateKeyInStageNamesTheStage) {
  std::string text =
      "{\"architecture\": \"megabyte-lucidrains\", \"vocab_size\": 256, "
      "\"stages\": [{\"dim\": 32, \"depth\": 1, \"heads\": 2, \"dim_head\": "
      "8, \"seq_len\": 4}, {\"dim\": 16, \"depth\": 1, \"heads\": 2, "
      "\"dim_head\": 8, \"seq_len\": 4, \"d\\u0069m\": 8}]}";
  EXPECT_EQ(rawConfigError(text),
            "m/config.json: stages[1].dim: key appears more than once");
}

//===----------------------------------------------------------------------===//
// config.json: keys and types
//===----------------------------------------------------------------------===//

TEST(ModelConfigTest, ArchitectureMissing) {
  EXPECT_EQ(
      configError(lucidrainsConfig(), [](auto &c) { c.erase("architecture"); }),
      "m/config.json: architecture: required key is missing");
}

TEST(ModelConfigTest, ArchitectureUnknown) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { c["architecture"] = "gpt2"; }),
            "m/config.json: architecture: expected one of \"megabyte\", "
            "\"megabyte-lucidrains\", got \"gpt2\"");
}

TEST(ModelConfigTest, ArchitectureNotAString) {
  EXPECT_TRUE(contains(
      configError(lucidrainsConfig(), [](auto &c) { c["architecture"] = 1; }),
      "architecture: expected one of"));
}

TEST(ModelConfigTest, UnknownTopLevelKey) {
  EXPECT_TRUE(contains(
      configError(lucidrainsConfig(), [](auto &c) { c["vocab_sise"] = 256; }),
      "m/config.json: vocab_sise: unknown key (expected one of "
      "architecture, vocab_size,"));
}

TEST(ModelConfigTest, UnknownStageKey) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { stageOf(c, 0)["dims"] = 3; }),
            "m/config.json: stages[0].dims: unknown key (expected one of "
            "dim, depth, heads, dim_head, seq_len)");
}

TEST(ModelConfigTest, VocabSizeMissing) {
  EXPECT_EQ(
      configError(lucidrainsConfig(), [](auto &c) { c.erase("vocab_size"); }),
      "m/config.json: vocab_size: required key is missing");
}

TEST(ModelConfigTest, VocabSizeOutOfRange) {
  EXPECT_EQ(
      configError(lucidrainsConfig(), [](auto &c) { c["vocab_size"] = 1; }),
      "m/config.json: vocab_size: expected an integer in [2, 65536], got 1");
  EXPECT_TRUE(contains(
      configError(lucidrainsConfig(), [](auto &c) { c["vocab_size"] = 65537; }),
      "got 65537"));
}

TEST(ModelConfigTest, IntegersMustBeJsonIntegers) {
  for (json::Value notAnInteger :
       {json::Value(3.5), json::Value("3"), json::Value(true),
        json::Value(nullptr), json::Value(json::Array{3})}) {
    std::string got = formatv("{0}", notAnInteger).str();
    EXPECT_EQ(
        configError(lucidrainsConfig(),
                    [&](auto &c) { stageOf(c, 1)["dim"] = notAnInteger; }),
        "m/config.json: stages[1].dim: expected a positive integer, "
        "got " +
            got);
  }
}

TEST(ModelConfigTest, IntegralFloatLiteralsAreNotIntegers) {
  // llvm::json reads 256.0 and 2.56e2 as integers; the schema does not.
  for (StringRef literal : {"256.0", "2.56e2", "256E0"}) {
    std::string text = ("{\"architecture\": \"megabyte-lucidrains\", "
                        "\"vocab_size\": " +
                        literal +
                        ", \"stages\": [{\"dim\": 32, \"depth\": 1, \"heads\": "
                        "2, \"dim_head\": 8, \"seq_len\": 4}, {\"dim\": 16, "
                        "\"depth\": 1, \"heads\": 2, \"dim_head\": 8, "
                        "\"seq_len\": 4}]}")
                           .str();
    EXPECT_EQ(rawConfigError(text),
              ("m/config.json: vocab_size: expected an integer in [2, 65536], "
               "got " +
               literal)
                  .str());
  }
}

TEST(ModelConfigTest, IntegerBeyondInt64) {
  std::string text = serialize(lucidrainsConfig());
  size_t at = text.find("\"vocab_size\":256");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 16, "\"vocab_size\":99999999999999999999999");
  EXPECT_TRUE(
      contains(rawConfigError(text), "vocab_size: expected an integer"));
}

TEST(ModelConfigTest, StagesMissing) {
  EXPECT_EQ(configError(lucidrainsConfig(), [](auto &c) { c.erase("stages"); }),
            "m/config.json: stages: required key is missing");
}

TEST(ModelConfigTest, StagesNotAnArray) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { c["stages"] = stage(1, 1, 1, 1, 1); }),
            "m/config.json: stages: expected an array of stage objects, got "
            "{\"depth\":1,\"dim\":1,\"dim_head\":1,\"heads\":...");
}

TEST(ModelConfigTest, TooFewOrTooManyStages) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) {
                          c["stages"] = json::Array{stage(16, 1, 2, 8, 4)};
                        }),
            "m/config.json: stages: expected 2 to 16 stages, got 1");
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) {
                          json::Array stages;
                          for (int i = 0; i < 17; ++i)
                            stages.push_back(stage(16, 1, 2, 8, 1));
                          c["stages"] = std::move(stages);
                        }),
            "m/config.json: stages: expected 2 to 16 stages, got 17");
}

TEST(ModelConfigTest, StageNotAnObject) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { (*c.getArray("stages"))[1] = 16; }),
            "m/config.json: stages[1]: expected an object with dim, depth, "
            "heads, dim_head and seq_len, got 16");
}

TEST(ModelConfigTest, StageFieldMissing) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { stageOf(c, 1).erase("seq_len"); }),
            "m/config.json: stages[1].seq_len: required key is missing");
}

TEST(ModelConfigTest, StageSizesMustBePositive) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { stageOf(c, 1)["dim"] = -3; }),
            "m/config.json: stages[1].dim: expected a positive integer, got "
            "-3");
  for (StringRef key : {"dim", "heads", "dim_head", "seq_len"})
    EXPECT_EQ(configError(lucidrainsConfig(),
                          [&](auto &c) { stageOf(c, 0)[key] = 0; }),
              ("m/config.json: stages[0]." + key +
               ": expected a positive integer, got 0")
                  .str());
}

TEST(ModelConfigTest, DepthRange) {
  Expected<ModelConfig> noLayers = parseEdited(
      lucidrainsConfig(), [](auto &c) { stageOf(c, 0)["depth"] = 0; });
  EXPECT_TRUE(bool(noLayers)) << toString(noLayers.takeError());
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) { stageOf(c, 0)["depth"] = -1; }),
            "m/config.json: stages[0].depth: expected an integer in [0, "
            "4096], got -1");
  EXPECT_TRUE(
      contains(configError(lucidrainsConfig(),
                           [](auto &c) { stageOf(c, 0)["depth"] = 5000; }),
               "stages[0].depth: expected an integer in [0, 4096]"));
}

TEST(ModelConfigTest, FfMultMustBePositive) {
  EXPECT_EQ(configError(lucidrainsConfig(), [](auto &c) { c["ff_mult"] = 0; }),
            "m/config.json: ff_mult: expected a positive integer, got 0");
}

TEST(ModelConfigTest, EnumFields) {
  EXPECT_EQ(
      configError(paperConfig(), [](auto &c) { c["norm"] = "batchnorm"; }),
      "m/config.json: norm: expected one of \"layernorm\", \"rmsnorm\", "
      "got \"batchnorm\"");
  EXPECT_EQ(
      configError(paperConfig(), [](auto &c) { c["activation"] = "silu"; }),
      "m/config.json: activation: expected one of \"gelu\", "
      "\"gelu_tanh\", \"relu\", got \"silu\"");
}

TEST(ModelConfigTest, BoolFields) {
  for (StringRef key : {"pos_emb", "rotary", "token_shift", "final_norm",
                        "tie_embeddings", "head_bias"})
    EXPECT_EQ(
        configError(paperConfig(), [&](auto &c) { c[key] = 1; }),
        ("m/config.json: " + key + ": expected true or false, got 1").str());
}

TEST(ModelConfigTest, PositiveNumberFields) {
  for (StringRef key : {"norm_eps", "rotary_theta"}) {
    EXPECT_EQ(configError(paperConfig(), [&](auto &c) { c[key] = 0; }),
              ("m/config.json: " + key + ": expected a positive number, got 0")
                  .str());
    EXPECT_TRUE(
        contains(configError(paperConfig(), [&](auto &c) { c[key] = "1e-5"; }),
                 "expected a positive number"));
  }
  EXPECT_TRUE(contains(
      rawConfigError(StringRef(serialize(paperConfig())).drop_back().str() +
                     ", \"norm_eps\": 1e999}"),
      "norm_eps: expected a positive number"));
}

TEST(ModelConfigTest, PadIdBelowVocabSize) {
  EXPECT_EQ(configError(lucidrainsConfig(), [](auto &c) { c["pad_id"] = 256; }),
            "m/config.json: pad_id: expected an integer in [0, 255], got 256");
}

//===----------------------------------------------------------------------===//
// config.json: architecture constraints
//===----------------------------------------------------------------------===//

TEST(ModelConfigTest, LucidrainsRequirements) {
  EXPECT_EQ(
      configError(lucidrainsConfig(), [](auto &c) { c["norm"] = "layernorm"; }),
      "m/config.json: norm: megabyte-lucidrains requires \"rmsnorm\", "
      "got \"layernorm\"");
  EXPECT_TRUE(contains(
      configError(lucidrainsConfig(),
                  [](auto &c) { c["activation"] = "relu"; }),
      "m/config.json: activation: megabyte-lucidrains requires \"gelu\""));
  for (StringRef key : {"token_shift", "final_norm", "head_bias"})
    EXPECT_EQ(configError(lucidrainsConfig(), [&](auto &c) { c[key] = false; }),
              ("m/config.json: " + key +
               ": megabyte-lucidrains requires true, got false")
                  .str());
  EXPECT_TRUE(contains(configError(lucidrainsConfig(),
                                   [](auto &c) { c["tie_embeddings"] = true; }),
                       "tie_embeddings: megabyte-lucidrains requires false"));
}

TEST(ModelConfigTest, LucidrainsAcceptsItsRequiredValuesExplicitly) {
  Expected<ModelConfig> config = parseEdited(lucidrainsConfig(), [](auto &c) {
    c["norm"] = "rmsnorm";
    c["activation"] = "gelu";
    c["token_shift"] = true;
    c["final_norm"] = true;
    c["head_bias"] = true;
    c["tie_embeddings"] = false;
  });
  EXPECT_TRUE(bool(config)) << toString(config.takeError());
}

TEST(ModelConfigTest, PaperDimMustSplitIntoBytes) {
  // Stage 0 covers U_0 = 4 bytes per position: 30 % 4 != 0.
  EXPECT_EQ(
      configError(paperConfig(), [](auto &c) { stageOf(c, 0)["dim"] = 30; }),
      "m/config.json: stages[0].dim: megabyte needs stage 0's dim (30) "
      "to be a multiple of its bytes per position U_0 = 4, so each byte "
      "gets dim / U_0 embedding features");
}

TEST(ModelConfigTest, PaperDivisibilityNamesTheStage) {
  // seq_len (2, 4, 2): U = (8, 2, 1); stage 1's dim 15 is not a multiple of
  // U_1 = 2.
  EXPECT_TRUE(contains(configError(paperConfig(),
                                   [](auto &c) {
                                     c["stages"] =
                                         json::Array{stage(48, 1, 2, 8, 2),
                                                     stage(15, 1, 2, 8, 4),
                                                     stage(8, 1, 2, 8, 2)};
                                   }),
                       "m/config.json: stages[1].dim: megabyte needs stage "
                       "1's dim (15) to be a multiple of its bytes per "
                       "position U_1 = 2"));
}

TEST(ModelConfigTest, RotaryNeedsEvenHeadWidth) {
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) {
                          c["rotary"] = true;
                          stageOf(c, 1)["dim_head"] = 7;
                        }),
            "m/config.json: stages[1].dim_head: rotary needs an even head "
            "width, got 7");
}

//===----------------------------------------------------------------------===//
// config.json: absurd sizes
//===----------------------------------------------------------------------===//

TEST(ModelConfigTest, SequenceLengthOverLimit) {
  // The largest factor is blamed: here stage 0's 2^30 positions.
  EXPECT_EQ(configError(lucidrainsConfig(),
                        [](auto &c) {
                          stageOf(c, 0)["seq_len"] = int64_t(1) << 30;
                          stageOf(c, 1)["seq_len"] = int64_t(1) << 11;
                        }),
            "m/config.json: stages[0].seq_len: sequence length up to this "
            "stage (positions of the stages above * seq_len = 1073741824 * "
            "2048) is 2199023255552 elements, more than 2^40");
}

TEST(ModelConfigTest, SequenceLengthOverflow) {
  EXPECT_TRUE(contains(configError(lucidrainsConfig(),
                                   [](auto &c) {
                                     stageOf(c, 0)["seq_len"] = int64_t(1)
                                                                << 62;
                                     stageOf(c, 1)["seq_len"] = int64_t(1)
                                                                << 62;
                                   }),
                       "stages[0].seq_len: sequence length up to this stage"));
  EXPECT_TRUE(contains(configError(lucidrainsConfig(),
                                   [](auto &c) {
                                     stageOf(c, 0)["seq_len"] = 1 << 30;
                                     stageOf(c, 1)["seq_len"] =
                                         std::numeric_limits<int64_t>::max();
                                   }),
                       "overflows 64 bits"));
}

TEST(ModelConfigTest, HeadsTimesHeadWidthOverflow) {
  EXPECT_TRUE(contains(
      configError(lucidrainsConfig(),
                  [](auto &c) {
                    stageOf(c, 1)["heads"] =
                        std::numeric_limits<int64_t>::max();
                  }),
      "m/config.json: stages[1].heads: attention width (heads * dim_head = "
      "9223372036854775807 * 8) overflows 64 bits"));
}

TEST(ModelConfigTest, FfnWeightOverLimit) {
  EXPECT_TRUE(
      contains(configError(lucidrainsConfig(),
                           [](auto &c) { c["ff_mult"] = int64_t(1) << 40; }),
               "m/config.json: ff_mult: FFN weight (ff_mult * dim * dim = "
               "1099511627776 * 32 * 32)"));
}

TEST(ModelConfigTest, HugeDimIsNamed) {
  EXPECT_TRUE(contains(configError(lucidrainsConfig(),
                                   [](auto &c) {
                                     stageOf(c, 1)["dim"] = int64_t(1) << 35;
                                     c["ff_mult"] = 1;
                                   }),
                       "m/config.json: stages[1].dim: "));
}

TEST(ModelConfigTest, ActivationsOverLimit) {
  // 2^20 * 2^10 positions times 4 * 512 features.
  EXPECT_TRUE(contains(
      configError(lucidrainsConfig(),
                  [](auto &c) {
                    c["stages"] = json::Array{stage(512, 1, 8, 64, 1 << 20),
                                              stage(512, 1, 8, 64, 1 << 10)};
                  }),
      "stages[1].seq_len: FFN activations (positions * ff_mult "
      "* dim = 1073741824 * 4 * 512)"));
}

TEST(ModelConfigTest, ParameterTotalOverLimit) {
  // Each tensor is fine; 2 * 4096 layers of about 12 * 4096^2 are not.
  EXPECT_TRUE(contains(configError(lucidrainsConfig(),
                                   [](auto &c) {
                                     c["stages"] = json::Array{
                                         stage(4096, 4096, 64, 64, 4),
                                         stage(4096, 4096, 64, 64, 4)};
                                   }),
                       "m/config.json: stages: the model has more than 2^40 "
                       "parameters in total"));
}

TEST(ModelConfigTest, PaperEmbeddingOverLimit) {
  EXPECT_TRUE(contains(configError(paperConfig(),
                                   [](auto &c) {
                                     c["vocab_size"] = 65536;
                                     c["ff_mult"] = 1;
                                     stageOf(c, 1)["dim"] = int64_t(1) << 25;
                                     stageOf(c, 1)["heads"] = 1;
                                     stageOf(c, 1)["dim_head"] = 1;
                                   }),
                       "stages[1].dim: "));
}

//===----------------------------------------------------------------------===//
// Expected parameters
//===----------------------------------------------------------------------===//

TEST(ExpectedParametersTest, LucidrainsSanityAnchor) {
  // MEGABYTE.md: dim=(512,256), depth=(6,4), max_seq_len=(1024,4), V=256,
  // dim_head 64, heads 8, ff_mult 4.
  Expected<ModelConfig> config = parseEdited(lucidrainsConfig(), [](auto &c) {
    c["stages"] =
        json::Array{stage(512, 6, 8, 64, 1024), stage(256, 4, 8, 64, 4)};
  });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  EXPECT_EQ(parameterTotal(*config, /*includeOptional=*/true), 24348928);
  config->rotary = true; // inv_freq buffers are optional and not counted
  EXPECT_EQ(parameterTotal(*config, /*includeOptional=*/false), 24348928);
}

TEST(ExpectedParametersTest, LucidrainsTwoStageNamesAndShapes) {
  Expected<ModelConfig> config = parseEdited(lucidrainsConfig(), [](auto &c) {
    c["stages"] =
        json::Array{stage(512, 6, 8, 64, 1024), stage(256, 4, 8, 64, 4)};
  });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  std::vector<ParameterSpec> specs = expectedParameters(*config);
  // 2 start tokens, token_embs.0, 7 in token_embs.1, 9 per layer * 10 layers,
  // 2 final norms, 2 projection tensors, 2 head tensors.
  EXPECT_EQ(specs.size(), 2u + 1 + 7 + 90 + 2 + 2 + 2);
  auto shapeOf = [&](StringRef name) -> std::vector<int64_t> {
    const ParameterSpec *spec = findSpec(specs, name);
    EXPECT_NE(spec, nullptr) << name.str();
    return spec ? spec->shape : std::vector<int64_t>{};
  };
  using Shape = std::vector<int64_t>;
  EXPECT_EQ(shapeOf("start_tokens.0"), Shape({512}));
  EXPECT_EQ(shapeOf("start_tokens.1"), Shape({256}));
  EXPECT_EQ(shapeOf("token_embs.0.weight"), Shape({256, 256}));
  EXPECT_EQ(shapeOf("token_embs.1.0.weight"), Shape({256, 256}));
  EXPECT_EQ(shapeOf("token_embs.1.2.weight"), Shape({1024}));
  EXPECT_EQ(shapeOf("token_embs.1.2.bias"), Shape({1024}));
  EXPECT_EQ(shapeOf("token_embs.1.3.weight"), Shape({512, 1024}));
  EXPECT_EQ(shapeOf("token_embs.1.3.bias"), Shape({512}));
  EXPECT_EQ(shapeOf("token_embs.1.4.weight"), Shape({512}));
  EXPECT_EQ(shapeOf("token_embs.1.4.bias"), Shape({512}));
  EXPECT_EQ(shapeOf("transformers.0.layers.5.0.norm.g"), Shape({512}));
  EXPECT_EQ(shapeOf("transformers.0.layers.0.0.to_q.weight"),
            Shape({512, 512}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.0.to_q.weight"),
            Shape({512, 256}));
  EXPECT_EQ(shapeOf("transformers.1.layers.3.0.to_kv.weight"),
            Shape({1024, 256}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.0.to_out.weight"),
            Shape({256, 512}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.1.0.g"), Shape({256}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.1.1.weight"), Shape({1024, 256}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.1.1.bias"), Shape({1024}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.1.4.weight"), Shape({256, 1024}));
  EXPECT_EQ(shapeOf("transformers.1.layers.0.1.4.bias"), Shape({256}));
  EXPECT_EQ(shapeOf("transformers.0.norm.g"), Shape({512}));
  EXPECT_EQ(shapeOf("to_next_transformer_projections.0.1.weight"),
            Shape({1024, 512}));
  EXPECT_EQ(shapeOf("to_next_transformer_projections.0.1.bias"), Shape({1024}));
  EXPECT_EQ(shapeOf("to_logits.weight"), Shape({256, 256}));
  EXPECT_EQ(shapeOf("to_logits.bias"), Shape({256}));
  EXPECT_EQ(findSpec(specs, "transformers.0.layers.6.0.norm.g"), nullptr);
  EXPECT_EQ(findSpec(specs, "to_next_transformer_projections.1.1.weight"),
            nullptr);
  for (const ParameterSpec &spec : specs)
    EXPECT_FALSE(spec.optional) << spec.name;
}

TEST(ExpectedParametersTest,
     LucidrainsThreeStagesNumberPatchEmbeddingsFromTheFinest) {
  // seq_len (8, 4, 2): token_embs.1 feeds stage 1 (U = 2), token_embs.2
  // feeds stage 0 (U = 4 * 2), as MEGABYTE-pytorch's constructor builds them.
  Expected<ModelConfig> config = parseEdited(lucidrainsConfig(), [](auto &c) {
    c["stages"] = json::Array{stage(64, 1, 2, 8, 8), stage(32, 2, 2, 8, 4),
                              stage(16, 1, 4, 4, 2)};
    c["pos_emb"] = true;
  });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  std::vector<ParameterSpec> specs = expectedParameters(*config);
  using Shape = std::vector<int64_t>;
  auto shapeOf = [&](StringRef name) -> Shape {
    const ParameterSpec *spec = findSpec(specs, name);
    EXPECT_NE(spec, nullptr) << name.str();
    return spec ? spec->shape : Shape{};
  };
  constexpr int64_t lastDim = 16;
  EXPECT_EQ(shapeOf("token_embs.0.weight"), Shape({256, lastDim}));
  EXPECT_EQ(shapeOf("token_embs.1.2.weight"), Shape({2 * lastDim}));
  EXPECT_EQ(shapeOf("token_embs.1.3.weight"), Shape({32, 2 * lastDim}));
  EXPECT_EQ(shapeOf("token_embs.1.4.bias"), Shape({32}));
  EXPECT_EQ(shapeOf("token_embs.2.2.bias"), Shape({8 * lastDim}));
  EXPECT_EQ(shapeOf("token_embs.2.3.weight"), Shape({64, 8 * lastDim}));
  EXPECT_EQ(shapeOf("token_embs.2.4.weight"), Shape({64}));
  EXPECT_EQ(shapeOf("pos_embs.0.weight"), Shape({8, 64}));
  EXPECT_EQ(shapeOf("pos_embs.1.weight"), Shape({4, 32}));
  EXPECT_EQ(shapeOf("pos_embs.2.weight"), Shape({2, 16}));
  EXPECT_EQ(shapeOf("to_next_transformer_projections.0.1.weight"),
            Shape({128, 64})); // seq_len_1 * D_1
  EXPECT_EQ(shapeOf("to_next_transformer_projections.1.1.weight"),
            Shape({2 * lastDim, 32}));
  EXPECT_EQ(shapeOf("transformers.2.layers.0.0.to_kv.weight"),
            Shape({32, 16})); // 2 * heads * dim_head
  EXPECT_EQ(shapeOf("transformers.1.layers.1.1.4.bias"), Shape({32}));
  EXPECT_EQ(findSpec(specs, "token_embs.3.0.weight"), nullptr);
  EXPECT_EQ(findSpec(specs, "to_next_transformer_projections.2.1.weight"),
            nullptr);
}

TEST(ExpectedParametersTest, LucidrainsRotaryBufferIsOptional) {
  Expected<ModelConfig> config =
      parseEdited(lucidrainsConfig(), [](auto &c) { c["rotary"] = true; });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  std::vector<ParameterSpec> specs = expectedParameters(*config);
  for (StringRef name : {"transformers.0.rotary_emb.inv_freq",
                         "transformers.1.rotary_emb.inv_freq"}) {
    const ParameterSpec *spec = findSpec(specs, name);
    ASSERT_NE(spec, nullptr) << name.str();
    EXPECT_TRUE(spec->optional);
    EXPECT_EQ(spec->shape, std::vector<int64_t>({4}));
  }
}

TEST(ExpectedParametersTest, PaperTwoStages) {
  Expected<ModelConfig> config =
      parseModelConfig(serialize(paperConfig()), configPath);
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  std::vector<ParameterSpec> specs = expectedParameters(*config);
  using Shape = std::vector<int64_t>;
  auto shapeOf = [&](StringRef name) -> Shape {
    const ParameterSpec *spec = findSpec(specs, name);
    EXPECT_NE(spec, nullptr) << name.str();
    return spec ? spec->shape : Shape{};
  };
  // V = 256, D = (32, 16), seq_len = (4, 4): E_0 = 8, T = 16, C_1 = 8.
  EXPECT_EQ(shapeOf("stages.0.byte_embedding.weight"), Shape({256, 8}));
  EXPECT_EQ(shapeOf("stages.0.position_embedding.weight"), Shape({16, 8}));
  EXPECT_EQ(shapeOf("stages.0.pad"), Shape({32}));
  EXPECT_EQ(shapeOf("stages.1.byte_embedding.weight"), Shape({256, 16}));
  EXPECT_EQ(shapeOf("stages.1.pad"), Shape({16}));
  EXPECT_EQ(shapeOf("stages.1.from_parent.weight"), Shape({16, 8}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.attn_norm.weight"), Shape({32}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.attn_norm.bias"), Shape({32}));
  EXPECT_EQ(shapeOf("stages.1.layers.0.attn.q.weight"), Shape({16, 16}));
  EXPECT_EQ(shapeOf("stages.1.layers.0.attn.k.weight"), Shape({16, 16}));
  EXPECT_EQ(shapeOf("stages.1.layers.0.attn.v.weight"), Shape({16, 16}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.attn.out.weight"), Shape({32, 16}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.ffn_norm.bias"), Shape({32}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.ffn.up.weight"), Shape({128, 32}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.ffn.up.bias"), Shape({128}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.ffn.down.weight"), Shape({32, 128}));
  EXPECT_EQ(shapeOf("stages.0.layers.0.ffn.down.bias"), Shape({32}));
  EXPECT_EQ(shapeOf("stages.1.final_norm.weight"), Shape({16}));
  EXPECT_EQ(shapeOf("stages.1.final_norm.bias"), Shape({16}));
  EXPECT_EQ(shapeOf("head.weight"), Shape({256, 16}));
  EXPECT_EQ(findSpec(specs, "head.bias"), nullptr);
  EXPECT_EQ(findSpec(specs, "stages.1.position_embedding.weight"), nullptr);
  // Per stage: byte emb, pad, 12 per layer, 2 final norm; plus stage 0's
  // position and stage 1's from_parent; plus the head.
  EXPECT_EQ(specs.size(), 2u * (1 + 1 + 12 + 2) + 1 + 1 + 1);
}

TEST(ExpectedParametersTest, PaperThreeStagesWithOptions) {
  Expected<ModelConfig> config = parseEdited(paperConfig(), [](auto &c) {
    // seq_len (2, 4, 2): U = (8, 2, 1); E = (64/8, 24/2, 8) = (8, 12, 8);
    // C_1 = 64 / 4 = 16, C_2 = 24 / 2 = 12.
    c["stages"] = json::Array{stage(64, 1, 2, 8, 2), stage(24, 1, 2, 8, 4),
                              stage(8, 1, 2, 4, 2)};
    c["norm"] = "rmsnorm";
    c["pos_emb"] = true;
    c["final_norm"] = false;
    c["tie_embeddings"] = true;
    c["head_bias"] = true;
  });
  ASSERT_TRUE(bool(config)) << toString(config.takeError());
  std::vector<ParameterSpec> specs = expectedParameters(*config);
  using Shape = std::vector<int64_t>;
  auto shapeOf = [&](StringRef name) -> Shape {
    const ParameterSpec *spec = findSpec(specs, name);
    EXPECT_NE(spec, nullptr) << name.str();
    return spec ? spec->shape : Shape{};
  };
  EXPECT_EQ(shapeOf("stages.0.byte_embedding.weight"), Shape({256, 8}));
  EXPECT_EQ(shapeOf("stages.0.position_embedding.weight"), Shape({16, 8}));
  EXPECT_EQ(shapeOf("stages.1.byte_embedding.weight"), Shape({256, 12}));
  EXPECT_EQ(shapeOf("stages.1.position_embedding.weight"), Shape({4, 24}));
  EXPECT_EQ(shapeOf("stages.1.from_parent.weight"), Shape({24, 16}));
  EXPECT_EQ(shapeOf("stages.2.from_parent.weight"), Shape({8, 12}));
  EXPECT_EQ(shapeOf("stages.2.position_embedding.weight"), Shape({2, 8}));
  EXPECT_EQ(shapeOf("stages.2.layers.0.attn.q.weight"), Shape({8, 8}));
  EXPECT_EQ(shapeOf("head.bias"), Shape({256}));
  // RMSNorm has no bias; no final norm; the head is tied.
  EXPECT_EQ(findSpec(specs, "stages.0.layers.0.attn_norm.bias"), nullptr);
  EXPECT_NE(findSpec(specs, "stages.0.layers.0.attn_norm.weight"), nullptr);
  EXPECT_EQ(findSpec(specs, "stages.0.final_norm.weight"), nullptr);
  EXPECT_EQ(findSpec(specs, "head.weight"), nullptr);
}

//===----------------------------------------------------------------------===//
// safetensors: what must open
//===----------------------------------------------------------------------===//

TEST_F(ImportFileTest, OpensValidFileAndReadsBytesBack) {
  std::string f32 = float32Bytes({1.0f, -2.5f, 0.0f, 3.25f});
  // F16 1.0, -2.0, smallest subnormal 2^-24, +inf.
  std::string f16("\x00\x3c\x00\xc0\x01\x00\x00\x7c", 8);
  // BF16 1.0, -0.5.
  std::string bf16("\x80\x3f\x00\xbf", 4);
  Expected<SafetensorsFile> file =
      openBytes(safetensorsBytes({{"a.weight", "F32", {2, 2}, f32},
                                  {"b", "F16", {4}, f16},
                                  {"c", "BF16", {1, 2}, bf16},
                                  {"scalar", "F32", {}, float32Bytes({7.0f})},
                                  {"empty", "F32", {0, 3}, ""}},
                                 json::Object{{"format", "pt"}}));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  EXPECT_EQ(file->tensors().size(), 5u);
  EXPECT_EQ(file->metadata().lookup("format"), "pt");

  const TensorInfo *a = file->find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, std::vector<int64_t>({2, 2}));
  EXPECT_EQ(a->end - a->begin, 16u);
  ArrayRef<uint8_t> bytes = file->data(*a);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), f32);
  EXPECT_EQ(file->readAsFloat32(*a),
            std::vector<float>({1.0f, -2.5f, 0.0f, 3.25f}));

  const TensorInfo *b = file->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::F16);
  std::vector<float> halves = file->readAsFloat32(*b);
  ASSERT_EQ(halves.size(), 4u);
  EXPECT_EQ(halves[0], 1.0f);
  EXPECT_EQ(halves[1], -2.0f);
  EXPECT_EQ(halves[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(halves[3]));

  const TensorInfo *c = file->find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::BF16);
  EXPECT_EQ(file->readAsFloat32(*c), std::vector<float>({1.0f, -0.5f}));

  const TensorInfo *scalar = file->find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(file->readAsFloat32(*scalar), std::vector<float>({7.0f}));
  ASSERT_NE(file->find("empty"), nullptr);
  EXPECT_TRUE(file->data(*file->find("empty")).empty());
  EXPECT_EQ(file->find("missing"), nullptr);
  EXPECT_EQ(file->path(), pathOf("model.safetensors"));
}

TEST_F(ImportFileTest, TensorsAreListedInFileOrder) {
  // Header keys in one order, data in the other.
  std::string header = "{\"z\": {\"dtype\": \"F32\", \"shape\": [1], "
                       "\"data_offsets\": [0, 4]}, \"a\": {\"dtype\": \"F32\", "
                       "\"shape\": [1], \"data_offsets\": [4, 8]}}";
  Expected<SafetensorsFile> file =
      openBytes(safetensorsBytes(header, float32Bytes({1.0f, 2.0f})));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].name, "z");
  EXPECT_EQ(file->readAsFloat32(*file->find("a")), std::vector<float>({2.0f}));
}

TEST_F(ImportFileTest, HeaderPaddingAndHolesAreAccepted) {
  // Writers pad the header with spaces to align the data section.
  std::string header = "{\"t\": {\"dtype\": \"F32\", \"shape\": [1], "
                       "\"data_offsets\": [4, 8]}}      ";
  Expected<SafetensorsFile> file =
      openBytes(safetensorsBytes(header, float32Bytes({0.0f, 5.0f, 6.0f})));
  ASSERT_TRUE(bool(file)) << toString(file.takeError());
  EXPECT_EQ(file->readAsFloat32(file->tensors()[0]),
            std::vector<float>({5.0f}));
}

//===----------------------------------------------------------------------===//
// safetensors: the container
//===----------------------------------------------------------------------===//

TEST_F(ImportFileTest, SafetensorsMissing) {
  std::string path = pathOf("model.safetensors");
  EXPECT_TRUE(
      contains(errorOf(SafetensorsFile::open(path)), path + ": cannot read: "));
}

TEST_F(ImportFileTest, SafetensorsEmpty) {
  EXPECT_EQ(openError(""), pathOf("model.safetensors") + ": file is empty");
}

TEST_F(ImportFileTest, SafetensorsShorterThanLength) {
  EXPECT_EQ(openError(StringRef("\x05\x00\x00", 3)),
            pathOf("model.safetensors") +
                ": file is 3 bytes, too short for the 8-byte header length");
}

TEST_F(ImportFileTest, HeaderLengthZero) {
  EXPECT_EQ(openError(withHeaderLength(0, "{}")),
            pathOf("model.safetensors") + ": header length is 0");
}

TEST_F(ImportFileTest, HeaderLengthPastEndOfFile) {
  EXPECT_EQ(openError(withHeaderLength(100, "{}")),
            pathOf("model.safetensors") +
                ": header length 100 runs past the end of the file (10 bytes)");
}

TEST_F(ImportFileTest, HeaderLengthNear2To64) {
  for (uint64_t length : {~uint64_t(0), ~uint64_t(0) - 7, uint64_t(1) << 63})
    EXPECT_TRUE(contains(openError(withHeaderLength(length, "{}")),
                         "runs past the end of the file"));
}

TEST_F(ImportFileTest, HeaderLengthOverFormatLimit) {
  std::string path =
      write("model.safetensors", withHeaderLength(100000001, ""));
  extendSparse(path, 100000001 + 8);
  EXPECT_TRUE(contains(errorOf(SafetensorsFile::open(path)),
                       "header length 100000001 exceeds the safetensors "
                       "limit of 100000000 bytes"));
}

TEST_F(ImportFileTest, HeaderNotJson) {
  EXPECT_TRUE(
      contains(openError(safetensorsBytes("{\"t\": ", "")),
               pathOf("model.safetensors") + ": header: invalid JSON: "));
}

TEST_F(ImportFileTest, HeaderNotUtf8) {
  EXPECT_TRUE(contains(openError(safetensorsBytes("{\"\xc3\x28\": 1}", "")),
                       "Invalid UTF-8"));
}

TEST_F(ImportFileTest, HeaderNotAnObject) {
  EXPECT_EQ(openError(safetensorsBytes("[]", "")),
            pathOf("model.safetensors") +
                ": header: expected a JSON object, got []");
}

TEST_F(ImportFileTest, HeaderNestedTooDeep) {
  EXPECT_TRUE(contains(openError(safetensorsBytes(std::string(5000, '['), "")),
                       "header: JSON nested deeper than 64 levels"));
}

TEST_F(ImportFileTest, DuplicateTensorName) {
  std::string entry =
      "{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}";
  EXPECT_EQ(
      openError(safetensorsBytes("{\"w\": " + entry + ", \"w\": " + entry + "}",
                                 float32Bytes({1.0f}))),
      pathOf("model.safetensors") +
          ": tensor 'w': appears more than once in the header");
}

TEST_F(ImportFileTest, DuplicateKeyInsideEntry) {
  EXPECT_EQ(entryError("{\"dtype\": \"F32\", \"dtype\": \"F16\", \"shape\": "
                       "[1], \"data_offsets\": [0, 4]}"),
            pathOf("model.safetensors") +
                ": header: t.dtype: key appears more than once");
}

TEST_F(ImportFileTest, MetadataMustBeObjectOfStrings) {
  std::string path = pathOf("model.safetensors");
  EXPECT_EQ(openError(safetensorsBytes("{\"__metadata__\": [1]}", "")),
            path + ": __metadata__: expected an object of strings, got [1]");
  EXPECT_EQ(openError(safetensorsBytes("{\"__metadata__\": {\"n\": 3}}", "")),
            path + ": __metadata__.n: expected a string, got 3");
}

//===----------------------------------------------------------------------===//
// safetensors: entries
//===----------------------------------------------------------------------===//

TEST_F(ImportFileTest, EntryNotAnObject) {
  EXPECT_EQ(entryError("[1, 2]"),
            pathOf("model.safetensors") +
                ": tensor 't': expected an object with dtype, shape and "
                "data_offsets, got [1,2]");
}

TEST_F(ImportFileTest, EntryUnknownKey) {
  EXPECT_TRUE(contains(entryError("{\"dtype\": \"F32\", \"shape\": [1], "
                                  "\"data_offsets\": [0, 4], \"x\": 1}"),
                       "tensor 't': unknown key 'x'"));
}

TEST_F(ImportFileTest, EntryFieldsMissing) {
  EXPECT_TRUE(contains(entryError("{\"shape\": [1], \"data_offsets\": [0, 4]}"),
                       "tensor 't': dtype is missing"));
  EXPECT_TRUE(
      contains(entryError("{\"dtype\": \"F32\", \"data_offsets\": [0, 4]}"),
               "tensor 't': shape is missing"));
  EXPECT_TRUE(contains(entryError("{\"dtype\": \"F32\", \"shape\": [1]}"),
                       "tensor 't': data_offsets is missing"));
}

TEST_F(ImportFileTest, UnknownDtypeIsNamed) {
  EXPECT_EQ(entryError("{\"dtype\": \"I64\", \"shape\": [1], "
                       "\"data_offsets\": [0, 8]}"),
            pathOf("model.safetensors") +
                ": tensor 't': unsupported dtype \"I64\" (mbc reads F32, F16 "
                "and BF16)");
  EXPECT_TRUE(contains(entryError("{\"dtype\": 4, \"shape\": [1], "
                                  "\"data_offsets\": [0, 4]}"),
                       "unsupported dtype 4"));
}

TEST_F(ImportFileTest, ShapeNotAListOfNonNegativeIntegers) {
  auto shapeError = [&](StringRef shape) {
    return entryError(("{\"dtype\": \"F32\", \"shape\": " + shape +
                       ", \"data_offsets\": [0, 8]}")
                          .str());
  };
  std::string tensor = pathOf("model.safetensors") + ": tensor 't': ";
  EXPECT_EQ(shapeError("3"),
            tensor + "shape: expected a list of non-negative integers, got 3");
  EXPECT_EQ(shapeError("[2, -1]"),
            tensor + "shape[1]: expected a non-negative integer, got -1");
  // Integral, but not written as integers.
  EXPECT_EQ(shapeError("[2.0]"),
            tensor + "shape[0]: expected a non-negative integer, got 2.0");
  EXPECT_EQ(shapeError("[1e0]"),
            tensor + "shape[0]: expected a non-negative integer, got 1e0");
  for (StringRef shape : {"[\"2\"]", "[[2]]", "[true]", "[null]"})
    EXPECT_TRUE(contains(shapeError(shape),
                         "shape[0]: expected a non-negative integer"))
        << shape.str();
}

TEST_F(ImportFileTest, ShapeElementCountOverflows) {
  EXPECT_EQ(entryError("{\"dtype\": \"F32\", \"shape\": [4294967296, "
                       "4294967296], \"data_offsets\": [0, 8]}"),
            pathOf("model.safetensors") +
                ": tensor 't': shape [4294967296, 4294967296] has more bytes "
                "than fit in 64 bits");
}

TEST_F(ImportFileTest, OffsetsNotTwoIntegers) {
  auto offsetsError = [&](StringRef offsets) {
    return entryError(("{\"dtype\": \"F32\", \"shape\": [1], "
                       "\"data_offsets\": " +
                       offsets + "}")
                          .str());
  };
  std::string tensor = pathOf("model.safetensors") + ": tensor 't': ";
  for (StringRef offsets : {"[0]", "[0, 4, 8]", "{}", "4"})
    EXPECT_TRUE(contains(offsetsError(offsets),
                         tensor + "data_offsets: expected two non-negative "
                                  "integers [begin, end], got "))
        << offsets.str();
  EXPECT_EQ(offsetsError("[-1, 4]"),
            tensor + "data_offsets[0]: expected a non-negative integer, got "
                     "-1");
  EXPECT_EQ(offsetsError("[0, 4.0]"),
            tensor + "data_offsets[1]: expected a non-negative integer, got "
                     "4.0");
  EXPECT_EQ(offsetsError("[0, \"4\"]"),
            tensor + "data_offsets[1]: expected a non-negative integer, got "
                     "\"4\"");
}

TEST_F(ImportFileTest, OffsetsReversed) {
  EXPECT_EQ(entryError("{\"dtype\": \"F32\", \"shape\": [1], "
                       "\"data_offsets\": [8, 4]}"),
            pathOf("model.safetensors") +
                ": tensor 't': data_offsets [8, 4] are reversed (begin > end)");
}

TEST_F(ImportFileTest, OffsetsPastEndOfData) {
  EXPECT_EQ(entryError("{\"dtype\": \"F32\", \"shape\": [4], "
                       "\"data_offsets\": [0, 16]}",
                       /*dataSize=*/12),
            pathOf("model.safetensors") +
                ": tensor 't': data_offsets [0, 16] run past the end of the "
                "data section (12 bytes); the file may be truncated");
  EXPECT_TRUE(contains(entryError("{\"dtype\": \"F32\", \"shape\": [1], "
                                  "\"data_offsets\": [18446744073709551612, "
                                  "18446744073709551615]}"),
                       "run past the end of the data section"));
}

TEST_F(ImportFileTest, OffsetsDisagreeWithShape) {
  EXPECT_EQ(entryError("{\"dtype\": \"BF16\", \"shape\": [2, 2], "
                       "\"data_offsets\": [0, 16]}"),
            pathOf("model.safetensors") +
                ": tensor 't': data_offsets [0, 16] hold 16 bytes, but BF16 "
                "shape [2, 2] needs 8");
}

TEST_F(ImportFileTest, OverlappingTensors) {
  std::string header =
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
      " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]},"
      " \"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 4]}}";
  EXPECT_EQ(openError(safetensorsBytes(header, std::string(16, '\0'))),
            pathOf("model.safetensors") +
                ": tensor 'b': data_offsets [8, 16] overlap tensor 'a' at [0, "
                "16]");
}

TEST_F(ImportFileTest, OverlapAcrossAnInnerTensor) {
  // c starts after b ends but inside a, which b does not reach past.
  std::string header =
      "{\"a\": {\"dtype\": \"F32\", \"shape\": [6], \"data_offsets\": [0, 24]},"
      " \"b\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]},"
      " \"c\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [20, "
      "24]}}";
  EXPECT_TRUE(
      contains(openError(safetensorsBytes(header, std::string(24, '\0'))),
               "tensor 'c': data_offsets [20, 24] overlap tensor 'a'"));
}

//===----------------------------------------------------------------------===//
// Weights against the config
//===----------------------------------------------------------------------===//

class ValidateWeightsTest : public ImportFileTest {
protected:
  ModelConfig config(json::Object json) {
    Expected<ModelConfig> parsed =
        parseModelConfig(serialize(std::move(json)), configPath);
    EXPECT_TRUE(bool(parsed)) << toString(parsed.takeError());
    return parsed ? *parsed : ModelConfig();
  }

  std::string validationError(const ModelConfig &model,
                              ArrayRef<RawTensor> tensors) {
    Expected<SafetensorsFile> file = openBytes(safetensorsBytes(tensors));
    if (!file)
      return "open failed: " + toString(file.takeError());
    return errorOf(validateWeights(model, *file));
  }

  std::string prefix() const { return pathOf("model.safetensors") + ": "; }
};

TEST_F(ValidateWeightsTest, CompleteLucidrainsModelPasses) {
  ModelConfig model = config(lucidrainsConfig());
  EXPECT_EQ(validationError(model, tensorsFor(model)), "<no error>");
}

TEST_F(ValidateWeightsTest, CompletePaperModelPasses) {
  ModelConfig model = config(paperConfig());
  EXPECT_EQ(validationError(model, tensorsFor(model)), "<no error>");
}

TEST_F(ValidateWeightsTest, AnyAcceptedDtypePasses) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  for (RawTensor &tensor : tensors) {
    tensor.dtype = "BF16";
    tensor.bytes.resize(tensor.bytes.size() / 2);
  }
  EXPECT_EQ(validationError(model, tensors), "<no error>");
}

TEST_F(ValidateWeightsTest, MissingTensor) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  llvm::erase_if(tensors,
                 [](const RawTensor &t) { return t.name == "to_logits.bias"; });
  EXPECT_EQ(validationError(model, tensors),
            prefix() + "tensor 'to_logits.bias': missing (the config implies "
                       "it with shape [256])");
}

TEST_F(ValidateWeightsTest, UnexpectedTensor) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  tensors.push_back({"extra.weight", "F32", {1}, float32Bytes({0.0f})});
  EXPECT_EQ(validationError(model, tensors),
            prefix() + "tensor 'extra.weight': unexpected: the config does "
                       "not use a tensor of this name");
}

TEST_F(ValidateWeightsTest, ShapeMismatch) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  for (RawTensor &tensor : tensors)
    if (tensor.name == "transformers.0.layers.0.0.to_q.weight") {
      tensor.shape = {32, 16};
      tensor.bytes.assign(size_t{32} * 16 * 4, '\0');
    }
  EXPECT_EQ(validationError(model, tensors),
            prefix() + "tensor 'transformers.0.layers.0.0.to_q.weight': shape "
                       "[32, 16] does not match the config, expected [16, 32]");
}

TEST_F(ValidateWeightsTest, OldSingleHeadCheckpointIsExplained) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  for (RawTensor &tensor : tensors)
    if (StringRef(tensor.name).ends_with(".to_kv.weight")) {
      int64_t dim = tensor.shape[1];
      tensor.shape = {16, dim}; // 2 * dim_head: one shared K/V head
      tensor.bytes.assign(16 * dim * 4, '\0');
    }
  std::string error = validationError(model, tensors);
  EXPECT_TRUE(contains(error, "tensor 'transformers.0.layers.0.0.to_kv.weight':"
                              " shape [16, 32] does not match the config, "
                              "expected [32, 32] (a MEGABYTE-pytorch "
                              "checkpoint older than v0.3.0"));
  // Both layers are reported, one per line.
  EXPECT_TRUE(contains(error, "\n" + prefix() +
                                  "tensor 'transformers.1.layers.0.0.to_kv"));
}

TEST_F(ValidateWeightsTest, ManyProblemsAreCappedAfterTheFirst) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  for (RawTensor &tensor : tensors)
    tensor.name = "model." + tensor.name;
  std::string error = validationError(model, tensors);
  EXPECT_TRUE(contains(error, prefix() + "tensor 'start_tokens.0': missing"));
  EXPECT_TRUE(contains(error, "more problems not shown)"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 10);
}

TEST_F(ValidateWeightsTest, RotaryBufferIsOptionalAndChecked) {
  json::Object json = lucidrainsConfig();
  json["rotary"] = true;
  ModelConfig model = config(std::move(json));
  std::vector<RawTensor> tensors = tensorsFor(model);
  EXPECT_EQ(validationError(model, tensors), "<no error>");

  // dim_head 8: inv_freq[i] = 10000^(-2i/8).
  std::vector<float> inverseFrequencies;
  for (int i = 0; i < 4; ++i)
    inverseFrequencies.push_back(
        float(1.0 / std::pow(10000.0, double(2 * i) / 8.0)));
  tensors.push_back({"transformers.0.rotary_emb.inv_freq",
                     "F32",
                     {4},
                     float32Bytes(inverseFrequencies)});
  EXPECT_EQ(validationError(model, tensors), "<no error>");

  // Saved with theta 500000 instead.
  std::vector<float> wrongTheta;
  for (int i = 0; i < 4; ++i)
    wrongTheta.push_back(float(1.0 / std::pow(500000.0, double(2 * i) / 8.0)));
  tensors.push_back({"transformers.1.rotary_emb.inv_freq",
                     "F32",
                     {4},
                     float32Bytes(wrongTheta)});
  EXPECT_TRUE(contains(validationError(model, tensors),
                       prefix() + "tensor 'transformers.1.rotary_emb.inv_freq'"
                                  ": element 1 is "));

  tensors.back().shape = {3};
  tensors.back().bytes.resize(12);
  EXPECT_TRUE(contains(validationError(model, tensors),
                       "tensor 'transformers.1.rotary_emb.inv_freq': shape [3] "
                       "does not match the config, expected [4]"));
}

TEST_F(ValidateWeightsTest, RotaryBufferIsUnexpectedWithoutRotary) {
  ModelConfig model = config(lucidrainsConfig());
  std::vector<RawTensor> tensors = tensorsFor(model);
  tensors.push_back({"transformers.0.rotary_emb.inv_freq",
                     "F32",
                     {4},
                     float32Bytes({1, 1, 1, 1})});
  EXPECT_TRUE(contains(validationError(model, tensors),
                       "tensor 'transformers.0.rotary_emb.inv_freq': "
                       "unexpected"));
}

} // namespace
