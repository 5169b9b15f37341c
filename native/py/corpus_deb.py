"""Builds the Debian part of the Python corpus (issue 16): the sources in Debian's `python3-*` packages.

Debian ships pure-Python packages as source, so a package's .deb holds its `.py` files and its licence
(`usr/share/doc/PKG/copyright`, machine-readable DEP-5). Per package: `apt-get download` (cached in
`--work`), `dpkg-deb -x`, licence = the `License:` of the `Files: *` stanza (or the first stanza), used only
when it is permissive by the same rule as corpus_py.py (MIT, BSD, Apache, ISC, PSF, ...; no GPL family).
Files under `usr/lib/python3/dist-packages/`; the same per-file filters as corpus_py.py (vendored,
generated, size, minified, HumanEval, FIM sentinels), exact + MinHash near-duplicate removal. Packages
whose distribution name is in `--skip-manifest` (manifest-py.json: the GPU machine's site-packages, the
v1 corpus) are skipped so the new data does not repeat the old. Django and HumanEval are excluded.

  /usr/bin/python3 native/py/corpus_deb.py --list native/corpus/deb-packages.txt --work .work/deb --out DIR
      [--skip-manifest native/corpus/manifest-py.json] [--jobs 2]
--drop-hashes F.jsonl ...: files whose exact content hash is a record's there (corpus v2) are dropped (v3).
Writes DIR/deb-train.jsonl, DIR/deb-dev.jsonl ({"pkg","path","lang","text"}) and DIR/manifest-deb.json.
"""
from __future__ import annotations

import argparse
import fnmatch
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(__file__))
from corpus_py import EXCLUDED_NAME, drop_reason, permissive  # noqa: E402
from dedup import content_hash, hashes_of, write_deduplicated  # noqa: E402


_ALLOWED = {"mit", "expat", "isc", "bsd-2-clause", "bsd-3-clause", "apache-2.0", "apache-2", "0bsd",
            "psf", "psf-2", "psf-2.0", "python", "python-2.0", "python-2", "psfl", "bsd-2", "bsd-3",
            "bsd-2-clause-freebsd", "bsd-3-clause-clear"}


def licence_allowed(lic: str) -> bool:
    """A DEP-5 `License:` short name -> allowed under the corpus rule. `A or B`: one allowed option is enough;
    `A and B` (or `A, B`): every part must be allowed. Unknown names (GPL family, MPL, CC-*, public-domain, X11, ...)
    are refused. Never raises."""
    s = (lic or "").strip().lower()
    if not s:
        return False
    for option in re.split(r"\s+or\s+|\s*\|\s*", s):
        parts = [p.strip().rstrip("+").strip() for p in re.split(r"\s+and\s+|\s*,\s*", option) if p.strip()]
        if parts and all(p.replace(" ", "-") in _ALLOWED or p.replace(" ", "-").startswith("psf") for p in parts):
            return True
    return False


def dep5_stanzas(text: str) -> list[tuple[list[str], str]] | None:
    """(patterns, licence) per `Files:` stanza of a DEP-5 copyright file, in file order; None when it is not DEP-5
    (no `Format:` header naming the copyright-format spec)."""
    if not re.search(r"^Format:\s*\S*copyright-format", text, re.M | re.I):
        return None
    out = []
    for st in re.split(r"\n[ \t]*\n", text):
        m = re.search(r"^Files:[ \t]*(.*(?:\n[ \t]+.*)*)", st, re.M)
        lic = re.search(r"^License:[ \t]*(.*)$", st, re.M)
        if m and lic:
            out.append((m.group(1).split(), lic.group(1).strip()))
    return out


def dep5_licence(stanzas: list[tuple[list[str], str]], path: str) -> str:
    """The licence of `path` (relative to the source tree) under DEP-5: the last stanza with a matching pattern
    (`*` and `?` match across `/`, as the spec says). "UNKNOWN" when none matches."""
    lic = "UNKNOWN"
    for pats, l in stanzas:
        if any(fnmatch.fnmatchcase(path, p) for p in pats):
            lic = l
    return lic


def installed_licence(stanzas: list[tuple[list[str], str]], rel: str) -> str:
    """dep5_licence for a file installed at `rel` (relative to dist-packages): its source path is `rel` or
    `X/rel` (src/, the upstream directory, ...), so a pattern also matches when it does after its first directory
    is dropped (`src/foo/_vendor/*` covers `foo/_vendor/x.py`)."""
    lic = "UNKNOWN"
    for pats, l in stanzas:
        if any(fnmatch.fnmatchcase(rel, q) for p in pats for q in _installed_patterns(p)):
            lic = l
    return lic


def _installed_patterns(p: str) -> list[str]:
    """A DEP-5 pattern and, when its first directory can be dropped meaningfully, the pattern without it. Never
    `debian/...` (Debian's packaging), and never a bare wildcard left after dropping (`tests/*` must not turn into
    `*`, which would cover every installed file)."""
    if p.startswith("debian/"):
        return []
    out = [p]
    if "/" in p:
        rest = p.split("/", 1)[1]
        if rest.split("/")[0].strip("*?") and not rest.startswith("*"):
            out.append(rest)
    return out


def copyright_licence(text: str) -> str:
    """The licence of the `Files: *` stanza of a DEP-5 copyright file (else the first License: line)."""
    stanzas = re.split(r"\n\s*\n", text)
    for st in stanzas:
        if re.search(r"^Files:\s*\*\s*$", st, re.M):
            m = re.search(r"^License:\s*(.+)$", st, re.M)
            if m:
                return m.group(1).strip()
    m = re.search(r"^License:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else "UNKNOWN"


def deb_licence_ok(lic: str) -> bool:
    # DEP-5 short names: Expat, BSD-3-clause, Apache-2.0, PSF-2, ISC, ... ("Expat" is MIT)
    return permissive(lic.replace("Expat", "MIT").replace("X11", "MIT"))


def fetch(pkg: str, work: str) -> str | None:
    have = glob.glob(os.path.join(work, f"{pkg}_*.deb"))
    if have:
        return have[0]
    r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=work, capture_output=True, text=True)
    have = glob.glob(os.path.join(work, f"{pkg}_*.deb"))
    return have[0] if r.returncode == 0 and have else None


def installed_rel(full: str) -> str:
    """v6: the module path of a file installed anywhere under usr/ (dist-packages, usr/lib/python3.N/, usr/share/PKG/,
    usr/lib/PKG/, usr/share/doc/PKG/): the path after that root, as a DEP-5 pattern of the source tree would name it."""
    for pat in (r"usr/lib/python3[.\d]*/(?:dist|site)-packages/", r"usr/lib/python3[.\d]*/", r"usr/share/doc/[^/]+/",
                r"usr/share/[^/]+/", r"usr/lib/[^/]+/", r"usr/"):
        m = re.match(pat, full)
        if m and len(full) > m.end():
            return full[m.end():]
    return full


def copyright_path(tmp: str, n: str) -> str:
    """usr/share/doc/PKG/copyright; when PKG's doc directory is a symlink to another package's of the same source
    (allowed by Debian policy), the copyright is not in this .deb: the path then does not exist."""
    return os.path.join(tmp, "usr/share/doc", n, "copyright")


def one_package(item, dev_mod: int = 20, strict: bool = False, all_roots: bool = False):
    """(name, .deb path or None) -> (manifest entry, [(pkg, split, relpath, text)])."""
    n, deb = item
    if not deb:
        return {"name": n, "reason": "apt-get download failed"}, []
    version = os.path.basename(deb).split("_")[1]
    docs = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        cp = copyright_path(tmp, n)
        if not os.path.exists(cp) and os.path.islink(os.path.join(tmp, "usr/share/doc", n)):
            return {"name": n, "version": version, "licence": "UNKNOWN", "reason": "licence",
                    "copyright": "doc dir links to " + os.readlink(os.path.join(tmp, "usr/share/doc", n))}, []
        lic = copyright_licence(open(cp, encoding="utf-8", errors="replace").read()) if os.path.exists(cp) else "UNKNOWN"
        if not (licence_allowed(lic) if strict else deb_licence_ok(lic)):
            return {"name": n, "version": version, "licence": lic, "reason": "licence"}, []
        # strict (v3): every file's own DEP-5 stanza must allow it too (a vendored GPL module in an MIT package)
        stanzas = dep5_stanzas(open(cp, encoding="utf-8", errors="replace").read()) if strict else None
        split = "dev" if int(hashlib.sha1(n.encode()).hexdigest(), 16) % dev_mod == 0 else "train"
        base = os.path.join(tmp, "usr" if all_roots else "usr/lib/python3/dist-packages")
        reasons, kept, used = Counter(), 0, set()
        for r, ds, fs in os.walk(base):
            ds[:] = sorted(d for d in ds if d != "__pycache__")
            for f in sorted(fs):
                p = os.path.join(r, f)
                if not f.endswith(".py") or os.path.islink(p):
                    continue
                rel = os.path.relpath(p, base)
                if all_roots:
                    # v6: applications keep Python outside dist-packages too (usr/share/PKG, usr/lib/PKG, doc examples)
                    full = "usr/" + rel
                    if EXCLUDED_NAME.search(full):
                        reasons["excluded"] += 1
                        continue
                    rel = installed_rel(full)
                    if rel in used:
                        rel = full
                    used.add(rel)
                try:
                    text = open(p, encoding="utf-8").read()
                except (UnicodeDecodeError, OSError):
                    reasons["unreadable"] += 1
                    continue
                if stanzas and not licence_allowed(installed_licence(stanzas, rel) if installed_licence(stanzas, rel) != "UNKNOWN" else lic):
                    reasons["licence_file"] += 1
                    continue
                why = drop_reason(rel, text) or ("excluded" if EXCLUDED_NAME.search(rel) or re.search(r"django", text, re.I) else None)
                if why:
                    reasons[why] += 1
                    continue
                docs.append((f"{n}@{version}", split, rel, text))
                kept += 1
    return {"name": n, "version": version, "licence": lic, "split": split, "files_kept_before_dedup": kept, "dropped": dict(reasons)}, docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", required=True, help="one Debian package name a line")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--skip-manifest", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--dev-mod", type=int, default=20)
    ap.add_argument("--strict-licences", action="store_true",
                    help="v3: only MIT/Expat, ISC, BSD-2/3, Apache-2.0, 0BSD, PSF (licence_allowed), not v2's wider rule")
    ap.add_argument("--drop-hashes", nargs="*", default=[],
                    help="JSON-lines corpora (v2) whose files are dropped here by exact content hash (dup_v2)")
    ap.add_argument("--all-roots", action="store_true",
                    help="v6: every .py under usr/ (applications, tools, doc examples), not only dist-packages, and no "
                         "python3- prefix assumed: packages not named python3-* are skipped by their own name")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    names = [l.strip() for l in open(a.list) if l.strip() and not l.startswith("#")]
    skip = set()
    if a.skip_manifest:
        for p in json.load(open(a.skip_manifest))["packages"]:
            skip.add(re.sub(r"[-_.]+", "-", p["name"].lower()))
    manifest = {"source": "Debian " + ("binary packages, every .py under usr/" if a.all_roots else "python3-*")
                + " .debs (apt-get download)", "packages": [], "dropped_packages": []}
    todo = []
    for n in names:
        dist = n[len("python3-"):] if n.startswith("python3-") else n
        if EXCLUDED_NAME.search(n):
            manifest["dropped_packages"].append({"name": n, "reason": "excluded"})
        elif dist in skip:
            manifest["dropped_packages"].append({"name": n, "reason": "in the v1 corpus (site-packages)"})
        else:
            todo.append(n)
    # one `apt-get download` per batch of 40 (apt's start-up took ~10 s on the loaded 2-core machine), then
    # one by one for what a batch did not bring (a failing name fails its whole batch)
    batches = [[n for n in todo[i:i + 40] if not glob.glob(os.path.join(a.work, f"{n}_*.deb"))] for i in range(0, len(todo), 40)]
    with ThreadPoolExecutor(a.jobs) as ex:
        list(ex.map(lambda b: b and subprocess.run(["apt-get", "download", "-q", *b], cwd=a.work, capture_output=True), batches))
    with ThreadPoolExecutor(a.jobs) as ex:
        debs = list(ex.map(lambda n: fetch(n, a.work), todo))
    old = hashes_of(a.drop_hashes)
    docs, dup_old = [], 0
    # extraction and per-file filters, one package per task (`--jobs` processes)
    with Pool(a.jobs) as pool:
        for entry, pdocs in pool.imap(partial(one_package, dev_mod=a.dev_mod, strict=a.strict_licences, all_roots=a.all_roots), list(zip(todo, debs)), chunksize=4):
            (manifest["packages"] if "split" in entry else manifest["dropped_packages"]).append(entry)
            new = [d for d in pdocs if content_hash(d[3]) not in old]
            if len(new) < len(pdocs):
                entry["dropped"]["dup_v2"] = len(pdocs) - len(new)
                dup_old += len(pdocs) - len(new)
            docs += new
    counts = write_deduplicated(docs, os.path.join(a.out, "deb-train.jsonl"), os.path.join(a.out, "deb-dev.jsonl"))
    manifest["totals"] = {"packages_used": len(manifest["packages"]), "packages_dropped": len(manifest["dropped_packages"]),
                          "files_after_filters": len(docs), "dup_v2": dup_old, **counts}
    with open(os.path.join(a.out, "manifest-deb.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("debian python corpus:", json.dumps(manifest["totals"]))


if __name__ == "__main__":
    main()
