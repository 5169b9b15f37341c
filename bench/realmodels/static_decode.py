"""Rewrites a genai-layout decoder (GroupQueryAttention) into the static-KV decode-step form that WebGPU graph capture
needs (issue 15; bench/realmodels/ort-web-probe.mjs): GroupQueryAttention's `seqlens_k` ([1] int32, the valid length
minus 1) and `total_sequence_length` ([1] int32) become graph inputs, and `attention_mask` with the shape arithmetic
that made them from it is removed, so the past K/V inputs can be buffers of a fixed capacity bound as their own
presents. Nothing else changes.

  /usr/bin/python3 bench/realmodels/static_decode.py IN.onnx OUT.onnx
"""
import argparse


def static_decode(m):
    """m: an onnx.ModelProto of the genai layout; edited in place and returned. Raises SystemExit without GQA."""
    from onnx import TensorProto, helper
    g = m.graph
    gqa = [n for n in g.node if n.op_type == "GroupQueryAttention"]
    if not gqa:
        raise SystemExit("no GroupQueryAttention node: not a genai-layout decoder")
    for n in gqa:
        n.input[5], n.input[6] = "seqlens_k", "total_sequence_length"
    while True:  # drop the nodes whose outputs nothing reads any more
        used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
        keep = [n for n in g.node if any(o in used for o in n.output)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    inputs = [i for i in g.input if i.name != "attention_mask"] + [
        helper.make_tensor_value_info("seqlens_k", TensorProto.INT32, [1]),
        helper.make_tensor_value_info("total_sequence_length", TensorProto.INT32, [1])]
    del g.input[:]
    g.input.extend(inputs)
    return m


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    import onnx  # after --help: the help test runs without onnx
    onnx.save(static_decode(onnx.load(a.src)), a.dst)
    print(f"wrote {a.dst}")
