#!/usr/bin/python3
"""Writes (or checks) Inputs/sampling_vectors.txt: tokens the reference samplers pick.

Every case names a sampler, a seed and a position, and a vector of float32
log-probs that both this script and SamplerTest.cpp build from integers (so
the file stays small and no float is ever printed): each value's bit pattern
is negative, with an exponent in [2^-3, 2^4] and 23 random mantissa bits,
drawn from the reference's own counter-based generator. The expected token
comes from test/reference/sampling.py. Regenerate with
    /usr/bin/python3 test/runtime/make_sampling_vectors.py -o test/runtime/Inputs/sampling_vectors.txt
"""

import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import sampling  # noqa: E402

VECTOR_LANE = 77


def vector_bits(kind, vector_seed, vocab):
    """float32 bit patterns of the vector; SamplerTest.cpp mirrors this."""
    bits = []
    for i in range(vocab):
        if kind == "flat":
            key = 0
        elif kind == "ties":
            key = i // 4
        else:  # "spread", "peaked"
            key = i
        r = sampling.random_u64(vector_seed, key, VECTOR_LANE)
        bits.append(0x80000000 | ((124 + (r & 7)) << 23) | ((r >> 3) & 0x7FFFFF))
    if kind == "peaked":
        bits[vector_seed % vocab] = 0xBA83126F  # -0.001f
    return bits


def to_float(bit_pattern):
    return struct.unpack("<f", struct.pack("<I", bit_pattern))[0]


def cases():
    rng = random.Random(20240611)
    lines = ["# mode temperature top_k top_p filter_thres seed position vocab kind vector_seed token",
             "# uniform seed position lane bits-of-the-double"]
    for _ in range(40):
        seed, position, lane = rng.getrandbits(64), rng.getrandbits(40), rng.getrandbits(9)
        value = sampling.random_uniform(seed, position, lane)
        lines.append(f"uniform {seed} {position} {lane} {struct.unpack('<Q', struct.pack('<d', value))[0]:016x}")
    for _ in range(1500):
        mode = rng.choice(["greedy"] + ["sample"] * 5 + ["lucidrains"] * 4)
        temperature = rng.choice([1.0, 1.0, 0.7, 1.3, 0.25, 2.5, 0.001])
        top_k = rng.choice([0, 0, 0, 1, 2, 5, 25, 255, 256, 300]) if mode == "sample" else 0
        top_p = rng.choice([1.0, 1.0, 0.95, 0.9, 0.5, 0.1, 1e-9]) if mode == "sample" else 1.0
        thres = rng.choice([0.9, 0.9, 0.5, 0.0, 0.99, 1.0]) if mode == "lucidrains" else 0.9
        seed = rng.choice([0, 1, (1 << 64) - 1, rng.getrandbits(64), rng.getrandbits(64)])
        position = rng.choice([0, 1, rng.getrandbits(20), rng.getrandbits(62)])
        vocab = rng.choice([256, 256, 256, 16, 5, 2, 1])
        kind = rng.choice(["spread", "spread", "ties", "peaked", "flat"])
        vector_seed = rng.getrandbits(32)
        values = [to_float(b) for b in vector_bits(kind, vector_seed, vocab)]
        sampler = sampling.Sampler(mode, temperature=temperature, top_k=top_k, top_p=top_p,
                                   filter_thres=thres, seed=seed)
        token = sampler.sample(values, position)
        lines.append(f"{mode} {temperature!r} {top_k} {top_p!r} {thres!r} {seed} {position} "
                     f"{vocab} {kind} {vector_seed} {token}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("-o", "--output")
    group.add_argument("--check", help="fail if this file differs from what the reference gives now")
    args = parser.parse_args()
    text = cases()
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        return 0
    with open(args.check) as f:
        recorded = f.read()
    if recorded != text:
        old, new = recorded.splitlines(), text.splitlines()
        differing = [i for i in range(min(len(old), len(new))) if old[i] != new[i]]
        print(f"{args.check} is out of date with test/reference/sampling.py: "
              f"{len(differing)} lines differ (first: line {differing[0] + 1 if differing else '?'}); "
              "regenerate it (see this script's docstring) and check the runtime still agrees",
              file=sys.stderr)
        return 1
    print(f"{args.check}: {len(text.splitlines()) - 2} vectors agree with test/reference/sampling.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
