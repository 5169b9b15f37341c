"""train.py's fake_quant4 (quantization-aware training) against the 4-bit weights that onnx_builder writes for the
v2 export: the same integer codes and scales per block of 32, and a straight-through gradient. Needs torch and onnx
(Debian: python3-torch python3-onnx):  /usr/bin/python3 -m unittest native/py/test_qat.py -v
"""
from __future__ import annotations

import os
import sys
import unittest

import numpy as np
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from model import LlamaLM, ModelConfig  # noqa: E402
from onnx_builder import build_onnx  # noqa: E402
from train import fake_quant4, qat_names  # noqa: E402


class FakeQuant4(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.cfg = ModelConfig(vocab_size=256, hidden_size=128, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=256,
                               max_position=64)
        self.model = LlamaLM(self.cfg)
        with torch.no_grad():
            for p in self.model.parameters():
                p.normal_(0, 0.05)

    def test_same_codes_and_scales_as_the_exported_graph(self):
        sd = {k: v.detach().float().numpy() for k, v in self.model.state_dict().items()}
        m = build_onnx(self.cfg, sd, layout="packed", quant="q8w", accuracy_level=1, linear_bits=4, linear_block=32)
        inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        names = qat_names(self.model)
        self.assertEqual(len(names), 7 * self.cfg.num_layers)
        checked = 0
        for n in names:
            key = n  # onnx_builder names the initializers after the state_dict key
            packed, scale = inits[key + ".q4w"], inits[key + ".q4w_scale"]
            codes = np.stack([packed & 15, packed >> 4], axis=-1).reshape(packed.shape[0], -1).astype(np.int32) - 8
            w = dict(self.model.named_parameters())[n].detach()
            fq = fake_quant4(w, 32)
            nrow, k = w.shape
            s = scale.reshape(nrow, k // 32, 1)
            deq = (codes.reshape(nrow, k // 32, 32) * s).reshape(nrow, k)
            # the fake-quantized weight is the graph's dequantized weight (float32 arithmetic; tolerance 1e-6 relative)
            np.testing.assert_allclose(fq.numpy(), deq, rtol=1e-6, atol=1e-9)
            ts = w.reshape(nrow, k // 32, 32).abs().amax(dim=2).clamp_min(1e-8) / 7.0
            np.testing.assert_allclose(ts.numpy().reshape(-1), scale, rtol=1e-6)
            checked += 1
        self.assertEqual(checked, len(names))

    def test_reference_weights_of_the_graph_are_the_fake_quantized_ones(self):
        # reference.py / train.py --init-onnx read a model directory's weights through variants.state_dict_from_q8w
        import tempfile

        import onnx
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../bench/runtime/gpu"))
        from variants import state_dict_from_q8w
        sd = {k: v.detach().float().numpy() for k, v in self.model.state_dict().items()}
        m = build_onnx(self.cfg, sd, layout="packed", quant="q8w", accuracy_level=1, linear_bits=4, linear_block=32)
        with tempfile.TemporaryDirectory() as d:
            onnx.save(m, os.path.join(d, "m.onnx"))
            back = state_dict_from_q8w(os.path.join(d, "m.onnx"))
        params = dict(self.model.named_parameters())
        for n in qat_names(self.model):
            np.testing.assert_allclose(back[n], fake_quant4(params[n].detach(), 32).numpy(), rtol=1e-6, atol=1e-9)

    def test_values_are_on_the_grid_and_the_gradient_passes_straight_through(self):
        w = torch.randn(8, 64, requires_grad=True)
        fq = fake_quant4(w, 32)
        s = w.detach().reshape(8, 2, 32).abs().amax(dim=2, keepdim=True) / 7.0
        q = fq.detach().reshape(8, 2, 32) / s
        self.assertTrue(torch.allclose(q, q.round(), atol=1e-4))
        self.assertLessEqual(float(q.max()), 7 + 1e-4)
        self.assertGreaterEqual(float(q.min()), -8 - 1e-4)
        self.assertGreater(float((fq - w).abs().max()), 0.0)  # it does quantize
        g = torch.randn(8, 64)
        (fq * g).sum().backward()
        self.assertTrue(torch.equal(w.grad, g))

    def test_refuses_a_width_that_is_not_a_multiple_of_the_block(self):
        with self.assertRaises(ValueError):
            fake_quant4(torch.zeros(4, 48), 32)


if __name__ == "__main__":
    unittest.main()


class BlockExpansion(unittest.TestCase):
    """train.py's expand_layers (LLaMA Pro): the expanded model computes the loaded model's function exactly."""

    def test_expanded_model_has_the_same_logits(self):
        from train import expand_layers
        torch.manual_seed(1)
        cfg = ModelConfig(vocab_size=256, hidden_size=128, num_layers=4, num_heads=2, num_kv_heads=1, intermediate_size=256,
                          max_position=64)
        small = LlamaLM(cfg)
        with torch.no_grad():
            for p in small.parameters():
                p.normal_(0, 0.05)
        sd, cfg2 = expand_layers(small.state_dict(), cfg, [1, 3])
        self.assertEqual(cfg2.num_layers, 6)
        big = LlamaLM(cfg2)
        missing, unexpected = big.load_state_dict(sd, strict=False)
        self.assertEqual([k for k in missing if not k.startswith("rope_")], [])
        self.assertEqual(unexpected, [])
        # the copies sit after layers 1 and 3 (new indices 2 and 5); their output projections are zero, the rest copied
        self.assertTrue(torch.equal(big.model.layers[2].self_attn.q_proj.weight, small.model.layers[1].self_attn.q_proj.weight))
        self.assertEqual(float(big.model.layers[5].mlp.down_proj.weight.abs().sum()), 0.0)
        self.assertTrue(torch.equal(big.model.layers[4].mlp.up_proj.weight, small.model.layers[3].mlp.up_proj.weight))
        ids = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            a, b = small(ids)[0], big(ids)[0]
        # identical up to float summation order (the zero blocks add exact zeros): well inside 1e-5 of logits ~0.1-1
        self.assertLess(float((a - b).abs().max()), 1e-5)
        self.assertGreater(float(a.abs().max()), 1e-2)

    def test_bad_indices_are_refused(self):
        from train import expand_layers
        cfg = ModelConfig(vocab_size=256, hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=128)
        sd = LlamaLM(cfg).state_dict()
        for bad in ([2], [0, 0], [-1]):
            with self.assertRaises(ValueError):
                expand_layers(sd, cfg, bad)
