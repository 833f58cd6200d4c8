#!/usr/bin/python3
"""The megabyte-lucidrains module against MEGABYTE-pytorch v0.3.x, re-derived here.

The parameter layout is spelled out from ../shared/MEGABYTE.md, and the forward
is a line-by-line transcription of MEGABYTE.forward (v0.3.6) in plain torch ops
on a state_dict: neither uses the reference's modules.
"""

import os
import sys
import unittest

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import megabyte_ref  # noqa: E402
import reference_models  # noqa: E402


def expected_layout(vocab, dims, depths, seq_lens, heads, dim_head, ff_mult=4):
    """name -> shape for MEGABYTE(num_tokens=vocab, dim=dims, ...), from MEGABYTE.md."""
    fine = dims[-1]
    inner = heads * dim_head
    layout = {f"start_tokens.{s}": (d,) for s, d in enumerate(dims)}
    layout["token_embs.0.weight"] = (vocab, fine)
    patch = 1
    for j, s in enumerate(range(len(dims) - 2, -1, -1), start=1):  # numbered from the finest upward
        patch *= seq_lens[s + 1]
        layout.update({
            f"token_embs.{j}.0.weight": (vocab, fine),
            f"token_embs.{j}.2.weight": (patch * fine,), f"token_embs.{j}.2.bias": (patch * fine,),
            f"token_embs.{j}.3.weight": (dims[s], patch * fine), f"token_embs.{j}.3.bias": (dims[s],),
            f"token_embs.{j}.4.weight": (dims[s],), f"token_embs.{j}.4.bias": (dims[s],),
        })
    for s, (d, depth) in enumerate(zip(dims, depths)):
        for i in range(depth):
            p = f"transformers.{s}.layers.{i}."
            layout.update({
                p + "0.norm.g": (d,), p + "0.to_q.weight": (inner, d), p + "0.to_kv.weight": (2 * inner, d),
                p + "0.to_out.weight": (d, inner), p + "1.0.g": (d,),
                p + "1.1.weight": (ff_mult * d, d), p + "1.1.bias": (ff_mult * d,),
                p + "1.4.weight": (d, ff_mult * d), p + "1.4.bias": (d,),
            })
        layout[f"transformers.{s}.norm.g"] = (d,)
        if s + 1 < len(dims):
            layout[f"to_next_transformer_projections.{s}.1.weight"] = (dims[s + 1] * seq_lens[s + 1], d)
            layout[f"to_next_transformer_projections.{s}.1.bias"] = (dims[s + 1] * seq_lens[s + 1],)
    layout["to_logits.weight"] = (vocab, fine)
    layout["to_logits.bias"] = (vocab,)
    return layout


def transcribed_forward(sd, config, ids):
    """MEGABYTE.forward(ids) of v0.3.6 for flattened ids, with log p(x_0) prepended.

    Returns [B, T, V]: row t predicts x_t (the library returns rows 1.. as its
    logits and keeps the start position's for the loss).
    """
    stages = config["stages"]
    seq_lens = tuple(stage["seq_len"] for stage in stages)
    heads = stages[0]["heads"]

    def rms_norm(x, g):
        return x / (x.norm(dim=-1, keepdim=True) * x.shape[-1] ** -0.5).clamp(min=1e-8) * g

    def token_shift(x):
        x, x_shift = x.chunk(2, dim=-1)
        return torch.cat((x, F.pad(x_shift, (0, 0, 1, -1))), dim=-1)

    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    def transformer(x, prefix):
        n = x.shape[-2]
        rotary = None
        if config["rotary"]:
            inv_freq = sd[prefix + "rotary_emb.inv_freq"]
            freqs = torch.einsum("i , j -> i j", torch.arange(n).type_as(inv_freq), inv_freq)
            rotary = torch.cat((freqs, freqs), dim=-1)
        i = 0
        while prefix + f"layers.{i}.0.norm.g" in sd:
            p = prefix + f"layers.{i}."
            y = rms_norm(token_shift(x), sd[p + "0.norm.g"])
            q = y @ sd[p + "0.to_q.weight"].t()
            k, v = (y @ sd[p + "0.to_kv.weight"].t()).chunk(2, dim=-1)
            b, n, _ = q.shape
            q, k, v = (t.reshape(b, n, heads, -1).permute(0, 2, 1, 3) for t in (q, k, v))
            if rotary is not None:
                q, k = (t * rotary.cos() + rotate_half(t) * rotary.sin() for t in (q, k))
            sim = torch.einsum("b h i d, b h j d -> b h i j", q, k) * q.shape[-1] ** -0.5
            mask = torch.ones((n, n), dtype=torch.bool).triu(1)
            sim = sim.masked_fill(mask, -torch.finfo(sim.dtype).max)
            out = torch.einsum("b h i j, b h j d -> b h i d", sim.softmax(dim=-1), v)
            x = out.permute(0, 2, 1, 3).reshape(b, n, -1) @ sd[p + "0.to_out.weight"].t() + x
            y = rms_norm(token_shift(x), sd[p + "1.0.g"])
            y = F.gelu(y @ sd[p + "1.1.weight"].t() + sd[p + "1.1.bias"])
            x = y @ sd[p + "1.4.weight"].t() + sd[p + "1.4.bias"] + x
            i += 1
        return rms_norm(x, sd[prefix + "norm.g"])

    batch, seq_len = ids.shape
    multiple_of = 1
    for n in seq_lens[1:]:
        multiple_of *= n
    ids = F.pad(ids, (0, (multiple_of - seq_len % multiple_of) % multiple_of), value=config["pad_id"])
    ids = ids.reshape(batch, -1, *seq_lens[1:])
    num_stages = len(stages)
    tokens_at_stages = []
    for ind in range(num_stages):
        if ind == 0:
            tokens = F.embedding(ids, sd["token_embs.0.weight"])
        else:
            p = f"token_embs.{ind}."
            tokens = F.embedding(ids, sd[p + "0.weight"])
            tokens = tokens.reshape(*tokens.shape[:-2], -1)
            tokens = F.layer_norm(tokens, tokens.shape[-1:], sd[p + "2.weight"], sd[p + "2.bias"])
            tokens = tokens @ sd[p + "3.weight"].t() + sd[p + "3.bias"]
            tokens = F.layer_norm(tokens, tokens.shape[-1:], sd[p + "4.weight"], sd[p + "4.bias"])
        if config["pos_emb"]:  # zip(..., reversed(pos_embs), ...)
            tokens = tokens + sd[f"pos_embs.{num_stages - 1 - ind}.weight"][torch.arange(tokens.shape[-2])]
        tokens_at_stages.insert(0, tokens)
        if ind == 0:
            continue
        ids = ids.reshape(*ids.shape[:-2], -1)
    previous = None
    for s in range(num_stages):
        tokens = tokens_at_stages[s]
        packed_shape = tokens.shape[:-2]
        tokens = tokens.reshape(-1, *tokens.shape[-2:])
        start = sd[f"start_tokens.{s}"].expand(tokens.shape[0], 1, -1)
        tokens = torch.cat((start, tokens), dim=-2)
        if previous is not None:
            tokens = tokens + F.pad(previous, (0, 0, 1, 0), value=0.0)
        attended = transformer(tokens, f"transformers.{s}.")
        attended = attended.reshape(*packed_shape, *attended.shape[-2:])
        if s + 1 < num_stages:
            p = f"to_next_transformer_projections.{s}.1."
            projected = attended[..., :-1, :].reshape(batch, -1, attended.shape[-1])
            projected = projected @ sd[p + "weight"].t() + sd[p + "bias"]
            previous = projected.reshape(-1, seq_lens[s + 1], projected.shape[-1] // seq_lens[s + 1])
    logits = attended @ sd["to_logits.weight"].t() + sd["to_logits.bias"]
    start_logits = logits[(slice(None), *((0,) * (logits.ndim - 2)), slice(None))][:, None]
    logits = logits[..., 1:, :].reshape(batch, -1, logits.shape[-1])[:, :seq_len]
    return torch.cat((start_logits, logits), dim=1)[:, :seq_len]


class Layout(unittest.TestCase):
    def test_megabyte_md_example(self):
        """dim=(512,256), depth=(6,4), max_seq_len=(1024,4), V=256: 24,348,928 parameters."""
        config = reference_models.lucidrains_config([(512, 6, 8, 64, 1024), (256, 4, 8, 64, 4)])
        model = megabyte_ref.build_model(config)
        actual = {name: tuple(t.shape) for name, t in model.state_dict().items()}
        self.assertEqual(actual, expected_layout(256, (512, 256), (6, 4), (1024, 4), 8, 64))
        self.assertEqual(sum(p.numel() for p in model.parameters()), 24_348_928)

    def test_three_stages_with_positions_and_rotary(self):
        config = reference_models.CONFIGS["lucidrains_3stage"]
        model = megabyte_ref.build_model(config)
        expected = expected_layout(256, (32, 24, 16), (1, 1, 2), (3, 3, 4), 2, 8)
        expected.update({f"pos_embs.{s}.weight": (n, d) for s, (n, d) in enumerate([(3, 32), (3, 24), (4, 16)])})
        expected.update({f"transformers.{s}.rotary_emb.inv_freq": (4,) for s in range(3)})
        actual = {name: tuple(t.shape) for name, t in model.state_dict().items()}
        self.assertEqual(actual, expected)


class TranscribedForward(unittest.TestCase):
    def test_matches_the_transcription(self):
        torch.set_num_threads(1)
        generator = torch.Generator().manual_seed(7)
        for name, config in reference_models.CONFIGS.items():
            if config["architecture"] != megabyte_ref.ARCH_LUCIDRAINS:
                continue
            model = reference_models.random_model(config, seed=9)
            state = model.state_dict()
            for length in (1, 2, model.bytes_per_position[0], model.bytes_per_position[0] + 3, model.max_len):
                with self.subTest(model=name, length=length), torch.no_grad():
                    ids = torch.randint(0, 256, (2, length), generator=generator)
                    torch.testing.assert_close(model.forward_logits(ids), transcribed_forward(state, config, ids),
                                               rtol=1e-5, atol=1e-5)

    def test_transcription_notices_a_wrong_weight(self):
        """The comparison above can fail: perturb one weight the forward uses."""
        config = reference_models.CONFIGS["lucidrains_p4_pos"]
        model = reference_models.random_model(config, seed=9)
        state = dict(model.state_dict())
        state["pos_embs.1.weight"] = state["pos_embs.1.weight"] + 0.1
        ids = torch.randint(0, 256, (1, model.max_len))
        with torch.no_grad():
            difference = (model.forward_logits(ids) - transcribed_forward(state, config, ids)).abs().max()
        self.assertGreater(difference.item(), 1e-3)


if __name__ == "__main__":
    unittest.main()
