#!/usr/bin/env bash
# Sets up a fresh machine, builds mbc and runs every test (lit, unit, the
# PyTorch reference's self-checks). Ends with ctest's summary line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MBC_BUILD_DIR:-$root/build}"
jobs="${MBC_JOBS:-$(nproc)}"

"$root/scripts/bootstrap.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" "$@"
