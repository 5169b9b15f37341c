"""Turns corpus files into one training token stream: chunking, the FIM transform, tokenization.

FIM (arXiv 2207.14255) at the character level on `fim_rate` of the chunks, PSM and SPM jointly:
  PSM: <fim_prefix> P <fim_suffix> S <fim_middle> M <|endoftext|>
  SPM: <fim_suffix> S <fim_prefix> P <fim_middle> M <|endoftext|>
Span choice: 40% uniform random character span (as in the paper), 60% editor-like spans (a random
cursor column to the end of its line, or through 1-8 further lines), because the editor asks for
exactly those. Other chunks are plain left-to-right text followed by <|endoftext|>.
"""
from __future__ import annotations

import json

import numpy as np

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


def pick_span(rng, text: str):
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


def build_stream(tok, texts, seed: int, fim_rate: float = 0.9, spm_rate: float = 0.5, max_chars: int = 3000):
    """Returns a uint16 numpy token stream (documents in random order)."""
    rng = np.random.default_rng(seed)
    pieces = []  # text pieces to encode
    plan = []  # per chunk: list of ints (sentinel ids) or ("t", piece_index)
    for t in texts:
        for c in chunks(t, max_chars):
            if rng.random() < fim_rate:
                a, b = pick_span(rng, c)
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
    return np.concatenate(parts)
