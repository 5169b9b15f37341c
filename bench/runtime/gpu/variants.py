"""The default model's weights, recovered from the shipped 8-bit graph, as PyTorch and as fp32/fp16 ONNX graphs.

The shipped models/default/onnx/model_quantized.onnx stores every matrix as MatMulNBits blocks (uint8, zero point
128, one fp32 scale per 128 weights) and the norms in fp32. Dequantizing them gives exactly the weights the shipped
graph computes with, so PyTorch, the fp32 graph, the fp16 graph and the 8-bit graph all run the same model.

  python3 variants.py --model models/default --out DIR      # DIR: HF/Optimum model dir with model.onnx,
                                                            # model_fp16.onnx, model_quantized.onnx + state.pt
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--out", required=True)
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(ROOT, "native/py"))
from model import ModelConfig  # noqa: E402
from onnx_builder import build_onnx  # noqa: E402


def config_from_hf(c: dict) -> ModelConfig:
    return ModelConfig(arch=c["model_type"], vocab_size=c["vocab_size"], hidden_size=c["hidden_size"],
                       num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
                       num_kv_heads=c["num_key_value_heads"], intermediate_size=c["intermediate_size"],
                       rope_theta=c["rope_theta"], norm_eps=c["rms_norm_eps"], max_position=c["max_position_embeddings"],
                       qkv_bias=c.get("attention_bias", False), tie_embeddings=c.get("tie_word_embeddings", True))


def state_dict_from_q8w(path: str) -> dict[str, np.ndarray]:
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    sd: dict[str, np.ndarray] = {}
    for name, arr in inits.items():
        if name.endswith(".q8w"):
            key = name[: -len(".q8w")]
            scale = inits[key + ".q8w_scale"]
            n, nb, block = arr.shape
            w = (arr.astype(np.float32) - 128.0) * scale.reshape(n, nb, 1)
            sd[key] = w.reshape(n, nb * block)
        elif name.endswith(".q4w"):  # 4-bit layers (native/py/quant4.py, export.py --linear-bits 4): symmetric, zero point 8
            key = name[: -len(".q4w")]
            scale = inits[key + ".q4w_scale"]
            n, nb, half = arr.shape
            q = np.stack([arr & 15, arr >> 4], axis=-1).reshape(n, nb, 2 * half).astype(np.float32) - 8.0
            sd[key] = (q * scale.reshape(n, nb, 1)).reshape(n, nb * 2 * half)
        elif name.endswith(".weight") or name.endswith(".bias"):
            sd[name] = arr.astype(np.float32)
    if "lm_head.weight" not in sd:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    return sd


def main():
    ap = parser()
    a = ap.parse_args()
    hf = json.load(open(os.path.join(a.model, "config.json")))
    cfg = config_from_hf(hf)
    sd = state_dict_from_q8w(os.path.join(a.model, "onnx/model_quantized.onnx"))
    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(a.model, f), os.path.join(a.out, f))
    shutil.copy(os.path.join(a.model, "onnx/model_quantized.onnx"), os.path.join(a.out, "onnx/model_quantized.onnx"))
    fp32 = build_onnx(cfg, sd, layout="packed", quant="fp32")
    onnx.save(fp32, os.path.join(a.out, "onnx/model.onnx"))
    report = {"params": int(sum(v.size for k, v in sd.items() if k != "lm_head.weight")), "fp16": None}
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
        # fp16 weights, activations and KV; the additive attention_bias and the integer inputs stay as they are
        # (the runtime writes attention_bias as float32), logits come back as float16.
        fp16 = convert_float_to_float16(fp32, keep_io_types=["attention_bias"], disable_shape_infer=False)
        onnx.save(fp16, os.path.join(a.out, "onnx/model_fp16.onnx"))
        report["fp16"] = "ok"
    except Exception as e:  # reported, the benchmark goes on without the variant
        report["fp16"] = f"failed: {e}"
    import torch
    torch.save({"config": cfg.to_dict(), "state_dict": {k: torch.from_numpy(v.copy()) for k, v in sd.items()}}, os.path.join(a.out, "state.pt"))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
