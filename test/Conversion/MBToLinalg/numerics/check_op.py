#!/usr/bin/python3
"""Checks convert-mb-to-linalg's lowering of each mb op against PyTorch.

    /usr/bin/python3 check_op.py FAMILY [--keep DIR]

For every case of FAMILY the script writes one MLIR function with seeded
random constant inputs and the mb op (or a whole model's @score), lowers it with
`mbc-opt --convert-mb-to-linalg` plus an upstream CPU pipeline (one-shot
bufferization, loops, libm for erf, LLVM), runs it with mlir-runner and
compares the result with the same computation in PyTorch (f32). Results are
printed as their f32 bit patterns (printMemrefI32 of a bitcast), so the
comparison sees every bit the compiled code produced.

Tolerances (stated per case in the output):
  - ops that only move data (patchify, start_token, token_shift(_step),
    merge_patches, embedding gathers, position rows added): bit exact;
  - arithmetic ops: |got - want| <= ATOL + RTOL * |want| with
    ATOL = RTOL = 1e-5 (f32 rounding and summation order differ from
    PyTorch's BLAS and vectorised kernels by a few ulps);
  - whole models (family `models`: make_model -> mbc --emit=mb
    --inline-weights -> @score lowered and run, against megabyte_ref's
    log_probs): max |delta log p| <= 1e-4, the f32 bound of KERNELS.md.
NaN or Inf in a result never passes. Exit status 0 only if every case passes.

Needs Debian's python3 (torch + numpy); the tools are looked up on PATH (lit
puts mbc's build/bin there), then in the build tree and /usr/lib/llvm-22/bin.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
ATOL = 1e-5
RTOL = 1e-5
# Text appended after the module (the dialect_resources blocks of inlined
# weights).
MODULE_SUFFIXES = []

LOWERING = [
    "--convert-mb-to-linalg",
    "--one-shot-bufferize=bufferize-function-boundaries",
    "--convert-linalg-to-loops",
    "--lower-affine",
    "--convert-scf-to-cf",
    # math-to-llvm first: it expands math.rsqrt to 1/sqrt, while math-to-libm
    # would call rsqrtf, which libm does not have. math.erf is left for libm.
    "--convert-math-to-llvm",
    "--convert-math-to-libm",
    "--expand-strided-metadata",
    "--lower-affine",  # expand-strided-metadata makes affine.apply
    "--finalize-memref-to-llvm",
    "--convert-arith-to-llvm",
    "--convert-index-to-llvm",
    "--convert-func-to-llvm",
    "--convert-cf-to-llvm",
    "--reconcile-unrealized-casts",
]


def find_tool(name, candidates):
    found = shutil.which(name)
    if found:
        return found
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.exit(f"check_op.py: cannot find {name} (looked on PATH and in {candidates})")


# ----------------------------------------------------------------------------
# Building the MLIR function of one case


def tensor_type(array):
    element = {np.dtype(np.float32): "f32", np.dtype(np.int32): "i32",
               np.dtype(np.int64): "i64", np.dtype(np.uint8): "i8"}[array.dtype]
    return "tensor<" + "".join(f"{d}x" for d in array.shape) + element + ">"


def dense_constant(array):
    """An exact dense literal: the raw little-endian bytes in hex."""
    data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return f'dense<"0x{data.tobytes().hex().upper()}">'


class Case:
    """One mb op applied to constant inputs, and PyTorch's answer.

    `op` is MLIR text using %name for each input and defining %result;
    `exact` asks for bit-exact agreement.
    """

    def __init__(self, name, inputs, op, expected, exact=False, atol=ATOL, rtol=RTOL,
                 callee=None):
        self.name = name
        self.inputs = inputs
        self.op = op
        self.expected = np.ascontiguousarray(np.asarray(expected, dtype=np.float32))
        self.exact = exact
        self.atol = atol
        self.rtol = rtol
        # Whole-model cases: `op` is a module body holding @`callee`, which
        # the case function calls with its inputs.
        self.callee = callee

    def function(self, index):
        lines = [f"func.func @case{index}() {{"]
        for name, array in self.inputs.items():
            lines.append(f"  %{name} = arith.constant {dense_constant(array)} : {tensor_type(array)}")
        shape = tensor_type(self.expected)
        if self.callee:
            arguments = ", ".join(f"%{name}" for name in self.inputs)
            types = ", ".join(tensor_type(array) for array in self.inputs.values())
            lines.append(f"  %result = call @{self.callee}({arguments}) : ({types}) -> {shape}")
        else:
            lines.extend("  " + line for line in self.op.strip().splitlines())
        bits = shape.replace("f32", "i32")
        lines += [
            f"  %bits = arith.bitcast %result : {shape} to {bits}",
            f"  %unranked = tensor.cast %bits : {bits} to tensor<*xi32>",
            "  call @printMemrefI32(%unranked) : (tensor<*xi32>) -> ()",
            "  return",
            "}",
        ]
        return "\n".join(lines)


def module_text(cases):
    parts = [case.function(i) for i, case in enumerate(cases)]
    parts += [case.op for case in cases if case.callee]
    calls = "\n".join(f"  call @case{i}() : () -> ()" for i in range(len(cases)))
    parts.append("func.func @main() {\n" + calls + "\n  return\n}")
    parts.append("func.func private @printMemrefI32(tensor<*xi32>)")
    return "\n\n".join(parts) + "\n" + "".join(MODULE_SUFFIXES)


def run_cases(cases, keep_dir):
    mbc_opt = find_tool("mbc-opt", [os.path.join(SOURCE_ROOT, "build", "bin", "mbc-opt")])
    runner = find_tool("mlir-runner", ["/usr/lib/llvm-22/bin/mlir-runner"])
    library_dir = os.path.join(os.path.dirname(os.path.realpath(runner)), "..", "lib")
    libraries = ",".join(os.path.join(library_dir, f"libmlir_{name}.so")
                         for name in ("c_runner_utils", "runner_utils"))
    work = keep_dir or tempfile.mkdtemp(prefix="mb-to-linalg-numerics-")
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "cases.mlir")
    lowered = os.path.join(work, "cases.llvm.mlir")
    with open(source, "w") as f:
        f.write(module_text(cases))
    try:
        subprocess.run([mbc_opt, source, *LOWERING, "-o", lowered], check=True)
        run = subprocess.run([runner, "-e", "main", "-entry-point-result=void",
                              f"-shared-libs={libraries}", lowered],
                             check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        sys.exit(f"check_op.py: {' '.join(error.cmd[:2])} failed (input kept in {work})\n"
                 f"{error.stderr or ''}")
    finally:
        if not keep_dir:
            shutil.rmtree(work, ignore_errors=True)
    blocks = run.stdout.split("Unranked Memref")[1:]
    if len(blocks) != len(cases):
        sys.exit(f"check_op.py: expected {len(cases)} printed results, got {len(blocks)}:\n"
                 f"{run.stdout}")
    results = []
    for block, case in zip(blocks, cases):
        data = block.split("data =", 1)[1]
        values = np.array([int(v) for v in re.findall(r"-?\d+", data)], dtype=np.int64)
        results.append(values.astype(np.int32).view(np.float32).reshape(case.expected.shape))
    return results


def compare(case, got):
    want = case.expected
    if not np.all(np.isfinite(got)):
        return False, "non-finite values in the result"
    if case.exact:
        same = np.array_equal(got.view(np.int32), want.view(np.int32))
        mismatches = int(np.sum(got.view(np.int32) != want.view(np.int32)))
        return same, f"bit exact ({mismatches} of {want.size} elements differ)"
    error = np.abs(got.astype(np.float64) - want.astype(np.float64))
    allowed = case.atol + case.rtol * np.abs(want.astype(np.float64))
    worst = float(np.max(error / allowed)) if error.size else 0.0
    return bool(np.all(error <= allowed)), (
        f"max abs err {float(error.max()):.3g}, max err / (atol + rtol*|want|) {worst:.3g} "
        f"(atol {case.atol:g}, rtol {case.rtol:g})")


# ----------------------------------------------------------------------------
# PyTorch references (MEGABYTE.md, MEGABYTE-pytorch v0.3.x)

rng = np.random.default_rng(20230512)


def randn(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t(array):
    return torch.from_numpy(np.ascontiguousarray(array))


def np_of(tensor):
    return tensor.detach().numpy().astype(np.float32)


def token_shift_reference(x):
    keep = (x.shape[-1] + 1) // 2
    moved = x[..., keep:]
    moved = torch.cat((torch.zeros_like(moved[:, :1]), moved[:, :-1]), dim=1)
    return torch.cat((x[..., :keep], moved), dim=-1)


def rotate_half(x):
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x, theta):
    """NeoX rotate-half over the full head dim; x is [B, h, n, dh]."""
    head_dim = x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    positions = torch.arange(x.shape[-2]).float()
    angles = positions[:, None] * inv_freq[None, :]
    angles = torch.cat((angles, angles), dim=-1)
    return x * angles.cos() + rotate_half(x) * angles.sin()


def attention_reference(x, wq, wk, wv, wo, heads, theta, scale):
    batch, n, _ = x.shape
    q, k, v = (F.linear(x, w).reshape(batch, n, heads, -1).transpose(1, 2) for w in (wq, wk, wv))
    if theta is not None:
        q, k = apply_rotary(q, theta), apply_rotary(k, theta)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(future, -torch.finfo(scores.dtype).max)
    out = torch.matmul(scores.softmax(dim=-1), v)
    return F.linear(out.transpose(1, 2).reshape(batch, n, -1), wo)


def rms_norm_reference(x, weight, eps, clamp):
    if clamp:
        norm = torch.norm(x, dim=-1, keepdim=True) * (x.shape[-1] ** -0.5)
        return x / norm.clamp(min=eps) * weight
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def activation_reference(name, x):
    if name == "gelu":
        return F.gelu(x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    return F.relu(x)


def ty(array):
    return tensor_type(array)


def f64(value):
    """An f64 attribute MLIR parses back to the same double."""
    return f"{value:.17e} : f64"


# ----------------------------------------------------------------------------
# The cases of each family


def embedding_cases():
    cases = []
    for ids_dtype, vocab in ((np.int32, 11), (np.int64, 11), (np.uint8, 256)):
        table = randn(vocab, 6)
        ids = rng.integers(0, vocab, size=(2, 5)).astype(ids_dtype)
        if ids_dtype == np.uint8:
            ids[0, :3] = [255, 128, 0]  # bytes >= 128 must not turn negative
        want = np_of(F.embedding(t(ids.astype(np.int64)), t(table)))
        cases.append(Case(f"embedding ids {ty(ids)}", {"table": table, "ids": ids}, f"""
%result = mb.embedding %table[%ids] : {ty(table)}, {ty(ids)} -> {ty(want)}
""", want, exact=True))
    for rows in (5, 9):
        x, table = randn(2, 5, 6), randn(rows, 6)
        want = np_of(t(x) + t(table)[:5])
        cases.append(Case(f"position_embedding table rows {rows}", {"x": x, "table": table}, f"""
%result = mb.position_embedding %x, %table : {ty(x)}, {ty(table)} -> {ty(x)}
""", want, exact=True))
    return cases


def patches_cases():
    cases = []
    for shape, patch, shifted in (((2, 8, 3), 4, False), ((2, 8, 3), 4, True),
                                  ((3, 4, 5), 1, True), ((1, 4, 2), 4, True)):
        x = randn(*shape)
        n, length, width = shape
        grouped = t(x).reshape(n, length // patch, patch * width)
        inputs = {"x": x}
        if shifted:
            pad = randn(patch * width)
            inputs["pad"] = pad
            want = torch.cat((t(pad).expand(n, 1, -1), grouped[:, :-1]), dim=1)
            op = (f"%result = mb.patchify %x shift %pad {{patch_size = {patch} : i64}} "
                  f": {ty(x)}, {ty(pad)} -> {ty(np_of(want))}")
        else:
            want = grouped
            op = f"%result = mb.patchify %x {{patch_size = {patch} : i64}} : {ty(x)} -> {ty(np_of(want))}"
        cases.append(Case(f"patchify {shape} P={patch} shift={shifted}", inputs, op,
                          np_of(want), exact=True))

    x, start = randn(3, 4, 5), randn(5)
    want = np_of(torch.cat((t(start).expand(3, 1, -1), t(x)), dim=1))
    cases.append(Case("start_token", {"x": x, "start": start}, f"""
%result = mb.start_token %x, %start : {ty(x)}, {ty(start)} -> {ty(want)}
""", want, exact=True))

    for shape in ((2, 5, 8), (2, 5, 7), (1, 1, 5), (2, 3, 1)):
        x = randn(*shape)
        want = np_of(token_shift_reference(t(x)))
        cases.append(Case(f"token_shift {shape}", {"x": x}, f"""
%result = mb.token_shift %x : {ty(x)}
""", want, exact=True))

    # shared (paper): per-position slices of width C times one [D, C] matrix.
    n, s, patch, c, d = 2, 3, 4, 3, 5
    x, w = randn(n, s, patch * c), randn(d, c, scale=c ** -0.5)
    want = np_of(F.linear(t(x).reshape(n, s, patch, c), t(w)).reshape(n * s, patch, d))
    cases.append(Case("global_to_local shared", {"x": x, "w": w}, f"""
%result = mb.global_to_local <shared> %x, %w {{patch_size = {patch} : i64}} : ({ty(x)}, {ty(w)}) -> {ty(want)}
""", want))

    # dense (MEGABYTE-pytorch): drop the last position, Linear, reshape, zero front.
    n, s1, c, patch, d = 2, 4, 6, 4, 5
    x, w, b = randn(n, s1, c), randn(patch * d, c, scale=c ** -0.5), randn(patch * d)
    projected = F.linear(t(x)[:, :-1], t(w), t(b)).reshape(n * (s1 - 1), patch, d)
    want = np_of(F.pad(projected, (0, 0, 1, 0)))
    cases.append(Case("global_to_local dense", {"x": x, "w": w, "b": b}, f"""
%result = mb.global_to_local <dense> %x, %w, %b {{patch_size = {patch} : i64}} : ({ty(x)}, {ty(w)}, {ty(b)}) -> {ty(want)}
""", want))

    batch, patches, patch, vocab = 2, 3, 4, 7
    x = randn(batch * patches, patch, vocab)
    want = x.reshape(batch, patches * patch, vocab)
    cases.append(Case("merge_patches shifted", {"x": x}, f"""
%result = mb.merge_patches <shifted> %x : {ty(x)} -> {ty(want)}
""", want, exact=True))
    x = randn(batch * patches, patch + 1, vocab)
    want = np.zeros((batch, patches * patch, vocab), np.float32)
    for b_ in range(batch):
        want[b_, 0] = x[b_ * patches, 0]
        for t_ in range(1, patches * patch):
            want[b_, t_] = x[b_ * patches + (t_ - 1) // patch, (t_ - 1) % patch + 1]
    cases.append(Case("merge_patches start_token", {"x": x}, f"""
%result = mb.merge_patches <start_token> %x : {ty(x)} -> {ty(want)}
""", want, exact=True))
    return cases


def norms_cases():
    cases = []
    for shape, offset in (((2, 3, 10), 0.0), ((4, 7), 3.0)):
        x, w, b = randn(*shape) + offset, rng.uniform(0.5, 1.5, shape[-1]).astype(np.float32), randn(shape[-1])
        want = np_of(F.layer_norm(t(x), shape[-1:], t(w), t(b), 1e-5))
        cases.append(Case(f"layer_norm {shape}", {"x": x, "w": w, "b": b}, f"""
%result = mb.layer_norm %x, %w, %b {{epsilon = {f64(1e-5)}}} : ({ty(x)}, {ty(w)}, {ty(b)}) -> {ty(x)}
""", want))
    for clamp, eps in ((False, 1e-6), (True, 1e-8)):
        x, w = randn(2, 4, 9), rng.uniform(0.5, 1.5, 9).astype(np.float32)
        x[1, 2] = 0.0  # an all-zero row: the clamp (or eps) keeps it finite
        want = np_of(rms_norm_reference(t(x), t(w), eps, clamp))
        attributes = f"{{{'clamp, ' if clamp else ''}epsilon = {f64(eps)}}}"
        cases.append(Case(f"rms_norm clamp={clamp}", {"x": x, "w": w}, f"""
%result = mb.rms_norm %x, %w {attributes} : ({ty(x)}, {ty(w)}) -> {ty(x)}
""", want))
    return cases


def linear_cases():
    cases = []
    for shape, out, bias in (((2, 3, 5), 7, True), ((4, 5), 3, False), ((6,), 4, True)):
        x, w = randn(*shape), randn(out, shape[-1], scale=shape[-1] ** -0.5)
        inputs = {"x": x, "w": w}
        operands = "%x, %w"
        types = f"{ty(x)}, {ty(w)}"
        b = None
        if bias:
            b = randn(out)
            inputs["b"] = b
            operands += ", %b"
            types += f", {ty(b)}"
        want = np_of(F.linear(t(x), t(w), None if b is None else t(b)))
        cases.append(Case(f"linear {shape} -> {out} bias={bias}", inputs, f"""
%result = mb.linear {operands} : ({types}) -> {ty(want)}
""", want))
    # Element-wise arith on tensors (residual adds) is converted by the pass too.
    a, c = randn(2, 3, 4), randn(2, 3, 4)
    want = np_of(t(a) + t(c) * t(a))
    cases.append(Case("arith.addf/mulf on tensors", {"a": a, "c": c}, f"""
%product = arith.mulf %c, %a : {ty(a)}
%result = arith.addf %a, %product : {ty(a)}
""", want))
    return cases


def ffn_cases():
    cases = []
    for activation in ("gelu", "gelu_tanh", "relu"):
        d, hidden = 6, 24
        x = randn(2, 3, d, scale=2.0)
        up_w, up_b = randn(hidden, d, scale=d ** -0.5), randn(hidden)
        down_w, down_b = randn(d, hidden, scale=hidden ** -0.5), randn(d)
        h = activation_reference(activation, F.linear(t(x), t(up_w), t(up_b)))
        want = np_of(F.linear(h, t(down_w), t(down_b)))
        cases.append(Case(f"ffn {activation}",
                          {"x": x, "uw": up_w, "ub": up_b, "dw": down_w, "db": down_b}, f"""
%result = mb.ffn <{activation}> %x, %uw, %ub, %dw, %db : ({ty(x)}, {ty(up_w)}, {ty(up_b)}, {ty(down_w)}, {ty(down_b)}) -> {ty(x)}
""", want))
    return cases


def head_cases():
    cases = []
    for bias in (True, False):
        x, w = randn(2, 3, 8), randn(16, 8, scale=3 * 8 ** -0.5)
        inputs = {"x": x, "w": w}
        operands, types = "%x, %w", f"{ty(x)}, {ty(w)}"
        logits = F.linear(t(x), t(w))
        if bias:
            b = randn(16)
            inputs["b"] = b
            operands, types = operands + ", %b", types + f", {ty(b)}"
            logits = F.linear(t(x), t(w), t(b))
        want = np_of(F.log_softmax(logits, dim=-1))
        cases.append(Case(f"head bias={bias}", inputs, f"""
%result = mb.head {operands} : ({types}) -> {ty(want)}
""", want))
    return cases


def attention_cases():
    cases = []
    configurations = [
        # op, N, S, D, heads, head_dim, rotary_theta, scale
        ("global_attention", 2, 5, 12, 2, 4, None, None),
        ("global_attention", 2, 5, 12, 2, 4, 10000.0, None),
        ("local_attention", 3, 5, 8, 2, 6, 10000.0, None),
        ("local_attention", 3, 4, 8, 3, 4, None, 0.3),
        ("global_attention", 1, 9, 16, 2, 8, 500.0, 0.25),
    ]
    for op, n, s, d, heads, head_dim, theta, scale in configurations:
        inner = heads * head_dim
        x = randn(n, s, d)
        wq, wk, wv = (randn(inner, d, scale=2 * d ** -0.5) for _ in range(3))
        wo = randn(d, inner, scale=inner ** -0.5)
        effective_scale = scale if scale is not None else head_dim ** -0.5
        want = np_of(attention_reference(t(x), t(wq), t(wk), t(wv), t(wo), heads, theta,
                                         effective_scale))
        attributes = [f"head_dim = {head_dim} : i64", f"heads = {heads} : i64"]
        if theta is not None:
            attributes.append(f"rotary_theta = {f64(theta)}")
        if scale is not None:
            attributes.append(f"scale = {f64(scale)}")
        cases.append(Case(
            f"{op} N={n} S={s} D={d} heads={heads} head_dim={head_dim} rotary_theta={theta} scale={scale}",
            {"x": x, "wq": wq, "wk": wk, "wv": wv, "wo": wo}, f"""
%result = mb.{op} %x, %wq, %wk, %wv, %wo {{{', '.join(attributes)}}} : ({ty(x)}, {ty(wq)}, {ty(wk)}, {ty(wv)}, {ty(wo)}) -> {ty(x)}
""", want))
    return cases


def decode_cases():
    """The one-position forms used by generation: token_shift_step,
    position_embedding with a runtime offset, cached_attention."""
    cases = []
    for d in (8, 7, 1):
        x, previous = randn(3, 1, d), randn(3, 1, d)
        keep = (d + 1) // 2
        want = np.concatenate((x[..., :keep], previous[..., keep:]), axis=-1)
        cases.append(Case(f"token_shift_step D={d}", {"x": x, "previous": previous}, f"""
%result = mb.token_shift_step %x, %previous : {ty(x)}
""", want, exact=True))

    for positions, offset in ((1, 3), (2, 6)):
        x, table = randn(2, positions, 6), randn(8, 6)
        want = np_of(t(x) + t(table)[offset:offset + positions])
        cases.append(Case(f"position_embedding offset={offset} S={positions}",
                          {"x": x, "table": table}, f"""
%offset = arith.constant {offset} : index
%result = mb.position_embedding %x, %table offset %offset : {ty(x)}, {ty(table)} -> {ty(x)}
""", want, exact=True))

    # cached_attention at position p equals row p of full causal attention
    # over positions 0..p; the caches hold rows 0..p-1 of that sequence's
    # (rotated) keys and values, junk at p and after (overwritten / masked).
    for n, length, p, d, heads, head_dim, theta, scale in (
            (2, 6, 3, 12, 2, 4, None, None),
            (2, 6, 4, 12, 2, 4, 10000.0, None),
            (3, 5, 0, 8, 2, 6, 10000.0, 0.3),
            (1, 9, 8, 16, 2, 8, 500.0, None)):
        inner = heads * head_dim
        xs = randn(n, p + 1, d)
        wq, wk, wv = (randn(inner, d, scale=2 * d ** -0.5) for _ in range(3))
        wo = randn(d, inner, scale=inner ** -0.5)
        effective_scale = scale if scale is not None else head_dim ** -0.5
        full = attention_reference(t(xs), t(wq), t(wk), t(wv), t(wo), heads, theta,
                                   effective_scale)

        def heads_of(w):
            return F.linear(t(xs), t(w)).reshape(n, p + 1, heads, head_dim).transpose(1, 2)

        keys = heads_of(wk)
        if theta is not None:
            keys = apply_rotary(keys, theta)
        keys = np_of(keys.transpose(1, 2).reshape(n, p + 1, inner))
        values = np_of(heads_of(wv).transpose(1, 2).reshape(n, p + 1, inner))
        k_cache, v_cache = randn(n, length, inner, scale=5.0), randn(n, length, inner, scale=5.0)
        k_cache[:, :p], v_cache[:, :p] = keys[:, :p], values[:, :p]
        want_k, want_v = k_cache.copy(), v_cache.copy()
        want_k[:, p], want_v[:, p] = keys[:, p], values[:, p]
        x = xs[:, p:p + 1]
        attributes = [f"head_dim = {head_dim} : i64", f"heads = {heads} : i64"]
        if theta is not None:
            attributes.append(f"rotary_theta = {f64(theta)}")
        if scale is not None:
            attributes.append(f"scale = {f64(scale)}")
        inputs = {"x": x, "wq": wq, "wk": wk, "wv": wv, "wo": wo, "kc": k_cache, "vc": v_cache}
        signature = (f"({ty(x)}, {ty(wq)}, {ty(wk)}, {ty(wv)}, {ty(wo)}, {ty(k_cache)}, "
                     f"{ty(v_cache)}, index) -> ({ty(x)}, {ty(k_cache)}, {ty(v_cache)})")
        name = (f"cached_attention N={n} L={length} position={p} heads={heads} "
                f"head_dim={head_dim} rotary_theta={theta} scale={scale}")
        for label, names, want in (("output", "%result, %k, %v", np_of(full[:, p:p + 1])),
                                   ("new k_cache", "%o, %result, %v", want_k),
                                   ("new v_cache", "%o, %k, %result", want_v)):
            cases.append(Case(f"{name}: {label}", inputs, f"""
%position = arith.constant {p} : index
{names} = mb.cached_attention %x, %wq, %wk, %wv, %wo, %kc, %vc at %position {{{', '.join(attributes)}}} : {signature}
""", want))
    return cases


def function_named(module, name):
    """The text of `func.func @name` in a printed module (mbc's layout: the
    function starts and ends at an indentation of two spaces)."""
    lines = module.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"  func.func @{name}(")]
    if not starts:
        sys.exit(f"check_op.py: no func.func @{name} in mbc's output")
    start = starts[0]
    end = next(i for i in range(start, len(lines)) if lines[i] == "  }")
    return "\n".join(line[2:] for line in lines[start:end + 1])


def model_case(name, make_model_args, seed):
    """Scores one input with a whole compiled model (mbc --emit=mb
    --inline-weights, the weights as constants) against megabyte_ref."""
    sys.path.insert(0, os.path.join(SOURCE_ROOT, "test", "reference"))
    import make_model
    import megabyte_ref

    mbc = find_tool("mbc", [os.path.join(SOURCE_ROOT, "build", "bin", "mbc")])
    with tempfile.TemporaryDirectory(prefix="mb-to-linalg-model-") as folder:
        make_model.main([*make_model_args, "--seed", str(seed), "-o", folder])
        module = subprocess.run([mbc, folder, "--emit=mb", "--inline-weights"], check=True,
                                capture_output=True, text=True).stdout
        model = megabyte_ref.load_model_dir(folder)
    score = function_named(module, "score")
    # The weights are inlined; as constants they need no argument passing.
    score = re.sub(r'mb\.param "[^"]*" = (dense_resource<[^>]*>) : (tensor<[^>]*>) : tensor<[^>]*>',
                   r"arith.constant \1 : \2", score)
    resources = module[module.index("{-#"):]
    length = int(re.search(r"tensor<1x(\d+)xi32>", score).group(1))
    ids = rng.integers(0, 256, size=(1, length)).astype(np.int32)
    with torch.no_grad():
        want = np_of(model.log_probs(t(ids.astype(np.int64))))
    # The resources block must close the module: put it after everything.
    return Case(name, {"ids": ids}, score, want, atol=1e-4, rtol=0.0,
                callee="score"), resources


def models_cases():
    configurations = [
        ("paper 2-stage layernorm relu",
         ["--arch", "megabyte", "--stages", "32,1,2,8,4;16,1,2,8,4"]),
        ("paper rmsnorm gelu_tanh token-shift rotary pos-emb tied",
         ["--arch", "megabyte", "--stages", "24,1,2,6,4;16,1,2,8,4", "--norm", "rmsnorm",
          "--activation", "gelu_tanh", "--token-shift", "--rotary", "--pos-emb", "--tie"]),
        ("lucidrains 2-stage rotary",
         ["--arch", "megabyte-lucidrains", "--stages", "32,1,2,8,4;16,1,2,8,4", "--rotary"]),
        ("lucidrains 3-stage pos-emb",
         ["--arch", "megabyte-lucidrains", "--stages", "32,1,2,8,3;16,1,2,8,4;16,1,2,8,2",
          "--pos-emb"]),
    ]
    cases, resources = [], []
    for seed, (name, arguments) in enumerate(configurations):
        case, resource = model_case(name, arguments, seed)
        # Every model's function is @score and its weights share names with
        # other models': give each its own function and resource names.
        case.callee = f"score{seed}"
        case.op = case.op.replace("func.func @score(", f"func.func @score{seed}(", 1)
        case.op = case.op.replace("dense_resource<", f"dense_resource<model{seed}.")
        resource = re.sub(r'^(\s+)([^\s:]+): "0x', rf'\1model{seed}.\2: "0x', resource,
                          flags=re.MULTILINE)
        cases.append(case)
        resources.append(resource)
    MODULE_SUFFIXES.extend(resources)
    return cases


FAMILIES = {
    "embedding": embedding_cases,
    "patches": patches_cases,
    "norms": norms_cases,
    "linear": linear_cases,
    "ffn": ffn_cases,
    "head": head_cases,
    "attention": attention_cases,
    "decode": decode_cases,
    "models": models_cases,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("--keep", metavar="DIR", help="keep the MLIR files in DIR")
    args = parser.parse_args()
    torch.manual_seed(0)
    cases = FAMILIES[args.family]()
    results = run_cases(cases, args.keep)
    failed = 0
    for case, got in zip(cases, results):
        ok, detail = compare(case, got)
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'}: {case.name}: {detail}")
    print(f"{args.family}: {len(cases) - failed} of {len(cases)} cases match PyTorch")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
