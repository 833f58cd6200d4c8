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

# Kernels checked one by one on the GPU (run_kernel.py: numerics against
# PyTorch, timing against torch.matmul / SDPA flash): name | builder pass and
# options | chip | run_kernel.py arguments. The GEMMs are the shapes of
# large MEGABYTE layers (FFN up with GELU, with an f32 and a bf16 bias as
# the pipeline reads a bf16 model's; FFN down with the residual), one
# with remainders (129 rows, the example's global model), the same shapes
# warp-specialized (a producer warpgroup, two consumers: 128 x 256 tiles,
# and 256-row tiles with 1,000 rows, two row blocks per consumer) next to
# the one-warpgroup kernel, the rotary epilogue (a paired q + kv GEMM
# rotating q and the k half, and a warp-specialized one at head dim 128
# with 1,000 rows), and the sm_80
# kernels JIT-compiled on newer GPUs; attention on wgmma (sm_90a: what
# the pipeline picks there for head dims 64 and 128, 128-key blocks, one
# case with 64, and with the ping-pong schedule between the two consumer
# warpgroups, which the pipeline does not pick yet; the token-major layout with 1,000 positions, and with K
# and V one buffer) and on mma.sync at the pipeline's sm_80 settings
# (32-key blocks; 128-row query blocks, two 16-row tiles a warp, with Q
# re-read from shared memory at head dim 128; one 64-row case each at hd64
# and hd128 to compare),
# causal, 1k-8k positions, head dims 64 and 128 (and 32, the example's), the token-major layout the pipeline
# uses for global attention (ragged sequences read from the projections'
# rows, bf16 O rows; the example's shape with K/V one buffer, and 1,000
# positions), the local kernel (patches of 16 rows, and packed 9-row
# patches that straddle its blocks); decode attention
# against f32 KV caches (the example's global step, and 8,000 of 8,192
# positions, against SDPA on the same query and visible rows; unsplit and
# split 16 ways, and split at position 5, where most splits hold no key);
# GEMMs with a norm prologue (token shift + RMSNorm, LayerNorm) against
# the shift, norm, rounding and torch.matmul in eager; the head with its
# final norm and its log-softmax and merge into bytes in the epilogue
# (8 x 2,048 patches of 8 bytes, D 512) against the norm, matmul,
# log_softmax and the merge's row copy in eager; the decode GEMVs
# (1 and 8 rows, and one with its RMSNorm prologue, against torch.matmul
# on bf16 vectors, and a paired q + kv GEMV; f32 weights, as an f32
# model decodes, against torch.matmul in f32); the norm kernels
# (token shift + RMSNorm, LayerNorm; rounded to bf16; a decode row in f32)
# against the same in PyTorch eager; the head's log-softmax (a decode row,
# 65,536 scoring rows, and a vocabulary that is not a multiple of 32)
# against torch.log_softmax; the fused local
# layer (one whole local-model layer, 1,024 patches) at the example's shape
# (and the example's whole local transformer, its 2 layers chained in one
# kernel, against the 2 layers in eager and torch.compile; and that stage
# building its input rows from bytes, table and context in its prologue,
# timed against PyTorch given the input ready: a conservative ratio),
# MEGABYTE.md's lucidrains local stage (D 256, 8 heads of 64), a lucidrains
# layer with rotary over patches of 16 bytes (17 positions: 3 packed
# patches a 64-row tile, spanning warps) and a paper layer (LayerNorm, ReLU, separate k/v,
# f16), against the same layer in
# PyTorch eager and torch.compile (the local-stage goal).
KERNELS=(
  "gemm-wgmma-4096x4096x1024-gelu|mb-cuda-test-build-gemm=m=4096 n=4096 k=1024 bias=true gelu=erf|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 4096 --k 1024 --bias --gelu erf"
  "gemm-wgmma-4096x4096x1024-gelu-bf16-bias|mb-cuda-test-build-gemm=m=4096 n=4096 k=1024 bias=true bias-type=bf16 gelu=erf|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 4096 --k 1024 --bias --bias-type bf16 --gelu erf"
  "gemm-wgmma-4096x1024x4096-residual|mb-cuda-test-build-gemm=m=4096 n=1024 k=4096 bias=true residual=true|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 1024 --k 4096 --bias --residual"
  "gemm-wgmma-8192x8192x4096|mb-cuda-test-build-gemm=m=8192 n=8192 k=4096|sm_90a|--kind gemm --needs-sm 90 --m 8192 --n 8192 --k 4096"
  "gemm-wgmma-129x1024x256-tile64|mb-cuda-test-build-gemm=m=129 n=1024 k=256 tile-m=64 bias=true gelu=erf|sm_90a|--kind gemm --needs-sm 90 --m 129 --n 1024 --k 256 --bias --gelu erf"
  "gemm-wgmma-ws-8192x8192x4096|mb-cuda-test-build-gemm=m=8192 n=8192 k=4096 tile-n=256 stages=4 consumers=2|sm_90a|--kind gemm --needs-sm 90 --m 8192 --n 8192 --k 4096"
  "gemm-wgmma-ws-4096x4096x1024-gelu|mb-cuda-test-build-gemm=m=4096 n=4096 k=1024 tile-n=256 stages=4 consumers=2 bias=true gelu=erf|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 4096 --k 1024 --bias --gelu erf"
  "gemm-wgmma-ws-4096x1024x4096-residual|mb-cuda-test-build-gemm=m=4096 n=1024 k=4096 consumers=2 bias=true residual=true|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 1024 --k 4096 --bias --residual"
  "gemm-wgmma-ws-1000x1024x256-tile256|mb-cuda-test-build-gemm=m=1000 n=1024 k=256 tile-m=256 consumers=2 bias=true gelu=erf|sm_90a|--kind gemm --needs-sm 90 --m 1000 --n 1024 --k 256 --bias --gelu erf"
  "gemm-wgmma-persistent-8192x8192x4096|mb-cuda-test-build-gemm=m=8192 n=8192 k=4096 stages=4 consumers=2 persistent=132|sm_90a|--kind gemm --needs-sm 90 --m 8192 --n 8192 --k 4096"
  "gemm-wgmma-persistent-4096x4096x1024-gelu|mb-cuda-test-build-gemm=m=4096 n=4096 k=1024 stages=4 consumers=2 persistent=132 bias=true gelu=erf|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 4096 --k 1024 --bias --gelu erf"
  "gemm-wgmma-persistent-4096x1024x4096-residual|mb-cuda-test-build-gemm=m=4096 n=1024 k=4096 stages=4 consumers=2 persistent=132 bias=true residual=true|sm_90a|--kind gemm --needs-sm 90 --m 4096 --n 1024 --k 4096 --bias --residual"
  "gemm-wgmma-rotary-qkv-8192x1024x1024|mb-cuda-test-build-gemm=m=8192 n=1024 k=1024 paired-n=2048 rotary-columns=1024 rotary-head-dim=64 rotary-positions=1024|sm_90a|--kind gemm --needs-sm 90 --m 8192 --n 1024 --k 1024 --paired-n 2048 --rotary-columns 1024 --rotary-head-dim 64 --rotary-positions 1024"
  "gemm-wgmma-ws-rotary-1000x1024x512-hd128|mb-cuda-test-build-gemm=m=1000 n=1024 k=512 tile-n=256 stages=4 consumers=2 rotary-columns=512 rotary-head-dim=128 rotary-positions=1000|sm_90a|--kind gemm --needs-sm 90 --m 1000 --n 1024 --k 512 --rotary-columns 512 --rotary-head-dim 128 --rotary-positions 1000"
  "gemm-wgmma-ws-norm-8192x2048x512-gelu|mb-cuda-test-build-gemm=m=8192 n=2048 k=512 tile-n=256 stages=3 consumers=2 bias=true gelu=erf norm=rms_clamp norm-epsilon=1e-8 norm-token-shift=true norm-positions=1024|sm_90a|--kind gemm --needs-sm 90 --m 8192 --n 2048 --k 512 --bias --gelu erf --gemm-norm rms_clamp --gemm-norm-positions 1024 --gemm-norm-token-shift --norm-weight-type f32 --epsilon 1e-8"
  "gemm-wgmma-gather-norm-patch-1024x256x1024|mb-cuda-test-build-gemm=m=1024 n=256 k=1024 bias=true bias-type=bf16 tile-m=64 tile-n=128 stages=3 norm=layer norm-epsilon=1e-5 norm-weight-type=bf16 norm-gather-vocabulary=256 norm-gather-slots=8|sm_90a|--kind gemm --needs-sm 90 --m 1024 --n 256 --k 1024 --bias --bias-type bf16 --gemm-norm layer --epsilon 1e-5 --norm-weight-type bf16 --gemm-norm-gather-vocabulary 256 --gemm-norm-gather-slots 8"
  "gemm-wgmma-gather-norm-start-patch-1024x256x1024|mb-cuda-test-build-gemm=m=1024 n=256 k=1024 bias=true bias-type=bf16 tile-m=64 tile-n=256 stages=3 norm=layer norm-epsilon=1e-5 norm-weight-type=bf16 norm-gather-vocabulary=256 norm-gather-slots=8 out-norm=layer out-norm-start-type=bf16 out-norm-positions=128|sm_90a|--kind gemm --needs-sm 90 --m 1024 --n 256 --k 1024 --bias --bias-type bf16 --gemm-norm layer --epsilon 1e-5 --norm-weight-type bf16 --gemm-norm-gather-vocabulary 256 --gemm-norm-gather-slots 8 --gemm-out-norm layer --gemm-out-norm-start-type bf16 --gemm-out-norm-positions 128"
  "gemm-wgmma-norm-qkv-1024x768x256|mb-cuda-test-build-gemm=m=1024 n=256 k=256 tile-m=64 paired-n=512 norm=rms_clamp norm-epsilon=1e-8 norm-token-shift=true norm-positions=128|sm_90a|--kind gemm --needs-sm 90 --m 1024 --n 256 --k 256 --paired-n 512 --gemm-norm rms_clamp --gemm-norm-positions 128 --gemm-norm-token-shift --norm-weight-type f32 --epsilon 1e-8"
  "gemm-mmasync-norm-4096x1024x256-layernorm|mb-cuda-test-build-gemm=m=4096 n=1024 k=256 mma=mma_sync tile-k=32 norm=layer norm-weight-type=bf16|sm_80|--kind gemm --m 4096 --n 1024 --k 256 --gemm-norm layer --norm-weight-type bf16 --epsilon 1e-5"
  "gemm-wgmma-head-logsoftmax-147456x256x512|mb-cuda-test-build-gemm=m=147456 n=256 k=512 tile-m=64 tile-n=256 bias=true bias-type=bf16 log-softmax=true merge-positions=8 merge-sequences=2048 norm=rms_clamp norm-epsilon=1e-8 norm-token-shift=true norm-positions=9|sm_90a|--kind gemm --needs-sm 90 --m 147456 --n 256 --k 512 --bias --bias-type bf16 --gemm-log-softmax --merge-positions 8 --merge-sequences 2048 --gemm-norm rms_clamp --gemm-norm-positions 9 --gemm-norm-token-shift --norm-weight-type f32 --epsilon 1e-8"
  "gemm-mmasync-4096x4096x1024|mb-cuda-test-build-gemm=m=4096 n=4096 k=1024 mma=mma_sync tile-k=32|sm_80|--kind gemm --m 4096 --n 4096 --k 1024"
  "gemm-mmasync-1152x512x128-relu|mb-cuda-test-build-gemm=m=1152 n=512 k=128 mma=mma_sync tile-m=64 tile-n=64 tile-k=32 bias=true gelu=relu|sm_80|--kind gemm --m 1152 --n 512 --k 128 --bias --gelu relu"
  "gemv-1x4096x4096-gelu|mb-cuda-test-build-gemv=m=1 n=4096 k=4096 bias=true activation=gelu|sm_80|--kind gemv --m 1 --n 4096 --k 4096 --bias --gelu erf"
  "gemv-1x1024x4096-residual|mb-cuda-test-build-gemv=m=1 n=1024 k=4096 bias=true residual=true|sm_80|--kind gemv --m 1 --n 1024 --k 4096 --bias --residual"
  "gemv-1x4096x4096-rmsnorm|mb-cuda-test-build-gemv=m=1 n=4096 k=4096 norm=rms_clamp norm-weight-type=bf16|sm_80|--kind gemv --m 1 --n 4096 --k 4096 --gemv-norm rms_clamp --epsilon 1e-8"
  "gemv-paired-1x4608x4096-rmsnorm|mb-cuda-test-build-gemv=m=1 n=1536 k=4096 paired-n=3072 norm=rms_clamp norm-weight-type=bf16|sm_80|--kind gemv --m 1 --n 1536 --k 4096 --paired-n 3072 --gemv-norm rms_clamp --epsilon 1e-8"
  "gemv-8x4096x1024|mb-cuda-test-build-gemv=m=8 n=4096 k=1024|sm_80|--kind gemv --m 8 --n 4096 --k 1024"
  "gemv-f32-1x4096x4096-gelu|mb-cuda-test-build-gemv=m=1 n=4096 k=4096 element-type=f32 bias=true activation=gelu|sm_80|--kind gemv --dtype f32 --m 1 --n 4096 --k 4096 --bias --gelu erf"
  "gemv-1x4096x4096-layernorm|mb-cuda-test-build-gemv=m=1 n=4096 k=4096 bias=true activation=relu norm=layer norm-weight-type=bf16|sm_80|--kind gemv --m 1 --n 4096 --k 4096 --bias --gelu relu --gemv-norm layer --epsilon 1e-5"
  "gemv-qkv-1x3072x1024-layernorm|mb-cuda-test-build-gemv=m=1 n=1024 k=1024 paired-n=1024 third-n=1024 norm=layer norm-weight-type=bf16|sm_80|--kind gemv --m 1 --n 1024 --k 1024 --paired-n 1024 --third-n 1024 --gemv-norm layer --epsilon 1e-5"
  "gemv-f32-paired-1x4608x4096-rmsnorm|mb-cuda-test-build-gemv=m=1 n=1536 k=4096 paired-n=3072 element-type=f32 norm=rms_clamp|sm_80|--kind gemv --dtype f32 --m 1 --n 1536 --k 4096 --paired-n 3072 --gemv-norm rms_clamp --epsilon 1e-8"
  "attention-wgmma-hd64-s1024|mb-cuda-test-build-attention=batch-heads=16 seq-len=1024 head-dim=64 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 1024 --head-dim 64"
  "attention-wgmma-hd64-s2048|mb-cuda-test-build-attention=batch-heads=16 seq-len=2048 head-dim=64 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 2048 --head-dim 64"
  "attention-wgmma-hd64-s4096|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=64 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 4096 --head-dim 64"
  "attention-wgmma-hd64-s8192|mb-cuda-test-build-attention=batch-heads=16 seq-len=8192 head-dim=64 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 8192 --head-dim 64"
  "attention-wgmma-hd128-s1024|mb-cuda-test-build-attention=batch-heads=16 seq-len=1024 head-dim=128 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 1024 --head-dim 128"
  "attention-wgmma-hd128-s2048|mb-cuda-test-build-attention=batch-heads=16 seq-len=2048 head-dim=128 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 2048 --head-dim 128"
  "attention-wgmma-hd128-s4096|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=128 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 4096 --head-dim 128"
  "attention-wgmma-hd128-s8192|mb-cuda-test-build-attention=batch-heads=16 seq-len=8192 head-dim=128 key-block=128 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 8192 --head-dim 128"
  "attention-wgmma-pingpong-hd64-s4096|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=64 key-block=128 mma=wgmma pingpong=true|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 4096 --head-dim 64"
  "attention-wgmma-pingpong-hd64-s8192|mb-cuda-test-build-attention=batch-heads=16 seq-len=8192 head-dim=64 key-block=128 mma=wgmma pingpong=true|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 8192 --head-dim 64"
  "attention-wgmma-pingpong-hd128-s4096|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=128 key-block=128 mma=wgmma pingpong=true|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 4096 --head-dim 128"
  "attention-wgmma-pingpong-hd128-s8192|mb-cuda-test-build-attention=batch-heads=16 seq-len=8192 head-dim=128 key-block=128 mma=wgmma pingpong=true|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 8192 --head-dim 128"
  "attention-wgmma-hd64-s4096-keys64|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=64 key-block=64 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --batch-heads 16 --seq-len 4096 --head-dim 64"
  "attention-wgmma-token-hd64-s1000|mb-cuda-test-build-attention=batch-heads=16 heads=8 seq-len=1000 head-dim=64 key-block=128 output-type=bf16 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --token-major --heads 8 --batch-heads 16 --seq-len 1000 --head-dim 64"
  "attention-wgmma-token-kvfused-hd128-s1000|mb-cuda-test-build-attention=batch-heads=8 heads=4 seq-len=1000 head-dim=128 key-block=128 k-row=1024 v-row=1024 v-column=512 output-type=bf16 mma=wgmma|sm_90a|--kind attention --needs-sm 90 --token-major --kv-fused --heads 4 --batch-heads 8 --seq-len 1000 --head-dim 128"
  "attention-hd64-s1024|mb-cuda-test-build-attention=batch-heads=16 seq-len=1024 head-dim=64 key-block=32 row-tiles=2|sm_80|--kind attention --batch-heads 16 --seq-len 1024 --head-dim 64"
  "attention-hd64-s2048|mb-cuda-test-build-attention=batch-heads=16 seq-len=2048 head-dim=64 key-block=32 row-tiles=2|sm_80|--kind attention --batch-heads 16 --seq-len 2048 --head-dim 64"
  "attention-hd64-s4096|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=64 key-block=32 row-tiles=2|sm_80|--kind attention --batch-heads 16 --seq-len 4096 --head-dim 64"
  "attention-hd64-s8192|mb-cuda-test-build-attention=batch-heads=16 seq-len=8192 head-dim=64 key-block=32 row-tiles=2|sm_80|--kind attention --batch-heads 16 --seq-len 8192 --head-dim 64"
  "attention-hd64-s4096-rowtiles1|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=64 key-block=32|sm_80|--kind attention --batch-heads 16 --seq-len 4096 --head-dim 64"
  "attention-hd128-s1024|mb-cuda-test-build-attention=batch-heads=16 seq-len=1024 head-dim=128 key-block=32 row-tiles=2 reload-query=true|sm_80|--kind attention --batch-heads 16 --seq-len 1024 --head-dim 128"
  "attention-hd128-s2048|mb-cuda-test-build-attention=batch-heads=16 seq-len=2048 head-dim=128 key-block=32 row-tiles=2 reload-query=true|sm_80|--kind attention --batch-heads 16 --seq-len 2048 --head-dim 128"
  "attention-hd128-s4096|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=128 key-block=32 row-tiles=2 reload-query=true|sm_80|--kind attention --batch-heads 16 --seq-len 4096 --head-dim 128"
  "attention-hd128-s8192|mb-cuda-test-build-attention=batch-heads=16 seq-len=8192 head-dim=128 key-block=32 row-tiles=2 reload-query=true|sm_80|--kind attention --batch-heads 16 --seq-len 8192 --head-dim 128"
  "attention-hd128-s4096-rowtiles1|mb-cuda-test-build-attention=batch-heads=16 seq-len=4096 head-dim=128 key-block=32|sm_80|--kind attention --batch-heads 16 --seq-len 4096 --head-dim 128"
  "attention-hd32-s1024|mb-cuda-test-build-attention=batch-heads=16 seq-len=1024 head-dim=32 key-block=32 row-tiles=2|sm_80|--kind attention --batch-heads 16 --seq-len 1024 --head-dim 32"
  "attention-token-kjv-s129|mb-cuda-test-build-attention=batch-heads=4 heads=4 seq-len=129 head-dim=32 key-block=32 k-row=256 v-row=256 v-column=128 output-type=bf16 row-tiles=2|sm_80|--kind attention --token-major --kv-fused --heads 4 --batch-heads 4 --seq-len 129 --head-dim 32"
  "attention-token-hd64-s1000|mb-cuda-test-build-attention=batch-heads=16 heads=8 seq-len=1000 head-dim=64 key-block=32 output-type=bf16 row-tiles=2|sm_80|--kind attention --token-major --heads 8 --batch-heads 16 --seq-len 1000 --head-dim 64"
  "decode-attention-kjv-l129|mb-cuda-test-build-decode-attention=heads=4 head-dim=32 cache-length=129 cache-rows=4 first-row=2|sm_80|--kind decode_attention --sequences 1 --heads 4 --head-dim 32 --cache-length 129 --cache-rows 4 --first-row 2 --position 100"
  "decode-attention-hd64-l8192|mb-cuda-test-build-decode-attention=heads=16 head-dim=64 cache-length=8192 warps=8|sm_80|--kind decode_attention --sequences 1 --heads 16 --head-dim 64 --cache-length 8192 --position 8000"
  "decode-attention-hd64-l8192-split16|mb-cuda-test-build-decode-attention=heads=16 head-dim=64 cache-length=8192 warps=8 splits=16|sm_80|--kind decode_attention --sequences 1 --heads 16 --head-dim 64 --cache-length 8192 --position 8000 --splits 16"
  "decode-attention-hd64-l8192-split16-p5|mb-cuda-test-build-decode-attention=heads=16 head-dim=64 cache-length=8192 warps=8 splits=16|sm_80|--kind decode_attention --sequences 1 --heads 16 --head-dim 64 --cache-length 8192 --position 5 --splits 16"
  "attention-local-p16-hd32|mb-cuda-test-build-attention=batch-heads=4 seq-len=8192 head-dim=32 patch-length=16|sm_80|--kind attention --batch-heads 4 --seq-len 8192 --head-dim 32 --patch-length 16"
  "attention-local-p16-hd64|mb-cuda-test-build-attention=batch-heads=8 seq-len=8192 head-dim=64 patch-length=16|sm_80|--kind attention --batch-heads 8 --seq-len 8192 --head-dim 64 --patch-length 16"
  "attention-local-p9-hd64|mb-cuda-test-build-attention=batch-heads=8 seq-len=8064 head-dim=64 patch-length=9|sm_80|--kind attention --batch-heads 8 --seq-len 8064 --head-dim 64 --patch-length 9"
  "norm-shift-rms-d1024|mb-cuda-test-build-norm=rows=8192 positions=8192 dim=1024|sm_80|--kind norm --rows 8192 --positions 8192 --dim 1024"
  "norm-layer-d2048|mb-cuda-test-build-norm=rows=4096 positions=4096 dim=2048 norm=layer epsilon=1e-5 token-shift=false|sm_80|--kind norm --rows 4096 --positions 4096 --dim 2048 --norm layer --epsilon 1e-5 --no-token-shift"
  "norm-patch-start-layer-d1024-f32|mb-cuda-test-build-norm=rows=16384 positions=2048 dim=1024 norm=layer epsilon=1e-5 token-shift=false element-type=f32 weight-type=bf16 start-type=bf16|sm_80|--kind norm --rows 16384 --positions 2048 --dim 1024 --norm layer --epsilon 1e-5 --no-token-shift --f32-output --weight-16 --norm-start-type bf16"
  "norm-decode-layer-d1024-f32|mb-cuda-test-build-norm=rows=1 positions=1 dim=1024 norm=layer epsilon=1e-5 token-shift=false element-type=f32 weight-type=bf16|sm_80|--kind norm --rows 1 --positions 1 --dim 1024 --norm layer --epsilon 1e-5 --no-token-shift --f32-output --weight-16"
  "log-softmax-decode-v256|mb-cuda-test-build-log-softmax=rows=1 columns=256|sm_80|--kind log_softmax --rows 1 --columns 256"
  "log-softmax-score-v256|mb-cuda-test-build-log-softmax=rows=65536 columns=256|sm_80|--kind log_softmax --rows 65536 --columns 256"
  "log-softmax-v259|mb-cuda-test-build-log-softmax=rows=1000 columns=259|sm_80|--kind log_softmax --rows 1000 --columns 259"
  "local-layer-d128-hd32|mb-cuda-test-build-local-layer=sequences=1024 positions=9 dim=128 heads=4 head-dim=32 hidden=512|sm_80|--kind local_layer --sequences 1024 --positions 9 --dim 128 --heads 4 --head-dim 32 --hidden 512 --gelu erf --compile"
  "local-stage-d128-hd32-2-layers|mb-cuda-test-build-local-layer=sequences=1024 positions=9 dim=128 heads=4 head-dim=32 hidden=512 layers=2|sm_80|--kind local_layer --sequences 1024 --positions 9 --dim 128 --heads 4 --head-dim 32 --hidden 512 --gelu erf --compile"
  "local-stage-d128-hd32-2-layers-input|mb-cuda-test-build-local-layer=sequences=1024 positions=9 dim=128 heads=4 head-dim=32 hidden=512 layers=2 input-vocabulary=256 input-patches=128|sm_80|--kind local_layer --sequences 1024 --positions 9 --dim 128 --heads 4 --head-dim 32 --hidden 512 --gelu erf --input-vocabulary 256 --input-patches 128 --compile"
  "local-layer-d256-hd64|mb-cuda-test-build-local-layer=sequences=1024 positions=9 dim=256 heads=8 head-dim=64 hidden=1024|sm_80|--kind local_layer --sequences 1024 --positions 9 --dim 256 --heads 8 --head-dim 64 --hidden 1024 --gelu erf --compile"
  "local-layer-p16-d256-rotary|mb-cuda-test-build-local-layer=sequences=512 positions=17 dim=256 heads=4 head-dim=64 hidden=1024 rotary-theta=10000|sm_80|--kind local_layer --sequences 512 --positions 17 --dim 256 --heads 4 --head-dim 64 --hidden 1024 --gelu erf --local-rotary --rotary-theta 10000 --compile"
  "local-layer-paper-f16|mb-cuda-test-build-local-layer=sequences=1000 positions=8 dim=128 heads=2 head-dim=64 hidden=512 norm=layer epsilon=1e-5 token-shift=false activation=relu fused-kv=false element-type=f16|sm_80|--kind local_layer --dtype f16 --sequences 1000 --positions 8 --dim 128 --heads 2 --head-dim 64 --hidden 512 --norm layer --epsilon 1e-5 --no-token-shift --gelu relu --compile"
)
MBC_OPT=${MBC_OPT:-$(dirname "$MBC")/mbc-opt}
if [[ $TARGET == *cuda* ]]; then
  mkdir -p "$OUT_DIR/kernels"
  for entry in "${KERNELS[@]}"; do
    IFS='|' read -r name pass chip run_args <<<"$entry"
    dir=$OUT_DIR/kernels/$name
    rm -rf "$dir" && mkdir -p "$dir"
    symbol=${name//-/_}
    "$MBC_OPT" "$ROOT/test/Passes/CUDA/Kernels/Inputs/empty.mlir" \
      "--${pass%%=*}=${pass#*=} name=$symbol" -o "$dir/kernel.mlir"
    "$MBC_OPT" "$dir/kernel.mlir" --mb-cuda-kernels-to-ptx="chip=$chip" \
      --mb-cuda-write-ptx=output="$dir/kernel.ptx" -o /dev/null
    # run_kernel.py reads only the launch facts (the gpu.func lines with
    # mbc.launch); the whole IR of an unrolled local layer is tens of MB.
    grep 'mbc.launch' "$dir/kernel.mlir" > "$dir/launch.mlir"
    mv "$dir/launch.mlir" "$dir/kernel.mlir"
    "$PYTHON" -c 'import json, sys; json.dump({"kernel": sys.argv[2], "chip": sys.argv[3], "run_args": sys.argv[4].split()}, open(sys.argv[1], "w"), indent=1)' \
      "$dir/case.json" "$symbol" "$chip" "$run_args"
    echo "prepared kernel $name ($chip)"
  done
fi

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
