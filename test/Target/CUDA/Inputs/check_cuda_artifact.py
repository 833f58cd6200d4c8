"""Checks the CUDA part of a .mbx artifact against docs/cuda.md.

Usage: check_cuda_artifact.py ARTIFACT [--expect-archs sm_90a,sm_80]
       [--expect-cpu | --expect-no-cpu] [--expect-cubins]

Parses the header and section table itself (no runtime involved), verifies
every checksum, then that META.cuda is consistent: images inside CUDA_CODE
and 64-byte aligned, every plan step names a listed kernel with as many args
as the kernel has params, arg indices within the entry point's args (never
the context), temp refs inside the arena, a plan for every entry point.
Prints one summary line per fact it checked.
"""
import argparse
import json
import struct
import sys

MAGIC = b"MBX\0\r\n\x1a\n"
KINDS = {1: "META", 2: "CPU_CODE", 3: "WEIGHTS", 4: "CUDA_CODE"}


def fnv1a(data):
    h = 0xcbf29ce484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def fail(message):
    print("error: " + message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact")
    parser.add_argument("--expect-archs", default="sm_90a")
    parser.add_argument("--expect-cpu", action="store_true")
    parser.add_argument("--expect-no-cpu", action="store_true")
    parser.add_argument("--expect-cubins", action="store_true")
    args = parser.parse_args()

    data = open(args.artifact, "rb").read()
    if data[:8] != MAGIC:
        fail("bad magic")
    count, = struct.unpack_from("<I", data, 16)
    table_offset, = struct.unpack_from("<Q", data, 32)
    sections = {}
    for i in range(count):
        kind, _, offset, size, checksum, _ = struct.unpack_from(
            "<IIQQQQ", data, table_offset + 40 * i)
        body = data[offset:offset + size]
        if offset % 64 or len(body) != size:
            fail(f"section {KINDS.get(kind, kind)} misplaced")
        if fnv1a(body) != checksum:
            fail(f"section {KINDS.get(kind, kind)}: checksum mismatch")
        sections[KINDS.get(kind, str(kind))] = body
    print("sections:", ",".join(sorted(sections)))
    if "CUDA_CODE" not in sections:
        fail("no CUDA_CODE section")
    if args.expect_cpu and "CPU_CODE" not in sections:
        fail("no CPU_CODE section")
    if args.expect_no_cpu and "CPU_CODE" in sections:
        fail("unexpected CPU_CODE section")

    meta = json.loads(sections["META"])
    cuda_targets = [t for t in meta["targets"] if t["kind"] == "cuda"]
    if len(cuda_targets) != 1:
        fail("expected one cuda target in META.targets")
    archs = args.expect_archs.split(",")
    if cuda_targets[0]["archs"] != archs or cuda_targets[0]["ptx_isa"] != "8.0":
        fail(f"cuda target {cuda_targets[0]} (expected archs {archs}, ISA 8.0)")
    print("cuda target:", ",".join(cuda_targets[0]["archs"]),
          "ptx_isa", cuda_targets[0]["ptx_isa"])
    cpu_targets = [t for t in meta["targets"] if t["kind"] == "cpu"]
    if bool(cpu_targets) != ("CPU_CODE" in sections):
        fail("cpu target and CPU_CODE disagree")

    cuda = meta["cuda"]
    code = sections["CUDA_CODE"]
    formats = {}
    for image in cuda["images"]:
        if image["offset"] % 64 or image["offset"] + image["size"] > len(code):
            fail(f"image {image} outside CUDA_CODE or misaligned")
        body = code[image["offset"]:image["offset"] + image["size"]]
        if image["format"] == "ptx":
            text = body.decode()
            if f".target {image['arch']}" not in text or ".version 8." not in text:
                fail(f"PTX image for {image['arch']} has the wrong target/ISA")
        elif image["format"] == "cubin":
            if body[:4] != b"\x7fELF":
                fail(f"cubin for {image['arch']} is not ELF")
        else:
            fail(f"unknown image format {image['format']}")
        formats.setdefault(image["format"], []).append(image["arch"])
    if sorted(formats.get("ptx", [])) != sorted(archs):
        fail(f"PTX images {formats.get('ptx')} (expected {archs})")
    if args.expect_cubins and sorted(formats.get("cubin", [])) != sorted(archs):
        fail(f"cubin images {formats.get('cubin')} (expected {archs})")
    print("images:", " ".join(f"{k}={','.join(v)}" for k, v in sorted(formats.items())))

    kernels = {k["name"]: k for k in cuda["kernels"]}
    for kernel in cuda["kernels"]:
        block = kernel["block"]
        if len(block) != 3 or block[0] * block[1] * block[2] > 1024:
            fail(f"kernel {kernel['name']}: bad block {block}")
        if any(p not in ("ptr", "i64", "i32", "f32", "tensor_map") for p in kernel["params"]):
            fail(f"kernel {kernel['name']}: bad params {kernel['params']}")
    entries = {e["name"]: e for e in meta["entry_points"]}
    if sorted(cuda["plans"]) != sorted(entries):
        fail(f"plans {sorted(cuda['plans'])} != entry points {sorted(entries)}")
    # Weight tensors; derived ones (docs/artifact.md) round an earlier
    # stored F32 tensor of the same shape to bf16 and are stored nowhere.
    weights = {}
    for tensor in meta["weights"]["tensors"]:
        derived = tensor.get("derived")
        if derived is not None:
            source = weights.get(derived.get("from"))
            if (source is None or "derived" in source or source["dtype"] != "F32"
                    or source["shape"] != tensor["shape"] or tensor["dtype"] != "BF16"
                    or derived.get("convert") != "bf16" or "offset" in tensor):
                fail(f"derived weight {tensor['name']}: bad source or conversion")
        weights[tensor["name"]] = tensor
    weight_refs = set()
    launches = 0
    launched = set()
    maps = 0
    offset_refs = 0
    for name, plan in cuda["plans"].items():
        arena = plan["arena_bytes"]
        if arena % 256:
            fail(f"plan {name}: arena not 256-byte aligned")
        nargs = len(entries[name]["args"])

        def check_ref(ref, where):
            # Slots start 256-byte aligned; a kernel parameter that is a
            # slice of a buffer (mb-cuda-fuse-epilogues) starts inside one,
            # element aligned.
            nonlocal offset_refs
            if "arg" in ref:
                if not 1 <= ref["arg"] < nargs:
                    fail(f"plan {name} {where}: arg {ref['arg']} out of range")
                if entries[name]["args"][ref["arg"]]["kind"] == "context":
                    fail(f"plan {name} {where}: refers to the context")
                offset = ref.get("offset", 0)
                if offset:
                    offset_refs += 1
                    if offset % 4 or buffer_bytes(ref) <= 0:
                        fail(f"plan {name} {where}: offset {offset} outside "
                             f"arg {ref['arg']} or unaligned")
            elif "weight" in ref:
                tensor = weights.get(ref["weight"])
                if tensor is None:
                    fail(f"plan {name} {where}: weight {ref['weight']} not in weights.tensors")
                weight_refs.add(ref["weight"])
            elif "temp" in ref:
                if not 0 <= ref["temp"] < max(arena, 1) or ref["temp"] % 4:
                    fail(f"plan {name} {where}: temp {ref['temp']} outside arena {arena}")
                if ref["temp"] % 256:
                    offset_refs += 1
            else:
                fail(f"plan {name} {where}: not a buffer ref {ref}")

        def buffer_bytes(ref):
            if "temp" in ref:
                return arena - ref["temp"]
            entry = weights[ref["weight"]] if "weight" in ref else entries[name]["args"][ref["arg"]]
            size = {"F32": 4, "BF16": 2, "F16": 2, "I32": 4, "I64": 8}.get(
                entry.get("dtype", "F32").upper(), 4)
            count = 1
            for extent in entry.get("shape", []):
                count *= extent
            return count * size - ref.get("offset", 0)

        def check_tensor_map(arg, where):
            nonlocal maps
            tmap = arg.get("tensor_map") if isinstance(arg, dict) else None
            if tmap is None:
                fail(f"plan {name} {where}: a tensor_map param without a tensor_map arg")
            check_ref(tmap["base"], where)
            dims, strides, box = tmap["dims"], tmap["strides_bytes"], tmap["box"]
            element = {"bf16": 2, "f16": 2, "f32": 4}[tmap["dtype"]]
            if len(strides) != len(dims) - 1 or len(box) != len(dims):
                fail(f"plan {name} {where}: tensor map ranks {tmap}")
            if tmap["swizzle"] not in (0, 32, 64, 128) or any(s % 16 for s in strides):
                fail(f"plan {name} {where}: tensor map swizzle/strides {tmap}")
            if any(b < 1 or b > 256 for b in box):
                fail(f"plan {name} {where}: tensor map box {box}")
            extent = dims[0] * element if len(dims) == 1 else dims[-1] * strides[-1]
            if extent > buffer_bytes(tmap["base"]):
                fail(f"plan {name} {where}: tensor map covers {extent} bytes, "
                     f"its buffer has {buffer_bytes(tmap['base'])}")
            maps += 1

        for index, step in enumerate(plan["steps"]):
            if "launch" in step:
                kernel = kernels.get(step["launch"])
                if kernel is None:
                    fail(f"plan {name} step {index}: unknown kernel {step['launch']}")
                if len(step["args"]) != len(kernel["params"]):
                    fail(f"plan {name} step {index}: {len(step['args'])} args for "
                         f"{len(kernel['params'])} params")
                for param, arg in zip(kernel["params"], step["args"]):
                    if param == "ptr":
                        check_ref(arg, f"step {index}")
                    elif param == "tensor_map":
                        check_tensor_map(arg, f"step {index}")
                if any(g < 1 for g in step["grid"]) or len(step["grid"]) != 3:
                    fail(f"plan {name} step {index}: bad grid {step['grid']}")
                launches += 1
                launched.add(step["launch"])
            elif "copy" in step:
                check_ref(step["copy"]["dst"], f"step {index}")
                check_ref(step["copy"]["src"], f"step {index}")
            elif "fill" in step:
                check_ref(step["fill"]["dst"], f"step {index}")
            else:
                fail(f"plan {name} step {index}: unknown step {step}")
    # Every kernel is launched; repeated layers share theirs.
    if launched != set(kernels):
        fail(f"kernels never launched: {sorted(set(kernels) - launched)}")
    print("plans:", ",".join(sorted(cuda["plans"])))
    print("every launch names a kernel with matching args:", launches > 0)
    print("launches:", " ".join(
        f"{name}={sum('launch' in step for step in plan['steps'])}"
        for name, plan in sorted(cuda["plans"].items())))
    print("buffer refs at an offset into their buffer:", offset_refs)
    derived = [t["name"] for t in meta["weights"]["tensors"] if "derived" in t]
    print("derived weights:", len(derived), "referenced by plans:",
          len(weight_refs & set(derived)))
    for entry in meta["entry_points"]:
        if any(a.get("name") in derived for a in entry["args"]):
            fail(f"entry point {entry['name']} lists a derived weight as an argument")
    gemms = [k for k in cuda["kernels"] if "_gemm_" in k["name"]]
    print("tensor-core GEMM kernels:", len(gemms),
          "with tensor maps:", sum("tensor_map" in k["params"] for k in gemms),
          "tensor-map args checked:", maps)
    if gemms:
        print("GEMM shared bytes:", sorted({k["shared_bytes"] for k in gemms}))
    attention = [k for k in cuda["kernels"]
                 if "_attention_" in k["name"] and "_decode_attention_" not in k["name"]]
    print("flash-attention kernels:", len(attention), "with tensor maps:",
          sum("tensor_map" in k["params"] for k in attention))
    decode = [k for k in cuda["kernels"] if "_decode_attention_" in k["name"]]
    print("decode-attention kernels:", len(decode))
    gemvs = [k for k in cuda["kernels"] if "_gemv_" in k["name"]]
    print("decode GEMV kernels:", len(gemvs))
    log_softmax = [k for k in cuda["kernels"] if "_log_softmax_" in k["name"]]
    print("log-softmax kernels:", len(log_softmax))
    layers = [k for k in cuda["kernels"] if "_local_layer_" in k["name"]]
    print("fused local-layer kernels:", len(layers))
    if layers:
        print("local-layer shared bytes:",
              sorted({k["shared_bytes"] for k in layers}))
    registers = [k for k in cuda["kernels"] if "registers" in k]
    if args.expect_cubins:
        if len(registers) != len(kernels):
            fail("kernels without ptxas register counts")
        spills = [k["name"] for k in cuda["kernels"] if k.get("spill_store_bytes")]
        print("kernels with spill stores:", len(spills))


if __name__ == "__main__":
    main()
