#!/usr/bin/python3
"""Writes model directories for the command-line error tests.

    make_bad_model_dirs.py OUT

creates OUT/valid, a small but complete megabyte-lucidrains model, and one
copy per error class with exactly one thing broken (OUT/config-empty,
OUT/st-overlap, ...). README.md in this folder lists the message `mbc` must
print for each. Standard library only, so the tests need neither numpy nor
torch; the weights are small deterministic floats.
"""

import json
import os
import shutil
import struct
import sys

# Two stages, deliberately non-square where a transposed weight must show.
CONFIG = {
    "architecture": "megabyte-lucidrains",
    "vocab_size": 256,
    "stages": [
        {"dim": 16, "depth": 1, "heads": 2, "dim_head": 4, "seq_len": 4},
        {"dim": 8, "depth": 1, "heads": 2, "dim_head": 4, "seq_len": 4},
    ],
}

# The tensor most cases break: (out, in) = (heads * dim_head, dim) = (8, 16).
TO_Q = "transformers.0.layers.0.0.to_q.weight"


def lucidrains_tensors(config):
    """(name, shape) of every MEGABYTE-pytorch state_dict entry, in order."""
    vocab = config["vocab_size"]
    stages = config["stages"]
    ff_mult = config.get("ff_mult", 4)
    last_dim = stages[-1]["dim"]
    tensors = [(f"start_tokens.{s}", [st["dim"]]) for s, st in enumerate(stages)]
    tensors.append(("token_embs.0.weight", [vocab, last_dim]))
    for j in range(1, len(stages)):
        stage = len(stages) - 1 - j  # token_embs.j feeds this stage
        patch = 1
        for st in stages[stage + 1:]:
            patch *= st["seq_len"]
        dim, width = stages[stage]["dim"], patch * last_dim
        tensors += [
            (f"token_embs.{j}.0.weight", [vocab, last_dim]),
            (f"token_embs.{j}.2.weight", [width]),
            (f"token_embs.{j}.2.bias", [width]),
            (f"token_embs.{j}.3.weight", [dim, width]),
            (f"token_embs.{j}.3.bias", [dim]),
            (f"token_embs.{j}.4.weight", [dim]),
            (f"token_embs.{j}.4.bias", [dim]),
        ]
    for s, st in enumerate(stages):
        dim, inner, hidden = st["dim"], st["heads"] * st["dim_head"], ff_mult * st["dim"]
        for i in range(st["depth"]):
            layer = f"transformers.{s}.layers.{i}"
            tensors += [
                (f"{layer}.0.norm.g", [dim]),
                (f"{layer}.0.to_q.weight", [inner, dim]),
                (f"{layer}.0.to_kv.weight", [2 * inner, dim]),
                (f"{layer}.0.to_out.weight", [dim, inner]),
                (f"{layer}.1.0.g", [dim]),
                (f"{layer}.1.1.weight", [hidden, dim]),
                (f"{layer}.1.1.bias", [hidden]),
                (f"{layer}.1.4.weight", [dim, hidden]),
                (f"{layer}.1.4.bias", [dim]),
            ]
        tensors.append((f"transformers.{s}.norm.g", [dim]))
    for s in range(len(stages) - 1):
        nxt = stages[s + 1]
        width = nxt["seq_len"] * nxt["dim"]
        tensors += [
            (f"to_next_transformer_projections.{s}.1.weight", [width, stages[s]["dim"]]),
            (f"to_next_transformer_projections.{s}.1.bias", [width]),
        ]
    tensors += [("to_logits.weight", [vocab, last_dim]), ("to_logits.bias", [vocab])]
    return tensors


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def f32_bytes(shape, seed):
    n = count(shape)
    return struct.pack(f"<{n}f", *(((seed * 7 + k) % 13 - 6) * 0.01 for k in range(n)))


def build_entries(config):
    """A header dict and data section for the valid model."""
    header, data = {}, bytearray()
    for seed, (name, shape) in enumerate(lucidrains_tensors(config)):
        raw = f32_bytes(shape, seed)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return header, bytes(data)


def header_text(header):
    return json.dumps(header, separators=(",", ":"))


def safetensors(text, data):
    """The file bytes for a header text, padded to 8 like real writers do."""
    raw = text.encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def write_dir(out, name, config_bytes, weights_bytes):
    path = os.path.join(out, name)
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    if config_bytes is not None:
        with open(os.path.join(path, "config.json"), "wb") as f:
            f.write(config_bytes)
    if weights_bytes is not None:
        with open(os.path.join(path, "model.safetensors"), "wb") as f:
            f.write(weights_bytes)


def config_json(config):
    return json.dumps(config, indent=2).encode("utf-8")


def edited_config(edit):
    config = json.loads(json.dumps(CONFIG))
    edit(config)
    return config_json(config)


def edited_header(edit):
    header, data = build_entries(CONFIG)
    data = edit(header, data) or data
    return safetensors(header_text(header), data)


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} OUT")
    out = argv[1]
    os.makedirs(out, exist_ok=True)

    header, data = build_entries(CONFIG)
    good_config = config_json(CONFIG)
    good_weights = safetensors(header_text(header), data)

    cases = {}

    def config_case(name, config_bytes):
        cases[name] = (config_bytes, good_weights)

    def weights_case(name, weights_bytes):
        cases[name] = (good_config, weights_bytes)

    cases["valid"] = (good_config, good_weights)

    # config.json
    config_case("config-missing", None)
    config_case("config-empty", b"")
    config_case("config-truncated", good_config[: len(good_config) // 2])
    config_case("config-not-object", b"[1, 2, 3]\n")
    config_case("config-binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    config_case("config-too-deep", b"[" * 100000)
    config_case("config-duplicate-key",
                good_config.replace(b'"vocab_size": 256', b'"vocab_size": 256, "vocab_size": 300'))
    config_case("config-unknown-key", edited_config(lambda c: c.update(vocab_sise=256)))
    config_case("arch-missing", edited_config(lambda c: c.pop("architecture")))
    config_case("arch-unknown", edited_config(lambda c: c.update(architecture="gpt2")))
    config_case("size-zero", edited_config(lambda c: c["stages"][1].update(dim=0)))
    config_case("size-negative", edited_config(lambda c: c["stages"][1].update(dim=-3)))
    config_case("size-noninteger", edited_config(lambda c: c["stages"][1].update(dim=3.5)))
    # Integral, but a float literal: llvm::json alone would accept it.
    config_case("size-float-literal",
                good_config.replace(b'"dim": 8,', b'"dim": 8.0,'))
    config_case("size-string", edited_config(lambda c: c["stages"][1].update(dim="8")))
    config_case("size-absurd", edited_config(
        lambda c: (c["stages"][0].update(seq_len=2 ** 30), c["stages"][1].update(seq_len=2 ** 11))))
    config_case("size-overflow", edited_config(lambda c: c["stages"][0].update(heads=2 ** 63 - 1)))
    config_case("lucidrains-layernorm", edited_config(lambda c: c.update(norm="layernorm")))
    config_case("paper-indivisible", edited_config(
        lambda c: (c.update(architecture="megabyte"), c["stages"][0].update(dim=30))))

    # model.safetensors: the container
    weights_case("st-missing", None)
    weights_case("st-empty", b"")
    weights_case("st-short", b"\x05\x00\x00")
    weights_case("st-header-zero", struct.pack("<Q", 0) + b"{}")
    weights_case("st-header-past-eof", struct.pack("<Q", 4096) + b"{}")
    weights_case("st-header-huge", struct.pack("<Q", 2 ** 64 - 1) + good_weights[8:])
    weights_case("st-header-not-json", safetensors('{"a": {"dtype": "F32",', b""))
    weights_case("st-header-not-object", safetensors("[]", b""))
    weights_case("st-metadata-not-strings",
                 safetensors('{"__metadata__": {"format": 1}}', b""))
    # A duplicate key llvm::json would silently collapse to the last one.
    dup_entry = json.dumps(header[TO_Q], separators=(",", ":"))
    weights_case("st-duplicate-name", safetensors(
        '{"%s":%s,%s' % (TO_Q, dup_entry, header_text(header)[1:]), data))

    # model.safetensors: entries
    weights_case("st-unknown-dtype", edited_header(lambda h, d: h[TO_Q].update(dtype="I64")))
    weights_case("st-shape-negative", edited_header(lambda h, d: h[TO_Q].update(shape=[-8, 16])))

    def reverse(h, d):
        h[TO_Q]["data_offsets"].reverse()
    weights_case("st-offsets-reversed", edited_header(reverse))

    def past_end(h, d):
        begin, end = h["to_logits.bias"]["data_offsets"]
        h["to_logits.bias"]["data_offsets"] = [begin + 4096, end + 4096]
    weights_case("st-offsets-past-end", edited_header(past_end))

    def size_mismatch(h, d):
        h[TO_Q]["data_offsets"][1] -= 4  # one float short: a lying offset
    weights_case("st-offsets-size-mismatch", edited_header(size_mismatch))

    def overlap(h, d):
        # Same size, so only the overlap is wrong.
        h["transformers.0.layers.0.1.0.g"]["data_offsets"] = list(
            h["transformers.0.layers.0.0.norm.g"]["data_offsets"])
    weights_case("st-overlap", edited_header(overlap))
    weights_case("st-truncated-data", good_weights[:-4])

    # model.safetensors against config.json
    def transpose(h, d):
        h[TO_Q]["shape"] = list(reversed(h[TO_Q]["shape"]))
    weights_case("st-shape-mismatch", edited_header(transpose))

    def drop(h, d):
        del h["to_logits.bias"]  # its bytes stay as an unused hole
    weights_case("st-missing-tensor", edited_header(drop))

    def add_extra(h, d):
        h["extra.weight"] = {"dtype": "F32", "shape": [2], "data_offsets": [len(d), len(d) + 8]}
        return d + struct.pack("<2f", 1.0, 2.0)
    weights_case("st-unexpected-tensor", edited_header(add_extra))

    def single_head_kv(h, d):
        # MEGABYTE-pytorch < 0.3.0: to_kv is (2 * dim_head, dim) = (8, 16),
        # not (2 * heads * dim_head, dim); same bytes, reinterpreted.
        name = "transformers.0.layers.0.0.to_kv.weight"
        begin, _ = h[name]["data_offsets"]
        h[name].update(shape=[8, 16], data_offsets=[begin, begin + 8 * 16 * 4])
    weights_case("st-old-single-head-kv", edited_header(single_head_kv))

    for name, (config_bytes, weights_bytes) in cases.items():
        write_dir(out, name, config_bytes, weights_bytes)


if __name__ == "__main__":
    main(sys.argv)
