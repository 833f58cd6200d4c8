//===- ScoreTest.cpp - windows, padding, bits per byte, args layout -------===//
#include "TestArtifacts.h"

#include "mbc/ArtifactFormat.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

using namespace mbrt_test;
using ::testing::HasSubstr;

namespace {

/// fake_score's log p(x_t): -(t mod T + 1) - x_t / 1024.
float fakeLogprob(size_t offset, size_t window, uint8_t byte) {
  return -static_cast<float>(offset % window + 1) -
         static_cast<float>(byte) / 1024.0f;
}

TEST(Score, WindowsPaddingAndBitsPerByte) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--pad-id", "7"}));
  const std::vector<uint8_t> input = {10, 0, 255, 3, 4, 5, 6, 7, 8, 9};
  const size_t window = 4, vocab = 256;
  std::vector<float> byteLogprobs(input.size());
  std::vector<float> rows(input.size() * vocab);
  double bitsPerByte = 0;
  clearRecordedCalls();
  ASSERT_EQ(mbrt_session_score(loaded.session, input.data(), input.size(),
                               byteLogprobs.data(), rows.data(), &bitsPerByte),
            MBRT_OK)
      << mbrt_session_error(loaded.session);

  double total = 0;
  for (size_t t = 0; t < input.size(); ++t) {
    float expected = fakeLogprob(t, window, input[t]);
    EXPECT_EQ(byteLogprobs[t], expected) << "offset " << t;
    EXPECT_EQ(rows[t * vocab + 17], fakeLogprob(t, window, 17));
    total += expected;
  }
  EXPECT_NEAR(bitsPerByte, -total / (input.size() * std::log(2.0)), 1e-12);

  // Three windows of 4; the last one holds 2 real bytes and 2 pads.
  std::vector<RecordedCall> calls = recordedCalls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].bytes, (std::vector<int32_t>{10, 0, 255, 3}));
  EXPECT_EQ(calls[1].bytes, (std::vector<int32_t>{4, 5, 6, 7}));
  EXPECT_EQ(calls[2].bytes, (std::vector<int32_t>{8, 9, 7, 7}));
}

TEST(Score, BatchedWindowsPadWholeRows) {
  LoadedModel loaded(
      makeArtifact("model.mbx", {"--score-batch", "2", "--score-window", "3"}));
  const std::vector<uint8_t> input = {1, 2, 3, 4, 5, 6, 7};
  std::vector<float> byteLogprobs(input.size());
  clearRecordedCalls();
  ASSERT_EQ(mbrt_session_score(loaded.session, input.data(), input.size(),
                               byteLogprobs.data(), nullptr, nullptr),
            MBRT_OK)
      << mbrt_session_error(loaded.session);
  std::vector<RecordedCall> calls = recordedCalls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].bytes, (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(calls[1].bytes, (std::vector<int32_t>{7, 0, 0, 0, 0, 0}));
  for (size_t t = 0; t < input.size(); ++t)
    EXPECT_EQ(byteLogprobs[t], fakeLogprob(t, 3, input[t]));
}

TEST(Score, EmptyInputScoresNothing) {
  LoadedModel loaded(makeArtifact("model.mbx"));
  double bitsPerByte = -1;
  clearRecordedCalls();
  EXPECT_EQ(mbrt_session_score(loaded.session, nullptr, 0, nullptr, nullptr,
                               &bitsPerByte),
            MBRT_OK);
  EXPECT_EQ(bitsPerByte, 0.0);
  EXPECT_TRUE(recordedCalls().empty());
}

TEST(Score, ByteOutsideVocabularyNamesItsOffset) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--vocab", "16"}));
  const std::vector<uint8_t> input = {1, 2, 15, 3, 4, 200, 5};
  double bitsPerByte;
  EXPECT_EQ(mbrt_session_score(loaded.session, input.data(), input.size(),
                               nullptr, nullptr, &bitsPerByte),
            MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(mbrt_session_error(loaded.session),
              HasSubstr("input: byte 200 at offset 5 is outside the model's "
                        "vocabulary of 16 tokens"));
  // The session stays usable after an error.
  EXPECT_EQ(mbrt_session_score(loaded.session, input.data(), 5, nullptr,
                               nullptr, &bitsPerByte),
            MBRT_OK);
  EXPECT_STREQ(mbrt_session_error(loaded.session), "");
}

/// The args array of docs/artifact.md: context first, weights by name,
/// runtime-owned buffers; weights 16-byte aligned in both weight modes.
void checkScoreArguments(const std::vector<std::string> &options) {
  LoadedModel loaded(makeArtifact("model.mbx", options));
  const uint8_t input[] = {42, 43};
  clearRecordedCalls();
  ASSERT_EQ(
      mbrt_session_score(loaded.session, input, 2, nullptr, nullptr, nullptr),
      MBRT_OK);
  std::vector<RecordedCall> calls = recordedCalls();
  ASSERT_EQ(calls.size(), 1u);
  void **args = calls[0].args;
  auto *context = static_cast<mbrt_host_context *>(args[0]);
  EXPECT_NE(context->parallel_for, nullptr);
  EXPECT_NE(context->runtime, nullptr);
  EXPECT_EQ(calls[0].dims, (std::vector<float>{1, 4, 256})); // score.dims
  EXPECT_EQ(reinterpret_cast<uintptr_t>(args[1]) % 16, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(args[2]) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(args[3]) % 64, 0u);
  EXPECT_NE(args[2], args[3]);
}

TEST(Score, ArgumentsLayoutEmbeddedWeights) { checkScoreArguments({}); }

TEST(Score, ArgumentsLayoutExternalWeightsRealigned) {
  checkScoreArguments({"--weights", "external"});
}

} // namespace
