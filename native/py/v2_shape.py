"""A random-weight checkpoint of a candidate v2 shape (issue 16), to export with export.py --linear-bits 4 and time
with bench/cpu/latency.mjs before training; prints its parameter counts.

  /usr/bin/python3 native/py/v2_shape.py OUT_CKPT_DIR '{"hidden_size": 512, "num_layers": 8, ...}'
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", metavar="OUT_CKPT_DIR", help="where the checkpoint is written")
    ap.add_argument("spec", metavar="SPEC_JSON", help="ModelConfig fields over train.py's DEFAULT_CFG, as a JSON object")
    a = ap.parse_args()
    try:
        spec = json.loads(a.spec)
    except json.JSONDecodeError as e:
        ap.error(f"SPEC_JSON is not JSON: {e}")
    if not isinstance(spec, dict):
        ap.error("SPEC_JSON must be a JSON object of ModelConfig fields")
    out = a.out
    # imported after argument parsing so that --help works without the training dependencies
    import torch
    sys.path.insert(0, os.path.dirname(__file__))
    from model import LlamaLM, ModelConfig
    from train import DEFAULT_CFG, init_weights, qat_names, save_ckpt
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
