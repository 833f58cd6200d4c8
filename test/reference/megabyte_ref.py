#!/usr/bin/python3
"""Independent float32 PyTorch reference for the two MEGABYTE architectures.

This is the numerics oracle for mbc: it is written from ../shared/MEGABYTE.md and
docs/config.md, not from the compiler, and it shares no code with it.

* ``architecture: "megabyte"``: the paper (Yu et al. 2023), generalised to N
  stages as docs/config.md describes; parameter names are docs/config.md's.
* ``architecture: "megabyte-lucidrains"``: MEGABYTE-pytorch v0.3.x. Module and
  parameter names equal MEGABYTE-pytorch's, so ``state_dict()`` is a checkpoint
  of that library (and what tools/mbc-import-pytorch accepts).

API
  build_model(config) -> nn.Module            config: dict in config.json's schema
  model.log_probs(ids[B, T]) -> [B, T, V]     log p(x_t | x_<t) for every t
  generate_uncached(model, prompt, n, sampler) -> bytes   re-runs the forward per byte
  generate_cached(model, prompt, n, sampler) -> bytes     KV caches, one step per position
  load_model_dir(path) -> nn.Module            config.json + model.safetensors

Both generators feed the sampler the same raw logits (head outputs, float32) for
byte position t; see SAMPLING.md for the samplers and their random numbers.
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sampling  # noqa: E402  (sibling module; this directory is not a package)

ARCH_PAPER = "megabyte"
ARCH_LUCIDRAINS = "megabyte-lucidrains"

# LayerNorm epsilon of the lucidrains patch embedder ("dual patch norm"): it
# uses nn.LayerNorm's default, not the RMSNorm clamp.
LUCIDRAINS_PATCH_LAYERNORM_EPS = 1e-5


class ConfigError(ValueError):
    """A config.json that violates docs/config.md; the message names the key."""


# ----------------------------------------------------------------------------
# Config: defaults and validation (docs/config.md)

_STAGE_KEYS = ("dim", "depth", "heads", "dim_head", "seq_len")
_TOP_KEYS = {
    "architecture", "vocab_size", "stages", "ff_mult", "norm", "norm_eps",
    "activation", "pos_emb", "rotary", "rotary_theta", "token_shift",
    "final_norm", "tie_embeddings", "head_bias", "pad_id",
}

_PAPER_DEFAULTS = {
    "ff_mult": 4, "norm": "layernorm", "activation": "relu", "pos_emb": False,
    "rotary": False, "rotary_theta": 10000.0, "token_shift": False,
    "final_norm": True, "tie_embeddings": False, "head_bias": False, "pad_id": 0,
}
_LUCIDRAINS_DEFAULTS = {
    "ff_mult": 4, "norm": "rmsnorm", "norm_eps": 1e-8, "activation": "gelu",
    "pos_emb": False, "rotary": False, "rotary_theta": 10000.0,
    "token_shift": True, "final_norm": True, "head_bias": True, "pad_id": 0,
}
# What MEGABYTE-pytorch hard-codes: a config may state these, never change them.
_LUCIDRAINS_FIXED = {"norm": "rmsnorm", "activation": "gelu", "token_shift": True,
                     "final_norm": True, "head_bias": True}


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _require(condition, key, message):
    if not condition:
        raise ConfigError(f"config.json: {key}: {message}")


def normalize_config(config):
    """Returns a copy of ``config`` with every default filled in, or raises ConfigError."""
    _require(isinstance(config, dict), "<root>", "must be a JSON object")
    unknown = sorted(set(config) - _TOP_KEYS)
    _require(not unknown, unknown[0] if unknown else "", "unknown key")
    arch = config.get("architecture")
    _require(arch in (ARCH_PAPER, ARCH_LUCIDRAINS), "architecture",
             f"must be {ARCH_PAPER!r} or {ARCH_LUCIDRAINS!r}, got {arch!r}")
    lucidrains = arch == ARCH_LUCIDRAINS
    out = dict(_LUCIDRAINS_DEFAULTS if lucidrains else _PAPER_DEFAULTS)
    out.update(config)
    if not lucidrains and "norm_eps" not in config:
        out["norm_eps"] = 1e-5
    if lucidrains:
        _require("tie_embeddings" not in config or config["tie_embeddings"] is False,
                 "tie_embeddings", "megabyte-lucidrains has an untied head")
        out.pop("tie_embeddings", None)
        for key, value in _LUCIDRAINS_FIXED.items():
            _require(out[key] == value, key, f"megabyte-lucidrains requires {value!r}")

    vocab = out.get("vocab_size")
    _require(_is_int(vocab) and 2 <= vocab <= 65536, "vocab_size", "int in 2..65536 required")
    stages = out.get("stages")
    _require(isinstance(stages, list) and len(stages) >= 2, "stages", "array of >= 2 objects required")
    clean_stages = []
    for s, stage in enumerate(stages):
        _require(isinstance(stage, dict), f"stages[{s}]", "must be an object")
        extra = sorted(set(stage) - set(_STAGE_KEYS))
        _require(not extra, f"stages[{s}].{extra[0] if extra else ''}", "unknown key")
        for key in _STAGE_KEYS:
            value = stage.get(key)
            minimum = 0 if key == "depth" else 1
            _require(_is_int(value) and value >= minimum, f"stages[{s}].{key}",
                     f"int >= {minimum} required, got {value!r}")
        clean_stages.append({key: stage[key] for key in _STAGE_KEYS})
    out["stages"] = clean_stages

    _require(_is_int(out["ff_mult"]) and out["ff_mult"] >= 1, "ff_mult", "int >= 1 required")
    _require(out["norm"] in ("layernorm", "rmsnorm"), "norm", "'layernorm' or 'rmsnorm'")
    _require(isinstance(out["norm_eps"], (int, float)) and not isinstance(out["norm_eps"], bool)
             and out["norm_eps"] > 0, "norm_eps", "number > 0 required")
    _require(out["activation"] in ("gelu", "gelu_tanh", "relu"), "activation",
             "'gelu', 'gelu_tanh' or 'relu'")
    for key in ("pos_emb", "rotary", "token_shift", "final_norm", "head_bias") + (
            () if lucidrains else ("tie_embeddings",)):
        _require(isinstance(out[key], bool), key, "bool required")
    _require(isinstance(out["rotary_theta"], (int, float)) and not isinstance(out["rotary_theta"], bool)
             and out["rotary_theta"] > 0, "rotary_theta", "number > 0 required")
    _require(_is_int(out["pad_id"]) and 0 <= out["pad_id"] < vocab, "pad_id", "int in [0, vocab_size)")
    if out["rotary"]:
        for s, stage in enumerate(clean_stages):
            _require(stage["dim_head"] % 2 == 0, f"stages[{s}].dim_head", "must be even with rotary")

    if not lucidrains:
        per_position = bytes_per_position(clean_stages)
        for s, stage in enumerate(clean_stages):
            _require(stage["dim"] % per_position[s] == 0, f"stages[{s}].dim",
                     f"must be a multiple of the bytes per position U_{s} = {per_position[s]}")
            if s >= 1:
                _require(clean_stages[s - 1]["dim"] % stage["seq_len"] == 0, f"stages[{s}].seq_len",
                         f"must divide stages[{s - 1}].dim = {clean_stages[s - 1]['dim']}")
    leading = ("architecture", "vocab_size", "stages")
    return {**{key: out[key] for key in leading}, **{k: v for k, v in out.items() if k not in leading}}


def bytes_per_position(stages):
    """U_s = prod(seq_len[s+1:]): how many bytes one position of stage s covers."""
    result = [1] * len(stages)
    for s in range(len(stages) - 2, -1, -1):
        result[s] = result[s + 1] * stages[s + 1]["seq_len"]
    return result


def max_sequence_length(stages):
    return bytes_per_position(stages)[0] * stages[0]["seq_len"]


# ----------------------------------------------------------------------------
# Pieces shared by both architectures


def rotary_inverse_frequencies(dim_head, theta):
    # Computed in float32 exactly as MEGABYTE-pytorch's RotaryEmbedding does.
    return 1.0 / (theta ** (torch.arange(0, dim_head, 2).float() / dim_head))


def rotate_half(x):
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x, inverse_frequencies, first_position):
    """NeoX rotate-half rotary over the full head dim; x is [B, h, n, dh]."""
    positions = torch.arange(first_position, first_position + x.shape[-2]).float()
    angles = positions[:, None] * inverse_frequencies[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return x * angles.cos() + rotate_half(x) * angles.sin()


def token_shift(x, previous_row):
    """Shifts the second half of the features one position later.

    x is [B, n, D]; previous_row ([B, 1, D] or None for zeros) is the sublayer
    input at the position before x[:, 0] (the KV-cache case). The split follows
    torch.chunk(2): the first ceil(D/2) features stay, the rest move.
    """
    keep = (x.shape[-1] + 1) // 2
    moved = x[..., keep:]
    before = torch.zeros_like(moved[:, :1]) if previous_row is None else previous_row[..., keep:]
    moved = torch.cat((before, moved[:, :-1]), dim=1)
    return torch.cat((x[..., :keep], moved), dim=-1)


def causal_attention(q, k, v, first_position):
    """q [B,h,n,dh] at positions first_position.., k/v [B,h,m+n,dh] at 0..m+n-1."""
    scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    query_positions = torch.arange(first_position, first_position + q.shape[-2])
    key_positions = torch.arange(k.shape[-2])
    future = key_positions[None, :] > query_positions[:, None]
    scores = scores.masked_fill(future, -torch.finfo(scores.dtype).max)
    return torch.matmul(scores.softmax(dim=-1), v)


class LayerCache:
    """Incremental state of one transformer layer: K/V so far, token-shift rows."""

    def __init__(self):
        self.keys = None
        self.values = None
        self.last_attn_input = None
        self.last_ffn_input = None


class TransformerCache:
    """Incremental state of one stage's transformer inside one group of positions."""

    def __init__(self, depth):
        self.layers = [LayerCache() for _ in range(depth)]
        self.length = 0


def attend(heads, q, k, v, inverse_frequencies, layer_cache, first_position):
    """Splits heads, applies rotary, appends to the cache, attends, merges heads."""
    batch, n, _ = q.shape
    q, k, v = (t.reshape(batch, n, heads, -1).transpose(1, 2) for t in (q, k, v))
    if inverse_frequencies is not None:
        q = apply_rotary(q, inverse_frequencies, first_position)
        k = apply_rotary(k, inverse_frequencies, first_position)
    if layer_cache is not None:
        if layer_cache.keys is not None:
            k = torch.cat((layer_cache.keys, k), dim=2)
            v = torch.cat((layer_cache.values, v), dim=2)
        layer_cache.keys, layer_cache.values = k, v
    out = causal_attention(q, k, v, first_position)
    return out.transpose(1, 2).reshape(batch, n, -1)


def shifted(x, enabled, layer_cache, attribute):
    """Token shift of a sublayer input, remembering the last row in the cache."""
    if not enabled:
        return x
    previous = getattr(layer_cache, attribute) if layer_cache is not None else None
    if layer_cache is not None:
        setattr(layer_cache, attribute, x[:, -1:])
    return token_shift(x, previous)


def activation_function(name):
    if name == "gelu":
        return nn.GELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    return nn.ReLU()


# ----------------------------------------------------------------------------
# megabyte-lucidrains: module tree mirrors MEGABYTE-pytorch v0.3.x


class RMSNorm(nn.Module):
    """MEGABYTE-pytorch's RMSNorm: x / max(||x|| * d^-1/2, eps) * g."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        norm = torch.norm(x, dim=-1, keepdim=True) * (x.shape[-1] ** -0.5)
        return x / norm.clamp(min=self.eps) * self.g


class LucidrainsAttention(nn.Module):
    def __init__(self, dim, heads, dim_head, eps):
        super().__init__()
        self.heads = heads
        self.norm = RMSNorm(dim, eps)
        self.to_q = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_kv = nn.Linear(dim, 2 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)

    def forward(self, x, inverse_frequencies, layer_cache, first_position):
        x = self.norm(x)
        k, v = self.to_kv(x).chunk(2, dim=-1)
        out = attend(self.heads, self.to_q(x), k, v, inverse_frequencies, layer_cache, first_position)
        return self.to_out(out)


class RotaryBuffer(nn.Module):
    """Holds the inv_freq buffer under MEGABYTE-pytorch's name."""

    def __init__(self, dim_head, theta):
        super().__init__()
        self.register_buffer("inv_freq", rotary_inverse_frequencies(dim_head, theta))


class LucidrainsTransformer(nn.Module):
    def __init__(self, stage, ff_mult, eps, rotary, theta):
        super().__init__()
        dim = stage["dim"]
        self.rotary_emb = RotaryBuffer(stage["dim_head"], theta) if rotary else None
        self.layers = nn.ModuleList()
        for _ in range(stage["depth"]):
            feed_forward = nn.Sequential(  # indices 0..4 as in MEGABYTE-pytorch (3 was Dropout)
                RMSNorm(dim, eps), nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Identity(),
                nn.Linear(ff_mult * dim, dim))
            self.layers.append(nn.ModuleList(
                [LucidrainsAttention(dim, stage["heads"], stage["dim_head"], eps), feed_forward]))
        self.norm = RMSNorm(dim, eps)

    def forward(self, x, cache=None):
        first_position = cache.length if cache is not None else 0
        inverse_frequencies = self.rotary_emb.inv_freq if self.rotary_emb is not None else None
        for i, (attention, feed_forward) in enumerate(self.layers):
            layer_cache = cache.layers[i] if cache is not None else None
            x = attention(shifted(x, True, layer_cache, "last_attn_input"),
                          inverse_frequencies, layer_cache, first_position) + x
            x = feed_forward(shifted(x, True, layer_cache, "last_ffn_input")) + x
        if cache is not None:
            cache.length += x.shape[1]
        return self.norm(x)


class ConcatBytes(nn.Module):
    """[..., U, D] -> [..., U*D]: the bytes of one patch side by side."""

    def forward(self, x):
        return x.flatten(-2)


class Unflatten(nn.Module):
    """Stands where MEGABYTE-pytorch has an einops Rearrange (no parameters)."""

    def forward(self, x):
        return x


class LucidrainsMegabyte(nn.Module):
    """MEGABYTE-pytorch v0.3.x, any number of stages; stage 0 is the coarsest.

    Stage s sees groups of seq_len_s + 1 positions: its start token, then one
    position per sub-patch of U_s bytes. Output position i < seq_len_s of a
    group conditions the child group i of stage s+1 (through
    to_next_transformer_projections.s, front-padded with a zero vector).
    """

    def __init__(self, config):
        super().__init__()
        config = normalize_config(config)
        if config["architecture"] != ARCH_LUCIDRAINS:
            raise ConfigError("config.json: architecture: LucidrainsMegabyte needs megabyte-lucidrains")
        self.config = config
        stages = config["stages"]
        vocab = config["vocab_size"]
        dims = [stage["dim"] for stage in stages]
        fine_dim = dims[-1]
        eps = config["norm_eps"]
        self.dims = dims
        self.num_stages = len(stages)
        self.seq_lens = [stage["seq_len"] for stage in stages]
        self.bytes_per_position = bytes_per_position(stages)
        self.max_len = max_sequence_length(stages)
        self.pad_id = config["pad_id"]
        self.vocab_size = vocab

        self.start_tokens = nn.ParameterList([nn.Parameter(torch.zeros(d)) for d in dims])
        self.pos_embs = (nn.ModuleList([nn.Embedding(stage["seq_len"], stage["dim"]) for stage in stages])
                         if config["pos_emb"] else None)
        # token_embs.0 embeds bytes for the finest stage; token_embs.j (j >= 1)
        # embeds the U_s bytes of one position of stage s = N-1-j.
        self.token_embs = nn.ModuleList([nn.Embedding(vocab, fine_dim)])
        for s in range(self.num_stages - 2, -1, -1):
            width = self.bytes_per_position[s] * fine_dim
            self.token_embs.append(nn.Sequential(
                nn.Embedding(vocab, fine_dim), ConcatBytes(),
                nn.LayerNorm(width, eps=LUCIDRAINS_PATCH_LAYERNORM_EPS),
                nn.Linear(width, dims[s]),
                nn.LayerNorm(dims[s], eps=LUCIDRAINS_PATCH_LAYERNORM_EPS)))
        self.transformers = nn.ModuleList(
            [LucidrainsTransformer(stage, config["ff_mult"], eps, config["rotary"], config["rotary_theta"])
             for stage in stages])
        self.to_next_transformer_projections = nn.ModuleList()
        for s in range(self.num_stages):
            if s + 1 < self.num_stages:
                self.to_next_transformer_projections.append(nn.Sequential(
                    Unflatten(), nn.Linear(dims[s], dims[s + 1] * self.seq_lens[s + 1]), Unflatten()))
            else:
                self.to_next_transformer_projections.append(nn.Identity())
        self.to_logits = nn.Linear(fine_dim, vocab)

    # -- full forward --------------------------------------------------------

    def embed_stage(self, s, ids):
        """Embeddings of all positions of stage s (without start tokens): [B, T/U_s, D_s]."""
        batch, length = ids.shape
        per_position = self.bytes_per_position[s]
        if s == self.num_stages - 1:
            tokens = self.token_embs[0](ids)
        else:
            tokens = self.token_embs[self.num_stages - 1 - s](ids.reshape(batch, length // per_position, per_position))
        if self.pos_embs is not None:
            index = torch.arange(tokens.shape[1]) % self.seq_lens[s]
            tokens = tokens + self.pos_embs[s].weight[index]
        return tokens

    def forward_logits(self, ids):
        """Raw logits [B, T, V]; row t predicts x_t from x_<t."""
        batch, length = ids.shape
        if length > self.max_len:
            raise ValueError(f"sequence of {length} bytes exceeds the model's {self.max_len}")
        if length == 0:
            return torch.zeros(batch, 0, self.vocab_size)
        patch = self.bytes_per_position[0]
        padded = -(-length // patch) * patch
        ids = F.pad(ids, (0, padded - length), value=self.pad_id)
        parent = None
        for s in range(self.num_stages):
            tokens = self.embed_stage(s, ids)  # [B, positions, D]
            width = tokens.shape[-1]
            positions = tokens.shape[1] if s == 0 else self.seq_lens[s]
            tokens = tokens.reshape(-1, positions, width)
            start = self.start_tokens[s].expand(tokens.shape[0], 1, width)
            tokens = torch.cat((start, tokens), dim=1)
            if parent is not None:
                tokens = tokens + F.pad(parent, (0, 0, 1, 0))
            attended = self.transformers[s](tokens)
            if s + 1 < self.num_stages:
                projected = self.to_next_transformer_projections[s](attended[:, :-1])
                parent = projected.reshape(-1, self.seq_lens[s + 1], self.dims[s + 1])
        logits = self.to_logits(attended)  # [groups, P_last + 1, V]
        logits = logits.reshape(batch, -1, self.seq_lens[-1] + 1, self.vocab_size)
        first = logits[:, 0, :1]  # start position of the first finest group: log p(x_0)
        rest = logits[:, :, 1:].reshape(batch, padded, self.vocab_size)
        return torch.cat((first, rest[:, : length - 1]), dim=1)

    def log_probs(self, ids):
        return F.log_softmax(self.forward_logits(ids), dim=-1)

    # -- incremental decoding hooks (see IncrementalDecoder) ------------------

    def target_of_byte(self, t):
        """(finest group, position) whose output predicts byte t."""
        if t == 0:
            return 0, 0
        group, offset = divmod(t - 1, self.seq_lens[-1])
        return group, offset + 1  # position 0 is the start token

    def parent_contributions(self, s, parent_out):
        """What stage s's positions of one group add from the parent: [B, seq_len_s + 1, D_s]."""
        projected = self.to_next_transformer_projections[s - 1](parent_out)
        projected = projected.reshape(parent_out.shape[0], self.seq_lens[s], -1)
        return F.pad(projected, (0, 0, 1, 0))

    def position_input(self, s, group, u, ids, parent):
        """Input row [B, 1, D_s] of position u in group `group` of stage s."""
        if u == 0:
            row = self.start_tokens[s].expand(ids.shape[0], 1, -1)
        else:
            per_position = self.bytes_per_position[s]
            first = (group * self.seq_lens[s] + u - 1) * per_position
            chunk = ids[:, first:first + per_position]
            if s == self.num_stages - 1:
                row = self.token_embs[0](chunk)
            else:
                row = self.token_embs[self.num_stages - 1 - s](chunk[:, None, :])
            if self.pos_embs is not None:
                row = row + self.pos_embs[s].weight[u - 1]
        if parent is not None:
            row = row + parent[:, u:u + 1]
        return row

    def new_cache(self, s):
        return TransformerCache(len(self.transformers[s].layers))

    def stage_step(self, s, x, cache):
        return self.transformers[s](x, cache)

    def output_logits(self, h):
        return self.to_logits(h)


# ----------------------------------------------------------------------------
# megabyte (paper), N stages, docs/config.md names


class Norm(nn.Module):
    """LayerNorm (weight, bias) or RMSNorm (weight) with the config's epsilon.

    RMSNorm here is the common form x * rsqrt(mean(x^2) + eps) * weight.
    """

    def __init__(self, dim, kind, eps):
        super().__init__()
        self.kind = kind
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        if kind == "layernorm":
            self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        if self.kind == "layernorm":
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class PaperAttention(nn.Module):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.q = nn.Linear(dim, inner, bias=False)
        self.k = nn.Linear(dim, inner, bias=False)
        self.v = nn.Linear(dim, inner, bias=False)
        self.out = nn.Linear(inner, dim, bias=False)


class PaperFeedForward(nn.Module):
    def __init__(self, dim, ff_mult, activation):
        super().__init__()
        self.up = nn.Linear(dim, ff_mult * dim)
        self.activation = activation_function(activation)
        self.down = nn.Linear(ff_mult * dim, dim)

    def forward(self, x):
        return self.down(self.activation(self.up(x)))


class PaperLayer(nn.Module):
    def __init__(self, stage, config):
        super().__init__()
        dim = stage["dim"]
        self.attn_norm = Norm(dim, config["norm"], config["norm_eps"])
        self.attn = PaperAttention(dim, stage["heads"], stage["dim_head"])
        self.ffn_norm = Norm(dim, config["norm"], config["norm_eps"])
        self.ffn = PaperFeedForward(dim, config["ff_mult"], config["activation"])


class PaperStage(nn.Module):
    def __init__(self, s, config, per_position):
        super().__init__()
        stages = config["stages"]
        stage = stages[s]
        dim = stage["dim"]
        self.token_shift = config["token_shift"]
        self.byte_embedding = nn.Embedding(config["vocab_size"], dim // per_position[s])
        if s == 0:
            self.position_embedding = nn.Embedding(max_sequence_length(stages), dim // per_position[0])
        elif config["pos_emb"]:
            self.position_embedding = nn.Embedding(stage["seq_len"], dim)
        else:
            self.position_embedding = None
        self.pad = nn.Parameter(torch.zeros(dim))
        if s >= 1:
            self.from_parent = nn.Linear(stages[s - 1]["dim"] // stage["seq_len"], dim, bias=False)
        self.layers = nn.ModuleList([PaperLayer(stage, config) for _ in range(stage["depth"])])
        self.final_norm = Norm(dim, config["norm"], config["norm_eps"]) if config["final_norm"] else None
        self.inverse_frequencies = (rotary_inverse_frequencies(stage["dim_head"], config["rotary_theta"])
                                    if config["rotary"] else None)

    def transformer(self, x, cache=None):
        first_position = cache.length if cache is not None else 0
        for i, layer in enumerate(self.layers):
            layer_cache = cache.layers[i] if cache is not None else None
            h = layer.attn_norm(shifted(x, self.token_shift, layer_cache, "last_attn_input"))
            attn = layer.attn
            out = attend(attn.heads, attn.q(h), attn.k(h), attn.v(h), self.inverse_frequencies,
                         layer_cache, first_position)
            x = x + attn.out(out)
            x = x + layer.ffn(layer.ffn_norm(shifted(x, self.token_shift, layer_cache, "last_ffn_input")))
        if cache is not None:
            cache.length += x.shape[1]
        return self.final_norm(x) if self.final_norm is not None else x


class TiedHead(nn.Module):
    """Head that reuses the last stage's byte embedding; only a bias of its own."""

    def __init__(self, vocab, with_bias):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(vocab)) if with_bias else None


class PaperMegabyte(nn.Module):
    """The paper's MEGABYTE generalised to N stages (docs/config.md).

    Stage s sees groups of seq_len_s positions; position 0 is the stage's pad,
    position u >= 1 the concatenated embeddings of the bytes of position u-1
    (one-position shift), plus for s >= 1 from_parent(slice u of the parent
    output) and an optional learned position. Output row t of the last stage
    predicts byte t.
    """

    def __init__(self, config):
        super().__init__()
        config = normalize_config(config)
        if config["architecture"] != ARCH_PAPER:
            raise ConfigError("config.json: architecture: PaperMegabyte needs megabyte")
        self.config = config
        stages = config["stages"]
        self.num_stages = len(stages)
        self.seq_lens = [stage["seq_len"] for stage in stages]
        self.dims = [stage["dim"] for stage in stages]
        self.bytes_per_position = bytes_per_position(stages)
        self.max_len = max_sequence_length(stages)
        self.pad_id = config["pad_id"]
        self.vocab_size = config["vocab_size"]
        self.stages = nn.ModuleList([PaperStage(s, config, self.bytes_per_position) for s in range(self.num_stages)])
        if config["tie_embeddings"]:
            self.head = TiedHead(self.vocab_size, config["head_bias"])
        else:
            self.head = nn.Linear(self.dims[-1], self.vocab_size, bias=config["head_bias"])

    def embed_bytes(self, s, ids):
        """Concatenated byte embeddings of all positions of stage s: [B, T/U_s, D_s]."""
        stage = self.stages[s]
        embedded = stage.byte_embedding(ids)
        if s == 0:
            embedded = embedded + stage.position_embedding.weight[: ids.shape[1]]
        return embedded.reshape(ids.shape[0], ids.shape[1] // self.bytes_per_position[s], self.dims[s])

    def from_parent(self, s, parent_out):
        """[G, D_{s-1}] parent outputs -> [G, seq_len_s, D_s] additions (slice u to position u)."""
        slices = parent_out.reshape(parent_out.shape[0], self.seq_lens[s], -1)
        return self.stages[s].from_parent(slices)

    def forward_logits(self, ids):
        batch, length = ids.shape
        if length > self.max_len:
            raise ValueError(f"sequence of {length} bytes exceeds the model's {self.max_len}")
        if length == 0:
            return torch.zeros(batch, 0, self.vocab_size)
        patch = self.bytes_per_position[0]
        padded = -(-length // patch) * patch
        ids = F.pad(ids, (0, padded - length), value=self.pad_id)
        parent = None
        for s in range(self.num_stages):
            stage = self.stages[s]
            embedded = self.embed_bytes(s, ids)
            positions = embedded.shape[1] if s == 0 else self.seq_lens[s]
            embedded = embedded.reshape(-1, positions, self.dims[s])
            pad = stage.pad.expand(embedded.shape[0], 1, self.dims[s])
            x = torch.cat((pad, embedded[:, :-1]), dim=1)  # one-position shift
            if s >= 1:
                x = x + self.from_parent(s, parent)
                if stage.position_embedding is not None:
                    x = x + stage.position_embedding.weight
            out = stage.transformer(x)
            parent = out.reshape(-1, self.dims[s])
        return self.output_logits(out).reshape(batch, padded, self.vocab_size)[:, :length]

    def output_logits(self, h):
        if isinstance(self.head, TiedHead):
            logits = torch.matmul(h, self.stages[-1].byte_embedding.weight.t())
            return logits + self.head.bias if self.head.bias is not None else logits
        return self.head(h)

    def log_probs(self, ids):
        return F.log_softmax(self.forward_logits(ids), dim=-1)

    # -- incremental decoding hooks ------------------------------------------

    def target_of_byte(self, t):
        return divmod(t, self.seq_lens[-1])

    def parent_contributions(self, s, parent_out):
        return self.from_parent(s, parent_out)

    def position_input(self, s, group, u, ids, parent):
        stage = self.stages[s]
        batch = ids.shape[0]
        if u == 0:
            row = stage.pad.expand(batch, 1, self.dims[s])
        else:
            per_position = self.bytes_per_position[s]
            first = (group * self.seq_lens[s] + u - 1) * per_position
            embedded = stage.byte_embedding(ids[:, first:first + per_position])
            if s == 0:
                embedded = embedded + stage.position_embedding.weight[first:first + per_position]
            row = embedded.reshape(batch, 1, self.dims[s])
        if s >= 1:
            row = row + parent[:, u:u + 1]
            if stage.position_embedding is not None:
                row = row + stage.position_embedding.weight[u]
        return row

    def new_cache(self, s):
        return TransformerCache(len(self.stages[s].layers))

    def stage_step(self, s, x, cache):
        return self.stages[s].transformer(x, cache)



# ----------------------------------------------------------------------------
# Building, loading


def build_model(config):
    """nn.Module for a config dict in config.json's schema (float32, eval mode)."""
    config = normalize_config(config)
    model = LucidrainsMegabyte(config) if config["architecture"] == ARCH_LUCIDRAINS else PaperMegabyte(config)
    return model.eval()


def load_model_dir(path):
    """Model from a directory holding config.json and model.safetensors."""
    import safetensors_io

    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    model = build_model(config)
    tensors = safetensors_io.read(os.path.join(path, "model.safetensors"))
    expected = model.state_dict()
    optional = {name for name in expected if name.endswith("rotary_emb.inv_freq")}
    missing = sorted(set(expected) - set(tensors) - optional)
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{path}/model.safetensors: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(f"{path}/model.safetensors: {name}: shape {tuple(tensor.shape)}, "
                             f"expected {tuple(expected[name].shape)}")
    # A stored rotary buffer is only checked: f16/bf16 storage would round the
    # frequencies, and the model uses the exact ones rotary_theta defines.
    for name in optional & set(tensors):
        if not torch.allclose(tensors[name].float(), expected[name], rtol=1e-2, atol=0):
            raise ValueError(f"{path}/model.safetensors: {name}: does not match rotary_theta")
    model.load_state_dict({name: t.float() for name, t in tensors.items() if name not in optional}, strict=False)
    return model


def save_model_dir(path, config, tensors, dtype="f32"):
    """Writes config.json and model.safetensors to `path` without leaving partial output.

    Both files are written to a fresh sibling folder first; a new `path` is then
    a rename of it, an existing folder gets the two files moved in.
    """
    import shutil
    import tempfile

    import safetensors_io

    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".partial-", dir=parent)
    try:
        with open(os.path.join(staging, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        safetensors_io.write(os.path.join(staging, "model.safetensors"), tensors, dtype)
        if os.path.isdir(path):
            for name in ("config.json", "model.safetensors"):
                os.replace(os.path.join(staging, name), os.path.join(path, name))
            os.rmdir(staging)
        else:
            os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------
# Generation


class IncrementalDecoder:
    """KV-cached decoding, each stage advancing once per position of its own.

    Stage s keeps the cache of its current group only (the global stage has a
    single group; a local stage starts a fresh cache per patch). Output
    position i of group g of stage s is the parent of group g*seq_len_s + i of
    stage s+1. Works for both architectures through their decoding hooks.
    """

    def __init__(self, model):
        self.model = model
        self.groups = [-1] * model.num_stages
        self.caches = [None] * model.num_stages
        self.outputs = [[] for _ in range(model.num_stages)]
        self.parents = [None] * model.num_stages

    def _stage_output(self, s, group, position, ids):
        model = self.model
        if group != self.groups[s]:
            if group < self.groups[s]:
                raise ValueError("IncrementalDecoder only moves forward")
            self.groups[s] = group
            self.caches[s] = model.new_cache(s)
            self.outputs[s] = []
            if s > 0:
                parent_group, parent_position = divmod(group, model.seq_lens[s - 1])
                parent_out = self._stage_output(s - 1, parent_group, parent_position, ids)
                self.parents[s] = model.parent_contributions(s, parent_out)
        while len(self.outputs[s]) <= position:
            row = model.position_input(s, group, len(self.outputs[s]), ids, self.parents[s])
            self.outputs[s].append(model.stage_step(s, row, self.caches[s])[:, -1])
        return self.outputs[s][position]

    def next_logits(self, ids, t):
        """Logits [B, V] for byte t; ids[:, :t] must hold the bytes before it."""
        group, position = self.model.target_of_byte(t)
        return self.model.output_logits(self._stage_output(self.model.num_stages - 1, group, position, ids))


def _check_lengths(model, prompt, n):
    if len(prompt) + n > model.max_len:
        raise ValueError(f"prompt ({len(prompt)}) + n ({n}) exceeds the model's {model.max_len} bytes")


@torch.no_grad()
def generate_uncached(model, prompt, n, sampler):
    """n bytes after prompt, re-running the full forward for every byte (the oracle).

    The logits for byte t are row t of forward_logits(x_0..x_{t-1}, pad_id);
    by causality the placeholder does not matter. For an empty prompt this is
    the training path (start tokens only), not MEGABYTE-pytorch's forward_empty.
    """
    _check_lengths(model, prompt, n)
    sequence = list(prompt)
    for _ in range(n):
        t = len(sequence)
        ids = torch.tensor([sequence + [model.pad_id]], dtype=torch.long)
        logits = model.forward_logits(ids)[0, t]
        sequence.append(sampler.sample(logits, t))
    return bytes(sequence[len(prompt):]) if model.vocab_size <= 256 else sequence[len(prompt):]


@torch.no_grad()
def generate_cached(model, prompt, n, sampler):
    """Same as generate_uncached, with KV caches (IncrementalDecoder)."""
    _check_lengths(model, prompt, n)
    sequence = list(prompt)
    ids = torch.full((1, model.max_len), model.pad_id, dtype=torch.long)
    ids[0, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    decoder = IncrementalDecoder(model)
    for _ in range(n):
        t = len(sequence)
        logits = decoder.next_logits(ids, t)[0]
        token = sampler.sample(logits, t)
        sequence.append(token)
        ids[0, t] = token
    return bytes(sequence[len(prompt):]) if model.vocab_size <= 256 else sequence[len(prompt):]


@torch.no_grad()
def bits_per_byte(model, data, batch_size=8):
    """Mean -log2 p(byte) over `data`, scored in independent windows of max_len bytes.

    Each window starts from an empty context (its first byte is predicted from
    the start tokens alone); the last window may be shorter.
    """
    window = model.max_len
    total = 0.0
    chunks = [data[i:i + window] for i in range(0, len(data), window)]
    full = [c for c in chunks if len(c) == window]
    partial = [c for c in chunks if len(c) != window]
    for group in [full[i:i + batch_size] for i in range(0, len(full), batch_size)] + [[c] for c in partial]:
        ids = torch.tensor([list(c) for c in group], dtype=torch.long)
        log_probs = model.log_probs(ids)
        total -= log_probs.gather(-1, ids[..., None]).double().sum().item()
    return total / len(data) / math.log(2)
