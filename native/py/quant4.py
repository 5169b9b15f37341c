"""4-bit variants of a q8w model directory, for issue 16's measurement of what 4-bit weights cost.

The layers' weights become symmetric 4-bit blocks (com.microsoft MatMulNBits bits=4, block 32/64/128) with
onnxruntime's accuracy_level L (0/1: fp32 compute; 4: int8 activations per block, faster, CPU-class dependent
rounding); the tied embedding / LM head keeps the shipped 8-bit blocks and is folded to fp32 at load
(native/py/dequant_graph.py), as in the shipped graph. The source weights are the shipped 8-bit ones
dequantized (no bf16 checkpoint here), so this measures 8-bit -> 4-bit re-quantization; from bf16 weights
the 4-bit error would be a little smaller.

  /usr/bin/python3 native/py/quant4.py models/default OUT_DIR --block 64 --level 1
Writes OUT_DIR as a model directory (config, tokenizer, golden.json copied) and prints its size.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--block", type=int, default=64, choices=[16, 32, 64, 128])
    ap.add_argument("--level", type=int, default=1, choices=[0, 1, 2, 3, 4])
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import onnx

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "native/py"))
sys.path.insert(0, os.path.join(ROOT, "bench/runtime/gpu"))
from dequant_graph import rewrite  # noqa: E402
from onnx_builder import build_onnx  # noqa: E402
from variants import config_from_hf, state_dict_from_q8w  # noqa: E402


def main():
    ap = parser()
    a = ap.parse_args()
    cfg = config_from_hf(json.load(open(os.path.join(a.model, "config.json"))))
    sd = state_dict_from_q8w(os.path.join(a.model, "onnx/model_quantized.onnx"))
    if "lm_head.weight" not in sd and cfg.tie_embeddings:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    m = build_onnx(cfg, sd, layout="packed", quant="q8w", accuracy_level=a.level, linear_bits=4, linear_block=a.block)
    rep = rewrite(m, keep_4bit=True)
    m.doc_string += f"\n4-bit layers (block {a.block}, accuracy_level {a.level}), 8-bit tied embedding/LM head folded to fp32 (native/py/quant4.py)"
    onnx.checker.check_model(m)
    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "golden.json"):
        shutil.copy(os.path.join(a.model, f), os.path.join(a.out, f))
    path = os.path.join(a.out, "onnx/model_quantized.onnx")
    onnx.save(m, path)
    print(json.dumps({"out": a.out, "block": a.block, "level": a.level, "bytes": os.path.getsize(path), **rep}))


if __name__ == "__main__":
    main()
