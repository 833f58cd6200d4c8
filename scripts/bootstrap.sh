#!/usr/bin/env bash
# Installs every system package mbc needs (Debian bookworm). Idempotent: when
# everything is already installed it prints nothing and touches nothing.
set -euo pipefail

packages=(
  # compiler toolchain and build
  cmake ninja-build g++ ccache
  nlohmann-json3-dev # libmbrt: JSON for META and safetensors headers
  # LLVM/MLIR 22 (shared libraries, headers, tablegen, FileCheck, lit)
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  # PyTorch reference (CPU) and its fast BLAS
  python3 python3-torch python3-numpy libopenblas0-pthread
  # public-domain training text for the example model
  bible-kjv-text
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
