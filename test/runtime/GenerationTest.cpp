//===- GenerationTest.cpp - the driving order of docs/runtime.md ----------===//
//
// The fake entry points record every call; these tests pin the sequence the
// runtime must issue for each architecture with 2 and 3 stages, written out
// by hand from docs/runtime.md, plus the contexts and units each step gets.
//
//===----------------------------------------------------------------------===//
#include "TestArtifacts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

using namespace mbrt_test;
using ::testing::HasSubstr;

namespace {

struct Generated {
  mbrt_status status;
  std::string message;
  std::vector<uint8_t> bytes;
  std::vector<RecordedCall> calls;
};

Generated
generate(const LoadedModel &loaded, const std::string &prompt, size_t count,
         mbrt_sampler_options sampler = mbrt_sampler_default_options()) {
  Generated result;
  result.bytes.resize(count);
  size_t made = 0;
  clearRecordedCalls();
  result.status = mbrt_session_generate(
      loaded.session, reinterpret_cast<const uint8_t *>(prompt.data()),
      prompt.size(), count, &sampler, nullptr, nullptr, result.bytes.data(),
      &made);
  result.bytes.resize(made);
  result.message = mbrt_session_error(loaded.session);
  result.calls = recordedCalls();
  return result;
}

std::vector<RecordedCall> callsOf(const std::vector<RecordedCall> &calls,
                                  const std::string &entry) {
  std::vector<RecordedCall> matching;
  for (const RecordedCall &call : calls)
    if (call.entry == entry)
      matching.push_back(call);
  return matching;
}

/// Each stage's caches and shift state are zero exactly when it starts a
/// sequence (position 0) and hold earlier positions' marks otherwise.
void expectCachesResetAtPositionZero(const std::vector<RecordedCall> &calls) {
  for (const RecordedCall &call : calls) {
    if (call.entry.rfind("step_", 0) == 0) {
      EXPECT_EQ(call.stateClean, call.position == 0)
          << call.entry << "@" << call.position;
    }
  }
}

std::vector<float> contextTags(const std::vector<RecordedCall> &calls,
                               const std::string &entry) {
  std::vector<float> tags;
  for (const RecordedCall &call : callsOf(calls, entry))
    tags.push_back(call.contextTag);
  return tags;
}

TEST(Generation, LucidrainsTwoStages) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--seq-lens", "2,2"}));
  Generated result = generate(loaded, "", 4);
  ASSERT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_EQ(compactCallSequence(result.calls),
            "e0@0 s0@0 p0 e1@0 s1@0 h "           // start: log p(x0)
            "e1@1 s1@1 h "                        // x0 -> log p(x1)
            "e1@2 s1@2 h e0@1 s0@1 p0 e1@0 s1@0 " // x1 ends patch 0
            "e1@1 s1@1 h");                       // x2 -> log p(x3)
  // The fake head predicts token[0] + 1: the last byte plus one.
  EXPECT_EQ(result.bytes, (std::vector<uint8_t>{0, 1, 2, 3}));
  expectCachesResetAtPositionZero(result.calls);
  // Position j >= 1 of the local sequence gets ctx[j - 1]; position 0 zero.
  // Tags: 1000 + 100 * (global position) + row.
  EXPECT_EQ(contextTags(result.calls, "step_1"),
            (std::vector<float>{0, 1000, 1001, 0, 1100}));
  EXPECT_EQ(contextTags(result.calls, "step_0"), (std::vector<float>{0, 0}));
  // The global step at position 1 embeds patch 0 (x0, x1).
  std::vector<RecordedCall> globalEmbeds = callsOf(result.calls, "embed_0");
  ASSERT_EQ(globalEmbeds.size(), 2u);
  EXPECT_EQ(globalEmbeds[1].unit, (std::vector<int32_t>{0, 1}));
  std::vector<RecordedCall> localEmbeds = callsOf(result.calls, "embed_1");
  EXPECT_EQ(localEmbeds[1].unit, (std::vector<int32_t>{0})); // x0 at e1@1
}

TEST(Generation, PaperTwoStages) {
  LoadedModel loaded(makeArtifact(
      "model.mbx", {"--architecture", "megabyte", "--seq-lens", "2,2"}));
  Generated result = generate(loaded, "", 4);
  ASSERT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_EQ(compactCallSequence(result.calls), "e0@0 s0@0 p0 e1@0 s1@0 h "
                                               "e1@1 s1@1 h "
                                               "e0@1 s0@1 p0 e1@0 s1@0 h "
                                               "e1@1 s1@1 h");
  // Position 0 of a local sequence is the pad (token -1 -> predicts 0).
  EXPECT_EQ(result.bytes, (std::vector<uint8_t>{0, 1, 0, 1}));
  expectCachesResetAtPositionZero(result.calls);
  // Position j gets ctx[j] (the paper's shift is inside the context).
  EXPECT_EQ(contextTags(result.calls, "step_1"),
            (std::vector<float>{1000, 1001, 1100, 1101}));
}

TEST(Generation, LucidrainsThreeStages) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--seq-lens", "2,2,2"}));
  Generated result = generate(loaded, "", 8);
  ASSERT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_EQ(compactCallSequence(result.calls),
            "e0@0 s0@0 p0 e1@0 s1@0 p1 e2@0 s2@0 h "
            "e2@1 s2@1 h "
            "e2@2 s2@2 h e1@1 s1@1 p1 e2@0 s2@0 "
            "e2@1 s2@1 h "
            "e2@2 s2@2 h e0@1 s0@1 p0 e1@0 s1@0 p1 e2@0 s2@0 "
            "e2@1 s2@1 h "
            "e2@2 s2@2 h e1@1 s1@1 p1 e2@0 s2@0 "
            "e2@1 s2@1 h");
  EXPECT_EQ(result.bytes, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  expectCachesResetAtPositionZero(result.calls);
  std::vector<RecordedCall> middleEmbeds = callsOf(result.calls, "embed_1");
  ASSERT_EQ(middleEmbeds.size(), 4u);
  EXPECT_EQ(middleEmbeds[1].unit, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(middleEmbeds[3].unit, (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(callsOf(result.calls, "embed_0")[1].unit,
            (std::vector<int32_t>{0, 1, 2, 3}));
  // Middle stage: ctx_1[j - 1] from project_0 (tags 1000 + 100 * p0 + row).
  EXPECT_EQ(contextTags(result.calls, "step_1"),
            (std::vector<float>{0, 1000, 0, 1100}));
  // Finest stage: ctx_2[j - 1] from project_1 (2000 + 100 * p1 + row).
  EXPECT_EQ(contextTags(result.calls, "step_2"),
            (std::vector<float>{0, 2000, 2001, 0, 2100, 2101, 0, 2000, 2001, 0,
                                2100}));
}

TEST(Generation, PaperThreeStages) {
  LoadedModel loaded(makeArtifact(
      "model.mbx", {"--architecture", "megabyte", "--seq-lens", "2,2,2"}));
  Generated result = generate(loaded, "", 8);
  ASSERT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_EQ(compactCallSequence(result.calls),
            "e0@0 s0@0 p0 e1@0 s1@0 p1 e2@0 s2@0 h "
            "e2@1 s2@1 h "
            "e1@1 s1@1 p1 e2@0 s2@0 h "
            "e2@1 s2@1 h "
            "e0@1 s0@1 p0 e1@0 s1@0 p1 e2@0 s2@0 h "
            "e2@1 s2@1 h "
            "e1@1 s1@1 p1 e2@0 s2@0 h "
            "e2@1 s2@1 h");
  expectCachesResetAtPositionZero(result.calls);
  EXPECT_EQ(contextTags(result.calls, "step_1"),
            (std::vector<float>{1000, 1001, 1100, 1101}));
  EXPECT_EQ(
      contextTags(result.calls, "step_2"),
      (std::vector<float>{2000, 2001, 2100, 2101, 2000, 2001, 2100, 2101}));
}

TEST(Generation, PromptIsFedBeforeSampling) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--seq-lens", "4,4"}));
  Generated result = generate(loaded, "ab", 3);
  ASSERT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_EQ(result.bytes, (std::vector<uint8_t>{'c', 'd', 'e'}));
  // Prompt bytes of any value work.
  result = generate(loaded, std::string("\0\xff", 2), 1);
  ASSERT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_EQ(result.bytes, (std::vector<uint8_t>{0}));
}

TEST(Generation, StopsAtMaximumLengthWithAClearMessage) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--seq-lens", "2,2"}));
  Generated result = generate(loaded, "x", 10);
  EXPECT_EQ(result.status, MBRT_ERROR_MAX_LENGTH);
  EXPECT_EQ(result.bytes.size(), 3u); // 1 + 3 = the maximum length 4
  EXPECT_THAT(result.message,
              HasSubstr("stopped after 3 of 10 bytes: the sequence (prompt 1 "
                        "bytes) reached the model's maximum length of 4 "
                        "bytes"));
  result = generate(loaded, "abcd", 1);
  EXPECT_EQ(result.status, MBRT_ERROR_MAX_LENGTH);
  EXPECT_THAT(result.message, HasSubstr("already fills"));
  result = generate(loaded, "abcde", 0);
  EXPECT_EQ(result.status, MBRT_ERROR_MAX_LENGTH);
  EXPECT_THAT(result.message, HasSubstr("longer than the model's maximum"));
}

TEST(Generation, ZeroBytesRunsNothing) {
  LoadedModel loaded(makeArtifact("model.mbx"));
  Generated result = generate(loaded, "ab", 0);
  EXPECT_EQ(result.status, MBRT_OK) << result.message;
  EXPECT_TRUE(result.bytes.empty());
  EXPECT_TRUE(result.calls.empty());
}

TEST(Generation, CallbackStreamsAndCanStop) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--seq-lens", "4,4"}));
  struct Stream {
    std::vector<std::pair<uint8_t, int64_t>> seen;
  } stream;
  auto onByte = [](void *user, uint8_t byte, int64_t position) -> int {
    auto *target = static_cast<Stream *>(user);
    target->seen.emplace_back(byte, position);
    return target->seen.size() == 2; // stop after two
  };
  mbrt_sampler_options greedy = mbrt_sampler_default_options();
  size_t made = 0;
  ASSERT_EQ(mbrt_session_generate(loaded.session,
                                  reinterpret_cast<const uint8_t *>("ab"), 2, 5,
                                  &greedy, onByte, &stream, nullptr, &made),
            MBRT_OK);
  EXPECT_EQ(made, 2u);
  ASSERT_EQ(stream.seen.size(), 2u);
  EXPECT_EQ(stream.seen[0], (std::pair<uint8_t, int64_t>{'c', 2}));
  EXPECT_EQ(stream.seen[1], (std::pair<uint8_t, int64_t>{'d', 3}));
}

TEST(Generation, BadInputIsAnErrorNotACrash) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--vocab", "16"}));
  Generated result = generate(loaded, "\x01\x20", 1);
  EXPECT_EQ(result.status, MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(result.message, HasSubstr("prompt: byte 32 at offset 1"));
  mbrt_sampler_options sampler = mbrt_sampler_default_options();
  sampler.kind = MBRT_SAMPLER_SAMPLE;
  sampler.temperature = 0;
  result = generate(loaded, "", 1, sampler);
  EXPECT_EQ(result.status, MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(result.message, HasSubstr("sampler: temperature must be"));
}

TEST(Generation, SeededSamplingIsDeterministic) {
  LoadedModel loaded(makeArtifact("model.mbx", {"--seq-lens", "8,8"}));
  mbrt_sampler_options sampler = mbrt_sampler_default_options();
  sampler.kind = MBRT_SAMPLER_TOP_K_GUMBEL;
  sampler.seed = 1234;
  Generated first = generate(loaded, "seed", 40, sampler);
  Generated second = generate(loaded, "seed", 40, sampler);
  ASSERT_EQ(first.status, MBRT_OK) << first.message;
  EXPECT_EQ(first.bytes, second.bytes);
  sampler.seed = 1235;
  EXPECT_NE(generate(loaded, "seed", 40, sampler).bytes, first.bytes);
}

TEST(Generation, TwoSessionsOfOneModelRunConcurrently) {
  std::string path = makeArtifact("model.mbx", {"--seq-lens", "16,8"});
  LoadedModel first(path, 3);
  mbrt_session *second = nullptr;
  mbrt_session_options options = mbrt_session_default_options();
  options.threads = 3;
  ASSERT_EQ(mbrt_session_create(first.model, &options, &second), MBRT_OK);
  mbrt_sampler_options sampler = mbrt_sampler_default_options();
  sampler.kind = MBRT_SAMPLER_SAMPLE;
  sampler.seed = 9;
  auto run = [&](mbrt_session *session, std::vector<uint8_t> &bytes) {
    for (int repeat = 0; repeat < 20; ++repeat) {
      bytes.assign(100, 0);
      size_t made = 0;
      if (mbrt_session_generate(
              session, reinterpret_cast<const uint8_t *>("go"), 2, 100,
              &sampler, nullptr, nullptr, bytes.data(), &made) != MBRT_OK ||
          made != 100)
        bytes.clear();
    }
  };
  std::vector<uint8_t> alone, together1, together2;
  run(first.session, alone);
  std::thread other([&] { run(second, together2); });
  run(first.session, together1);
  other.join();
  ASSERT_EQ(alone.size(), 100u);
  EXPECT_EQ(together1, alone);
  EXPECT_EQ(together2, alone);
  mbrt_session_free(second);
}

} // namespace
