#!/usr/bin/python3
"""tools/mbc-import-pytorch: round trips of MEGABYTE-pytorch checkpoints, and rejections.

Checkpoints are state_dicts of the reference's megabyte-lucidrains module, whose
names and shapes test_lucidrains_forward.py holds to MEGABYTE.md.
"""

import importlib.machinery
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import megabyte_ref  # noqa: E402
import reference_models  # noqa: E402

TOOL = os.path.join(HERE, "..", "..", "tools", "mbc-import-pytorch")
MBC = os.environ.get("MBC", os.path.join(HERE, "..", "..", "build", "bin", "mbc"))


def load_tool():
    loader = importlib.machinery.SourceFileLoader("mbc_import_pytorch", TOOL)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def config_for(args):
    """The reference config MEGABYTE(**args) corresponds to."""
    count = len(args["depth"])
    dims = args["dim"] if isinstance(args["dim"], list) else [args["dim"]] * count
    stages = [(dims[s], args["depth"][s], args.get("heads", 8), args.get("dim_head", 64), args["max_seq_len"][s])
              for s in range(count)]
    return reference_models.lucidrains_config(stages, rotary=args.get("rel_pos", False),
                                              pos_emb=args.get("pos_emb", False), pad_id=args.get("pad_id", 0),
                                              ff_mult=args.get("ff_mult", 4))


ROUND_TRIPS = {
    "two_stage_plain": {"num_tokens": 256, "dim": [32, 16], "depth": [2, 1], "max_seq_len": [6, 4],
                        "dim_head": 8, "heads": 2},
    "two_stage_rotary_int_dim_patch6": {"num_tokens": 256, "dim": 24, "depth": [1, 2], "max_seq_len": [4, 6],
                                        "dim_head": 6, "heads": 3, "rel_pos": True, "ff_mult": 2},
    "three_stage_pos_emb": {"num_tokens": 256, "dim": [40, 24, 16], "depth": [1, 1, 1], "max_seq_len": [3, 5, 3],
                            "dim_head": 8, "heads": 2, "pos_emb": True, "pad_id": 32},
    "three_stage_rotary_pos_emb": {"num_tokens": 256, "dim": [32, 32, 16], "depth": [1, 0, 2],
                                   "max_seq_len": [2, 3, 7], "dim_head": 4, "heads": 5, "rel_pos": True,
                                   "pos_emb": True, "flash_attn": False, "attn_dropout": 0.1},
}


class Importer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tool = load_tool()

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="mbc-import-test-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.folder, ignore_errors=True))

    def write_inputs(self, args, state, wrap=None):
        checkpoint = os.path.join(self.folder, "model.pt")
        torch.save({wrap: state} if wrap else state, checkpoint)
        args_path = os.path.join(self.folder, "args.json")
        with open(args_path, "w") as f:
            f.write(args if isinstance(args, str) else json.dumps(args))
        return checkpoint, args_path

    def run_tool(self, checkpoint, args_path, output, *extra):
        errors = io.StringIO()
        with redirect_stderr(errors):
            code = self.tool.main(["--checkpoint", checkpoint, "--args", args_path, "-o", output, *extra])
        return code, errors.getvalue()

    def test_round_trips(self):
        for (name, args), wrap, dtype in zip(ROUND_TRIPS.items(), (None, "model", "state_dict", None),
                                             ("f32", "f32", "bf16", "f16")):
            with self.subTest(checkpoint=name, wrapped_under=wrap, dtype=dtype):
                model = reference_models.random_model(config_for(args), seed=len(name))
                checkpoint, args_path = self.write_inputs(args, model.state_dict(), wrap)
                output = os.path.join(self.folder, name)
                code, errors = self.run_tool(checkpoint, args_path, output, "--dtype", dtype)
                self.assertEqual(code, 0, errors)
                with open(os.path.join(output, "config.json")) as f:
                    config = json.load(f)
                self.assertEqual(config["architecture"], "megabyte-lucidrains")
                self.assertEqual(megabyte_ref.normalize_config(config), config_for(args))
                imported = megabyte_ref.load_model_dir(output)
                original, back = model.state_dict(), imported.state_dict()
                self.assertEqual(set(original), set(back))
                cast = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[dtype]
                for key in original:
                    stored = original[key] if key.endswith("inv_freq") else original[key].to(cast).float()
                    self.assertTrue(torch.equal(back[key], stored), key)
                if os.access(MBC, os.X_OK):  # the compiler's importer must accept the directory too
                    done = subprocess.run([MBC, output, "--emit=mb"], capture_output=True, text=True, timeout=120)
                    self.assertEqual(done.returncode, 0, done.stderr[-2000:])
                if dtype == "f32":
                    ids = torch.randint(0, 256, (1, model.max_len - 1))
                    with torch.no_grad():
                        self.assertTrue(torch.equal(imported.log_probs(ids), model.log_probs(ids)))

    def expect_rejection(self, args, state, *phrases):
        checkpoint, args_path = self.write_inputs(args, state)
        output = os.path.join(self.folder, "out")
        code, errors = self.run_tool(checkpoint, args_path, output)
        self.assertEqual(code, 1)
        for phrase in phrases:
            self.assertIn(phrase, errors)
        self.assertFalse(os.path.exists(output), "a rejected import left output behind")
        self.assertEqual([n for n in os.listdir(self.folder) if n.startswith(".partial")], [])

    def test_rejections(self):
        args = ROUND_TRIPS["two_stage_plain"]
        state = reference_models.random_model(config_for(args), seed=1).state_dict()
        kv = "transformers.1.layers.0.0.to_kv.weight"
        cases = {
            "pre-0.3 single-head K/V": ({**state, kv: torch.zeros(2 * 8, 16)}, args, [kv, "single-head", "v0.3.0"]),
            "missing key": ({k: v for k, v in state.items() if k != "to_logits.bias"}, args,
                            ["missing tensor to_logits.bias"]),
            "extra key": ({**state, "pos_embs.0.weight": torch.zeros(6, 32)}, args,
                          ["unexpected tensor pos_embs.0.weight"]),
            "wrong shape": ({**state, "token_embs.1.3.weight": torch.zeros(32, 60)}, args,
                            ["token_embs.1.3.weight", "(32, 60)", "(32, 64)"]),
            "args contradict (pos_emb)": (state, {**args, "pos_emb": True}, ["missing tensor pos_embs.0.weight"]),
            "args contradict (heads)": (state, {**args, "heads": 4}, ["transformers.0.layers.0.0.to_q.weight"]),
            "not JSON": (state, "{num_tokens: 256", ["cannot read JSON"]),
            "missing num_tokens": (state, {k: v for k, v in args.items() if k != "num_tokens"}, ["num_tokens"]),
            "depth not a list": (state, {**args, "depth": 2}, ["depth"]),
            "dim list of wrong length": (state, {**args, "dim": [32, 16, 8]}, ["dim"]),
            "unknown argument": (state, {**args, "dims": [32, 16]}, ["dims", "not a MEGABYTE"]),
            "rel_pos not a bool": (state, {**args, "rel_pos": "yes"}, ["rel_pos"]),
            "integer tensor": ({**state, "to_logits.bias": torch.zeros(256, dtype=torch.long)}, args,
                               ["to_logits.bias", "floating point"]),
        }
        for name, (bad_state, bad_args, phrases) in cases.items():
            with self.subTest(case=name):
                self.expect_rejection(bad_args, bad_state, *phrases)

    def test_not_a_checkpoint(self):
        args_path = os.path.join(self.folder, "args.json")
        with open(args_path, "w") as f:
            json.dump(ROUND_TRIPS["two_stage_plain"], f)
        bogus = os.path.join(self.folder, "bogus.pt")
        with open(bogus, "wb") as f:
            f.write(b"not a zip or a pickle")
        code, errors = self.run_tool(bogus, args_path, os.path.join(self.folder, "out"))
        self.assertEqual(code, 1)
        self.assertIn("cannot load", errors)

    def test_command_line(self):
        """The executable itself: exit status and message."""
        args = ROUND_TRIPS["two_stage_plain"]
        state = reference_models.random_model(config_for(args), seed=2).state_dict()
        checkpoint, args_path = self.write_inputs(args, state)
        output = os.path.join(self.folder, "cli")
        done = subprocess.run([TOOL, "--checkpoint", checkpoint, "--args", args_path, "-o", output],
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(sorted(os.listdir(output)), ["config.json", "model.safetensors"])
        del state["to_logits.weight"]
        checkpoint, args_path = self.write_inputs(args, state)
        done = subprocess.run([TOOL, "--checkpoint", checkpoint, "--args", args_path, "-o", output + "2"],
                              capture_output=True, text=True)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("to_logits.weight", done.stderr)


if __name__ == "__main__":
    unittest.main()
