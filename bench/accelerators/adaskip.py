"""AdaSkip (arXiv 2501.02336) on models/default: sublayer importance, skipped-sublayer graphs, and their quality cost.

1. Calibration (PyTorch fp32, the weights recovered from the shipped 8-bit graph as native/py/reference.py does): for
   every attention and FFN sublayer, the mean cosine similarity of the residual stream before and after it
   (x vs x + sublayer(norm(x))) over the tokens of --calib dev files (the first ones of bench/quality/data, TypeScript
   and Python alternating). High similarity = the sublayer changes little = skipped first (AdaSkip's importance).
2. Variants: skip the k least important sublayers, k in --skips. Quality on other dev files (--eval files after the
   calibration ones): teacher-forced next-token loss and top-1 agreement with the full model.
3. Graphs: the shipped model_quantized.onnx with those sublayers cut out by graph surgery (adaskip_graph.py, which
   handles the 8-bit MatMul and the 4-bit MatMulNBits graphs alike: the residual Add after the sublayer is removed,
   its output replaced by its residual input, unreachable nodes and weights pruned). A skipped
   attention sublayer keeps its K/V projections: the graph's present.i outputs (the KV cache layout the prefix caches
   hold) stay as they are. Written to --out DIR/skip-K/ (a model directory: config, tokenizer, onnx/).

  /usr/bin/python3 bench/accelerators/adaskip.py --out /tmp/adaskip [--calib 6] [--eval 6] [--tokens 512] [--skips 1,2,4]
  Prints JSON (written to --json too). Needs torch, onnx, numpy.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import sys

import numpy as np
import onnx
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "native/py"))
sys.path.insert(0, os.path.join(ROOT, "bench/runtime/gpu"))
from model import LlamaLM  # noqa: E402
from variants import config_from_hf, state_dict_from_q8w  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adaskip_graph import cut, prune  # noqa: E402  (the surgery, shared with the real-shape graphs)

MODEL = os.path.join(ROOT, "models/default")
PARITY_SEQS, PARITY_TOKENS = 2, 128


def dev_files(n: int, skip: int) -> list[str]:
    rows = {}
    for name, lang in (("npm-dev.jsonl.xz", "typescript"), ("py-dev.jsonl.xz", "python")):
        with lzma.open(os.path.join(ROOT, "bench/quality/data", name), "rt") as f:
            rows[lang] = [o["text"] for o in map(json.loads, f) if o.get("lang") == lang]
    out = []
    i = 0
    while len(out) < skip + n:
        for lang in ("typescript", "python"):
            if i < len(rows[lang]):
                out.append(rows[lang][i])
        i += 1
    return out[skip: skip + n]


def encode(texts: list[str], tokens: int) -> list[list[int]]:
    import subprocess  # the product's tokenizer, through Node (this Python has no tokenizers package)
    res = subprocess.run(["node", os.path.join(ROOT, "bench/accelerators/tokenize.mjs")], input=json.dumps(texts).encode(),
                         capture_output=True, check=True)
    out = []
    for ids in json.loads(res.stdout):
        if len(ids) >= 64:
            out.append(ids[:tokens])
    return out


def run(model: LlamaLM, ids: list[int], skip: set[tuple[int, str]], sims: dict | None = None):
    """Teacher-forced forward with sublayers in `skip` ((layer, 'attn'|'ffn')) left out; fills sims if given."""
    x = model.model.embed_tokens(torch.tensor([ids]))
    s = len(ids)
    pos = torch.arange(s)[None, :]
    cos, sin = model._rope(pos, x.dtype)
    bias = torch.full((s, s), float("-inf")).triu(1)[None, None]
    for i, layer in enumerate(model.model.layers):
        if (i, "attn") not in skip:
            a, _ = layer.self_attn(layer.input_layernorm(x), cos, sin, bias, None)
            y = x + a
            if sims is not None:
                sims.setdefault((i, "attn"), []).append(torch.nn.functional.cosine_similarity(x[0], y[0], dim=-1).mean().item())
            x = y
        if (i, "ffn") not in skip:
            y = x + layer.mlp(layer.post_attention_layernorm(x))
            if sims is not None:
                sims.setdefault((i, "ffn"), []).append(torch.nn.functional.cosine_similarity(x[0], y[0], dim=-1).mean().item())
            x = y
    return model.lm_head(model.model.norm(x))[0].float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--calib", type=int, default=6)
    ap.add_argument("--eval", type=int, default=6)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--skips", default="1,2,4")
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = config_from_hf(json.load(open(os.path.join(MODEL, "config.json"))))
    sd = state_dict_from_q8w(os.path.join(MODEL, "onnx/model_quantized.onnx"))
    model = LlamaLM(cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()}, strict=False)
    model.eval()
    calib = encode(dev_files(a.calib, 0), a.tokens)
    evals = encode(dev_files(a.eval, a.calib), a.tokens)
    sims: dict = {}
    with torch.no_grad():
        for ids in calib:
            run(model, ids, set(), sims)
    ranked = sorted(((float(np.mean(v)), k) for k, v in sims.items()), reverse=True)
    report = {
        "calibration": {"files": len(calib), "tokens": sum(map(len, calib)),
                        "sublayers": [{"layer": k[0], "kind": k[1], "cosine": round(c, 4)} for c, k in ranked]},
        "variants": [],
    }
    with torch.no_grad():
        full = [run(model, ids, set()) for ids in evals]

        def quality(skip, seqs=None):
            loss, agree, n = 0.0, 0, 0
            for ids, ref in (seqs or list(zip(evals, full))):
                lg = run(model, ids, skip)
                tgt = torch.tensor(ids[1:])
                loss += torch.nn.functional.cross_entropy(lg[:-1], tgt, reduction="sum").item()
                agree += int((lg[:-1].argmax(-1) == ref[:-1].argmax(-1)).sum())
                n += len(ids) - 1
            return round(loss / n, 4), round(agree / n, 4)

        # Parity subset: the first PARITY_SEQS eval sequences cut to PARITY_TOKENS, written out so that
        # adaskip-speed.mjs --parity computes the same loss with the ONNX graphs (graph surgery == PyTorch skipping).
        subset = [(ids[:PARITY_TOKENS], ref[:PARITY_TOKENS]) for ids, ref in list(zip(evals, full))[:PARITY_SEQS]]
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "parity_ids.json"), "w") as f:
            json.dump([ids for ids, _ in subset], f)
        base_loss, _ = quality(set())
        report["full"] = {"eval_files": len(evals), "eval_tokens": sum(len(x) - 1 for x in evals), "loss": base_loss,
                          "parity_loss": quality(set(), subset)[0]}
        for k in [int(x) for x in a.skips.split(",")]:
            skip = {key for _, key in ranked[:k]}
            loss, agree = quality(skip)
            m = onnx.load(os.path.join(MODEL, "onnx/model_quantized.onnx"))
            for layer, kind in sorted(skip):
                cut(m, layer, kind)
            prune(m)
            onnx.checker.check_model(m)
            d = os.path.join(a.out, f"skip-{k}")
            os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
            for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
                shutil.copy(os.path.join(MODEL, f), os.path.join(d, f))
            onnx.save(m, os.path.join(d, "onnx/model_quantized.onnx"))
            report["variants"].append({"skip": k, "sublayers": [f"{l}.{t}" for l, t in sorted(skip)], "loss": loss,
                                       "parity_loss": quality(skip, subset)[0],
                                       "loss_delta": round(loss - base_loss, 4), "top1_agreement": agree,
                                       "graph_nodes": len(m.graph.node), "dir": d})
    print(json.dumps(report, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
