"""fp32 reference for a q8w model directory's golden prompts, written into its golden.json.

The weights are recovered from the shipped 8-bit graph (bench/runtime/gpu/variants.py: MatMulNBits blocks
dequantized, zero point 128, one fp32 scale per block), so this is exactly the model the shipped graph computes,
run in PyTorch fp32 (native/py/model.py). Per golden prompt it stores:
  fp32_tokens  greedy tokens of that fp32 model (N_GREEDY of them);
  fp32_margin  at each of those positions, logit(top-1) - logit(top-2) of the fp32 model, teacher-forced: the
               prompt and fp32_tokens go through one forward pass, so each position is computed from the
               reference prefix and positions are independent of each other.
--dump FILE also writes those teacher-forced logits (float32, prompts x positions x vocab) for
native/tools/logit-diff.mjs.

  python3 native/py/reference.py models/default [--write] [--dump FILE]   (needs torch, onnx, numpy)
"""
from __future__ import annotations

import argparse
import json
import os
import sys

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--dump")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "native/py"))
sys.path.insert(0, os.path.join(ROOT, "bench/runtime/gpu"))
from model import LlamaLM  # noqa: E402
from variants import config_from_hf, state_dict_from_q8w  # noqa: E402


def main():
    ap = parser()
    a = ap.parse_args()
    torch.set_num_threads(1)  # one summation order, whatever the machine's core count
    cfg = config_from_hf(json.load(open(os.path.join(a.model, "config.json"))))
    sd = state_dict_from_q8w(os.path.join(a.model, "onnx/model_quantized.onnx"))
    model = LlamaLM(cfg)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()}, strict=False)
    missing = [k for k in missing if not k.startswith("rope_")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()
    gpath = os.path.join(a.model, "golden.json")
    golden = json.load(open(gpath))
    rows = []
    summary = []
    with torch.no_grad():
        for g in golden:
            ids = list(g["input_ids"])
            n = len(g["greedy_torch_fp32"])
            toks: list[int] = []
            for _ in range(n):  # greedy, recomputing the whole sequence each step (no KV cache to get wrong)
                logits, _ = model(torch.tensor([ids + toks]))
                toks.append(int(logits[0, -1].argmax()))
            logits, _ = model(torch.tensor([ids + toks[:-1]]))
            tf = logits[0, len(ids) - 1:].double()  # [n, V]: position k predicts toks[k]
            assert [int(x) for x in tf.argmax(-1)] == toks
            top2 = tf.topk(2, dim=-1).values
            margin = (top2[:, 0] - top2[:, 1]).tolist()
            g["fp32_tokens"] = toks
            g["fp32_margin"] = [round(m, 4) for m in margin]
            rows.append(logits[0, len(ids) - 1:].float().numpy())
            summary.append({"equal_to_greedy_torch_fp32": toks == g["greedy_torch_fp32"],
                            "min_margin": round(min(margin), 4)})
    print(json.dumps(summary))
    if a.dump:
        np.concatenate(rows).astype(np.float32).tofile(a.dump)
    if a.write:
        with open(gpath, "w") as f:
            f.write(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
