#!/usr/bin/python3
"""End-to-end numerics: a model compiled by mbc and run by mbc-run against the
independent PyTorch reference (test/reference).

  check_against_reference.py MODE --arch A --stages S [model options] --work DIR
      score    [--length T]            max |delta log p| <= 1e-4 (f32)
      generate [--prompt-len N] [-n N] greedy bytes identical (default n: 3
                                       patches + 3 bytes)
      sample   [--prompt-len N] [-n N] seeded temperature, top-k, top-p and
                                       MEGABYTE-pytorch (top-k + Gumbel)
                                       samplers identical to the reference's
                                       cached generator
      all                              all three on one compiled model

mbc and mbc-run are taken from PATH (lit puts the build's bin/ first).
--mbc-arg passes options to mbc, --mbc-run-arg to every mbc-run (e.g.
--target=cuda and --device=cuda for the CUDA path).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import megabyte_ref as ref  # noqa: E402
import sampling  # noqa: E402

SCORE_TOLERANCE = 1e-4


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(command)}\n{result.stderr.decode(errors='replace')}")
    return result.stdout


def import_checkpoint(args, model_dir):
    """A MEGABYTE-pytorch checkpoint (the reference's lucidrains module's
    state_dict under "model", as training scripts save it) through
    tools/mbc-import-pytorch."""
    config = {"architecture": "megabyte-lucidrains", "vocab_size": 256,
              "stages": [dict(zip(["dim", "depth", "heads", "dim_head", "seq_len"],
                                  [int(v) for v in stage.split(",")]))
                         for stage in args.stages.split(";")],
              "rotary": "--rotary" in args.model_options,
              "pos_emb": "--pos-emb" in args.model_options}
    torch.manual_seed(args.seed)
    module = ref.build_model(config)
    for parameter in module.parameters():  # away from the init's symmetries
        parameter.data.add_(0.05 * torch.randn_like(parameter))
    checkpoint = os.path.join(args.work, "checkpoint.pt")
    torch.save({"model": module.state_dict()}, checkpoint)
    stages = config["stages"]
    constructor = {"num_tokens": 256, "dim": [s["dim"] for s in stages],
                   "depth": [s["depth"] for s in stages],
                   "max_seq_len": [s["seq_len"] for s in stages],
                   "dim_head": stages[0]["dim_head"], "heads": stages[0]["heads"],
                   "ff_mult": 4, "pad_id": 0, "rel_pos": config["rotary"],
                   "pos_emb": config["pos_emb"]}
    arguments = os.path.join(args.work, "args.json")
    with open(arguments, "w") as f:
        json.dump(constructor, f)
    run([sys.executable, os.path.join(HERE, "..", "..", "tools", "mbc-import-pytorch"),
         "--checkpoint", checkpoint, "--args", arguments, "-o", model_dir])


def build(args):
    model_dir = os.path.join(args.work, "model")
    artifact = os.path.join(args.work, "model.mbx")
    run(["rm", "-rf", args.work])
    os.makedirs(args.work)
    if args.from_checkpoint:
        import_checkpoint(args, model_dir)
    else:
        run([sys.executable, os.path.join(HERE, "..", "reference", "make_model.py"),
             "--arch", args.arch, "--stages", args.stages, "--seed", str(args.seed),
             "-o", model_dir] + args.model_options)
    run(["mbc", model_dir, "-o", artifact] + args.mbc_arg)
    return model_dir, artifact, ref.load_model_dir(model_dir)


def test_bytes(length, seed):
    """Random bytes with 0 and 255 at both ends."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=length, dtype=np.int64)
    data[0], data[-1] = 0, 255
    if length > 2:
        data[1], data[-2] = 255, 0
    return data


def check_score(args, artifact, model):
    length = args.length or model.max_len
    data = test_bytes(length, args.seed)
    input_path = os.path.join(args.work, "input.bin")
    dump = os.path.join(args.work, "logp.npy")
    data.astype(np.uint8).tofile(input_path)
    run(["mbc-run", "score", artifact, "--input", input_path,
         "--dump-logprobs", dump, "--threads", "2"] + args.mbc_run_arg)
    got = np.load(dump)
    with torch.no_grad():
        expect = model.log_probs(torch.tensor(data).unsqueeze(0))[0].numpy()
    if got.shape != expect.shape:
        sys.exit(f"FAILED: log-prob shape {got.shape}, reference {expect.shape}")
    delta = float(np.abs(got - expect).max())
    mean = float(np.abs(got - expect).mean())
    tolerance = args.score_tolerance
    if not np.isfinite(got).all() or not delta <= tolerance or not mean <= args.mean_tolerance:
        sys.exit(f"FAILED: max |delta log p| = {delta} (tolerance {tolerance}), "
                 f"mean {mean} (tolerance {args.mean_tolerance})")
    print(f"score: {length} bytes, max |delta log p| = {delta:.3g} (tolerance {tolerance}), "
          f"mean {mean:.3g}")


def generate(artifact, prompt, n, options, work, extra):
    prompt_path = os.path.join(work, "prompt.bin")
    with open(prompt_path, "wb") as f:
        f.write(bytes(prompt))
    return run(["mbc-run", "generate", artifact, "--prompt-file", prompt_path,
                "-n", str(n), "--threads", "2"] + options + extra)


def check_generation(args, artifact, model, samplers):
    prompt = [int(b) for b in test_bytes(args.prompt_len, args.seed + 1)] if args.prompt_len else []
    n = args.n
    for name, options, sampler in samplers:
        got = generate(artifact, prompt, n, options, args.work, args.mbc_run_arg)
        expect = ref.generate_cached(model, prompt, n, sampler)
        if got != expect:
            first = next((i for i, (a, b) in enumerate(zip(got, expect)) if a != b), min(len(got), len(expect)))
            sys.exit(f"FAILED: {name}: generated bytes differ from the reference at {first}:\n"
                     f"  mbc-run:   {got.hex()}\n  reference: {expect.hex()}")
        print(f"{name}: {n} bytes after a {len(prompt)}-byte prompt identical to the reference")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["score", "generate", "sample", "all"])
    parser.add_argument("--arch", required=True)
    parser.add_argument("--stages", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", required=True)
    parser.add_argument("--length", type=int, default=0)
    parser.add_argument("--prompt-len", type=int, default=0)
    parser.add_argument("-n", type=int, default=0)
    parser.add_argument("--mbc-arg", action="append", default=[],
                        help="an extra mbc argument (repeatable)")
    parser.add_argument("--mbc-run-arg", action="append", default=[],
                        help="an extra argument of every mbc-run (repeatable)")
    parser.add_argument("--score-tolerance", type=float, default=SCORE_TOLERANCE,
                        help="largest max |delta log p| accepted")
    parser.add_argument("--mean-tolerance", type=float, default=float("inf"),
                        help="largest mean |delta log p| accepted")
    parser.add_argument("--from-checkpoint", action="store_true",
                        help="make the model as a MEGABYTE-pytorch checkpoint and import it "
                             "with tools/mbc-import-pytorch (megabyte-lucidrains only)")
    args, args.model_options = parser.parse_known_args()
    model_dir, artifact, model = build(args)
    if not args.n:
        # At least three patches, within the model's maximum length.
        patch = model.max_len // model.config["stages"][0]["seq_len"]
        args.n = min(3 * patch + 3, model.max_len - args.prompt_len)
    if args.mode in ("score", "all"):
        check_score(args, artifact, model)
    if args.mode in ("generate", "all"):
        check_generation(args, artifact, model,
                         [("greedy", ["--greedy"], sampling.greedy())])
    if args.mode in ("sample", "all"):
        seed = 1234 + args.seed
        check_generation(args, artifact, model, [
            ("temperature", ["--temperature", "0.8", "--seed", str(seed)],
             sampling.temperature(0.8, seed)),
            ("top-k", ["--temperature", "1.0", "--top-k", "20", "--seed", str(seed)],
             sampling.top_k(20, seed)),
            ("top-p", ["--temperature", "0.9", "--top-p", "0.9", "--seed", str(seed)],
             sampling.top_p(0.9, seed, temperature=0.9)),
            ("megabyte-pytorch", ["--gumbel-thres", "0.9", "--seed", str(seed)],
             sampling.lucidrains(seed, 0.9)),
        ])


if __name__ == "__main__":
    main()
