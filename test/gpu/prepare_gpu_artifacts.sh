#!/usr/bin/env bash
# Compiles the artifacts run_gpu_checks.sh takes to a GPU machine. Run HERE,
# where mbc (LLVM/MLIR) is built:
#
#   test/gpu/prepare_gpu_artifacts.sh OUT_DIR [MBC]
#
# Each case is OUT_DIR/<case>/ with model.mbx (external weights, so nothing
# large travels), config.json, and case.json: the make_model.py arguments
# that recreate model.safetensors there (external weights make any values
# consistent: the reference reads the same file the artifact runs with).
# MBC_GPU_TARGET picks mbc's --target (default cuda,cpu; "cpu" rehearses the
# pipeline before mbc can emit CUDA), MBC_CUDA_ARCH its --cuda-arch
# (default sm_90a).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${1:?usage: prepare_gpu_artifacts.sh OUT_DIR [MBC]}
MBC=${2:-$ROOT/build/bin/mbc}
TARGET=${MBC_GPU_TARGET:-cuda,cpu}
ARCH=${MBC_CUDA_ARCH:-sm_90a}
PYTHON=${PYTHON:-/usr/bin/python3}

# name | make_model.py arguments (the seed is fixed by make_model.py's
# default) [| extra mbc flags]
CASES=(
  "lucidrains-f32-small|--arch megabyte-lucidrains --stages 64,2,4,16,8;32,2,4,8,4 --rotary"
  "lucidrains-bf16-small|--arch megabyte-lucidrains --stages 64,2,4,16,8;32,2,4,8,4 --rotary --dtype bf16"
  "paper-f32-small|--arch megabyte --stages 64,2,4,16,8;32,2,4,8,4 --pos-emb --token-shift"
  "lucidrains-f32-512|--arch megabyte-lucidrains --stages 512,4,8,64,64;256,2,4,64,8 --rotary"
  "lucidrains-bf16-512|--arch megabyte-lucidrains --stages 512,4,8,64,64;256,2,4,64,8 --rotary --dtype bf16"
  "paper-bf16-512|--arch megabyte --stages 512,2,8,64,64;256,2,4,64,8 --dtype bf16"
  "lucidrains-f32-512-generic|--arch megabyte-lucidrains --stages 512,4,8,64,64;256,2,4,64,8 --rotary|--cuda-tensor-cores=false"
)

cuda_flags=()
if [[ $TARGET == *cuda* ]]; then
  cuda_flags=(--cuda-arch="$ARCH")
fi
mkdir -p "$OUT_DIR"
for entry in "${CASES[@]}"; do
  name=${entry%%|*}
  rest=${entry#*|}
  read -r -a model_args <<<"${rest%%|*}"
  extra_flags=()
  if [[ $rest == *"|"* ]]; then
    read -r -a extra_flags <<<"${rest#*|}"
  fi
  dir=$OUT_DIR/$name
  rm -rf "$dir" && mkdir -p "$dir"
  "$PYTHON" "$ROOT/test/reference/make_model.py" "${model_args[@]}" -o "$dir"
  if ! "$MBC" "$dir" -o "$dir/model.mbx" --weights=external \
      --target="$TARGET" "${cuda_flags[@]}" \
      ${extra_flags[@]+"${extra_flags[@]}"} 2>"$dir/mbc.log"; then
    echo "prepare_gpu_artifacts: mbc failed for $name (--target=$TARGET):" >&2
    cat "$dir/mbc.log" >&2
    exit 1
  fi
  "$PYTHON" - "$dir/case.json" "$name" "$TARGET" "${extra_flags[*]-}" "${model_args[@]}" <<'EOF'
import json, sys
path, name, target, flags, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
dtype = args[args.index("--dtype") + 1] if "--dtype" in args else "f32"
json.dump({"name": name, "make_model_args": args, "weights_dtype": dtype,
           "mbc_target": target, "mbc_flags": flags.split()}, open(path, "w"), indent=1)
EOF
  rm "$dir/model.safetensors" # recreated on the GPU machine
  echo "prepared $name: $(du -h "$dir/model.mbx" | cut -f1)"
done
