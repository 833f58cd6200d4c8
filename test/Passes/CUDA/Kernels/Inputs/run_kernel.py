#!/usr/bin/env python3
"""Runs one kernel built by
mb-cuda-test-build-{gemm,gemv,attention,decode-attention,local-layer,norm}
on the GPU and compares it with PyTorch on the CPU.

The launch facts (grid, block, shared bytes, parameters and tensor-map
descriptions) come from the kernel's `mbc.launch` attribute in the IR; the
code is the PTX of mb-cuda-kernels-to-ptx, JIT-compiled by the driver. The
driver API is reached through ctypes on libcuda.so.1, the way libmbrt loads
it (docs/cuda.md). Prints the maximum error and exits non-zero when it is
above the tolerance or not finite.

Tolerances: the inputs are rounded to bf16/f16 before both sides compute, and
both accumulate in f32, so a GEMM differs only by summation order and the
polynomial GELU (rtol = atol = 2e-3). Attention also rounds P to bf16/f16
before P V (atol 2e-2 for bf16, 5e-3 for f16). A fused local layer is
compared with a PyTorch layer (local_layer_reference) that rounds to
bf16/f16 where the kernel does (normalized rows, q, k, v, unnormalized P,
the attention output, the FFN's hidden activation) and computes in f32
otherwise: |error| <= 3e-2 + 1e-2 |expected| (bf16), 1e-2 + 5e-3
|expected| (f16). A norm kernel rounds its output once, as the reference
does: |error| <= 1e-2 |expected| + 1e-3 (one bf16 step, 2^-8, plus
summation order; an f32 output: 1e-4 + 1e-4 |expected|). Decode attention is f32 throughout: |error| <= 1e-4 +
1e-4 |expected| (ex2.approx and summation order).

The reference runs on the CPU, or with --reference-device cuda on the GPU
through PyTorch (in f32, for shapes too large for the CPU). --time N also
times the kernel (N launches after a warm-up, CUDA events, median) against
PyTorch on the same GPU and inputs: torch.matmul (bf16/f16, the epilogue
not counted) for GEMMs, torch.nn.functional.scaled_dot_product_attention
with the flash backend for attention (causal; local attention as one
sequence per patch); a local layer against the same layer in PyTorch on
bf16/f16 tensors (SDPA for the attention), eager and, with --compile,
torch.compile'd. --json FILE writes the result as one JSON object.
"""
import json
import statistics
import argparse
import ctypes
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mismatch import describe_mismatch, summary  # noqa: E402


class Driver:
    def __init__(self):
        try:
            # $MBRT_CUDA_DRIVER as libmbrt reads it: the tests point it at
            # the fake driver, whose simulate mode runs the PTX on ptxsim.
            self.lib = ctypes.CDLL(os.environ.get("MBRT_CUDA_DRIVER") or "libcuda.so.1")
        except OSError as error:
            sys.exit(f"no CUDA device: cannot load the CUDA driver ({error})")
        self.check(self.lib.cuInit(0), "cuInit")
        device = ctypes.c_int()
        self.check(self.lib.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
        self.device = device
        context = ctypes.c_void_p()
        self.check(self.lib.cuDevicePrimaryCtxRetain(ctypes.byref(context), device),
                   "cuDevicePrimaryCtxRetain")
        self.check(self.lib.cuCtxSetCurrent(context), "cuCtxSetCurrent")

    def check(self, status, what):
        if status != 0:
            name = ctypes.c_char_p()
            self.lib.cuGetErrorName(status, ctypes.byref(name))
            sys.exit(f"{what} failed: {name.value.decode() if name.value else status}")

    def compute_capability(self):
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.check(self.lib.cuDeviceGetAttribute(ctypes.byref(major), 75, self.device),
                   "cuDeviceGetAttribute")
        self.check(self.lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, self.device),
                   "cuDeviceGetAttribute")
        return major.value * 10 + minor.value

    def upload(self, tensor):
        data = tensor.contiguous()
        raw = data.view(torch.int16) if data.dtype in (torch.bfloat16, torch.float16) else data
        array = raw.numpy()
        pointer = ctypes.c_uint64()
        self.check(self.lib.cuMemAlloc_v2(ctypes.byref(pointer), ctypes.c_size_t(array.nbytes)),
                   "cuMemAlloc")
        self.check(self.lib.cuMemcpyHtoD_v2(pointer, array.ctypes.data_as(ctypes.c_void_p),
                                            ctypes.c_size_t(array.nbytes)), "cuMemcpyHtoD")
        return pointer

    def download(self, pointer, shape, dtype=torch.float32):
        """`shape` elements of `dtype` (f32, or bf16/f16 through int16)."""
        sixteen = dtype in (torch.bfloat16, torch.float16)
        result = torch.empty(shape, dtype=torch.int16 if sixteen else dtype)
        array = result.numpy()
        self.check(self.lib.cuMemcpyDtoH_v2(array.ctypes.data_as(ctypes.c_void_p), pointer,
                                            ctypes.c_size_t(array.nbytes)), "cuMemcpyDtoH")
        return result.view(dtype) if sixteen else result

    def tensor_map(self, description, pointer):
        """A 64-byte aligned CUtensorMap encoded as docs/cuda.md specifies."""
        storage = ctypes.create_string_buffer(128 + 64)
        address = (ctypes.addressof(storage) + 63) // 64 * 64
        dtype = {"f16": 6, "f32": 7, "bf16": 9}[description["dtype"]]
        dims = description["dims"]
        rank = len(dims)
        u64 = ctypes.c_uint64 * rank
        u32 = ctypes.c_uint32 * rank
        strides = (ctypes.c_uint64 * max(rank - 1, 1))(*description["strides_bytes"])
        swizzle = {0: 0, 32: 1, 64: 2, 128: 3}[description["swizzle"]]
        self.check(self.lib.cuTensorMapEncodeTiled(
            ctypes.c_void_p(address), dtype, ctypes.c_uint32(rank), ctypes.c_void_p(pointer.value),
            u64(*dims), strides, u32(*description["box"]), u32(*([1] * rank)),
            0, swizzle, 2, 0), "cuTensorMapEncodeTiled")
        return storage, address

    def launch(self, ptx, name, launch, arguments, repeat=0):
        """Runs the kernel once (synchronized); with `repeat`, then times
        `repeat` more launches with CUDA events and returns their median
        milliseconds."""
        return self.launch_sequence(ptx, [(name, launch, arguments)], repeat)

    def launch_sequence(self, ptx, kernels, repeat=0):
        """launch() for several kernels of one PTX module run back to back
        ((name, launch facts, arguments) each): timed together."""
        module = ctypes.c_void_p()
        self.check(self.lib.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(ptx + b"\0")),
                   "cuModuleLoadData")
        keep = []
        runs = []
        for name, launch, arguments in kernels:
            function = ctypes.c_void_p()
            self.check(self.lib.cuModuleGetFunction(ctypes.byref(function), module, name.encode()),
                       "cuModuleGetFunction")
            self.check(self.lib.cuFuncSetAttribute(function, 8, launch["shared_bytes"]),
                       "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)")
            pointers = (ctypes.c_void_p * len(arguments))()
            for i, (param, value) in enumerate(zip(launch["params"], arguments)):
                if param["kind"] == "tensor_map":
                    storage, address = self.tensor_map(param["tensor_map"], value)
                    keep.append(storage)
                    pointers[i] = address
                else:
                    holder = ctypes.c_uint64(value.value)
                    keep.append(holder)
                    pointers[i] = ctypes.addressof(holder)
            keep.append(pointers)
            runs.append((function, launch["grid"], launch["block"], launch["shared_bytes"], pointers))

        def run():
            for function, grid, block, shared, pointers in runs:
                self.check(self.lib.cuLaunchKernel(function, *grid, *block, shared,
                                                   None, pointers, None), "cuLaunchKernel")

        run()
        self.check(self.lib.cuCtxSynchronize(), "cuCtxSynchronize (kernel)")
        if not repeat:
            return None
        for _ in range(3):
            run()
        start, stop = ctypes.c_void_p(), ctypes.c_void_p()
        self.check(self.lib.cuEventCreate(ctypes.byref(start), 0), "cuEventCreate")
        self.check(self.lib.cuEventCreate(ctypes.byref(stop), 0), "cuEventCreate")
        times = []
        for _ in range(repeat):
            self.check(self.lib.cuEventRecord(start, None), "cuEventRecord")
            run()
            self.check(self.lib.cuEventRecord(stop, None), "cuEventRecord")
            self.check(self.lib.cuEventSynchronize(stop), "cuEventSynchronize")
            elapsed = ctypes.c_float()
            self.check(self.lib.cuEventElapsedTime(ctypes.byref(elapsed), start, stop),
                       "cuEventElapsedTime")
            times.append(elapsed.value)
        return statistics.median(times)


def parse_launch(ir, name=None):
    """mbc.launch = {block = array<i64: ...>, grid = ..., params = [...], shared_bytes = N}
    of kernel `name` (the first kernel's when None)."""
    if name is not None:
        lines = [line for line in ir.splitlines() if f"gpu.func @{name}(" in line]
        if not lines:
            raise SystemExit(f"no launch facts for kernel {name}")
        ir = lines[0]

    def array(text, key):
        return [int(x) for x in re.search(key + r" = array<i64: ([-0-9, ]+)>", text).group(1).split(",")]
    launch = {"grid": array(ir, "grid"), "block": array(ir, "block"),
              "shared_bytes": int(re.search(r"shared_bytes = (\d+)", ir).group(1)), "params": []}
    params = re.search(r"params = \[(.*?)\], shared_bytes", ir).group(1)
    for entry in re.finditer(r"\{kind = \"(\w+)\", name = \"(\w+)\"(, tensor_map = \{([^}]*)\})?\}", params):
        param = {"kind": entry.group(1), "name": entry.group(2)}
        if entry.group(3):
            text = entry.group(4)
            param["tensor_map"] = {
                "dtype": re.search(r'dtype = "(\w+)"', text).group(1),
                "dims": array(text, "dims"), "strides_bytes": array(text, "strides_bytes"),
                "box": array(text, "box"), "swizzle": int(re.search(r"swizzle = (\d+)", text).group(1))}
        launch["params"].append(param)
    return launch


def rotary(x, args):
    """NeoX rotate-half rotary (MEGABYTE-pytorch's RotaryEmbedding) on the
    first --rotary-columns columns of a [rows, N] product: heads of
    --rotary-head-dim, position row % --rotary-positions."""
    if not args.rotary_columns:
        return x
    dh, columns = args.rotary_head_dim, args.rotary_columns
    positions = args.rotary_positions or x.shape[0]
    inv_freq = 1.0 / args.rotary_theta ** (torch.arange(0, dh, 2).float() / dh)
    angle = (torch.arange(x.shape[0]) % positions).float()[:, None] * inv_freq
    cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)
    heads = x[:, :columns].reshape(x.shape[0], columns // dh, dh)
    half = dh // 2
    rotated = torch.cat([-heads[..., half:], heads[..., :half]], -1)
    out = heads * cos[:, None] + rotated * sin[:, None]
    return torch.cat([out.reshape(x.shape[0], columns), x[:, columns:]], 1)


def rotary_heads(x, theta):
    """NeoX rotate-half rotary on [..., S, Dh] heads, position the row's
    index in S (a local layer's q and k: positions within the patch)."""
    s, dh = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / theta ** (torch.arange(0, dh, 2, device=x.device).float() / dh)
    angle = torch.arange(s, device=x.device).float()[:, None] * inv_freq
    cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)
    half = dh // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


def unwritten(*shape, dtype=torch.float32):
    """An output buffer's initial contents: NaN, so an element the kernel
    never writes fails the comparison and shows as NaN in the mismatch
    report."""
    return torch.full(shape, float("nan"), dtype=dtype)


def torch_median_ms(fn, repeat):
    """Median milliseconds of `fn` on the GPU (CUDA events), after a warm-up."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def activation(x, form):
    if form == "relu":
        return torch.relu(x)
    if form == "erf":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def token_shift(x):
    """MEGABYTE-pytorch's shift on [N, S, D]: the second half of the
    features moves one position later (zeros first)."""
    keep = x.shape[-1] - x.shape[-1] // 2
    shifted = torch.zeros_like(x[..., keep:])
    shifted[:, 1:] = x[:, :-1, keep:]
    return torch.cat([x[..., :keep], shifted], dim=-1)


def merge_start_token(logp, positions, sequences):
    """mb.merge_patches <start_token> on rows [entries x K x (P + 1), V]:
    per batch entry, row 0 of its first sequence, then rows 1..P of each,
    without the entry's very last row."""
    columns = logp.shape[-1]
    entries = logp.reshape(-1, sequences, positions + 1, columns)
    kept = torch.cat([entries[:, 0, :1], entries[:, :, 1:].reshape(
        entries.shape[0], sequences * positions, columns)[:, :-1]], dim=1)
    return kept.reshape(-1, columns)


def norm(x, weight, bias, kind, eps):
    x = x.float()
    if kind == "layer":
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), weight.float(), bias.float(), eps)
    ms = (x * x).mean(-1, keepdim=True)
    if kind == "rms_clamp":
        return x / ms.sqrt().clamp(min=eps) * weight.float()
    return x / (ms + eps).sqrt() * weight.float()


def local_layer_parts(tensors):
    """wq, wk, wv: k and v are the halves of wkv when the kernel takes one."""
    wq = tensors["wq"]
    if "wkv" in tensors:
        wk, wv = tensors["wkv"].chunk(2, dim=0)
    else:
        wk, wv = tensors["wk"], tensors["wv"]
    return wq, wk, wv


def local_input(context, byte_ids, table, start, patches):
    """MEGABYTE-pytorch's local input [n (p + 1), d]: the start token, then
    each byte's embedding plus the global-to-local projection's vectors
    (context: [batch (patches + 1), p d], its last row per batch unused)."""
    n, p = byte_ids.shape
    d = table.shape[1]
    embedded = table.float()[byte_ids.long()]
    projected = context.float().reshape(n // patches, patches + 1, p, d)[:, :patches]
    rest = embedded + projected.reshape(n, p, d)
    x = torch.cat([start.float().expand(n, 1, d), rest], dim=1)
    return x.reshape(n * (p + 1), d)


def local_layer_reference(tensors, args, dtype, device):
    """The layer in f32 on `device`, rounded to `dtype` where the kernel
    rounds (None: nowhere)."""
    def r(t):
        return t if dtype is None else t.to(dtype).float()
    t = {k: v.to(device) for k, v in tensors.items()}
    wq, wk, wv = (w.float() for w in local_layer_parts(t))
    n, s, d, h, dh = args.sequences, args.positions, args.dim, args.heads, args.head_dim
    x = t["x"].float().reshape(n, s, d)

    def sub(x):
        return token_shift(x) if args.token_shift else x
    a = r(norm(sub(x), t["norm1_weight"], t.get("norm1_bias"), args.norm, args.epsilon))
    q, k, v = ((a @ w.t()).reshape(n, s, h, dh).transpose(1, 2) for w in (wq, wk, wv))
    if args.local_rotary:
        q, k = rotary_heads(q, args.rotary_theta), rotary_heads(k, args.rotary_theta)
    q, k, v = r(q), r(k), r(v)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
    causal = torch.ones(s, s, dtype=torch.bool, device=device).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    p = torch.exp(scores - scores.amax(-1, keepdim=True))
    o = r((r(p) @ v) / p.sum(-1, keepdim=True))
    x = x + o.transpose(1, 2).reshape(n, s, h * dh) @ t["wo"].float().t()
    a = r(norm(sub(x), t["norm2_weight"], t.get("norm2_bias"), args.norm, args.epsilon))
    hidden = r(activation(a @ t["up_weight"].float().t() + t["up_bias"], args.gelu))
    x = x + hidden @ t["down_weight"].float().t() + t["down_bias"]
    return x.reshape(n * s, d)


def local_layer_torch(tensors, args, dtype):
    """What a PyTorch user runs: the layer on `dtype` tensors (SDPA)."""
    import torch.nn.functional as F
    g = {k: v.cuda().to(dtype) for k, v in tensors.items()}
    wq, wk, wv = local_layer_parts(g)
    n, s, d, h, dh = args.sequences, args.positions, args.dim, args.heads, args.head_dim

    def tnorm(x, weight, bias):
        if args.norm == "layer":
            return F.layer_norm(x, (d,), weight, bias, args.epsilon)
        ms = (x * x).mean(-1, keepdim=True)
        if args.norm == "rms_clamp":
            return x / ms.sqrt().clamp(min=args.epsilon) * weight
        return x * torch.rsqrt(ms + args.epsilon) * weight

    def sub(x):
        return token_shift(x) if args.token_shift else x

    def layer(x):
        a = tnorm(sub(x), g["norm1_weight"], g.get("norm1_bias"))
        q, k, v = ((a @ w.t()).view(n, s, h, dh).transpose(1, 2) for w in (wq, wk, wv))
        if args.local_rotary:
            q, k = rotary_heads(q, args.rotary_theta), rotary_heads(k, args.rotary_theta)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + o.transpose(1, 2).reshape(n, s, h * dh) @ g["wo"].t()
        a = tnorm(sub(x), g["norm2_weight"], g.get("norm2_bias"))
        hidden = activation(a @ g["up_weight"].t() + g["up_bias"], args.gelu)
        return x + hidden @ g["down_weight"].t() + g["down_bias"]

    return layer, g["x"].reshape(n, s, d)


def decode_attention_reference(q, k_cache, v_cache, heads, head_dim, first_row, position,
                               device):
    """q [N, H D] against cache rows first_row.., keys 0..position (f32)."""
    n, h, d = q.shape[0], heads, head_dim
    visible = min(position, k_cache.shape[1] - 1) + 1
    rows = slice(first_row, first_row + n)
    qh = q.reshape(n, h, 1, d).to(device).float()
    kh = k_cache[rows, :visible].reshape(n, visible, h, d).permute(0, 2, 1, 3).to(device)
    vh = v_cache[rows, :visible].reshape(n, visible, h, d).permute(0, 2, 1, 3).to(device)
    scores = (qh @ kh.transpose(-1, -2)) / math.sqrt(d)
    return (torch.softmax(scores, dim=-1) @ vh).reshape(n, h * d)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ir", required=True)
    parser.add_argument("--ptx", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--kind",
                        choices=["gemm", "gemv", "attention", "decode_attention",
                                 "local_layer", "norm", "log_softmax"],
                        required=True)
    parser.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16",
                        help="16-bit operands; f32: a GEMV's weights (and norm weight)")
    parser.add_argument("--needs-sm", type=int, default=80,
                        help="smallest compute capability (90: sm_90a code runs only on 9.0)")
    parser.add_argument("--m", type=int)
    parser.add_argument("--n", type=int)
    parser.add_argument("--k", type=int)
    parser.add_argument("--b-layout", choices=["nk", "kn"], default="nk")
    parser.add_argument("--bias", action="store_true")
    parser.add_argument("--bias-type", choices=["f32", "bf16", "f16"], default="f32")
    parser.add_argument("--gelu", choices=["none", "erf", "tanh", "relu"], default="none",
                        help="the epilogue's activation")
    parser.add_argument("--residual", action="store_true")
    parser.add_argument("--paired-n", type=int, default=0,
                        help="gemv/gemm: a paired product's second N (its W2 and C2 "
                             "are the last two parameters)")
    parser.add_argument("--third-n", type=int, default=0,
                        help="gemv, with --paired-n: a third product's N (W3 and C3 "
                             "after W2 and C2)")
    parser.add_argument("--rotary-columns", type=int, default=0,
                        help="gemm: NeoX rotary on C's (and C2's) first columns")
    parser.add_argument("--rotary-head-dim", type=int, default=64)
    parser.add_argument("--rotary-positions", type=int, default=0,
                        help="positions per sequence (0: M)")
    parser.add_argument("--rotary-theta", type=float, default=10000.0)
    parser.add_argument("--gemv-attention", action="store_true",
                        help="gemv: a decode attention prologue (A is the query; --heads, "
                             "--head-dim, --cache-length, --cache-rows, --first-row, "
                             "--position)")
    parser.add_argument("--gemv-norm", choices=["none", "rms", "rms_clamp", "layer"],
                        default="none",
                        help="gemv: a norm prologue on A (--epsilon; layer: with a bias)")
    parser.add_argument("--gemm-norm", choices=["none", "rms", "rms_clamp", "layer"],
                        default="none",
                        help="gemm: a norm prologue (A is the norm's f32 input rows)")
    parser.add_argument("--gemm-log-softmax", action="store_true",
                        help="gemm: the head's log-softmax over each row in the epilogue")
    parser.add_argument("--gemm-norm-gather-vocabulary", type=int, default=0,
                        help="GEMM norm prologue: gather A's rows from a table of this "
                        "many rows (ids and table in place of x)")
    parser.add_argument("--gemm-norm-gather-slots", type=int, default=8,
                        help="GEMM norm prologue gather: ids a row")
    parser.add_argument("--gemm-norm-gather-table-type", choices=["f32", "bf16", "f16"],
                        default="bf16")
    parser.add_argument("--gemm-out-norm", choices=["none", "rms", "rms_clamp", "layer"],
                        default="none", help="gemm: a norm epilogue over C's rows (f32)")
    parser.add_argument("--gemm-out-norm-epsilon", type=float, default=1e-5)
    parser.add_argument("--gemm-out-norm-weight-type", choices=["f32", "bf16", "f16"],
                        default="bf16")
    parser.add_argument("--gemm-out-norm-start-type", choices=["f32", "bf16", "f16"],
                        help="gemm norm epilogue: a start row of this type before every "
                             "sequence of --gemm-out-norm-positions rows (mb.start_token)")
    parser.add_argument("--gemm-out-norm-positions", type=int, default=0,
                        help="gemm norm epilogue: rows per sequence (0: M)")
    parser.add_argument("--merge-positions", type=int, default=0,
                        help="gemm log-softmax: rows stored as mb.merge_patches "
                             "<start_token> orders them (P positions a sequence)")
    parser.add_argument("--merge-sequences", type=int, default=1,
                        help="gemm log-softmax merge: sequences per batch entry")
    parser.add_argument("--gemm-norm-positions", type=int, default=0,
                        help="gemm norm prologue: rows per sequence (0: M)")
    parser.add_argument("--gemm-norm-token-shift", action="store_true",
                        help="gemm norm prologue: token shift first")
    parser.add_argument("--norm-weight-type", choices=["f32", "bf16", "f16"],
                        help="gemv: the prologue norm weight's type (default: --dtype), "
                             "as the kernel's norm-weight-type")
    parser.add_argument("--batch-heads", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--head-dim", type=int)
    parser.add_argument("--no-causal", action="store_true")
    parser.add_argument("--patch-length", type=int, default=0)
    parser.add_argument("--token-major", action="store_true",
                        help="attention: [sequences, seq-len, heads x head-dim] rows "
                             "(--heads per sequence), O rounded to --dtype")
    parser.add_argument("--kv-fused", action="store_true",
                        help="token-major: K and V the two halves of one buffer")
    parser.add_argument("--rows", type=int, help="norm, log-softmax: rows")
    parser.add_argument("--columns", type=int, help="log-softmax: columns (the vocabulary)")
    parser.add_argument("--f32-output", action="store_true",
                        help="norm: f32 rows (a decode GEMV's input), not rounded")
    parser.add_argument("--weight-16", action="store_true",
                        help="norm: weight and bias stored in --dtype")
    parser.add_argument("--norm-start-type", choices=["f32", "bf16", "f16"],
                        help="norm: a start row of this type before every sequence of "
                             "--positions rows (mb.start_token)")
    parser.add_argument("--cache-length", type=int, help="decode attention: cache positions")
    parser.add_argument("--cache-rows", type=int, default=0,
                        help="decode attention: cache buffer rows (0: sequences)")
    parser.add_argument("--first-row", type=int, default=0)
    parser.add_argument("--position", type=int, help="decode attention: the new position")
    parser.add_argument("--splits", type=int, default=1,
                        help="decode attention: key splits (then <name>_combine merges them)")
    parser.add_argument("--sequences", type=int, help="local layer: patches")
    parser.add_argument("--positions", type=int, help="local layer: rows per patch")
    parser.add_argument("--dim", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--norm", choices=["rms", "rms_clamp", "layer"], default="rms_clamp")
    parser.add_argument("--epsilon", type=float, default=1e-8)
    parser.add_argument("--no-token-shift", dest="token_shift", action="store_false")
    parser.add_argument("--local-rotary", action="store_true",
                        help="local layer: rotary (--rotary-theta) on q and k")
    parser.add_argument("--input-vocabulary", type=int, default=0,
                        help="local layer: the kernel builds its input (context, bytes, "
                        "embedding, start_token) from a table of this many rows")
    parser.add_argument("--input-patches", type=int, default=0,
                        help="local layer input: patches per batch entry")
    parser.add_argument("--input-table-type", choices=["f32", "bf16", "f16"], default="bf16")
    parser.add_argument("--input-start-type", choices=["f32", "bf16", "f16"], default="bf16")
    parser.add_argument("--compile", action="store_true",
                        help="local layer: also time the PyTorch layer under torch.compile")
    parser.add_argument("--reference-device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--time", type=int, default=0, metavar="N",
                        help="time N launches against PyTorch on the GPU")
    parser.add_argument("--json", help="write the result here as JSON")
    args = parser.parse_args()
    if args.dtype == "f32" and args.kind != "gemv":
        parser.error("--dtype f32 is for --kind gemv (f32 weights)")
    result_json = {"name": args.name, "kind": args.kind, "dtype": args.dtype}

    def finish(status, **fields):
        result_json.update(fields, status=status)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result_json, f, indent=1)
        return 0 if status in ("passed", "skipped") else 1

    driver = Driver()
    capability = driver.compute_capability()
    if capability < args.needs_sm or (args.needs_sm == 90 and capability != 90):
        print(f"skipped: the kernel needs sm_{args.needs_sm}, the device is sm_{capability}")
        return finish("skipped", reason=f"needs sm_{args.needs_sm}, device sm_{capability}")
    ir_text = open(args.ir).read()
    launch = parse_launch(ir_text, args.name)
    ptx = open(args.ptx, "rb").read()
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[args.dtype]
    torch.manual_seed(0)
    device = torch.device(args.reference_device)
    kernel_ms = torch_ms = flops = None

    if args.kind in ("gemm", "gemv"):
        # A GEMV reads f32 activations (no rounding) and [N, K] weights.
        a = torch.rand(args.m, args.k) * 2 - 1
        gemm_norm = args.kind == "gemm" and args.gemm_norm != "none"
        if gemm_norm:  # the norm's f32 input rows, off-centre for LayerNorm
            a = a * 3 + 0.25
        elif args.kind == "gemm":
            a = a.to(dtype)
        gather = gemm_norm and args.gemm_norm_gather_vocabulary > 0
        if gather:
            # The rows gathered from a table (a patch's bytes embedded and
            # concatenated): the kernel takes the ids and the table.
            slots = args.gemm_norm_gather_slots
            gather_ids = torch.randint(0, args.gemm_norm_gather_vocabulary, (args.m, slots),
                                       dtype=torch.int32)
            table_dtype = {"f32": torch.float32, "bf16": torch.bfloat16,
                           "f16": torch.float16}[args.gemm_norm_gather_table_type]
            gather_table = (torch.randn(args.gemm_norm_gather_vocabulary, args.k // slots) + 0.25
                            ).to(table_dtype)
            a = gather_table.float()[gather_ids.long()].reshape(args.m, args.k)
        b_shape = (args.n, args.k) if args.b_layout == "nk" else (args.k, args.n)
        b = (torch.rand(*b_shape) * 2 - 1).to(dtype)
        bias = torch.rand(args.n) - 0.5
        if args.bias_type != "f32":  # stored in 16 bits, widened by the kernel
            bias = bias.to(torch.bfloat16 if args.bias_type == "bf16" else torch.float16)
        residual = torch.rand(args.m, args.n) - 0.5
        weight = b.to(device).float()
        weight = weight.t() if args.b_layout == "nk" else weight
        # GEMV norm prologue: A is the norm's input, normalized (RMSNorm,
        # or LayerNorm with its bias) before the product.
        norm_dtype = {"f32": torch.float32, "bf16": torch.bfloat16,
                      "f16": torch.float16}[args.norm_weight_type or args.dtype]
        norm_weight = (1 + 0.1 * torch.randn(args.k)).to(norm_dtype)
        norm_bias = (0.1 * torch.randn(args.k)).to(norm_dtype)
        normalized = a.to(device).float()
        if args.kind == "gemv" and args.gemv_attention:
            # GEMV attention prologue: A is the query; the product is taken
            # with its decode attention over the caches.
            caches = [torch.randn(args.cache_rows or args.m, args.cache_length, args.k)
                      for _ in range(2)]
            normalized = decode_attention_reference(
                a, caches[0], caches[1], args.heads, args.head_dim, args.first_row,
                args.position, device)
        if args.kind == "gemv" and args.gemv_norm != "none":
            normalized = norm(normalized, norm_weight.to(device).float(),
                              norm_bias.to(device).float(), args.gemv_norm, args.epsilon)
        if gemm_norm:
            # GEMM norm prologue: token shift within sequences, the norm,
            # rounded to the operand type as the kernel keeps it.
            positions = args.gemm_norm_positions or args.m
            rows = normalized.reshape(args.m // positions, positions, args.k)
            if args.gemm_norm_token_shift:
                rows = token_shift(rows)
            exact = norm(rows.reshape(args.m, args.k), norm_weight.to(device).float(),
                         norm_bias.to(device).float(), args.gemm_norm, args.epsilon)
            normalized = exact.to(dtype).float()
            # The kernel's f32 norm differs from PyTorch's in the last bits
            # (another summation order): an element within a few f32 ulps
            # of a rounding boundary may round the other way, one 16-bit ulp
            # of A. Each such element may move an output by ulp x |b|.
            up = (exact * (1 + 8e-7)).to(dtype).float()
            down = (exact * (1 - 8e-7)).to(dtype).float()
            ambiguous_ulps = (up - down).abs()
        expected = normalized @ weight
        if args.bias:
            expected = expected + bias.to(device).float()
        if args.gelu != "none":
            expected = activation(expected, args.gelu)
        if args.residual:
            expected = expected + residual.to(device)
        out_rows = args.m
        out_norm = args.kind == "gemm" and args.gemm_out_norm != "none"
        if out_norm:
            types = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
            out_weight = (1 + 0.1 * torch.randn(args.n)).to(types[args.gemm_out_norm_weight_type])
            out_bias = (0.1 * torch.randn(args.n)).to(types[args.gemm_out_norm_weight_type])
            pre_norm = expected
            expected = norm(expected, out_weight.to(device).float(), out_bias.to(device).float(),
                            args.gemm_out_norm, args.gemm_out_norm_epsilon)
            # An error of C moves a normalized output by |w| / the row's
            # scale (its standard deviation, or RMS).
            row_scale = (pre_norm.std(-1, unbiased=False, keepdim=True)
                         if args.gemm_out_norm == "layer"
                         else pre_norm.pow(2).mean(-1, keepdim=True).sqrt())
            if args.gemm_out_norm_start_type:
                out_positions = args.gemm_out_norm_positions or args.m
                start = torch.randn(args.n).to(types[args.gemm_out_norm_start_type])
                sequences = args.m // out_positions
                expected = torch.cat(
                    [start.to(device).float().expand(sequences, 1, args.n),
                     expected.reshape(sequences, out_positions, args.n)],
                    dim=1).reshape(-1, args.n)
                out_rows = expected.shape[0]
        if args.gemm_log_softmax:
            expected = torch.log_softmax(expected, dim=-1)
            if args.merge_positions:
                expected = merge_start_token(expected, args.merge_positions,
                                             args.merge_sequences)
                out_rows = expected.shape[0]
        expected = expected.cpu()
        c = driver.upload(unwritten(out_rows, args.n))
        a_arguments = ([driver.upload(gather_ids), driver.upload(gather_table)] if gather
                       else [driver.upload(a)])
        arguments = a_arguments + [driver.upload(b), c]
        if args.bias:
            arguments.append(driver.upload(bias))
        if args.residual:
            arguments.append(driver.upload(residual))
        if (args.kind == "gemv" and args.gemv_norm != "none") or gemm_norm:
            arguments.append(driver.upload(norm_weight))
        if (args.kind == "gemv" and args.gemv_norm == "layer") or args.gemm_norm == "layer":
            arguments.append(driver.upload(norm_bias))
        if out_norm:
            arguments.append(driver.upload(out_weight))
            if args.gemm_out_norm == "layer":
                arguments.append(driver.upload(out_bias))
            if args.gemm_out_norm_start_type:
                arguments.append(driver.upload(start))
        if args.kind == "gemv" and args.gemv_attention:
            arguments += [driver.upload(caches[0]), driver.upload(caches[1]),
                          driver.upload(torch.tensor([args.position], dtype=torch.int64))]
        # Residual epilogues write C = ... + residual: timing repeats are
        # idempotent because C and the residual are separate buffers.
        expected = rotary(expected, args)
        if args.paired_n:
            # A paired GEMV/GEMM: a second product of the same (normalized)
            # A into its own C2, checked as C's extra columns.
            b2 = (torch.rand(args.paired_n, args.k) * 2 - 1).to(dtype)
            second = rotary((normalized @ b2.to(device).float().t()).cpu(), args)
            expected = torch.cat([expected, second], dim=1)
            c2 = driver.upload(unwritten(args.m, args.paired_n))
            arguments += [driver.upload(b2), c2]
        if args.third_n:
            b3 = (torch.rand(args.third_n, args.k) * 2 - 1).to(dtype)
            expected = torch.cat([expected, (normalized @ b3.to(device).float().t()).cpu()],
                                 dim=1)
            c3 = driver.upload(unwritten(args.m, args.third_n))
            arguments += [driver.upload(b3), c3]
        kernel_ms = driver.launch(ptx, args.name, launch, arguments, args.time)
        result = driver.download(c, (out_rows, args.n))
        if args.paired_n:
            result = torch.cat([result, driver.download(c2, (args.m, args.paired_n))], dim=1)
        if args.third_n:
            result = torch.cat([result, driver.download(c3, (args.m, args.third_n))], dim=1)
        tolerance = 2e-3 + 2e-3 * expected.abs()
        if gemm_norm:
            slack = ambiguous_ulps @ weight.abs()
            if args.paired_n:
                slack = torch.cat([slack, ambiguous_ulps @ b2.to(device).float().abs().t()],
                                  dim=1)
            if out_norm:  # C's slack, normalized (start rows: none)
                slack = slack * out_weight.to(device).float().abs() / row_scale
                if args.gemm_out_norm_start_type:
                    slack = torch.cat([torch.zeros(sequences, 1, args.n, device=slack.device),
                                       slack.reshape(sequences, out_positions, args.n)],
                                      dim=1).reshape(-1, args.n)
            tolerance = tolerance + slack.cpu()
        flops = 2.0 * args.m * (args.n + args.paired_n + args.third_n) * args.k
        if args.time:
            # PyTorch's decode step multiplies in the weights' type.
            ga, gb = a.to(dtype).cuda(), b.cuda()
            gb = gb.t() if args.b_layout == "nk" else gb
            gbias = bias.cuda().float()

            def finish(product):
                """PyTorch eager's head after the product: + bias,
                log_softmax, and the merge's row selection (a copy); or + bias,
                the norm and the start rows' concatenation."""
                if out_norm:
                    rows = norm(product.float() + gbias, out_weight.cuda().float(),
                                out_bias.cuda().float(), args.gemm_out_norm,
                                args.gemm_out_norm_epsilon)
                    if not args.gemm_out_norm_start_type:
                        return rows
                    return torch.cat([start.cuda().float().expand(sequences, 1, args.n),
                                      rows.reshape(sequences, out_positions, args.n)], dim=1)
                if not args.gemm_log_softmax:
                    return product
                logp = torch.log_softmax(product.float() + gbias, dim=-1)
                if not args.merge_positions:
                    return logp
                return merge_start_token(logp, args.merge_positions, args.merge_sequences)

            if gemm_norm:
                # PyTorch eager: the shift, the norm and the rounding, then
                # the product(s), from the same f32 rows.
                gx, gw, gnb = a.cuda(), norm_weight.cuda(), norm_bias.cuda()
                positions = args.gemm_norm_positions or args.m

                def normalized_rows():
                    rows = gx.reshape(args.m // positions, positions, args.k)
                    if args.gemm_norm_token_shift:
                        rows = token_shift(rows)
                    return norm(rows.reshape(args.m, args.k), gw, gnb, args.gemm_norm,
                                args.epsilon).to(dtype)

                products = [gb] + ([b2.cuda().t()] if args.paired_n else [])

                def normalized_products():
                    rows = normalized_rows()
                    return [finish(torch.matmul(rows, w)) for w in products]

                torch_ms = torch_median_ms(normalized_products, args.time)
            elif args.gemm_log_softmax or out_norm:
                torch_ms = torch_median_ms(lambda: finish(torch.matmul(ga, gb)), args.time)
            elif args.third_n:  # PyTorch's three projections of the same row
                gb2, gb3 = b2.cuda().t(), b3.cuda().t()
                torch_ms = torch_median_ms(
                    lambda: (torch.matmul(ga, gb), torch.matmul(ga, gb2),
                             torch.matmul(ga, gb3)), args.time)
            elif args.paired_n:  # PyTorch's two projections of the same row
                gb2 = b2.cuda().t()
                torch_ms = torch_median_ms(
                    lambda: (torch.matmul(ga, gb), torch.matmul(ga, gb2)), args.time)
            else:
                torch_ms = torch_median_ms(lambda: torch.matmul(ga, gb), args.time)
    elif args.kind == "decode_attention":
        # q [N, H D] against cache rows first_row + n, positions 0..position.
        n, h, d, length = args.sequences, args.heads, args.head_dim, args.cache_length
        rows_total = args.cache_rows or n
        q = torch.randn(n, h * d)
        k_cache = torch.randn(rows_total, length, h * d)
        v_cache = torch.randn(rows_total, length, h * d)
        visible = min(args.position, length - 1) + 1
        expected = decode_attention_reference(q, k_cache, v_cache, h, d, args.first_row,
                                              args.position, device).cpu()
        rows = slice(args.first_row, args.first_row + n)
        qh = q.reshape(n, h, 1, d).to(device)
        kh = k_cache[rows, :visible].reshape(n, visible, h, d).permute(0, 2, 1, 3).to(device)
        vh = v_cache[rows, :visible].reshape(n, visible, h, d).permute(0, 2, 1, 3).to(device)
        out = driver.upload(unwritten(n, h * d))
        inputs = [driver.upload(q), driver.upload(k_cache), driver.upload(v_cache),
                  driver.upload(torch.tensor([args.position], dtype=torch.int64))]
        if args.splits > 1:
            # Flash-decoding: the splits' partial states, then their merge.
            partials = driver.upload(torch.full((n, h, args.splits, d + 2), float("nan")))
            combine = args.name + "_combine"
            kernel_ms = driver.launch_sequence(
                ptx, [(args.name, launch, inputs + [partials]),
                      (combine, parse_launch(ir_text, combine), [partials, out])],
                args.time)
        else:
            kernel_ms = driver.launch(ptx, args.name, launch, inputs + [out], args.time)
        result = driver.download(out, (n, h * d))
        tolerance = 1e-4 + 1e-4 * expected.abs()
        flops = 4.0 * n * h * visible * d
        if args.time:
            import torch.nn.functional as F
            gq, gk, gv = qh.cuda(), kh.cuda().contiguous(), vh.cuda().contiguous()
            torch_ms = torch_median_ms(lambda: F.scaled_dot_product_attention(gq, gk, gv),
                                       args.time)
            # Bandwidth: the visible K and V rows read once.
            cache_bytes = 2.0 * 4 * n * visible * h * d
            result_json.update(kernel_gbps=cache_bytes / kernel_ms / 1e6,
                               torch_gbps=cache_bytes / torch_ms / 1e6)
    elif args.kind == "norm":
        rows, d = args.rows, args.dim
        x = torch.randn(rows, d)
        weight = 1 + 0.1 * torch.randn(d)
        bias = 0.1 * torch.randn(d)
        layer = args.norm == "layer"

        def reference(xs, w, b):
            xs = xs.reshape(rows // args.positions, args.positions, d)
            if args.token_shift:
                xs = token_shift(xs)
            return norm(xs, w, b, args.norm, args.epsilon).reshape(rows, d)
        if args.weight_16:  # stored as the model stores them, read as stored
            weight, bias = weight.to(dtype), bias.to(dtype)
        expected = reference(x.to(device), weight.to(device).float(), bias.to(device).float())
        out_rows = rows
        if args.norm_start_type:  # mb.start_token: a start row before each sequence
            start = torch.randn(d).to({"f32": torch.float32, "bf16": torch.bfloat16,
                                      "f16": torch.float16}[args.norm_start_type])
            sequences = expected.reshape(rows // args.positions, args.positions, d)
            starts = start.to(device).float().expand(rows // args.positions, 1, d)
            expected = torch.cat([starts, sequences], dim=1).reshape(-1, d)
            out_rows = rows + rows // args.positions
        out_type = torch.float32 if args.f32_output else dtype
        expected = expected.to(out_type).float().cpu()
        out = driver.upload(unwritten(out_rows, d, dtype=out_type))
        arguments = [driver.upload(x), driver.upload(weight)]
        if layer:
            arguments.append(driver.upload(bias))
        if args.norm_start_type:
            arguments.append(driver.upload(start))
        kernel_ms = driver.launch(ptx, args.name, launch, arguments + [out], args.time)
        result = driver.download(out, (out_rows, d), out_type).float()
        # Rounded once to 16 bits, or (f32 output) summation order only.
        tolerance = (1e-4 + 1e-4 * expected.abs() if args.f32_output
                     else 1e-3 + 1e-2 * expected.abs())
        flops = 8.0 * rows * d  # nominal: a few flops per element
        if args.time:
            gx, gw, gb = x.cuda(), weight.cuda(), bias.cuda()

            def torch_norm():
                y = reference(gx, gw, gb)
                if args.norm_start_type:  # the concatenation the kernel does too
                    y = torch.cat([gs.expand(rows // args.positions, 1, d),
                                   y.reshape(rows // args.positions, args.positions, d)],
                                  dim=1).reshape(-1, d)
                return y.to(out_type)
            gs = start.cuda().float() if args.norm_start_type else None
            torch_ms = torch_median_ms(torch_norm, args.time)
            # Bandwidth: f32 rows in, 16-bit rows out.
            result_json.update(kernel_gbps=6.0 * rows * d / kernel_ms / 1e6,
                               torch_gbps=6.0 * rows * d / torch_ms / 1e6)
    elif args.kind == "log_softmax":
        rows, v = args.rows, args.columns
        # Logits of a trained head's spread (a few units), so exp matters.
        x = 4 * torch.randn(rows, v)
        expected = torch.log_softmax(x.to(device), dim=-1).float().cpu()
        out = driver.upload(unwritten(rows, v))
        kernel_ms = driver.launch(ptx, args.name, launch, [driver.upload(x), out], args.time)
        result = driver.download(out, (rows, v), torch.float32)
        # ex2.approx / lg2.approx: relative errors near 2^-22 on the terms.
        tolerance = 2e-5 + 2e-6 * expected.abs()
        flops = 5.0 * rows * v  # nominal
        if args.time:
            gx = x.cuda()
            torch_ms = torch_median_ms(lambda: torch.log_softmax(gx, dim=-1), args.time)
            # Bandwidth: f32 rows in and out.
            result_json.update(kernel_gbps=8.0 * rows * v / kernel_ms / 1e6,
                               torch_gbps=8.0 * rows * v / torch_ms / 1e6)
    elif args.kind == "local_layer":
        rows, d, inner = args.sequences * args.positions, args.dim, args.heads * args.head_dim
        shapes = {"x": (rows, d), "norm1_weight": (d,), "norm1_bias": (d,), "wq": (inner, d),
                  "wkv": (2 * inner, d), "wk": (inner, d), "wv": (inner, d), "wo": (d, inner),
                  "norm2_weight": (d,), "norm2_bias": (d,), "up_weight": (args.hidden, d),
                  "up_bias": (args.hidden,), "down_weight": (d, args.hidden), "down_bias": (d,)}
        types = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
        vocabulary, s = args.input_vocabulary, args.positions
        shapes.update({"context": (args.sequences // max(args.input_patches, 1) *
                                   (args.input_patches + 1), (s - 1) * d),
                       "embedding": (vocabulary, d), "start_token": (d,)})
        tensors = {}
        for param in launch["params"][:-1]:
            name = param["name"]
            # A chained layer's parameters: "layer<l>_" + the first's names.
            base = name.split("_", 1)[1] if re.match(r"layer\d+_", name) else name
            if name == "bytes":
                tensors[name] = torch.randint(0, vocabulary, (args.sequences, s - 1),
                                              dtype=torch.int32)
                continue
            shape = shapes[base]
            if name in ("x", "context"):
                value = torch.randn(*shape)
            elif name == "embedding":
                value = torch.randn(*shape).to(types[args.input_table_type])
            elif name == "start_token":
                value = torch.randn(*shape).to(types[args.input_start_type])
            elif base.endswith("_weight") and base.startswith("norm"):
                value = 1 + 0.1 * torch.randn(*shape)
            elif len(shape) == 1:
                value = 0.1 * torch.randn(*shape)
            else:  # nn.Linear-like init, stored in 16 bits
                value = ((torch.rand(*shape) * 2 - 1) / math.sqrt(shape[1])).to(dtype)
            tensors[name] = value
        layer_count = 1 + max([int(re.match(r"layer(\d+)_", n).group(1))
                                for n in tensors if re.match(r"layer\d+_", n)] or [0])
        inputs = ("context", "bytes", "embedding", "start_token")
        if "context" in tensors:
            # The rows the kernel builds in its prologue, computed here.
            tensors["x"] = local_input(*(tensors[n] for n in inputs), args.input_patches)

        def layer_tensors(index, x):
            """Layer `index`'s tensors under the first layer's names."""
            prefix = f"layer{index}_" if index else ""
            chosen = {n[len(prefix):]: v for n, v in tensors.items()
                      if n != "x" and n not in inputs and (n.startswith(prefix) if index
                                       else not re.match(r"layer\d+_", n))}
            chosen["x"] = x
            return chosen

        def chained_reference(rounding):
            x = tensors["x"]
            for index in range(layer_count):
                x = local_layer_reference(layer_tensors(index, x), args, rounding, device)
            return x

        expected = chained_reference(dtype).cpu()
        out = driver.upload(unwritten(rows, d))
        arguments = [driver.upload(tensors[p["name"]]) for p in launch["params"][:-1]] + [out]
        kernel_ms = driver.launch(ptx, args.name, launch, arguments, args.time)
        result = driver.download(out, (rows, d))
        if args.dtype == "bf16":
            tolerance = 3e-2 + 1e-2 * expected.abs()
        else:
            tolerance = 1e-2 + 5e-3 * expected.abs()
        s = args.positions
        flops = layer_count * (
            2.0 * rows * (4 * d * inner + 2 * d * args.hidden) +
            2.0 * 2.0 * args.sequences * args.heads * s * s * args.head_dim / 2)
        if args.time:
            layers = [local_layer_torch(layer_tensors(index, tensors["x"]), args, dtype)
                      for index in range(layer_count)]
            gx = layers[0][1]

            def stack(x):
                for layer, _ in layers:
                    x = layer(x)
                return x

            with torch.no_grad():
                torch_ms = torch_median_ms(lambda: stack(gx), args.time)
                if args.compile:
                    compiled = torch.compile(stack)
                    compile_ms = torch_median_ms(lambda: compiled(gx), args.time)
                    result_json.update(torch_compile_ms=compile_ms)
            # The kernel against f32 PyTorch from the same 16-bit weights,
            # nothing rounded between (what the model's accuracy sees).
            unrounded = chained_reference(None).cpu()
            result_json.update(max_abs_error_vs_unrounded=(result - unrounded).abs().max().item())
    else:
        shape = (args.batch_heads, args.seq_len, args.head_dim)
        q, k, v = [(torch.rand(*shape) * 2 - 1).to(dtype) for _ in range(3)]
        rows = torch.arange(args.seq_len, device=device)[:, None]
        cols = torch.arange(args.seq_len, device=device)[None, :]
        hidden = torch.zeros(args.seq_len, args.seq_len, dtype=torch.bool, device=device)
        if not args.no_causal or args.patch_length:
            hidden |= cols > rows
        if args.patch_length:
            hidden |= cols < (rows // args.patch_length) * args.patch_length
        expected = torch.empty(shape)
        # One batch row at a time: [S, S] scores, not [B, S, S].
        for row in range(args.batch_heads):
            qf, kf, vf = (t[row].to(device).float() for t in (q, k, v))
            scores = (qf @ kf.t()) / math.sqrt(args.head_dim)
            scores = scores.masked_fill(hidden, float("-inf"))
            expected[row] = (torch.softmax(scores, dim=-1) @ vf).cpu()
        if args.token_major:
            # The projections' rows: head h of sequence n at columns h * D.
            n, h, d = args.batch_heads // args.heads, args.heads, args.head_dim

            def rows_of(t):
                return t.reshape(n, h, args.seq_len, d).permute(0, 2, 1, 3).reshape(
                    n, args.seq_len, h * d).contiguous()
            qt, kt, vt = rows_of(q), rows_of(k), rows_of(v)
            o = driver.upload(unwritten(n, args.seq_len, h * d, dtype=dtype))
            if args.kv_fused:  # one buffer, passed as K and as V
                kv = driver.upload(torch.cat([kt, vt], dim=-1))
                buffers = [driver.upload(qt), kv, kv, o]
            else:
                buffers = [driver.upload(qt), driver.upload(kt), driver.upload(vt), o]
        else:
            o = driver.upload(unwritten(*shape))
            buffers = [driver.upload(q), driver.upload(k), driver.upload(v), o]
        kernel_ms = driver.launch(ptx, args.name, launch, buffers, args.time)
        if args.token_major:
            result = driver.download(o, (n, args.seq_len, h, d), dtype).float()
            result = result.permute(0, 2, 1, 3).reshape(shape)
        else:
            result = driver.download(o, shape)
        tolerance = torch.full_like(expected, 2e-2 if args.dtype == "bf16" else 5e-3)
        # Causal: about half of the S x S products (2 matmuls, 2 flops each).
        visible = args.patch_length if args.patch_length else args.seq_len
        flops = 2.0 * 2.0 * args.batch_heads * args.seq_len * visible * args.head_dim / 2
        if args.time:
            import torch.nn.functional as F
            try:
                from torch.nn.attention import SDPBackend, sdpa_kernel
                flash_only = lambda: sdpa_kernel(SDPBackend.FLASH_ATTENTION)  # noqa: E731
            except ImportError:  # PyTorch < 2.3
                flash_only = lambda: torch.backends.cuda.sdp_kernel(  # noqa: E731
                    enable_flash=True, enable_math=False, enable_mem_efficient=False)
            if args.patch_length:
                # Local attention: one causal sequence per patch.
                split = (args.batch_heads * args.seq_len // args.patch_length,
                         args.patch_length, args.head_dim)
                gq, gk, gv = (t.reshape(split).unsqueeze(0).cuda() for t in (q, k, v))
            else:
                gq, gk, gv = (t.unsqueeze(0).cuda() for t in (q, k, v))
            with flash_only():
                torch_ms = torch_median_ms(
                    lambda: F.scaled_dot_product_attention(gq, gk, gv, is_causal=True),
                    args.time)

    error = (result - expected).abs()
    print(f"{args.name}: max abs error {error.max().item():.3g}, "
          f"max |expected| {expected.abs().max().item():.3g}")
    fields = {"max_abs_error": error.max().item(),
              "max_abs_expected": expected.abs().max().item()}
    if kernel_ms is not None:
        fields.update(kernel_ms=kernel_ms, torch_ms=torch_ms,
                      kernel_tflops=flops / kernel_ms / 1e9, torch_tflops=flops / torch_ms / 1e9,
                      ratio_vs_torch=torch_ms / kernel_ms)
        if "torch_compile_ms" in result_json:
            fields.update(ratio_vs_torch_compile=result_json["torch_compile_ms"] / kernel_ms)
        if args.kind == "gemv":
            weight_bytes = float(torch.empty(0, dtype=dtype).element_size()) * (args.n + args.paired_n + args.third_n) * args.k
            fields.update(kernel_weight_gbps=weight_bytes / kernel_ms / 1e6,
                          torch_weight_gbps=weight_bytes / torch_ms / 1e6)
        print(f"{args.name}: {kernel_ms:.4f} ms ({fields['kernel_tflops']:.1f} TFLOP/s), "
              f"PyTorch {torch_ms:.4f} ms ({fields['torch_tflops']:.1f} TFLOP/s): "
              f"{fields['ratio_vs_torch']:.2f}x")
    if not torch.isfinite(result).all() or (error > tolerance).any():
        worst = int(torch.argmax(torch.nan_to_num(error - tolerance, nan=float("inf"))))
        print(f"FAIL: {int((error > tolerance).sum())} elements over tolerance; worst at flat index "
              f"{worst}: got {result.flatten()[worst].item()}, expected {expected.flatten()[worst].item()}")
        # Where the bad elements lie, in [rows, last dimension] (mismatch.py).
        width = expected.shape[-1]
        fields["mismatch"] = describe_mismatch(
            result.reshape(-1, width), expected.reshape(-1, width),
            torch.as_tensor(tolerance).expand_as(expected).reshape(-1, width))
        print("FAIL: " + summary(fields["mismatch"]))
        return finish("failed", **fields)
    print("OK")
    return finish("passed", **fields)


if __name__ == "__main__":
    sys.exit(main())
