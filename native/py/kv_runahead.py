"""Writes the KV-Runahead layer groups of a model directory's graph (issue 17; Cho et al., "KV-Runahead: Scalable
Causal LLM Inference by Parallel Key-Value Cache Generation", arXiv 2405.05329).

KV-Runahead splits one prefill over context partitions: the worker of partition i runs the model's layers on its own
tokens, attending to the K/V that the workers of partitions 0..i-1 computed for the same layers, and hands the grown
K/V to partition i+1. In ONNX that needs the layers as separate graphs, so a worker can run layer group g as soon as
the previous partition's presents for group g arrive. This writes `groups` graphs
`onnx/model{suffix}_runahead{k}of{groups}.onnx` (onnx_builder.build_onnx `layers`): group 0 = embedding + its layers,
the last = its layers + final norm + LM head, the rest layers only; past/present names, shapes and positions are the
plain graph's, so the presents of all groups together are exactly a plain prefill's KV cache (per-file prefix caches
extend it as they would the plain graph's). Chaining the groups computes the plain graph (test/runtime/kv-runahead.test.ts).

The weights are recovered from the graph itself as native/py/critiprefill.py does (q8w graphs -> the same 8-bit
blocks; fp32 graphs written by onnx_builder -> the same fp32 weights).

  /usr/bin/python3 native/py/kv_runahead.py MODEL_DIR --groups 2 [--graph onnx/model_quantized.onnx] [--out-prefix FILE]
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
    ap.add_argument("--groups", type=int, default=2, help="layer groups (contiguous, sizes differing by at most one)")
    ap.add_argument("--compute", default="fp32", choices=["fp32", "matmulnbits"], help="q8w graphs: as native/py/export.py")
    ap.add_argument("--out-prefix", default="", help="write PREFIX_runahead{k}of{n}.onnx instead of next to the graph")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from critiprefill import load_plain  # noqa: E402
from onnx_builder import build_onnx, group_path, layer_groups  # noqa: E402


def main():
    ap = parser()
    a = ap.parse_args()
    path, cfg, layout, sd, quant, extra = load_plain(a.model, a.graph)
    written = []
    for k, layers in enumerate(layer_groups(cfg.num_layers, a.groups)):
        m = build_onnx(cfg, sd, layout=layout, quant=quant, layers=layers, **extra)
        if quant == "q8w" and a.compute == "fp32":
            from dequant_graph import rewrite
            rewrite(m, keep_4bit=bool(extra))
        out = group_path(a.out_prefix + ".onnx" if a.out_prefix else path, k, a.groups)
        onnx.save(m, out)
        written.append({"file": out, "layers": list(layers), "bytes": os.path.getsize(out)})
    print(json.dumps({"layout": layout, "quant": quant, "groups": written}))


if __name__ == "__main__":
    main()
