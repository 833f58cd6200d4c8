#!/usr/bin/env bash
# The main job on a fresh machine: set up, build mbc, compile the bundled
# trained example (examples/kjv-lucidrains) for this CPU, generate text with
# it and score its held-out text in bits per byte.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${MBC_BUILD_DIR:-$root/build}"
example="$root/examples/kjv-lucidrains"

"$root/scripts/bootstrap.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target mbc mbc-run

echo "== compiling $example"
mkdir -p "$build/examples"
time "$build/bin/mbc" "$example" -o "$build/examples/kjv-lucidrains.mbx"
"$build/bin/mbc-run" info "$build/examples/kjv-lucidrains.mbx"

echo
echo "== generating 300 bytes (top-k 20, temperature 0.8, seed 7)"
printf 'Ge1:1 In the beginning'
"$build/bin/mbc-run" generate "$build/examples/kjv-lucidrains.mbx" \
  --prompt "Ge1:1 In the beginning" -n 300 --temperature 0.8 --top-k 20 --seed 7
echo

echo
echo "== bits per byte on the held-out text (README: 2.199)"
"$build/bin/mbc-run" score "$build/examples/kjv-lucidrains.mbx" \
  --input "$example/heldout.txt"
