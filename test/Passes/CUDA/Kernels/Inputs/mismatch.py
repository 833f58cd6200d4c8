"""Describes how a kernel's output differs from its reference.

When a kernel that has never run on hardware first fails, "max abs error
0.9" says little; where the bad elements lie says much more. Layout bugs
leave patterns: a wgmma/mma fragment mapped to the wrong rows moves whole
rows within an 8- or 16-row group, a swizzle mismatch permutes 16-byte
column chunks per row residue, a missed tile leaves its elements unwritten
(output buffers start as NaN), a wrong softmax or epilogue scale multiplies
everything by one factor, a K- vs MN-major mix-up transposes a block.

describe_mismatch() looks for each of these in a 2-D [rows, columns] view
and returns a JSON-ready dict; summary() renders it as one line.
"""
import torch

# Residues reported for row and column indices: the MMA fragment (8),
# the m16/k16 shapes (16) and the 64-wide tiles and swizzle atoms (64).
MODULI = (8, 16, 64)


def _residues(indices, modulus):
    """The residues of `indices` mod `modulus`, or "all" when every one
    appears."""
    present = sorted(set(int(i) % modulus for i in indices))
    return "all" if len(present) == modulus else present


def _blocks(indices, size, count):
    """How many of `count` blocks of `size` hold a bad index, and the first
    few of them."""
    blocks = sorted(set(int(i) // size for i in indices))
    return {"bad": len(blocks), "of": count, "first": blocks[:8]}


def _best_match(got, candidates):
    """For each row of `got`, the row of `candidates` nearest to it and the
    distance (both [n, width])."""
    distances = torch.cdist(got.double(), candidates.double())
    best, index = distances.min(dim=1)
    return index, best


def _permutation(got, expected, tolerance):
    """Rows of `got` that equal another row of `expected` (within
    tolerance) rather than their own: [[got_row, expected_row], ...], or
    None when the bad rows match no other row either."""
    index, best = _best_match(got, expected)
    limit = tolerance.max(dim=1).values.double() * got.shape[1] ** 0.5
    moved = [[i, int(index[i])] for i in range(got.shape[0])
             if int(index[i]) != i and best[i] <= limit[i]]
    return moved or None


def describe_mismatch(result, expected, tolerance, block=64):
    """result, expected, tolerance: [rows, columns] (tolerance may be a
    scalar). Returns the facts above about the elements where
    |result - expected| > tolerance (non-finite results are bad)."""
    result, expected = result.float(), expected.float()
    tolerance = torch.as_tensor(tolerance, dtype=torch.float32).expand_as(expected)
    error = (result - expected).abs()
    bad = ~torch.isfinite(result) | (error > tolerance)
    rows, columns = result.shape
    facts = {"bad_elements": int(bad.sum()), "of": rows * columns}
    if not bad.any():
        return facts
    facts["bad_fraction"] = round(facts["bad_elements"] / facts["of"], 6)
    facts["nan_elements"] = int(torch.isnan(result).sum())  # outputs start as NaN
    facts["inf_elements"] = int(torch.isinf(result).sum())
    bad_rows, bad_columns = bad.nonzero(as_tuple=True)
    row, column = int(bad_rows[0]), int(bad_columns[0])
    facts["first_bad"] = {"row": row, "column": column, "got": float(result[row, column]),
                          "expected": float(expected[row, column])}
    facts["bad_rows"] = {"count": int(bad.any(dim=1).sum()), "of": rows}
    facts["bad_columns"] = {"count": int(bad.any(dim=0).sum()), "of": columns}
    for modulus in MODULI:
        facts["bad_rows"][f"mod_{modulus}"] = _residues(bad_rows.unique(), modulus)
        facts["bad_columns"][f"mod_{modulus}"] = _residues(bad_columns.unique(), modulus)
    facts["row_blocks"] = _blocks(bad_rows.unique(), block, -(-rows // block))
    facts["column_blocks"] = _blocks(bad_columns.unique(), block, -(-columns // block))

    # One common factor: the ratio where the reference is clearly non-zero.
    finite = torch.isfinite(result)
    large = finite & bad & (expected.abs() > 0.1 * expected.abs().max())
    if int(large.sum()) >= 8:
        ratios = result[large] / expected[large]
        median = float(ratios.median())
        spread = float((ratios - median).abs().median())
        if spread <= 0.01 * abs(median) and abs(median - 1) > 0.01:
            facts["common_factor"] = round(median, 5)

    # The first bad block: rows or columns moved within it, or transposed.
    r0, c0 = (row // block) * block, (column // block) * block
    got = result[r0:r0 + block, c0:c0 + block]
    want = expected[r0:r0 + block, c0:c0 + block]
    limit = tolerance[r0:r0 + block, c0:c0 + block]
    facts["block"] = {"row": r0, "column": c0}
    if torch.isfinite(got).all():
        moved_rows = _permutation(got, want, limit)
        if moved_rows:
            facts["block"]["rows_moved"] = moved_rows[:16]
        # Columns, among the rows sharing the first bad row's residue mod 8
        # (a swizzle permutes chunks by the row's residue).
        same = torch.arange(row % 8 - r0 % 8, got.shape[0], 8)
        same = same[(same >= 0) & (same < got.shape[0])]
        if len(same):
            moved_columns = _permutation(got[same].t(), want[same].t(), limit[same].t())
            if moved_columns:
                facts["block"]["columns_moved_in_rows_mod_8"] = row % 8
                facts["block"]["columns_moved"] = moved_columns[:16]
        if got.shape[0] == got.shape[1] and bool(((got - want.t()).abs() <= limit).all()):
            facts["block"]["transposed"] = True
    return facts


def summary(facts):
    """One line for a log."""
    if facts["bad_elements"] == 0:
        return "no bad elements"
    parts = [f"{facts['bad_elements']} of {facts['of']} elements bad",
             f"{facts['nan_elements']} NaN (never written?)" if facts["nan_elements"] else None,
             f"rows mod 8 {facts['bad_rows']['mod_8']}",
             f"columns mod 8 {facts['bad_columns']['mod_8']}",
             f"row blocks {facts['row_blocks']['bad']}/{facts['row_blocks']['of']}",
             f"column blocks {facts['column_blocks']['bad']}/{facts['column_blocks']['of']}",
             f"common factor {facts['common_factor']}" if "common_factor" in facts else None]
    block = facts["block"]
    if "rows_moved" in block:
        parts.append(f"rows moved in block ({block['row']}, {block['column']}): "
                     f"{block['rows_moved'][:4]}")
    if "columns_moved" in block:
        parts.append(f"columns moved: {block['columns_moved'][:4]}")
    if block.get("transposed"):
        parts.append("block transposed")
    return "; ".join(p for p in parts if p)
