"""Chooses corpus v8's Debian binary packages (issue 16, session 12): Debian 13 "trixie" `python3-*` packages whose
text is new against everything Debian 12 "bookworm" gave (v2, v3, v5, v6 used every bookworm Python source here).

Taken: trixie `python3-*` binaries that bookworm does not have ("new"), then those whose upstream version (epoch and
Debian revision stripped) differs from every bookworm version of the same name ("changed": the changed files are new
text; unchanged ones are dropped later by exact hash / MinHash against the known texts). Left out, as v3:
  - `-dbg` / `-doc` packages, names under the hard exclusion (Django, HumanEval, ...),
  - packages whose distribution is in the site-packages corpus (`--skip-manifest`: also the eight held-out dev
    sources meson, flatbuffers, lineax, tiktoken, xxhash, jaxtyping, regex, tensorstore),
  - packages built (in bookworm or trixie) from a source package that also builds a package under the dev rule
    (sha1(name) % 20 == 0; any `python3-*` name of either release, or a name of the earlier lists): their code would
    leak into a held-out set. This also leaves out the dev-rule names themselves, so v8 has no dev split of its own,
  - the same upstream version as bookworm ("same": nothing new), .debs over `--max-mb`, and packages with no `.py`
    under usr/lib/python3/dist-packages/ by trixie's Contents (corpus_deb.py reads only there).
Order (so that a partial fetch is still useful): new names first, then changed; inside each, by the number of `.py`
files in dist-packages (Contents), most first.

  /usr/bin/python3 native/py/corpus_v8_select.py --trixie TRIXIE_PACKAGES --bookworm BOOKWORM_PACKAGES \
      --contents Contents-all.gz Contents-amd64.gz --skip-manifest native/corpus/manifest-py.json \
      --earlier native/corpus/deb-packages.txt native/corpus/deb-packages-v3.txt native/corpus/deb-packages-v6.txt \
      --out native/corpus/deb-packages-v8.txt --why native/corpus/deb-packages-v8-why.tsv
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(__file__))
from corpus_py import EXCLUDED_NAME  # noqa: E402


def parse_packages(text: str) -> dict[str, list[dict]]:
    """Packages index text -> {name: [{"source", "version", "arch", "size"}, ...]} (a name may come from several lists)."""
    out = defaultdict(list)
    for st in text.split("\n\n"):
        d = dict(re.findall(r"^([\w-]+): (.*)$", st, re.M))
        if "Package" in d:
            src = d.get("Source", d["Package"]).split()[0]
            out[d["Package"]].append({"source": src, "version": d.get("Version", ""), "arch": d.get("Architecture", ""),
                                      "size": int(d.get("Size", 0))})
    return out


def upstream(v: str) -> str:
    """Debian version -> upstream version: no epoch, no Debian revision."""
    v = v.split(":", 1)[1] if re.match(r"^\d+:", v) else v
    return v.rsplit("-", 1)[0] if "-" in v else v


def is_dev(name: str, dev_mod: int = 20) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % dev_mod == 0


def py_counts(paths: list[str], prefix: str = "usr/lib/python3/dist-packages/") -> Counter:
    """Contents-*.gz -> {package: .py files under prefix}."""
    c = Counter()
    for p in paths:
        with gzip.open(p, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith(prefix):
                    continue
                path, _, locs = line.rstrip("\n").rpartition(" ")
                if not path.rstrip().endswith(".py"):
                    continue
                for loc in locs.split(","):
                    c[loc.rsplit("/", 1)[-1]] += 1
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trixie", required=True)
    ap.add_argument("--bookworm", required=True)
    ap.add_argument("--contents", nargs="+", required=True)
    ap.add_argument("--skip-manifest", required=True)
    ap.add_argument("--earlier", nargs="*", default=[], help="earlier package lists (their dev-rule names count too)")
    ap.add_argument("--max-mb", type=float, default=20.0)
    ap.add_argument("--names", default=None,
                    help="v8b: take the names of this list (e.g. corpus_v6_select.py's over trixie: packages NOT named "
                         "python3-*, for corpus_deb.py --all-roots) in its order instead of trixie's python3-*, with the "
                         "same rules; the .py count is then every .py under usr/ (Contents)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--why", required=True)
    a = ap.parse_args()
    tx = parse_packages(open(a.trixie, encoding="utf-8", errors="replace").read())
    bw = parse_packages(open(a.bookworm, encoding="utf-8", errors="replace").read())
    site = {re.sub(r"[-_.]+", "-", p["name"].lower()) for p in json.load(open(a.skip_manifest))["packages"]}
    earlier = set()
    for f in a.earlier:
        earlier |= {l.strip() for l in open(f) if l.strip() and not l.startswith("#")}
    dev_names = {n for n in set(tx) | set(bw) | earlier if (n.startswith("python3-") or n in earlier) and is_dev(n)}
    dev_sources = {e["source"] for n in dev_names for e in tx.get(n, []) + bw.get(n, [])}
    pyc = py_counts(a.contents, "usr/" if a.names else "usr/lib/python3/dist-packages/")
    order = {}
    if a.names:
        order = {n: i for i, n in enumerate(l.strip() for l in open(a.names) if l.strip() and not l.startswith("#"))}
    chosen, why_out, left = [], {}, Counter()
    for n in (sorted(order, key=order.get) if a.names else sorted(tx)):
        if n not in tx or not (a.names or n.startswith("python3-")):
            continue
        t = max(tx[n], key=lambda e: e["size"])
        srcs = {e["source"] for e in tx[n] + bw.get(n, [])}
        bw_up = {upstream(e["version"]) for e in bw.get(n, [])}
        dist = re.sub(r"[-_.]+", "-", (n[len("python3-"):] if n.startswith("python3-") else n).lower())
        r = ("dbg/doc" if re.search(r"-dbg$" if a.names else r"-(dbg|doc)$", n) else
             "excluded" if EXCLUDED_NAME.search(n) or re.search(r"django|human[-_]?eval", n, re.I) else
             "in the site-packages corpus" if dist in site else
             "source of a dev-rule package" if srcs & dev_sources else
             "same upstream version as bookworm" if upstream(t["version"]) in bw_up else
             "too large" if t["size"] > a.max_mb * 1e6 else
             "no .py (Contents)" if pyc[n] == 0 else None)
        if r:
            left[r] += 1
            continue
        kind = "changed" if n in bw else "new"
        chosen.append((0 if kind == "new" else 1, order.get(n, 0) if a.names else -pyc[n], n))
        why_out[n] = (kind, ",".join(sorted({e["version"] for e in bw.get(n, [])})) or "-", t["version"], t["source"],
                      t["arch"], t["size"], pyc[n])
    chosen.sort()
    with open(a.out, "w") as f:
        for _, _, n in chosen:
            f.write(n + "\n")
    with open(a.why, "w") as f:
        f.write("# rank\tname\twhy (new: not in bookworm; changed: other upstream version)\tbookworm version(s)\t"
                "trixie version\tsource\tarch\tdeb bytes\t.py in " + ("usr/" if a.names else "dist-packages") + " (Contents)\n")
        for i, (_, _, n) in enumerate(chosen, 1):
            f.write("\t".join(map(str, (i, n, *why_out[n]))) + "\n")
    kinds = Counter(why_out[n][0] for n in why_out)
    print(json.dumps({"trixie_python3": sum(1 for n in tx if n.startswith("python3-")), "chosen": len(chosen),
                      **{f"chosen_{k}": v for k, v in kinds.items()},
                      "py_files": sum(why_out[n][6] for n in why_out), "deb_mb": round(sum(why_out[n][5] for n in why_out) / 1e6, 1),
                      "left_out": dict(left), "dev_names": len(dev_names), "dev_sources": len(dev_sources)}, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
