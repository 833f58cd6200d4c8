#!/usr/bin/env bash
# CPU benchmark against PyTorch eager, side by side (test/bench/compare_pytorch.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MBC_BUILD_DIR:-$root/build}"
"$root/scripts/bootstrap.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target mbc mbc-run
exec /usr/bin/python3 "$root/test/bench/compare_pytorch.py" --bin "$build/bin" --work "$build/bench" "$@"
