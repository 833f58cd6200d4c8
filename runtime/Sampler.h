//===- Sampler.h - seeded byte samplers, bit-exact with the reference -*- C++
//-*-===//
//
// The algorithms of test/reference/SAMPLING.md (and sampling.py): randomness
// from a counter-based generator, so the uniform for (seed, position, lane)
// is a pure function of the three; arithmetic in double, in token order,
// exactly as the reference does it, so the same inputs give the same token.
//
//===----------------------------------------------------------------------===//
#ifndef MBRT_SAMPLER_H
#define MBRT_SAMPLER_H

#include "mbrt/mbrt.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mbrt {

uint64_t splitMix64(uint64_t state);
/// 64 random bits for (seed, position, lane).
uint64_t randomBits(uint64_t seed, uint64_t position, uint64_t lane);
/// A uniform in [2^-53, 1 - 2^-53]: ((bits >> 12) + 0.5) * 2^-52.
double randomUniform(uint64_t seed, uint64_t position, uint64_t lane);
/// MEGABYTE-pytorch's top_k: max(int((1 - thres) * V), 1).
int64_t lucidrainsTopKCount(int64_t vocabSize, double filterThres);

/// Why `options` are invalid, or "" when they are fine.
std::string checkSamplerOptions(const mbrt_sampler_options &options);

/// Chooses the token for sequence position `position` from `values`
/// (log-probs or logits; every mode is invariant to a common shift up to
/// rounding). `candidates` is scratch space kept across calls. Options must
/// have passed checkSamplerOptions.
int32_t sampleToken(const mbrt_sampler_options &options, const float *values,
                    int32_t vocabSize, int64_t position,
                    std::vector<int32_t> &candidates);

} // namespace mbrt

#endif // MBRT_SAMPLER_H
