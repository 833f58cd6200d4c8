#!/usr/bin/python3
"""mbc-run end to end on test-only artifacts (fake entry points): outputs and exit codes.

Run by ctest with the paths of the built tools in the environment:
MBC_RUN (the mbc-run binary), MBRT_FAKE_ENTRIES (fake_entries .so),
MBRT_SHARED_LIBRARY (libmbrt.so, checked for LLVM/MLIR dependencies).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MBC_RUN = os.environ.get("MBC_RUN", "")
FAKE_ENTRIES = os.environ.get("MBRT_FAKE_ENTRIES", "")
SHARED_LIBRARY = os.environ.get("MBRT_SHARED_LIBRARY", "")


def make_artifact(folder, *options):
    path = os.path.join(folder, "model.mbx")
    subprocess.run([sys.executable, os.path.join(HERE, "make_test_artifact.py"), "--code", FAKE_ENTRIES,
                    "-o", path, *options], check=True)
    return path


def run(*arguments, stdin=None):
    return subprocess.run([MBC_RUN, *arguments], capture_output=True, input=stdin)


@unittest.skipUnless(MBC_RUN and FAKE_ENTRIES, "set MBC_RUN and MBRT_FAKE_ENTRIES")
class MbcRun(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.addCleanup(self.folder.cleanup)
        self.model = make_artifact(self.folder.name, "--seq-lens", "8,4")
        self.input = os.path.join(self.folder.name, "input.bin")
        with open(self.input, "wb") as f:
            f.write(bytes(range(256)) * 2 + b"tail")

    def test_score_prints_bits_per_byte_and_json(self):
        plain = run("score", self.model, "--input", self.input)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertRegex(plain.stdout.decode(), r"^\d+\.\d{6} bits per byte \(516 bytes, 17 windows of 32\)\n$")
        self.assertEqual(plain.stderr, b"", "no progress bar when stderr is not a terminal")
        report = json.loads(run("score", self.model, "--input", self.input, "--json").stdout)
        self.assertEqual(report["bytes"], 516)
        self.assertEqual(report["windows"], 17)
        # fake_score: log p(x_t) = -(t mod 32 + 1) - x_t / 1024.
        data = (bytes(range(256)) * 2 + b"tail")
        expected = -sum(-(t % 32 + 1) - data[t] / 1024 for t in range(len(data))) / (len(data) * np.log(2))
        self.assertAlmostEqual(report["bits_per_byte"], expected, places=4)

    def test_dump_logprobs_is_a_float32_npy_of_bytes_by_vocabulary(self):
        out = os.path.join(self.folder.name, "logp.npy")
        result = run("score", self.model, "--input", self.input, "--dump-logprobs", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = np.load(out)
        self.assertEqual(rows.shape, (516, 256))
        self.assertEqual(rows.dtype, np.float32)
        self.assertEqual(rows[33, 5], np.float32(-2 - 5 / 1024))

    def test_generate_streams_only_the_generated_bytes(self):
        result = run("generate", self.model, "--prompt", "ab", "-n", "4")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"cdef")  # the fake head predicts last byte + 1
        empty = run("generate", self.model, "--prompt", "", "-n", "3", "--greedy")
        self.assertEqual(empty.stdout, b"\x00\x01\x02")
        nothing = run("generate", self.model, "--prompt", "x", "-n", "0")
        self.assertEqual((nothing.returncode, nothing.stdout), (0, b""))
        prompt_file = os.path.join(self.folder.name, "prompt")
        with open(prompt_file, "wb") as f:
            f.write(b"\x00\xff")
        binary = run("generate", self.model, "--prompt-file", prompt_file, "-n", "1")
        self.assertEqual(binary.stdout, b"\x00")

    def test_seeded_sampling_repeats(self):
        options = ["generate", self.model, "--prompt", "q", "-n", "20", "--seed", "5"]
        for sampler in (["--temperature", "0.8", "--top-k", "40", "--top-p", "0.9"], ["--gumbel-thres", "0.9"]):
            first, second = run(*options, *sampler), run(*options, *sampler)
            self.assertEqual(first.returncode, 0, first.stderr)
            self.assertEqual(first.stdout, second.stdout)
            self.assertEqual(len(first.stdout), 20)

    def test_generation_past_the_maximum_length_stops_clearly(self):
        result = run("generate", self.model, "--prompt", "", "-n", "40")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(len(result.stdout), 32)
        self.assertIn(b"reached the model's maximum length of 32 bytes", result.stderr)

    def test_info(self):
        result = run("info", self.model)
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout.decode()
        for fragment in ("format version: 1", "architecture:   megabyte-lucidrains", "max length:     32 bytes",
                         "weights:        embedded", "entry points:   score, embed_0"):
            self.assertIn(fragment, text)
        meta = json.loads(run("info", self.model, "--json").stdout)
        self.assertEqual(meta["format_version"], 1)

    def test_bench_reports_medians(self):
        result = run("bench", self.model, "--bytes", "100", "--generate", "16", "--repeat", "3", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertGreater(report["score"]["bytes_per_second"], 0)
        self.assertEqual(report["generate"]["bytes"], 16)

    def test_wrong_command_lines_exit_2_with_usage(self):
        for arguments in ([], ["frobnicate"], ["score"], ["score", self.model], ["score", self.model, "--input"],
                          ["score", self.model, "--input", self.input, "--bogus"],
                          ["generate", self.model, "-n", "1"], ["generate", self.model, "--prompt", "a"],
                          ["generate", self.model, "--prompt", "a", "-n", "x"],
                          ["generate", self.model, "--prompt", "a", "-n", "1", "--greedy", "--top-k", "2"],
                          ["generate", self.model, "--prompt", "a", "-n", "1", "--temperature", "0"],
                          ["info", self.model, "--device", "tpu"], ["info", self.model, "extra"]):
            with self.subTest(arguments=arguments):
                result = run(*arguments)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(b"usage:", result.stderr)

    def test_runtime_errors_exit_1_with_a_message(self):
        truncated = os.path.join(self.folder.name, "truncated.mbx")
        with open(self.model, "rb") as f, open(truncated, "wb") as g:
            g.write(f.read()[:1000])
        os.mkdir(os.path.join(self.folder.name, "newer"))
        newer = make_artifact(os.path.join(self.folder.name, "newer"), "--bad-version", "2")
        cases = [(["info", "/nonexistent.mbx"], b"cannot open"),
                 (["info", truncated], b"truncated"),
                 (["info", newer], b"artifact format version 2 is newer than this runtime's 1"),
                 (["info", self.model, "--device", "cuda"], b""),
                 (["score", self.model, "--input", "/nonexistent"], b"/nonexistent: cannot open")]
        for arguments, message in cases:
            with self.subTest(arguments=arguments):
                result = run(*arguments)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertIn(b"mbc-run: error: ", result.stderr)
                self.assertIn(message, result.stderr)

    def test_external_weights_mismatch_is_an_error(self):
        folder = os.path.join(self.folder.name, "external")
        os.mkdir(folder)
        model = make_artifact(folder, "--weights", "external", "--st-shape", "head.dims")
        result = run("info", model)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b'tensor "head.dims" has shape [2, 1], the artifact expects F32 [2]', result.stderr)


@unittest.skipUnless(SHARED_LIBRARY, "set MBRT_SHARED_LIBRARY")
class RuntimeDependencies(unittest.TestCase):
    def test_libmbrt_links_neither_llvm_nor_mlir(self):
        needed = subprocess.run(["ldd", SHARED_LIBRARY], capture_output=True, check=True).stdout.decode()
        self.assertNotRegex(needed.lower(), r"llvm|mlir|cuda")


if __name__ == "__main__":
    unittest.main()
