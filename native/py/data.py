"""Turns corpus files into one training token stream: chunking, the FIM transform, tokenization.

FIM (arXiv 2207.14255) at the character level on `fim_rate` of the chunks, PSM and SPM jointly:
  PSM: <fim_prefix> P <fim_suffix> S <fim_middle> M <|endoftext|>
  SPM: <fim_suffix> S <fim_prefix> P <fim_middle> M <|endoftext|>
Span choice (`span_mix`): "v2" (the default, and every evaluation stream): 40% uniform random character span (as in
the paper), 60% editor-like spans (a random cursor column to the end of its line, or through 1-8 further lines),
because the editor asks for exactly those. "lines" (issue 16, session 11): 25% random, 20% cursor to the end of its
line, 25% cursor through 1-8 further lines, 30% a whole block of 1-8 lines from a line's indentation (the request an
editor makes after Enter). "lines2": the same, but half of the blocks start at the line's first column, the middle
holding the indentation (the request on an empty line, and HumanEval-infilling's form): with "lines", a middle that
starts at a line's first column was almost always a top-level line, and the model trained on it (v5, session 11)
answered 175 of 1,033 such indented HumanEval lines with a new top-level `def`. Measured first for "lines": v3 ended 83 of 200 TypeScript and 99 of 200 Python multi-line dev tasks with
<|endoftext|> before the reference's last line, having been trained on half of its editor spans ending at the first
line end. Other chunks are plain left-to-right text followed by <|endoftext|>.
"""
from __future__ import annotations

import json

import numpy as np


def pkg_name(pkg: str) -> str:
    """A corpus record's `pkg` (`name@version`) -> `name`; scoped names (`@scope/x@1.0`) keep their leading `@`."""
    return pkg.rsplit("@", 1)[0] if pkg.rfind("@") > 0 else pkg


EOT, PRE, MID, SUF = 0, 1, 2, 3


def read_jsonl(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += [json.loads(l)["text"] for l in f]
    return out


def chunks(text: str, max_chars: int):
    """Split at line boundaries into pieces of at most ~max_chars (long lines stay whole)."""
    if len(text) <= max_chars:
        return [text]
    out, cur, n = [], [], 0
    for line in text.splitlines(keepends=True):
        if n + len(line) > max_chars and cur:
            out.append("".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += len(line)
    if cur:
        out.append("".join(cur))
    return out


SPAN_MIXES = ("v2", "lines", "lines2")


def _line_end(text: str, i: int) -> int:
    e = text.find("\n", i)
    return len(text) if e < 0 else e


def _more_lines(text: str, b: int, k: int) -> int:
    """From the line end b, through k further lines (or to the end of the text)."""
    for _ in range(k):
        nxt = text.find("\n", b + 1)
        if nxt < 0:
            return len(text)
        b = nxt
    return b


def pick_span(rng, text: str, span_mix: str = "v2"):
    """The middle [a, b) of one FIM example, as character offsets into text (see the module doc for the mixes).
    Raises ValueError for an unknown span_mix."""
    n = len(text)
    r = rng.random()
    if span_mix == "v2":
        if r < 0.4 or n < 2:
            a, b = sorted(rng.integers(0, n + 1, 2))
            return int(a), int(b)
        a = int(rng.integers(0, n))
        eol = _line_end(text, a)
        if r < 0.7:
            return a, eol
        return a, _more_lines(text, eol, int(rng.integers(1, 9)))
    if span_mix not in ("lines", "lines2"):
        raise ValueError(f"unknown span_mix {span_mix!r} (one of {', '.join(SPAN_MIXES)})")
    if r < 0.25 or n < 2:
        a, b = sorted(rng.integers(0, n + 1, 2))
        return int(a), int(b)
    a = int(rng.integers(0, n))
    if r >= 0.7:  # a block from a line's indentation: the line a is on, 1-8 lines in all
        ls = text.rfind("\n", 0, a) + 1
        line = text[ls:_line_end(text, ls)]
        a = ls + len(line) - len(line.lstrip(" \t"))
        k = int(rng.integers(0, 8))
        if span_mix == "lines2" and rng.random() < 0.5:
            a = ls
        return a, _more_lines(text, _line_end(text, a), k)
    eol = _line_end(text, a)
    if r < 0.45:
        return a, eol
    return a, _more_lines(text, eol, int(rng.integers(1, 9)))


def build_stream(tok, texts, seed: int, fim_rate: float = 0.9, spm_rate: float = 0.5, max_chars: int = 3000,
                 span_mix: str = "v2"):
    """Returns a uint16 numpy token stream (documents in random order); span_mix: pick_span's."""
    rng = np.random.default_rng(seed)
    pieces = []  # text pieces to encode
    plan = []  # per chunk: list of ints (sentinel ids) or ("t", piece_index)
    for t in texts:
        for c in chunks(t, max_chars):
            if rng.random() < fim_rate:
                a, b = pick_span(rng, c, span_mix)
                p, m, s = c[:a], c[a:b], c[b:]
                ip, im, is_ = len(pieces), len(pieces) + 1, len(pieces) + 2
                pieces += [p, m, s]
                if rng.random() < spm_rate:
                    plan.append([SUF, ("t", is_), PRE, ("t", ip), MID, ("t", im), EOT])
                else:
                    plan.append([PRE, ("t", ip), SUF, ("t", is_), MID, ("t", im), EOT])
            else:
                plan.append([("t", len(pieces)), EOT])
                pieces.append(c)
    enc = tok.encode_batch(pieces, add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=np.uint16) for e in enc]
    order = rng.permutation(len(plan))
    parts = []
    for i in order:
        for item in plan[i]:
            if isinstance(item, tuple):
                parts.append(ids[item[1]])
            else:
                parts.append(np.asarray([item], dtype=np.uint16))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint16)


REPO, FILE_SEP = 6, 5  # <repo_name>, <file_sep> (tokenizer_config.json of models/default)


def repo_groups(files, rng, max_chars: int = 6000, max_files: int = 8):
    """Groups one package's files into repository-level sequences (StarCoder2, arXiv 2402.19173).

    files: [(path, text)] of ONE package. Returns lists of (path, text), each of 2..max_files files whose
    texts total at most max_chars (a file longer than max_chars / 2 is left out: it would crowd out the
    context). Files are shuffled (seeded by rng) so that the last file (the one that gets FIM) varies.
    """
    small = [f for f in files if len(f[1]) <= max_chars // 2]
    order = rng.permutation(len(small))
    groups, cur, n = [], [], 0
    for i in order:
        p, t = small[int(i)]
        if cur and (n + len(t) > max_chars or len(cur) >= max_files):
            if len(cur) >= 2:
                groups.append(cur)
            cur, n = [], 0
        cur.append((p, t))
        n += len(t)
    if len(cur) >= 2:
        groups.append(cur)
    return groups


def repo_plan(repo: str, group, rng, pieces: list, fim_rate: float = 0.9, spm_rate: float = 0.5, span_mix: str = "v2"):
    """One repository-level sequence as a plan (sentinel ids and ("t", piece index) items; pieces is appended to).

    The layout is the one infill-ls sends (server/src/prompt/repo.ts, StarCoder2 style):
      <repo_name>{repo}<file_sep>{path}\\n{text}\\n ... <file_sep>{last path}\\n  then the last file as a FIM
    example (PSM or SPM, spans as in pick_span) or, with probability 1 - fim_rate, as plain text, then <|endoftext|>.
    """
    def piece(s):
        pieces.append(s)
        return ("t", len(pieces) - 1)

    plan = [REPO, piece(repo)]
    for path, text in group[:-1]:
        plan += [FILE_SEP, piece(f"{path}\n{text}\n")]
    path, text = group[-1]
    plan += [FILE_SEP, piece(f"{path}\n")]
    if rng.random() < fim_rate:
        a, b = pick_span(rng, text, span_mix)
        p, m, s = piece(text[:a]), piece(text[a:b]), piece(text[b:])
        plan += [SUF, s, PRE, p, MID, m, EOT] if rng.random() < spm_rate else [PRE, p, SUF, s, MID, m, EOT]
    else:
        plan += [piece(text), EOT]
    return plan


def build_repo_stream(tok, records, seed: int, max_chars: int = 6000, leftovers: list | None = None, **kw):
    """Token stream (uint16) of repository-level sequences from corpus records ({"pkg","path","text"}), grouped by pkg.

    leftovers: when a list, the texts of the files no sequence took (longer than max_chars / 2, or left alone at the
    end of a package's grouping) are appended to it, so that the caller can train on them as single files instead of
    losing them (v2_streams.py does)."""
    rng = np.random.default_rng(seed)
    by_pkg: dict[str, list] = {}
    for r in records:
        by_pkg.setdefault(r["pkg"], []).append((r["path"], r["text"]))
    pieces, plans = [], []
    for pkg in sorted(by_pkg):
        name = pkg_name(pkg)
        groups = repo_groups(by_pkg[pkg], rng, max_chars)
        if leftovers is not None:
            placed = {f for g in groups for f in g}
            leftovers.extend(t for f in by_pkg[pkg] if f not in placed for t in [f[1]])
        for g in groups:
            plans.append(repo_plan(name, g, rng, pieces, **kw))
    if not plans:
        return np.zeros(0, dtype=np.uint16)
    ids = [np.asarray(e.ids, dtype=np.uint16) for e in tok.encode_batch(pieces, add_special_tokens=False)]
    parts = []
    for i in rng.permutation(len(plans)):
        for item in plans[i]:
            parts.append(ids[item[1]] if isinstance(item, tuple) else np.asarray([item], dtype=np.uint16))
    return np.concatenate(parts)
