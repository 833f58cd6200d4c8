#!/usr/bin/python3
"""Seeded byte samplers whose every bit a C runtime can reproduce (see SAMPLING.md).

Randomness comes from a counter-based generator: the uniform for (seed,
position, lane) is a pure function of those three integers, so a sampler needs
no state and any step can be replayed alone. All arithmetic on logits is in
float64, in token-index order, as SAMPLING.md spells out.
"""

import math
from dataclasses import dataclass

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def splitmix64(x):
    """One splitmix64 step: add the golden gamma, then the splitmix64 finaliser."""
    z = (x + GOLDEN_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def random_u64(seed, position, lane):
    """64 random bits for (seed, position, lane), each an unsigned 64-bit integer."""
    return splitmix64(splitmix64(splitmix64(seed & MASK64) ^ (position & MASK64)) ^ (lane & MASK64))


def u64_to_uniform(word):
    """Uniform in the open interval (0, 1): ((word >> 12) + 0.5) * 2^-52, exact in float64.

    52 bits, not 53: (2^53 - 1) + 0.5 would round up to 2^53 and give 1.0.
    """
    return ((word >> 12) + 0.5) * (2.0 ** -52)


def random_uniform(seed, position, lane):
    return u64_to_uniform(random_u64(seed, position, lane))


def lucidrains_top_k_count(vocab_size, filter_thres):
    """MEGABYTE-pytorch's top_k: k = max(int((1 - thres) * V), 1), in float64."""
    return max(int((1.0 - filter_thres) * vocab_size), 1)


def _argmax(values, candidates):
    """Index of the largest value among candidates; ties go to the lower index."""
    best = candidates[0]
    for i in candidates[1:]:
        if values[i] > values[best]:
            best = i
    return best


def _top_k(scores, candidates, k):
    ranked = sorted(candidates, key=lambda i: (-scores[i], i))
    return sorted(ranked[:k])


@dataclass(frozen=True)
class Sampler:
    """How to pick byte t from the logits of byte t.

    mode "greedy":     argmax of the logits.
    mode "sample":     optional top-k, then optional top-p, on logits/temperature,
                       then inverse-CDF sampling with one uniform (lane 0).
    mode "lucidrains": MEGABYTE-pytorch's generate(): top-k with
                       k = max(int((1 - filter_thres) * V), 1), then
                       argmax(logits/temperature + Gumbel(lane = token index)).
    """

    mode: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1.0: off
    filter_thres: float = 0.9
    seed: int = 0

    def __post_init__(self):
        if self.mode not in ("greedy", "sample", "lucidrains"):
            raise ValueError(f"unknown sampler mode {self.mode!r}")
        if self.mode != "greedy" and not self.temperature > 0:
            raise ValueError("temperature must be > 0 (use mode 'greedy' for argmax)")
        if self.top_k < 0 or not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_k must be >= 0 and top_p in (0, 1]")

    def sample(self, logits, position):
        """Token for byte `position` (0-based index in the whole sequence, prompt included).

        logits: float32 values for every token (a 1-D tensor or a sequence).
        """
        values = [float(v) for v in (logits.tolist() if hasattr(logits, "tolist") else logits)]
        vocab = len(values)
        everything = list(range(vocab))
        if self.mode == "greedy":
            return _argmax(values, everything)
        scores = [v / self.temperature for v in values]
        if self.mode == "lucidrains":
            candidates = _top_k(values, everything, lucidrains_top_k_count(vocab, self.filter_thres))
            noisy = {}
            for i in candidates:
                u = random_uniform(self.seed, position, i)
                noisy[i] = scores[i] - math.log(-math.log(u))
            return _argmax(noisy, candidates)
        candidates = everything
        if 0 < self.top_k < vocab:
            candidates = _top_k(scores, candidates, self.top_k)
        if self.top_p < 1.0:
            weights = _softmax_weights(scores, candidates)
            total = _sum_in_order(weights, candidates)
            kept, cumulative = [], 0.0
            for i in sorted(candidates, key=lambda i: (-scores[i], i)):
                if cumulative < self.top_p:
                    kept.append(i)
                cumulative += weights[i] / total
            candidates = sorted(kept)
        weights = _softmax_weights(scores, candidates)
        target = random_uniform(self.seed, position, 0) * _sum_in_order(weights, candidates)
        cumulative = 0.0
        for i in candidates:
            cumulative += weights[i]
            if target < cumulative:
                return i
        return candidates[-1]


def _softmax_weights(scores, candidates):
    top = max(scores[i] for i in candidates)
    return {i: math.exp(scores[i] - top) for i in candidates}


def _sum_in_order(weights, candidates):
    total = 0.0
    for i in candidates:
        total += weights[i]
    return total


def greedy():
    return Sampler("greedy")


def temperature(value, seed):
    return Sampler("sample", temperature=value, seed=seed)


def top_k(k, seed, temperature=1.0):
    return Sampler("sample", temperature=temperature, top_k=k, seed=seed)


def top_p(p, seed, temperature=1.0):
    return Sampler("sample", temperature=temperature, top_p=p, seed=seed)


def lucidrains(seed, filter_thres=0.9, temperature=1.0):
    return Sampler("lucidrains", temperature=temperature, filter_thres=filter_thres, seed=seed)
