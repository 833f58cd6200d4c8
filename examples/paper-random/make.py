#!/usr/bin/python3
"""Regenerates this example: a megabyte (paper architecture) model with seeded random weights.

    /usr/bin/python3 examples/paper-random/make.py [-o DIR]

Two stages, patch size P = 8, 128 bytes of context: a global model of width
P*Dg = 128 (Dg = 16) and a local model of width 64; LayerNorm, ReLU, a final
norm per stage and the head tied to the local byte embedding, as in the paper.
The same command always writes the same bytes.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "reference"))
import make_model  # noqa: E402

ARGUMENTS = [
    "--arch", "megabyte",
    "--stages", "128,2,4,32,16;64,2,4,16,8",
    "--norm", "layernorm",
    "--activation", "relu",
    "--tie",
    "--seed", "2023",
    "--dtype", "f32",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default=HERE)
    options = parser.parse_args()
    make_model.main(ARGUMENTS + ["-o", options.output])


if __name__ == "__main__":
    main()
