#!/usr/bin/python3
"""Small model configurations shared by the reference tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model  # noqa: E402
import megabyte_ref  # noqa: E402

STAGE_KEYS = ("dim", "depth", "heads", "dim_head", "seq_len")


def lucidrains_config(stages, **options):
    """stages: (dim, depth, heads, dim_head, seq_len) tuples, coarsest first."""
    config = {"architecture": megabyte_ref.ARCH_LUCIDRAINS, "vocab_size": 256,
              "stages": [dict(zip(STAGE_KEYS, stage)) for stage in stages]}
    config.update(options)
    return megabyte_ref.normalize_config(config)


def paper_config(stages, **options):
    config = {"architecture": megabyte_ref.ARCH_PAPER, "vocab_size": 256,
              "stages": [dict(zip(STAGE_KEYS, stage)) for stage in stages]}
    config.update(options)
    return megabyte_ref.normalize_config(config)


def random_model(config, seed=0):
    return make_model.make_model(config, seed)


# name -> config; together they cover both architectures, 2 and 3 stages,
# rotary and learned positions, patch sizes 4, 6 and 8, heads*dim_head != dim.
CONFIGS = {
    "lucidrains_p4_pos": lucidrains_config([(32, 2, 2, 8, 6), (16, 2, 2, 8, 4)], pos_emb=True),
    "lucidrains_p6_rotary": lucidrains_config([(24, 2, 3, 6, 5), (16, 1, 3, 6, 6)], rotary=True),
    "lucidrains_p8_plain": lucidrains_config([(32, 1, 3, 12, 4), (24, 2, 3, 12, 8)]),
    "lucidrains_3stage": lucidrains_config([(32, 1, 2, 8, 3), (24, 1, 2, 8, 3), (16, 2, 2, 8, 4)],
                                           rotary=True, pos_emb=True),
    "paper_p4": paper_config([(32, 2, 2, 8, 6), (16, 2, 2, 8, 4)]),
    "paper_p6_rotary_pos": paper_config([(48, 1, 2, 12, 5), (16, 2, 4, 6, 6)], rotary=True, pos_emb=True),
    "paper_p8_rms_shift_tied": paper_config([(64, 1, 4, 8, 4), (24, 2, 2, 8, 8)], norm="rmsnorm",
                                            token_shift=True, tie_embeddings=True, head_bias=True,
                                            activation="gelu_tanh"),
    "paper_3stage": paper_config([(48, 1, 2, 8, 3), (32, 1, 2, 8, 2), (16, 2, 2, 8, 4)], pos_emb=True),
}
