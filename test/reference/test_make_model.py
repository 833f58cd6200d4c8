#!/usr/bin/python3
"""make_model.py: deterministic, valid model directories from the command line."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from contextlib import redirect_stderr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model  # noqa: E402
import megabyte_ref  # noqa: E402
import safetensors_io  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_model.py")


def digest(folder):
    result = {}
    for name in ("config.json", "model.safetensors"):
        with open(os.path.join(folder, name), "rb") as f:
            result[name] = hashlib.sha256(f.read()).hexdigest()
    return result


class MakeModel(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="make-model-test-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.folder, ignore_errors=True))

    def make(self, name, *arguments):
        output = os.path.join(self.folder, name)
        make_model.main(list(arguments) + ["-o", output])
        return output

    def test_same_arguments_same_bytes_and_seed_matters(self):
        arguments = ("--arch", "megabyte-lucidrains", "--stages", "32,1,2,8,4;16,2,2,8,4", "--rotary", "--seed", "3")
        first, second = self.make("a", *arguments), self.make("b", *arguments)
        self.assertEqual(digest(first), digest(second))
        other = self.make("c", *arguments[:-1], "4")
        self.assertNotEqual(digest(first)["model.safetensors"], digest(other)["model.safetensors"])

    def test_directories_load_and_hold_the_requested_options(self):
        cases = {
            "paper_tied": ("--arch", "megabyte", "--stages", "32,1,2,8,4;16,1,2,8,4", "--tie", "--norm", "rmsnorm",
                           "--activation", "gelu_tanh", "--token-shift", "--head-bias", "--dtype", "bf16"),
            "paper_3stage": ("--arch", "megabyte", "--stages", "48,1,2,8,3;32,1,2,8,2;16,1,2,8,4", "--pos-emb",
                             "--no-final-norm", "--dtype", "f16"),
            "lucidrains_3stage": ("--arch", "megabyte-lucidrains", "--stages", "32,1,2,8,3;24,1,2,8,3;16,1,2,8,5",
                                  "--pos-emb", "--vocab", "300", "--pad-id", "7"),
        }
        for name, arguments in cases.items():
            with self.subTest(case=name):
                folder = self.make(name, *arguments)
                with open(os.path.join(folder, "config.json")) as f:
                    config = json.load(f)
                self.assertEqual(megabyte_ref.normalize_config(config), config)
                model = megabyte_ref.load_model_dir(folder)
                tensors = safetensors_io.read(os.path.join(folder, "model.safetensors"))
                dtype = arguments[arguments.index("--dtype") + 1].upper() if "--dtype" in arguments else "F32"
                self.assertEqual({str(t.dtype) for t in tensors.values()},
                                 {str(safetensors_io.DTYPES[dtype])})
                self.assertEqual(set(tensors), set(model.state_dict()))
                gains = [t for n, t in tensors.items() if n.endswith("norm.weight") or n.endswith(".g")]
                self.assertTrue(gains and all(float(t.float().std()) > 0.05 for t in gains), "norm gains are trivial")
        with open(os.path.join(self.folder, "paper_tied", "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["norm"], config["activation"], config["token_shift"], config["tie_embeddings"]),
                         ("rmsnorm", "gelu_tanh", True, True))
        self.assertNotIn("head.weight", safetensors_io.read(os.path.join(self.folder, "paper_tied", "model.safetensors")))

    def test_command_line_is_fast_and_checks_its_input(self):
        output = os.path.join(self.folder, "cli")
        started = time.time()
        done = subprocess.run([sys.executable, SCRIPT, "--arch", "megabyte-lucidrains", "--stages",
                               "64,2,4,16,8;32,2,4,8,4", "-o", output], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertLess(time.time() - started, 10.0)  # about 1 s on an idle core
        self.assertEqual(sorted(os.listdir(output)), ["config.json", "model.safetensors"])
        for bad in ("64,2,4,16;32,2,4,8,4", "64,2,4,16,x;32,2,4,8,4", "64,2,4,16,8"):
            errors = io.StringIO()
            with self.subTest(stages=bad), redirect_stderr(errors), self.assertRaises(SystemExit) as exit_:
                make_model.main(["--arch", "megabyte-lucidrains", "--stages", bad,
                                 "-o", os.path.join(self.folder, "bad")])
            self.assertNotEqual(exit_.exception.code, 0)
            self.assertIn("stages", errors.getvalue())
        self.assertFalse(os.path.exists(os.path.join(self.folder, "bad")))


if __name__ == "__main__":
    unittest.main()
