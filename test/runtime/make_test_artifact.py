#!/usr/bin/python3
"""TEST ONLY: writes small .mbx artifacts around fake_entries.c, and broken ones.

The runtime's tests use it to exercise the loader and the generation driver
without the compiler. The artifacts follow docs/artifact.md; the entry points
are the fake ones of fake_entries.c (symbols "fake_<entry>"), each of which
reads its sizes from its first weight, "<entry>.dims" (F32). Options that
break an artifact on purpose start with --bad-/--st-/--meta-; --edit ARTIFACT
applies the --meta- edits to any artifact (mbc's too). Python stdlib only.

With --cuda the artifact also gets META.cuda and a CUDA_CODE section
(docs/cuda.md): PTX of two tiny kernels (TEST DATA: a copy and a tensor-map
prefetch, no model math) and, per entry point, plans that compute through
copies, fills and those kernels, on the fake driver of fake_cuda_driver.c or
on a real GPU (test/gpu runs them there):
  score:  logp = -1 everywhere except row t = 0 of each window, which is -2
  embed_s: token = 1.0 except token[0] = embed_s.dims[0] (a weight: U_s,
          1.0 at the last stage);  project_s: context = 0
  step_s: hidden = token, except hidden[0] = k_cache[0] as it was on entry;
          then k_cache[0] = token[0]: 1.0 once the sequence had a step, 0.0
          on a fresh (reset) sequence
  head:   logp = -10 except logp[65] ("A") = hidden[0] and logp[66] ("B") =
          0.5 (through the arena and a launch): "A" after a last-stage step
          that had a predecessor in its sequence, "B" at a fresh sequence's
          position 0 (the caches were zeroed on the device).
"""

import argparse
import functools
import json
import os
import struct
import subprocess
import tempfile

MAGIC = b"MBX\0\r\n\x1a\n"
META, CPU_CODE, WEIGHTS, CUDA_CODE = 1, 2, 3, 4
KINDS = {"META": META, "CPU_CODE": CPU_CODE, "WEIGHTS": WEIGHTS, "CUDA_CODE": CUDA_CODE}


@functools.lru_cache(maxsize=8)  # fuzz_meta.py rewrites the same code and weights
def fnv1a(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def align(n, to=64):
    return (n + to - 1) // to * to


def buffer(kind, name, dtype, shape):
    return {"kind": kind, "name": name, "dtype": dtype, "shape": shape}


def describe_model(args):
    """META (without weights offsets) and the weights as name -> list of floats."""
    seq = args.seq_lens
    dims = args.dims
    stages = len(seq)
    vocab = args.vocab
    start = args.architecture == "megabyte-lucidrains"
    units = [1] * stages
    for s in range(stages - 2, -1, -1):
        units[s] = units[s + 1] * seq[s + 1]
    max_len = units[0] * seq[0]
    window = args.score_window or max_len
    layers, kv_width = 2, 4
    weights = {}
    entries = []

    def entry(name, dims_values, buffers):
        weights[f"{name}.dims"] = [float(v) for v in dims_values]
        entries.append({"name": name, "symbol": f"fake_{name}",
                        "args": [{"kind": "context"}, {"kind": "weight", "name": f"{name}.dims"}]
                        + buffers})

    entry("score", [args.score_batch, window, vocab],
          [buffer("input", "bytes", "i32", [args.score_batch, window]),
           buffer("output", "logp", "f32", [args.score_batch, window, vocab])])
    generation = []
    for s in range(stages):
        positions = seq[s] + (1 if start else 0)
        generation.append({"dim": dims[s], "positions": positions, "layers": layers,
                           "kv_width": kv_width, "units": units[s]})
        entry(f"embed_{s}", [units[s], dims[s]],
              [buffer("input", "unit", "i32", [units[s]]),
               buffer("input", "position", "i64", [1]),
               buffer("output", "token", "f32", [dims[s]])])
        entry(f"step_{s}", [dims[s], layers, positions, kv_width],
              [buffer("input", "token", "f32", [dims[s]]),
               buffer("input", "context", "f32", [dims[s]]),
               buffer("input", "position", "i64", [1]),
               buffer("inout", "k_cache", "f32", [layers, positions, kv_width]),
               buffer("inout", "v_cache", "f32", [layers, positions, kv_width]),
               buffer("inout", "shift", "f32", [layers, 2, dims[s]]),
               buffer("output", "hidden", "f32", [dims[s]])])
        if s + 1 < stages:
            entry(f"project_{s}", [dims[s], seq[s + 1], dims[s + 1], s],
                  [buffer("input", "hidden", "f32", [dims[s]]),
                   buffer("output", "context", "f32", [seq[s + 1], dims[s + 1]])])
    entry("head", [dims[-1], vocab],
          [buffer("input", "hidden", "f32", [dims[-1]]),
           buffer("output", "logp", "f32", [vocab])])
    meta = {
        "format_version": 1,
        "compiler": "make_test_artifact.py (test only)",
        "model": {"architecture": args.architecture, "vocab_size": vocab, "pad_id": args.pad_id,
                  "stages": [{"dim": dims[s], "depth": layers, "heads": 1, "dim_head": kv_width,
                              "seq_len": seq[s]} for s in range(stages)]},
        "targets": [{"kind": "cpu", "triple": "x86_64-unknown-linux-gnu", "cpu": "generic",
                     "features": ""}],
        "weights": {"mode": args.weights, "tensors": []},
        "generation": {"stages": generation, "start_token": start},
        "entry_points": entries,
        "dispatches": [],
    }
    if args.weights == "external":
        meta["weights"]["file"] = args.weights_file
    return meta, weights


F32_BITS = {1.0: 0x3F800000, 0.5: 0x3F000000, -1.0: 0xBF800000, -2.0: 0xC0000000, -10.0: 0xC1200000}
FAKE_KERNELS = [
    {"name": "fake_copy_f32", "params": ["ptr", "ptr", "i64"], "block": [32, 1, 1],
     "shared_bytes": 0, "registers": 16},
    {"name": "fake_tensor_map_check", "params": ["tensor_map", "ptr", "i64"],
     "block": [1, 1, 1], "shared_bytes": 0},
]


def arg_index(entry, name):
    return next(i for i, a in enumerate(entry["args"]) if a.get("name") == name)


def arg_bytes(arg):
    count = 1
    for d in arg["shape"]:
        count *= d
    return count * (8 if arg["dtype"] == "i64" else 4)


def fill(dst, nbytes, value):
    return {"fill": {"dst": dst, "bytes": nbytes, "value": value}}


def cuda_plan(entry, vocab):
    """The plan of one entry point (see the module docstring)."""
    name = entry["name"]
    outputs = [i for i, a in enumerate(entry["args"]) if a["kind"] == "output"]
    if name == "score":
        logp = arg_index(entry, "logp")
        rows = entry["args"][logp]["shape"][0] * entry["args"][logp]["shape"][1]
        window = entry["args"][logp]["shape"][1]
        steps = [fill({"arg": logp}, arg_bytes(entry["args"][logp]), F32_BITS[-1.0]),
                 fill({"temp": 0}, 4 * vocab, F32_BITS[-2.0])]
        for row in range(0, rows, window):
            steps.append({"launch": "fake_copy_f32", "grid": [1, 1, 1],
                          "args": [{"arg": logp, "offset": 4 * vocab * row}, {"temp": 0},
                                   {"i64": vocab}]})
        steps.append({"launch": "fake_tensor_map_check", "grid": [1, 1, 1],
                      "args": [{"tensor_map": {"base": {"arg": logp}, "dtype": "f32",
                                               "dims": [vocab, rows], "strides_bytes": [4 * vocab],
                                               "box": [4, 1], "swizzle": 0}},
                               {"arg": logp}, {"i64": vocab}]})
        return {"arena_bytes": (4 * vocab + 255) // 256 * 256, "steps": steps}
    if name == "head":
        logp, hidden = arg_index(entry, "logp"), arg_index(entry, "hidden")
        return {"arena_bytes": 256, "steps": [
            fill({"arg": logp}, 4 * vocab, F32_BITS[-10.0]),
            fill({"temp": 0}, 4, F32_BITS[0.5]),
            {"launch": "fake_copy_f32", "grid": [1, 1, 1],
             "args": [{"arg": logp, "offset": 4 * 66}, {"temp": 0}, {"i64": 1}]},
            {"copy": {"dst": {"arg": logp, "offset": 4 * 65}, "src": {"arg": hidden},
                      "bytes": 4}}]}
    if name.startswith("embed_"):
        token = arg_index(entry, "token")
        return {"arena_bytes": 0, "steps": [
            fill({"arg": token}, arg_bytes(entry["args"][token]), F32_BITS[1.0]),
            {"copy": {"dst": {"arg": token}, "src": {"arg": 1}, "bytes": 4}}]}
    steps = [fill({"arg": i}, arg_bytes(entry["args"][i]), 0) for i in outputs]
    if name.startswith("step_"):
        token, hidden = arg_index(entry, "token"), arg_index(entry, "hidden")
        k_cache = arg_index(entry, "k_cache")
        steps += [{"copy": {"dst": {"arg": hidden}, "src": {"arg": token, "offset": 0},
                            "bytes": arg_bytes(entry["args"][token])}},
                  {"copy": {"dst": {"arg": hidden}, "src": {"arg": k_cache}, "bytes": 4}},
                  {"copy": {"dst": {"arg": k_cache}, "src": {"arg": token}, "bytes": 4}}]
    return {"arena_bytes": 0, "steps": steps}


PTX_COPY_F32 = """
.visible .entry fake_copy_f32(
\t.param .u64 destination,
\t.param .u64 source,
\t.param .u64 count)
{
\t.reg .pred %done;
\t.reg .b32 %thread, %threads, %block, %blocks;
\t.reg .b64 %to, %from, %n, %i, %stride, %offset, %address;
\t.reg .f32 %value;
\tld.param.u64 %to, [destination];
\tld.param.u64 %from, [source];
\tld.param.u64 %n, [count];
\tcvta.to.global.u64 %to, %to;
\tcvta.to.global.u64 %from, %from;
\tmov.u32 %thread, %tid.x;
\tmov.u32 %threads, %ntid.x;
\tmov.u32 %block, %ctaid.x;
\tmov.u32 %blocks, %nctaid.x;
\tmad.wide.u32 %i, %block, %threads, 0;
\tcvt.u64.u32 %offset, %thread;
\tadd.u64 %i, %i, %offset;
\tmul.wide.u32 %stride, %threads, %blocks;
loop:
\tsetp.ge.u64 %done, %i, %n;
\t@%done bra exit;
\tshl.b64 %offset, %i, 2;
\tadd.u64 %address, %from, %offset;
\tld.global.f32 %value, [%address];
\tadd.u64 %address, %to, %offset;
\tst.global.f32 [%address], %value;
\tadd.u64 %i, %i, %stride;
\tbra.uni loop;
exit:
\tret;
}
"""

# A real GPU's tensor map is opaque: the kernel only prefetches it (sm_90+),
# which a malformed by-value parameter would fault on.
PTX_TENSOR_MAP_CHECK = """
.visible .entry fake_tensor_map_check(
\t.param .align 64 .b8 map[128],
\t.param .u64 base,
\t.param .u64 dim0)
{
%s\tret;
}
"""


def kernels_ptx(arch, extra):
    """TEST ONLY PTX of the FAKE_KERNELS for `arch` (sm_XY[a]); ptxas accepts it,
    so the same artifact runs on the fake driver and on a real GPU."""
    capability = int(arch[3:].rstrip("a"))
    prefetch = "\tprefetch.param.tensormap [map];\n" if capability >= 90 else ""
    return (f"// TEST ONLY: the kernels of make_test_artifact.py --cuda {extra}\n"
            f".version {'8.0' if capability < 100 else '8.6'}\n.target {arch}\n"
            ".address_size 64\n"
            + PTX_COPY_F32 + PTX_TENSOR_MAP_CHECK % prefetch)


def cubin(ptx, arch, ptxas):
    """ptxas's cubin when a ptxas is given, else a stand-in only the fake driver loads."""
    if not ptxas:
        return b"\x7fELF // fake cubin (test only)\n" + ptx.encode()
    with tempfile.TemporaryDirectory() as work:
        source, binary = os.path.join(work, "k.ptx"), os.path.join(work, "k.cubin")
        with open(source, "w") as f:
            f.write(ptx)
        subprocess.run([ptxas, f"-arch={arch}", source, "-o", binary], check=True)
        with open(binary, "rb") as f:
            return f.read()


def add_cuda(meta, args):
    """Adds META.cuda and returns the CUDA_CODE section's bytes."""
    code = bytearray()
    images = []
    for spec in args.cuda_images.split(","):
        arch, image_format = spec.split(":")
        ptx = kernels_ptx(arch, args.cuda_image_extra)
        if image_format == "cubin":
            data = cubin(kernels_ptx(arch, args.cuda_image_extra + args.cuda_cubin_extra),
                         arch, args.ptxas)
        else:
            data = ptx.encode()
        offset = align(len(code))
        code += b"\0" * (offset - len(code)) + data
        images.append({"arch": arch, "format": image_format, "offset": offset, "size": len(data)})
    archs = sorted({image["arch"] for image in images})
    meta["targets"].append({"kind": "cuda", "archs": archs, "ptx_isa": "8.0"})
    vocab = meta["model"]["vocab_size"]
    meta["cuda"] = {"images": images, "kernels": FAKE_KERNELS,
                    "plans": {e["name"]: cuda_plan(e, vocab) for e in meta["entry_points"]}}
    return bytes(code)


def parse_path(path):
    """'a.b[2].c' -> ['a', 'b', 2, 'c']; '[+]' (in a set: append) stays '+'."""
    keys = []
    for part in path.split("."):
        while "[" in part:
            head, rest = part.split("[", 1)
            if head:
                keys.append(head)
            index, part = rest.split("]", 1)
            keys.append(index if index == "+" else int(index))
        if part:
            keys.append(part)
    return keys


def at_path(meta, path):
    """The container of PATH's last key, and that key."""
    keys = parse_path(path)
    target = meta
    for key in keys[:-1]:
        target = target[key]
    return target, keys[-1]


def edit_meta(meta, sets, deletes, swaps=()):
    """PATH=JSON sets (a last key [+] appends), PATH deletes, PATH=PATH swaps."""
    for pair in swaps:
        (a, ka), (b, kb) = (at_path(meta, path) for path in pair.split("=", 1))
        a[ka], b[kb] = b[kb], a[ka]
    for assignment in sets:
        path, value = assignment.split("=", 1)
        target, key = at_path(meta, path)
        if key == "+":
            target.append(json.loads(value))
        else:
            target[key] = json.loads(value)
    for path in deletes:
        target, key = at_path(meta, path)
        del target[key]


def pack_floats(values):
    return struct.pack(f"<{len(values)}f", *values)


def safetensors_bytes(weights, args):
    """A safetensors file as the reference writer makes it, with requested defects."""
    header, chunks, offset = {}, [], 0
    # A 4-byte tensor first leaves the others 4-byte aligned only: the
    # runtime must realign them to the ABI's 16 bytes.
    items = [("aaa.odd", [0.5])] + sorted(weights.items())
    for name, values in items:
        if name in args.st_drop:
            continue
        raw = pack_floats(values)
        dtype, shape = "F32", [len(values)]
        if name in args.st_dtype:
            dtype = "F16"
            raw = struct.pack(f"<{len(values)}e", *values)
        if name in args.st_shape:
            shape = [len(values), 1]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    for name in args.st_alias:  # a second tensor over the same bytes
        header[name + ".alias"] = dict(header[name])
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    data = struct.pack("<Q", len(text)) + text + b"".join(chunks)
    if args.st_truncate:
        data = data[:-args.st_truncate]
    return data


def build(args):
    meta, weights = describe_model(args)
    weight_blob = bytearray()
    for name in sorted(weights):
        raw = pack_floats(weights[name])
        offset = align(len(weight_blob), 64) + (args.bad_weight_offset if name == "score.dims" else 0)
        weight_blob += b"\0" * (offset - len(weight_blob)) + raw
        meta["weights"]["tensors"].append({"name": name, "dtype": "F32", "shape": [len(weights[name])],
                                           "offset": offset, "size": len(raw)})
    for name in args.derive:  # docs/artifact.md: rounded to bf16 at load
        meta["weights"]["tensors"].append({
            "name": name + ":bf16", "dtype": "BF16", "shape": [len(weights[name])],
            "size": 2 * len(weights[name]), "derived": {"from": name, "convert": "bf16"}})
    cuda_code = add_cuda(meta, args) if args.cuda else None
    edit_meta(meta, args.meta_set, args.meta_delete, args.meta_swap)
    meta_bytes = args.meta_raw.encode() if args.meta_raw is not None else json.dumps(meta, indent=1).encode()
    sections = [(META, meta_bytes)]
    if args.code:
        with open(args.code, "rb") as f:
            sections.append((CPU_CODE, f.read()))
    if cuda_code is not None:
        sections.append((CUDA_CODE, cuda_code))
    if args.weights == "embedded":
        sections.append((WEIGHTS, bytes(weight_blob)))
    else:
        folder = os.path.dirname(os.path.abspath(args.output))
        with open(os.path.join(folder, args.weights_file), "wb") as f:
            f.write(safetensors_bytes(weights, args))
    write_container(sections, args)


def read_sections(path):
    """The (kind, bytes) sections of the artifact at PATH, in table order."""
    with open(path, "rb") as f:
        data = f.read()
    count, _, table_offset = struct.unpack_from("<I4xQQ", data, 16)
    sections = []
    for i in range(count):
        kind, _, offset, size = struct.unpack_from("<IIQQ", data, table_offset + 40 * i)
        sections.append((kind, data[offset:offset + size]))
    return sections


def edit(args):
    """ARTIFACT with its META edited and every checksum recomputed: an
    artifact that lies consistently (a damaged one fails its checksums)."""
    sections = read_sections(args.edit)
    meta = json.loads(next(data for kind, data in sections if kind == META))
    edit_meta(meta, args.meta_set, args.meta_delete, args.meta_swap)
    write_container([(kind, json.dumps(meta).encode() if kind == META else data)
                     for kind, data in sections], args)


def write_container(sections, args):
    sections = [(kind, data) for kind, data in sections if kind not in [KINDS[k] for k in args.bad_omit]]

    table_offset = 64
    out = bytearray(align(table_offset + 40 * len(sections)))
    table = b""
    for kind, data in sections:
        offset = align(len(out))
        out += b"\0" * (offset - len(out)) + data
        checksum = fnv1a(data)
        if kind in [KINDS[k] for k in args.bad_checksum]:
            checksum ^= 1
        table += struct.pack("<IIQQQQ", kind, 0, offset, len(data), checksum, 0)
    out[table_offset:table_offset + len(table)] = table
    table_offset_field = args.bad_table_offset if args.bad_table_offset is not None else table_offset
    header = MAGIC if not args.bad_magic else b"MBY\0\r\n\x1a\n"
    header += struct.pack("<IIIIQQQ", args.bad_version or 1, 64, len(sections), 0,
                          len(out), table_offset_field, fnv1a(table))
    header += b"\0" * 16
    out[0:64] = header
    data = bytes(out)
    if args.bad_truncate:
        data = data[:-args.bad_truncate]
    if args.bad_short is not None:
        data = data[:args.bad_short]
    with open(args.output, "wb") as f:
        f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", help="the fake entries' .so (none: no CPU_CODE section)")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--architecture", default="megabyte-lucidrains",
                        choices=["megabyte", "megabyte-lucidrains"])
    parser.add_argument("--seq-lens", type=lambda s: [int(v) for v in s.split(",")], default=[2, 2])
    parser.add_argument("--dims", type=lambda s: [int(v) for v in s.split(",")], default=None)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--pad-id", type=int, default=0)
    parser.add_argument("--score-batch", type=int, default=1)
    parser.add_argument("--score-window", type=int, default=0, help="0: the model's length")
    parser.add_argument("--weights", choices=["embedded", "external"], default="embedded")
    parser.add_argument("--weights-file", default="weights.safetensors")
    parser.add_argument("--cuda", action="store_true", help="add META.cuda and CUDA_CODE")
    parser.add_argument("--cuda-images", default="sm_90a:cubin,sm_90a:ptx,sm_80:ptx",
                        help="ARCH:cubin|ptx,... (with --cuda)")
    parser.add_argument("--cuda-image-extra", default="",
                        help="text for the images' first comment line (FAKE_JIT_ERROR: the "
                             "fake driver fails to load them)")
    parser.add_argument("--cuda-cubin-extra", default="",
                        help="the same for the cubin images only")
    parser.add_argument("--ptxas", help="assemble the cubin images with this ptxas")
    parser.add_argument("--meta-set", action="append", default=[], help="PATH=JSON")
    parser.add_argument("--derive", action="append", default=[], metavar="TENSOR",
                        help="also list TENSOR:bf16, derived from TENSOR")
    parser.add_argument("--meta-delete", action="append", default=[], help="PATH")
    parser.add_argument("--meta-swap", action="append", default=[], help="PATH=PATH")
    parser.add_argument("--edit", metavar="ARTIFACT",
                        help="instead of a test artifact, ARTIFACT with the --meta- edits")
    parser.add_argument("--meta-raw", help="META bytes instead of the JSON")
    parser.add_argument("--bad-magic", action="store_true")
    parser.add_argument("--bad-version", type=int, default=0)
    parser.add_argument("--bad-truncate", type=int, default=0, help="drop N bytes at the end")
    parser.add_argument("--bad-short", type=int, help="keep only the first N bytes")
    parser.add_argument("--bad-table-offset", type=int)
    parser.add_argument("--bad-checksum", action="append", default=[], choices=list(KINDS))
    parser.add_argument("--bad-omit", action="append", default=[], choices=list(KINDS))
    parser.add_argument("--bad-weight-offset", type=int, default=0, help="misalign score.dims")
    parser.add_argument("--st-drop", action="append", default=[], help="leave TENSOR out")
    parser.add_argument("--st-dtype", action="append", default=[], help="store TENSOR as F16")
    parser.add_argument("--st-shape", action="append", default=[], help="store TENSOR as [n, 1]")
    parser.add_argument("--st-truncate", type=int, default=0)
    parser.add_argument("--st-alias", action="append", default=[],
                        help="add TENSOR.alias over TENSOR's bytes")
    args = parser.parse_args()
    if args.dims is None:
        args.dims = [8] * len(args.seq_lens)
    if args.edit:
        edit(args)
    else:
        build(args)


if __name__ == "__main__":
    main()
