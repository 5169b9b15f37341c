"""AdaSkip (arXiv 2501.02336) graph surgery without PyTorch: skip attention / FFN sublayers in a graph our exporter wrote.

Shared by bench/accelerators/adaskip.py (models/default: calibrated choice, q8w graph) and, as a command, by the speed
measurements at the Qwen2.5-Coder-0.5B / 1.5B shapes (native/py/qwen_models.py's Optimum layouts, MatMulNBits graph):
those models have random weights, so a calibration on them would rank noise; there the skipped sublayers follow a
fixed rule (below) and only their speed is measured. Quality stays models/default's (adaskip.py).

Surgery (per skipped sublayer): the residual Add after the sublayer's output projection (self_attn.o_proj for
attention, mlp.down_proj for the FFN; a MatMul or MatMulNBits whose weight input starts with
model.layers.{i}.<proj>.weight) is removed and its output replaced by its residual input; nodes and initializers no
longer reachable from a graph output are pruned. A skipped attention keeps its K/V projections (they feed the graph's
present.{i}.key/value outputs), so the KV cache layout — what the per-file prefix caches hold — stays the same.

Fixed rule of the command (--variant NAME:ATTN:FFN): ATTN attention and FFN FFN sublayers, each set at layers spread
evenly over 1 .. L-2 (layer i_k = 1 + floor((k + 0.5) * (L - 2) / n), k < n): never the first or last layer
(models/default's calibration ranked 0.ffn, 0.attn and 9.ffn the least redundant).

  /usr/bin/python3 bench/accelerators/adaskip_graph.py --model DIR --out DIR2 --variant skip-a10:10:0 [--variant ...]
writes DIR2/NAME/ per variant: a model directory (config, tokenizer, onnx/<graph>.onnx) whose external-data file is a
hard link to DIR's (a copy on another file system; the kept weights are read from it). Prints JSON: per variant the sublayers
skipped and the node count (also as NAME/adaskip.json, which adaskip-prefill.mjs reads). Needs onnx only (no torch,
no onnxruntime).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import onnx

PROJ = {"attn": "self_attn.o_proj", "ffn": "mlp.down_proj"}


def cut(m: onnx.ModelProto, layer: int, kind: str) -> None:
    """Removes the residual Add after sublayer (layer, kind) from m's graph in place (prune afterwards).

    Raises SystemExit when the graph does not have exactly one projection MatMul(NBits) and one residual Add there."""
    g = m.graph
    prefix = f"model.layers.{layer}.{PROJ[kind]}.weight"
    mm = [n for n in g.node if n.op_type in ("MatMul", "MatMulNBits") and len(n.input) > 1 and n.input[1].startswith(prefix)]
    if len(mm) != 1:
        raise SystemExit(f"{prefix}: expected one MatMul/MatMulNBits, found {len(mm)}")
    y = mm[0].output[0]
    adds = [n for n in g.node if n.op_type == "Add" and y in n.input]
    if len(adds) != 1:
        raise SystemExit(f"{prefix}: expected one residual Add, found {len(adds)}")
    add = adds[0]
    residual = [t for t in add.input if t != y][0]
    out = add.output[0]
    if any(o.name == out for o in g.output):
        raise SystemExit("a residual Add feeds a graph output directly")
    g.node.remove(add)
    for n in g.node:
        for k, t in enumerate(n.input):
            if t == out:
                n.input[k] = residual


def prune(m: onnx.ModelProto) -> None:
    """Drops the nodes, initializers and value_info that no graph output depends on (in place)."""
    g = m.graph
    need = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(t for t in n.input if t)
    kept = list(reversed(keep))
    del g.node[:]
    g.node.extend(kept)
    inits = [i for i in g.initializer if i.name in need]
    del g.initializer[:]
    g.initializer.extend(inits)
    vi = [v for v in g.value_info if v.name in need]
    del g.value_info[:]
    g.value_info.extend(vi)


def spread(n: int, layers: int) -> list[int]:
    """n layer indices spread evenly over 1 .. layers-2 (the fixed rule; n <= layers - 2)."""
    inner = layers - 2
    if n == 0:
        return []
    if n > inner:
        raise SystemExit(f"cannot pick {n} of the {inner} inner layers")
    return [1 + (2 * k + 1) * inner // (2 * n) for k in range(n)]


def plain_graph(model_dir: str) -> str:
    """The model directory's plain graph: onnx/model*.onnx that is neither a CritiPrefill twin nor a layer group."""
    d = os.path.join(model_dir, "onnx")
    cands = sorted(f for f in os.listdir(d) if f.endswith(".onnx") and "_critiprefill" not in f and "_runahead" not in f)
    if len(cands) != 1:
        raise SystemExit(f"{d}: expected one plain graph, found {cands}")
    return os.path.join(d, cands[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a model directory (qwen_models.py Optimum layout, or models/default)")
    ap.add_argument("--out", required=True, help="where the variant directories go (outside the repository)")
    ap.add_argument("--variant", action="append", required=True, help="NAME:ATTN:FFN (sublayers skipped of each kind)")
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    layers = int(cfg["num_hidden_layers"])
    src = plain_graph(a.model)
    data = [p for p in (src + "_data", src + ".data") if os.path.exists(p)]
    report = {"model": a.model, "graph": os.path.basename(src), "layers": layers, "sublayers": 2 * layers, "variants": []}
    for spec in a.variant:
        name, n_attn, n_ffn = spec.split(":")
        skip = [(i, "attn") for i in spread(int(n_attn), layers)] + [(i, "ffn") for i in spread(int(n_ffn), layers)]
        m = onnx.load(src, load_external_data=False)
        before = len(m.graph.node)
        for layer, kind in sorted(skip):
            cut(m, layer, kind)
        prune(m)
        d = os.path.join(a.out, name)
        os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
        for f in os.listdir(a.model):
            if f.endswith(".json") and f != "adaskip.json" and os.path.isfile(os.path.join(a.model, f)):
                shutil.copy(os.path.join(a.model, f), os.path.join(d, f))
        dst = os.path.join(d, "onnx", os.path.basename(src))
        onnx.save(m, dst)
        for p in data:  # the external weights, so the kept initializers' (location, offset) stay valid: a hard link
            link = os.path.join(d, "onnx", os.path.basename(p))  # (onnxruntime refuses a symbolic link that leaves
            if os.path.lexists(link):                            # the model directory), else a copy
                os.remove(link)
            try:
                os.link(p, link)
            except OSError:
                shutil.copyfile(p, link)
        v = {"name": name, "dir": d, "sublayers": [f"{l}.{k}" for l, k in sorted(skip)], "skipped": len(skip),
             "fraction": round(len(skip) / (2 * layers), 3), "nodes": len(m.graph.node), "nodesBefore": before,
             "rule": "fixed: evenly spread over layers 1..L-2 (random weights: no calibration)"}
        with open(os.path.join(d, "adaskip.json"), "w") as f:
            f.write(json.dumps(v, indent=1) + "\n")
        report["variants"].append(v)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
