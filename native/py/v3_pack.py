"""Packs corpus v3 (issue 16) for the GPU machine: parts of whole packages, xz-compressed, each small enough for one
device call (a call carries ~33 MiB of data; the parts are kept <= --max-mib, 25 MiB by default).

  /usr/bin/python3 native/py/v3_pack.py --out .dev/v3 --known V2.jsonl ... -- IN1.jsonl IN2.jsonl ...
IN files: the v3 builders' training records ({"pkg","path","lang","text"}), in priority order (the first copy of a
file is the one kept). Before packing, across all inputs: a record whose exact content hash (dedup.content_hash) is
a --known record's (corpus v2: train, dev, aside) or an earlier input's is dropped, then MinHash near duplicates
(dedup.near_duplicates, per language; only with --near) of an earlier record; and a record under the hard exclusion (rxjs/rx/effect
names; Django or HumanEval in any spelling in path or text) is dropped.
Parts: packages assigned greedily, largest first, to the part with the fewest bytes (as v2_parts.py), with as many
parts as raw bytes / --part-mb; each part is written as OUT/partN.jsonl.xz (`xz -T2 -3`) and checked against
--max-mib. OUT/v3-pack.json records the counts (inputs, dropped by reason, parts with raw and xz bytes).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))
from dedup import content_hash, hashes_of, near_duplicates  # noqa: E402

# by package name: anything named rxjs (rxjs-compat is RxJS's own code), RxJS 4's npm names (rx, rx-lite*,
# @reactivex/*), Effect (effect, @effect/*), Django, HumanEval
EXCLUDED_PKG = re.compile(r"rxjs|^(src:)?(rx|rx-lite[^@]*|@reactivex/[^@]*|effect|@effect/[^@]*)@|django|human[-_ ]?eval", re.I)
EXCLUDED_TEXT = re.compile(r"django|humaneval|human[-_ ]?eval", re.I)


def excluded(rec: dict) -> bool:
    """True if a record falls under the hard exclusion (by package name, path or text). The TS/JS builders apply
    this text rule already; corpus_deb.py's Python rule is narrower (Django, `HumanEval`, `human_eval`), so this
    also catches `human-eval`, `human eval`, ... there."""
    return bool(EXCLUDED_PKG.search(rec["pkg"]) or EXCLUDED_TEXT.search(rec["path"]) or EXCLUDED_TEXT.search(rec["text"]))


def screen(rec: dict, seen: set[str], known=frozenset()) -> tuple[str | None, str]:
    """One record against the packing rules, in their order: "excluded" (the hard exclusion), "dup_v2" (its exact
    content hash is in `known`), "dup_exact" (an earlier record's, in `seen`), or None: the record is new and its
    hash has been added to `seen`. Returns (verdict, hash). Shared by deduplicate() and v5_pack.py."""
    h = content_hash(rec["text"])
    if excluded(rec):
        return "excluded", h
    if h in known:
        return "dup_v2", h
    if h in seen:
        return "dup_exact", h
    seen.add(h)
    return None, h


def deduplicate(inputs: list[list[dict]], known: set[str], near: bool = True) -> tuple[list[dict], dict]:
    """Records of all inputs (in order) less: excluded (the hard exclusion), dup_v2 (hash in `known`), dup_exact
    (hash of an earlier record), dup_near (MinHash near duplicate of an earlier record of the same language).
    Returns (kept, counts)."""
    counts = {"excluded": 0, "dup_v2": 0, "dup_exact": 0, "dup_near": 0}
    seen, uniq = set(), []
    for recs in inputs:
        for r in recs:
            verdict, _ = screen(r, seen, known)
            if verdict:
                counts[verdict] += 1
            else:
                uniq.append(r)
    drop = set()
    by_lang = defaultdict(list)
    for i, r in enumerate(uniq):
        by_lang["python" if r["lang"] == "python" else "ts/js"].append(i)
    for idx in by_lang.values() if near else ():
        drop |= {idx[j] for j in near_duplicates([uniq[i]["text"] for i in idx])}
    counts["dup_near"] = len(drop)
    return [r for i, r in enumerate(uniq) if i not in drop], counts


def assign_parts(recs: list[dict], n_parts: int) -> list[list[dict]]:
    """Whole packages into n_parts parts, largest package first to the part with the fewest bytes; each part sorted
    by package then path."""
    by_pkg = defaultdict(list)
    for r in recs:
        by_pkg[r["pkg"]].append(r)
    size = {k: sum(len(r["text"].encode()) for r in v) for k, v in by_pkg.items()}
    parts, sizes = [[] for _ in range(n_parts)], [0] * n_parts
    for k in sorted(by_pkg, key=lambda k: (-size[k], k)):
        i = min(range(n_parts), key=lambda j: sizes[j])
        parts[i] += by_pkg[k]
        sizes[i] += size[k]
    return [sorted(p, key=lambda r: (r["pkg"], r["path"])) for p in parts]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--known", nargs="*", default=[])
    ap.add_argument("--part-mb", type=float, default=100.0,
                    help="MB of text a part (xz -3 makes ~0.175 of it: ~17.5 MiB, which leaves room for the tracked files)")
    ap.add_argument("--max-mib", type=float, default=25.0)
    ap.add_argument("--near", action="store_true", help="also MinHash near duplicates across the inputs (pure Python and slow: over 550 MB it had "
                    "not finished after 4.5 min at load 10; each builder already removes them inside its own source)")
    a = ap.parse_args()
    known = hashes_of(a.known)
    inputs, per_input = [], []
    for p in a.inputs:
        with open(p) as f:
            recs = [json.loads(l) for l in f if l.strip()]
        inputs.append(recs)
        per_input.append({"file": os.path.basename(p), "files": len(recs), "bytes": sum(len(r["text"].encode()) for r in recs)})
    kept, counts = deduplicate(inputs, known, near=a.near)
    total = sum(len(r["text"].encode()) for r in kept)
    n_parts = max(1, math.ceil(total / (a.part_mb * 1e6)))
    os.makedirs(a.out, exist_ok=True)
    parts_info = []
    for i, part in enumerate(assign_parts(kept, n_parts)):
        path = os.path.join(a.out, f"part{i + 1}.jsonl")
        with open(path, "w") as f:
            for r in part:
                f.write(json.dumps({"pkg": r["pkg"], "path": r["path"], "lang": r["lang"], "text": r["text"]}) + "\n")
        raw = os.path.getsize(path)
        subprocess.run(["xz", "-T2", "-3", "-f", path], check=True)
        xz = os.path.getsize(path + ".xz")
        parts_info.append({"part": i + 1, "packages": len({r["pkg"] for r in part}), "files": len(part),
                           "text_bytes": sum(len(r["text"].encode()) for r in part), "jsonl_bytes": raw, "xz_bytes": xz})
        if xz > a.max_mib * 2 ** 20:
            sys.exit(f"part{i + 1}.jsonl.xz is {xz / 2 ** 20:.1f} MiB > {a.max_mib} MiB: lower --part-mb")
    info = {"inputs": per_input, "dropped": counts, "kept": {"files": len(kept), "bytes": total,
            "packages": len({r['pkg'] for r in kept}),
            "by_lang": {l: sum(len(r["text"].encode()) for r in kept if r["lang"] == l) for l in sorted({r["lang"] for r in kept})}},
            "parts": parts_info}
    with open(os.path.join(a.out, "v3-pack.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
