"""A random-weight checkpoint of a candidate v2 shape (issue 16), to export with export.py --linear-bits 4 and time
with bench/cpu/latency.mjs before training; prints its parameter counts.

  /usr/bin/python3 native/py/v2_shape.py OUT_CKPT_DIR '{"hidden_size": 512, "num_layers": 8, ...}'
"""
from __future__ import annotations

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from model import LlamaLM, ModelConfig  # noqa: E402
from train import DEFAULT_CFG, init_weights, qat_names, save_ckpt  # noqa: E402


def main():
    out, spec = sys.argv[1], json.loads(sys.argv[2])
    cfg = ModelConfig(**{**DEFAULT_CFG, **spec})
    torch.manual_seed(0)
    m = LlamaLM(cfg)
    init_weights(m, cfg)
    total = sum(p.numel() for p in m.parameters())
    layers = sum(p.numel() for n, p in m.named_parameters() if n in qat_names(m))
    save_ckpt(m, cfg, {"history": {"runs": []}, "params": total}, out)
    print(json.dumps({"params": total, "layer_linear_params": layers, "embedding": cfg.vocab_size * cfg.hidden_size, **spec}))


if __name__ == "__main__":
    main()
