"""Trains the default model's byte-level BPE tokenizer (HF `tokenizers`) with StarCoder-family specials.

Usage: python3 native/py/train_tokenizer.py --corpus a.jsonl b.jsonl --vocab 8192 --out DIR [--sample-mb 150]
Writes DIR/tokenizer.json and DIR/tokenizer_config.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
from bpe import tokenizer_config  # noqa: E402

SPECIALS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<file_sep>", "<repo_name>"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", nargs="+", required=True)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--sample-mb", type=float, default=150)
    ap.add_argument("--max-len", type=int, default=2048)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    # imported after argument parsing so that --help works without the training dependencies
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    texts = []
    for path in a.corpus:
        with open(path) as f:
            texts += [json.loads(l)["text"] for l in f]
    random.Random(0).shuffle(texts)
    budget, sample = a.sample_mb * 1e6, []
    for t in texts:
        if budget <= 0:
            break
        sample.append(t)
        budget -= len(t)
    tok = Tokenizer(models.BPE())
    # Digits one by one (numbers tokenize predictably), then GPT-2 byte-level splitting.
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=a.vocab, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(sample, trainer=trainer, length=len(sample))
    os.makedirs(a.out, exist_ok=True)
    tok.save(os.path.join(a.out, "tokenizer.json"))
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(SPECIALS, "<|endoftext|>", "<|endoftext|>", "<fim_pad>", a.max_len), f, indent=1)
    n_chars = sum(len(t) for t in sample[:2000])
    n_toks = sum(len(e.ids) for e in tok.encode_batch(sample[:2000]))
    print(f"tokenizer: vocab {tok.get_vocab_size()}, trained on {len(sample)} files, {n_chars / max(1, n_toks):.2f} chars/token")


if __name__ == "__main__":
    main()
