"""A small pure-Python byte-level BPE trainer that writes a Hugging Face tokenizer.json.

Used for the tiny test fixtures (which must be reproducible without the `tokenizers` package).
The default model's tokenizer is trained with `tokenizers` itself (native/py/train_tokenizer.py).
As a command it trains on a text file (default: the fixtures' sample text) and prints the tokenizer.json:

  python3 native/py/bpe.py [TEXT_FILE] [--merges N] [--special TOKEN ...] [--out tokenizer.json]
"""
from __future__ import annotations

import argparse
import json
import re
from collections import Counter


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode map used by byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# An approximation of the GPT-2 pre-tokenizer split, good enough to learn merges from.
WORD_RE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z_]+| ?[0-9]+| ?[^\sA-Za-z0-9_]+|\s+(?!\S)|\s+""")


# Text written for the tiny test models' tokenizers (not taken from any corpus) to learn a few merges from
# (native/py/fixtures.py, qwen_models.py).
SAMPLE = '''
export function add(a: number, b: number): number {
  return a + b;
}
const items = [1, 2, 3].map((x) => x * 2);
class Stack<T> {
  private items: T[] = [];
  push(item: T): void { this.items.push(item); }
  pop(): T | undefined { return this.items.pop(); }
}
def mean(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)
if __name__ == "__main__":
    print(mean([1, 2, 3]))
'''


def train_bpe(text: str, n_merges: int, specials: list[str]) -> dict:
    b2u = bytes_to_unicode()
    words = Counter(tuple(b2u[b] for b in w.encode("utf-8")) for w in WORD_RE.findall(text))
    vocab: dict[str, int] = {}
    for s in specials:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab.setdefault(b2u[b], len(vocab))
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), cnt = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if cnt < 2:
            break
        merges.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
        new_words = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] += c
        words = new_words
    return tokenizer_json(vocab, merges, specials)


def tokenizer_json(vocab: dict[str, int], merges: list[str], specials: list[str]) -> dict:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for s in specials
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab, "merges": merges,
        },
    }


def tokenizer_config(specials: list[str], bos: str | None, eos: str, pad: str | None, max_len: int) -> dict:
    return {
        "add_bos_token": False, "add_eos_token": False,
        "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
                                 for i, s in enumerate(specials)},
        "additional_special_tokens": specials,
        "bos_token": bos, "eos_token": eos, "pad_token": pad, "unk_token": None,
        "clean_up_tokenization_spaces": False, "model_max_length": max_len,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text", nargs="?", metavar="TEXT_FILE", help="UTF-8 text to learn merges from (default: the fixtures' sample text)")
    ap.add_argument("--merges", type=int, default=20, help="most merges to learn (default 20)")
    ap.add_argument("--special", action="append", default=None, metavar="TOKEN", help="special token, repeatable (default <|endoftext|>)")
    ap.add_argument("--out", help="write the tokenizer.json here instead of printing it")
    a = ap.parse_args()
    if a.merges < 0:
        ap.error("--merges must be >= 0")
    if a.text is None:
        text = SAMPLE
    else:
        with open(a.text, encoding="utf-8") as f:
            text = f.read()
    t = json.dumps(train_bpe(text, a.merges, a.special or ["<|endoftext|>"]), ensure_ascii=False)
    if a.out is None:
        print(t)
    else:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(t + "\n")


if __name__ == "__main__":
    main()
