"""Selects corpus v6's Debian packages (issue 16, session 10): binary packages of Debian 12 main NOT named python3-*
that ship the most `.py` files (applications, tools, doc/examples packages), for `corpus_deb.py --all-roots`.

  /usr/bin/python3 native/py/corpus_v6_select.py --contents .work/v6/Contents-all.gz .work/v6/Contents-amd64.gz \
      --packages .work/v6/Packages --out native/corpus/deb-packages-v6.txt --counts native/corpus/deb-packages-v6-counts.tsv

Counts, per package, the paths in Contents ending `.py` (a line's packages split on ','). Leaves out names starting
`python3-`, names in --skip-list files (v2's and v3's lists), hard-exclusion names (corpus_py.EXCLUDED_NAME: Django,
HumanEval, ...), packages that Depend on Django, and names not in the apt lists' Packages file. Takes packages with
>= --min-py `.py` files and a .deb <= --max-mb, then a second batch with a .deb of --max-mb..--large-max-mb and
>= --large-min-py `.py` files. Writes the list (one name a line, '#' comments) and a TSV of counts and .deb sizes.
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
from corpus_py import EXCLUDED_NAME  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contents", nargs="+", required=True)
    ap.add_argument("--packages", required=True, help="the apt lists' Packages file (apt-helper cat-file)")
    ap.add_argument("--skip-list", nargs="*", default=["native/corpus/deb-packages.txt", "native/corpus/deb-packages-v3.txt"])
    ap.add_argument("--min-py", type=int, default=5)
    ap.add_argument("--max-mb", type=float, default=30)
    ap.add_argument("--large-min-py", type=int, default=20)
    ap.add_argument("--large-max-mb", type=float, default=150)
    ap.add_argument("--out", required=True)
    ap.add_argument("--counts", required=True)
    a = ap.parse_args()
    cnt = Counter()
    for fn in a.contents:
        with gzip.open(fn, "rt", errors="replace") as f:
            for line in f:
                m = re.match(r"^(.*?)\s+(\S+)$", line.rstrip("\n"))
                if m and m.group(1).endswith(".py"):
                    for loc in m.group(2).split(","):
                        cnt[loc.rsplit("/", 1)[-1]] += 1
    old = set()
    for f in a.skip_list:
        old |= {l.strip() for l in open(f) if l.strip() and not l.startswith("#")}
    pk = {}
    for st in open(a.packages, errors="replace").read().split("\n\n"):
        m = re.search(r"^Package: (\S+)", st, re.M)
        if m:
            g = lambda k: (re.search(rf"^{k}: (.*)$", st, re.M) or [None, ""])[1]
            pk[m.group(1)] = (int(g("Size") or 0), g("Depends") + ", " + g("Pre-Depends"))
    small, large, left = [], [], Counter()
    for n, k in sorted(cnt.items(), key=lambda x: (-x[1], x[0])):
        if n.startswith("python3-") or n in old or k < min(a.min_py, a.large_min_py):
            continue
        if EXCLUDED_NAME.search(n):
            left["excluded name"] += 1
        elif n not in pk:
            left["not in the apt lists"] += 1
        elif "django" in pk[n][1]:
            left["depends on Django"] += 1
        elif pk[n][0] <= a.max_mb * 1e6:
            if k >= a.min_py:
                small.append((n, k, pk[n][0]))
        elif pk[n][0] <= a.large_max_mb * 1e6 and k >= a.large_min_py:
            large.append((n, k, pk[n][0]))
        else:
            left["larger .deb"] += 1
    with open(a.out, "w") as f:
        f.write(f"# Debian 12 (bookworm) main binary packages NOT named python3-* (and not in {' / '.join(map(os.path.basename, a.skip_list))}) "
                f"with >= {a.min_py} .py files in Contents, .deb <= {a.max_mb:g} MB, in the apt lists, not Django (name or Depends) "
                f"nor the hard exclusions: {len(small)} packages; counts in {os.path.basename(a.counts)}; see native/corpus/README.md "
                f"\"v6 Python candidates (session 10)\"\n")
        f.writelines(n + "\n" for n, _, _ in small)
        f.write(f"# + .deb of {a.max_mb:g}-{a.large_max_mb:g} MB with >= {a.large_min_py} .py files (second run): {len(large)} packages\n")
        f.writelines(n + "\n" for n, _, _ in large)
    with open(a.counts, "w") as f:
        f.write("package\tpy_files_in_contents\tdeb_bytes\n")
        f.writelines(f"{n}\t{k}\t{s}\n" for n, k, s in small + large)
    print(f"{len(small)} + {len(large)} packages, {sum(k for _, k, _ in small + large)} .py; left out: {dict(left)}", file=sys.stderr)


if __name__ == "__main__":
    main()
