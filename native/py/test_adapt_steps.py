"""Unit test for adapt_repo.py's default step count (one pass over the repository stream; issue 16 item 6).

  /usr/bin/python3 -m unittest discover -s native/py -p 'test_*.py'     (no torch needed)
"""
from __future__ import annotations

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from adapt_repo import auto_steps  # noqa: E402


class AutoSteps(unittest.TestCase):
    def test_one_pass_rounds_up(self):
        # comment-parser's stream: 212,062 tokens in batches of 8 x 512 = 4,096 tokens -> 52 steps (51.8 rounded up)
        self.assertEqual(auto_steps(212_062, 8, 512), 52)
        self.assertEqual(auto_steps(4_096, 8, 512, lo=1), 1)
        self.assertEqual(auto_steps(4_097, 8, 512, lo=1), 2)

    def test_clamped(self):
        self.assertEqual(auto_steps(100, 8, 512), 10)          # a tiny repository still gets 10 steps
        self.assertEqual(auto_steps(50_000_000, 8, 512), 200)  # a large one is capped (CPU time)
        self.assertEqual(auto_steps(0, 0, 0), 10)              # degenerate sizes do not divide by zero


if __name__ == "__main__":
    unittest.main()
