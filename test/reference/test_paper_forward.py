#!/usr/bin/python3
"""The megabyte (paper) module against a position-by-position re-derivation.

The re-derivation follows ../shared/MEGABYTE.md section 1 and docs/config.md's
N-stage rule literally: one input vector at a time, attention as an explicit
loop over earlier positions, rotary as explicit pair rotations, all from the
state_dict alone.
"""

import math
import os
import sys
import unittest

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402


def rederived_logits(sd, config, ids):
    """[T, V] logits for one sequence ids (list of ints); row t predicts byte t."""
    stages = config["stages"]
    count = len(stages)
    seq_lens = [stage["seq_len"] for stage in stages]
    per_position = [1] * count
    for s in range(count - 2, -1, -1):
        per_position[s] = per_position[s + 1] * seq_lens[s + 1]
    length = len(ids)
    padded = -(-length // per_position[0]) * per_position[0]
    x = list(ids) + [config["pad_id"]] * (padded - length)

    def norm(v, prefix):
        if config["norm"] == "layernorm":
            mean = v.mean()
            variance = ((v - mean) ** 2).mean()
            return (v - mean) / torch.sqrt(variance + config["norm_eps"]) * sd[prefix + ".weight"] + sd[prefix + ".bias"]
        return v / torch.sqrt((v * v).mean() + config["norm_eps"]) * sd[prefix + ".weight"]

    def rotate(v, position):
        half = v.shape[0] // 2
        out = v.clone()
        for i in range(half):
            angle = position * config["rotary_theta"] ** (-2.0 * i / v.shape[0])
            c, s = math.cos(angle), math.sin(angle)
            out[i] = v[i] * c - v[i + half] * s
            out[i + half] = v[i + half] * c + v[i] * s
        return out

    def activation(v):
        if config["activation"] == "relu":
            return torch.relu(v)
        if config["activation"] == "gelu":
            return 0.5 * v * (1 + torch.erf(v / math.sqrt(2)))
        return 0.5 * v * (1 + torch.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))

    def shift(rows):
        if not config["token_shift"]:
            return rows
        keep = (rows[0].shape[0] + 1) // 2
        return [torch.cat((r[:keep], (rows[i - 1][keep:] if i else torch.zeros_like(r[keep:]))))
                for i, r in enumerate(rows)]

    def transformer(rows, s):
        stage = stages[s]
        heads, dim_head = stage["heads"], stage["dim_head"]
        for i in range(stage["depth"]):
            p = f"stages.{s}.layers.{i}."
            normed = [norm(r, p + "attn_norm") for r in shift(rows)]
            qs = [sd[p + "attn.q.weight"] @ h for h in normed]
            ks = [sd[p + "attn.k.weight"] @ h for h in normed]
            vs = [sd[p + "attn.v.weight"] @ h for h in normed]
            new_rows = []
            for n, row in enumerate(rows):
                merged = []
                for head in range(heads):
                    part = slice(head * dim_head, (head + 1) * dim_head)
                    q = qs[n][part]
                    keys = [ks[m][part] for m in range(n + 1)]
                    if config["rotary"]:
                        q = rotate(q, n)
                        keys = [rotate(k, m) for m, k in enumerate(keys)]
                    scores = torch.stack([torch.dot(q, k) / math.sqrt(dim_head) for k in keys])
                    weights = torch.softmax(scores, dim=0)
                    merged.append(sum(w * vs[m][part] for m, w in enumerate(weights)))
                new_rows.append(row + sd[p + "attn.out.weight"] @ torch.cat(merged))
            rows = new_rows
            normed = [norm(r, p + "ffn_norm") for r in shift(rows)]
            rows = [r + sd[p + "ffn.down.weight"] @ activation(sd[p + "ffn.up.weight"] @ h + sd[p + "ffn.up.bias"])
                    + sd[p + "ffn.down.bias"] for r, h in zip(rows, normed)]
        if config["final_norm"]:
            rows = [norm(r, f"stages.{s}.final_norm") for r in rows]
        return rows

    def embed(s, first, count_):
        e = [sd[f"stages.{s}.byte_embedding.weight"][x[b]] for b in range(first, first + count_)]
        if s == 0:
            e = [v + sd["stages.0.position_embedding.weight"][first + j] for j, v in enumerate(e)]
        return torch.cat(e)

    # stage 0: one sequence of patches; its input u is the pad or patch u-1
    patches = padded // per_position[0]
    inputs = [sd["stages.0.pad"] if u == 0 else embed(0, (u - 1) * per_position[0], per_position[0])
              for u in range(patches)]
    parents = transformer(inputs, 0)
    for s in range(1, count):
        width = parents[0].shape[0] // seq_lens[s]
        outputs = []
        for g, parent in enumerate(parents):  # one group per parent position
            inputs = []
            for u in range(seq_lens[s]):
                first = (g * seq_lens[s] + u - 1) * per_position[s]
                row = sd[f"stages.{s}.pad"] if u == 0 else embed(s, first, per_position[s])
                row = row + sd[f"stages.{s}.from_parent.weight"] @ parent[u * width:(u + 1) * width]
                if config["pos_emb"]:
                    row = row + sd[f"stages.{s}.position_embedding.weight"][u]
                inputs.append(row)
            outputs.extend(transformer(inputs, s))
        parents = outputs
    head = (sd[f"stages.{count - 1}.byte_embedding.weight"] if config["tie_embeddings"] else sd["head.weight"])
    logits = torch.stack([head @ h + (sd["head.bias"] if config["head_bias"] else 0) for h in parents])
    return logits[:length]


class RederivedForward(unittest.TestCase):
    def test_matches_the_rederivation(self):
        torch.set_num_threads(1)
        generator = torch.Generator().manual_seed(3)
        for name, config in reference_models.CONFIGS.items():
            if config["architecture"] != "megabyte":
                continue
            model = reference_models.random_model(config, seed=4)
            state = model.state_dict()
            for length in (model.max_len, model.bytes_per_position[0] + 1):
                with self.subTest(model=name, length=length), torch.no_grad():
                    ids = torch.randint(0, 256, (1, length), generator=generator)
                    expected = rederived_logits(state, config, ids[0].tolist())
                    torch.testing.assert_close(model.forward_logits(ids)[0], expected, rtol=1e-4, atol=1e-4)

    def test_rederivation_notices_a_wrong_weight(self):
        config = reference_models.CONFIGS["paper_p4"]
        model = reference_models.random_model(config, seed=4)
        state = dict(model.state_dict())
        state["stages.1.from_parent.weight"] = state["stages.1.from_parent.weight"] * 1.1
        ids = torch.randint(0, 256, (1, model.max_len))
        with torch.no_grad():
            difference = (model.forward_logits(ids)[0] - rederived_logits(state, config, ids[0].tolist())).abs().max()
        self.assertGreater(difference.item(), 1e-3)


if __name__ == "__main__":
    unittest.main()
