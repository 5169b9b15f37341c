"""Rewrites a q8w graph so that it computes in fp32 on every CPU, with the same 8-bit file.

Each MatMulNBits node (com.microsoft; x [.., K] times uint8 blocks [N, K/128, 128] with zero point 128 and one
fp32 scale per block) becomes standard ONNX ops:

    W^T = Transpose(Reshape((Cast(q, float) - 128) * Reshape(scale, [N, K/128, 1]), [N, K]))   # [K, N], fp32
    y   = MatMul(x, W^T)

Every input of W^T is an initializer, so onnxruntime's constant folding (on at every graph optimization level
above "disabled") computes W^T once when the session is created: the file stays 8-bit (the uint8 blocks and
scales, nothing added), the session holds fp32 weights (about 4 bytes a parameter), and the matrix products are
plain fp32 MatMul (MLAS SGEMM, prepacked). The dequantization is the one bench/runtime/gpu/variants.py and
native/py/reference.py use, so the graph computes the fp32 reference model up to summation order, whatever the
CPU's SIMD (AVX2, AVX-512, NEON) -- unlike MatMulNBits accuracy_level 4, whose int8 activation rounding differs
between onnxruntime's AVX2 and AVX-512 VNNI kernels (models/default/README.md, "Numerics").

  python3 native/py/dequant_graph.py IN.onnx OUT.onnx     (needs onnx; weights are never re-quantized)
"""
from __future__ import annotations

import argparse
import json
import typing

if typing.TYPE_CHECKING:
    import numpy as np
    import onnx


KEEP_4BIT = False


def rewrite(m: onnx.ModelProto, keep_4bit: bool = False) -> dict:
    # imported here, not at the top, so that --help works without onnx installed
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    global KEEP_4BIT
    KEEP_4BIT = keep_4bit
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    new_inits = []
    n_rewritten = 0
    consts: dict[str, str] = {}

    def const(name: str, arr: np.ndarray) -> str:
        if name not in consts:
            new_inits.append(numpy_helper.from_array(arr, name))
            consts[name] = name
        return name

    zp = const("dq.zero_point_128", np.array(128.0, dtype=np.float32))
    for node in g.node:
        if node.op_type != "MatMulNBits" or node.domain != "com.microsoft":
            new_nodes.append(node)
            continue
        a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
        if a.get("bits") == 4 and KEEP_4BIT:  # issue 16's 4-bit variants: only the 8-bit embedding / LM head is folded
            new_nodes.append(node)
            continue
        if a.get("bits") != 8 or len(node.input) > 3 and any(node.input[3:]):
            raise SystemExit(f"{node.name}: only 8-bit MatMulNBits without zero points/g_idx/bias inputs is supported")
        x, q, s = node.input[:3]
        if q not in inits or s not in inits:
            raise SystemExit(f"{node.name}: weights or scales are not initializers")
        k, n, block = int(a["K"]), int(a["N"]), int(a["block_size"])
        qd = list(inits[q].dims)
        if qd != [n, k // block, block]:
            raise SystemExit(f"{node.name}: weight dims {qd}, expected {[n, k // block, block]}")
        p = f"{q}.dq"
        # One W^T per weight tensor, however many nodes read it.
        if p not in consts:
            sh = const(f"{p}.scale_shape", np.array([n, k // block, 1], dtype=np.int64))
            wsh = const(f"{p}.w_shape", np.array([n, k], dtype=np.int64))
            new_nodes += [
                helper.make_node("Cast", [q], [f"{p}.f"], to=TensorProto.FLOAT, name=f"{p}/cast"),
                helper.make_node("Sub", [f"{p}.f", zp], [f"{p}.c"], name=f"{p}/sub"),
                helper.make_node("Reshape", [s, sh], [f"{p}.s"], name=f"{p}/scale_reshape"),
                helper.make_node("Mul", [f"{p}.c", f"{p}.s"], [f"{p}.w3"], name=f"{p}/mul"),
                helper.make_node("Reshape", [f"{p}.w3", wsh], [f"{p}.w"], name=f"{p}/reshape"),
                helper.make_node("Transpose", [f"{p}.w"], [f"{p}.wt"], perm=[1, 0], name=f"{p}/transpose"),
            ]
            consts[p] = p
        new_nodes.append(helper.make_node("MatMul", [x, f"{p}.wt"], list(node.output), name=node.name))
        n_rewritten += 1
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(new_inits)
    if not any(nd.domain == "com.microsoft" for nd in g.node):
        keep = [o for o in m.opset_import if o.domain != "com.microsoft"]
        del m.opset_import[:]
        m.opset_import.extend(keep)
    return {"matmulnbits_rewritten": n_rewritten, "weights": len([c for c in consts if c.endswith(".dq")])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", metavar="IN.onnx", help="the q8w graph (8-bit MatMulNBits)")
    ap.add_argument("output", metavar="OUT.onnx", help="where the rewritten graph is written")
    a = ap.parse_args()
    import onnx
    m = onnx.load(a.input)
    report = rewrite(m)
    m.doc_string = (m.doc_string + "\n" if m.doc_string else "") + \
        "8-bit block-wise weights (zero point 128, block 128) dequantized to fp32 by constant-foldable ops " \
        "(native/py/dequant_graph.py); fp32 MatMul."
    onnx.checker.check_model(m)
    onnx.save(m, a.output)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
