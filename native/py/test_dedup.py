"""Unit tests for dedup.write_deduplicated (the corpus builders' last step): python3 -m unittest discover -s native/py"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dedup import write_deduplicated  # noqa: E402


def body(n: int, tag: str) -> str:
    return "\n".join(f"def f{i}_{tag}(x):\n    return x * {i} + {len(tag)}" for i in range(n)) + "\n"


class WriteDeduplicated(unittest.TestCase):
    def test_drops_exact_then_near_duplicates_keeping_train(self):
        base = body(40, "a")
        docs = [
            ("p", "train", "a.py", base),
            ("q", "train", "b.py", base.replace("\n", "   \n")),  # the same text up to trailing spaces: exact
            ("r", "dev", "c.py", base.replace("f39_a", "g39_a")),  # one name changed: near, and dev loses
            ("s", "dev", "d.py", body(40, "different_tag_entirely")),
        ]
        with tempfile.TemporaryDirectory() as d:
            totals = write_deduplicated(docs, os.path.join(d, "t.jsonl"), os.path.join(d, "v.jsonl"))
            train = [json.loads(l) for l in open(os.path.join(d, "t.jsonl"))]
            dev = [json.loads(l) for l in open(os.path.join(d, "v.jsonl"))]
        self.assertEqual(totals["exact_duplicates"], 1)
        self.assertEqual(totals["near_duplicates"], 1)
        self.assertEqual([r["path"] for r in train], ["a.py"])
        self.assertEqual([r["path"] for r in dev], ["d.py"])
        self.assertEqual(totals["train"], {"files": 1, "bytes": len(base.encode())})


if __name__ == "__main__":
    unittest.main()
