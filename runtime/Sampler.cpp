//===- Sampler.cpp - seeded byte samplers, bit-exact with the reference ---===//
//
// Built with -ffp-contract=off: a fused multiply-add would round differently
// from the reference's Python floats.
//
//===----------------------------------------------------------------------===//
#include "Sampler.h"

#include <algorithm>
#include <cmath>

namespace mbrt {

uint64_t splitMix64(uint64_t state) {
  uint64_t z = state + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t randomBits(uint64_t seed, uint64_t position, uint64_t lane) {
  return splitMix64(splitMix64(splitMix64(seed) ^ position) ^ lane);
}

double randomUniform(uint64_t seed, uint64_t position, uint64_t lane) {
  // 52 bits plus one half fit the significand exactly; with 53 the largest
  // value would round up to 1.0.
  double top52 = static_cast<double>(randomBits(seed, position, lane) >> 12);
  return (top52 + 0.5) * 0x1p-52;
}

int64_t lucidrainsTopKCount(int64_t vocabSize, double filterThres) {
  double kept = (1.0 - filterThres) * static_cast<double>(vocabSize);
  // Python's int() truncates toward zero; thres is in [0, 1] so kept >= 0.
  return std::max<int64_t>(static_cast<int64_t>(kept), 1);
}

std::string checkSamplerOptions(const mbrt_sampler_options &options) {
  switch (options.kind) {
  case MBRT_SAMPLER_GREEDY:
    return "";
  case MBRT_SAMPLER_SAMPLE:
  case MBRT_SAMPLER_TOP_K_GUMBEL:
    break;
  default:
    return "sampler kind " + std::to_string(int(options.kind)) +
           " is not one of greedy, sample, top-k+Gumbel";
  }
  if (!(options.temperature > 0) || !std::isfinite(options.temperature))
    return "temperature must be a finite number > 0 (use greedy for argmax), "
           "got " +
           std::to_string(options.temperature);
  if (options.kind == MBRT_SAMPLER_SAMPLE) {
    if (options.top_k < 0)
      return "top_k must be >= 0 (0 turns it off), got " +
             std::to_string(options.top_k);
    if (!(options.top_p > 0.0 && options.top_p <= 1.0))
      return "top_p must be in (0, 1] (1 turns it off), got " +
             std::to_string(options.top_p);
  } else if (!(options.filter_thres >= 0.0 && options.filter_thres <= 1.0)) {
    return "filter_thres must be in [0, 1], got " +
           std::to_string(options.filter_thres);
  }
  return "";
}

namespace {

/// Index of the largest value among `candidates` (ascending); ties go to
/// the lower index.
template <typename Values>
int32_t argmax(const Values &values, const std::vector<int32_t> &candidates) {
  int32_t best = candidates.front();
  for (int32_t token : candidates)
    if (values[token] > values[best])
      best = token;
  return best;
}

/// Keeps the k best of `candidates` by (score descending, index ascending),
/// left in ascending index order.
void keepTopK(const std::vector<double> &scores,
              std::vector<int32_t> &candidates, int64_t k) {
  if (k >= static_cast<int64_t>(candidates.size()))
    return;
  auto better = [&](int32_t a, int32_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  std::nth_element(candidates.begin(), candidates.begin() + k, candidates.end(),
                   better);
  candidates.resize(k);
  std::sort(candidates.begin(), candidates.end());
}

/// exp(score - max) per candidate, and their sum in ascending index order.
double softmaxWeights(const std::vector<double> &scores,
                      const std::vector<int32_t> &candidates,
                      std::vector<double> &weights) {
  double top = scores[candidates.front()];
  for (int32_t token : candidates)
    top = std::max(top, scores[token]);
  double total = 0.0;
  for (int32_t token : candidates) {
    weights[token] = std::exp(scores[token] - top);
    total += weights[token];
  }
  return total;
}

} // namespace

int32_t sampleToken(const mbrt_sampler_options &options, const float *values,
                    int32_t vocabSize, int64_t position,
                    std::vector<int32_t> &candidates) {
  candidates.resize(vocabSize);
  for (int32_t token = 0; token < vocabSize; ++token)
    candidates[token] = token;
  std::vector<double> scores(values, values + vocabSize);
  if (options.kind == MBRT_SAMPLER_GREEDY)
    return argmax(scores, candidates);

  // The reference ranks lucidrains' top-k on the raw values (division by
  // the temperature could round two of them to a tie) and adds the noise to
  // value / temperature.
  for (double &score : scores)
    score = score / options.temperature;
  uint64_t seed = options.seed;
  uint64_t where = static_cast<uint64_t>(position);
  if (options.kind == MBRT_SAMPLER_TOP_K_GUMBEL) {
    std::vector<double> raw(values, values + vocabSize);
    keepTopK(raw, candidates,
             lucidrainsTopKCount(vocabSize, options.filter_thres));
    std::vector<double> noisy(vocabSize, 0.0);
    for (int32_t token : candidates) {
      double uniform = randomUniform(seed, where, static_cast<uint64_t>(token));
      noisy[token] = scores[token] - std::log(-std::log(uniform));
    }
    return argmax(noisy, candidates);
  }

  if (options.top_k > 0 && options.top_k < vocabSize)
    keepTopK(scores, candidates, options.top_k);
  std::vector<double> weights(vocabSize, 0.0);
  if (options.top_p < 1.0) {
    double total = softmaxWeights(scores, candidates, weights);
    std::vector<int32_t> ranked = candidates;
    std::sort(ranked.begin(), ranked.end(), [&](int32_t a, int32_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    });
    std::vector<int32_t> kept;
    double cumulative = 0.0;
    for (int32_t token : ranked) {
      if (cumulative < options.top_p)
        kept.push_back(token);
      cumulative += weights[token] / total;
    }
    std::sort(kept.begin(), kept.end());
    candidates = kept;
  }
  double total = softmaxWeights(scores, candidates, weights);
  double target = randomUniform(seed, where, 0) * total;
  double cumulative = 0.0;
  for (int32_t token : candidates) {
    cumulative += weights[token];
    if (target < cumulative)
      return token;
  }
  return candidates.back();
}

} // namespace mbrt
