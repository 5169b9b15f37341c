#!/usr/bin/env python3
"""Decode-step microbenchmark graphs (issue 15): the linear layers of one Qwen2.5-Coder decode step, M = 1.

Writes ONNX graphs holding only what dominates our CPU decode (85% MatMulNBits, bench/realmodels/README.md):
per layer q/k/v/o/gate/up/down projections, then the LM head, with random 4-bit weights (speed only; values are
meaningless). Variants differ in block size, accuracy_level, q/k/v and gate/up fusion, and the LM head's format.
Timed by bench/realmodels/decode-stack.mjs (onnxruntime-node, 1 thread).

usage: python3 decode_stack.py --out DIR [--shape 0.5b] [--layers N]
"""
import argparse
import os

SHAPES = {"0.5b": dict(h=896, kv=128, ffn=4864, vocab=151936, layers=24),
          "1.5b": dict(h=1536, kv=256, ffn=8960, vocab=151936, layers=28)}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="0.5b", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, default=0, help="0: the shape's layer count")
    ap.add_argument("--variants", default="b32-acc4,b64-acc4,b128-acc4,b256-acc4,b128-acc4-fused,b128-acc0,b128-acc4-headq8,b128-acc4-headfp32,b128-acc4-headnone,b128-acc4-head256")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"


class G:
    def __init__(self, seed=0):
        self.nodes, self.inits, self.n, self.outputs = [], [], 0, []
        self.rng = np.random.default_rng(seed)

    def name(self, p):
        self.n += 1
        return f"{p}_{self.n}"

    def init(self, arr, p="w"):
        nm = self.name(p)
        self.inits.append(numpy_helper.from_array(arr, nm))
        return nm

    def op(self, t, ins, n_out=1, domain="", **attrs):
        outs = [self.name(t) for _ in range(n_out)]
        self.nodes.append(helper.make_node(t, ins, outs, name=self.name(t + "_node"), domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def nbits(self, x, k, n, block, acc, bits=4):
        blocks = -(-k // block)  # ceil: MatMulNBits pads K to whole blocks
        packed = self.rng.integers(0, 256, size=(n, blocks, block * bits // 8), dtype=np.uint8)
        scales = (self.rng.random(n * blocks, dtype=np.float32) * 0.01 + 0.001).astype(np.float32)
        return self.op("MatMulNBits", [x, self.init(packed, "q"), self.init(scales, "s")], domain=MS,
                       K=k, N=n, bits=bits, block_size=block, accuracy_level=acc)

    def matmul(self, x, k, n, dtype=np.float32):
        w = (self.rng.standard_normal((k, n), dtype=np.float32) * 0.02).astype(dtype)
        if dtype == np.float16:
            x = self.op("Cast", [x], to=TensorProto.FLOAT16)
            return self.op("Cast", [self.op("MatMul", [x, self.init(w)])], to=TensorProto.FLOAT)
        return self.op("MatMul", [x, self.init(w)])


def build(shape, layers, block, acc, fuse, head, head_block=None):
    s = SHAPES[shape]
    h, kv, ffn, V = s["h"], s["kv"], s["ffn"], s["vocab"]
    g = G()
    x = "x"
    for _ in range(layers):
        if fuse:
            qkv = g.nbits(x, h, h + 2 * kv, block, acc)
            q, k, v = g.op("Split", [qkv, g.init(np.array([h, kv, kv], np.int64), "split")], n_out=3, axis=-1)
        else:
            q, k, v = (g.nbits(x, h, n, block, acc) for n in (h, kv, kv))
        g.outputs += [k, v]
        o = g.nbits(q, h, h, block, acc)
        if fuse:
            gu = g.nbits(o, h, 2 * ffn, block, acc)
            gate, up = g.op("Split", [gu, g.init(np.array([ffn, ffn], np.int64), "split")], n_out=2, axis=-1)
        else:
            gate, up = g.nbits(o, h, ffn, block, acc), g.nbits(o, h, ffn, block, acc)
        m = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        x = g.op("Add", [g.nbits(m, ffn, h, block, acc), x])
    if head == "q4":
        logits = g.nbits(x, h, V, head_block or block, acc)
    elif head == "q8":
        logits = g.nbits(x, h, V, head_block or block, acc, bits=8)
    elif head == "fp32":
        logits = g.matmul(x, h, V)
    elif head == "none":
        logits = x
    else:
        raise ValueError(head)
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)]
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    outs += [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in g.outputs]
    graph = helper.make_graph(g.nodes, "decode_stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, h])], outs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def main():
    ap = parser()
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    layers = a.layers or SHAPES[a.shape]["layers"]
    for v in a.variants.split(","):
        parts = v.split("-")
        block = int(parts[0][1:])
        acc = int(parts[1][3:])
        fuse = "fused" in parts
        head = next((p[4:] for p in parts if p.startswith("head")), "q4")
        head_block = None
        if head.isdigit():
            head_block, head = int(head), "q4"
        m = build(a.shape, layers, block, acc, fuse, head, head_block)
        path = os.path.join(a.out, f"{v}.onnx")
        onnx.save(m, path)
        print(path, os.path.getsize(path) >> 20, "MiB", flush=True)


if __name__ == "__main__":
    main()
