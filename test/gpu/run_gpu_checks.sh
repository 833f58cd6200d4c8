#!/usr/bin/env bash
# THE prepared check for a GPU machine (CUDA driver, cmake, ninja, a C++
# compiler and PyTorch 2.x; no LLVM). From the source tree there:
#
#   test/gpu/run_gpu_checks.sh ARTIFACTS_DIR [REPORT_DIR]
#
# 1. builds libmbrt + mbc-run runtime-only (-DMBC_RUNTIME_ONLY=ON) in
#    $MBC_GPU_BUILD (default build-gpu/) and runs the runtime's unit tests
#    when GoogleTest is there;
# 2. test/gpu/gpu_checks.py: per kernel of prepare_gpu_artifacts.sh's
#    kernels/ (tensor-core GEMMs, GEMVs, flash attention, norms, fused
#    local layers: PTX and launch facts), run_kernel.py checks it against
#    PyTorch and times it against torch.matmul / SDPA flash / the same
#    layer in PyTorch eager and torch.compile; per artifact of
#    prepare_gpu_artifacts.sh,
#    recreates the weights and the PyTorch reference outputs, checks scoring
#    and greedy generation on --device=cuda against them, and times mbc
#    against PyTorch eager and torch.compile on the same shapes;
# 3. writes ONE JSON report, REPORT_DIR/gpu_report.json (REPORT_DIR
#    defaults to $OUT, else ./gpu-report); the build and unit-test logs stay
#    in the build folder, their tails are in the report.
#
# Exit status: 0 all checks passed, 1 a check failed, 2 the build failed,
# 3 no CUDA device (the report says why). GPU_CHECKS_QUICK=1 skips
# torch.compile and shortens the timings. GPU_CHECKS_DEADLINE=S: S seconds
# after the checks start, the remaining kernels and cases are skipped and
# the report is written (on a device lent for a fixed time; the report is
# also rewritten after every kernel and case, so a run cut short leaves
# what it measured). A kernel check running over 90 s counts as hung.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARTIFACTS=${1:?usage: run_gpu_checks.sh ARTIFACTS_DIR [REPORT_DIR]}
REPORT_DIR=${2:-${OUT:-$PWD/gpu-report}}
BUILD=${MBC_GPU_BUILD:-$ROOT/build-gpu}
PYTHON=${PYTHON:-$(command -v python3)}
mkdir -p "$REPORT_DIR" "$BUILD"
# The logs stay in the build folder: REPORT_DIR gets the JSON report only
# (it carries the logs' tails).
BUILD_LOG=$BUILD/gpu-checks-build.log
UNIT_LOG=$BUILD/gpu-checks-unit-tests.log

build() {
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMBC_RUNTIME_ONLY=ON -DMBC_PYTHON="$PYTHON" &&
    ninja -C "$BUILD" mbc-run &&
    { ! grep -q mbrt-unittests "$BUILD/build.ninja" || ninja -C "$BUILD"; }
}
build_start=$(date +%s)
build_status=ok
# A second try only resumes the first (ninja), e.g. after a transient
# "posix_spawn" failure on a loaded machine; both logs are kept.
build >"$BUILD_LOG" 2>&1 || build >>"$BUILD_LOG" 2>&1 || build_status=failed
build_seconds=$(($(date +%s) - build_start))

unit_status=skipped
if [[ $build_status == ok && -x $BUILD/bin/mbrt-unittests ]]; then
  if (cd "$BUILD" && timeout 300 ctest -R '^runtime' -j4 >"$UNIT_LOG" 2>&1); then
    unit_status=passed
  else
    unit_status=failed
  fi
fi

exec "$PYTHON" "$ROOT/test/gpu/gpu_checks.py" \
  --artifacts "$ARTIFACTS" --report "$REPORT_DIR/gpu_report.json" \
  --mbc-run "$BUILD/bin/mbc-run" --build-status "$build_status" \
  --build-seconds "$build_seconds" --build-log "$BUILD_LOG" \
  --unit-tests "$unit_status" --unit-log "$UNIT_LOG" \
  ${GPU_CHECKS_QUICK:+--quick} \
  ${GPU_CHECKS_DEADLINE:+--deadline-seconds "$GPU_CHECKS_DEADLINE"}
