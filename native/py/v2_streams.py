"""Token stream of one part of corpus v2 (issue 16's v2 training job, run on the GPU machine by native/v2-job.sh).

  python3 native/py/v2_streams.py --tokenizer models/default --out DIR/NAME.npy IN.jsonl [IN2.jsonl ...] [--repo-frac 0.25] [--seed S]
  python3 native/py/v2_streams.py --tokenizer models/default --out DIR/dev_ts.npy --eval IN.jsonl

Training (default): of the records ({"pkg","path","lang","text"}), `repo_frac` of the TS/JS packages (chosen by
sha1(package name)) become repository-level sequences (data.build_repo_stream, the layout of server/src/prompt/repo.ts),
every other file single-file FIM chunks (data.build_stream), including those packages' files no sequence took (over
3,000 characters: until session 8 these were lost, ~21% of v3's TS/JS text); the two are interleaved in 64K-token blocks. Nothing is
held out here: the dev and aside packages are separate files that never enter training. --eval: one single-file FIM
stream with a fixed seed (12345), as prepare.py's dev stream. Writes the .npy (uint16) and NAME.json (counts), the
.json last, through a rename, so that its presence means the stream is complete.
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
from data import SPAN_MIXES, build_repo_stream, build_stream, pkg_name  # noqa: E402



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repo-frac", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--span-mix", default="v2", choices=SPAN_MIXES, help="data.pick_span's FIM span mix of a training "
                    "stream (--eval streams always use v2, so that losses stay comparable across runs)")
    ap.add_argument("--max-records", type=int, default=0, help="use only the first N records (smoke tests)")
    a = ap.parse_args()
    t0 = time.time()
    try:
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(os.path.join(a.tokenizer, "tokenizer.json"))
    except ImportError:  # a machine without the Python package (this dev machine's smoke test): the same tokenizer via node
        from fixtures import encode_with_node

        class _E:  # noqa: N801
            def __init__(self, ids): self.ids = ids

        class tok:  # noqa: N801
            @staticmethod
            def encode_batch(xs, add_special_tokens=False): return [_E(i) for i in encode_with_node(a.tokenizer, list(xs))]
    recs = []
    for p in a.inputs:
        with open(p) as f:
            recs += [json.loads(l) for l in f if l.strip()]
    if a.max_records:
        recs = recs[:a.max_records]
    info = {"inputs": [os.path.basename(p) for p in a.inputs], "files": len(recs), "chars": sum(len(r["text"]) for r in recs)}
    if a.eval:
        stream = build_stream(tok, [r["text"] for r in recs], seed=12345)
    else:
        h = lambda s: int(hashlib.sha1(pkg_name(s).encode()).hexdigest(), 16)  # noqa: E731
        repo_pk = {r["pkg"] for r in recs if r.get("lang") != "python" and h(r["pkg"]) % 100 < a.repo_frac * 100}
        # the repository packages' files that no sequence takes (long ones) are trained on as single files
        left: list = []
        s_repo = build_repo_stream(tok, [r for r in recs if r["pkg"] in repo_pk], seed=a.seed + 1, leftovers=left,
                                   span_mix=a.span_mix)
        s_single = build_stream(tok, [r["text"] for r in recs if r["pkg"] not in repo_pk] + left, seed=a.seed, span_mix=a.span_mix)
        blocks = [s_single[i:i + 65536] for i in range(0, s_single.size, 65536)] + [s_repo[i:i + 65536] for i in range(0, s_repo.size, 65536)]
        order = np.random.default_rng(a.seed).permutation(len(blocks))
        stream = np.concatenate([blocks[i] for i in order]) if blocks else np.zeros(0, np.uint16)
        info.update({"span_mix": a.span_mix, "single_tokens": int(s_single.size), "repo_tokens": int(s_repo.size), "repo_packages": len(repo_pk),
                     "repo_leftover_files": len(left),
                     "packages": len({r["pkg"] for r in recs})})
    info["tokens"] = int(stream.size)
    info["seconds"] = round(time.time() - t0, 1)
    out = a.out if a.out.endswith(".npy") else a.out + ".npy"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.save(out + ".tmp.npy", stream)
    os.replace(out + ".tmp.npy", out)
    js = out[:-4] + ".json"
    json.dump(info, open(js + ".tmp", "w"), indent=1)
    os.replace(js + ".tmp", js)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
