#!/usr/bin/python3
"""log_probs row t is log p(x_t | x_<t): causal, aligned, independent of padding."""

import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402


def changed_rows(model, ids, t):
    """Per-row max |difference| of log-probs when byte t is replaced."""
    other = ids.clone()
    other[0, t] = (other[0, t] + 97) % 256
    with torch.no_grad():
        return (model.log_probs(ids) - model.log_probs(other)).abs().amax(dim=-1)[0]


class Alignment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.models = {name: reference_models.random_model(config, seed=3)
                      for name, config in reference_models.CONFIGS.items()}

    def test_byte_t_changes_rows_after_t_only(self):
        generator = torch.Generator().manual_seed(1)
        for name, model in self.models.items():
            lucidrains_three_stage = name == "lucidrains_3stage"
            for length in (model.max_len, model.max_len - 3):
                ids = torch.randint(0, 256, (1, length), generator=generator)
                for t in sorted({0, 1, model.bytes_per_position[0] - 1, model.bytes_per_position[0],
                                 length // 2, length - 2}):
                    with self.subTest(model=name, length=length, t=t):
                        difference = changed_rows(model, ids, t)
                        self.assertLessEqual(difference[: t + 1].max().item(), 1e-6,
                                             "row <= t depends on byte t")
                        self.assertGreater(difference[t + 1].item(), 1e-5, "row t+1 ignores byte t")
                        if not lucidrains_three_stage:
                            self.assertGreater(difference[t + 1:].min().item(), 1e-7,
                                               "some row after t ignores byte t")

    def test_lucidrains_three_stage_context_gap(self):
        """MEGABYTE-pytorch's middle stage feeds its child 0 from its start position,
        which carries no parent context: bytes kU+1..kU+P_last (U = top patch) see
        nothing before byte kU. Faithful to v0.3.6, so the reference keeps it."""
        model = self.models["lucidrains_3stage"]
        top_patch, finest_patch = model.bytes_per_position[0], model.seq_lens[-1]
        ids = torch.randint(0, 256, (1, model.max_len), generator=torch.Generator().manual_seed(2))
        difference = changed_rows(model, ids, top_patch - 1)
        blind = difference[top_patch + 1: top_patch + 1 + finest_patch]
        self.assertEqual(blind.max().item(), 0.0)
        self.assertGreater(difference[top_patch].item(), 1e-5)
        self.assertGreater(difference[top_patch + 1 + finest_patch:].max().item(), 1e-5)

    def test_prefix_scores_do_not_depend_on_padding(self):
        generator = torch.Generator().manual_seed(4)
        for name, model in self.models.items():
            ids = torch.randint(0, 256, (2, model.max_len), generator=generator)
            with torch.no_grad():
                full = model.log_probs(ids)
                for length in range(1, model.max_len + 1, 5):
                    with self.subTest(model=name, length=length):
                        torch.testing.assert_close(model.log_probs(ids[:, :length]), full[:, :length],
                                                   rtol=1e-5, atol=1e-5)

    def test_rows_are_distributions(self):
        for name, model in self.models.items():
            with self.subTest(model=name), torch.no_grad():
                ids = torch.randint(0, 256, (1, model.max_len - 1))
                log_probs = model.log_probs(ids)
                self.assertEqual(tuple(log_probs.shape), (1, model.max_len - 1, 256))
                torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(1, model.max_len - 1))
                self.assertEqual(tuple(model.log_probs(ids[:, :0]).shape), (1, 0, 256))


if __name__ == "__main__":
    unittest.main()
