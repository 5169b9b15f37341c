"""Token streams for one continual pre-training slot (issue 16): new-data training stream plus the
evaluation streams that tell new-data learning from forgetting.

  python3 native/py/cpt_streams.py --tokenizer models/default --out DIR \
      --new a.jsonl b.jsonl [--repo-frac 0.25] [--heldout-mod 20] --eval NAME=f.jsonl[,g.jsonl] ... [--old-site SITE --old-manifest M]

- train.npy: the --new records, minus whole packages held out (sha1(pkg name) % heldout_mod == 0, written
  as the `new_heldout` eval stream); of the packages left, `repo_frac` of the npm packages (TS/JS) go in as
  repository-level sequences (data.build_repo_stream), the rest as single-file FIM chunks (data.build_stream).
- NAME.npy for each --eval (single-file FIM stream, fixed seed).
- old_py.npy (with --old-site): up to 400 files of the v1 corpus's Python training packages (manifest-py.json,
  split train) read from that site-packages tree: loss there measures forgetting of old Python data.
Prints the token counts as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from data import build_repo_stream, build_stream, pkg_name  # noqa: E402


def load(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += [json.loads(l) for l in f if l.strip()]
    return out



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--new", nargs="+", required=True)
    ap.add_argument("--eval", action="append", default=[])
    ap.add_argument("--repo-frac", type=float, default=0.25)
    ap.add_argument("--heldout-mod", type=int, default=20)
    ap.add_argument("--old-site", default=None)
    ap.add_argument("--old-manifest", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--byte-tokenizer", action="store_true", help="plumbing checks only (no HF tokenizers here): ids = bytes")
    a = ap.parse_args()
    t0 = time.time()
    if a.byte_tokenizer:
        class _E:  # noqa: N801
            def __init__(self, s): self.ids = list(s.encode("utf-8"))
        class tok:  # noqa: N801
            @staticmethod
            def encode_batch(xs, add_special_tokens=False): return [_E(x) for x in xs]
    else:
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(a.tokenizer, "tokenizer.json"))
    os.makedirs(a.out, exist_ok=True)
    h = lambda s: int(hashlib.sha1(pkg_name(s).encode()).hexdigest(), 16)  # noqa: E731
    recs = load(a.new)
    held = [r for r in recs if h(r["pkg"]) % a.heldout_mod == 0]
    train = [r for r in recs if h(r["pkg"]) % a.heldout_mod != 0]
    repo = [r for r in train if r.get("lang") != "python" and (h(r["pkg"]) // a.heldout_mod) % 100 < a.repo_frac * 100]
    repo_pk = {r["pkg"] for r in repo}
    single = [r for r in train if r["pkg"] not in repo_pk]
    s_single = build_stream(tok, [r["text"] for r in single], seed=a.seed)
    s_repo = build_repo_stream(tok, repo, seed=a.seed + 1)
    # interleave in 64k-token blocks so a training batch sees both kinds
    blocks = [s_single[i:i + 65536] for i in range(0, s_single.size, 65536)] + [s_repo[i:i + 65536] for i in range(0, s_repo.size, 65536)]
    order = np.random.default_rng(a.seed).permutation(len(blocks))
    trainstream = np.concatenate([blocks[i] for i in order]) if blocks else np.zeros(0, np.uint16)
    np.save(os.path.join(a.out, "train.npy"), trainstream)
    info = {"train_tokens": int(trainstream.size), "train_single_tokens": int(s_single.size), "train_repo_tokens": int(s_repo.size),
            "train_files": len(train), "train_packages": len({r["pkg"] for r in train}), "repo_packages": len(repo_pk),
            "train_chars": sum(len(r["text"]) for r in train)}
    evals = [("new_heldout", held)] + [(k, load(v.split(","))) for k, v in (e.split("=", 1) for e in a.eval)]
    if a.old_site and a.old_manifest:
        m = json.load(open(a.old_manifest))
        files = []
        for p in m["packages"]:
            if p.get("split") != "train":
                continue
            for t in p.get("top_level", []):
                d = os.path.join(a.old_site, t)
                for r, ds, fs in os.walk(d):
                    ds[:] = sorted(x for x in ds if x != "__pycache__")
                    files += [os.path.join(r, f) for f in sorted(fs) if f.endswith(".py")]
        rng = np.random.default_rng(0)
        texts = []
        for i in rng.permutation(len(files)):
            try:
                t = open(files[i], encoding="utf-8").read()
            except (OSError, UnicodeDecodeError):
                continue
            if 200 <= len(t) <= 200_000:
                texts.append({"text": t})
            if len(texts) >= 400:
                break
        evals.append(("old_py", texts))
    for k, rs in evals:
        if not rs:
            continue
        st = build_stream(tok, [r["text"] for r in rs], seed=12345)
        np.save(os.path.join(a.out, f"{k}.npy"), st)
        info[f"eval_{k}_tokens"] = int(st.size)
    info["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(info))
    # written last, through a rename: train.py --wait-for streams.json reads the .npy files once it exists
    json.dump(info, open(os.path.join(a.out, "streams.json.tmp"), "w"), indent=1)
    os.replace(os.path.join(a.out, "streams.json.tmp"), os.path.join(a.out, "streams.json"))


if __name__ == "__main__":
    main()
