"""Writes the LazyLLM twin of a model directory's graph (issue 17; Fu et al., "LazyLLM: Dynamic Token Pruning for
Efficient Long Context LLM Inference", arXiv 2407.14057).

The twin `onnx/model{suffix}_lazyllm.onnx` has the plain graph's inputs, outputs and KV layout. From each layer of
its schedule on it computes queries, O-projection and MLP only for the run's tokens that the previous layer's
attention from the run's last token ranks highest (onnx_builder.Builder.lazyllm_select; the last token always kept);
the others keep the hidden state they had when pruned (LazyLLM's aux cache), and every later layer still projects
their K/V from it, so the presents are full length and a prefix cache built through the twin stays complete (the K/V
of layers from the first pruning layer on are approximate by design). The runtime uses it, when told to
(INFILL_LS_LAZYLLM=1), for prefill runs of a minimum length; decoding stays on the plain graph.

The weights are recovered from the graph itself (critiprefill.recover: fp32, q8w and 4-bit q4w graphs written by
onnx_builder), so the twin computes the same model.
  /usr/bin/python3 native/py/lazyllm.py MODEL_DIR --schedule 4:70,6:50,8:35 [--graph onnx/model_quantized.onnx] [--out FILE]
Test fixtures (a deeper copy of a small fp32 model: its layers repeated, so pruning reaches the last token's logits):
  /usr/bin/python3 native/py/lazyllm.py test/fixtures/models/qwen2 --stack-layers 4 --out-dir test/fixtures/lazyllm/qwen2-4l
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
    ap.add_argument("--stack-layers", type=int, default=0, help="test fixtures: write a copy with this many layers into --out-dir (no twin)")
    ap.add_argument("--out-dir", default="")
    ap.add_argument("--schedule", default="", help="LAYER:PERCENT[,LAYER:PERCENT...]: from LAYER on, PERCENT %% of the run's tokens are computed")
    ap.add_argument("--compute", default="fp32", choices=["fp32", "matmulnbits"], help="q8w graphs: as native/py/export.py")
    ap.add_argument("--out", default="", help="twin file (default: the graph's name + _lazyllm)")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need onnx

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench/runtime/gpu"))
from critiprefill import load_plain  # noqa: E402
from onnx_builder import build_onnx, lazyllm_path, parse_lazyllm  # noqa: E402


def stack_layers(model: str, n: int, out_dir: str) -> None:
    """Writes out_dir: `model` (an fp32 directory) with n layers, layer i a copy of layer i mod L, plain graph
    onnx/model.onnx, config.json and the tokenizer files copied."""
    import shutil
    path, cfg, layout, sd, quant, extra = load_plain(model)
    if quant != "fp32":
        raise SystemExit("--stack-layers: fp32 models only")
    hf = json.load(open(os.path.join(model, "config.json")))
    L = hf["num_hidden_layers"]
    out = {k: v for k, v in sd.items() if not k.startswith("model.layers.")}
    for i in range(n):
        src = f"model.layers.{i % L}."
        out.update({f"model.layers.{i}." + k[len(src):]: v for k, v in sd.items() if k.startswith(src)})
    hf["num_hidden_layers"] = n
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    for f in os.listdir(model):
        if f.startswith("tokenizer") or f == "special_tokens_map.json":
            shutil.copy(os.path.join(model, f), out_dir)
    json.dump(hf, open(os.path.join(out_dir, "config.json"), "w"), indent=1)
    from variants import config_from_hf
    onnx.save(build_onnx(config_from_hf(hf), out, layout=layout, quant="fp32"), os.path.join(out_dir, "onnx", "model.onnx"))


def main():
    ap = parser()
    a = ap.parse_args()
    if a.stack_layers:
        return stack_layers(a.model, a.stack_layers, a.out_dir)
    if not a.schedule:
        raise SystemExit("--schedule LAYER:PERCENT[,...] is required")
    path, cfg, layout, sd, quant, extra = load_plain(a.model, a.graph)
    lazy = parse_lazyllm(a.schedule)
    twin = build_onnx(cfg, sd, layout=layout, quant=quant, lazyllm=lazy, **extra)
    if quant == "q8w" and a.compute == "fp32":
        from dequant_graph import rewrite
        rewrite(twin, keep_4bit=bool(extra))
    out = a.out or lazyllm_path(path)
    onnx.save(twin, out)
    print(json.dumps({"twin": out, "layout": layout, "quant": quant, **lazy, "bytes": os.path.getsize(out)}))


if __name__ == "__main__":
    main()
