"""Generates the tiny random-weight test models under test/fixtures/models/ with golden greedy tokens.

Three standard layouts the runtime must read: a Llama-like model (multi-head, CodeLlama sentinels),
a Qwen2-like one (grouped-query attention, q/k/v bias, Qwen2.5-Coder sentinels) and a GPT-BigCode
one (multi-query, fused key_value past, StarCoder sentinels). Weights are random (seeded); the golden
tokens are PyTorch's greedy continuation through the KV-cache path. Prompts are encoded with the
project's own tokenizer library (native/tools/encode.mjs) so ids match the runtime exactly.

Usage: python3 native/py/fixtures.py [--out test/fixtures/models]   (needs torch, onnx, numpy, node)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "test/fixtures/models"))
    ap.add_argument("--seed", type=int, default=1234)
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bpe import SAMPLE, tokenizer_config, train_bpe  # noqa: E402
from model import ModelConfig, build_model, greedy, hf_config  # noqa: E402
from onnx_builder import build_onnx  # noqa: E402



FIXTURES = {
    "llama": dict(
        cfg=ModelConfig(arch="llama", vocab_size=0, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=4,
                        intermediate_size=128, max_position=256),
        specials=["<s>", "</s>", "<PRE>", "<SUF>", "<MID>", "<EOT>"], bos="<s>", eos="</s>", pad=None),
    "qwen2": dict(
        cfg=ModelConfig(arch="qwen2", vocab_size=0, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
                        intermediate_size=128, max_position=256, qkv_bias=True, rope_theta=1000000.0, norm_eps=1e-6),
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                  "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"], bos=None, eos="<|endoftext|>", pad="<|endoftext|>"),
    "gpt_bigcode": dict(
        cfg=ModelConfig(arch="gpt_bigcode", vocab_size=0, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=1,
                        intermediate_size=256, max_position=256),
        specials=["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>"],
        bos="<|endoftext|>", eos="<|endoftext|>", pad=None),
}

PROMPTS = [
    "def mean(values):\n    total = ",
    "export function add(a: number, b: number) {\n  return",
    "class Stack<T> {\n  push(item: T): void {",
]
N_GREEDY = 8


def randomize(model: torch.nn.Module, seed: int):
    """Weights large enough that logits have clear argmax margins (ties would make golden tokens fragile)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (0.8 if "embed" in name or "wte" in name or "wpe" in name else 0.25))
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:  # norm weights
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)


def encode_with_node(model_dir: str, prompts: list[str]) -> list[list[int]]:
    out = subprocess.run(["node", os.path.join(ROOT, "native/tools/encode.mjs"), model_dir],
                         input=json.dumps(prompts), capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


@torch.no_grad()
def min_margin(model, ids, n) -> float:
    """Smallest top1-top2 logit gap along the greedy path."""
    logits, past = model(torch.tensor([ids]))
    m = float("inf")
    for _ in range(n):
        top = logits[0, -1].topk(2).values
        m = min(m, float(top[0] - top[1]))
        t = int(logits[0, -1].argmax())
        logits, past = model(torch.tensor([[t]]), past=past)
    return m


def make(name: str, spec: dict, out_root: str, seed: int):
    d = os.path.join(out_root, name)
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    tok = train_bpe(SAMPLE, 120, spec["specials"])
    cfg: ModelConfig = spec["cfg"]
    cfg.vocab_size = len(tok["model"]["vocab"])
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(spec["specials"], spec["bos"], spec["eos"], spec["pad"], cfg.max_position), f, indent=1)
    vocab = tok["model"]["vocab"]
    bos_id = vocab[spec["bos"]] if spec["bos"] else None
    eos_id = vocab[spec["eos"]]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config(cfg, bos_id, eos_id), f, indent=1)
    ids_list = encode_with_node(d, PROMPTS)
    # Pick the first seed whose greedy paths all have a clear margin.
    for s in range(seed, seed + 50):
        torch.manual_seed(s)
        model = build_model(cfg).eval()
        randomize(model, s)
        if min(min_margin(model, ids, N_GREEDY) for ids in ids_list) > 0.05:
            break
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    m = build_onnx(cfg, sd, layout="standard", quant="fp32")
    import onnx
    onnx.save(m, os.path.join(d, "onnx", "model.onnx"))
    golden = [{"prompt": p, "input_ids": ids, "greedy": greedy(model, ids, N_GREEDY)} for p, ids in zip(PROMPTS, ids_list)]
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
    size = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(d) for x in fs)
    print(f"{name}: vocab {cfg.vocab_size}, seed {s}, {size / 1024:.0f} KiB, greedy {[g['greedy'] for g in golden]}")
    return model, sd


def main():
    ap = parser()
    a = ap.parse_args()
    for i, (name, spec) in enumerate(FIXTURES.items()):
        make(name, spec, a.out, a.seed + 100 * i)


if __name__ == "__main__":
    main()
