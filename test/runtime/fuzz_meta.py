#!/usr/bin/python3
"""Mutates an artifact's META and runs mbc-run on every mutant.

  fuzz_meta.py ARTIFACT [--mbc-run PATH] [--count N] [--seed S]
               [--input FILE] [--keep DIR] [-- MBC_RUN_OPTIONS...]

Each mutant changes one to three values of META (a number, a string, a
list, a deleted key; a third of them inside an entry point's `args`, the
arguments the compiled code takes) or flips bytes of its text, and every
checksum is recomputed: an artifact that lies consistently, which only the
runtime's own checks can catch. `mbc-run info`, `score` and `generate` run
on each (MBC_RUN_OPTIONS go to all three, e.g. --device=cuda). A mutant
fails when a run ends by a signal (a crash), reports from a sanitizer,
runs over 60 s, or exits non-zero without a message; --keep DIR keeps the
failing mutants. Accepted mutants are fine: much of META is descriptive.
Ends with "N mutants: N failed" and exits 1 when any failed. Python stdlib
only; the container code is make_test_artifact.py's.
"""
import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_test_artifact  # noqa: E402

ODD_VALUES = [0, -1, 1, 2, 3, 7, 255, 256, 1 << 31, -(1 << 31), 1 << 40, 1 << 62,
              (1 << 63) - 1, -(1 << 63), 0.5, -0.0, 1e308, "", "x", "F32", "BF16", "i32",
              [], [0], [-1], [1 << 40, 1 << 40], {}, None, True]


def paths(node, prefix=()):
    """Every path into `node`, as tuples of keys and indices."""
    yield prefix
    children = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from paths(child, prefix + (key,))


def at(node, path):
    for key in path:
        node = node[key]
    return node


def mutate_value(value, rng):
    if isinstance(value, bool):
        return rng.choice([not value, rng.choice(ODD_VALUES)])
    if isinstance(value, int):
        return rng.choice([value + rng.choice([-1, 1, -64, 64]), value * rng.choice([0, 2, -1, 1000]),
                           rng.choice(ODD_VALUES)])
    if isinstance(value, str):
        return rng.choice(["", value + "x", value[:-1], "score", "F16", "i64", rng.choice(ODD_VALUES)])
    return rng.choice(ODD_VALUES)


def mutate(meta, rng):
    """META with one to three changes, and their description."""
    meta = copy.deepcopy(meta)
    changes = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        candidates = [p for p in paths(meta) if p]
        if rng.random() < 0.33:
            in_args = [p for p in candidates if len(p) >= 3 and p[0] == "entry_points" and p[2] == "args"]
            candidates = in_args or candidates
        path = rng.choice(candidates)
        parent, key = at(meta, path[:-1]), path[-1]
        how = rng.random()
        if how < 0.15:
            del parent[key]
            changes.append(f"delete {path}")
        elif how < 0.3 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
            changes.append(f"repeat {path}")
        elif how < 0.4 and isinstance(parent, list) and len(parent) > 1:
            other = rng.randrange(len(parent))
            parent[key], parent[other] = parent[other], parent[key]
            changes.append(f"swap {path} with index {other}")
        else:
            parent[key] = mutate_value(parent[key], rng)
            changes.append(f"set {path} = {parent[key]!r}")
    return meta, changes


def run(command):
    """'ok', 'error', or why the run failed."""
    try:
        done = subprocess.run(command, capture_output=True, timeout=60,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    except subprocess.TimeoutExpired:
        return "ran over 60 s"
    err = done.stderr.decode(errors="replace")
    if done.returncode < 0 or done.returncode > 127:
        return f"ended by signal ({done.returncode}): {err[-300:]}"
    if "Sanitizer" in err or "runtime error:" in err:
        return f"sanitizer report: {err[-600:]}"
    if done.returncode != 0 and not err.strip():
        return f"exit {done.returncode} without a message"
    return "ok" if done.returncode == 0 else "error"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artifact")
    parser.add_argument("--mbc-run", default=shutil.which("mbc-run"))
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--input", help="the text to score (default: a short one)")
    parser.add_argument("--keep", help="folder for the failing mutants")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.options = argv[split + 1:]
    if not args.mbc_run:
        sys.exit("fuzz_meta.py: no mbc-run (give --mbc-run)")
    work = os.path.abspath(args.keep or os.path.dirname(os.path.abspath(args.artifact)))
    os.makedirs(work, exist_ok=True)
    text = args.input or os.path.join(work, "fuzz-input.txt")
    if not args.input:
        with open(text, "w") as f:
            f.write("In the beginning")
    sections = make_test_artifact.read_sections(args.artifact)
    meta_bytes = next(data for kind, data in sections if kind == make_test_artifact.META)
    meta = json.loads(meta_bytes)
    container = argparse.Namespace(bad_omit=[], bad_checksum=[], bad_table_offset=None,
                                   bad_magic=False, bad_version=0, bad_truncate=0, bad_short=None)
    rng = random.Random(args.seed)
    counts = {"ok": 0, "error": 0}
    failed = 0
    for i in range(args.count):
        if rng.random() < 0.85:
            mutant, changes = mutate(meta, rng)
            new_meta = json.dumps(mutant).encode()
        else:
            raw = bytearray(meta_bytes)
            changes = []
            for _ in range(rng.randint(1, 4)):
                at_byte = rng.randrange(len(raw))
                raw[at_byte] = rng.randrange(256)
                changes.append(f"byte {at_byte} = {raw[at_byte]}")
            new_meta = bytes(raw)
        container.output = os.path.join(work, f"mutant-{i}.mbx")
        make_test_artifact.write_container(
            [(kind, new_meta if kind == make_test_artifact.META else data) for kind, data in sections],
            container)
        problems = []
        for command in (["info", container.output],
                        ["score", container.output, "--input", text],
                        ["generate", container.output, "--prompt", "In", "-n", "3", "--greedy"]):
            result = run([args.mbc_run, command[0]] + args.options + command[1:])
            if result in counts:
                counts[result] += 1
            else:
                problems.append(f"{command[0]}: {result}")
        if problems:
            failed += 1
            print(f"mutant {i} ({'; '.join(changes)}):\n  " + "\n  ".join(problems), flush=True)
        if not problems or not args.keep:
            os.remove(container.output)
    print(f"runs: {counts['ok']} ok, {counts['error']} rejected with a message")
    print(f"{args.count} mutants: {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
