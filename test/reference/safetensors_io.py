#!/usr/bin/python3
"""Reads and writes the public safetensors format (F32, F16, BF16) without the package.

Layout: 8-byte little-endian header length N, N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the data section; offsets are relative to the data section. The header
is padded with spaces to a multiple of 8 bytes, as the reference writer does.
"""

import json
import os
import struct

import numpy as np
import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
ITEM_SIZE = {"F32": 4, "F16": 2, "BF16": 2}
_NAME_OF_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16", "F32": "F32", "F16": "F16", "BF16": "BF16"}


class SafetensorsError(ValueError):
    """A malformed file; the message names the file and, where known, the tensor."""


def dtype_name(name):
    """'f32'|'f16'|'bf16' (or the upper-case safetensors names) -> safetensors dtype name."""
    try:
        return _NAME_OF_DTYPE[name]
    except KeyError:
        raise ValueError(f"unsupported dtype {name!r}: use f32, f16 or bf16") from None


def _to_bytes(tensor, dtype):
    tensor = tensor.detach().to("cpu").contiguous().to(DTYPES[dtype])
    if dtype == "BF16":  # numpy has no bfloat16: move the raw 16-bit patterns
        return tensor.view(torch.int16).numpy().astype("<i2").tobytes()
    return tensor.numpy().astype("<f4" if dtype == "F32" else "<f2").tobytes()


def _from_bytes(raw, dtype, shape):
    if dtype == "BF16":
        array = np.frombuffer(raw, dtype="<i2").astype(np.int16)
        return torch.from_numpy(array.copy()).view(torch.bfloat16).reshape(shape)
    array = np.frombuffer(raw, dtype="<f4" if dtype == "F32" else "<f2")
    return torch.from_numpy(array.copy()).reshape(shape)


def encode(tensors, dtype="F32", metadata=None):
    """The bytes of a safetensors file holding `tensors` (name -> tensor), all as `dtype`."""
    dtype = dtype_name(dtype)
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        raw = _to_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, tensors, dtype="F32", metadata=None):
    """Writes `tensors` to `path` atomically (temp file in the same folder, then rename)."""
    data = encode(tensors, dtype, metadata)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def decode(data, where="<bytes>"):
    """name -> tensor (in its stored dtype) from the bytes of a safetensors file."""
    if len(data) < 8:
        raise SafetensorsError(f"{where}: shorter than the 8-byte header length")
    (header_length,) = struct.unpack("<Q", data[:8])
    if header_length > len(data) - 8:
        raise SafetensorsError(f"{where}: header length {header_length} exceeds the file")
    try:
        header = json.loads(data[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"{where}: header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{where}: header is not a JSON object")
    body = memoryview(data)[8 + header_length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise SafetensorsError(f"{where}: {name}: needs dtype, shape, data_offsets") from None
        if dtype not in DTYPES:
            raise SafetensorsError(f"{where}: {name}: dtype {dtype!r} is not F32, F16 or BF16")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise SafetensorsError(f"{where}: {name}: bad shape {shape!r}")
        count = 1
        for d in shape:
            count *= d
        if not (0 <= begin <= end <= len(body)) or end - begin != count * ITEM_SIZE[dtype]:
            raise SafetensorsError(f"{where}: {name}: data_offsets [{begin}, {end}] do not fit "
                                   f"shape {shape} of {dtype} in a data section of {len(body)} bytes")
        tensors[name] = _from_bytes(bytes(body[begin:end]), dtype, shape)
    return tensors


def read(path):
    with open(path, "rb") as f:
        return decode(f.read(), path)


def read_metadata(path):
    with open(path, "rb") as f:
        (header_length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(header_length).decode("utf-8")).get("__metadata__", {})
