#!/usr/bin/python3
"""CPU benchmark: mbc against the PyTorch reference in eager mode, measured side
by side in one run on this machine with the same thread count.

  compare_pytorch.py [--threads N] [--repeat R] [--models example,100m] [--reuse-artifacts]
                     [--score-bytes 8192] [--generate 256,1024] [--work DIR]

Prints medians and ratios (mbc / PyTorch, higher is better for mbc):
  (a) scoring throughput in bytes/s,
  (b) batch-1 generation bytes/s with KV caches (mbc vs the reference's
      KV-cached generator, and vs MEGABYTE-pytorch-style uncached generation),
  (c) torch.matmul's GFLOP/s (so the baseline's BLAS is visible) and, when
      test/bench/gemm_bench.py is present, the compiled GEMMs against it.
PyTorch must run on OpenBLAS: Debian's torch uses the libblas.so.3
alternative; with the reference BLAS its matmul is ~6 GFLOP/s and the
comparison would be meaningless, so this refuses to run without OpenBLAS.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))


def blas_library():
    path = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return path


def set_threads(threads):
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def median_time(fn, repeat, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(command)}\n{result.stderr}")
    return result.stdout


def model_dirs(args):
    models = []
    for name in args.models.split(","):
        if name == "example":
            models.append(("kjv-lucidrains (3.7M)", os.path.join(ROOT, "examples", "kjv-lucidrains")))
        elif name == "100m":
            path = os.path.join(args.work, "lucidrains-100m")
            if not os.path.exists(os.path.join(path, "model.safetensors")):
                # MEGABYTE-pytorch dim (1024, 512), depth (8, 4),
                # max_seq_len (1024, 8), dim_head 64, heads 8; random weights.
                run([sys.executable, os.path.join(ROOT, "test", "reference", "make_model.py"),
                     "--arch", "megabyte-lucidrains",
                     "--stages", "1024,8,8,64,1024;512,4,8,64,8", "--seed", "1", "-o", path])
            models.append(("lucidrains-100m", path))
        else:
            sys.exit(f"unknown model {name!r}")
    return models


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default="example,100m")
    parser.add_argument("--score-bytes", type=int, default=8192)
    parser.add_argument("--generate", default="256,1024")
    parser.add_argument("--uncached-bytes", type=int, default=8)
    parser.add_argument("--work", default=os.path.join(ROOT, "build", "bench"))
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--reuse-artifacts", action="store_true",
                        help="use WORK/NAME.mbx when it exists instead of compiling")
    args = parser.parse_args()
    set_threads(args.threads)
    import numpy as np
    import torch
    import megabyte_ref as ref
    import sampling
    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)

    blas = blas_library()
    print(f"threads: {args.threads} (mbc-run --threads, torch.set_num_threads, OPENBLAS_NUM_THREADS)")
    print(f"libblas.so.3 -> {blas}")
    if "openblas" not in blas:
        sys.exit("PyTorch is not on OpenBLAS: install libopenblas0-pthread (scripts/bootstrap.sh does)")
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    seconds = median_time(lambda: torch.matmul(a, b), args.repeat)
    print(f"torch.matmul 2048^3: {2 * 2048 ** 3 / seconds / 1e9:.1f} GFLOP/s")

    rows = []
    for label, model_dir in model_dirs(args):
        artifact = os.path.join(args.work, os.path.basename(model_dir) + ".mbx")
        start = time.perf_counter()
        reused = args.reuse_artifacts and os.path.exists(artifact)
        if not reused:
            run([os.path.join(args.bin, "mbc"), model_dir, "-o", artifact])
        compile_seconds = time.perf_counter() - start
        model = ref.load_model_dir(model_dir)
        rng = np.random.default_rng(0)
        window = model.max_len
        count = max(args.score_bytes // window, 1)
        data = torch.tensor(rng.integers(0, 256, size=(count, window)))

        with torch.no_grad():
            torch_score = median_time(lambda: model.log_probs(data), args.repeat)
        torch_score_rate = count * window / torch_score
        mbc_score = json.loads(run([os.path.join(args.bin, "mbc-run"), "bench", artifact,
                                    "--bytes", str(count * window), "--repeat", str(args.repeat),
                                    "--threads", str(args.threads), "--json"]))
        mbc_score_rate = mbc_score["score"]["bytes_per_second"]
        rows.append((label, f"score {count * window} B", mbc_score_rate, torch_score_rate, "eager"))

        for n in [int(x) for x in args.generate.split(",")]:
            n = min(n, model.max_len)
            torch_gen = median_time(lambda: ref.generate_cached(model, [], n, sampling.greedy()),
                                    max(1, args.repeat // 2), warmup=0)
            mbc_gen = json.loads(run([os.path.join(args.bin, "mbc-run"), "bench", artifact,
                                      "--bytes", "1", "--generate", str(n), "--repeat", str(args.repeat),
                                      "--threads", str(args.threads), "--json"]))
            rows.append((label, f"generate {n} B", mbc_gen["generate"]["bytes_per_second"], n / torch_gen,
                         "KV-cached eager"))
        u = min(args.uncached_bytes, model.max_len)
        torch_uncached = median_time(lambda: ref.generate_uncached(model, [], u, sampling.greedy()), 1, warmup=0)
        rows.append((label, f"generate (uncached ref, {u} B)", rows[-1][2], u / torch_uncached,
                     "MEGABYTE-pytorch style, no cache"))
        if reused:
            print(f"{label}: reused {artifact} (--reuse-artifacts)")
        else:
            print(f"{label}: compiled in {compile_seconds:.1f} s")

    print()
    print(f"{'model':24} {'what':30} {'mbc B/s':>12} {'PyTorch B/s':>12} {'ratio':>8}  PyTorch mode")
    for label, what, mbc_rate, torch_rate, mode in rows:
        print(f"{label:24} {what:30} {mbc_rate:12.1f} {torch_rate:12.1f} {mbc_rate / torch_rate:8.2f}x  {mode}")

    gemm = os.path.join(HERE, "gemm_bench.py")
    if os.path.exists(gemm):
        print()
        subprocess.run([sys.executable, gemm, "--threads", str(args.threads)], check=False)


if __name__ == "__main__":
    main()
