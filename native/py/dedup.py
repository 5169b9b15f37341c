"""Near-duplicate detection: MinHash signatures over 5-token shingles, banded LSH, Jaccard check."""
from __future__ import annotations

import re
import zlib
from collections import defaultdict

import numpy as np

TOKEN = re.compile(r"\w+|[^\w\s]")
N_PERM, BANDS, THRESHOLD = 64, 16, 0.8
_P = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(7)
_A = _rng.integers(1, (1 << 31) - 1, N_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 31) - 1, N_PERM, dtype=np.uint64)


def shingles(text: str) -> np.ndarray:
    toks = TOKEN.findall(text)
    if len(toks) < 5:
        toks = toks + [""] * (5 - len(toks))
    grams = {" ".join(toks[i:i + 5]) for i in range(len(toks) - 4)}
    return np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))


def signature(sh: np.ndarray) -> np.ndarray:
    # (a*x + b) mod p with x < 2^32 and a,b < 2^31 stays below 2^64
    return ((np.outer(_A, sh) + _B[:, None]) % _P).min(axis=1)


def near_duplicates(texts: list[str]) -> set[int]:
    """Indices to drop: a later text whose estimated Jaccard similarity with a kept earlier one is >= THRESHOLD."""
    shs = [shingles(t) for t in texts]
    sigs = [signature(s) for s in shs]
    rows = N_PERM // BANDS
    buckets = defaultdict(list)
    drop: set[int] = set()
    for i, sig in enumerate(sigs):
        cands = set()
        keys = [(b, sig[b * rows:(b + 1) * rows].tobytes()) for b in range(BANDS)]
        for k in keys:
            cands.update(buckets.get(k, ()))
        dup = any(np.mean(sigs[j] == sig) >= THRESHOLD for j in cands)
        if dup:
            drop.add(i)
            continue
        for k in keys:
            buckets[k].append(i)
    return drop
