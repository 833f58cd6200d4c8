#!/usr/bin/env python3
"""Runs the kernel cases of prepare_gpu_artifacts.sh on ptxsim, without a GPU.

  ptxsim_kernel_cases.py ARTIFACTS/kernels [--build build] [--timeout S]
                         [--match SUBSTRING ...] [--json OUT]

Each case is the one gpu_checks.py times on a GPU, at the same shape: its
PTX runs on the fake CUDA driver's simulate mode (test/ptxsim) and
run_kernel.py compares it with PyTorch on the CPU, with run_kernel.py's
tolerances. No timing: ptxsim says nothing about speed. Cases that take
longer than --timeout seconds are reported as such, not as failures. Exits
non-zero when a case fails.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN_KERNEL = os.path.join(ROOT, "test", "Passes", "CUDA", "Kernels", "Inputs", "run_kernel.py")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kernels")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--match", nargs="*", default=[],
                        help="only the cases whose name contains one of these")
    parser.add_argument("--json")
    args = parser.parse_args()
    driver = os.path.join(args.build, "test", "runtime", "fake_cuda_driver.so")
    if not os.path.exists(driver):
        sys.exit(f"no fake CUDA driver at {driver} (build the tests first)")
    env = dict(os.environ, MBRT_CUDA_DRIVER=driver, MBRT_FAKE_CUDA_MODE="simulate",
               MBRT_FAKE_CUDA_ARCH="90")
    results, failed = [], 0
    for name in sorted(os.listdir(args.kernels)):
        folder = os.path.join(args.kernels, name)
        if args.match and not any(m in name for m in args.match):
            continue
        with open(os.path.join(folder, "case.json")) as f:
            case = json.load(f)
        command = [sys.executable, RUN_KERNEL, "--ir", os.path.join(folder, "kernel.mlir"),
                   "--ptx", os.path.join(folder, "kernel.ptx"),
                   "--name", case["kernel"]] + case["run_args"]
        started = time.time()
        try:
            process = subprocess.run(command, capture_output=True, text=True,
                                     timeout=args.timeout, env=env)
            output = (process.stdout + process.stderr).strip()
            status = "passed" if process.returncode == 0 else "FAILED"
        except subprocess.TimeoutExpired:
            output, status = "", "timeout"
        seconds = time.time() - started
        failed += status == "FAILED"
        last = output.splitlines()[-3:] if output else []
        results.append({"case": name, "status": status, "seconds": round(seconds, 1),
                        "output": last})
        print(f"{name}: {status} ({seconds:.0f} s) {' | '.join(last)}", flush=True)
    print(f"{len(results) - failed} passed, {failed} failed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
