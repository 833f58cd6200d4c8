//===- ArtifactLoadTest.cpp - every way an artifact is rejected -----------===//
#include "Model.h"
#include "TestArtifacts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

using namespace mbrt_test;
using ::testing::HasSubstr;

namespace {

/// Builds an artifact with `options` and expects loading it to fail with
/// `status` and a message holding every one of `fragments`.
void expectRejected(const std::vector<std::string> &options, mbrt_status status,
                    const std::vector<std::string> &fragments) {
  std::string path = makeArtifact("model.mbx", options);
  std::string message;
  EXPECT_EQ(tryLoad(path, message), status) << message;
  for (const std::string &fragment : fragments)
    EXPECT_THAT(message, HasSubstr(fragment));
}

TEST(ArtifactLoad, GoodEmbeddedArtifactLoads) {
  std::string path = makeArtifact("model.mbx");
  mbrt_model *model = nullptr;
  ASSERT_EQ(mbrt_model_load(path.c_str(), nullptr, &model), MBRT_OK)
      << mbrt_model_error(model);
  EXPECT_EQ(mbrt_model_format_version(model), 1u);
  EXPECT_EQ(mbrt_model_vocab_size(model), 256);
  EXPECT_EQ(mbrt_model_max_length(model), 4);
  EXPECT_EQ(mbrt_model_score_window(model), 4);
  EXPECT_EQ(mbrt_model_score_batch(model), 1);
  EXPECT_TRUE(mbrt_model_can_generate(model));
  EXPECT_EQ(mbrt_model_weights_path(model), nullptr);
  size_t size = 0;
  const char *meta = mbrt_model_metadata(model, &size);
  ASSERT_NE(meta, nullptr);
  EXPECT_THAT(std::string(meta, size), HasSubstr("\"entry_points\""));
  EXPECT_STREQ(mbrt_model_error(model), "");
  mbrt_model_free(model);
}

TEST(ArtifactLoad, MissingFile) {
  std::string message;
  EXPECT_EQ(tryLoad("/nonexistent/model.mbx", message), MBRT_ERROR_IO);
  EXPECT_THAT(message, HasSubstr("/nonexistent/model.mbx: cannot open"));
}

TEST(ArtifactLoad, ShortFile) {
  expectRejected({"--bad-short", "20"}, MBRT_ERROR_FORMAT,
                 {"20 bytes is shorter than the 64-byte header"});
}

TEST(ArtifactLoad, EmptyFile) {
  expectRejected({"--bad-short", "0"}, MBRT_ERROR_FORMAT,
                 {"0 bytes is shorter"});
}

TEST(ArtifactLoad, WrongMagic) {
  expectRejected({"--bad-magic"}, MBRT_ERROR_FORMAT, {"wrong magic"});
}

TEST(ArtifactLoad, NewerVersion) {
  expectRejected({"--bad-version", "2"}, MBRT_ERROR_UNSUPPORTED_VERSION,
                 {"artifact format version 2 is newer than this runtime's 1"});
}

TEST(ArtifactLoad, Truncated) {
  expectRejected({"--bad-truncate", "100"}, MBRT_ERROR_FORMAT,
                 {"truncated: the header says"});
}

TEST(ArtifactLoad, SectionTableOutsideFile) {
  expectRejected({"--bad-table-offset", "1000000000"}, MBRT_ERROR_FORMAT,
                 {"section table", "lies outside the file"});
}

TEST(ArtifactLoad, ChecksumMismatchNamesTheSection) {
  for (const char *section : {"META", "CPU_CODE", "WEIGHTS"})
    expectRejected({"--bad-checksum", section}, MBRT_ERROR_FORMAT,
                   {std::string(section) + " section checksum mismatch"});
}

TEST(ArtifactLoad, MissingMeta) {
  expectRejected({"--bad-omit", "META"}, MBRT_ERROR_FORMAT,
                 {"no META section"});
}

TEST(ArtifactLoad, MissingCode) {
  expectRejected({"--bad-omit", "CPU_CODE"}, MBRT_ERROR_FORMAT,
                 {"no code section"});
}

TEST(ArtifactLoad, MissingWeightsSection) {
  expectRejected({"--bad-omit", "WEIGHTS"}, MBRT_ERROR_FORMAT,
                 {"no WEIGHTS section"});
}

TEST(ArtifactLoad, MetaIsNotJson) {
  expectRejected({"--meta-raw", "{\"format_version\": 1,"}, MBRT_ERROR_FORMAT,
                 {"META: not valid JSON"});
}

struct MalformedMetaCase {
  std::vector<std::string> options;
  std::string expected;
};

TEST(ArtifactLoad, MalformedMetaFieldsAreNamed) {
  const MalformedMetaCase cases[] = {
      {{"--meta-delete", "model.vocab_size"},
       "META: model.vocab_size: required key is missing"},
      {{"--meta-set", "format_version=\"1\""},
       "META: format_version: expected an integer, got string"},
      {{"--meta-set", "compiler=3"}, "META: compiler: expected a string"},
      {{"--meta-delete", "targets"}, "META: targets: required key is missing"},
      {{"--meta-set", "model.architecture=\"gpt\""},
       "META: model.architecture: expected \"megabyte\" or"},
      {{"--meta-set", "model.pad_id=256"},
       "META: model.pad_id: expected an integer in [0, 255], got 256"},
      {{"--meta-set", "model.stages[1].seq_len=0"},
       "META: model.stages[1].seq_len: expected an integer in [1,"},
      {{"--meta-set", "weights.mode=\"cloud\""},
       "META: weights.mode: expected \"embedded\" or \"external\""},
      {{"--meta-set", "weights.tensors[0].dtype=\"F64\""},
       "META: weights.tensors[0].dtype: expected \"F32\", \"F16\" or "
       "\"BF16\""},
      {{"--meta-set", "weights.tensors[0].size=3"},
       "META: weights.tensors[0].size: 3 bytes, but shape"},
      {{"--meta-set", "weights.tensors[1].offset=100000"},
       "lie outside the WEIGHTS section"},
      {{"--meta-set", "entry_points[0].args[0]={\"kind\": \"weight\", "
                      "\"name\": \"head.dims\"}"},
       "META: entry_points[0].args[0].kind: args[0] must be the context"},
      {{"--meta-set", "entry_points[0].args[1].name=\"nope\""},
       "META: entry_points[0].args[1].name: weight \"nope\" is not in "
       "weights.tensors"},
      {{"--meta-set", "entry_points[0].args[2].dtype=\"q8\""},
       "META: entry_points[0].args[2].dtype: expected one of"},
      {{"--meta-set", "entry_points[0].args[2].shape=[1, -4]"},
       "META: entry_points[0].args[2].shape[1]: expected an integer in [0,"},
      {{"--meta-set", "entry_points[0].args[3].shape=[1, 4, 255]"},
       "META: entry_points[0].args[3]: entry point \"score\" needs an output "
       "\"logp\" of f32 [1, 4, 256], got output of f32 [1, 4, 255]"},
      {{"--meta-set", "entry_points[0].args[3]={\"kind\": \"context\"}"},
       "only args[0] may be the context"},
      {{"--meta-set", "entry_points[1].name=\"embed_9\""},
       "META: entry_points: generation needs an entry point \"embed_0\""},
      {{"--meta-set", "generation.stages[0].units=3"},
       "META: generation.stages[0].units: expected 2"},
      {{"--meta-set", "generation.stages[1].positions=2"},
       "META: generation.stages[1].positions: expected 3"},
      {{"--meta-set", "generation.start_token=false"},
       "META: generation.start_token: architecture \"megabyte-lucidrains\" "
       "needs true"},
      {{"--meta-set", "generation.stages=[]"},
       "META: generation.stages: 0 stages, but model.stages has 2"},
      {{"--meta-set", "weights.tensors[0].name=\"head.dims\""},
       "tensor \"head.dims\" is listed twice"},
  };
  for (const MalformedMetaCase &testCase : cases) {
    SCOPED_TRACE(testCase.options.back());
    expectRejected(testCase.options, MBRT_ERROR_FORMAT, {testCase.expected});
  }
}

TEST(ArtifactLoad, MissingSymbolIsNamed) {
  expectRejected({"--meta-set", "entry_points[0].symbol=\"mbc_entry_nope\""},
                 MBRT_ERROR_CODE,
                 {"CPU_CODE does not define symbol \"mbc_entry_nope\" of "
                  "entry point \"score\" (META entry_points[0].symbol)"});
}

// META that passes every check of its own but disagrees with the code's
// `<symbol>_signature` (fake_entries.c's use `?` for the sizes they read).
TEST(ArtifactLoad, ArgumentsDisagreeingWithTheCodeAreNamed) {
  expectRejected({"--meta-swap", "entry_points[0].args[2]=entry_points[0]."
                                 "args[3]"},
                 MBRT_ERROR_CODE,
                 {"entry point \"score\": META entry_points[0].args[2] is "
                  "\"output logp f32 [1,4,256]\", but the compiled code "
                  "takes \"input bytes i32 [?,?]\" there"});
  expectRejected({"--meta-set", "entry_points[0].args[1].name=\"head.dims\""},
                 MBRT_ERROR_CODE,
                 {"META entry_points[0].args[1] is \"weight head.dims F32 "
                  "[2]\", but the compiled code takes \"weight score.dims F32 "
                  "[?]\" there"});
  expectRejected({"--meta-set", "entry_points[0].args[+]={\"kind\": "
                                "\"input\", \"name\": \"x\", \"dtype\": "
                                "\"f32\", \"shape\": [1]}"},
                 MBRT_ERROR_CODE,
                 {"META entry_points[0].args lists 5 arguments, but the "
                  "compiled code takes 4"});
  // A symbol without a signature: logf, found through the code's libm.
  expectRejected({"--meta-set", "entry_points[0].symbol=\"logf\""},
                 MBRT_ERROR_CODE,
                 {"CPU_CODE does not define \"logf_signature\", the argument "
                  "list its code was compiled for"});
}

TEST(ArtifactLoad, ForeignCpuIsRejected) {
  expectRejected(
      {"--meta-set", "targets[0].triple=\"aarch64-unknown-linux-gnu\""},
      MBRT_ERROR_UNSUPPORTED,
      {"targets[0]: compiled for aarch64-unknown-linux-gnu"});
}

TEST(ArtifactLoad, MisalignedEmbeddedWeight) {
  expectRejected({"--bad-weight-offset", "4"}, MBRT_ERROR_FORMAT,
                 {"(\"score.dims\"): offset", "is not 16-byte aligned"});
}

TEST(ArtifactLoad, CudaDeviceIsAbsentHere) {
  std::string path = makeArtifact("model.mbx");
  mbrt_model_options options = mbrt_model_default_options();
  options.device = MBRT_DEVICE_CUDA;
  std::string message;
  mbrt_status status = tryLoad(path, message, &options);
  if (status == MBRT_ERROR_NO_DEVICE)
    EXPECT_THAT(message, HasSubstr("no CUDA device"));
  else // a machine with a GPU: the backend is still missing
    EXPECT_EQ(status, MBRT_ERROR_UNSUPPORTED) << message;
}

//===--------------------------- external weights
//---------------------------===//

TEST(ExternalWeights, LoadsAndReportsThePath) {
  std::string path = makeArtifact("model.mbx", {"--weights", "external"});
  mbrt_model *model = nullptr;
  ASSERT_EQ(mbrt_model_load(path.c_str(), nullptr, &model), MBRT_OK)
      << mbrt_model_error(model);
  ASSERT_NE(mbrt_model_weights_path(model), nullptr);
  EXPECT_THAT(mbrt_model_weights_path(model),
              HasSubstr("/weights.safetensors"));
  mbrt_model_free(model);
}

TEST(ExternalWeights, MissingFile) {
  expectRejected({"--weights", "external", "--meta-set",
                  "weights.file=\"absent.safetensors\""},
                 MBRT_ERROR_WEIGHTS,
                 {"external weights (META weights.file, relative to the "
                  "artifact's folder)",
                  "absent.safetensors: cannot open"});
}

TEST(ExternalWeights, OverridePathIsUsed) {
  std::string good = makeArtifact("model.mbx", {"--weights", "external"});
  std::string broken =
      makeArtifact("model.mbx", {"--weights", "external", "--meta-set",
                                 "weights.file=\"absent.safetensors\""});
  std::string weights =
      good.substr(0, good.rfind('/')) + "/weights.safetensors";
  mbrt_model_options options = mbrt_model_default_options();
  options.weights_path = weights.c_str();
  std::string message;
  EXPECT_EQ(tryLoad(broken, message, &options), MBRT_OK) << message;
}

TEST(ExternalWeights, MissingTensor) {
  expectRejected({"--weights", "external", "--st-drop", "head.dims"},
                 MBRT_ERROR_WEIGHTS,
                 {"tensor \"head.dims\" is missing", "expects F32 [2]"});
}

TEST(ExternalWeights, WrongShape) {
  expectRejected(
      {"--weights", "external", "--st-shape", "head.dims"}, MBRT_ERROR_WEIGHTS,
      {"tensor \"head.dims\" has shape [2, 1], the artifact expects F32 [2]"});
}

TEST(ExternalWeights, WrongDtype) {
  expectRejected(
      {"--weights", "external", "--st-dtype", "score.dims"}, MBRT_ERROR_WEIGHTS,
      {"tensor \"score.dims\" has dtype F16, the artifact expects F32 [3]"});
}

TEST(ExternalWeights, AliasedBytes) {
  expectRejected({"--weights", "external", "--st-alias", "head.dims"},
                 MBRT_ERROR_WEIGHTS,
                 {"data_offsets [", "] overlap tensor \"head.dims\"'s ["});
}

TEST(ExternalWeights, Truncated) {
  expectRejected({"--weights", "external", "--st-truncate", "6"},
                 MBRT_ERROR_WEIGHTS,
                 {"lie outside the data section", "truncated file?"});
}

TEST(ExternalWeights, NotSafetensors) {
  std::string path = makeArtifact("model.mbx", {"--weights", "external"});
  std::string weights =
      path.substr(0, path.rfind('/')) + "/weights.safetensors";
  FILE *file = std::fopen(weights.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fputs("\xff\xff\xff\xff\xff\xff\xff\x7f{}", file);
  std::fclose(file);
  std::string message;
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_WEIGHTS);
  EXPECT_THAT(message, HasSubstr("exceeds the file"));
}

TEST(CApi, NullArgumentsAreErrorsNotCrashes) {
  EXPECT_EQ(mbrt_model_load("x", nullptr, nullptr),
            MBRT_ERROR_INVALID_ARGUMENT);
  mbrt_model *model = nullptr;
  EXPECT_EQ(mbrt_model_load(nullptr, nullptr, &model),
            MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mbrt_model_error(model), HasSubstr("NULL"));
  mbrt_session *session = nullptr;
  // A session from a model that failed to load reports why.
  EXPECT_EQ(mbrt_session_create(model, nullptr, &session),
            MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mbrt_session_error(session), HasSubstr("failed to load"));
  double bpb;
  EXPECT_EQ(mbrt_session_score(session, nullptr, 0, nullptr, nullptr, &bpb),
            MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(mbrt_session_score(nullptr, nullptr, 0, nullptr, nullptr, &bpb),
            MBRT_ERROR_INVALID_ARGUMENT);
  mbrt_session_free(session);
  mbrt_model_free(model);
  mbrt_model_free(nullptr);
  mbrt_session_free(nullptr);
  EXPECT_STREQ(mbrt_status_name(MBRT_ERROR_MAX_LENGTH),
               "maximum sequence length reached");
}

} // namespace

//===----------------------------------------------------------------------===//
// Derived weights (docs/artifact.md): f32 tensors rounded to bf16 at load.
//===----------------------------------------------------------------------===//

namespace derived {

// f32 bits -> bf16 bits as PyTorch rounds them:
// torch.tensor([x]).to(torch.bfloat16) (nearest, ties to even).
TEST(DerivedWeights, RoundToBf16MatchesPyTorch) {
  const std::pair<uint32_t, uint16_t> cases[] = {
      {0x3f800000u, 0x3f80u}, // 1.0
      {0x3f808000u, 0x3f80u}, // 1 + 2^-8: a tie, to the even 0x3f80
      {0x3f818000u, 0x3f82u}, // a tie, to the even 0x3f82
      {0x3f808001u, 0x3f81u}, // just above a tie: up
      {0x3f7fffffu, 0x3f80u}, // rounds up into the next binade
      {0xc0200000u, 0xc020u}, // -2.5
      {0x7f7f0000u, 0x7f7fu}, // the largest finite bf16
      {0x7f7fc99eu, 0x7f80u}, // 3.4e38: past it, to inf
      {0x00000000u, 0x0000u}, // 0
      {0x80000000u, 0x8000u}, // -0
      {0x000116c2u, 0x0001u}, // 1e-40, a denormal
      {0x477fe000u, 0x4780u}, // 65504
      {0x3dcccccdu, 0x3dcdu}, // 0.1
      {0x80800000u, 0x8080u}, // -FLT_MIN
      {0x7f800000u, 0x7f80u}, // inf
      {0xff800000u, 0xff80u}, // -inf
  };
  for (auto [bits, expected] : cases) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    EXPECT_EQ(mbrt::roundToBf16(value), expected) << std::hex << bits;
  }
  // NaN stays NaN (its bits are not PyTorch's: no weight is NaN).
  float nan;
  uint32_t nanBits = 0x7fc00001u;
  std::memcpy(&nan, &nanBits, sizeof nan);
  uint16_t rounded = mbrt::roundToBf16(nan);
  EXPECT_EQ(rounded & 0x7f80u, 0x7f80u);
  EXPECT_NE(rounded & 0x007fu, 0u);
}

TEST(DerivedWeights, MalformedEntriesNameTheField) {
  const std::string tensor = "weights.tensors[7]";
  expectRejected({"--derive", "score.dims", "--meta-set",
                  tensor + ".derived.from=\"nothing\""},
                 MBRT_ERROR_FORMAT,
                 {tensor + ".derived.from: \"nothing\" is not a stored tensor "
                           "listed before this one"});
  expectRejected({"--derive", "score.dims", "--meta-set",
                  tensor + ".derived.convert=\"f16\""},
                 MBRT_ERROR_FORMAT,
                 {tensor + ".derived.convert: expected \"bf16\""});
  expectRejected(
      {"--derive", "score.dims", "--meta-set", tensor + ".dtype=\"F16\""},
      MBRT_ERROR_FORMAT,
      {tensor + ".dtype: a tensor derived by \"convert\": \"bf16\" "
                "is BF16, got F16"});
  expectRejected(
      {"--derive", "score.dims", "--meta-set", tensor + ".shape=[2]"},
      MBRT_ERROR_FORMAT, {tensor + ".derived.from: \"score.dims\" is F32 [3]"});
  expectRejected({"--derive", "score.dims", "--meta-set", tensor + ".offset=0"},
                 MBRT_ERROR_FORMAT,
                 {tensor + ".offset: a derived tensor is stored nowhere"});
  expectRejected({"--derive", "score.dims", "--meta-set",
                  tensor + ".derived.from=\"score.dims:bf16\""},
                 MBRT_ERROR_FORMAT, {"is not a stored tensor listed before"});
  // An entry point taking one (the CPU code would read nothing there).
  expectRejected({"--derive", "score.dims", "--meta-set",
                  "entry_points[0].args[1].name=\"score.dims:bf16\""},
                 MBRT_ERROR_FORMAT,
                 {"entry_points[0].args[1].name: weight \"score.dims:bf16\" "
                  "is a derived tensor"});
}

} // namespace derived
