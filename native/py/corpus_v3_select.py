"""Chooses corpus v3's Debian binary packages (issue 16): the `python3-*` packages of Debian 12 main that v2 left out.

v2 (`native/corpus/deb-packages.txt`) took one Architecture-all `python3-*` package per source package, .deb of
20 KB-3 MB. v3 takes every other `python3-*` binary package, Architecture all or any (a compiled extension
package ships its Python modules too), .deb up to `--max-mb`, except:
  - `-dbg` / `-doc` packages (no Python source),
  - names matching the hard exclusion (Django, HumanEval),
  - packages built from a source package that also builds a v2 dev package (sha1(name) % 20 == 0 of a v2 name):
    their code would leak into the held-out set,
  - packages whose distribution is in the site-packages corpus (`--skip-manifest`, v1; corpus_deb.py skips these
    too, this only makes the list honest).

  /usr/bin/python3 native/py/corpus_v3_select.py --packages PACKAGES --v2-list native/corpus/deb-packages.txt \
      --skip-manifest native/corpus/manifest-py.json [--max-mb 20] > native/corpus/deb-packages-v3.txt
PACKAGES: Debian's binary `Packages` index, decompressed (`/usr/lib/apt/apt-helper cat-file LISTS/*_Packages.lz4`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import os

sys.path.insert(0, os.path.dirname(__file__))
from corpus_py import EXCLUDED_NAME  # noqa: E402


def parse_packages(text: str) -> dict[str, dict]:
    """Debian `Packages` index text -> {name: {"source", "arch", "size"}} (size: the .deb's bytes)."""
    out = {}
    for st in text.split("\n\n"):
        d = dict(re.findall(r"^([\w-]+): (.*)$", st, re.M))
        if "Package" in d:
            out[d["Package"]] = {"source": d.get("Source", d["Package"]).split()[0], "arch": d.get("Architecture", ""),
                                 "size": int(d.get("Size", 0))}
    return out


def is_v2_dev(name: str, dev_mod: int = 20) -> bool:
    """corpus_deb.py's held-out rule for a binary package name."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % dev_mod == 0


def select(pkgs: dict[str, dict], v2: set[str], site: set[str], max_bytes: int) -> tuple[list[str], dict[str, int]]:
    """(names chosen, sorted; counts of the names left out by reason). Never raises on odd names."""
    dev_sources = {pkgs[n]["source"] for n in v2 if n in pkgs and is_v2_dev(n)}
    chosen, why = [], {}
    for n in sorted(pkgs):
        if not n.startswith("python3-") or n in v2:
            continue
        p = pkgs[n]
        r = ("dbg/doc" if re.search(r"-(dbg|doc)$", n) else
             "excluded" if EXCLUDED_NAME.search(n) or re.search(r"django|human[-_]?eval", n, re.I) else
             "source of a v2 dev package" if p["source"] in dev_sources else
             "in the site-packages corpus" if re.sub(r"[-_.]+", "-", n[len("python3-"):].lower()) in site else
             "too large" if p["size"] > max_bytes else None)
        if r:
            why[r] = why.get(r, 0) + 1
        else:
            chosen.append(n)
    return chosen, why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", required=True)
    ap.add_argument("--v2-list", required=True)
    ap.add_argument("--skip-manifest", required=True)
    ap.add_argument("--max-mb", type=float, default=20.0)
    a = ap.parse_args()
    pkgs = parse_packages(open(a.packages, encoding="utf-8", errors="replace").read())
    v2 = {l.strip() for l in open(a.v2_list) if l.strip() and not l.startswith("#")}
    site = {re.sub(r"[-_.]+", "-", p["name"].lower()) for p in json.load(open(a.skip_manifest))["packages"]}
    chosen, why = select(pkgs, v2, site, int(a.max_mb * 1e6))
    print(f"# Debian 12 (bookworm) main python3-* packages that v2 (deb-packages.txt) left out: {len(chosen)} packages, "
          f"{sum(pkgs[n]['size'] for n in chosen) / 1e6:.0f} MB of .debs; left out: {json.dumps(why, sort_keys=True)}; "
          "see native/py/corpus_v3_select.py")
    print("\n".join(chosen))


if __name__ == "__main__":
    main()
