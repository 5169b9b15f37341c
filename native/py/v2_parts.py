"""Splits corpus v2's training records into N parts of whole packages (for issue 16's v2 training job), so that
each part travels to the GPU machine in one device call (carried as .dev/v2/partN.jsonl.xz, <= ~30 MiB each).

  /usr/bin/python3 native/py/v2_parts.py --parts 5 --out .dev/v2 .work/corpus/npm-train.jsonl .work/debout/deb-train.jsonl
Writes OUT/partN.jsonl (N = 1..parts; compress them with xz afterwards) and prints their raw sizes. Packages are
assigned greedily, largest first, to the part with the fewest bytes, so a package's files stay together (the
repository-level sequences of data.py group files by package). Dev and aside packages are separate input files
and never read here.
"""
from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--parts", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    by_pkg = defaultdict(list)
    for p in a.inputs:
        with open(p, "rb") as f:
            for line in f:
                if line.strip():
                    by_pkg[(p, json.loads(line)["pkg"])].append(line if line.endswith(b"\n") else line + b"\n")
    sizes = [0] * a.parts
    assign = defaultdict(list)
    for key in sorted(by_pkg, key=lambda k: (-sum(map(len, by_pkg[k])), k)):
        i = min(range(a.parts), key=lambda j: sizes[j])
        assign[i].append(key)
        sizes[i] += sum(map(len, by_pkg[key]))
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.parts):
        with open(os.path.join(a.out, f"part{i + 1}.jsonl"), "wb") as f:
            for key in sorted(assign[i]):
                f.writelines(by_pkg[key])
    print(json.dumps({"parts": [{"part": i + 1, "packages": len(assign[i]), "bytes": sizes[i]} for i in range(a.parts)]}))


if __name__ == "__main__":
    main()
