//===- SamplerTest.cpp - samplers: properties and the reference's vectors -===//
#include "Sampler.h"

#include "mbrt/mbrt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace {

int32_t sample(const mbrt_sampler_options &options,
               const std::vector<float> &values, int64_t position) {
  int32_t token = -1;
  char message[256];
  EXPECT_EQ(mbrt_sample(&options, values.data(),
                        static_cast<int32_t>(values.size()), position, &token,
                        message, sizeof message),
            MBRT_OK)
      << message;
  return token;
}

std::vector<float> logSoftmax(const std::vector<double> &logits) {
  double top = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (double logit : logits)
    total += std::exp(logit - top);
  std::vector<float> result;
  result.reserve(logits.size());
  for (double logit : logits)
    result.push_back(static_cast<float>(logit - top - std::log(total)));
  return result;
}

/// A 256-way distribution with a clear order: value i is -i / 10.
std::vector<float> rankedDistribution() {
  std::vector<double> logits(256);
  for (int i = 0; i < 256; ++i)
    logits[i] = -i / 10.0;
  std::vector<float> values = logSoftmax(logits);
  // Shuffle the order deterministically so "top" is not "low index".
  std::vector<float> shuffled(256);
  for (int i = 0; i < 256; ++i)
    shuffled[(i * 97) % 256] = values[i];
  return shuffled;
}

/// Indices of the k largest values.
std::set<int32_t> topIndices(const std::vector<float> &values, size_t k) {
  std::vector<int32_t> order(values.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return values[a] > values[b]; });
  return std::set<int32_t>(order.begin(), order.begin() + k);
}

TEST(Sampler, CounterBasedGeneratorMatchesSamplingMdCheckValues) {
  EXPECT_EQ(mbrt::splitMix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(mbrt::randomBits(0, 0, 0), 0x238275bc38fcbe91ull);
  EXPECT_EQ(mbrt::randomBits(0, 0, 1), 0x2f32a78496c67c60ull);
  EXPECT_EQ(mbrt::randomBits(0, 1, 0), 0x44e5b98100c67fb0ull);
  EXPECT_EQ(mbrt::randomBits(1, 0, 0), 0xb18a02f46d8d86c3ull);
  EXPECT_EQ(mbrt::randomBits(42, 7, 3), 0xf55e4254d4655539ull);
  EXPECT_EQ(mbrt::randomUniform(0, 0, 0), 0.13870941014555427);
}

TEST(Sampler, GreedyIsArgmaxWithTiesToTheLowerIndex) {
  mbrt_sampler_options greedy = mbrt_sampler_default_options();
  EXPECT_EQ(sample(greedy, {-3, -1, -2, -1}, 0), 1);
  EXPECT_EQ(sample(greedy, {-5}, 9), 0);
}

TEST(Sampler, SameSeedSameToken) {
  std::vector<float> values = rankedDistribution();
  for (mbrt_sampler_kind kind :
       {MBRT_SAMPLER_SAMPLE, MBRT_SAMPLER_TOP_K_GUMBEL}) {
    mbrt_sampler_options options = mbrt_sampler_default_options();
    options.kind = kind;
    options.seed = 77;
    std::set<int32_t> seen;
    for (int64_t position = 0; position < 200; ++position) {
      int32_t token = sample(options, values, position);
      EXPECT_EQ(token, sample(options, values, position));
      seen.insert(token);
    }
    EXPECT_GT(seen.size(), 5u) << "the sampler should vary with the position";
  }
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  std::vector<float> values = rankedDistribution();
  mbrt_sampler_options options = mbrt_sampler_default_options();
  options.kind = MBRT_SAMPLER_SAMPLE;
  options.temperature = 5.0; // flatten, so the filter does the work
  options.top_k = 3;
  std::set<int32_t> allowed = topIndices(values, 3), seen;
  for (int64_t position = 0; position < 500; ++position)
    seen.insert(sample(options, values, position));
  EXPECT_EQ(seen, allowed);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Probabilities 0.5, 0.25, 0.125, ...: top-p 0.7 keeps the first two
  // (0.5 < 0.7, then 0.75 >= 0.7 stops), top-p 0.5 only the first.
  std::vector<double> logits(16);
  for (int i = 0; i < 16; ++i)
    logits[i] = -i * std::log(2.0);
  std::vector<float> values = logSoftmax(logits);
  mbrt_sampler_options options = mbrt_sampler_default_options();
  options.kind = MBRT_SAMPLER_SAMPLE;
  options.top_p = 0.7;
  std::set<int32_t> seen;
  for (int64_t position = 0; position < 400; ++position)
    seen.insert(sample(options, values, position));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
  options.top_p = 0.5;
  seen.clear();
  for (int64_t position = 0; position < 100; ++position)
    seen.insert(sample(options, values, position));
  EXPECT_EQ(seen, (std::set<int32_t>{0}));
}

TEST(Sampler, LucidrainsTopKCountMatchesMegabytePytorch) {
  EXPECT_EQ(mbrt::lucidrainsTopKCount(256, 0.9), 25);
  EXPECT_EQ(mbrt::lucidrainsTopKCount(256, 0.5), 128);
  EXPECT_EQ(mbrt::lucidrainsTopKCount(256, 1.0), 1);
  EXPECT_EQ(mbrt::lucidrainsTopKCount(256, 0.0), 256);
  std::vector<float> values = rankedDistribution();
  mbrt_sampler_options options = mbrt_sampler_default_options();
  options.kind = MBRT_SAMPLER_TOP_K_GUMBEL;
  options.temperature = 100.0; // the noise dominates: all 25 appear
  std::set<int32_t> seen;
  for (int64_t position = 0; position < 2000; ++position)
    seen.insert(sample(options, values, position));
  EXPECT_EQ(seen, topIndices(values, 25));
}

TEST(Sampler, BadOptionsAreNamed) {
  std::vector<float> values = {-1, -2};
  int32_t token;
  char message[256];
  mbrt_sampler_options options = mbrt_sampler_default_options();
  options.kind = MBRT_SAMPLER_SAMPLE;
  options.top_p = 0;
  EXPECT_EQ(mbrt_sample(&options, values.data(), 2, 0, &token, message,
                        sizeof message),
            MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(message, "sampler: top_p must be in (0, 1] (1 turns it off), "
                        "got 0.000000");
  options = mbrt_sampler_default_options();
  options.kind = MBRT_SAMPLER_TOP_K_GUMBEL;
  options.filter_thres = 1.5;
  EXPECT_EQ(mbrt_sample(&options, values.data(), 2, 0, &token, message,
                        sizeof message),
            MBRT_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(message, "filter_thres must be in [0, 1]"), nullptr);
  options.kind = static_cast<mbrt_sampler_kind>(9);
  EXPECT_EQ(mbrt_sample(&options, values.data(), 2, 0, &token, nullptr, 0),
            MBRT_ERROR_INVALID_ARGUMENT);
}

//===----------------- recorded vectors of the reference ----------------===//

/// Mirrors vector_bits() of make_sampling_vectors.py.
std::vector<float> referenceVector(const std::string &kind, uint64_t vectorSeed,
                                   int32_t vocab) {
  std::vector<float> values(vocab);
  for (int32_t i = 0; i < vocab; ++i) {
    uint64_t key = kind == "flat" ? 0 : kind == "ties" ? i / 4 : i;
    uint64_t r = mbrt::randomBits(vectorSeed, key, 77);
    uint32_t bits = 0x80000000u | uint32_t((124 + (r & 7)) << 23) |
                    uint32_t((r >> 3) & 0x7fffff);
    std::memcpy(&values[i], &bits, sizeof bits);
  }
  if (kind == "peaked") {
    uint32_t bits = 0xBA83126Fu;
    std::memcpy(&values[vectorSeed % vocab], &bits, sizeof bits);
  }
  return values;
}

TEST(Sampler, BitExactWithTheReferenceOnRecordedVectors) {
  std::ifstream file(MBRT_TEST_SAMPLING_VECTORS);
  ASSERT_TRUE(file.good()) << MBRT_TEST_SAMPLING_VECTORS;
  std::string line;
  int uniforms = 0, tokens = 0, mismatches = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream fields(line);
    std::string mode;
    fields >> mode;
    if (mode == "uniform") {
      uint64_t seed, position, lane;
      std::string hexBits;
      fields >> seed >> position >> lane >> hexBits;
      double value = mbrt::randomUniform(seed, position, lane);
      uint64_t bits;
      std::memcpy(&bits, &value, sizeof bits);
      EXPECT_EQ(bits, std::stoull(hexBits, nullptr, 16)) << line;
      ++uniforms;
      continue;
    }
    std::string temperature, topP, thres, kind;
    int32_t topK, vocab, expected;
    uint64_t seed, vectorSeed;
    int64_t position;
    fields >> temperature >> topK >> topP >> thres >> seed >> position >>
        vocab >> kind >> vectorSeed >> expected;
    ASSERT_FALSE(fields.fail()) << line;
    mbrt_sampler_options options = mbrt_sampler_default_options();
    options.kind = mode == "greedy"   ? MBRT_SAMPLER_GREEDY
                   : mode == "sample" ? MBRT_SAMPLER_SAMPLE
                                      : MBRT_SAMPLER_TOP_K_GUMBEL;
    options.temperature = std::strtod(temperature.c_str(), nullptr);
    options.top_k = topK;
    options.top_p = std::strtod(topP.c_str(), nullptr);
    options.filter_thres = std::strtod(thres.c_str(), nullptr);
    options.seed = seed;
    int32_t token =
        sample(options, referenceVector(kind, vectorSeed, vocab), position);
    if (token != expected && ++mismatches <= 10)
      ADD_FAILURE() << "got " << token << ", the reference " << expected << ": "
                    << line;
    ++tokens;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GE(uniforms, 40);
  EXPECT_GE(tokens, 1500);
}

} // namespace
