"""Packs corpus v5 (issue 16, session 10) incrementally: full parts of whole packages, written while later sources
are still being fetched, so packing overlaps fetching.

  python3 native/py/v5_pack.py --out .dev/v5 --prefix npm --state .work/v5/npm [--final] [--target-mb 105] \
      [--max-mib 19.0] [--chars-per-token 3.2] [--source TEXT] IN1.jsonl IN2.jsonl ...

IN files: training records ({"pkg","path","lang","text"}, v2/v3's format, what py/v2_streams.py reads), in priority
order. STATE.pending.jsonl (records left over by the previous call) is read first, then the inputs. Dropped: a record
under the hard exclusion (v3_pack.excluded) and a record whose exact content hash (dedup.content_hash) is an earlier
one's (this call's or any earlier call's with the same --state: STATE.seen holds the hashes). Packages go, in input
order, into the current part until the next one would take it over --target-mb MB of text; the part is then written as
OUT/PREFIXN.jsonl.xz (N = the next free number; sorted by package then path; `xz -T2 -3`). A part over --max-mib MiB
is undone: its last packages go back and it is written again with fewer. What is left after the last full part is
kept in STATE.pending.jsonl for the next call, or, with --final, written as parts of balanced size. Each part written
appends one JSON line to OUT/v5-pack.jsonl (file, MiB, records, packages, text bytes and characters, estimated
tokens, source) and OUT/STATUS.md is rewritten from it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(__file__))
from v3_pack import screen  # noqa: E402


def next_index(out: str, prefix: str) -> int:
    n = 1
    while os.path.exists(os.path.join(out, f"{prefix}{n}.jsonl.xz")):
        n += 1
    return n


def write_part(out: str, prefix: str, pkgs: list[list[dict]], max_mib: float) -> tuple[str, int, list[list[dict]]]:
    """Writes pkgs as the next PREFIXN.jsonl.xz; if it is over max_mib, drops trailing packages (in proportion to the
    excess, 3 % margin) and writes again. Returns (path, xz bytes, packages left out)."""
    left: list[list[dict]] = []
    n = next_index(out, prefix)
    while True:
        path = os.path.join(out, f"{prefix}{n}.jsonl")
        with open(path, "w") as f:
            for r in sorted((r for p in pkgs for r in p), key=lambda r: (r["pkg"], r["path"])):
                f.write(json.dumps({"pkg": r["pkg"], "path": r["path"], "lang": r["lang"], "text": r["text"]}) + "\n")
        subprocess.run(["xz", "-T2", "-3", "-f", path], check=True)
        xz = os.path.getsize(path + ".xz")
        if xz <= max_mib * 2 ** 20:
            return path + ".xz", xz, left
        os.remove(path + ".xz")
        keep_bytes = sum(pkg_bytes(p) for p in pkgs) * (max_mib * 2 ** 20 / xz) * 0.97
        acc, k = 0, 0
        while k < len(pkgs) and acc + pkg_bytes(pkgs[k]) <= keep_bytes:
            acc += pkg_bytes(pkgs[k])
            k += 1
        print(f"{prefix}{n}: {xz / 2 ** 20:.2f} MiB > {max_mib}: again with {k} of {len(pkgs)} packages", flush=True)
        left = pkgs[k:] + left
        pkgs = pkgs[:k]


def pkg_bytes(p: list[dict]) -> int:
    return sum(len(r["text"].encode()) for r in p)


def status(out: str, title: str = "corpus v5 parts (issue 16, session 10; written by native/py/v5_pack.py)") -> None:
    rows = []
    with open(os.path.join(out, "v5-pack.jsonl")) as f:
        rows = [json.loads(l) for l in f if l.strip()]
    lines = [f"# {title}", "",
             "| file | MiB (xz) | records | packages | MB of text | est. tokens (M) | source |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['file']} | {r['xz_mib']:.2f} | {r['records']:,} | {r['packages']:,} | {r['text_bytes'] / 1e6:.1f} "
                     f"| {r['est_tokens'] / 1e6:.1f} | {r['source']} |")
    lines.append(f"| **total** | {sum(r['xz_mib'] for r in rows):.2f} | {sum(r['records'] for r in rows):,} | "
                 f"{sum(r['packages'] for r in rows):,} | {sum(r['text_bytes'] for r in rows) / 1e6:.1f} | "
                 f"{sum(r['est_tokens'] for r in rows) / 1e6:.1f} | |")
    extra = os.path.join(out, "STATUS.extra.md")
    if os.path.exists(extra):
        lines += ["", open(extra).read().rstrip()]
    with open(os.path.join(out, "STATUS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--state", required=True, help="path prefix of STATE.pending.jsonl and STATE.seen")
    ap.add_argument("--final", action="store_true")
    ap.add_argument("--target-mb", type=float, default=105.0)
    ap.add_argument("--max-mib", type=float, default=19.0)
    ap.add_argument("--chars-per-token", type=float, default=3.2)
    ap.add_argument("--source", default="")
    ap.add_argument("--title", default="corpus v5 parts (issue 16, session 10; written by native/py/v5_pack.py)",
                    help="STATUS.md's heading (v8: the Debian trixie parts)")
    ap.add_argument("--status-only", action="store_true", help="only rewrite OUT/STATUS.md from OUT/v5-pack.jsonl")
    a = ap.parse_args()
    if a.status_only:
        status(a.out, a.title)
        return 0
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(os.path.dirname(a.state) or ".", exist_ok=True)  # e.g. .work/v6pack/: the state is written after the parts
    seen_path, pend_path = a.state + ".seen", a.state + ".pending.jsonl"
    seen = set(open(seen_path).read().split()) if os.path.exists(seen_path) else set()
    pkgs: OrderedDict[str, list[dict]] = OrderedDict()
    counts = {"read": 0, "excluded": 0, "dup_exact": 0}
    new_seen = []
    if os.path.exists(pend_path):
        with open(pend_path) as f:
            for l in f:
                if l.strip():
                    r = json.loads(l)
                    pkgs.setdefault(r["pkg"], []).append(r)
    for p in a.inputs:
        with open(p) as f:
            for l in f:
                if not l.strip():
                    continue
                r = json.loads(l)
                counts["read"] += 1
                verdict, h = screen(r, seen)
                if verdict:
                    counts[verdict] += 1
                else:
                    new_seen.append(h)
                    pkgs.setdefault(r["pkg"], []).append(r)
    print(json.dumps({"inputs": a.inputs, **counts, "packages_in_hand": len(pkgs)}), flush=True)
    queue = list(pkgs.values())
    target = a.target_mb * 1e6
    if a.final:  # balance the last parts (a plain greedy fill left a 4.5 MB tail part for tiers v4a-v4e); 3 % slack
        total = sum(map(pkg_bytes, queue))
        n = max(1, -(-int(total) // int(target)))
        target = min(target, total / n * 1.03)
    while queue:
        acc, k = 0, 0
        while k < len(queue) and (k == 0 or acc + pkg_bytes(queue[k]) <= target):
            acc += pkg_bytes(queue[k])
            k += 1
        if k == len(queue) and acc <= target and not a.final:
            break  # not full: wait for more
        path, xz, left = write_part(a.out, a.prefix, queue[:k], a.max_mib)
        written = queue[:k][: k - len(left)]
        queue = left + queue[k:]
        recs = [r for p in written for r in p]
        chars = sum(len(r["text"]) for r in recs)
        row = {"file": os.path.basename(path), "xz_mib": xz / 2 ** 20, "records": len(recs), "packages": len(written),
               "text_bytes": sum(len(r["text"].encode()) for r in recs), "chars": chars,
               "est_tokens": round(chars / a.chars_per_token), "source": a.source}
        with open(os.path.join(a.out, "v5-pack.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")
        status(a.out, a.title)
        print(json.dumps(row), flush=True)
    with open(pend_path + ".tmp", "w") as f:
        for p in queue:
            for r in p:
                f.write(json.dumps(r) + "\n")
    os.replace(pend_path + ".tmp", pend_path)
    with open(seen_path, "a") as f:
        f.write("".join(h + "\n" for h in new_seen))
    print(f"pending: {len(queue)} packages, {sum(map(pkg_bytes, queue)) / 1e6:.1f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
