#!/usr/bin/python3
"""The shipped example models: loadable, as described, and reproducible."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import megabyte_ref  # noqa: E402

KJV = os.path.join(REPO, "examples", "kjv-lucidrains")
PAPER = os.path.join(REPO, "examples", "paper-random")
MBC = os.environ.get("MBC", os.path.join(REPO, "build", "bin", "mbc"))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class TrainedExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        with open(os.path.join(KJV, "metrics.json")) as f:
            cls.metrics = json.load(f)
        cls.model = megabyte_ref.load_model_dir(KJV)

    def test_size_and_architecture(self):
        self.assertEqual(self.model.config["architecture"], "megabyte-lucidrains")
        parameters = sum(p.numel() for p in self.model.parameters())
        self.assertEqual(parameters, self.metrics["parameters"])
        self.assertTrue(2_000_000 <= parameters <= 10_000_000)
        self.assertLessEqual(os.path.getsize(os.path.join(KJV, "model.safetensors")), 20 * 1024 * 1024)

    def test_stated_bits_per_byte(self):
        """The README's number is what the reference measures on heldout.txt."""
        with open(os.path.join(KJV, "heldout.txt"), "rb") as f:
            heldout = f.read()
        self.assertEqual(len(heldout), self.metrics["heldout_txt_bytes"])
        measured = megabyte_ref.bits_per_byte(self.model, heldout)
        self.assertAlmostEqual(measured, self.metrics["heldout_txt_bpb"], delta=5e-4)
        self.assertLess(measured, 3.0, "the model did not learn")
        with open(os.path.join(KJV, "README.md")) as f:
            readme = f.read()
        self.assertIn(f"{self.metrics['heldout_txt_bpb']:.3f}", readme)

    def test_heldout_text_is_not_training_text(self):
        sys.path.insert(0, KJV)
        import train  # noqa: E402

        with open(os.path.join(KJV, "heldout.txt"), "rb") as f:
            heldout = f.read()
        if not os.path.exists("/usr/lib/bible.data"):
            self.skipTest("bible-kjv-text is not installed")
        from kjv_text import read_kjv  # noqa: E402

        text = read_kjv()
        training, held_out, heldout_file = train.split_text(text)
        self.assertEqual(heldout_file, heldout)
        self.assertEqual(training + held_out, text)
        self.assertGreaterEqual(len(held_out), 0.04 * len(text))
        self.assertNotIn(heldout[:4096], training)


class PaperExample(unittest.TestCase):
    def test_regenerates_byte_identically(self):
        folder = tempfile.mkdtemp(prefix="paper-random-")
        self.addCleanup(shutil.rmtree, folder, True)
        done = subprocess.run([sys.executable, os.path.join(PAPER, "make.py"), "-o", folder],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        for name in ("config.json", "model.safetensors"):
            self.assertEqual(sha256(os.path.join(folder, name)), sha256(os.path.join(PAPER, name)), name)

    def test_loads_as_the_paper_architecture(self):
        model = megabyte_ref.load_model_dir(PAPER)
        self.assertEqual(model.config["architecture"], "megabyte")
        self.assertEqual(model.bytes_per_position[0], 8)


@unittest.skipUnless(os.access(MBC, os.X_OK), f"mbc not built ({MBC}); set MBC to run")
class CompilerAcceptsExamples(unittest.TestCase):
    def test_emit_mb(self):
        for folder in (KJV, PAPER):
            with self.subTest(example=os.path.basename(folder)):
                done = subprocess.run([MBC, folder, "--emit=mb"], capture_output=True, text=True, timeout=120)
                self.assertEqual(done.returncode, 0, done.stderr[-2000:])
                self.assertTrue(re.search(r"mb\.architecture", done.stdout))


if __name__ == "__main__":
    unittest.main()
