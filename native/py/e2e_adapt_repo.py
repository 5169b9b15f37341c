"""End-to-end test of native/adapt-repo.sh on a tiny repository (needs torch, onnx, numpy, node and a built
server; not in the numpy-only test_*.py set):
  /usr/bin/python3 -m unittest native/py/e2e_adapt_repo.py -v
Asserts: the loss on the repository's own token stream falls after a few steps (fixed windows, margin 0.05 nats),
the exported directory loads in `infill-ls complete --model OUT` and returns a completion, the repository's
files are byte-identical afterwards and models/default is unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))

FILES = {  # written for this test
    "src/range.ts": "export function range(start: number, end: number): number[] {\n  const out: number[] = [];\n"
                    "  for (let i = start; i < end; i++) out.push(i);\n  return out;\n}\n\n"
                    "export function sum(xs: number[]): number {\n  return xs.reduce((a, b) => a + b, 0);\n}\n",
    "src/strings.ts": "export function shout(s: string): string {\n  return s.toUpperCase() + '!';\n}\n\n"
                      "export function whisper(s: string): string {\n  return s.toLowerCase() + '...';\n}\n\n"
                      "export function repeat(s: string, n: number): string {\n  return range(0, n).map(() => s).join('');\n}\n",
    "src/index.ts": "export { range, sum } from './range';\nexport { shout, whisper, repeat } from './strings';\n\n"
                    "// the package's entry point: re-exports its helpers for the tests below\nexport const VERSION = '0.0.1';\n",
}


def tree_hash(d):
    h = {}
    for r, _, fs in os.walk(d):
        for f in fs:
            p = os.path.join(r, f)
            h[os.path.relpath(p, d)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return h


class AdaptRepoE2E(unittest.TestCase):
    def test_adapt_tiny_repo(self):
        with tempfile.TemporaryDirectory() as tmp:
            repo, out = os.path.join(tmp, "tiny"), os.path.join(tmp, "adapted")
            for rel, text in FILES.items():
                os.makedirs(os.path.dirname(os.path.join(repo, rel)), exist_ok=True)
                open(os.path.join(repo, rel), "w").write(text)
            before, base_before = tree_hash(repo), tree_hash(os.path.join(ROOT, "models/default"))
            run = subprocess.run(["bash", "native/adapt-repo.sh", repo, out, "--steps", "6", "--batch", "2", "--seq", "64",
                                  "--peak-lr", "1e-3", "--warmup-frac", "0.2", "--eval-windows", "8", "--threads", "2"],
                                 cwd=ROOT, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stdout[-2000:] + run.stderr[-2000:])
            meta = json.load(open(os.path.join(out, "adapt.json")))
            self.assertLess(meta["loss_after"]["repo_train"], meta["loss_before"]["repo_train"] - 0.05, meta)
            self.assertEqual(sorted(os.listdir(out)), ["adapt.json", "config.json", "onnx", "tokenizer.json", "tokenizer_config.json"])
            cfg = json.load(open(os.path.join(out, "config.json")))
            self.assertEqual(cfg["infill_ls"]["adapted"]["steps"], 6)
            f = os.path.join(tmp, "probe.ts")
            open(f, "w").write("export function double(x: number): number {\n  return \n}\n")
            c = subprocess.run(["node", "bin/infill-ls.js", "complete", f, "--line", "2", "--column", "10", "--model", out,
                                "--device", "cpu", "--json"], cwd=ROOT, capture_output=True, text=True)
            self.assertEqual(c.returncode, 0, c.stderr[-2000:])
            res = json.loads(c.stdout)
            self.assertEqual(res["status"]["state"], "ready")
            self.assertGreater(res["timings"]["generatedTokens"], 0)
            self.assertEqual(tree_hash(repo), before)
            self.assertEqual(tree_hash(os.path.join(ROOT, "models/default")), base_before)


if __name__ == "__main__":
    unittest.main()
