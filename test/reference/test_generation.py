#!/usr/bin/python3
"""KV-cached generation must reproduce the re-run-everything oracle exactly."""

import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import megabyte_ref  # noqa: E402
import reference_models  # noqa: E402
import sampling  # noqa: E402

SAMPLERS = {
    "greedy": sampling.greedy(),
    "temperature": sampling.temperature(0.8, seed=11),
    "top_k": sampling.top_k(5, seed=12, temperature=1.2),
    "top_p": sampling.top_p(0.85, seed=13),
    "lucidrains": sampling.lucidrains(seed=14),
}


class CachedMatchesUncached(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.models = {name: reference_models.random_model(config, seed=5)
                      for name, config in reference_models.CONFIGS.items()}

    def test_every_position_has_the_same_logits(self):
        """Stronger than equal outputs: each step's logits match the full forward's row."""
        generator = torch.Generator().manual_seed(0)
        for name, model in self.models.items():
            with self.subTest(model=name), torch.no_grad():
                ids = torch.randint(0, 256, (1, model.max_len), generator=generator)
                full = model.forward_logits(ids)[0]
                decoder = megabyte_ref.IncrementalDecoder(model)
                for t in range(model.max_len):
                    step = decoder.next_logits(ids, t)[0]
                    torch.testing.assert_close(step, full[t], rtol=1e-4, atol=1e-5,
                                               msg=f"{name}: byte {t}")

    def test_generation_agrees_for_every_sampler(self):
        for name, model in self.models.items():
            patch = model.bytes_per_position[0]
            prompt = b"Gen"
            count = model.max_len - len(prompt)
            self.assertGreaterEqual((len(prompt) + count) // patch, 3, "generation must cross >= 3 patches")
            for sampler_name, sampler in SAMPLERS.items():
                with self.subTest(model=name, sampler=sampler_name):
                    oracle = megabyte_ref.generate_uncached(model, prompt, count, sampler)
                    cached = megabyte_ref.generate_cached(model, prompt, count, sampler)
                    self.assertEqual(len(oracle), count)
                    self.assertEqual(oracle, cached)

    def test_empty_prompt(self):
        for name, model in self.models.items():
            for sampler_name in ("greedy", "lucidrains"):
                with self.subTest(model=name, sampler=sampler_name):
                    sampler = SAMPLERS[sampler_name]
                    oracle = megabyte_ref.generate_uncached(model, b"", model.max_len, sampler)
                    cached = megabyte_ref.generate_cached(model, b"", model.max_len, sampler)
                    self.assertEqual(oracle, cached)

    def test_empty_prompt_uses_the_training_path(self):
        """Byte 0 comes from the start tokens alone: row 0 of the full forward, whatever follows."""
        model = self.models["lucidrains_p4_pos"]
        with torch.no_grad():
            first = megabyte_ref.IncrementalDecoder(model).next_logits(torch.zeros(1, 1, dtype=torch.long), 0)
            for ids in (torch.tensor([[7, 8, 9]]), torch.tensor([[200]])):
                torch.testing.assert_close(first, model.forward_logits(ids)[:, 0])

    def test_seed_changes_sampled_bytes(self):
        model = self.models["lucidrains_p8_plain"]
        outputs = {megabyte_ref.generate_cached(model, b"", model.max_len, sampling.top_p(0.95, seed=s))
                   for s in range(4)}
        self.assertGreater(len(outputs), 1)
        greedy = megabyte_ref.generate_cached(model, b"", model.max_len, sampling.greedy())
        self.assertTrue(any(o != greedy for o in outputs))

    def test_prompt_too_long_is_rejected(self):
        model = self.models["paper_p4"]
        with self.assertRaises(ValueError):
            megabyte_ref.generate_cached(model, b"x" * model.max_len, 1, sampling.greedy())


if __name__ == "__main__":
    unittest.main()
