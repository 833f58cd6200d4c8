#!/usr/bin/python3
"""Trains the kjv-lucidrains example: a 3.65M-parameter megabyte-lucidrains model
on the King James Bible (Debian package bible-kjv-text), with the mbc reference.

    /usr/bin/python3 examples/kjv-lucidrains/train.py [--steps 1200] [-o DIR]

Deterministic for a given seed and thread count (one thread by default, so it
leaves the second core of a two-core machine free). The last 5% of the text
(cut at a line break) is held out; heldout.txt is its first 64 KiB of whole
lines, and the bits per byte printed at the end are measured on exactly that
file with the saved (bfloat16) weights.
"""

import argparse
import json
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "reference"))
sys.path.insert(0, HERE)
import megabyte_ref  # noqa: E402
from kjv_text import read_kjv  # noqa: E402

CONFIG = {
    "architecture": "megabyte-lucidrains",
    "vocab_size": 256,
    "stages": [
        {"dim": 256, "depth": 4, "heads": 4, "dim_head": 32, "seq_len": 128},
        {"dim": 128, "depth": 2, "heads": 4, "dim_head": 32, "seq_len": 8},
    ],
    "ff_mult": 4,
    "norm": "rmsnorm",
    "norm_eps": 1e-8,
    "activation": "gelu",
    "pos_emb": False,
    "rotary": False,
    "rotary_theta": 10000.0,
    "token_shift": True,
    "final_norm": True,
    "head_bias": True,
    "pad_id": 0,
}
HELDOUT_FRACTION = 0.05
HELDOUT_FILE_BYTES = 65536


def split_text(text):
    """(training bytes, held-out bytes, heldout.txt bytes), all cut at line breaks."""
    cut = text.rindex(b"\n", 0, int(len(text) * (1 - HELDOUT_FRACTION))) + 1
    heldout = text[cut:]
    file_end = heldout.rindex(b"\n", 0, HELDOUT_FILE_BYTES) + 1
    return text[:cut], heldout, heldout[:file_end]


def learning_rate(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=8, help="sequences of 1024 bytes per step")
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", default=HERE, help="model directory to write")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.time()
    train_text, heldout, heldout_file = split_text(read_kjv())
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "heldout.txt"), "wb") as f:
        f.write(heldout_file)
    print(f"text: {len(train_text)} training bytes, {len(heldout)} held out, "
          f"heldout.txt {len(heldout_file)} bytes", flush=True)

    model = megabyte_ref.build_model(CONFIG).train()
    with torch.no_grad():  # start tokens as MEGABYTE-pytorch draws them; the rest PyTorch defaults
        for start in model.start_tokens:
            start.normal_()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters: {parameters}", flush=True)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    data = torch.frombuffer(bytearray(train_text), dtype=torch.uint8)
    window = model.max_len
    sampler = torch.Generator().manual_seed(args.seed)
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, args.warmup)
        starts = torch.randint(0, len(data) - window, (args.batch,), generator=sampler)
        ids = torch.stack([data[s:s + window] for s in starts.tolist()]).long()
        loss = -model.log_probs(ids).gather(-1, ids[..., None]).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 50 == 0 or step + 1 == args.steps:
            print(f"step {step} train_bpb {loss.item() / math.log(2):.4f} "
                  f"elapsed {time.time() - started:.0f}s", flush=True)
        if (step + 1) % 500 == 0:
            model.eval()
            print(f"step {step} heldout.txt bpb {megabyte_ref.bits_per_byte(model, heldout_file):.4f}", flush=True)
            model.train()
    training_seconds = time.time() - started

    model.eval()
    megabyte_ref.save_model_dir(args.output, CONFIG, model.state_dict(), "bf16")
    saved = megabyte_ref.load_model_dir(args.output)
    metrics = {
        "parameters": parameters,
        "steps": args.steps,
        "batch_bytes": args.batch * window,
        "training_wall_seconds": round(training_seconds, 1),
        "threads": args.threads,
        "heldout_txt_bytes": len(heldout_file),
        "heldout_txt_bpb": round(megabyte_ref.bits_per_byte(saved, heldout_file), 4),
        "heldout_all_bytes": len(heldout),
        "heldout_all_bpb": round(megabyte_ref.bits_per_byte(saved, heldout), 4),
        "weights": "bf16",
    }
    print(json.dumps(metrics, indent=2), flush=True)
    with open(os.path.join(args.output, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
