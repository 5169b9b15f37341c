"""GGUF (llama.cpp) files with the same random weights as native/py/qwen_models.py, for side-by-side benchmarks.

    PYTHONPATH=bench/runtime/llama/llama.cpp-src/gguf-py python3 native/py/qwen_gguf.py --shape 0.5b \
        --types q8_0,q4_0 [--seed 15] [--out ~/.cache/infill-ls-models]

The weights are regenerated from the same seed (numpy's default_rng is deterministic), so they are the very
matrices the ONNX layouts were quantized from. Mirrors what llama.cpp's convert_hf_to_gguf.py writes for an HF
Qwen2ForCausalLM: architecture "qwen2" (NEOX RoPE: q/k rows are NOT permuted, unlike Llama), q/k/v biases,
tied embeddings (no output.weight), byte-level BPE tokenizer with pre-tokenizer "qwen2"; the token list is padded
to the embedding's 151,936 rows with unused "[PAD{id}]" entries, as Qwen's own GGUFs are.
Types: q8_0 (8.5 bits/weight), q4_0 (4.5 bits/weight: blocks of 32 with an fp16 scale — the closest llama.cpp type
to our MatMulNBits int4 block 32, which stores fp32 scales: 5.0 bits/weight). Q4_K_M is not written: gguf-py has no
Q4_K quantizer (only its dequantizer) and llama.cpp's `llama-quantize` is not part of node-llama-cpp's prebuilt
binaries; on a machine with a llama.cpp build: `llama-quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M`
(`--types f16` writes that input).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="0.5b", choices=("0.5b", "1.5b", "tiny"))  # qwen_models.SHAPE_NAMES (importing it needs onnx)
    ap.add_argument("--types", default="q8_0,q4_0")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/infill-ls-models"))
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qwen_models import SHAPES, random_state_dict, write_tokenizer  # noqa: E402

try:
    import gguf  # llama.cpp's gguf-py
except ImportError:  # pragma: no cover
    raise SystemExit("gguf-py not importable: set PYTHONPATH=<llama.cpp source>/gguf-py (bench/realmodels/README.md)")


def write_gguf(cfg, sd: dict, tok: dict, out: str, qname: str):
    qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0,
             "f16": gguf.GGMLQuantizationType.F16, "f32": gguf.GGMLQuantizationType.F32}[qname]
    ftype = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
             "f16": gguf.LlamaFileType.MOSTLY_F16, "f32": gguf.LlamaFileType.ALL_F32}[qname]
    w = gguf.GGUFWriter(out, "qwen2")
    w.add_name(cfg.name)
    w.add_context_length(cfg.max_position)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_heads)
    w.add_head_count_kv(cfg.num_kv_heads)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.norm_eps)
    w.add_file_type(ftype)

    vocab = tok["model"]["vocab"]
    added = {t["id"]: t for t in tok.get("added_tokens", [])}
    tokens = [f"[PAD{i}]" for i in range(cfg.vocab_size)]
    types = [int(gguf.TokenType.UNUSED)] * cfg.vocab_size
    for s, i in vocab.items():
        tokens[i] = s
        types[i] = int(gguf.TokenType.NORMAL)
    for i, t in added.items():
        tokens[i] = t["content"]
        types[i] = int(gguf.TokenType.CONTROL)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
    ids = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    eot = ids["<|endoftext|>"]
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_pad_token_id(eot)
    w.add_add_bos_token(False)
    for key, name in [(gguf.Keys.Tokenizer.FIM_PRE_ID, "<|fim_prefix|>"), (gguf.Keys.Tokenizer.FIM_SUF_ID, "<|fim_suffix|>"),
                      (gguf.Keys.Tokenizer.FIM_MID_ID, "<|fim_middle|>"), (gguf.Keys.Tokenizer.FIM_PAD_ID, "<|fim_pad|>"),
                      (gguf.Keys.Tokenizer.FIM_REP_ID, "<|repo_name|>"), (gguf.Keys.Tokenizer.FIM_SEP_ID, "<|file_sep|>")]:
        w.add_uint32(key, ids[name])

    def put(name, x, two_d):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if two_d and qtype != gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, x)

    put("token_embd.weight", sd["model.embed_tokens.weight"], True)
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        put(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"], False)
        for a, b in [("q", "q"), ("k", "k"), ("v", "v")]:
            put(f"blk.{i}.attn_{a}.weight", sd[p + f"self_attn.{b}_proj.weight"], True)
            put(f"blk.{i}.attn_{a}.bias", sd[p + f"self_attn.{b}_proj.bias"], False)
        put(f"blk.{i}.attn_output.weight", sd[p + "self_attn.o_proj.weight"], True)
        put(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"], False)
        put(f"blk.{i}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"], True)
        put(f"blk.{i}.ffn_up.weight", sd[p + "mlp.up_proj.weight"], True)
        put(f"blk.{i}.ffn_down.weight", sd[p + "mlp.down_proj.weight"], True)
    put("output_norm.weight", sd["model.norm.weight"], False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = parser()
    a = ap.parse_args()
    cfg = SHAPES[a.shape]()
    d = os.path.join(a.out, cfg.name, "gguf")
    tok = write_tokenizer(d, cfg)
    sd = random_state_dict(cfg, a.seed)
    for t in [x for x in a.types.split(",") if x]:
        t0 = time.time()
        out = os.path.join(d, f"model-{t}.gguf")
        write_gguf(cfg, sd, tok, out, t)
        print(json.dumps({"out": out, "bytes": os.path.getsize(out), "type": t, "seconds": round(time.time() - t0)}), flush=True)


if __name__ == "__main__":
    main()
