#!/usr/bin/python3
"""safetensors_io against the public format: layout, dtypes, and malformed files."""

import json
import os
import struct
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class Format(unittest.TestCase):
    TENSORS = {"b.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7,
               "a": torch.tensor([1.5, -2.25, 3e-3]), "scalar_like": torch.ones(1)}

    def test_layout(self):
        data = safetensors_io.encode(self.TENSORS, "f32")
        (length,) = struct.unpack("<Q", data[:8])
        self.assertEqual(length % 8, 0)
        header = json.loads(data[8:8 + length])
        self.assertEqual(header["__metadata__"], {"format": "pt"})
        self.assertEqual(header["b.weight"]["dtype"], "F32")
        self.assertEqual(header["b.weight"]["shape"], [2, 3])
        body = data[8 + length:]
        begin, end = header["a"]["data_offsets"]
        self.assertEqual(struct.unpack("<3f", body[begin:end]), (1.5, -2.25, struct.unpack("<f", struct.pack("<f", 3e-3))[0]))
        spans = sorted(tuple(e["data_offsets"]) for k, e in header.items() if k != "__metadata__")
        self.assertEqual(spans[0][0], 0)
        self.assertEqual(spans[-1][1], len(body))
        self.assertTrue(all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "data section has gaps")

    def test_round_trip_each_dtype(self):
        for dtype, torch_dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
            with self.subTest(dtype=dtype), tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "model.safetensors")
                safetensors_io.write(path, self.TENSORS, dtype)
                back = safetensors_io.read(path)
                self.assertEqual(set(back), set(self.TENSORS))
                for name, tensor in self.TENSORS.items():
                    self.assertEqual(back[name].dtype, torch_dtype)
                    self.assertTrue(torch.equal(back[name], tensor.to(torch_dtype)), name)
                self.assertEqual(os.listdir(folder), ["model.safetensors"])

    def test_bf16_bits(self):
        data = safetensors_io.encode({"x": torch.tensor([1.0, -2.0, 1.00390625])}, "bf16")
        (length,) = struct.unpack("<Q", data[:8])
        # bfloat16 is the top half of float32; 1 + 2^-8 rounds to even (1.0)
        self.assertEqual(struct.unpack("<3H", data[8 + length:]), (0x3F80, 0xC000, 0x3F80))

    def test_malformed_files_name_the_problem(self):
        good = safetensors_io.encode({"w": torch.ones(2, 2)}, "f32")
        (length,) = struct.unpack("<Q", good[:8])
        header = json.loads(good[8:8 + length])

        def with_header(h):
            text = json.dumps(h).encode()
            return struct.pack("<Q", len(text)) + text + good[8 + length:]

        cases = {
            "shorter than": good[:5],
            "exceeds the file": struct.pack("<Q", 10 ** 9) + good[8:],
            "not JSON": struct.pack("<Q", 3) + b"{x]" + good[8 + length:],
            "w: dtype": with_header({**header, "w": {**header["w"], "dtype": "I64"}}),
            "w: data_offsets": with_header({**header, "w": {**header["w"], "data_offsets": [0, 12]}}),
            "w: needs": with_header({**header, "w": {"dtype": "F32"}}),
        }
        for message, data in cases.items():
            with self.subTest(case=message):
                with self.assertRaisesRegex(safetensors_io.SafetensorsError, message):
                    safetensors_io.decode(data, "model.safetensors")


if __name__ == "__main__":
    unittest.main()
