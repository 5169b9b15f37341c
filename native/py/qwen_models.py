"""Random-weight models with Qwen2.5-Coder's exact shapes, in the ONNX layouts users download (issue 15).

Shapes (published config.json values of Qwen/Qwen2.5-Coder-0.5B and -1.5B):
  0.5b: hidden 896,  24 layers, 14 heads / 2 KV heads (head_dim 64),  FFN 4,864, vocab 151,936, tied, qkv bias
  1.5b: hidden 1536, 28 layers, 12 heads / 2 KV heads (head_dim 128), FFN 8,960, vocab 151,936, tied, qkv bias
  both: rope_theta 1e6, rms_norm_eps 1e-6, SiLU-gated MLP.
  tiny: the same architecture at hidden 64 / 2 layers / 4 heads / 2 KV heads (test fixtures, < 2 MiB each).
Random weights measure speed, not quality. The tokenizer is a small byte-level BPE carrying Qwen2.5-Coder's
special tokens (<|endoftext|>, <|fim_prefix|>, <|fim_middle|>, <|fim_suffix|>, <|fim_pad|>, <|repo_name|>,
<|file_sep|>, <|im_start|>, <|im_end|>); the embedding keeps all 151,936 rows, as Qwen's does (its tokenizer
has fewer entries than the embedding, too).

Layouts (names as the real downloads spell them):
  optimum-fp32   onnx/model.onnx      Hugging Face Optimum / transformers.js export: plain MatMul/Softmax attention,
                                      past concatenated in the graph, logits for every position.
  optimum-q4     onnx/model_q4.onnx   the same graph with every linear layer and the (tied) LM head as
                                      com.microsoft MatMulNBits bits=4 block 32 (symmetric, zero point 8); the
                                      embedding Gather stays fp32. Quantized by our own block quantizer
                                      (`quantize_q4` below), not onnxruntime's Python MatMulNBits quantizer, which is
                                      not installed on the development machine; the bit layout is MatMulNBits' own
                                      (two 4-bit values per byte, low nibble first; scales fp32 [N * K/block]).
  genai-int4     model.onnx + genai_config.json   onnxruntime-genai model builder's layout: per layer
                                      SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization, MatMulNBits
                                      int4 q/k/v/o/gate/up/down (+ bias Add), RotaryEmbedding on q and k,
                                      GroupQueryAttention fed seqlens_k = sum(attention_mask) - 1 and
                                      total_sequence_length = attention_mask's width (both int32, computed in the
                                      graph from attention_mask, as the builder does); LM head MatMulNBits int4.
                                      Past/present `past_key_values.%d.key` / `present.%d.key` [batch, kv, seq, head].
  genai-fp32     the same graph with fp32 MatMul (fixture: exact comparison with PyTorch).
  genai-int4-fp16  genai-int4 with fp16 activations, as the model builder writes it for a GPU (`-e webgpu|cuda`:
                 io_dtype float16): fp16 embedding, norm weights, biases, rotary caches, MatMulNBits scales,
                 past/present KV and logits; the int4 weights are the same bits as genai-int4's.

Generated models are large (0.5b fp32: 2 GB): they go OUTSIDE the repository, default ~/.cache/infill-ls-models/.
  python3 native/py/qwen_models.py --shape 0.5b --layouts optimum-fp32,optimum-q4,genai-int4 [--out DIR]
  python3 native/py/qwen_models.py --fixtures        # tiny versions + golden tokens into test/fixtures/models/
The big models are written straight from numpy (no torch needed); --fixtures needs torch for the golden tokens.
Each model dir also gets `state_dict.npz`-free metadata: `infill_ls_generated.json` (shape, seed, layout).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# SHAPES' keys (SHAPES needs the imports below; the parser must not)
SHAPE_NAMES = ("0.5b", "1.5b", "tiny")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="0.5b", choices=SHAPE_NAMES)
    ap.add_argument("--layouts", default="optimum-fp32,optimum-q4,genai-int4")
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/infill-ls-models"))
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--accuracy-level", type=int, default=4, help="MatMulNBits accuracy_level (4: int8 activations, genai's CPU default)")
    ap.add_argument("--fixtures", action="store_true", help="write the tiny fixtures + golden tokens to test/fixtures/models/")
    ap.add_argument("--fixtures-out", default=os.path.join(ROOT, "test/fixtures/models"))
    ap.add_argument("--fixture-names", default="", help="with --fixtures: only these fixtures (comma-separated names)")
    ap.add_argument("--block", type=int, default=32, help="MatMulNBits block size of the int4 layouts (32: genai's default)")
    ap.add_argument("--head-block", type=int, default=0, help="MatMulNBits block size of the LM head (0: --block); 256 halves its decode cost")
    ap.add_argument("--packed-qkv", default="", choices=["", "bias", "add"], help="genai int4: q/k/v as one MatMulNBits fed "
                    "packed to GroupQueryAttention with rotary inside it (do_rotary=1); its bias as MatMulNBits' input ('bias') or an Add ('add')")
    ap.add_argument("--fuse", action="store_true", help="genai int4: one MatMulNBits for q/k/v and one for gate/up (each + Split)")
    ap.add_argument("--critiprefill", default="", help="optimum layouts: also write the CritiPrefill twin onnx/model*_critiprefill.onnx, "
                                                         "BLOCK,BUDGET[,RECENT] (KV block positions, blocks kept, newest blocks always kept)")
    ap.add_argument("--kv-runahead", type=int, default=0, help="optimum layouts: also write GROUPS KV-Runahead layer groups "
                    "onnx/model*_runahead{k}of{GROUPS}.onnx (issue 17, native/py/kv_runahead.py)")
    ap.add_argument("--lazyllm", default="", help="optimum layouts: also write the LazyLLM twin onnx/model*_lazyllm.onnx, "
                    "LAYER:PERCENT[,LAYER:PERCENT...] (issue 17, native/py/lazyllm.py)")
    ap.add_argument("--grouped-attention", action="store_true", help="optimum layouts: each KV head's query heads as one product "
                    "(one [G*S, D] x [D, T] MatMul instead of G broadcast ones; issue 15, CPU decode)")
    ap.add_argument("--suffix", default="", help="appended to each layout's directory name (e.g. -b128)")
    ap.add_argument("--tokenizer-only", action="store_true", help="rewrite only tokenizer.json / tokenizer_config.json of the layouts")
    ap.add_argument("--state-dict", default="", help="also save the weights as .npz (for the GGUF export)")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe import SAMPLE, tokenizer_config, train_bpe  # noqa: E402
from onnx_builder import Builder, Graph, check_lazyllm, group_path, layer_groups, lazyllm_path, parse_critiprefill, parse_lazyllm, twin_path  # noqa: E402

F32, I64, I32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32
MS = "com.microsoft"

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                 "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]



class Shape:
    def __init__(self, name, hidden, layers, heads, kv_heads, ffn, vocab, max_position):
        self.name, self.hidden_size, self.num_layers, self.num_heads = name, hidden, layers, heads
        self.num_kv_heads, self.intermediate_size, self.vocab_size, self.max_position = kv_heads, ffn, vocab, max_position
        self.arch, self.rope_theta, self.norm_eps, self.qkv_bias, self.tie_embeddings = "qwen2", 1000000.0, 1e-6, True, True
        self.small_vocab = vocab == 0  # tiny fixtures: the vocabulary is the small BPE's own size

    @property
    def head_dim(self):
        return self.hidden_size // self.num_heads

    def params(self):
        h, f, d, kv = self.hidden_size, self.intermediate_size, self.head_dim, self.num_kv_heads
        per = h * h + 2 * h * kv * d + h + 2 * kv * d + h * h + 3 * h * f + 2 * h
        return self.vocab_size * h + self.num_layers * per + h


SHAPES = {
    "0.5b": lambda: Shape("qwen2.5-coder-0.5b-shape", 896, 24, 14, 2, 4864, 151936, 32768),
    "1.5b": lambda: Shape("qwen2.5-coder-1.5b-shape", 1536, 28, 12, 2, 8960, 151936, 32768),
    "tiny": lambda: Shape("qwen2.5-coder-tiny", 64, 2, 4, 2, 128, 0, 256),
}
assert tuple(SHAPES) == SHAPE_NAMES
BLOCK = 32  # MatMulNBits block size of the int4 layouts (genai's default "block-32")
# The LM head's block size (None: BLOCK). Its 151,936 rows x 896 make per-block work dominate at M = 1: measured
# with bench/realmodels/decode_stack.py (0.5B shape, 1 thread, CPU time per step), the head costs ~7 ms at block 128
# and ~3.6 ms at block 256, while the 24 layers gain only ~0.7 ms from 128 -> 256.
HEAD_BLOCK = None
# Fuse q/k/v into one MatMulNBits (N = q + 2 kv) and gate/up into one (N = 2 ffn), each followed by Split, in the
# genai int4 layout. Fewer, wider M = 1 products: 14.4 vs 18.5 and 16.1 vs 17.0 ms CPU per step in two rounds of
# decode_stack.py at block 128 (bench/results/real-models-cpu-decode.md). Same weights, same arithmetic per column.
FUSE = False
# Issue 15, the model builder's GPU attention form: q/k/v as one MatMulNBits (N = q + 2 kv) with the biases as its
# bias input (no Add), fed packed to GroupQueryAttention (key/value inputs empty) with do_rotary=1 and the cos/sin
# caches (no RotaryEmbedding nodes). "bias": the bias as MatMulNBits input 5; "add": a separate Add.
PACKED_QKV = ""
LAZYLLM = None  # issue 17: {"layers", "keep"} writes the optimum layouts' LazyLLM twins (--lazyllm)
CRITIPREFILL = None  # issue 17: {"block", "budget", "recent"} writes the optimum layouts' CritiPrefill twins (--critiprefill)
GROUPED = False  # issue 15: --grouped-attention (onnx_builder.Builder.grouped_attention) for the optimum-q4 plain graph
KV_RUNAHEAD = 0  # issue 17: > 0 writes the optimum layouts' KV-Runahead layer groups (--kv-runahead GROUPS)


# ---------------------------------------------------------------- weights

def random_state_dict(cfg: Shape, seed: int, std: float = 0.02, embed_std: float = 0.02) -> dict:
    """Torch-named fp32 weights, N(0, std) for matrices, 1 ± 0.1 for norms, N(0, 0.02) biases."""
    rng = np.random.default_rng(seed)
    h, f, d, kv, nh = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim, cfg.num_kv_heads, cfg.num_heads

    def mat(*shape, s=std):
        return (rng.standard_normal(shape, dtype=np.float32) * s).astype(np.float32)

    sd = {"model.embed_tokens.weight": mat(cfg.vocab_size, h, s=embed_std)}
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = 1 + mat(h, s=0.1)
        sd[p + "self_attn.q_proj.weight"] = mat(nh * d, h)
        sd[p + "self_attn.q_proj.bias"] = mat(nh * d, s=0.02)
        sd[p + "self_attn.k_proj.weight"] = mat(kv * d, h)
        sd[p + "self_attn.k_proj.bias"] = mat(kv * d, s=0.02)
        sd[p + "self_attn.v_proj.weight"] = mat(kv * d, h)
        sd[p + "self_attn.v_proj.bias"] = mat(kv * d, s=0.02)
        sd[p + "self_attn.o_proj.weight"] = mat(h, nh * d)
        sd[p + "post_attention_layernorm.weight"] = 1 + mat(h, s=0.1)
        sd[p + "mlp.gate_proj.weight"] = mat(f, h)
        sd[p + "mlp.up_proj.weight"] = mat(f, h)
        sd[p + "mlp.down_proj.weight"] = mat(h, f)
    sd["model.norm.weight"] = 1 + mat(h, s=0.1)
    return sd


def quantize_q4(w: np.ndarray, block: int | None = None):
    """Symmetric 4-bit block quantization in MatMulNBits' layout.
    w: [N, K] fp32 (torch Linear layout, N = out features). A K that is not a multiple of `block` is padded with
    zero weights to ceil(K/block) blocks, as MatMulNBits expects (e.g. K = 896 at block 256: 4 blocks).
    Returns (packed uint8 [N, ceil(K/block), block/2], scales fp32 [N * ceil(K/block)], dequantized fp32 [N, K]).
    q = clip(round(w / s), -8, 7) + 8 with s = max|w_block| / 7; byte j of a block = q[2j] | q[2j+1] << 4;
    the zero point is MatMulNBits' default for 4 bits (8), so no zero_points input is written."""
    block = block or BLOCK
    n, k = w.shape
    pad = -k % block
    if pad:
        w = np.concatenate([w, np.zeros((n, pad), dtype=w.dtype)], axis=1)
    wb = w.reshape(n, (k + pad) // block, block)
    scale = np.maximum(np.abs(wb).max(axis=2), 1e-8) / 7.0
    q = (np.clip(np.round(wb / scale[:, :, None]), -8, 7) + 8).astype(np.uint8)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    deq = ((q.astype(np.float32) - 8) * scale[:, :, None]).reshape(n, k + pad)[:, :k]
    return packed, scale.reshape(-1).astype(np.float32), deq


def dequantized_state_dict(cfg: Shape, sd: dict) -> dict:
    """The weights an int4 graph computes with: every linear layer and the LM head through quantize_q4
    (embedding rows stay fp32, so the LM head is untied: `lm_head.weight`)."""
    out = dict(sd)
    for k, v in sd.items():
        if k.endswith("_proj.weight"):
            out[k] = quantize_q4(v)[2]
    out["lm_head.weight"] = quantize_q4(sd["model.embed_tokens.weight"], HEAD_BLOCK)[2]
    return out


# ---------------------------------------------------------------- Optimum layout, 4-bit

class Q4Builder(Builder):
    """onnx_builder.Builder's standard (Optimum) graph with MatMulNBits bits=4 for linear layers and LM head."""

    def __init__(self, cfg, sd, accuracy_level=0):
        super().__init__(cfg, sd, "standard", "fp32", accuracy_level)
        self.g.direct_outputs = True  # presents/logits end in their producers (no Identity copy per output)

    def nbits4(self, x, w, key, name=None, block=None):
        n, k = w.shape
        block = block or BLOCK
        packed, scale, _ = quantize_q4(w, block)
        q_n = self.g.init(f"{key}.q4", packed)
        s_n = self.g.init(f"{key}.q4_scale", scale)
        return self.g.op("MatMulNBits", [x, q_n, s_n], name=name, domain=MS, K=k, N=n, bits=4, block_size=block,
                         accuracy_level=self.accuracy_level)

    def linear(self, x, key, bias_key=None, name=None):
        y = self.nbits4(x, self.w(key), key, name)
        if bias_key is not None:
            y = self.g.op("Add", [y, self.g.init(bias_key, self.w(bias_key))])
        return y

    def lm_head(self, x, key):
        return self.nbits4(x, self.w(key), "lm_head", name="lm_head", block=HEAD_BLOCK)


# ---------------------------------------------------------------- onnxruntime-genai layout

def build_genai(cfg: Shape, sd: dict, quant: str = "int4", accuracy_level: int = 4, io: str = "fp32") -> onnx.ModelProto:
    """The model builder's decoder graph (see module doc). quant: 'int4' (MatMulNBits) or 'fp32' (MatMul);
    io: the activation / KV / logits dtype, 'fp32' (the builder's CPU choice) or 'fp16' (its GPU choice)."""
    # Identity outputs kept: renaming GroupQueryAttention's presents to the graph outputs made the 0.5B decode step at
    # 2,048 past slower, not faster (43.8 vs 34.0 ms, bench/results/real-models-cpu-decode-grouped.md)
    g = Graph()
    FT, ft = (TensorProto.FLOAT16, np.float16) if io == "fp16" else (F32, np.float32)
    h, d, nh, kv = cfg.hidden_size, cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
    B, S, P, T = "batch_size", "sequence_length", "past_sequence_length", "total_sequence_length"
    ids = g.add_input("input_ids", I64, [B, S])
    mask = g.add_input("attention_mask", I64, [B, T])
    # With rotary inside GroupQueryAttention (--packed-qkv) positions come from seqlens_k, and the builder's graph has
    # no position_ids input.
    pos = None if PACKED_QKV and quant == "int4" else g.add_input("position_ids", I64, [B, S])
    past = [(g.add_input(f"past_key_values.{i}.key", FT, [B, kv, P, d]), g.add_input(f"past_key_values.{i}.value", FT, [B, kv, P, d]))
            for i in range(cfg.num_layers)]
    # seqlens_k [B] int32 = sum(mask) - 1; total_sequence_length scalar int32 = mask width
    seqlens_k = g.op("Cast", [g.op("Sub", [g.op("ReduceSum", [mask, g.const([1])], keepdims=0), g.const(1)])], to=I32)
    total = g.op("Cast", [g.op("Gather", [g.op("Shape", [mask]), g.const(1)], axis=0)], to=I32)
    inv_freq = 1.0 / (cfg.rope_theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    ang = np.outer(np.arange(cfg.max_position, dtype=np.float64), inv_freq)  # [max_pos, d/2]
    cos_c = g.init("cos_cache", np.cos(ang).astype(ft))
    sin_c = g.init("sin_cache", np.sin(ang).astype(ft))

    def w(key):
        return sd[key].astype(ft)

    def linear(x, key, bias_key=None, weight=None, name=None, block=None, bias=None):
        """bias (an array): MatMulNBits' own bias input (int4 only), instead of bias_key's separate Add."""
        wt = (sd[key] if weight is None else weight).astype(np.float32)  # quantized from fp32 whatever the io dtype
        if quant == "int4":
            n, k = wt.shape
            block = block or BLOCK
            packed, scale, _ = quantize_q4(wt, block)
            ins = [x, g.init(f"{key}.q4", packed), g.init(f"{key}.q4_scale", scale.astype(ft))]
            if bias is not None:
                ins += ["", "", g.init(f"{key}.bias", bias.astype(ft))]
            y = g.op("MatMulNBits", ins, name=name, domain=MS, K=k, N=n, bits=4, block_size=block, accuracy_level=accuracy_level)
        else:
            y = g.op("MatMul", [x, g.init(f"{key}.T", np.ascontiguousarray(wt.T).astype(ft))], name=name)
        if bias_key is not None:
            y = g.op("Add", [y, g.init(bias_key, w(bias_key))])
        return y

    def skip_norm(x, residual, key):
        """SkipSimplifiedLayerNormalization: (norm(x + residual), x + residual)."""
        g.counter += 1
        nm = f"SkipSimplifiedLayerNormalization_{g.counter}"
        outs = [f"{nm}:0", "", "", f"{nm}:3"]
        g.nodes.append(helper.make_node("SkipSimplifiedLayerNormalization", [x, residual, g.init(key, w(key))], outs, name=nm,
                                        domain=MS, epsilon=cfg.norm_eps))
        return outs[0], outs[3]

    x = g.op("Gather", [g.init("model.embed_tokens.weight", w("model.embed_tokens.weight")), ids], axis=0)
    residual = x
    hn = g.op("SimplifiedLayerNormalization", [x, g.init("model.layers.0.input_layernorm.weight", w("model.layers.0.input_layernorm.weight"))],
              axis=-1, epsilon=cfg.norm_eps, stash_type=1)
    presents = []
    mlp_out = None
    for i in range(cfg.num_layers):
        p = f"model.layers.{i}."
        if i > 0:
            hn, residual = skip_norm(mlp_out, residual, p + "input_layernorm.weight")
        if PACKED_QKV and quant == "int4":
            qkv_w = np.concatenate([sd[p + f"self_attn.{n}_proj.weight"] for n in "qkv"], axis=0)
            qkv_b = np.concatenate([sd[p + f"self_attn.{n}_proj.bias"] for n in "qkv"])
            if PACKED_QKV == "bias":
                qkv = linear(hn, p + "self_attn.qkv_proj.weight", weight=qkv_w, bias=qkv_b)
            else:
                qkv = g.op("Add", [linear(hn, p + "self_attn.qkv_proj.weight", weight=qkv_w), g.init(p + "self_attn.qkv_proj.bias", qkv_b.astype(ft))])
            attn, pk, pv = g.op("GroupQueryAttention", [qkv, "", "", past[i][0], past[i][1], seqlens_k, total, cos_c, sin_c], n_out=3,
                                domain=MS, num_heads=nh, kv_num_heads=kv, scale=float(1.0 / np.sqrt(d)), local_window_size=-1,
                                do_rotary=1, rotary_interleaved=0)
        elif FUSE and quant == "int4":
            qkv_w = np.concatenate([sd[p + f"self_attn.{n}_proj.weight"] for n in "qkv"], axis=0)
            qkv = linear(hn, p + "self_attn.qkv_proj.weight", weight=qkv_w)
            qkv = g.op("Add", [qkv, g.init(p + "self_attn.qkv_proj.bias", np.concatenate([w(p + f"self_attn.{n}_proj.bias") for n in "qkv"]))])
            q, k, v = g.op("Split", [qkv, g.const([nh * d, kv * d, kv * d])], n_out=3, axis=-1)
        else:
            q = linear(hn, p + "self_attn.q_proj.weight", p + "self_attn.q_proj.bias")
            k = linear(hn, p + "self_attn.k_proj.weight", p + "self_attn.k_proj.bias")
            v = linear(hn, p + "self_attn.v_proj.weight", p + "self_attn.v_proj.bias")
        if not (PACKED_QKV and quant == "int4"):
            q = g.op("RotaryEmbedding", [q, pos, cos_c, sin_c], domain=MS, interleaved=0)
            k = g.op("RotaryEmbedding", [k, pos, cos_c, sin_c], domain=MS, interleaved=0)
            attn, pk, pv = g.op("GroupQueryAttention", [q, k, v, past[i][0], past[i][1], seqlens_k, total], n_out=3, domain=MS,
                                num_heads=nh, kv_num_heads=kv, scale=float(1.0 / np.sqrt(d)), local_window_size=-1, do_rotary=0)
        presents.append((pk, pv))
        o = linear(attn, p + "self_attn.o_proj.weight")
        hn, residual = skip_norm(o, residual, p + "post_attention_layernorm.weight")
        if FUSE and quant == "int4":
            ffn = sd[p + "mlp.gate_proj.weight"].shape[0]
            gu = linear(hn, p + "mlp.gate_up_proj.weight", weight=np.concatenate([sd[p + "mlp.gate_proj.weight"], sd[p + "mlp.up_proj.weight"]], axis=0))
            gate, up = g.op("Split", [gu, g.const([ffn, ffn])], n_out=2, axis=-1)
        else:
            gate = linear(hn, p + "mlp.gate_proj.weight")
            up = linear(hn, p + "mlp.up_proj.weight")
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        mlp_out = linear(act, p + "mlp.down_proj.weight")
    y, _ = skip_norm(mlp_out, residual, "model.norm.weight")
    logits = linear(y, "lm_head.weight", weight=sd["model.embed_tokens.weight"], name="lm_head", block=HEAD_BLOCK)
    g.add_output(logits, "logits", FT, [B, S, cfg.vocab_size])
    for i, (pk, pv) in enumerate(presents):
        g.add_output(pk, f"present.{i}.key", FT, [B, kv, T, d])
        g.add_output(pv, f"present.{i}.value", FT, [B, kv, T, d])
    return g.model(f"infill-ls {cfg.name} onnxruntime-genai layout {quant}" + (" fp16" if io == "fp16" else ""))


def genai_config(cfg: Shape, eos_id: int, bos_id: int | None, position_ids: bool = True) -> dict:
    """genai_config.json as the onnxruntime-genai model builder writes it for a CPU int4 decoder (position_ids=False:
    a graph without that input, rotary inside GroupQueryAttention)."""
    inputs = {"input_ids": "input_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
              "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"}
    if not position_ids:
        del inputs["position_ids"]
    return {
        "model": {
            "bos_token_id": bos_id if bos_id is not None else eos_id,
            "context_length": cfg.max_position,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": cfg.head_dim,
                "hidden_size": cfg.hidden_size,
                "inputs": inputs,
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key", "present_value_names": "present.%d.value"},
                "num_attention_heads": cfg.num_heads,
                "num_hidden_layers": cfg.num_layers,
                "num_key_value_heads": cfg.num_kv_heads,
            },
            "eos_token_id": eos_id,
            "pad_token_id": eos_id,
            "type": "qwen2",
            "vocab_size": cfg.vocab_size,
        },
        "search": {"diversity_penalty": 0.0, "do_sample": False, "early_stopping": True, "length_penalty": 1.0,
                   "max_length": cfg.max_position, "min_length": 0, "no_repeat_ngram_size": 0, "num_beams": 1,
                   "num_return_sequences": 1, "past_present_share_buffer": False, "repetition_penalty": 1.0,
                   "temperature": 1.0, "top_k": 1, "top_p": 1.0},
    }


def hf_config(cfg: Shape, eos_id: int) -> dict:
    return {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size, "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads, "intermediate_size": cfg.intermediate_size, "hidden_act": "silu",
        "rms_norm_eps": cfg.norm_eps, "rope_theta": cfg.rope_theta, "max_position_embeddings": cfg.max_position,
        "max_window_layers": cfg.num_layers, "sliding_window": cfg.max_position, "use_sliding_window": False,
        "tie_word_embeddings": True, "attention_dropout": 0.0, "bos_token_id": eos_id, "eos_token_id": eos_id,
        "use_cache": True, "torch_dtype": "float32",
    }


# ---------------------------------------------------------------- writing

def save(model: onnx.ModelProto, path: str, data_name: str):
    """Writes `path` with every initializer in one external data file next to it (models > 2 GB need it)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = os.path.join(os.path.dirname(path), data_name)
    if os.path.exists(data):
        os.remove(data)
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data_name, size_threshold=1024)


# Qwen2.5's added tokens and their ids (151,643 regular tokens before them; 151,665 in all, 151,936 logits).
QWEN_ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
              "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
              "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
              "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
QWEN_REGULAR = 151643


def qwen_sized(tok: dict) -> dict:
    """The small BPE's vocabulary laid out like Qwen2.5's: its bytes and merges first, then unreachable filler
    entries (plain ASCII, so any id decodes to text) up to 151,643 regular tokens, then the 22 added tokens at
    Qwen's own ids (<|endoftext|> 151643 ... <|fim_prefix|> 151659 ... <|file_sep|> 151664). Without a
    vocabulary of about the embedding's size the engine refuses the pair (engine/load.ts checkVocab)."""
    vocab = tok["model"]["vocab"]
    regular = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in QWEN_SPECIALS]
    seen, i = set(regular), 0
    while len(regular) < QWEN_REGULAR:
        n, t = i, ""
        while True:
            t = chr(97 + n % 26) + t
            n //= 26
            if n == 0:
                break
        i += 1
        if "zq" + t not in seen:
            regular.append("zq" + t)
            seen.add("zq" + t)
    new = {t: k for k, t in enumerate(regular)}
    for k, t in enumerate(QWEN_ADDED):
        new[t] = QWEN_REGULAR + k
    tok["model"]["vocab"] = new
    tok["added_tokens"] = [{"id": QWEN_REGULAR + k, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True} for k, t in enumerate(QWEN_ADDED)]
    return tok


def write_tokenizer(d: str, cfg: Shape) -> dict:
    """tokenizer.json / tokenizer_config.json. Tiny shapes: the small BPE itself (its size sets the vocabulary);
    real shapes: the same BPE laid out at Qwen2.5's size and special-token ids (qwen_sized)."""
    os.makedirs(d, exist_ok=True)
    tok = train_bpe(SAMPLE, 120, QWEN_SPECIALS)
    if cfg.small_vocab:
        cfg.vocab_size = len(tok["model"]["vocab"])
        conf = tokenizer_config(QWEN_SPECIALS, None, "<|endoftext|>", "<|endoftext|>", cfg.max_position)
    else:
        tok = qwen_sized(tok)
        conf = tokenizer_config(QWEN_SPECIALS, None, "<|endoftext|>", "<|endoftext|>", cfg.max_position)
        conf["added_tokens_decoder"] = {str(QWEN_REGULAR + k): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                                                "single_word": False, "special": True} for k, t in enumerate(QWEN_ADDED)}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    return tok


def write_layout(d: str, cfg: Shape, sd: dict, layout: str, seed: int, accuracy_level: int, single_file: bool = False) -> str:
    """Writes one model directory `d` in `layout` and returns it."""
    tok = write_tokenizer(d, cfg)
    eos = tok["model"]["vocab"]["<|endoftext|>"]
    t0 = time.time()
    if layout.startswith("optimum"):
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(hf_config(cfg, eos), f, indent=1)
        if layout == "optimum-fp32":
            m = Builder(cfg, sd, "standard", "fp32").build()
            path = os.path.join(d, "onnx", "model.onnx")
        elif layout == "optimum-q4":
            b = Q4Builder(cfg, sd, accuracy_level)
            b.grouped_attention = GROUPED
            m = b.build()
            path = os.path.join(d, "onnx", "model_q4.onnx")
        else:
            raise ValueError(layout)
        if CRITIPREFILL:  # issue 17: the CritiPrefill twin of the same graph, next to it (onnx_builder.critiprefill_plan)
            b = Builder(cfg, sd, "standard", "fp32", critiprefill=CRITIPREFILL) if layout == "optimum-fp32" else Q4Builder(cfg, sd, accuracy_level)
            b.critiprefill = CRITIPREFILL
            twin = twin_path(path)
            save(b.build(), twin, os.path.basename(twin) + "_data")
        if LAZYLLM:  # issue 17: the LazyLLM twin of the same graph, next to it (onnx_builder.lazyllm_select)
            b = Builder(cfg, sd, "standard", "fp32", lazyllm=LAZYLLM) if layout == "optimum-fp32" else Q4Builder(cfg, sd, accuracy_level)
            b.lazyllm = check_lazyllm(LAZYLLM, cfg.num_layers)
            twin = lazyllm_path(path)
            save(b.build(), twin, os.path.basename(twin) + "_data")
        for k, layers in enumerate(layer_groups(cfg.num_layers, KV_RUNAHEAD) if KV_RUNAHEAD else []):
            # issue 17: KV-Runahead's layer groups of the same graph, next to it (onnx_builder.build_onnx `layers`)
            b = Builder(cfg, sd, "standard", "fp32", layers=layers) if layout == "optimum-fp32" else Q4Builder(cfg, sd, accuracy_level)
            b.layers = layers
            gp = group_path(path, k, KV_RUNAHEAD)
            save(b.build(), gp, os.path.basename(gp) + "_data")
    elif layout.startswith("genai"):
        with open(os.path.join(d, "genai_config.json"), "w") as f:
            json.dump(genai_config(cfg, eos, None, position_ids=not (PACKED_QKV and layout != "genai-fp32")), f, indent=1)
        if layout not in ("genai-int4", "genai-int4-fp16", "genai-fp32"):
            raise ValueError(layout)
        m = build_genai(cfg, sd, "fp32" if layout == "genai-fp32" else "int4", accuracy_level, "fp16" if layout.endswith("-fp16") else "fp32")
        path = os.path.join(d, "model.onnx")
    else:
        raise ValueError(layout)
    if single_file:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        onnx.save_model(m, path)
    else:
        save(m, path, "model.onnx.data" if layout.startswith("genai") else os.path.basename(path) + "_data")
    with open(os.path.join(d, "infill_ls_generated.json"), "w") as f:
        json.dump({"shape": cfg.name, "layout": layout, "seed": seed, "params": cfg.params(), "accuracy_level": accuracy_level, "block_size": BLOCK, "head_block_size": HEAD_BLOCK or BLOCK, "fused_qkv_gate_up": FUSE, "packed_qkv": PACKED_QKV, "critiprefill": CRITIPREFILL, "kv_runahead_groups": KV_RUNAHEAD, "lazyllm": LAZYLLM, "grouped_attention": GROUPED,
                   "generator": "native/py/qwen_models.py"}, f, indent=1)
    size = sum(os.path.getsize(os.path.join(r, x)) for r, _, fs in os.walk(d) for x in fs)
    print(f"{d}: {layout}, {size / 2**20:.1f} MiB, {time.time() - t0:.0f} s", flush=True)
    return d


# ---------------------------------------------------------------- fixtures (tiny, golden tokens from PyTorch)

FIXTURE_LAYOUTS = {"qwen2-q4": "optimum-q4", "qwen2-genai": "genai-int4", "qwen2-genai-fp32": "genai-fp32", "qwen2-genai-fp16": "genai-int4-fp16",
                   "qwen2-q4-grouped": "optimum-q4", "qwen2-genai-packed": "genai-int4", "qwen2-genai-fused": "genai-int4"}
FIXTURE_PACKED = {"qwen2-genai-packed": "add"}  # written with --packed-qkv (same seed and weights as qwen2-genai)
FIXTURE_GROUPED = {"qwen2-q4-grouped"}  # written with --grouped-attention (same seed and weights as qwen2-q4)
FIXTURE_FUSE = {"qwen2-genai-fused"}  # written with --fuse: q/k/v and gate/up each one product + Split (qwen2-genai's weights)
# The golden paths' least top-1/top-2 logit gap a fixture's seed must give: fp16 activations move these logits (|x| up
# to ~25) by up to ~0.12 against the fp32 graph of the same int4 weights, so that fixture asks for a wider gap.
MIN_MARGIN = {"genai-int4-fp16": 0.3}
PROMPTS = [
    "def mean(values):\n    total = ",
    "export function add(a: number, b: number) {\n  return",
    "class Stack<T> {\n  push(item: T): void {",
]
N_GREEDY = 8


def fixtures(out_root: str, seed: int, only: set[str] | None = None):
    import subprocess
    import torch
    from fixtures import min_margin  # the fixtures' own near-tie check (fixtures.py imports torch)
    from model import ModelConfig, build_model, greedy

    global GROUPED, PACKED_QKV, FUSE
    for name, layout in FIXTURE_LAYOUTS.items():
        if only and name not in only:
            continue
        GROUPED = name in FIXTURE_GROUPED
        FUSE = name in FIXTURE_FUSE
        PACKED_QKV = FIXTURE_PACKED.get(name, "")
        cfg = SHAPES["tiny"]()
        d = os.path.join(out_root, name)
        write_tokenizer(d, cfg)
        enc = subprocess.run(["node", os.path.join(ROOT, "native/tools/encode.mjs"), d], input=json.dumps(PROMPTS),
                             capture_output=True, text=True, check=True, cwd=ROOT)
        ids_list = json.loads(enc.stdout)
        quantized = "int4" in layout or "q4" in layout
        tcfg = ModelConfig(arch="qwen2", vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                           num_heads=cfg.num_heads, num_kv_heads=cfg.num_kv_heads, intermediate_size=cfg.intermediate_size,
                           max_position=cfg.max_position, qkv_bias=True, rope_theta=cfg.rope_theta, norm_eps=cfg.norm_eps,
                           tie_embeddings=not quantized)
        # The first seed whose greedy paths all keep a clear top-1/top-2 logit margin (no near-ties in goldens).
        for s in range(seed, seed + 50):
            sd = random_state_dict(cfg, s, std=0.25, embed_std=0.8)
            ref = dequantized_state_dict(cfg, sd) if quantized else sd
            model = build_model(tcfg).eval()
            model.load_state_dict({k: torch.from_numpy(v) for k, v in ref.items()}, strict=False)
            margin = min(min_margin(model, ids, N_GREEDY) for ids in ids_list)
            if margin > MIN_MARGIN.get(layout, 0.1):
                break
        else:
            raise SystemExit(f"{name}: no seed in {seed}..{seed + 49} gives a golden margin above {MIN_MARGIN.get(layout, 0.1)} (best tried last: {margin:.3f})")
        write_layout(d, cfg, sd, layout, s, accuracy_level=0, single_file=True)
        golden = [{"prompt": p, "input_ids": ids, "greedy": greedy(model, ids, N_GREEDY)} for p, ids in zip(PROMPTS, ids_list)]
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump({"reference": "PyTorch native/py/model.py" + (" on the dequantized int4 weights" if quantized else ""),
                       "min_margin": margin, "seed": s, "cases": golden}, f, indent=1)
        print(f"{name}: seed {s}, min top1-top2 margin {margin:.3f}, greedy {[c['greedy'] for c in golden]}")


def main():
    ap = parser()
    a = ap.parse_args()
    global BLOCK, HEAD_BLOCK, FUSE, PACKED_QKV, CRITIPREFILL, KV_RUNAHEAD, LAZYLLM, GROUPED
    GROUPED = a.grouped_attention
    LAZYLLM = parse_lazyllm(a.lazyllm)
    CRITIPREFILL = parse_critiprefill(a.critiprefill)
    KV_RUNAHEAD = a.kv_runahead
    BLOCK = a.block
    HEAD_BLOCK = a.head_block or None
    FUSE = a.fuse
    PACKED_QKV = a.packed_qkv
    if PACKED_QKV and not a.suffix:
        a.suffix = f"-packed-{PACKED_QKV}"  # never over the unpacked layout's folder of the same name
    if a.fixtures:
        fixtures(a.fixtures_out, 4242, set(a.fixture_names.split(",")) if a.fixture_names else None)
        return
    cfg = SHAPES[a.shape]()
    if a.tokenizer_only:
        for layout in [x for x in a.layouts.split(",") if x]:
            write_tokenizer(os.path.join(a.out, cfg.name, layout + a.suffix), cfg)
        return
    if cfg.small_vocab:  # the tiny shape's vocabulary is the small BPE's size, known once it is trained (as fixtures() does)
        cfg.vocab_size = len(train_bpe(SAMPLE, 120, QWEN_SPECIALS)["model"]["vocab"])
    t0 = time.time()
    sd = random_state_dict(cfg, a.seed)
    print(f"{cfg.name}: {cfg.params() / 1e6:.1f}M parameters, weights drawn in {time.time() - t0:.0f} s", flush=True)
    root = os.path.join(a.out, cfg.name)
    for layout in [x for x in a.layouts.split(",") if x]:
        write_layout(os.path.join(root, layout + a.suffix), cfg, sd, layout, a.seed, a.accuracy_level)
    if a.state_dict:
        np.savez(a.state_dict, **sd)


if __name__ == "__main__":
    main()
