"""Checks packed corpus parts (v3_pack.py's OUT/partN.jsonl.xz) before they go to the GPU machine (issue 16).

  /usr/bin/python3 native/py/corpus_check.py --held-out native/corpus/npm-packages-v2.json [--known A.jsonl ...] -- PART.jsonl.xz ...

Per part, on every record ({"pkg","path","lang","text"}): the hard exclusion (v3_pack.excluded: rxjs/rx/effect
names, Django or HumanEval in any spelling in package, path or text); the package name (the `pkg` before its last
`@version`) is not a held-out npm package (split dev or aside in a --held-out list); with --known, the text's exact
content hash (dedup.content_hash) is in none of those corpus files (e.g. corpus v2 and v3). Also: no package is in
two parts (parts hold whole packages). Prints one line a part and a total; exits 1 if anything fails, 0 otherwise.
Reads only the files named.
"""
from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from data import pkg_name  # noqa: E402,F401 (the tests import it from here too)
from dedup import content_hash, hashes_of  # noqa: E402
from v3_pack import excluded  # noqa: E402


def held_out_names(lists: list[str]) -> set[str]:
    """Names of the packages with split dev or aside in select-npm/fetch-npm package lists (JSON with "packages";
    a name ending in .gz is read gzip-compressed, as the tiers v3 on are stored)."""
    out: set[str] = set()
    for p in lists:
        with (gzip.open(p, "rt", encoding="utf-8") if p.endswith(".gz") else open(p, encoding="utf-8")) as f:
            out |= {x["name"] for x in json.load(f)["packages"] if x.get("split", "train") != "train"}
    return out


def check_part(path: str, held: set[str], known: set[str]) -> dict:
    """Counts for one xz JSON-lines part: records, packages, excluded, held_out, known (exact hash), bad (unreadable or
    missing fields)."""
    c = {"part": os.path.basename(path), "records": 0, "packages": set(), "excluded": 0, "held_out": 0, "known": 0, "bad": 0}
    with lzma.open(path, "rt") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                pkg, text = r["pkg"], r["text"]
                r["path"], r["lang"]
            except (ValueError, KeyError, TypeError):
                c["bad"] += 1
                continue
            c["records"] += 1
            c["packages"].add(pkg)
            c["excluded"] += excluded(r)
            c["held_out"] += pkg_name(pkg) in held
            c["known"] += bool(known) and content_hash(text) in known
    return c


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("parts", nargs="+")
    ap.add_argument("--held-out", nargs="*", default=[], help="package lists (.json or .json.gz) whose dev/aside packages must not appear")
    ap.add_argument("--known", nargs="*", default=[], help="JSON-lines corpus files whose texts must not appear")
    a = ap.parse_args()
    held, known = held_out_names(a.held_out), hashes_of(a.known)
    owner: dict[str, str] = {}
    fails = split = 0
    for p in a.parts:
        c = check_part(p, held, known)
        for k in c["packages"]:
            split += k in owner
            owner.setdefault(k, c["part"])
        print(f"{c['part']}: {c['records']} records, {len(c['packages'])} packages, excluded {c['excluded']}, "
              f"held-out {c['held_out']}, known {c['known']}, bad {c['bad']}", flush=True)
        fails += c["excluded"] + c["held_out"] + c["known"] + c["bad"]
    print(f"total: {len(a.parts)} parts, {len(owner)} packages, {len(held)} held-out names, {len(known)} known hashes; "
          f"packages in two parts {split}; {'FAIL' if fails or split else 'ok'}")
    return 1 if fails or split else 0


if __name__ == "__main__":
    sys.exit(main())
