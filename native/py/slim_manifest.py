"""Slims a corpus builder's manifest for committing (corpus v3, issue 16): every package keeps its name, version,
licence(s), split/status and files/bytes kept; per-package drop counts go (the totals keep them by reason), and the
file is written one package a line. Every tracked byte travels with each GPU device call (64 MiB a call, corpus parts
included), and v3's seven full manifests were 5.5 MB.

  /usr/bin/python3 native/py/slim_manifest.py FULL.json SLIM.json
Handles the manifests of fetch-npm.mjs ("packages"), node-deb.mjs ("modules", "refused"), corpus_deb.py and
corpus_debsrc.py ("packages", "dropped_packages"). The output is valid JSON.
"""
from __future__ import annotations

import argparse
import json

KEEP = {"name", "version", "license", "licence", "licences", "split", "status", "filesKept", "bytesKept", "module", "deb",
        "debianLicence", "reason", "files_kept_before_dedup", "bytes_kept_before_dedup", "kept_by_licence"}


def slim(manifest: dict) -> dict:
    """The manifest with each entry of its package lists cut to KEEP's fields; everything else unchanged."""
    out = {}
    for k, v in manifest.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            out[k] = [{f: x[f] for f in x if f in KEEP} for x in v]
        else:
            out[k] = v
    return out


def dumps(manifest: dict) -> str:
    """JSON text with one list entry a line (lists of objects), the rest compact."""
    def val(v):
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            return "[\n" + ",\n".join(json.dumps(x, separators=(",", ":"), ensure_ascii=False) for x in v) + "\n]"
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return "{\n" + ",\n".join(f"{json.dumps(k)}: {val(v)}" for k, v in manifest.items()) + "\n}\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("full")
    ap.add_argument("slim")
    a = ap.parse_args()
    with open(a.full) as f:
        text = dumps(slim(json.load(f)))
    with open(a.slim, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
