"""Convert a shipped infill-ls ONNX model (models/default: Llama, q4w or q8w blocks) to GGUF for llama.cpp.

    PYTHONPATH=<llama.cpp source>/gguf-py /usr/bin/python3 native/py/gguf_from_onnx.py \
        --model models/default --out model-f32.gguf [--type f32|f16]

For the llama-server backend's test and bench/team (issue 18): llama-server then serves the same weights that the
in-process engine runs. No checkpoint or torch is needed (native/py/gguf_export.py converts a training checkpoint):
- each linear weight is stored in the ONNX file as `<name>.q8w` uint8 blocks [N, K/128, 128] with zero point 128
  and `<name>.q8w_scale` fp32 [N*K/128] (config.json's "quantization"); it is dequantized here exactly as the graph
  does it (native/py/dequant_graph.py: (q - 128) * scale), giving the HF [out, in] matrix; 4-bit layers (q4w, the
  v2 default model) are `<name>.q4w` [N, K/32, 16] uint8 (two codes a byte, low nibble first) and `<name>.q4w_scale`,
  dequantized as MatMulNBits does with zero point 8: (code - 8) * scale (bench/runtime/gpu/variants.py reads them alike);
- tensor names, the q/k row permutation (HF rotate_half RoPE -> llama.cpp's interleaved pairs) and the tokenizer
  metadata (byte-level BPE, pre-tokenizer "starcoder", FIM and repository-level sentinel ids) follow
  gguf_export.py, which mirrors llama.cpp's convert_hf_to_gguf.py for LlamaForCausalLM;
- the hyperparameters come from config.json; rms_norm_eps and rope_theta as written there.
With --type f32 (default) llama.cpp computes with the dequantized weights themselves (no second rounding), so its
greedy tokens match our engine's up to summation order. Needs numpy, onnx (Debian: python3-onnx) and gguf-py.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory (config.json, tokenizer.json, onnx/*.onnx)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", default="f32", choices=["f32", "f16"])
    ap.add_argument("--name", default="infill-ls-default")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np

try:
    import gguf  # llama.cpp's gguf-py
except ImportError:  # pragma: no cover
    raise SystemExit("gguf-py not importable: set PYTHONPATH=<llama.cpp source>/gguf-py (.ci/llama-server.sh keeps one)")
try:
    import onnx
    from onnx import numpy_helper
except ImportError:  # pragma: no cover
    raise SystemExit("the onnx Python package is needed (Debian: apt-get install python3-onnx)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_export import add_tokenizer, permute  # noqa: E402  (numpy and gguf-py only: torch is imported in its main)


def main() -> None:
    ap = parser()
    a = ap.parse_args()

    cfg = json.load(open(os.path.join(a.model, "config.json"), encoding="utf-8"))
    tok = json.load(open(os.path.join(a.model, "tokenizer.json"), encoding="utf-8"))
    if cfg.get("model_type") != "llama":
        raise SystemExit(f"only Llama models (model_type {cfg.get('model_type')!r})")
    onnx_dir = os.path.join(a.model, "onnx")
    files = sorted(f for f in os.listdir(onnx_dir) if f.endswith(".onnx"))
    if not files:
        raise SystemExit(f"no .onnx file in {onnx_dir}")
    graph = onnx.load(os.path.join(onnx_dir, files[0])).graph
    inits = {t.name: t for t in graph.initializer}

    def weight(name: str) -> np.ndarray:
        """The fp32 [out, in] matrix (or 1-D vector) of an HF parameter name."""
        if name in inits:
            return numpy_helper.to_array(inits[name]).astype(np.float32)
        if name + ".q4w" in inits:  # 4-bit layers (export.py --linear-bits 4): two codes a byte, low nibble first, zero point 8
            q = numpy_helper.to_array(inits[name + ".q4w"])  # [N, K/B, B/2] uint8
            s = numpy_helper.to_array(inits[name + ".q4w_scale"]).astype(np.float32)
            n, nb, half = q.shape
            codes = np.stack([q & 15, q >> 4], axis=-1).reshape(n, nb, 2 * half).astype(np.float32) - 8.0
            return (codes * s.reshape(n, nb, 1)).reshape(n, nb * 2 * half)
        q = numpy_helper.to_array(inits[name + ".q8w"])  # [N, K/B, B] uint8
        s = numpy_helper.to_array(inits[name + ".q8w_scale"]).astype(np.float32)
        n, nb, b = q.shape
        return ((q.astype(np.float32) - 128.0) * s.reshape(n, nb, 1)).reshape(n, nb * b)

    hidden, n_layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim", hidden // n_head)
    vocab_size = cfg["vocab_size"]
    qtype = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16}[a.type]
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}[a.type]

    tmp = a.out + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name(a.name)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(hidden)
    w.add_block_count(n_layers)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(cfg["rope_theta"]))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_vocab_size(vocab_size)
    w.add_file_type(ftype)

    add_tokenizer(w, tok, vocab_size)

    def put(name: str, x: np.ndarray) -> None:
        x = np.ascontiguousarray(x, dtype=np.float32)
        w.add_tensor(name, x.astype(np.float16) if (x.ndim == 2 and qtype == gguf.GGMLQuantizationType.F16) else x)

    put("token_embd.weight", weight("model.embed_tokens.weight"))
    for i in range(n_layers):
        p = f"model.layers.{i}."
        put(f"blk.{i}.attn_norm.weight", weight(p + "input_layernorm.weight"))
        put(f"blk.{i}.attn_q.weight", permute(weight(p + "self_attn.q_proj.weight"), n_head))
        put(f"blk.{i}.attn_k.weight", permute(weight(p + "self_attn.k_proj.weight"), n_kv))
        put(f"blk.{i}.attn_v.weight", weight(p + "self_attn.v_proj.weight"))
        put(f"blk.{i}.attn_output.weight", weight(p + "self_attn.o_proj.weight"))
        put(f"blk.{i}.ffn_norm.weight", weight(p + "post_attention_layernorm.weight"))
        put(f"blk.{i}.ffn_gate.weight", weight(p + "mlp.gate_proj.weight"))
        put(f"blk.{i}.ffn_up.weight", weight(p + "mlp.up_proj.weight"))
        put(f"blk.{i}.ffn_down.weight", weight(p + "mlp.down_proj.weight"))
    put("output_norm.weight", weight("model.norm.weight"))
    if not cfg.get("tie_word_embeddings", False):
        put("output.weight", weight("lm_head.weight"))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, a.out)
    print(json.dumps({"out": a.out, "bytes": os.path.getsize(a.out), "type": a.type, "source": files[0]}))


if __name__ == "__main__":
    sys.exit(main())
