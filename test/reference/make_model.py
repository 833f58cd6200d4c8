#!/usr/bin/python3
"""Writes a model directory (config.json + model.safetensors) with seeded random weights.

    /usr/bin/python3 test/reference/make_model.py --arch megabyte-lucidrains \\
        --stages '64,2,4,16,8;32,2,4,8,4' [--rotary] [--pos-emb] [--dtype bf16] -o DIR

--stages lists 'dim,depth,heads,dim_head,seq_len' per stage, coarsest first.
The same arguments and seed give the same bytes. Weights are drawn so that
numerics tests are meaningful: norm gains in [0.5, 1.5], non-zero biases,
start tokens and pads of unit scale, linear layers scaled 1/sqrt(fan_in).
"""

import argparse
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import megabyte_ref  # noqa: E402


def parse_stages(text):
    stages = []
    for index, part in enumerate(p for p in text.split(";") if p.strip()):
        fields = part.split(",")
        if len(fields) != 5:
            raise ValueError(f"--stages: stage {index} {part!r}: need dim,depth,heads,dim_head,seq_len")
        try:
            values = [int(f) for f in fields]
        except ValueError:
            raise ValueError(f"--stages: stage {index} {part!r}: fields must be integers") from None
        stages.append(dict(zip(("dim", "depth", "heads", "dim_head", "seq_len"), values)))
    return stages


def config_from_args(args):
    config = {
        "architecture": args.arch,
        "vocab_size": args.vocab,
        "stages": parse_stages(args.stages),
        "ff_mult": args.ff_mult,
        "pos_emb": args.pos_emb,
        "rotary": args.rotary,
        "rotary_theta": args.rotary_theta,
        "pad_id": args.pad_id,
    }
    if args.arch == megabyte_ref.ARCH_PAPER:
        config.update({
            "norm": args.norm or "layernorm",
            "norm_eps": args.norm_eps if args.norm_eps is not None else 1e-5,
            "activation": args.activation or "relu",
            "token_shift": args.token_shift,
            "final_norm": not args.no_final_norm,
            "tie_embeddings": args.tie,
            "head_bias": args.head_bias,
        })
    else:
        if args.tie or args.no_final_norm:
            raise ValueError("--tie and --no-final-norm apply to --arch megabyte only")
        config.update({
            "norm": args.norm or "rmsnorm",
            "norm_eps": args.norm_eps if args.norm_eps is not None else 1e-8,
            "activation": args.activation or "gelu",
            "token_shift": True,
            "final_norm": True,
            "head_bias": True,
        })
    return megabyte_ref.normalize_config(config)


def randomize(model, seed):
    """Seeded weights, drawn module by module in state_dict order."""
    generator = torch.Generator().manual_seed(seed)

    def normal(tensor, std, mean=0.0):
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * std + mean)

    def uniform(tensor, low, high):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)

    norm_types = (megabyte_ref.RMSNorm, megabyte_ref.Norm, nn.LayerNorm)
    tied_table = None
    if model.config.get("tie_embeddings"):
        tied_table = f"stages.{model.num_stages - 1}.byte_embedding"
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, norm_types):
                gain = module.g if isinstance(module, megabyte_ref.RMSNorm) else module.weight
                uniform(gain, 0.5, 1.5)
                if getattr(module, "bias", None) is not None:
                    normal(module.bias, 0.1)
            elif isinstance(module, nn.Linear):
                normal(module.weight, 1.0 / math.sqrt(module.in_features))
                if module.bias is not None:
                    normal(module.bias, 0.1)
            elif isinstance(module, nn.Embedding):
                if "pos" in name or "position" in name:
                    std = 0.3
                elif name == tied_table:  # also the head: keep logits O(1)
                    std = 2.0 / math.sqrt(module.embedding_dim)
                else:
                    std = 1.0
                normal(module.weight, std)
        for name, parameter in model.named_parameters():
            if name.startswith("start_tokens.") or name.endswith(".pad"):
                normal(parameter, 1.0)
            elif name == "head.bias":
                normal(parameter, 0.1)
    return model


def make_model(config, seed):
    return randomize(megabyte_ref.build_model(config), seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, choices=[megabyte_ref.ARCH_PAPER, megabyte_ref.ARCH_LUCIDRAINS])
    parser.add_argument("--stages", required=True, help="'dim,depth,heads,dim_head,seq_len;...', coarsest first")
    parser.add_argument("--rotary", action="store_true")
    parser.add_argument("--rotary-theta", type=float, default=10000.0)
    parser.add_argument("--pos-emb", action="store_true")
    parser.add_argument("--norm", choices=["layernorm", "rmsnorm"])
    parser.add_argument("--norm-eps", type=float)
    parser.add_argument("--activation", choices=["gelu", "gelu_tanh", "relu"])
    parser.add_argument("--token-shift", action="store_true", help="megabyte: shift half the features")
    parser.add_argument("--no-final-norm", action="store_true", help="megabyte: no norm closing each stage")
    parser.add_argument("--tie", action="store_true", help="megabyte: head reuses the byte embedding")
    parser.add_argument("--head-bias", action="store_true", help="megabyte: head has a bias")
    parser.add_argument("--ff-mult", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--pad-id", type=int, default=0)
    parser.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", required=True, help="model directory to write")
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    model = make_model(config, args.seed)
    megabyte_ref.save_model_dir(args.output, config, model.state_dict(), args.dtype)


if __name__ == "__main__":
    main()
