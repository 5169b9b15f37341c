"""Builds corpus v3's Python part (issue 16): the upstream sources in Debian's **source** packages (`deb-src`).

The binary `python3-*` packages (corpus v2, corpus_deb.py) hold only the installed modules; the source packages
behind them hold the upstream tree: tests, examples, tools, docs code. Per source package that builds at least one
`python3-*` binary: `apt-get source --download-only` (a private apt configuration with a deb-src line, `--apt-config`),
`debian/copyright` from the Debian tarball, the `.py` files of the upstream (`.orig`) tarball(s), then the downloads
are deleted. Licence: per file, the DEP-5 `Files:` stanza that matches its path (the last match wins, as the DEP-5
spec says: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/); non-DEP-5 copyright files give one
licence for the package (corpus_deb.copyright_licence). Allowed: MIT/Expat, ISC, BSD-2/3-Clause, Apache-2.0, 0BSD,
PSF/Python, or a dual licence with one of these (`licence_allowed`). Per-file filters: corpus_py.drop_reason and the
hard exclusion (Django, HumanEval, by name and by content).

Held out, never read: a source whose `python3-*` binary is a v2 dev package (sha1(binary) % 20 == 0, corpus_deb.py's
rule) or whose distribution is in the site-packages corpus (`--skip-manifest`, manifest-py.json, v1). Dedup against v2:
a file whose exact content hash (corpus dedup's: trailing whitespace trimmed) is any v2 record's (`--v2`: train, dev
and aside of npm and Debian) is dropped (`dup_v2`), and so is a file whose path ends with the path of a v2 record of one
of the source's binaries (`in_v2`: the installed copy of that module, possibly Debian-patched so not byte-identical).
Then dedup.write_deduplicated: exact and MinHash near duplicates inside the new corpus.

  APT_CONFIG is given by --apt-config (see native/corpus/README.md, "v3", for the two-line set-up)
  /usr/bin/python3 native/py/corpus_debsrc.py --sources SOURCES --apt-config APT.conf --work DIR --out DIR
      [--v2 FILE.jsonl ...] [--skip-manifest native/corpus/manifest-py.json] [--max-mb 20] [--limit N] [--jobs 2]
Writes OUT/debsrc-train.jsonl ({"pkg": "src:NAME@VERSION", "path", "lang": "python", "text"}) and
OUT/manifest-debsrc.json (per package: version, licences, files kept, files dropped by reason; refused packages).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

sys.path.insert(0, os.path.dirname(__file__))
from corpus_deb import copyright_licence, dep5_licence, dep5_stanzas, licence_allowed  # noqa: E402
from corpus_py import EXCLUDED_NAME, drop_reason  # noqa: E402
from dedup import write_deduplicated  # noqa: E402

EXCLUDED_TEXT = re.compile(r"django|humaneval|human[-_ ]?eval", re.I)


def text_hash(text: str) -> str:
    """dedup.write_deduplicated's exact-duplicate key: sha256 of the text with line ends trimmed."""
    return hashlib.sha256("\n".join(l.rstrip() for l in text.strip().split("\n")).encode()).hexdigest()


def parse_sources(path: str, max_bytes: int) -> list[dict]:
    """Debian `Sources` index -> [{"name", "version", "binaries", "bytes", "dir", "files": [(name, size, sha256)]}]
    for source packages that build a python3-* binary, the sum of their files' sizes <= max_bytes."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for st in f.read().split("\n\n"):
            m = re.search(r"^Package: (\S+)", st, re.M)
            b = re.search(r"^Binary: (.*(?:\n .*)*)", st, re.M)
            v = re.search(r"^Version: (\S+)", st, re.M)
            d = re.search(r"^Directory: (\S+)", st, re.M)
            fl = re.search(r"^Checksums-Sha256:\n((?: .*\n?)*)", st, re.M)
            if not (m and b and v and d and fl):
                continue
            bins = [x.strip() for x in b.group(1).replace("\n", " ").split(",") if x.strip()]
            files = [(l.split()[2], int(l.split()[1]), l.split()[0]) for l in fl.group(1).strip().split("\n") if len(l.split()) == 3]
            size = sum(x[1] for x in files)
            if any(x.startswith("python3-") for x in bins) and size <= max_bytes:
                out.append({"name": m.group(1), "version": v.group(1), "binaries": bins, "bytes": size,
                            "dir": d.group(1), "files": files})
    return sorted(out, key=lambda s: s["name"])


def held_out_reason(src: dict, site_names: set[str], dev_mod: int = 20) -> str | None:
    """Why a source package is never read: "excluded" (Django/HumanEval in its or a binary's name), "held out
    (Debian dev)" (a python3-* binary that v2 holds out as dev), "in the site-packages corpus" (v1). Else None."""
    names = [src["name"], *src["binaries"]]
    if any(EXCLUDED_NAME.search(n) or EXCLUDED_TEXT.search(n) for n in names):
        return "excluded"
    py = [b for b in src["binaries"] if b.startswith("python3-")]
    if any(int(hashlib.sha1(b.encode()).hexdigest(), 16) % dev_mod == 0 for b in py):
        return "held out (Debian dev)"
    if any(re.sub(r"[-_.]+", "-", b[len("python3-"):].lower()) in site_names for b in py):
        return "in the site-packages corpus"
    return None


def download(src: dict, work: str, apt_config: str, mirror: str = "http://deb.debian.org/debian") -> str | None:
    """The source package's tarballs into work/NAME with apt's own downloader (`apt-helper download-file URI FILE
    SHA256:...`, checked against the index), one file at a time: this mirror serves only part of the pool, and
    `apt-get source` gives up on the first missing file. When the Debian tarball is missing, the licence comes from
    the first python3-* binary's `usr/share/doc/BIN/copyright` (`apt-get download`; the same file). Returns the
    directory if an upstream (or native) tarball came, else None."""
    d = os.path.join(work, src["name"])
    os.makedirs(d, exist_ok=True)
    env = {**os.environ, "APT_CONFIG": apt_config}
    got = []
    for name, _, sha in src["files"]:
        if ".tar." not in name or name.endswith(".asc"):
            continue
        out = os.path.join(d, name)
        if not os.path.exists(out):
            r = subprocess.run(["/usr/lib/apt/apt-helper", "download-file", f"{mirror}/{src['dir']}/{name}", out + ".part",
                                f"SHA256:{sha}"], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                continue
            os.replace(out + ".part", out)
        got.append(name)
    if not any(".debian.tar." not in g for g in got):
        return None
    py = [b for b in src["binaries"] if b.startswith("python3-")][:1]
    if py and not any(".debian.tar." in g for g in got) and not glob.glob(os.path.join(d, "*.deb")):
        subprocess.run(["apt-get", "download", "-qq", py[0]], cwd=d, capture_output=True, env=env)
    return d


def _strip_top(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def one_source(item):
    """(source dict, download dir or None, v2 paths of its binaries) -> (manifest entry, [(pkg, "train", path, text)]).
    Reads only tarball members; writes nothing; never raises on a broken tarball (reason "unreadable tarball")."""
    src, d, v2_paths = item
    entry = {"name": src["name"], "version": src["version"]}
    if not d:
        return {**entry, "reason": "upstream tarball not served (404)"}, []
    tars = sorted(t for t in glob.glob(os.path.join(d, "*.tar.*")) if not t.endswith(".part"))
    deb_tar = [t for t in tars if ".debian.tar." in t]
    orig = [t for t in tars if ".orig" in os.path.basename(t) and not t.endswith(".asc")]
    native = not deb_tar and not orig
    try:
        cp_text = None
        for t in (deb_tar or [t for t in tars if not t.endswith(".asc")]):
            with tarfile.open(t) as tf:
                for m in tf:
                    if m.isfile() and re.fullmatch(r"(?:[^/]+/)?debian/copyright", m.name):
                        cp_text = tf.extractfile(m).read().decode("utf-8", "replace")
                        break
            if cp_text:
                break
        for deb in ([] if cp_text else glob.glob(os.path.join(d, "*.deb"))[:1]):
            bin_name = os.path.basename(deb).split("_")[0]
            r = subprocess.run(f"dpkg-deb --fsys-tarfile '{deb}' | tar -xO ./usr/share/doc/{bin_name}/copyright",
                               shell=True, capture_output=True)
            if r.returncode == 0 and r.stdout:
                cp_text = r.stdout.decode("utf-8", "replace")
                entry["copyright_from"] = bin_name
        if cp_text is None:
            return {**entry, "reason": "no debian/copyright"}, []
        stanzas = dep5_stanzas(cp_text)
        if stanzas is None:
            whole = copyright_licence(cp_text)
            stanzas = [(["*"], whole)]
        entry["licences"] = sorted({l for _, l in stanzas})[:20]
        reasons, docs, lic_kept = Counter(), [], Counter()
        pkg = f"src:{src['name']}@{src['version']}"
        for t in (orig if not native else [t for t in tars if not t.endswith(".asc")]):
            comp = re.search(r"\.orig-([^.]+)\.tar", os.path.basename(t))  # orig-COMPONENT tarballs unpack into COMPONENT/
            with tarfile.open(t) as tf:
                for m in tf:
                    if not m.name.endswith(".py"):
                        continue
                    if not m.isfile():
                        reasons["not_a_file"] += 1
                        continue
                    rel = _strip_top(m.name)
                    if comp:
                        rel = f"{comp.group(1)}/{rel}"
                    if rel.startswith("debian/") or rel.startswith(".pc/"):
                        continue
                    lic = dep5_licence(stanzas, rel)
                    if not licence_allowed(lic):
                        reasons["licence"] += 1
                        continue
                    raw = tf.extractfile(m).read(400_001)
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        reasons["unreadable"] += 1
                        continue
                    why = drop_reason(rel, text) or (
                        "excluded" if EXCLUDED_NAME.search(rel) or EXCLUDED_TEXT.search(rel) or EXCLUDED_TEXT.search(text) else None)
                    if not why and any(rel == p or rel.endswith("/" + p) for p in v2_paths):
                        why = "in_v2"
                    if why:
                        reasons[why] += 1
                        continue
                    docs.append((pkg, "train", rel, text))
                    lic_kept[lic] += 1
    except (tarfile.TarError, OSError, EOFError, ValueError) as e:
        return {**entry, "reason": f"unreadable tarball: {type(e).__name__}"}, []
    entry.update({"files_kept_before_dedup": len(docs), "bytes_kept_before_dedup": sum(len(x[3].encode()) for x in docs),
                  "kept_by_licence": dict(lic_kept), "dropped": dict(reasons)})
    return entry, docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", required=True, help="the Sources index, decompressed")
    ap.add_argument("--apt-config", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--v2", nargs="*", default=[], help="v2 corpus JSON lines: their hashes are removed")
    ap.add_argument("--skip-manifest", default=None)
    ap.add_argument("--max-mb", type=float, default=20.0)
    ap.add_argument("--limit", type=int, default=0, help="only every k-th eligible source, so that about N are read")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the downloads")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    site = set()
    if a.skip_manifest:
        site = {re.sub(r"[-_.]+", "-", p["name"].lower()) for p in json.load(open(a.skip_manifest))["packages"]}
    v2_hash, v2_paths = set(), {}
    for p in a.v2:
        with open(p) as f:
            for line in f:
                r = json.loads(line)
                v2_hash.add(text_hash(r["text"]))
                v2_paths.setdefault(r["pkg"].rsplit("@", 1)[0], set()).add(r["path"])
    srcs = parse_sources(a.sources, int(a.max_mb * 1e6))
    manifest = {"source": "Debian 12 (bookworm) main source packages building python3-* (apt-get source)",
                "packages": [], "dropped_packages": []}
    todo = []
    for s in srcs:
        why = held_out_reason(s, site)
        if why:
            manifest["dropped_packages"].append({"name": s["name"], "reason": why})
        else:
            todo.append(s)
    if a.limit:
        step = max(1, len(todo) // a.limit)
        todo = todo[::step][:a.limit]
    print(f"{len(srcs)} sources, {len(todo)} to read, {sum(s['bytes'] for s in todo) / 1e6:.0f} MB of downloads", flush=True)

    def fetched(s):
        return s, download(s, a.work, a.apt_config)

    docs, counts = [], Counter()
    with ThreadPoolExecutor(4) as ex, Pool(a.jobs) as pool:
        items = ((s, d, {p for b in s["binaries"] for p in v2_paths.get(b, ())}) for s, d in ex.map(fetched, todo))
        for i, (entry, pdocs) in enumerate(pool.imap(one_source, items, chunksize=1)):
            if not a.keep:
                shutil.rmtree(os.path.join(a.work, entry["name"]), ignore_errors=True)
            for doc in pdocs:
                if text_hash(doc[3]) in v2_hash:
                    counts["dup_v2"] += 1
                    entry["dropped"]["dup_v2"] = entry["dropped"].get("dup_v2", 0) + 1
                else:
                    docs.append(doc)
            (manifest["packages"] if "dropped" in entry and entry["files_kept_before_dedup"] else manifest["dropped_packages"]).append(
                entry if "dropped" in entry and entry["files_kept_before_dedup"] else {**entry, "reason": entry.get("reason", "no file kept")})
            if i % 100 == 0:
                print(f"{i + 1}/{len(todo)} read, {len(docs)} files, {sum(len(x[3]) for x in docs) / 1e6:.0f} MB", flush=True)
    res = write_deduplicated(docs, os.path.join(a.out, "debsrc-train.jsonl"), os.path.join(a.out, "debsrc-dev.jsonl"))
    manifest["totals"] = {"sources_listed": len(srcs), "sources_read": len(todo),
                          "packages_used": len(manifest["packages"]), "packages_dropped": len(manifest["dropped_packages"]),
                          "dup_v2": counts["dup_v2"], "files_after_filters": len(docs), **res}
    with open(os.path.join(a.out, "manifest-debsrc.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("debian source corpus:", json.dumps(manifest["totals"]), flush=True)


if __name__ == "__main__":
    main()
