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


def content_hash(text: str) -> str:
    """The exact-duplicate key of the corpus builders: sha256 (hex) of the text with each line's trailing whitespace
    and the text's outer whitespace trimmed."""
    import hashlib

    return hashlib.sha256("\n".join(l.rstrip() for l in text.strip().split("\n")).encode()).hexdigest()


def hashes_of(paths: list[str]) -> set[str]:
    """content_hash of every record's "text" in the given JSON-lines corpus files (e.g. corpus v2, to drop its files
    from v3)."""
    import json

    out: set[str] = set()
    for p in paths:
        with open(p) as f:
            out.update(content_hash(json.loads(l)["text"]) for l in f if l.strip())
    return out


def write_deduplicated(docs: list[tuple[str, str, str, str]], train_path: str, dev_path: str) -> dict:
    """Drops exact duplicates (after trimming line ends), then MinHash near-duplicates (train files sorted first, so
    a dev file resembling a train file is the one dropped), and writes the rest as JSON lines
    `{"pkg", "path", "lang": "python", "text"}` to `train_path` / `dev_path` by each doc's split.
    docs: (package, split "train"|"dev", relative path, text). Returns the counts for a corpus manifest's totals:
    {"exact_duplicates", "near_duplicates", "train": {"files", "bytes"}, "dev": {...}}."""
    import json

    seen, uniq, exact = set(), [], 0
    for d in docs:
        h = content_hash(d[3])
        if h in seen:
            exact += 1
            continue
        seen.add(h)
        uniq.append(d)
    uniq.sort(key=lambda d: (d[1] != "train", d[0], d[2]))
    drop = near_duplicates([d[3] for d in uniq])
    counts = defaultdict(lambda: [0, 0])
    with open(train_path, "w") as ft, open(dev_path, "w") as fd:
        for i, (pkg, split, rel, text) in enumerate(uniq):
            if i in drop:
                continue
            (ft if split == "train" else fd).write(json.dumps({"pkg": pkg, "path": rel, "lang": "python", "text": text}) + "\n")
            counts[split][0] += 1
            counts[split][1] += len(text.encode())
    return {"exact_duplicates": exact, "near_duplicates": len(drop),
            "train": {"files": counts["train"][0], "bytes": counts["train"][1]},
            "dev": {"files": counts["dev"][0], "bytes": counts["dev"][1]}}
