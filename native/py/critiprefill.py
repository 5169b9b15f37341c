"""Writes the CritiPrefill twin of a model directory's graph (issue 17; Lv et al., arXiv 2409.12490).

The twin `onnx/model{suffix}_critiprefill.onnx` has the plain graph's inputs, outputs and KV layout; per layer it
attends only to the KV blocks its run's queries score highest (onnx_builder.Builder.critiprefill_plan). Its presents
are the full past + the run's K/V, so a prefix cache built through it stays complete (the K/V of later layers are
approximate by design: they come from hidden states that attended to the kept blocks only). The runtime uses it, when
told to (INFILL_LS_CRITIPREFILL=1), for prefill runs whose past exceeds its budget; decoding stays on the plain graph.

The weights are recovered from the graph itself, so the twin computes the same model:
  - q8w graphs (models/default: MatMulNBits blocks, or dequant_graph.py's chains of them) -> the same 8-bit blocks
    re-derived from the dequantized weights (block max and so the scale are preserved; each q re-rounds to itself),
    written the way native/py/export.py writes them (dequant_graph.rewrite unless --compute matmulnbits);
  - fp32 graphs written by onnx_builder (test fixtures) -> the same fp32 weights.

  /usr/bin/python3 native/py/critiprefill.py MODEL_DIR --block 64 --budget 8 [--recent 1] [--graph onnx/model_quantized.onnx] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--graph", default="", help="the plain graph, relative to MODEL (default: onnx/model_quantized.onnx, else onnx/model.onnx)")
    ap.add_argument("--block", type=int, default=64, help="positions per KV block")
    ap.add_argument("--budget", type=int, default=8, help="KV blocks kept per layer and KV head (sink and recent included)")
    ap.add_argument("--recent", type=int, default=1, help="newest whole blocks always kept")
    ap.add_argument("--compute", default="fp32", choices=["fp32", "matmulnbits"], help="q8w graphs: as native/py/export.py")
    ap.add_argument("--out", default="", help="twin file (default: the graph's name + _critiprefill)")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench/runtime/gpu"))
from onnx_builder import build_onnx, twin_path  # noqa: E402
from variants import config_from_hf  # noqa: E402


def recover(m: onnx.ModelProto) -> tuple[dict, str, dict]:
    """(torch-named fp32 state dict, 'q8w' | 'fp32', build_onnx keyword arguments) from a graph onnx_builder wrote.
    A 4-bit graph (export.py --linear-bits 4: `.q4w` MatMulNBits layers, 8-bit embedding) gives 'q8w' with
    {linear_bits: 4, linear_block, accuracy_level}: re-quantizing its dequantized weights gives the same codes and
    scales (symmetric, s = max|w| / 7 per block, and the block's largest weight is exactly 7 s or -7 s)."""
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    sd: dict[str, np.ndarray] = {}
    if any(k.endswith(".q8w") for k in inits):
        extra: dict = {}
        for name, arr in inits.items():
            if name.endswith(".q8w"):
                key = name[: -len(".q8w")]
                n, nb, block = arr.shape
                sd[key] = ((arr.astype(np.float32) - 128.0) * inits[key + ".q8w_scale"].reshape(n, nb, 1)).reshape(n, nb * block)
            elif name.endswith(".q4w"):  # two codes a byte, low nibble first, zero point 8 (onnx_builder.py linear_bits=4)
                key = name[: -len(".q4w")]
                n, nb, half = arr.shape
                q = np.stack([arr & 15, arr >> 4], axis=-1).reshape(n, nb, 2 * half).astype(np.float32) - 8.0
                sd[key] = (q * inits[key + ".q4w_scale"].reshape(n, nb, 1)).reshape(n, nb * 2 * half)
                extra = {"linear_bits": 4, "linear_block": 2 * half}
            elif name.endswith(".weight") or name.endswith(".bias"):
                sd[name] = arr.astype(np.float32)
        if extra:
            levels = {a.i for nd in m.graph.node if nd.op_type == "MatMulNBits" for a in nd.attribute if a.name == "accuracy_level"}
            extra["accuracy_level"] = levels.pop() if len(levels) == 1 else 0
        return sd, "q8w", extra
    if any(k.endswith(".int8") for k in inits):
        raise SystemExit("only fp32, q8w and q4w graphs written by native/py/onnx_builder.py are supported")
    for name, arr in inits.items():
        if name.endswith("_proj.weight"):
            sd[name] = arr.T.astype(np.float32)  # stored as W^T [in, out]
        elif name == "lm_head.weight.T":
            sd["lm_head.weight"] = arr.T.astype(np.float32)
        elif name.endswith(".weight") or name.endswith(".bias"):
            sd[name] = arr.astype(np.float32)
    return sd, "fp32", {}


def load_plain(model: str, graph: str = "") -> tuple:
    """(graph path, ModelConfig, 'packed' | 'standard', torch-named fp32 state dict, 'q8w' | 'fp32', build_onnx
    keyword arguments for 4-bit layers) of a model
    directory's plain graph (`graph` relative to it; default onnx/model_quantized.onnx, else onnx/model.onnx)."""
    graph = graph or next(g for g in ("onnx/model_quantized.onnx", "onnx/model.onnx") if os.path.exists(os.path.join(model, g)))
    path = os.path.join(model, graph)
    hf = json.load(open(os.path.join(model, "config.json")))
    layout = "packed" if (hf.get("infill_ls") or {}).get("packed") else "standard"
    sd, quant, extra = recover(onnx.load(path))
    return path, config_from_hf(hf), layout, sd, quant, extra


def main():
    ap = parser()
    a = ap.parse_args()
    path, cfg, layout, sd, quant, extra = load_plain(a.model, a.graph)
    crit = {"block": a.block, "budget": a.budget, "recent": a.recent}
    twin = build_onnx(cfg, sd, layout=layout, quant=quant, critiprefill=crit, **extra)
    if quant == "q8w" and a.compute == "fp32":
        from dequant_graph import rewrite
        rewrite(twin, keep_4bit=bool(extra))
    out = a.out or twin_path(path)
    onnx.save(twin, out)
    print(json.dumps({"twin": out, "layout": layout, "quant": quant, **crit, "bytes": os.path.getsize(out)}))


if __name__ == "__main__":
    main()
