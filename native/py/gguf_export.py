"""Export a trained infill-ls Llama checkpoint to GGUF (llama.cpp), for side-by-side runtime benchmarks.

    PYTHONPATH=<llama.cpp>/gguf-py /usr/bin/python3 native/py/gguf_export.py \
        --ckpt .work/runC/ckpt --tokenizer .work/tok/tokenizer.json --out model-q8_0.gguf [--type q8_0|f16|f32] \
        [--check-prompt-ids 1,348,290 --check-n 16]

Uses llama.cpp's own gguf-py (shipped inside node-llama-cpp's llama.cpp source bundle; see
bench/runtime/README.md for how to unpack it) for the container and the Q8_0 blocks, and mirrors what
llama.cpp's convert_hf_to_gguf.py does for an HF LlamaForCausalLM checkpoint:
- tensor names: token_embd, blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,ffn_norm,ffn_gate,ffn_up,
  ffn_down}, output_norm; with tied embeddings there is no output.weight (llama.cpp reuses token_embd);
- q_proj / k_proj rows permuted from HF's rotate_half RoPE layout to llama.cpp's interleaved-pair
  layout (LlamaModel.permute in conversion/llama.py: reshape(n_head, 2, d/2, in).swapaxes(1, 2));
- 2-D weights in the requested type (Q8_0: blocks of 32, fp16 scale + 32 int8), 1-D norms in F32;
- GPT-2 style byte-level BPE tokenizer metadata (tokens, token types, merges, bos/eos/pad, FIM ids),
  pre-tokenizer "starcoder" (single digits, then the GPT-2 regex), which is what our tokenizer.json's
  Digits(individual) + ByteLevel pre-tokenizer amounts to.
--check-prompt-ids prints the PyTorch greedy tokens (native/py/model.py) for the same ids, so the GGUF can
be compared token for token (bench/runtime/verify-gguf.mjs).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", default="q8_0", choices=["q8_0", "f16", "f32"])
    ap.add_argument("--name", default="infill-ls")
    ap.add_argument("--check-prompt-ids", default="")
    ap.add_argument("--check-n", type=int, default=16)
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import gguf  # llama.cpp's gguf-py
except ImportError:  # pragma: no cover
    raise SystemExit("gguf-py not importable: set PYTHONPATH=<llama.cpp source>/gguf-py (bench/runtime/README.md)")


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's LlamaModel.permute: HF rotate_half rows -> interleaved RoPE pairs, per head."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def add_tokenizer(w, tok: dict, vocab_size: int) -> None:
    """Writes a byte-level BPE tokenizer.json (`tok`, parsed) into GGUF writer `w`: tokens by id, special tokens as
    CONTROL, merges, EOT as BOS/EOS, and the StarCoder FIM/repository sentinels llama-server's /infill looks up.
    Raises SystemExit when an id below vocab_size has no token. Shared by gguf_export.py and gguf_from_onnx.py."""
    vocab = tok["model"]["vocab"]
    added = {t["id"]: t for t in tok.get("added_tokens", [])}
    tokens = [""] * vocab_size
    for s, i in vocab.items():
        tokens[i] = s
    for i, t in added.items():
        tokens[i] = t["content"]
    if not all(tokens):
        raise SystemExit("the vocabulary has holes")
    types = [int(gguf.TokenType.CONTROL) if (i in added and added[i].get("special")) else int(gguf.TokenType.NORMAL) for i in range(vocab_size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("starcoder")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    ids = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    eot = ids.get("<|endoftext|>", 0)
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    if "<fim_pad>" in ids:
        w.add_pad_token_id(ids["<fim_pad>"])
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    for key, name in [(gguf.Keys.Tokenizer.FIM_PRE_ID, "<fim_prefix>"), (gguf.Keys.Tokenizer.FIM_SUF_ID, "<fim_suffix>"),
                      (gguf.Keys.Tokenizer.FIM_MID_ID, "<fim_middle>"), (gguf.Keys.Tokenizer.FIM_PAD_ID, "<fim_pad>"),
                      (gguf.Keys.Tokenizer.FIM_REP_ID, "<repo_name>"), (gguf.Keys.Tokenizer.FIM_SEP_ID, "<file_sep>")]:
        if name in ids:
            w.add_uint32(key, ids[name])


def main() -> None:
    ap = parser()
    a = ap.parse_args()

    from train import load_ckpt  # torch
    from model import ModelConfig, build_model, greedy

    sd, meta = load_ckpt(a.ckpt)
    cfg = ModelConfig(**meta["config"])
    assert cfg.arch == "llama", f"only llama checkpoints (got {cfg.arch})"
    tok = json.load(open(a.tokenizer, encoding="utf-8"))

    qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "f16": gguf.GGMLQuantizationType.F16, "f32": gguf.GGMLQuantizationType.F32}[a.type]
    ftype = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "f16": gguf.LlamaFileType.MOSTLY_F16, "f32": gguf.LlamaFileType.ALL_F32}[a.type]

    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name(a.name)
    w.add_context_length(cfg.max_position)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_heads)
    w.add_head_count_kv(cfg.num_kv_heads)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.norm_eps)
    w.add_key_length(cfg.head_dim)
    w.add_value_length(cfg.head_dim)
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(ftype)

    # Tokenizer: byte-level BPE, ids as in tokenizer.json.
    add_tokenizer(w, tok, cfg.vocab_size)

    def put(name: str, t, two_d: bool):
        x = t.detach().cpu().float().numpy().astype(np.float32)
        if two_d and qtype != gguf.GGMLQuantizationType.F32:
            q = gguf.quants.quantize(x, qtype)
            w.add_tensor(name, q, raw_dtype=qtype)
        else:
            w.add_tensor(name, x)

    put("token_embd.weight", sd["model.embed_tokens.weight"], True)
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        put(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"], False)
        put(f"blk.{i}.attn_q.weight", _perm(sd[p + "self_attn.q_proj.weight"], cfg.num_heads), True)
        put(f"blk.{i}.attn_k.weight", _perm(sd[p + "self_attn.k_proj.weight"], cfg.num_kv_heads), True)
        put(f"blk.{i}.attn_v.weight", sd[p + "self_attn.v_proj.weight"], True)
        put(f"blk.{i}.attn_output.weight", sd[p + "self_attn.o_proj.weight"], True)
        put(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"], False)
        put(f"blk.{i}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"], True)
        put(f"blk.{i}.ffn_up.weight", sd[p + "mlp.up_proj.weight"], True)
        put(f"blk.{i}.ffn_down.weight", sd[p + "mlp.down_proj.weight"], True)
    put("output_norm.weight", sd["model.norm.weight"], False)
    if not cfg.tie_embeddings:
        put("output.weight", sd["lm_head.weight"], True)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(json.dumps({"out": a.out, "bytes": os.path.getsize(a.out), "type": a.type, "params": meta.get("params")}))

    if a.check_prompt_ids:
        import torch
        model = build_model(cfg)
        model.load_state_dict(sd, strict=False)
        model.eval()
        prompt = [int(s) for s in a.check_prompt_ids.split(",") if s]
        with torch.no_grad():
            out = greedy(model, prompt, a.check_n)
        print(json.dumps({"torch_greedy": out}))


def _perm(t, n_head):
    import torch
    return torch.from_numpy(np.ascontiguousarray(permute(t.detach().cpu().float().numpy(), n_head)))


if __name__ == "__main__":
    main()
