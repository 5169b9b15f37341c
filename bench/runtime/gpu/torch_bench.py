"""PyTorch reference for the GPU runtime benchmark: the same model (weights recovered by variants.py) in native/py/model.py,
eager, on the GPU, in fp16 (and fp32): prefill ms at 256/512/1024 tokens and decode ms/token at 256/512/1024 tokens of
past, with the schedule bench/runtime/gpu.mjs uses (token ids from the same generator, medians). Also the decode step
captured as a CUDA graph (fp16), the fastest PyTorch form, for reference.

  python3 torch_bench.py --state DIR/state.pt --out torch.json [--reps 7 --warmup 2 --steps 16]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script (fp32 only)")
    return ap


if __name__ == "__main__":
    parser().parse_args()  # --help and argument errors before the imports below, which need the ML packages


import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
sys.path.insert(0, os.path.join(ROOT, "native/py"))
from model import ModelConfig, build_model  # noqa: E402

PREFILL = [256, 512, 1024]
PAST = [256, 512, 1024]


def token_ids(n):  # the same sequence as bench/runtime/gpu.mjs (Park-Miller, exact in JS doubles too)
    s, out = 12345, []
    for _ in range(n):
        s = (s * 48271) % 2147483647
        out.append(7 + s % (8192 - 7))
    return out


def sync_ms(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    r = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t) * 1000, r


@torch.no_grad()
def bench(model, dtype_name, reps, warmup, steps, dev):
    res = {"prefill_ms": {}, "decode_ms": {}}
    for n in PREFILL:
        ids = torch.tensor([token_ids(n)], device=dev)
        ms = [sync_ms(lambda: model(ids))[0] for _ in range(warmup + reps)][warmup:]
        res["prefill_ms"][n] = statistics.median(ms)
    for p in PAST:
        ids = torch.tensor([token_ids(p)], device=dev)
        per = []
        for r in range(warmup + reps):
            logits, past = model(ids)
            step = []
            for _ in range(steps):
                tok = logits[:, -1:].argmax(-1)
                ms, (logits, past) = sync_ms(lambda: model(tok, past=past))
                step.append(ms)
            if r >= warmup:
                per.append(statistics.median(step))
        res["decode_ms"][p] = statistics.median(per)
    return res


@torch.no_grad()
def bench_cuda_graph(model, reps, warmup, steps, dev, cfg):
    """The eager decode step over a KV buffer of fixed length, captured once per past length as a CUDA graph."""
    res = {}
    for p in PAST:
        ids = torch.tensor([token_ids(p)], device=dev)
        logits, past = model(ids)
        total = p + steps + 1
        kv = [(torch.zeros(1, cfg.num_kv_heads, total, cfg.head_dim, device=dev, dtype=torch.float16),
               torch.zeros(1, cfg.num_kv_heads, total, cfg.head_dim, device=dev, dtype=torch.float16)) for _ in past]
        for (k, v), (pk, pv) in zip(kv, past):
            k[:, :, :p] = pk
            v[:, :, :p] = pv
        tok = torch.zeros(1, 1, dtype=torch.long, device=dev)
        pos = torch.full((1, 1), p, dtype=torch.long, device=dev)
        # model.forward concatenates past and new K/V; to keep shapes static the step gets the whole buffer (minus one
        # row) as its past and a bias that masks the unused rows (the concat copy stays inside the graph).
        pastfull = [(k[:, :, : total - 1], v[:, :, : total - 1]) for k, v in kv]
        bias_full = torch.full((1, 1, 1, total), -1e9, device=dev, dtype=torch.float32)
        bias_full[..., :p] = 0
        bias_full[..., total - 1] = 0

        def step_full():
            return model(tok, position_ids=pos, bias=bias_full, past=pastfull)[0]
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step_full()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            step_full()
        ms = []
        for _ in range(warmup + reps):
            t, _ = sync_ms(lambda: [g.replay() for _ in range(steps)])
            ms.append(t / steps)
        res[p] = statistics.median(ms[warmup:])
    return res


def main():
    ap = parser()
    a = ap.parse_args()
    dev = a.device
    ck = torch.load(a.state, map_location="cpu")
    cfg = ModelConfig(**ck["config"])
    out = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu", "variants": {}}
    for name, dt in (("fp16", torch.float16), ("fp32", torch.float32)) if dev == "cuda" else (("fp32", torch.float32),):
        m = build_model(cfg)
        m.load_state_dict(ck["state_dict"], strict=False)
        m = m.to(dev, dt).eval()
        out["variants"][name] = bench(m, name, a.reps, a.warmup, a.steps, dev)
        if name == "fp16":
            try:
                out["variants"]["fp16_cuda_graph"] = {"decode_ms": bench_cuda_graph(m, a.reps, a.warmup, a.steps, dev, cfg)}
            except Exception as e:  # reported; the eager rows stand
                out["variants"]["fp16_cuda_graph"] = {"error": str(e)}
        # same greedy tokens as the ONNX graphs? (first 16 after the 256-token prompt)
        with torch.no_grad():
            ids = torch.tensor([token_ids(256)], device=dev)
            logits, past = m(ids)
            toks = []
            for _ in range(16):
                t = int(logits[0, -1].argmax())
                toks.append(t)
                logits, past = m(torch.tensor([[t]], device=dev), past=past)
        out["variants"][name]["greedy16"] = toks
        del m
        torch.cuda.empty_cache()
    json.dump(out, open(a.out, "w"), indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
