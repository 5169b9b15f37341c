"""critiprefill.recover / load_plain (the weights CritiPrefill twins and KV-Runahead layer groups are built from): the
shipped models/default graph (4-bit MatMulNBits layers, 8-bit embedding) rebuilt from its recovered weights is the same
graph, initializer for initializer and op for op, so the twins compute the shipped model's weights."""
from __future__ import annotations

import os
import sys
import unittest

import numpy as np
from onnx import numpy_helper
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from critiprefill import load_plain  # noqa: E402
from dequant_graph import rewrite  # noqa: E402
from onnx_builder import build_onnx  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


class RecoverTest(unittest.TestCase):
    def test_default_model_rebuilds_identically(self):
        path, cfg, layout, sd, quant, extra = load_plain(os.path.join(ROOT, "models/default"))
        shipped = onnx.load(path)
        bits = {a.i for n in shipped.graph.node if n.op_type == "MatMulNBits" for a in n.attribute if a.name == "bits"}
        self.assertEqual(extra.get("linear_bits", 8), 4 if bits == {4} else 8)
        rebuilt = build_onnx(cfg, sd, layout=layout, quant=quant, **extra)
        if quant == "q8w":
            rewrite(rebuilt, keep_4bit=bool(extra))
        a = {i.name: numpy_helper.to_array(i) for i in shipped.graph.initializer}
        b = {i.name: numpy_helper.to_array(i) for i in rebuilt.graph.initializer}
        self.assertEqual(set(a), set(b))
        for k in a:
            self.assertTrue(np.array_equal(a[k], b[k]), k)
        self.assertEqual([n.op_type for n in shipped.graph.node], [n.op_type for n in rebuilt.graph.node])


if __name__ == "__main__":
    unittest.main()
