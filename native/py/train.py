"""Trains (or resumes) the default FIM model on the GPU within a wall-clock budget.

Every run, first or resumed, uses the same schedule: linear (re-)warm-up of the learning rate over
`--warmup` steps, then cosine decay to `--min-lr-ratio` of the peak by the end of the time budget
(arXiv 2308.04014: re-warm when pre-training continues). The optimizer state does not survive
between GPU slots (only bf16 weights fit the return channel), so a resumed run starts with fresh
AdamW moments, which the re-warm also protects against.

Usage: python3 native/py/train.py --stream S.npy --dev-stream D.npy --out DIR --budget-s 420 [--resume CKPT_DIR]

Issue 16's v2 model (native/v2-job.sh) adds, all off by default: --model-config (shape), --state FILE (the full
state, AdamW moments included, saved periodically and resumed exactly, so one schedule spans several GPU calls:
--total-s / --finish set its length), --qat-from F (quantization-aware training: from fraction F of the schedule on,
the layers' linear weights are fake-quantized to 4 bits per block of 32 with a straight-through estimator,
fake_quant4, the quantizer of the 4-bit export), --streams-from (several training streams), --fp32-out.
"""
from __future__ import annotations

import argparse
import glob
import io
import json
import math
import os
import sys
import time

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stream", default=None, help="training token stream (.npy); or --streams-from")
    ap.add_argument("--dev-stream", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--budget-s", type=float, default=420)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--peak-lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--compile", type=int, default=1)
    # continual pre-training (issue 16)
    ap.add_argument("--init-onnx", default=None, help="start from a shipped q8w model directory's weights")
    ap.add_argument("--expand-layers", default=None, help="with --init-onnx: comma-separated indices of the loaded model's "
                    "layers after each of which a copy is inserted whose output projections are zero (LLaMA Pro block "
                    "expansion), e.g. 3,7: 8 layers -> 10, the same function at the first step")
    ap.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                    help="cosine: (re-)warm-up then cosine decay; constant: --peak-lr from the first step, no warm-up")
    ap.add_argument("--end-at", type=float, default=0, help="unix time at which training stops (overrides --budget-s), "
                    "so that runs sharing one GPU slot end together whatever their compile time")
    ap.add_argument("--eval", action="append", default=[], help="NAME=stream.npy: extra loss curves (e.g. old/new data)")
    ap.add_argument("--eval-every-s", type=float, default=15)
    ap.add_argument("--eval-batches", type=int, default=4)
    ap.add_argument("--name", default="")
    ap.add_argument("--wait-for", default=None, help="after compiling, wait for this file before reading the streams")
    ap.add_argument("--device", default="cuda")
    # v2 model (issue 16): shape, quantization-aware training, a run split over several GPU calls
    ap.add_argument("--model-config", default=None, help='JSON overriding DEFAULT_CFG, e.g. {"hidden_size": 512}')
    ap.add_argument("--qat-from", type=float, default=None, help="fake-quantize the layers' weights to 4 bits (fake_quant4, "
                    "straight-through) from this fraction of the run's total time on; default: off")
    ap.add_argument("--qat-block", type=int, default=32)
    ap.add_argument("--total-s", type=float, default=0, help="the schedule's length in training seconds over all calls "
                    "(with --state); default: this call's budget")
    ap.add_argument("--finish", action="store_true", help="with --state: end the schedule (cosine, QAT) with this call")
    ap.add_argument("--state", default=None, help="full training state (fp32 weights, AdamW moments, step, clock, logs): "
                    "resumed from when the file exists, saved every --save-every-s and at the end")
    ap.add_argument("--save-every-s", type=float, default=120)
    ap.add_argument("--streams-from", default=None, help="a file listing training streams (.npy, one a line), read after "
                    "--wait-for; they are concatenated (with --stream first when given)")
    ap.add_argument("--fp32-out", default=None, help="also write fp32 weights (ckpt parts) here, for an exact export")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from model import LlamaLM, ModelConfig  # noqa: E402

DEFAULT_CFG = dict(arch="llama", vocab_size=8192, hidden_size=384, num_layers=10, num_heads=6, num_kv_heads=2,
                   intermediate_size=1024, max_position=2048, rope_theta=10000.0, norm_eps=1e-5, tie_embeddings=True)


def save_ckpt(model, cfg, meta, out_dir, part_mb=15, dtype=torch.bfloat16):
    """bf16 weights (or `dtype`: fp32 for an exact export) split into parts of at most part_mb MiB (the GPU machine
    returns files <= 16 MiB)."""
    os.makedirs(out_dir, exist_ok=True)
    for f in glob.glob(os.path.join(out_dir, "ckpt.pt.part*")):
        os.remove(f)
    buf = io.BytesIO()
    torch.save({k: v.detach().to(dtype).cpu() for k, v in model.state_dict().items() if k != "lm_head.weight"}, buf)
    data = buf.getvalue()
    step = part_mb * 1024 * 1024
    for i in range(0, len(data), step):
        with open(os.path.join(out_dir, f"ckpt.pt.part{i // step:02d}"), "wb") as f:
            f.write(data[i:i + step])
    with open(os.path.join(out_dir, "ckpt.json"), "w") as f:
        json.dump({"config": cfg.to_dict(), **meta}, f, indent=1)


def load_ckpt(ckpt_dir):
    parts = sorted(glob.glob(os.path.join(ckpt_dir, "ckpt.pt.part*")))
    if not parts:
        raise SystemExit(f"no checkpoint parts in {ckpt_dir}")
    data = b"".join(open(p, "rb").read() for p in parts)
    sd = torch.load(io.BytesIO(data), map_location="cpu")
    meta = json.load(open(os.path.join(ckpt_dir, "ckpt.json")))
    return {k: v.float() for k, v in sd.items()}, meta


def init_weights(model: LlamaLM, cfg: ModelConfig):
    std = 0.02
    for name, p in model.named_parameters():
        if p.ndim == 2:
            s = std / math.sqrt(2 * cfg.num_layers) if name.endswith(("o_proj.weight", "down_proj.weight")) else std
            torch.nn.init.normal_(p, 0.0, s)


def state_dict_from_onnx(model_dir):
    """fp32 state_dict of a shipped q8w model directory (8-bit blocks dequantized exactly as its graph does:
    bench/runtime/gpu/variants.py), to continue pre-training from the shipped weights when no bf16 checkpoint
    is at hand (issue 16). Returns (state_dict, ModelConfig)."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
    sys.path.insert(0, os.path.join(root, "bench/runtime/gpu"))
    from variants import config_from_hf, state_dict_from_q8w  # noqa: E402
    cfg = config_from_hf(json.load(open(os.path.join(model_dir, "config.json"))))
    sd = state_dict_from_q8w(os.path.join(model_dir, "onnx/model_quantized.onnx"))
    return {k: torch.from_numpy(v.copy()).float() for k, v in sd.items()}, cfg


def expand_layers(sd: dict, cfg, after: list[int]):
    """Block expansion after LLaMA Pro (Wu et al. 2024, arXiv 2401.02415, section 3): after each layer index in
    `after` (indices of the loaded model, 0-based), insert a copy of that layer whose attention output projection
    (o_proj) and MLP down projection (down_proj) are zero, so that the new block adds nothing to the residual stream and
    the expanded model computes exactly the loaded model's function before training moves it. sd: a LlamaLM state dict
    with keys model.layers.{i}.*; cfg: its ModelConfig. Returns (new state dict, new ModelConfig with num_layers +
    len(after)). Raises ValueError for an index outside 0..num_layers-1 or a repeated one."""
    n = cfg.num_layers
    if len(set(after)) != len(after) or any(i < 0 or i >= n for i in after):
        raise ValueError(f"--expand-layers: indices must be distinct, in 0..{n - 1}, got {after}")
    pre = "model.layers."
    per = {i: {} for i in range(n)}
    out = {}
    for k, v in sd.items():
        if k.startswith(pre):
            i, rest = k[len(pre):].split(".", 1)
            per[int(i)][rest] = v
        else:
            out[k] = v
    j = 0
    for i in range(n):
        for rest, v in per[i].items():
            out[f"{pre}{j}.{rest}"] = v
        j += 1
        if i in after:
            for rest, v in per[i].items():
                zero = rest.endswith(("o_proj.weight", "down_proj.weight"))
                out[f"{pre}{j}.{rest}"] = torch.zeros_like(v) if zero else v.clone()
            j += 1
    return out, ModelConfig(**{**cfg.to_dict(), "num_layers": j})


def fake_quant4(w, block: int = 32):
    """Fake 4-bit quantization with a straight-through estimator (Bengio et al. 2013, arXiv 1308.3432), for
    quantization-aware training: the quantizer of onnx_builder.matmul_nbits4 / quant4.py, i.e. symmetric per block of
    `block` consecutive input elements (w: [out, in], blocks along `in`), s = max|w| / 7 (at least 1e-8 / 7),
    q = clip(round(w / s), -8, 7) (round half to even, as numpy), dequantized as q * s. The forward value is the
    dequantized weight; the gradient passes to w unchanged. Raises ValueError when `in` is not a multiple of block."""
    n, k = w.shape
    if k % block:
        raise ValueError(f"fake_quant4: in={k} is not a multiple of the block size {block}")
    wb = w.reshape(n, k // block, block)
    s = wb.abs().amax(dim=2, keepdim=True).clamp_min(1e-8) / 7.0
    q = (torch.clamp(torch.round(wb / s), -8, 7) * s).reshape(n, k)
    return w + (q - w).detach()


QAT_SUFFIXES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight", "gate_proj.weight", "up_proj.weight",
                "down_proj.weight")


def qat_names(model):
    """The parameters that the 4-bit export quantizes (the layers' linear weights; not the tied embedding / LM head)."""
    return [n for n, p in model.named_parameters() if n.startswith("model.layers.") and n.endswith(QAT_SUFFIXES)]


def functional_call(model, params, args):
    fc = getattr(getattr(torch, "func", None), "functional_call", None)
    if fc is None:  # torch 1.13
        from torch.nn.utils.stateless import functional_call as fc
    return fc(model, params, args)


class TrainForward(torch.nn.Module):
    """model.forward_train as a module's forward (functional_call calls forward); parameter names get an "m." prefix."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids):
        return self.m.forward_train(ids)


@torch.no_grad()
def golden_agreement(model, model_dir, dev) -> float:
    """Fraction of golden.json's fp32_tokens (native/py/reference.py) that the model predicts teacher-forced, in fp32."""
    golden = json.load(open(os.path.join(model_dir, "golden.json")))
    hit = n = 0
    for g in golden:
        ids, toks = list(g["input_ids"]), list(g["fp32_tokens"])
        logits, _ = model(torch.tensor([ids + toks[:-1]], device=dev))
        pred = logits[0, len(ids) - 1:].argmax(-1).tolist()
        hit += sum(int(p == t) for p, t in zip(pred, toks))
        n += len(toks)
    return hit / max(1, n)


@torch.no_grad()
def eval_loss(fwd, dev, seq, n_batches=8, bs=32):
    g = torch.Generator(device=dev.device).manual_seed(0)
    losses = []
    for _ in range(n_batches):
        idx = torch.randint(0, dev.numel() - seq - 1, (bs,), generator=g, device=dev.device)
        x = dev[idx[:, None] + torch.arange(seq + 1, device=dev.device)].long()
        with torch.autocast(dev.device.type, dtype=torch.bfloat16):
            logits = fwd(x[:, :-1])
        losses.append(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).item())
    return float(np.mean(losses))


def main():
    ap = parser()
    a = ap.parse_args()
    if not a.stream and not a.streams_from:
        ap.error("--stream or --streams-from is required")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = torch.device(a.device)
    cfg = ModelConfig(**{**DEFAULT_CFG, **(json.loads(a.model_config) if a.model_config else {})})
    history = {"runs": []}
    if a.expand_layers and not a.init_onnx:
        ap.error("--expand-layers needs --init-onnx")
    if a.init_onnx:
        sd, cfg = state_dict_from_onnx(a.init_onnx)
        if a.expand_layers:
            n0 = cfg.num_layers
            sd, cfg = expand_layers(sd, cfg, [int(x) for x in a.expand_layers.split(",")])
            print(f"block expansion: {n0} -> {cfg.num_layers} layers (copies after {a.expand_layers}, zero o_proj/down_proj)", flush=True)
        model = LlamaLM(cfg)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.startswith("rope_") and k != "lm_head.weight"]
        if missing or unexpected:
            raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        model = model.to(dev)
        history = {"runs": [], "init": os.path.abspath(a.init_onnx)}
    else:
        model = LlamaLM(cfg).to(dev)
    if a.resume:
        sd, meta = load_ckpt(a.resume)
        model.load_state_dict(sd, strict=False)
        history = meta.get("history", history)
    elif not a.init_onnx:  # (issue 16's first slot re-initialised the --init-onnx weights here: both arms started from random)
        torch.manual_seed(0)
        init_weights(model, cfg)
    if a.init_onnx:  # the weights in use must be the shipped ones
        e = model.model.embed_tokens.weight.detach().float().cpu()
        if not torch.equal(e, sd["model.embed_tokens.weight"]):
            raise SystemExit("--init-onnx: the model does not hold the shipped weights")
        agree = golden_agreement(model, a.init_onnx, dev)
        print(f"init from {a.init_onnx}: teacher-forced argmax = golden fp32_tokens at {agree:.1%} of positions", flush=True)
        if agree < 0.9:
            raise SystemExit("--init-onnx: the loaded model does not reproduce the model directory's golden tokens")
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.peak_lr, betas=(0.9, 0.95), eps=1e-8, **({"fused": True} if dev.type == "cuda" else {}))
    state = None
    if a.state and os.path.exists(a.state):
        try:  # torch >= 2.6 defaults to weights_only=True; the state also holds the run's logs (plain containers)
            state = torch.load(a.state, map_location="cpu", weights_only=False)
        except TypeError:  # torch without weights_only
            state = torch.load(a.state, map_location="cpu")
    done_s, done_steps, done_tokens = 0.0, 0, 0
    if state is not None:  # resume exactly: weights, AdamW moments, step, clock, logs
        model.load_state_dict(state["model"], strict=False)
        opt.load_state_dict(state["opt"])
        done_s, done_steps, done_tokens = state["train_s"], state["step"], state["tokens"]
        history = state["history"]
        print(f"[{a.name}] resumed {a.state}: step {done_steps}, {done_tokens / 1e6:.0f}M tokens, {done_s:.0f}s trained", flush=True)
    evals, curves = {}, {}

    def eval_all(step_, tokens_, el_):
        for k, st in evals.items():
            curves[k].append({"step": step_, "tokens": tokens_, "time_s": round(el_, 1),
                              "loss": round(eval_loss(fwd, st, a.seq, n_batches=a.eval_batches), 4)})
        if evals:
            print(f"[{a.name}] eval step {step_}: " + ", ".join(f"{k} {c[-1]['loss']:.4f}" for k, c in curves.items()), flush=True)
    fwd = model.forward_train  # eval: a few batches, not worth a second compilation

    def loss_of(x):
        # forward and cross-entropy in one compiled function, so the [B,S,V] logits need not be materialized in fp32
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            logits = model.forward_train(x[:, :-1])
        return F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), x[:, 1:].reshape(-1))

    step_loss = torch.compile(loss_of) if a.compile else loss_of
    qnames = qat_names(model) if a.qat_from is not None else []

    train_fwd = TrainForward(model)

    def loss_of_qat(x):  # the same loss with the layers' weights fake-quantized (fake_quant4)
        params = {"m." + n: fake_quant4(p, a.qat_block) for n, p in model.named_parameters() if n in qnames}
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            logits = functional_call(train_fwd, params, (x[:, :-1],))
        return F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), x[:, 1:].reshape(-1))

    step_loss_qat = (torch.compile(loss_of_qat) if a.compile else loss_of_qat) if qnames else None
    start_tokens = history["runs"][-1]["tokens_total"] if history["runs"] else 0
    log = []
    # compile forward and backward before the clock starts (on random ids, so that it can overlap the making of
    # the token streams: --wait-for names the file written after them)
    warm_x = torch.randint(0, cfg.vocab_size, (a.batch, a.seq + 1), generator=torch.Generator().manual_seed(0)).to(dev)
    step_loss(warm_x).backward()
    if step_loss_qat is not None and a.compile:  # both graphs compiled up front when this call may reach QAT
        until = (a.end_at - time.time()) if a.end_at else a.budget_s
        if not (a.state and a.total_s and not a.finish) or (done_s + until) / a.total_s >= a.qat_from:
            try:
                step_loss_qat(warm_x).backward()
            except Exception as e:  # noqa: BLE001  (a compiler failure must not cost the GPU slot: QAT runs eagerly)
                print(f"[{a.name}] torch.compile of the QAT loss failed ({type(e).__name__}: {str(e)[:300]}); QAT runs eagerly", flush=True)
                step_loss_qat = loss_of_qat
                step_loss_qat(warm_x).backward()
    opt.zero_grad(set_to_none=True)
    if a.wait_for:
        while not os.path.exists(a.wait_for):
            if a.end_at and time.time() > a.end_at:
                raise SystemExit(f"{a.wait_for} did not appear before --end-at")
            time.sleep(0.2)
    paths = ([a.stream] if a.stream else []) + ([l.strip() for l in open(a.streams_from) if l.strip()] if a.streams_from else [])
    if not paths:
        raise SystemExit(f"no training streams listed in {a.streams_from}")
    print(f"[{a.name}] training streams: {', '.join(os.path.basename(p) for p in paths)}", flush=True)
    parts = [np.load(p) for p in paths]
    stream = torch.from_numpy((np.concatenate(parts) if len(parts) > 1 else parts[0]).astype(np.int32)).to(dev)
    del parts
    dev_stream = torch.from_numpy(np.load(a.dev_stream).astype(np.int32)).to(dev)
    for spec in a.eval:
        k, v = spec.split("=", 1)
        if os.path.exists(v):  # an evaluation stream that was not made (no such data) is left out
            evals[k] = torch.from_numpy(np.load(v).astype(np.int32)).to(dev)
            curves[k] = []
            if qnames:
                curves[k + "_q4"] = []
    if qnames:
        _eval_all_plain = eval_all

        def fwd_q4(ids):  # the model as the 4-bit export computes it (layers fake-quantized)
            return functional_call(train_fwd, {"m." + n: fake_quant4(p, a.qat_block) for n, p in model.named_parameters() if n in qnames}, (ids,))

        def eval_all(step_, tokens_, el_):  # noqa: F811
            for k, st in evals.items():
                curves[k + "_q4"].append({"step": step_, "tokens": tokens_, "time_s": round(el_, 1),
                                          "loss": round(eval_loss(fwd_q4, st, a.seq, n_batches=a.eval_batches), 4)})
            _eval_all_plain(step_, tokens_, el_)
    loss0 = eval_loss(fwd, dev_stream, a.seq)
    print(f"[{a.name}] params {n_params / 1e6:.2f}M, stream {stream.numel() / 1e6:.1f}M tokens, dev loss at start {loss0:.4f}", flush=True)
    t0 = time.time()
    if a.end_at:
        a.budget_s = max(1.0, a.end_at - t0)
    # the schedule's clock: this call only (as before), or the whole run across calls (--state)
    total_s = (done_s + a.budget_s if a.finish or not a.total_s else a.total_s) if a.state else a.budget_s
    eval_all(0, start_tokens, 0.0)
    next_eval = a.eval_every_s
    next_save = a.save_every_s
    step, tokens = 0, 0
    g = torch.Generator(device=dev).manual_seed(len(history["runs"]) + 1)
    if state is not None and "gen" in state:
        g.set_state(state["gen"])
    ar = torch.arange(a.seq + 1, device=dev)
    qat_steps = 0

    def run_record(el_, loss1_=None):
        return {"name": a.name, "schedule": a.schedule, "init_onnx": bool(a.init_onnx), "eval_curves": curves, "resumed": bool(a.resume or state is not None), "steps": step, "tokens": tokens, "tokens_total": start_tokens + tokens,
                "train_s": round(el_, 1), "tokens_per_s": round(tokens / max(el_, 1e-9)), "peak_lr": a.peak_lr, "warmup": a.warmup,
                "batch": a.batch, "seq": a.seq, "dev_loss_start": round(loss0, 4), "dev_loss_end": None if loss1_ is None else round(loss1_, 4),
                "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else str(dev), "log": log,
                **({"train_s_before": round(done_s, 1), "schedule_total_s": round(total_s, 1), "qat_from": a.qat_from,
                    "qat_block": a.qat_block, "qat_steps": qat_steps} if a.state else {})}

    def save_state(el_, loss1_=None):
        st = {"model": {k: v.detach().float().cpu() for k, v in model.state_dict().items()}, "opt": opt.state_dict(),
              "step": done_steps + step, "tokens": done_tokens + tokens, "train_s": done_s + el_, "gen": g.get_state(),
              "history": {**history, "runs": history["runs"] + [run_record(el_, loss1_)]}, "config": cfg.to_dict()}
        torch.save(st, a.state + ".tmp")
        os.replace(a.state + ".tmp", a.state)

    while True:
        el = time.time() - t0
        frac = min(1.0, el / a.budget_s)
        if frac >= 1.0:
            break
        gfrac = min(1.0, (done_s + el) / total_s)  # == frac without --state
        if a.schedule == "constant":
            lr = a.peak_lr
        else:
            warm = min(1.0, (done_steps + step + 1) / a.warmup)
            lr = a.peak_lr * warm * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * gfrac)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        idx = torch.randint(0, stream.numel() - a.seq - 1, (a.batch,), generator=g, device=dev)
        x = stream[idx[:, None] + ar].long()
        qat = step_loss_qat is not None and gfrac >= a.qat_from
        loss = step_loss_qat(x) if qat else step_loss(x)
        qat_steps += int(qat)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += a.batch * a.seq
        if step % 25 == 0 or step == 1:
            l = loss.item()
            el = time.time() - t0
            log.append({"step": step, "tokens": start_tokens + tokens, "time_s": round(el, 2), "loss": round(l, 4), "lr": lr,
                        **({"qat": qat} if qnames else {})})
            if el >= next_eval:
                eval_all(step, start_tokens + tokens, el)
                next_eval = el + a.eval_every_s
            if a.state and el >= next_save:
                save_state(el)
                next_save = el + a.save_every_s
            if step % 100 == 0 or step == 1:
                print(f"[{a.name}] step {step} tok {tokens / 1e6:.1f}M {tokens / el / 1e3:.0f}k tok/s loss {l:.4f} lr {lr:.2e}"
                      + (" qat" if qat else ""), flush=True)
    el = time.time() - t0
    loss1 = eval_loss(fwd, dev_stream, a.seq)
    eval_all(step, start_tokens + tokens, el)
    run = run_record(el, loss1)
    if qnames:
        run["dev_loss_end_q4"] = round(eval_loss(fwd_q4, dev_stream, a.seq), 4)
    history["runs"].append(run)
    print(f"[{a.name}] done: {step} steps, {tokens / 1e6:.1f}M tokens in {el:.0f}s, dev loss {loss0:.4f} -> {loss1:.4f}"
          + (f" (4-bit fake-quantized: {run['dev_loss_end_q4']:.4f}; {qat_steps} QAT steps)" if qnames else ""), flush=True)
    if a.state:
        history["runs"].pop()
        save_state(el, loss1)
        history["runs"].append(run)
    save_ckpt(model, cfg, {"history": history, "params": n_params}, a.out)
    if a.fp32_out:
        save_ckpt(model, cfg, {"history": history, "params": n_params}, a.fp32_out, part_mb=1024, dtype=torch.float32)


if __name__ == "__main__":
    main()
