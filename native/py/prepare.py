"""Tokenizes the corpus into training and dev token streams (.npy uint16) with the FIM transform.

Usage: python3 native/py/prepare.py --tokenizer DIR --train a.jsonl b.jsonl --dev c.jsonl d.jsonl --passes 2 --seed 0 --out DIR
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from data import build_stream, read_jsonl  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--train", nargs="+", required=True)
    ap.add_argument("--dev", nargs="+", required=True)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    # imported after argument parsing so that --help works without the training dependencies
    from tokenizers import Tokenizer
    t0 = time.time()
    tok = Tokenizer.from_file(os.path.join(a.tokenizer, "tokenizer.json"))
    texts = read_jsonl(a.train)
    streams = [build_stream(tok, texts, seed=a.seed * 1000 + p) for p in range(a.passes)]
    train = np.concatenate(streams)
    dev = build_stream(tok, read_jsonl(a.dev), seed=12345)
    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "train.npy"), train)
    np.save(os.path.join(a.out, "dev.npy"), dev)
    chars = sum(len(t) for t in texts)
    print(f"prepared: {len(texts)} train files, {chars / 1e6:.0f}M chars, {train.size / 1e6:.1f}M train tokens "
          f"({a.passes} FIM passes), {dev.size / 1e6:.2f}M dev tokens, {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
