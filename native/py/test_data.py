"""Unit tests for data.py's repository-level sequences (issue 16).

  /usr/bin/python3 -m unittest discover -s native/py -p 'test_*.py'     (needs numpy only)
"""
from __future__ import annotations

import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from data import EOT, FILE_SEP, MID, PRE, REPO, SUF, build_repo_stream, repo_groups, repo_plan  # noqa: E402


class ByteTok:
    """A real (if trivial) tokenizer: one id per UTF-8 byte, shifted past the 7 special ids."""

    class _E:
        def __init__(self, s):
            self.ids = [b + 7 for b in s.encode("utf-8")]

    def encode_batch(self, xs, add_special_tokens=False):
        return [self._E(x) for x in xs]

    @staticmethod
    def decode(ids):
        out, buf = [], bytearray()
        names = {EOT: "<|endoftext|>", PRE: "<fim_prefix>", MID: "<fim_middle>", SUF: "<fim_suffix>", FILE_SEP: "<file_sep>", REPO: "<repo_name>"}
        for i in ids:
            if i >= 7:
                buf.append(i - 7)
            else:
                out.append(buf.decode("utf-8") + names[i])
                buf = bytearray()
        return "".join(out) + buf.decode("utf-8")


FILES = [(f"src/m{i}.ts", f"export const v{i} = {i};\n" * (i + 1)) for i in range(10)]


def render(plan, pieces):
    return ByteTok.decode([x for item in plan for x in ([b + 7 for b in pieces[item[1]].encode()] if isinstance(item, tuple) else [item])])


class RepoSequences(unittest.TestCase):
    def test_groups_respect_budget_and_keep_two_or_more_files(self):
        rng = np.random.default_rng(0)
        groups = repo_groups(FILES, rng, max_chars=120, max_files=3)
        self.assertTrue(groups)
        for g in groups:
            self.assertGreaterEqual(len(g), 2)
            self.assertLessEqual(len(g), 3)
            self.assertLessEqual(sum(len(t) for _, t in g), 120)
        # no file twice, and a file over half the budget never goes in
        paths = [p for g in groups for p, _ in g]
        self.assertEqual(len(paths), len(set(paths)))
        self.assertTrue(all(len(dict(FILES)[p]) <= 60 for p in paths))

    def test_files_no_sequence_takes_are_handed_back(self):
        # a file over half the budget cannot join a sequence: with `leftovers` the caller gets its text back (v2_streams.py
        # trains on it as a single file), and no text both joins a sequence and comes back
        long_text = "export const big = 1;\n" * 40
        records = [{"pkg": "p@1.0.0", "path": p, "text": t} for p, t in FILES[:4]] + [{"pkg": "p@1.0.0", "path": "src/big.ts", "text": long_text}]
        left = []
        stream = build_repo_stream(ByteTok(), records, seed=0, max_chars=120, leftovers=left, fim_rate=0.0)  # no FIM: texts stay whole
        self.assertGreater(stream.size, 0)
        self.assertIn(long_text, left)
        rendered = ByteTok.decode([int(x) for x in stream])
        for t in left:
            self.assertNotIn(t, rendered)
        # every file either joined a sequence (its text is in the stream) or came back
        self.assertEqual(len(left) + sum(1 for _, t in FILES[:4] if t in rendered), 5)

    def test_one_file_package_gives_no_sequence(self):
        self.assertEqual(repo_groups(FILES[:1], np.random.default_rng(0)), [])

    def test_layout_matches_the_engine_prompt_and_fim_is_in_the_last_file(self):
        group = [("src/a.ts", "export const a = 1;\n"), ("src/b.ts", "import { a } from './a';\nexport const b = a + 1;\n")]
        for seed in range(20):
            rng = np.random.default_rng(seed)
            pieces = []
            plan = repo_plan("my-pkg", group, rng, pieces, fim_rate=1.0)
            text = render(plan, pieces)
            head = "<repo_name>my-pkg<file_sep>src/a.ts\nexport const a = 1;\n\n<file_sep>src/b.ts\n"
            self.assertTrue(text.startswith(head), text)
            rest = text[len(head):]
            self.assertTrue(rest.endswith("<|endoftext|>"))
            body = rest[: -len("<|endoftext|>")]
            if body.startswith("<fim_prefix>"):  # PSM: P <fim_suffix> S <fim_middle> M
                p, rest2 = body[len("<fim_prefix>"):].split("<fim_suffix>")
                s, m = rest2.split("<fim_middle>")
            else:  # SPM: <fim_suffix> S <fim_prefix> P <fim_middle> M
                self.assertTrue(body.startswith("<fim_suffix>"), body)
                s, rest2 = body[len("<fim_suffix>"):].split("<fim_prefix>")
                p, m = rest2.split("<fim_middle>")
            self.assertEqual(p + m + s, group[1][1])  # the last file, whole, cut into prefix/middle/suffix
            self.assertEqual(text.count("<file_sep>"), 2)

    def test_plain_last_file_without_fim(self):
        pieces = []
        plan = repo_plan("p", FILES[:2], np.random.default_rng(1), pieces, fim_rate=0.0)
        text = render(plan, pieces)
        self.assertEqual(text, f"<repo_name>p<file_sep>{FILES[0][0]}\n{FILES[0][1]}\n<file_sep>{FILES[1][0]}\n{FILES[1][1]}<|endoftext|>")

    def test_stream_holds_every_package_and_only_known_ids(self):
        recs = [{"pkg": f"pkg{k}@1.0.0", "path": p, "text": t} for k in range(3) for p, t in FILES[:4]]
        st = build_repo_stream(ByteTok(), recs, seed=3, max_chars=200)
        self.assertEqual(st.dtype, np.uint16)
        text = ByteTok.decode(st.tolist())
        for k in range(3):
            self.assertIn(f"<repo_name>pkg{k}<file_sep>", text)  # the version is not part of the repository name
        self.assertEqual(text.count("<repo_name>"), text.count("<|endoftext|>"))
        self.assertEqual(build_repo_stream(ByteTok(), [], seed=0).size, 0)


if __name__ == "__main__":
    unittest.main()


def _pick_span_v2_reference(rng, text):
    """pick_span as it was before span mixes existed (sessions 7-10), to check that "v2" still draws the same spans."""
    n = len(text)
    r = rng.random()
    if r < 0.4 or n < 2:
        a, b = sorted(rng.integers(0, n + 1, 2))
        return int(a), int(b)
    a = int(rng.integers(0, n))
    eol = text.find("\n", a)
    eol = n if eol < 0 else eol
    if r < 0.7:
        return a, eol
    b = eol
    for _ in range(int(rng.integers(1, 9))):
        nxt = text.find("\n", b + 1)
        if nxt < 0:
            b = n
            break
        b = nxt
    return a, b


CODE = "".join(f"def f{i}(x):\n    if x > {i}:\n        return x * {i}\n\n    return {i}\n" for i in range(40))


class SpanMixTest(unittest.TestCase):
    def test_v2_mix_draws_the_spans_it_always_drew(self):
        from data import pick_span
        r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
        for _ in range(2000):
            self.assertEqual(pick_span(r1, CODE), _pick_span_v2_reference(r2, CODE))

    def test_lines_mix_shares_and_block_spans(self):
        from data import pick_span
        rng = np.random.default_rng(3)
        n, blocks, multi, one_line = 20000, 0, 0, 0
        for _ in range(n):
            a, b = pick_span(rng, CODE, "lines")
            self.assertTrue(0 <= a <= b <= len(CODE))
            mid = CODE[a:b]
            line_start = CODE.rfind("\n", 0, a) + 1
            at_indent = CODE[line_start:a].strip(" \t") == "" and (a == len(CODE) or CODE[a] not in " \t")
            ends_at_eol = b == len(CODE) or CODE[b] == "\n"
            if at_indent and ends_at_eol:
                blocks += 1
            if ends_at_eol and "\n" in mid:
                multi += 1
            elif ends_at_eol:
                one_line += 1
        # 30% block spans by construction, plus cursor spans that happen to start at an indentation (~1 in 12 columns
        # here); multi-line spans ending at a line end: 25% cursor + ~7/8 of the 30% blocks, plus a few random spans
        self.assertGreater(blocks / n, 0.30)
        self.assertLess(blocks / n, 0.42)
        self.assertGreater(multi / n, 0.45)
        self.assertLess(multi / n, 0.56)
        self.assertGreater(one_line / n, 0.20)
        self.assertLess(one_line / n, 0.30)

    def test_unknown_mix_is_refused(self):
        from data import pick_span
        with self.assertRaises(ValueError):
            pick_span(np.random.default_rng(0), CODE, "fancy")

    def test_lines2_starts_half_of_the_blocks_at_the_first_column(self):
        from data import pick_span
        rng = np.random.default_rng(5)
        n, col0_indented = 20000, 0
        for _ in range(n):
            a, b = pick_span(rng, CODE, "lines2")
            line_start = CODE.rfind("\n", 0, a) + 1
            if a == line_start and CODE[a:a + 1] in (" ", "\t") and (b == len(CODE) or CODE[b] == "\n"):
                col0_indented += 1
        # a block's line is drawn by character, and CODE's indented lines hold ~80% of its characters: half of the 30%
        # blocks start at column 0 of an indented line, ~0.3 * 0.5 * 0.8 = 12%, plus cursor spans that happen to sit
        # at column 0 (~2%, what "lines" gives)
        self.assertGreater(col0_indented / n, 0.10)
        self.assertLess(col0_indented / n, 0.18)
        rng = np.random.default_rng(5)
        lines_col0 = 0
        for _ in range(n):
            a, b = pick_span(rng, CODE, "lines")
            if a == CODE.rfind("\n", 0, a) + 1 and CODE[a:a + 1] in (" ", "\t") and (b == len(CODE) or CODE[b] == "\n"):
                lines_col0 += 1
        self.assertLess(lines_col0 / n, 0.04)
