"""Builds decoder ONNX graphs directly from a state_dict (numpy + onnx only, opset 17).

Writing the graph by hand rather than tracing gives an exact, documented I/O contract
(native/ONNX-CONTRACT.md), works the same on any torch version, and lets us choose the operators
that onnxruntime runs fast. Layouts:
  standard: input_ids, attention_mask [B,T] int64, position_ids, past_key_values.{i}.key|value
            (gpt_bigcode: past_key_values.{i}.key_value) -> logits [B,S,V], present.*  (Optimum names)
  packed:   input_ids, attention_bias [B,1,S,T] f32, position_ids, logits_index [N], past_key_values.*
            -> logits [B,N,V], present.*
Weights: fp32, or int8 ("q8": symmetric per-output-channel int8 weights with dynamic uint8 activation
quantization, DynamicQuantizeLinear + MatMulInteger, which onnxruntime fuses on the CPU; the tied
embedding / LM head is stored once as int8 [H,V] with per-token scales).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
I64 = TensorProto.INT64
NEG = -1e9


class Graph:
    def __init__(self, direct_outputs: bool = False):
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        # add_output renames a produced value instead of copying it through an Identity (False: the shipped
        # models/default graph's form, which test_recover rebuilds node for node)
        self.direct_outputs = direct_outputs
        self.renamed = {}
        self.counter = 0
        self.consts = {}

    def op(self, op_type, inputs, n_out=1, name=None, domain=None, **attrs):
        self.counter += 1
        nm = name or f"{op_type}_{self.counter}"
        outs = [f"{nm}:{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=nm, domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def const(self, value, dtype=np.int64):
        arr = np.array(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self.consts:
            self.consts[key] = self.init(f"const_{len(self.consts)}", arr)
        return self.consts[key]

    def add_input(self, name, elem, shape):
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        return name

    def add_output(self, src, name, elem, shape):
        """Graph output `name` = value `src`. A value a node of this graph produces is renamed to `name` (its consumers
        follow) when the graph was made with direct_outputs: an Identity there is a real copy in onnxruntime, e.g.
        2.5 ms of a 33 ms CPU decode step of the 0.5B shape at 2,048 past, copying every present. Graph inputs,
        initializers and an already-exported value keep an Identity."""
        renamed = self.renamed
        if self.direct_outputs and src not in renamed and any(src in n.output for n in self.nodes):
            for n in self.nodes:
                n.input[:] = [name if x == src else x for x in n.input]
                n.output[:] = [name if x == src else x for x in n.output]
            renamed[src] = name
        else:
            self.nodes.append(helper.make_node("Identity", [renamed.get(src, src)], [name], name=f"out_{name}"))
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def model(self, doc: str) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, "decoder", self.inputs, self.outputs, self.inits)
        opsets = [helper.make_opsetid("", 17)]
        if any(n.domain == "com.microsoft" for n in self.nodes):
            opsets.append(helper.make_opsetid("com.microsoft", 1))
        m = helper.make_model(g, opset_imports=opsets, producer_name="infill-ls native/py/onnx_builder.py")
        m.ir_version = 8
        m.doc_string = doc
        return m


class Builder:
    def __init__(self, cfg, sd: dict, layout: str, quant: str, accuracy_level: int = 0, linear_bits: int = 8, linear_block: int = 128,
                 critiprefill: dict | None = None, layers: tuple[int, int] | None = None, lazyllm: dict | None = None):
        self.cfg, self.sd, self.layout, self.quant = cfg, sd, layout, quant
        # Grouped attention (issue 15, CPU decode): a KV head's G query heads as one [G*S, D] x [D, T] product instead
        # of G broadcast [S, D] x [D, T] ones; plain graph only (twins keep the 5-D form). Set by the caller.
        self.grouped_attention = False
        # LazyLLM twin graph (see lazyllm_select): {"layers": [l, ...] ascending, "keep": [percent, ...]}: from layer l on
        # (until the next listed layer) only `percent` % of the run's tokens (at least 1, the last always) are computed
        self.lazyllm = check_lazyllm(lazyllm, cfg.num_layers) if lazyllm is not None else None
        if lazyllm is not None:
            if cfg.arch == "gpt_bigcode":
                raise ValueError("lazyllm: only the llama/qwen2 graph is supported")
            if critiprefill is not None or layers is not None:
                raise ValueError("lazyllm: a twin of the plain graph (not combined with critiprefill or kv-runahead groups)")
        # KV-Runahead layer group (see layer_group): (lo, hi) builds layers lo..hi-1 only; None: the whole model
        self.layers = layers
        if layers is not None:
            if cfg.arch == "gpt_bigcode":
                raise ValueError("kv-runahead groups: only the llama/qwen2 graph is supported")
            if critiprefill is not None:
                raise ValueError("kv-runahead groups are split from the plain graph, not the CritiPrefill twin")
            if not (0 <= layers[0] < layers[1] <= cfg.num_layers):
                raise ValueError(f"kv-runahead group: need 0 <= lo < hi <= {cfg.num_layers}, got {layers}")
        # CritiPrefill twin graph (see critiprefill_plan): {"block": positions per KV block, "budget": blocks kept,
        # "recent": most recent whole blocks always kept}; None: the plain graph
        self.critiprefill = critiprefill
        if critiprefill is not None:
            if cfg.arch == "gpt_bigcode":
                raise ValueError("critiprefill: only the llama/qwen2 attention (separate K/V per KV head) is supported")
            if not (critiprefill["block"] >= 1 and critiprefill["budget"] >= 1 + critiprefill["recent"] and critiprefill["recent"] >= 0):
                raise ValueError(f"critiprefill: need block >= 1, recent >= 0 and budget >= 1 + recent (the sink block), got {critiprefill}")
        # q8w only: bits and block size of the layers' weights (4-bit for issue 16's measurement); the tied
        # embedding / LM head stays 8-bit blocks of 128 (the embedding Gathers its rows)
        self.linear_bits, self.linear_block = linear_bits, linear_block
        # MatMulNBits accuracy_level 4: int8 activations quantized per row and block inside the kernel
        self.accuracy_level = accuracy_level
        self.g = Graph()

    def w(self, key):
        return self.sd[key].astype(np.float32)

    def linear(self, x, key, bias_key=None, name=None):
        """x @ W^T (+ b). W is [out, in] as in torch."""
        g = self.g
        wt = self.w(key).T  # [in, out]
        if self.quant == "q8w":
            y = self.matmul_nbits(x, key, name)
        elif self.quant == "q8":
            scale = np.maximum(np.abs(wt).max(axis=0), 1e-8) / 127.0  # per output column
            wq = np.clip(np.round(wt / scale), -127, 127).astype(np.int8)
            wq_n = g.init(f"{key}.int8", wq)
            sc_n = g.init(f"{key}.scale", scale.astype(np.float32))
            xq, xs, xz = g.op("DynamicQuantizeLinear", [x], n_out=3)
            y32 = g.op("MatMulInteger", [xq, wq_n, xz])
            yf = g.op("Cast", [y32], to=F32)
            y = g.op("Mul", [yf, g.op("Mul", [xs, sc_n])], name=name)
        else:
            y = g.op("MatMul", [x, g.init(key, wt)], name=name)
        if bias_key is not None:
            y = g.op("Add", [y, g.init(bias_key, self.w(bias_key))])
        return y

    block = 128  # MatMulNBits block size (q8w)

    def matmul_nbits(self, x, key, name=None):
        """Weight-only 8-bit, block-wise (com.microsoft MatMulNBits): activations stay fp32.
        W [N=out, K=in] -> uint8 [N, K/block, block] with zero point 128 and fp32 scales [N * K/block].
        With linear_bits=4: symmetric 4-bit, q = clip(round(w / s), -8, 7) + 8 with s = max|w| / 7 per block,
        two values a byte (the even element in the low nibble) -> uint8 [N, K/block, block/2]; no zero-point
        input, so onnxruntime uses its 4-bit default of 8 (com.microsoft MatMulNBits spec)."""
        if self.linear_bits == 4:
            return self.matmul_nbits4(x, key, name)
        g = self.g
        block = self.block
        w = self.w(key)  # [N, K]
        n, k = w.shape
        if k % block:
            raise ValueError(f"{key}: K={k} is not a multiple of the block size {block}")
        wb = w.reshape(n, k // block, block)
        scale = np.maximum(np.abs(wb).max(axis=2), 1e-8) / 127.0  # [N, K/block]
        q = (np.clip(np.round(wb / scale[:, :, None]), -127, 127) + 128).astype(np.uint8)
        q_n = g.init(f"{key}.q8w", q)
        s_n = g.init(f"{key}.q8w_scale", scale.reshape(-1).astype(np.float32))
        return g.op("MatMulNBits", [x, q_n, s_n], name=name, domain="com.microsoft", K=k, N=n, bits=8, block_size=block,
                    accuracy_level=self.accuracy_level)

    def matmul_nbits4(self, x, key, name=None):
        g = self.g
        block = self.linear_block
        w = self.w(key)  # [N, K]
        n, k = w.shape
        if k % block:
            raise ValueError(f"{key}: K={k} is not a multiple of the block size {block}")
        wb = w.reshape(n, k // block, block)
        scale = np.maximum(np.abs(wb).max(axis=2), 1e-8) / 7.0
        q = (np.clip(np.round(wb / scale[:, :, None]), -8, 7) + 8).astype(np.uint8)
        packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # [N, K/block, block/2]
        q_n = g.init(f"{key}.q4w", packed)
        s_n = g.init(f"{key}.q4w_scale", scale.reshape(-1).astype(np.float32))
        return g.op("MatMulNBits", [x, q_n, s_n], name=name, domain="com.microsoft", K=k, N=n, bits=4, block_size=block,
                    accuracy_level=self.accuracy_level)

    def rmsnorm(self, x, key):
        g = self.g
        var = g.op("ReduceMean", [g.op("Mul", [x, x])], axes=[-1], keepdims=1)
        den = g.op("Sqrt", [g.op("Add", [var, g.const(self.cfg.norm_eps, np.float32)])])
        return g.op("Mul", [g.op("Div", [x, den]), g.init(key, self.w(key))])

    def layernorm(self, x, key):
        g = self.g
        return g.op("LayerNormalization", [x, g.init(key + ".weight", self.w(key + ".weight")), g.init(key + ".bias", self.w(key + ".bias"))],
                    axis=-1, epsilon=self.cfg.norm_eps)

    def embed(self, ids, key):
        """Token embedding. q8: one int8 [H,V] tensor shared with the LM head (tied weights)."""
        g = self.g
        if self.quant == "q8w":
            return self.embed_blockwise(ids, key)
        if self.quant == "q8":
            self.tied_int8(key)
            rows = g.op("Gather", [self.tied_q[0], ids], axis=1)  # [H,B,S] int8
            rows = g.op("Transpose", [g.op("Cast", [rows], to=F32)], perm=[1, 2, 0])  # [B,S,H]
            sc = g.op("Unsqueeze", [g.op("Gather", [self.tied_q[1], ids], axis=0), g.const([-1])])  # [B,S,1]
            return g.op("Mul", [rows, sc])
        self.tied_f = key
        return g.op("Gather", [g.init(key, self.w(key)), ids], axis=0)

    def embed_blockwise(self, ids, key):
        """q8w: the tied [V,H] matrix stored once in MatMulNBits' layout (uint8 [V, H/block, block], zero
        point 128, fp32 scales [V*H/block]); the embedding Gathers rows of it and dequantizes them."""
        g = self.g
        v, h = self.w(key).shape
        nb = h // self.block
        self.tied_blockwise(key)
        rows = g.op("Sub", [g.op("Cast", [g.op("Gather", [self.tied_w[0], ids], axis=0)], to=F32), g.const(128.0, np.float32)])  # [B,S,nb,block]
        sc = g.op("Gather", [g.op("Reshape", [self.tied_w[1], g.const([v, nb, 1])]), ids], axis=0)  # [B,S,nb,1]
        return g.op("Reshape", [g.op("Mul", [rows, sc]), g.const([0, 0, h])])

    def tied_blockwise(self, key):
        """q8w: the tied [V,H] matrix's initializers (uint8 [V, H/block, block], zero point 128; fp32 scales [V*H/block]),
        written once and shared by the embedding and the LM head (a KV-Runahead layer group may hold only one of them)."""
        if getattr(self, "tied_w", None) is None:
            g = self.g
            e = self.w(key)  # [V,H]
            v, h = e.shape
            nb = h // self.block
            eb = e.reshape(v, nb, self.block)
            scale = np.maximum(np.abs(eb).max(axis=2), 1e-8) / 127.0  # [V, nb]
            q = (np.clip(np.round(eb / scale[:, :, None]), -127, 127) + 128).astype(np.uint8)
            self.tied_w = (g.init(f"{key}.q8w", q), g.init(f"{key}.q8w_scale", scale.reshape(-1).astype(np.float32)))
        return self.tied_w

    def tied_int8(self, key):
        """q8: the tied embedding / LM head as int8 [H,V] with per-token scales, written once (see tied_blockwise)."""
        if getattr(self, "tied_q", None) is None:
            g = self.g
            e = self.w(key)  # [V,H]
            scale = np.maximum(np.abs(e).max(axis=1), 1e-8) / 127.0  # per token == per LM-head column
            eq_t = np.clip(np.round(e / scale[:, None]), -127, 127).astype(np.int8).T  # [H,V]
            self.tied_q = (g.init(f"{key}.int8_t", eq_t), g.init(f"{key}.scale", scale.astype(np.float32)))
        return self.tied_q

    def lm_head(self, x, key):
        g = self.g
        if self.quant == "q8w":
            v, h = self.cfg.vocab_size, self.cfg.hidden_size
            self.tied_blockwise(key)
            return g.op("MatMulNBits", [x, self.tied_w[0], self.tied_w[1]], name="lm_head", domain="com.microsoft",
                        K=h, N=v, bits=8, block_size=self.block, accuracy_level=self.accuracy_level)
        if self.quant == "q8":
            wq_n, sc_n = self.tied_int8(key)
            xq, xs, xz = g.op("DynamicQuantizeLinear", [x], n_out=3)
            yf = g.op("Cast", [g.op("MatMulInteger", [xq, wq_n, xz])], to=F32)
            return g.op("Mul", [yf, g.op("Mul", [xs, sc_n])], name="lm_head")
        return g.op("MatMul", [x, g.init(key + ".T", self.w(key).T)], name="lm_head")

    def causal_bias(self, input_ids, attention_mask):
        """Standard layout: [B,1,S,T] additive bias from the 2D padding mask plus causality."""
        g = self.g
        s = g.op("Gather", [g.op("Shape", [input_ids]), g.const(1)], axis=0)
        t = g.op("Gather", [g.op("Shape", [attention_mask]), g.const(1)], axis=0)
        p = g.op("Sub", [t, s])
        tr = g.op("Range", [g.const(0), t, g.const(1)])
        sr = g.op("Add", [g.op("Range", [g.const(0), s, g.const(1)]), p])
        causal = g.op("LessOrEqual", [g.op("Unsqueeze", [tr, g.const([0])]), g.op("Unsqueeze", [sr, g.const([1])])])  # [S,T]
        pad = g.op("Unsqueeze", [g.op("Cast", [attention_mask], to=TensorProto.BOOL), g.const([1, 2])])  # [B,1,1,T]
        allowed = g.op("And", [causal, pad])  # [B,1,S,T]
        return g.op("Where", [allowed, g.const(0.0, np.float32), g.const(NEG, np.float32)])

    def rope(self, x, cos, sin):
        g = self.g
        h = self.cfg.head_dim // 2
        x1 = g.op("Slice", [x, g.const([0]), g.const([h]), g.const([-1])])
        x2 = g.op("Slice", [x, g.const([h]), g.const([2 * h]), g.const([-1])])
        rot = g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)
        return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rot, sin])])

    def heads(self, x, n):
        g = self.g
        return g.op("Transpose", [g.op("Reshape", [x, g.const([0, 0, n, self.cfg.head_dim])])], perm=[0, 2, 1, 3])

    def build(self) -> onnx.ModelProto:
        cfg, g = self.cfg, self.g
        B, S, P, T = "batch", "seq", "past", "total"
        lo, hi = self.layers or (0, cfg.num_layers)
        first, last = lo == 0, hi == cfg.num_layers
        # KV-Runahead groups after the first take the previous group's hidden states instead of the token ids
        ids = g.add_input("input_ids", I64, [B, S]) if first else g.add_input(HIDDEN_IN, F32, [B, S, cfg.hidden_size])
        if self.layout == "packed":
            bias = g.add_input("attention_bias", F32, [B, 1, S, T])
        else:
            mask = g.add_input("attention_mask", I64, [B, T])
        pos = g.add_input("position_ids", I64, [B, S])
        if self.layout == "packed" and last:
            lidx = g.add_input("logits_index", I64, ["n_logits"])
        d, kv = cfg.head_dim, cfg.num_kv_heads
        past = []
        for i in range(lo, hi):
            if cfg.arch == "gpt_bigcode":
                past.append(g.add_input(f"past_key_values.{i}.key_value", F32, [B, P, 2 * d]))
            else:
                past.append((g.add_input(f"past_key_values.{i}.key", F32, [B, kv, P, d]),
                             g.add_input(f"past_key_values.{i}.value", F32, [B, kv, P, d])))
        if self.layout != "packed":
            bias = self.causal_bias(ids, mask)
        if cfg.arch == "gpt_bigcode":
            x = self.build_bigcode(ids, pos, bias, past)
        else:
            x = self.build_llama(ids, pos, bias, past)
        if not last:
            g.add_output(x, HIDDEN_OUT, F32, [B, S, cfg.hidden_size])
        elif self.layout == "packed":
            x = g.op("Gather", [x, lidx], axis=1)  # [B,N,H]: only the rows whose logits are needed
            g.add_output(self.lm_head(x, self.head_key), "logits", F32, [B, "n_logits", cfg.vocab_size])
        else:
            g.add_output(self.lm_head(x, self.head_key), "logits", F32, [B, S, cfg.vocab_size])
        for i, pr in zip(range(lo, hi), self.presents):
            if cfg.arch == "gpt_bigcode":
                g.add_output(pr, f"present.{i}.key_value", F32, [B, T, 2 * d])
            else:
                g.add_output(pr[0], f"present.{i}.key", F32, [B, kv, T, d])
                g.add_output(pr[1], f"present.{i}.value", F32, [B, kv, T, d])
        m = g.model(f"infill-ls {cfg.arch} {self.layout} {self.quant}" + (" critiprefill" if self.critiprefill else "")
                    + (" lazyllm" if self.lazyllm else ""))
        if self.critiprefill:
            add_critiprefill_metadata(m, self.critiprefill)
        if self.lazyllm:
            add_lazyllm_metadata(m, self.lazyllm)
        if self.layers is not None:
            add_kv_runahead_metadata(m, lo, hi, cfg.num_layers)
        return m

    def critiprefill_plan(self, past_k0, bias):
        """CritiPrefill (Lv et al., arXiv 2409.12490), the parts shared by every layer.

        The past P = past_key_values.0.key's length splits into nb = floor(P / block) whole blocks of `block` positions
        and a tail of P - nb*block positions. Each layer scores the whole blocks against the run's queries (one query
        segment = the run), keeps k = min(budget, nb) of them by TopK -- always block 0 (attention sink) and the `recent`
        newest whole blocks -- and attends to [kept blocks; tail; the run's own keys, causally]. Every query of the run
        sees every past position in the plain graph (one unpadded sequence, as the runtime feeds it), so the kept past
        columns get bias 0; the tail's and the run's columns keep the input's bias. Shapes are dynamic: any P >= 0
        (nb = 0 keeps nothing but the tail). Returns the tensors each layer's critiprefill_select needs."""
        g, c = self.g, self.critiprefill
        bs = c["block"]
        # (g.const stores every constant as a 1-D tensor, so these are [1]-shaped, as causal_bias' are)
        p = g.op("Gather", [g.op("Shape", [past_k0]), g.const([2])], axis=0)  # [1] = P
        nb = g.op("Div", [p, g.const([bs])])  # [1] whole blocks
        body1 = g.op("Mul", [nb, g.const([bs])])  # [1] = nb*block
        kk1 = g.op("Min", [nb, g.const([c["budget"]])])  # [1] blocks kept
        kept1 = g.op("Mul", [kk1, g.const([bs])])  # [1] kept past positions
        r = g.op("Range", [g.const(0), nb, g.const(1)])  # [nb]
        force = g.op("Or", [g.op("Less", [r, g.const([1])]), g.op("GreaterOrEqual", [r, g.op("Sub", [nb, g.const([c["recent"]])])])])
        d = self.cfg.head_dim
        blk_shape = g.op("Concat", [g.const([0, 0]), nb, g.const([bs, d])], axis=0)  # [B,KV,nb,block,D]
        sel_shape = g.op("Concat", [g.const([0, 0]), kept1, g.const([d])], axis=0)  # [B,KV,k*block,D]
        rest = g.op("Slice", [bias, body1, g.const([2 ** 62]), g.const([3])])  # [B,1,S,tail+S]
        pads = g.op("Concat", [g.const([0, 0, 0]), kept1, g.const([0, 0, 0, 0])], axis=0)
        bias_sel = g.op("Unsqueeze", [g.op("Pad", [rest, pads, g.const(0.0, np.float32)]), g.const([1])])  # [B,1,1,S,k*block+tail+S]
        return {"body1": body1, "kk1": kk1, "force": force, "blk_shape": blk_shape, "sel_shape": sel_shape, "bias": bias_sel}

    def critiprefill_select(self, q5, past_i, k_new, v_new, crit):
        """One layer's kept K/V: per KV head, score = mean of its query group's queries over the run (the segment)
        · mean of each whole block's keys (post-RoPE); TopK of the scores with the forced blocks at +1e30; GatherND
        of the kept blocks. Returns (K [B,KV,T',D], V [B,KV,T',D], bias [B,1,1,S,T']), T' = k*block + tail + S."""
        g = self.g
        pk, pv = past_i
        zero1 = g.const([0])
        ax2 = g.const([2])

        def blocks(x):
            return g.op("Reshape", [g.op("Slice", [x, zero1, crit["body1"], ax2]), crit["blk_shape"]])  # [B,KV,nb,block,D]

        kb, vb = blocks(pk), blocks(pv)
        kp = g.op("ReduceMean", [kb], axes=[3], keepdims=0)  # [B,KV,nb,D]
        qp = g.op("ReduceMean", [q5], axes=[2, 3], keepdims=1)  # [B,KV,1,1,D]
        qp = g.op("Reshape", [qp, g.const([0, 0, 1, self.cfg.head_dim])])  # [B,KV,1,D]
        sc = g.op("MatMul", [qp, g.op("Transpose", [kp], perm=[0, 1, 3, 2])])  # [B,KV,1,nb]
        sc = g.op("Squeeze", [sc, ax2])  # [B,KV,nb]
        sc = g.op("Where", [crit["force"], g.const(1e30, np.float32), sc])
        _, idx = g.op("TopK", [sc, crit["kk1"]], n_out=2, axis=-1)  # [B,KV,k]
        idx = g.op("Unsqueeze", [idx, g.const([-1])])  # [B,KV,k,1]

        def kept(xb, x, new):
            sel = g.op("Reshape", [g.op("GatherND", [xb, idx], batch_dims=2), crit["sel_shape"]])  # [B,KV,k*block,D]
            tail = g.op("Slice", [x, crit["body1"], g.const([2 ** 62]), ax2])
            return g.op("Concat", [sel, tail, new], axis=2)

        return kept(kb, pk, k_new), kept(vb, pv, v_new), crit["bias"]

    def lazyllm_importance(self, pr, past_k0):
        """LazyLLM (Fu et al., arXiv 2407.14057) token importance: the attention probabilities of the run's last query
        (the last row of pr [B,KV,G,Sq,T]: the queries are in ascending position order and the last token is always
        kept) to each of the run's S tokens (columns P..T-1; the past is never pruned), mean over batch and heads -> [S]."""
        g = self.g
        p = g.op("Gather", [g.op("Shape", [past_k0]), g.const([2])], axis=0)  # [1] = P
        last = g.op("Slice", [pr, g.const([-1]), g.const([2 ** 62]), g.const([3])])  # [B,KV,G,1,T]
        run = g.op("Slice", [last, p, g.const([2 ** 62]), g.const([4])])  # [B,KV,G,1,S]
        return g.op("ReduceMean", [run], axes=[0, 1, 2, 3], keepdims=0)  # [S]

    def lazyllm_select(self, imp, pct, x, cos, sin, bias5):
        """The run's tokens a LazyLLM layer computes: k = max(1, ceil(S * pct / 100)) of the S run tokens by TopK of
        `imp` [S] (the last token forced in with +1e30), in ascending position order. Returns the kept indices [k],
        ScatterND indices [B,k,2] for writing the kept rows back into x [B,S,H], and the kept rows' RoPE cos/sin
        [B,1,k,D] and attention bias [B,1,1,k,T]."""
        g = self.g
        s = g.op("Gather", [g.op("Shape", [x]), g.const([1])], axis=0)  # [1] = S
        b = g.op("Gather", [g.op("Shape", [x]), g.const([0])], axis=0)  # [1] = B
        k = g.op("Max", [g.op("Div", [g.op("Add", [g.op("Mul", [s, g.const([pct])]), g.const([99])]), g.const([100])]), g.const([1])])
        r = g.op("Range", [g.const(0), g.op("Squeeze", [s, g.const([0])]), g.const(1)])  # [S]
        score = g.op("Where", [g.op("Equal", [r, g.op("Sub", [s, g.const([1])])]), g.const(1e30, np.float32), imp])
        _, top = g.op("TopK", [score, k], n_out=2, axis=-1)  # [k], by score
        # ascending positions (exact as float32 below 2^24 tokens), so the last kept row is the run's last token
        asc, _ = g.op("TopK", [g.op("Cast", [top], to=F32), k], n_out=2, axis=-1, largest=0, sorted=1)
        idx = g.op("Cast", [asc], to=I64)  # [k]
        shape = g.op("Concat", [b, k, g.const([1])], axis=0)  # [3] = B,k,1
        rows = g.op("Expand", [g.op("Unsqueeze", [idx, g.const([0, 2])]), shape])
        batch = g.op("Expand", [g.op("Unsqueeze", [g.op("Range", [g.const(0), g.op("Squeeze", [b, g.const([0])]), g.const(1)]), g.const([1, 2])]), shape])
        scatter = g.op("Concat", [batch, rows], axis=2)  # [B,k,2]
        return {"idx": idx, "scatter": scatter, "cos": g.op("Gather", [cos, idx], axis=2), "sin": g.op("Gather", [sin, idx], axis=2),
                "bias": g.op("Gather", [bias5, idx], axis=3)}

    def build_llama(self, ids, pos, bias, past):
        cfg, g = self.cfg, self.g
        d, h, kv = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
        grp = h // kv
        # RoPE angles computed in the graph (a [max_position, D] table would cost ~1 MB of the size cap)
        half = 1.0 / (cfg.rope_theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
        inv_freq = g.init("rope.inv_freq", np.concatenate([half, half]).astype(np.float32))  # [D]
        ang = g.op("Mul", [g.op("Unsqueeze", [g.op("Cast", [pos], to=F32), g.const([-1])]), inv_freq])  # [B,S,D]
        cos = g.op("Unsqueeze", [g.op("Cos", [ang]), g.const([1])])  # [B,1,S,D]
        sin = g.op("Unsqueeze", [g.op("Sin", [ang]), g.const([1])])
        bias5 = g.op("Unsqueeze", [bias, g.const([1])])  # [B,1,1,S,T]
        crit = self.critiprefill_plan(past[0][0], bias) if self.critiprefill else None
        lo, hi = self.layers or (0, cfg.num_layers)
        x = self.embed(ids, "model.embed_tokens.weight") if lo == 0 else ids  # a later group: ids are the hidden states
        self.head_key = "model.embed_tokens.weight" if cfg.tie_embeddings else "lm_head.weight"
        self.presents = []
        # LazyLLM: sel = the kept rows of the current pruning stage (None: every row); imp = the importance from the
        # previous layer, computed only where the next layer starts a stage
        sched = dict(zip(self.lazyllm["layers"], self.lazyllm["keep"])) if self.lazyllm else {}
        sel, imp = None, None
        for i in range(lo, hi):
            pre = f"model.layers.{i}."
            if i in sched:
                sel = self.lazyllm_select(imp, sched[i], x, cos, sin, bias5)
            hn = self.rmsnorm(x, pre + "input_layernorm.weight")
            bk = (lambda n: pre + f"self_attn.{n}_proj.bias") if cfg.qkv_bias else (lambda n: None)
            # queries (and below O-projection + MLP) for the kept rows only; K/V for every row, from its current hidden
            # state (a pruned row's is the one it had when pruned), so the presents keep the plain graph's length
            hq = g.op("Gather", [hn, sel["idx"]], axis=1) if sel else hn  # [B,Sq,H]
            q = self.rope(self.heads(self.linear(hq, pre + "self_attn.q_proj.weight", bk("q")), h),
                          sel["cos"] if sel else cos, sel["sin"] if sel else sin)  # [B,H,Sq,D]
            k = self.rope(self.heads(self.linear(hn, pre + "self_attn.k_proj.weight", bk("k")), kv), cos, sin)  # [B,KV,S,D]
            v = self.heads(self.linear(hn, pre + "self_attn.v_proj.weight", bk("v")), kv)
            k_all = g.op("Concat", [past[i - lo][0], k], axis=2)  # [B,KV,T,D]
            v_all = g.op("Concat", [past[i - lo][1], v], axis=2)
            self.presents.append((k_all, v_all))
            q5 = g.op("Reshape", [q, g.const([0, kv, grp, -1, d])])  # [B,KV,G,S,D]
            k_att, v_att, bias_att = k_all, v_all, (sel["bias"] if sel else bias5)
            if self.critiprefill:
                k_att, v_att, bias_att = self.critiprefill_select(q5, past[i - lo], k, v, crit)
            if self.grouped_attention and not self.critiprefill and not sched:
                q4 = g.op("Reshape", [q, g.const([0, kv, -1, d])])  # [B,KV,G*S,D]
                sc = g.op("Mul", [g.op("MatMul", [q4, g.op("Transpose", [k_att], perm=[0, 1, 3, 2])]), g.const(1.0 / np.sqrt(d), np.float32)])
                sc5 = g.op("Reshape", [sc, g.op("Concat", [g.op("Shape", [q5], end=4), g.const([-1])], axis=0)])  # [B,KV,G,S,T]
                pr = g.op("Reshape", [g.op("Softmax", [g.op("Add", [sc5, bias_att])], axis=-1), g.op("Shape", [sc])])  # [B,KV,G*S,T]
                o = g.op("Reshape", [g.op("MatMul", [pr, v_att]), g.op("Shape", [q5])])  # [B,KV,G,S,D]
            else:
                kt = g.op("Transpose", [g.op("Unsqueeze", [k_att, g.const([2])])], perm=[0, 1, 2, 4, 3])  # [B,KV,1,D,T']
                sc = g.op("Mul", [g.op("MatMul", [q5, kt]), g.const(1.0 / np.sqrt(d), np.float32)])  # [B,KV,G,S,T']
                pr = g.op("Softmax", [g.op("Add", [sc, bias_att])], axis=-1)
                if i + 1 in sched:
                    imp = self.lazyllm_importance(pr, past[0][0])
                o = g.op("MatMul", [pr, g.op("Unsqueeze", [v_att, g.const([2])])])  # [B,KV,G,S,D]
            o = g.op("Transpose", [g.op("Reshape", [o, g.const([0, h, -1, d])])], perm=[0, 2, 1, 3])  # [B,S,H,D]
            o = g.op("Reshape", [o, g.const([0, 0, h * d])])
            xr = g.op("Gather", [x, sel["idx"]], axis=1) if sel else x  # [B,Sq,H]
            xr = g.op("Add", [xr, self.linear(o, pre + "self_attn.o_proj.weight")])
            hn = self.rmsnorm(xr, pre + "post_attention_layernorm.weight")
            gate = self.linear(hn, pre + "mlp.gate_proj.weight")
            up = self.linear(hn, pre + "mlp.up_proj.weight")
            act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
            xr = g.op("Add", [xr, self.linear(act, pre + "mlp.down_proj.weight")])
            x = g.op("ScatterND", [x, sel["scatter"], xr]) if sel else xr  # pruned rows keep their hidden state
        return self.rmsnorm(x, "model.norm.weight") if hi == cfg.num_layers else x

    def build_bigcode(self, ids, pos, bias, past):
        cfg, g = self.cfg, self.g
        d, h, hs = cfg.head_dim, cfg.num_heads, cfg.hidden_size
        x = g.op("Add", [self.embed(ids, "transformer.wte.weight"),
                         g.op("Gather", [g.init("transformer.wpe.weight", self.w("transformer.wpe.weight")), pos], axis=0)])
        self.head_key = "transformer.wte.weight"
        self.presents = []
        for i in range(cfg.num_layers):
            pre = f"transformer.h.{i}."
            hn = self.layernorm(x, pre + "ln_1")
            qkv = self.linear(hn, pre + "attn.c_attn.weight", pre + "attn.c_attn.bias")  # [B,S,H+2D]
            q = g.op("Slice", [qkv, g.const([0]), g.const([hs]), g.const([-1])])
            kvx = g.op("Slice", [qkv, g.const([hs]), g.const([hs + 2 * d]), g.const([-1])])
            kv_all = g.op("Concat", [past[i], kvx], axis=1)  # [B,T,2D]
            self.presents.append(kv_all)
            k = g.op("Slice", [kv_all, g.const([0]), g.const([d]), g.const([-1])])
            v = g.op("Slice", [kv_all, g.const([d]), g.const([2 * d]), g.const([-1])])
            qh = self.heads(q, h)  # [B,H,S,D]
            kt = g.op("Transpose", [g.op("Unsqueeze", [k, g.const([1])])], perm=[0, 1, 3, 2])  # [B,1,D,T]
            sc = g.op("Mul", [g.op("MatMul", [qh, kt]), g.const(1.0 / np.sqrt(d), np.float32)])
            pr = g.op("Softmax", [g.op("Add", [sc, bias])], axis=-1)
            o = g.op("MatMul", [pr, g.op("Unsqueeze", [v, g.const([1])])])  # [B,H,S,D]
            o = g.op("Reshape", [g.op("Transpose", [o], perm=[0, 2, 1, 3]), g.const([0, 0, hs])])
            x = g.op("Add", [x, self.linear(o, pre + "attn.c_proj.weight", pre + "attn.c_proj.bias")])
            hn = self.layernorm(x, pre + "ln_2")
            f = self.linear(hn, pre + "mlp.c_fc.weight", pre + "mlp.c_fc.bias")
            # gelu, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            inner = g.op("Mul", [g.op("Add", [f, g.op("Mul", [g.op("Mul", [g.op("Mul", [f, f]), f]), g.const(0.044715, np.float32)])]),
                                 g.const(np.sqrt(2 / np.pi), np.float32)])
            act = g.op("Mul", [g.op("Mul", [f, g.const(0.5, np.float32)]), g.op("Add", [g.op("Tanh", [inner]), g.const(1.0, np.float32)])])
            x = g.op("Add", [x, self.linear(act, pre + "mlp.c_proj.weight", pre + "mlp.c_proj.bias")])
        return self.layernorm(x, "transformer.ln_f")


CRITIPREFILL_KEY = "infill_ls.critiprefill"
LAZYLLM_KEY = "infill_ls.lazyllm"


def check_lazyllm(c: dict, num_layers: int) -> dict:
    """A LazyLLM schedule {"layers": [l, ...], "keep": [percent, ...]} checked and normalised: layers strictly ascending
    in 1..num_layers-1 (layer 0 has no previous layer's attention to rank by), keep integers in 1..100."""
    layers, keep = [int(x) for x in c.get("layers", [])], [int(x) for x in c.get("keep", [])]
    if not layers or len(layers) != len(keep):
        raise ValueError(f"lazyllm: need as many layers as keep percentages (at least one), got {c}")
    if any(not 1 <= l < num_layers for l in layers) or any(b <= a for a, b in zip(layers, layers[1:])):
        raise ValueError(f"lazyllm: layers must ascend within 1..{num_layers - 1}, got {layers}")
    if any(not 1 <= p <= 100 for p in keep):
        raise ValueError(f"lazyllm: keep percentages must be within 1..100, got {keep}")
    return {"layers": layers, "keep": keep}


def parse_lazyllm(spec: str) -> dict | None:
    """'LAYER:PERCENT,LAYER:PERCENT,...' (e.g. '8:70,12:50,16:35') -> {"layers", "keep"}; '' -> None."""
    if not spec:
        return None
    try:
        pairs = [tuple(int(v) for v in p.split(":")) for p in spec.split(",")]
        return {"layers": [a for a, _ in pairs], "keep": [b for _, b in pairs]}
    except ValueError:
        raise ValueError(f"--lazyllm LAYER:PERCENT[,LAYER:PERCENT...], got {spec!r}") from None


def add_lazyllm_metadata(m: onnx.ModelProto, c: dict) -> None:
    """Records the twin's schedule where the runtime reads it (ModelProto.metadata_props, JSON value):
    {"layers": [first layer of each stage], "keep": [percent of the run's tokens computed from it on]}."""
    import json
    entry = m.metadata_props.add()
    entry.key = LAZYLLM_KEY
    entry.value = json.dumps({"layers": c["layers"], "keep": c["keep"]})


def lazyllm_path(path: str) -> str:
    """onnx/model{suffix}.onnx -> onnx/model{suffix}_lazyllm.onnx (the name the runtime looks for)."""
    assert path.endswith(".onnx")
    return path[:-len(".onnx")] + "_lazyllm.onnx"
KV_RUNAHEAD_KEY = "infill_ls.kv_runahead"
HIDDEN_IN, HIDDEN_OUT = "hidden_states_in", "hidden_states_out"


def add_kv_runahead_metadata(m: onnx.ModelProto, lo: int, hi: int, num_layers: int) -> None:
    """Records a layer group's place where the runtime reads it (ModelProto.metadata_props, JSON value):
    {"layers": [lo, hi] (layers lo..hi-1), "num_layers": the whole model's}."""
    import json
    entry = m.metadata_props.add()
    entry.key = KV_RUNAHEAD_KEY
    entry.value = json.dumps({"layers": [int(lo), int(hi)], "num_layers": int(num_layers)})


def layer_groups(num_layers: int, groups: int) -> list[tuple[int, int]]:
    """`groups` contiguous layer ranges [(lo, hi), ...] covering 0..num_layers, sizes differing by at most one
    (the earlier groups take the extra layers)."""
    if not 1 <= groups <= num_layers:
        raise ValueError(f"kv-runahead: need 1 <= groups <= {num_layers} layers, got {groups}")
    base, extra = divmod(num_layers, groups)
    out, lo = [], 0
    for k in range(groups):
        hi = lo + base + (1 if k < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


def group_path(path: str, k: int, groups: int) -> str:
    """onnx/model{suffix}.onnx -> onnx/model{suffix}_runahead{k}of{groups}.onnx (the names the runtime looks for)."""
    assert path.endswith(".onnx")
    return path[:-len(".onnx")] + f"_runahead{k}of{groups}.onnx"


def add_critiprefill_metadata(m: onnx.ModelProto, c: dict) -> None:
    """Records the twin's parameters where the runtime reads them (ModelProto.metadata_props, JSON value):
    {"block": positions per block, "budget": blocks kept, "recent": newest whole blocks always kept, "sink": 1}."""
    import json
    entry = m.metadata_props.add()
    entry.key = CRITIPREFILL_KEY
    entry.value = json.dumps({"block": int(c["block"]), "budget": int(c["budget"]), "recent": int(c["recent"]), "sink": 1})


def twin_path(path: str) -> str:
    """onnx/model{suffix}.onnx -> onnx/model{suffix}_critiprefill.onnx (the name the runtime looks for)."""
    assert path.endswith(".onnx")
    return path[:-len(".onnx")] + "_critiprefill.onnx"


def parse_critiprefill(spec: str) -> dict | None:
    """'BLOCK,BUDGET[,RECENT]' (RECENT default 1) -> dict; '' -> None."""
    if not spec:
        return None
    parts = [int(x) for x in spec.split(",")]
    if len(parts) not in (2, 3):
        raise ValueError(f"--critiprefill BLOCK,BUDGET[,RECENT], got {spec!r}")
    return {"block": parts[0], "budget": parts[1], "recent": parts[2] if len(parts) == 3 else 1}


def build_onnx(cfg, state_dict: dict, layout: str = "standard", quant: str = "fp32", accuracy_level: int = 0,
               linear_bits: int = 8, linear_block: int = 128, critiprefill: dict | None = None,
               layers: tuple[int, int] | None = None, lazyllm: dict | None = None) -> onnx.ModelProto:
    """state_dict: name -> numpy array (torch names). Returns a checked ModelProto.
    critiprefill {"block", "budget", "recent"}: the CritiPrefill twin (Builder.critiprefill_plan), same inputs, outputs
    and KV layout as the plain graph; its parameters go into the model's metadata_props as `infill_ls.critiprefill`.
    layers (lo, hi): one KV-Runahead layer group (arXiv 2405.05329), layers lo..hi-1 of the plain graph with the same
    past/present names, shapes and positions: the first group takes input_ids, later ones `hidden_states_in` [B,S,H];
    the last outputs logits (final norm + LM head), earlier ones `hidden_states_out` [B,S,H]; attention_mask /
    attention_bias, position_ids (and logits_index, packed, last group) as the plain graph. Chaining the groups computes
    the plain graph. metadata_props `infill_ls.kv_runahead` = {"layers": [lo, hi], "num_layers"}.
    lazyllm {"layers", "keep"}: the LazyLLM twin (arXiv 2407.14057; Builder.lazyllm_select), same inputs, outputs and KV
    layout as the plain graph: from each listed layer on only `keep` % of the run's tokens (ranked by the previous
    layer's attention from the run's last token; the last always kept) get queries, O-projection and MLP; the others
    keep their hidden state, from which every later layer still projects their K/V (presents stay full length; their
    values approximate by design). Batch 1 assumed for the ranking (the mean over the batch picks shared rows).
    metadata_props `infill_ls.lazyllm` = {"layers", "keep"}."""
    m = Builder(cfg, state_dict, layout, quant, accuracy_level, linear_bits, linear_block, critiprefill, layers, lazyllm).build()
    onnx.checker.check_model(m)
    return m
