"""Injects the layout bugs mismatch.py looks for into a reference output and
prints what it reports (mismatch.test checks the lines)."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mismatch import describe_mismatch, summary  # noqa: E402

torch.manual_seed(0)
expected = torch.randn(128, 192)
tolerance = 1e-3 + 1e-3 * expected.abs()


def report(name, result):
    facts = describe_mismatch(result, expected, tolerance)
    print(f"{name}: {summary(facts)}")
    print(f"{name} facts: {json.dumps(facts, sort_keys=True)}")


report("exact", expected.clone())

# Rows 8 apart swapped inside the second 16-row group of every 64-row block
# (a fragment's row half mapped to the wrong rows).
swapped = expected.clone()
for r0 in (0, 64):
    swapped[r0 + 16:r0 + 24], swapped[r0 + 24:r0 + 32] = \
        expected[r0 + 24:r0 + 32].clone(), expected[r0 + 16:r0 + 24].clone()
report("rows", swapped)

# 16-byte chunks of bf16 (8 columns) XOR-ed with row % 8 inside each
# 64-column atom, but only in rows of residue 3 (one wrong swizzle phase).
swizzled = expected.clone()
for r in range(3, 128, 8):
    for c0 in range(0, 192, 64):
        for chunk in range(8):
            source = c0 + 8 * (chunk ^ 5)
            swizzled[r, c0 + 8 * chunk:c0 + 8 * chunk + 8] = expected[r, source:source + 8]
report("swizzle", swizzled)

# The last column tile never written (output buffers start as NaN).
unwritten = expected.clone()
unwritten[:, 128:] = float("nan")
report("unwritten", unwritten)

# A wrong scale everywhere (log2(e) applied twice, say).
report("scale", expected * 1.4427)

# A transposed 64 x 64 block.
transposed = expected.clone()
transposed[64:128, 64:128] = expected[64:128, 64:128].t()
report("transposed", transposed)
