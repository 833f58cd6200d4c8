#!/usr/bin/python3
"""The samplers and their counter-based random numbers (SAMPLING.md)."""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sampling  # noqa: E402


def softmax(values):
    top = max(values)
    weights = [math.exp(v - top) for v in values]
    return [w / sum(weights) for w in weights]


def frequencies(sampler, logits, draws):
    counts = [0] * len(logits)
    for position in range(draws):
        counts[sampler.sample(logits, position)] += 1
    return [c / draws for c in counts]


class RandomNumbers(unittest.TestCase):
    def test_splitmix64_matches_the_published_sequence(self):
        # splitmix64 seeded with 0 starts 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4
        self.assertEqual(sampling.splitmix64(0), 0xE220A8397B1DCDAF)
        self.assertEqual(sampling.splitmix64(sampling.GOLDEN_GAMMA), 0x6E789E6AA1B965F4)

    def test_golden_values(self):
        """Pinned so a C runtime can check itself against the same numbers (SAMPLING.md)."""
        self.assertEqual(sampling.random_u64(0, 0, 0), 0x238275BC38FCBE91)
        self.assertEqual(sampling.random_u64(0, 0, 1), 0x2F32A78496C67C60)
        self.assertEqual(sampling.random_u64(0, 1, 0), 0x44E5B98100C67FB0)
        self.assertEqual(sampling.random_u64(1, 0, 0), 0xB18A02F46D8D86C3)
        self.assertEqual(sampling.random_u64(42, 7, 3), 0xF55E4254D4655539)
        self.assertEqual(sampling.random_uniform(0, 0, 0), 0.13870941014555427)

    def test_uniform_is_strictly_inside_zero_one(self):
        self.assertEqual(sampling.u64_to_uniform(0), 2.0 ** -53)
        self.assertEqual(sampling.u64_to_uniform((1 << 64) - 1), 1.0 - 2.0 ** -53)
        self.assertLess(sampling.u64_to_uniform((1 << 64) - 1), 1.0)

    def test_uniforms_look_uniform(self):
        values = [sampling.random_uniform(5, p, 0) for p in range(20000)]
        self.assertAlmostEqual(sum(values) / len(values), 0.5, delta=0.01)
        buckets = [0] * 10
        for v in values:
            buckets[int(v * 10)] += 1
        self.assertTrue(all(abs(b - 2000) < 200 for b in buckets), buckets)


class Samplers(unittest.TestCase):
    LOGITS = [0.5, 2.0, -1.0, 1.0, 1.9]

    def test_greedy_takes_the_first_maximum(self):
        self.assertEqual(sampling.greedy().sample([1.0, 3.0, 3.0, 2.0], 0), 1)

    def test_inverse_cdf_uses_lane_zero(self):
        sampler = sampling.temperature(1.0, seed=9)
        for position in range(50):
            u = sampling.random_uniform(9, position, 0)
            self.assertEqual(sampler.sample([0.0, 0.0], position), 0 if u < 0.5 else 1)

    def test_temperature_matches_softmax(self):
        sampler = sampling.temperature(0.7, seed=1)
        observed = frequencies(sampler, self.LOGITS, 6000)
        expected = softmax([v / 0.7 for v in self.LOGITS])
        for o, e in zip(observed, expected):
            self.assertAlmostEqual(o, e, delta=0.025)

    def test_top_k_keeps_k_tokens(self):
        observed = frequencies(sampling.top_k(2, seed=2), self.LOGITS, 3000)
        expected = softmax([2.0, 1.9])
        self.assertEqual([i for i, f in enumerate(observed) if f > 0], [1, 4])
        self.assertAlmostEqual(observed[1], expected[0], delta=0.03)
        self.assertEqual(frequencies(sampling.top_k(1, seed=2), self.LOGITS, 50)[1], 1.0)

    def test_top_p_keeps_the_smallest_prefix_reaching_p(self):
        logits = [math.log(p) for p in (0.05, 0.5, 0.15, 0.3)]
        observed = frequencies(sampling.top_p(0.7, seed=3), logits, 3000)
        self.assertEqual([i for i, f in enumerate(observed) if f > 0], [1, 3])
        self.assertAlmostEqual(observed[1], 0.5 / 0.8, delta=0.03)
        observed = frequencies(sampling.top_p(0.81, seed=3), logits, 3000)
        self.assertEqual([i for i, f in enumerate(observed) if f > 0], [1, 2, 3])

    def test_lucidrains_top_k_count(self):
        self.assertEqual(sampling.lucidrains_top_k_count(256, 0.9), 25)
        self.assertEqual(sampling.lucidrains_top_k_count(256, 0.999), 1)
        self.assertEqual(sampling.lucidrains_top_k_count(4, 0.0), 4)

    def test_lucidrains_is_gumbel_max_over_the_top_k(self):
        logits = [((i * 37) % 256) / 40.0 for i in range(256)]
        top25 = sorted(range(256), key=lambda i: -logits[i])[:25]
        sampler = sampling.lucidrains(seed=4)
        picked = {sampler.sample(logits, p) for p in range(400)}
        self.assertTrue(picked <= set(top25))
        self.assertGreater(len(picked), 3)
        observed = frequencies(sampling.lucidrains(seed=5, filter_thres=0.0, temperature=0.8), self.LOGITS, 6000)
        for o, e in zip(observed, softmax([v / 0.8 for v in self.LOGITS])):
            self.assertAlmostEqual(o, e, delta=0.025)

    def test_lucidrains_noise_is_one_uniform_per_token_index(self):
        logits = [0.0, 0.0, 0.0]
        sampler = sampling.lucidrains(seed=6, filter_thres=0.0)
        for position in range(30):
            noise = [-math.log(-math.log(sampling.random_uniform(6, position, i))) for i in range(3)]
            self.assertEqual(sampler.sample(logits, position), max(range(3), key=lambda i: (noise[i], -i)))

    def test_same_seed_and_position_repeat(self):
        sampler = sampling.top_p(0.9, seed=7)
        first = [sampler.sample(self.LOGITS, p) for p in range(40)]
        self.assertEqual(first, [sampler.sample(self.LOGITS, p) for p in range(40)])
        other = sampling.top_p(0.9, seed=8)
        self.assertNotEqual(first, [other.sample(self.LOGITS, p) for p in range(40)])

    def test_bad_settings_are_rejected(self):
        with self.assertRaises(ValueError):
            sampling.temperature(0.0, seed=1)
        with self.assertRaises(ValueError):
            sampling.top_p(0.0, seed=1)
        with self.assertRaises(ValueError):
            sampling.Sampler("beam")


if __name__ == "__main__":
    unittest.main()
