"""PyTorch reference decoders (Llama / Qwen2 / GPT-BigCode) whose parameter names match Hugging Face's.

The same modules train our default model and compute the golden tokens of every exported model, so
an ONNX graph built from their state_dict can be checked token for token. Parameter names follow
transformers (model.layers.{i}.self_attn.q_proj.weight, transformer.h.{i}.attn.c_attn.weight, ...) so
a state_dict loads into transformers' LlamaForCausalLM / Qwen2ForCausalLM / GPTBigCodeForCausalLM.
Works on torch 1.13 (manual attention) and torch 2.x (scaled_dot_product_attention for training).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    arch: str = "llama"  # llama | qwen2 | gpt_bigcode
    vocab_size: int = 8192
    hidden_size: int = 384
    num_layers: int = 8
    num_heads: int = 6
    num_kv_heads: int = 2  # gpt_bigcode: always 1 (multi-query)
    intermediate_size: int = 1024
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    max_position: int = 2048
    qkv_bias: bool = False
    tie_embeddings: bool = True

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def to_dict(self):
        return asdict(self)


def rope_tables(cfg: ModelConfig, dtype=torch.float32):
    """cos/sin tables [max_position, head_dim] in HF Llama's rotate_half convention."""
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    pos = torch.arange(cfg.max_position, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(x.dtype)


class LlamaAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, h, kv = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
        self.q_proj = nn.Linear(cfg.hidden_size, h * d, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.hidden_size, kv * d, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.hidden_size, kv * d, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(h * d, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, bias=None, past=None, train=False):
        # x: [B,S,H]; cos/sin: [B,1,S,D]; bias: [B,1,S,T] additive or None (causal); past: (k,v) [B,KV,P,D]
        cfg = self.cfg
        b, s, _ = x.shape
        d, h, kv = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
        q = self.q_proj(x).view(b, s, h, d).transpose(1, 2)
        k = self.k_proj(x).view(b, s, kv, d).transpose(1, 2)
        v = self.v_proj(x).view(b, s, kv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        g = h // kv
        if train and hasattr(F, "scaled_dot_product_attention"):
            kk = k.repeat_interleave(g, dim=1) if g > 1 else k
            vv = v.repeat_interleave(g, dim=1) if g > 1 else v
            o = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)
        else:
            kk = k.repeat_interleave(g, dim=1) if g > 1 else k
            vv = v.repeat_interleave(g, dim=1) if g > 1 else v
            scores = (q.float() @ kk.float().transpose(-1, -2)) / math.sqrt(d)
            if bias is None:
                t = kk.shape[2]
                p = t - s
                mask = torch.arange(t, device=x.device)[None, :] <= (torch.arange(s, device=x.device)[:, None] + p)
                scores = scores.masked_fill(~mask, -1e9)
            else:
                scores = scores + bias
            o = (scores.softmax(-1) @ vv.float()).to(x.dtype)
        o = o.transpose(1, 2).reshape(b, s, h * d)
        return self.o_proj(o), present


class LlamaMLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.norm_eps)

    def forward(self, x, cos, sin, bias=None, past=None, train=False):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, bias, past, train)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class LlamaInner(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([LlamaLayer(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)


class LlamaLM(nn.Module):
    """Llama / Qwen2 style decoder. forward() is the inference form; forward_train() the training form."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.model = LlamaInner(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def _rope(self, position_ids, dtype):
        return self.rope_cos[position_ids].unsqueeze(1).to(dtype), self.rope_sin[position_ids].unsqueeze(1).to(dtype)

    def forward_train(self, input_ids):
        b, s = input_ids.shape
        pos = torch.arange(s, device=input_ids.device)[None, :].expand(b, s)
        x = self.model.embed_tokens(input_ids)
        cos, sin = self._rope(pos, x.dtype)
        for layer in self.model.layers:
            x, _ = layer(x, cos, sin, train=True)
        return self.lm_head(self.model.norm(x))

    def forward(self, input_ids, position_ids=None, bias=None, past=None):
        """input_ids [B,S]; position_ids [B,S]; bias [B,1,S,T] additive or None; past: list of (k,v).
        Returns logits [B,S,V] float32 and the list of presents."""
        b, s = input_ids.shape
        p = 0 if past is None else past[0][0].shape[2]
        if position_ids is None:
            position_ids = (torch.arange(s, device=input_ids.device) + p)[None, :].expand(b, s)
        x = self.model.embed_tokens(input_ids)
        cos, sin = self._rope(position_ids, x.dtype)
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, pr = layer(x, cos, sin, bias, None if past is None else past[i])
            presents.append(pr)
        return self.lm_head(self.model.norm(x)).float(), presents


class BigCodeAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.c_attn = nn.Linear(cfg.hidden_size, cfg.hidden_size + 2 * cfg.head_dim)
        self.c_proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x, bias=None, past=None):
        # past: key_value [B,P,2D] (multi-query, fused)
        cfg = self.cfg
        b, s, hsz = x.shape
        d, h = cfg.head_dim, cfg.num_heads
        qkv = self.c_attn(x)
        q, kvx = qkv[..., :hsz], qkv[..., hsz:]
        if past is not None:
            kvx = torch.cat([past, kvx], dim=1)
        present = kvx
        k, v = kvx[..., :d], kvx[..., d:]
        q = q.view(b, s, h, d).transpose(1, 2)  # [B,H,S,D]
        scores = (q @ k.unsqueeze(1).transpose(-1, -2)) / math.sqrt(d)  # [B,H,S,T]
        t = k.shape[1]
        if bias is None:
            p = t - s
            mask = torch.arange(t, device=x.device)[None, :] <= (torch.arange(s, device=x.device)[:, None] + p)
            scores = scores.masked_fill(~mask, -1e9)
        else:
            scores = scores + bias
        o = scores.softmax(-1) @ v.unsqueeze(1)
        return self.c_proj(o.transpose(1, 2).reshape(b, s, hsz)), present


class BigCodeMLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.c_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class BigCodeBlock(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.attn = BigCodeAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)
        self.mlp = BigCodeMLP(cfg)

    def forward(self, x, bias=None, past=None):
        a, present = self.attn(self.ln_1(x), bias, past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class BigCodeInner(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.wpe = nn.Embedding(cfg.max_position, cfg.hidden_size)
        self.h = nn.ModuleList([BigCodeBlock(cfg) for _ in range(cfg.num_layers)])
        self.ln_f = nn.LayerNorm(cfg.hidden_size, eps=cfg.norm_eps)


class BigCodeLM(nn.Module):
    """GPT-BigCode (SantaCoder/StarCoder 1) style decoder with multi-query attention and fused key_value past."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.transformer = BigCodeInner(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, input_ids, position_ids=None, bias=None, past=None):
        b, s = input_ids.shape
        p = 0 if past is None else past[0].shape[1]
        if position_ids is None:
            position_ids = (torch.arange(s, device=input_ids.device) + p)[None, :].expand(b, s)
        x = self.transformer.wte(input_ids) + self.transformer.wpe(position_ids)
        presents = []
        for i, blk in enumerate(self.transformer.h):
            x, pr = blk(x, bias, None if past is None else past[i])
            presents.append(pr)
        return self.lm_head(self.transformer.ln_f(x)).float(), presents


def build_model(cfg: ModelConfig) -> nn.Module:
    return BigCodeLM(cfg) if cfg.arch == "gpt_bigcode" else LlamaLM(cfg)


@torch.no_grad()
def greedy(model: nn.Module, ids: list[int], n: int) -> list[int]:
    """Greedy continuation with the KV cache (the inference path the ONNX graph mirrors)."""
    dev = next(model.parameters()).device
    logits, past = model(torch.tensor([ids], device=dev))
    out = []
    for _ in range(n):
        t = int(logits[0, -1].argmax())
        out.append(t)
        logits, past = model(torch.tensor([[t]], device=dev), past=past)
    return out


def hf_config(cfg: ModelConfig, bos_id: int, eos_id: int, extra: dict | None = None) -> dict:
    """config.json in transformers' own format for each architecture."""
    if cfg.arch == "gpt_bigcode":
        c = {
            "architectures": ["GPTBigCodeForCausalLM"], "model_type": "gpt_bigcode",
            "vocab_size": cfg.vocab_size, "n_embd": cfg.hidden_size, "n_layer": cfg.num_layers,
            "n_head": cfg.num_heads, "n_inner": cfg.intermediate_size, "n_positions": cfg.max_position,
            "multi_query": True, "activation_function": "gelu_pytorch_tanh", "layer_norm_epsilon": cfg.norm_eps,
            "scale_attn_weights": True, "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0,
            "bos_token_id": bos_id, "eos_token_id": eos_id, "use_cache": True, "tie_word_embeddings": True,
        }
    else:
        c = {
            "architectures": ["Qwen2ForCausalLM" if cfg.arch == "qwen2" else "LlamaForCausalLM"],
            "model_type": cfg.arch, "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
            "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.num_heads,
            "num_key_value_heads": cfg.num_kv_heads, "intermediate_size": cfg.intermediate_size,
            "head_dim": cfg.head_dim, "hidden_act": "silu", "rms_norm_eps": cfg.norm_eps,
            "rope_theta": cfg.rope_theta, "max_position_embeddings": cfg.max_position,
            "tie_word_embeddings": cfg.tie_embeddings, "attention_bias": cfg.qkv_bias,
            "bos_token_id": bos_id, "eos_token_id": eos_id, "use_cache": True, "torch_dtype": "float32",
        }
    if extra:
        c.update(extra)
    return c
