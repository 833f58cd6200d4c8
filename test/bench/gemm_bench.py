#!/usr/bin/env python3
"""GEMM micro-benchmark: mbc's compiled linalg.matmul against torch.matmul.

For each shape (M, N, K) a standalone function computes
C[M, N] = A[M, K] x B[N, K]^T (B as PyTorch stores linear weights) with a
`linalg.matmul` with transposed-B indexing maps. It goes through the same
pipeline as the models (`mbc-opt --mbc-cpu-pipeline`, then LLVM's opt -O3
and llc for the host CPU) into a shared object, and a small C harness calls
its entry point with an mbrt_host_context whose parallel_for runs the
workgroups on `--threads` threads. torch.matmul(A, B.t()) runs in the same
process with the same thread count: OPENBLAS_NUM_THREADS and
torch.set_num_threads are both set before torch is imported.

Prints, per shape, the median time and GFLOP/s of both, their ratio, and
the machine's FMA peak estimate (a register-only FMA loop). Results are
checked against torch (max relative error).

  /usr/bin/python3 test/bench/gemm_bench.py [--threads N] [--shapes MxNxK,...]
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLVM_BIN = "/usr/lib/llvm-22/bin"

# The kjv-lucidrains example's GEMMs (global model: 129 positions, dim 256,
# FFN 1024; local model: 128 patches x 9 positions, dim 128, FFN 512, run
# per tile of 8 patches = 72 rows; patch embedding 1024 -> 256), the
# ~100M-parameter model's (global: 129 positions, dim 1024, 8 x 64 heads,
# FFN 4096; local: 1024 patches x 9 positions in tiles of 72 rows, dim 512,
# FFN 2048), larger square-ish shapes, and decode shapes.
DEFAULT_SHAPES = [
    (128, 256, 1024), (129, 1024, 256), (129, 256, 1024), (129, 256, 256),
    (1152, 512, 128), (1152, 128, 512), (1152, 256, 128), (1152, 128, 128),
    (72, 512, 128), (72, 128, 512),
    (129, 512, 1024), (129, 1024, 512), (129, 4096, 1024), (129, 1024, 4096),
    (72, 512, 512), (72, 2048, 512), (72, 512, 2048),
    (9216, 2048, 512), (9216, 512, 2048),
    (1024, 1024, 1024), (2048, 2048, 512), (1024, 4096, 1024),
    (4096, 1024, 4096), (8192, 256, 256),
    (1, 1024, 1024), (1, 4096, 4096), (8, 1024, 1024), (8, 4096, 4096),
]

HARNESS_C = r"""
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>

typedef void (*workgroup_fn)(void *captures, int64_t workgroup);
typedef struct {
  void (*parallel_for)(void *runtime, workgroup_fn fn, void *captures,
                       int64_t count);
  void *runtime;
} host_context;

/* A fork-join pool: workers take workgroup ids from a shared counter. */
static int pool_threads = 1;
static pthread_t workers[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static long generation;
static int busy;
static workgroup_fn job_fn;
static void *job_captures;
static int64_t job_count;
static atomic_llong job_next;

static void run_share(void) {
  for (;;) {
    int64_t w = atomic_fetch_add(&job_next, 1);
    if (w >= job_count) return;
    job_fn(job_captures, w);
  }
}

static void *worker(void *arg) {
  long seen = 0;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (generation == seen) pthread_cond_wait(&wake, &lock);
    seen = generation;
    pthread_mutex_unlock(&lock);
    run_share();
    pthread_mutex_lock(&lock);
    if (--busy == 0) pthread_cond_signal(&done);
    pthread_mutex_unlock(&lock);
  }
  return arg;
}

static void parallel_for(void *runtime, workgroup_fn fn, void *captures,
                         int64_t count) {
  if (pool_threads <= 1 || count <= 1) {
    for (int64_t w = 0; w < count; ++w) fn(captures, w);
    return;
  }
  pthread_mutex_lock(&lock);
  job_fn = fn; job_captures = captures; job_count = count;
  atomic_store(&job_next, 0);
  busy = pool_threads - 1;
  ++generation;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  run_share();
  pthread_mutex_lock(&lock);
  while (busy > 0) pthread_cond_wait(&done, &lock);
  pthread_mutex_unlock(&lock);
}

static host_context context = {parallel_for, 0};

int harness_init(int threads) {
  pool_threads = threads;
  for (int t = 1; t < threads; ++t)
    if (pthread_create(&workers[t], 0, worker, 0)) return 1;
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Seconds per call of entry(args) over `calls` calls; args[0] is set to
   the host context. */
double harness_time(void (*entry)(void **), void **args, int calls) {
  args[0] = &context;
  double start = now();
  for (int i = 0; i < calls; ++i) entry(args);
  return (now() - start) / calls;
}

/* Independent FMA chains in registers (written out: an array of vectors
   indexed in a loop would live in memory). */
#define FMA4(v) v##0 = FMADD(v##0, b, c); v##1 = FMADD(v##1, b, c); \
                v##2 = FMADD(v##2, b, c); v##3 = FMADD(v##3, b, c);
static double fma_loop(long iterations) {
#if defined(__AVX512F__)
#define FMADD _mm512_fmadd_ps
  __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
#define INIT(v, i) __m512 v##0 = _mm512_set1_ps(i), v##1 = _mm512_set1_ps(i + 1), \
    v##2 = _mm512_set1_ps(i + 2), v##3 = _mm512_set1_ps(i + 3);
  /* Distinct chains, or the compiler merges them. */
  INIT(x, 1) INIT(y, 5) INIT(z, 9) INIT(w, 13)
  for (long n = 0; n < iterations; ++n) {
    FMA4(x) FMA4(y) FMA4(z) FMA4(w)
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), _mm512_add_ps(x2, x3)),
             _mm512_add_ps(_mm512_add_ps(y0, y1), _mm512_add_ps(y2, y3)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(z0, z1), _mm512_add_ps(z2, z3)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(w0, w1), _mm512_add_ps(w2, w3)));
  return _mm512_reduce_add_ps(s);
#elif defined(__AVX2__)
#define FMADD _mm256_fmadd_ps
  __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
#define INIT(v, i) __m256 v##0 = _mm256_set1_ps(i), v##1 = _mm256_set1_ps(i + 1), \
    v##2 = _mm256_set1_ps(i + 2), v##3 = _mm256_set1_ps(i + 3);
  INIT(x, 1) INIT(y, 5) INIT(z, 9)
  for (long n = 0; n < iterations; ++n) {
    FMA4(x) FMA4(y) FMA4(z)
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)),
             _mm256_add_ps(_mm256_add_ps(y0, y1), _mm256_add_ps(y2, y3)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(z0, z1), _mm256_add_ps(z2, z3)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
#else
  return 0;
#endif
}

/* FLOP per iteration of fma_loop's loop. */
int fma_flops_per_iteration(void) {
#if defined(__AVX512F__)
  return 16 * 16 * 2;
#elif defined(__AVX2__)
  return 12 * 8 * 2;
#else
  return 0;
#endif
}

static void *fma_thread(void *arg) {
  *(double *)arg = fma_loop(50000000);
  return 0;
}

/* GFLOP/s of `threads` threads running register-only FMA loops. */
double harness_fma_peak(int threads) {
  pthread_t t[64];
  double sink[64];
  double start = now();
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], 0, fma_thread, &sink[i]);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], 0);
  double seconds = now() - start;
  return 50000000.0 * fma_flops_per_iteration() * threads / seconds / 1e9 +
         0 * sink[0];
}
"""

MLIR_TEMPLATE = """
func.func @gemm(%a: tensor<{M}x{K}xf32> {{mb.name = "a"}},
                %b: tensor<{N}x{K}xf32> {{mb.name = "b"}})
    -> (tensor<{M}x{N}xf32> {{mb.name = "c"}}) {{
  %empty = tensor.empty() : tensor<{M}x{N}xf32>
  %zero = arith.constant 0.0 : f32
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<{M}x{N}xf32>)
      -> tensor<{M}x{N}xf32>
  %c = linalg.matmul indexing_maps = [
      affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
      affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %b : tensor<{M}x{K}xf32>, tensor<{N}x{K}xf32>)
      outs(%init : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  return %c : tensor<{M}x{N}xf32>
}}
"""


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return result


def build_harness(work):
    source = os.path.join(work, "harness.c")
    with open(source, "w") as f:
        f.write(HARNESS_C)
    library = os.path.join(work, "harness.so")
    run(["cc", "-O2", "-march=native", "-shared", "-fPIC", "-pthread", source,
         "-o", library])
    return ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)


def compile_gemm(mbc_opt, work, m, n, k, pipeline_options=""):
    """Returns (shared object path, seconds spent compiling)."""
    stem = os.path.join(work, f"gemm_{m}x{n}x{k}")
    with open(stem + ".mlir", "w") as f:
        f.write(MLIR_TEMPLATE.format(M=m, N=n, K=k))
    start = time.time()
    pipeline = "--mbc-cpu-pipeline" + (f"={pipeline_options}" if pipeline_options else "")
    run([mbc_opt, stem + ".mlir", pipeline, "-o", stem + ".llvm.mlir"])
    run([f"{LLVM_BIN}/mlir-translate", "--mlir-to-llvmir", stem + ".llvm.mlir",
         "-o", stem + ".ll"])
    run([f"{LLVM_BIN}/opt", "-O3", "-mcpu=native", stem + ".ll", "-o", stem + ".bc"])
    run([f"{LLVM_BIN}/llc", "-O3", "-mcpu=native", "-relocation-model=pic",
         "-filetype=obj", stem + ".bc", "-o", stem + ".o"])
    run(["cc", "-shared", stem + ".o", "-o", stem + ".so"])
    return stem + ".so", time.time() - start


def _timed(call, calls):
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", help="comma-separated MxNxK (default: model, "
                        "large and decode shapes)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pipeline-options", default="",
                        help="options of mbc-cpu-pipeline, e.g. 'pack-min-rows=256'")
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"),
                        help="folder with mbc-opt")
    args = parser.parse_args()

    # Before torch is imported: OpenBLAS reads its thread count at load.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)

    shapes = DEFAULT_SHAPES
    if args.shapes:
        shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    mbc_opt = os.path.join(args.bin, "mbc-opt")

    with tempfile.TemporaryDirectory(prefix="gemm-bench-") as work:
        harness = build_harness(work)
        harness.harness_time.restype = ctypes.c_double
        harness.harness_time.argtypes = [ctypes.c_void_p,
                                         ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
        harness.harness_fma_peak.restype = ctypes.c_double
        if harness.harness_init(args.threads):
            sys.exit("cannot start the harness threads")
        peak = harness.harness_fma_peak(args.threads)
        print(f"threads: mbc {args.threads}, torch {torch.get_num_threads()} "
              f"(OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}); "
              f"torch {torch.__version__}")
        print(f"FMA peak estimate ({args.threads} thread(s), register-only FMA "
              f"loop): {peak:.1f} GFLOP/s")
        print(f"{'M':>6} {'N':>6} {'K':>6} | {'mbc ms':>9} {'GFLOP/s':>8} | "
              f"{'torch ms':>9} {'GFLOP/s':>8} | {'mbc/torch':>9} {'%peak':>6} "
              f"{'max rel err':>11} {'compile s':>9}")
        ratios = []
        for m, n, k in shapes:
            library, compile_seconds = compile_gemm(mbc_opt, work, m, n, k, args.pipeline_options)
            gemm = ctypes.CDLL(library)
            entry = ctypes.cast(gemm.mbc_entry_gemm, ctypes.c_void_p)
            generator = torch.Generator().manual_seed(0)
            a = torch.randn(m, k, generator=generator)
            b = torch.randn(n, k, generator=generator)
            c = torch.empty(m, n)
            argv = (ctypes.c_void_p * 4)(None, a.data_ptr(), b.data_ptr(), c.data_ptr())

            def mbc_call(calls=1):
                return harness.harness_time(entry, argv, calls)

            def torch_call():
                torch.matmul(a, b.t())

            mbc_call(1)
            reference = torch.matmul(a, b.t())
            error = ((c - reference).abs().max() / reference.abs().max()).item()
            # Calls per repeat: about 0.1 s.
            once = max(mbc_call(1), 1e-7)
            calls = max(1, int(0.1 / once))
            mbc_seconds = statistics.median(mbc_call(calls) for _ in range(args.repeats))
            torch_call()
            start = time.perf_counter()
            torch_call()
            once = max(time.perf_counter() - start, 1e-7)
            torch_seconds = statistics.median(
                _timed(torch_call, max(1, int(0.1 / once))) for _ in range(args.repeats))
            flops = 2.0 * m * n * k
            mbc_rate = flops / mbc_seconds / 1e9
            torch_rate = flops / torch_seconds / 1e9
            ratio = mbc_rate / torch_rate
            ratios.append(ratio)
            print(f"{m:>6} {n:>6} {k:>6} | {mbc_seconds * 1e3:>9.3f} {mbc_rate:>8.1f} | "
                  f"{torch_seconds * 1e3:>9.3f} {torch_rate:>8.1f} | {ratio:>9.2f} "
                  f"{100 * mbc_rate / peak:>5.0f}% {error:>11.1e} {compile_seconds:>9.1f}",
                  flush=True)
            if not error < 1e-4:
                sys.exit(f"{m}x{n}x{k}: mbc's result differs from torch.matmul")
        print(f"median mbc/torch ratio: {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
