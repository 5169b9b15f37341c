"""Adapts a shipped model directory (models/default) to one repository: continued pre-training on the
repository's files, optionally mixed with replay of pre-training data, then export in the base's format.

Run through native/adapt-repo.sh, which lists the repository's files with the training corpus's filters
(native/tools/repo-files.mjs). Directly:
  python3 native/py/adapt_repo.py --repo-files R.jsonl --out OUT_DIR [--base models/default] [--steps N]
      [--replay 0.25 --replay-data pretrain.jsonl[.xz]] [--device cpu|cuda] [--eval NAME=records.jsonl ...]

Data (native/py/data.py, the training format): every file as single-file FIM chunks (PSM/SPM, build_stream)
and the files of the repository as repository-level sequences (<repo_name>/<file_sep>, build_repo_stream), each
made --fim-epochs times with different seeds (different FIM spans); replay rows (a --replay fraction of every
batch) are single-file FIM chunks of --replay-data records, the pre-training format.
Schedule: linear warm-up over --warmup-frac of the steps to --peak-lr, cosine decay to --min-lr-ratio of it
(re-warming for continued pre-training: Gupta et al. 2023, arXiv 2308.04014); AdamW as native/py/train.py.
Replay of pre-training data against forgetting: Ibrahim et al. 2024 (arXiv 2403.08763), Amuro & Char
(arXiv 2408.06663) on the forgetting side of continued pre-training.

Output OUT_DIR (must not exist or be empty; never inside the repository or the base): onnx/model_quantized.onnx
(8-bit block-wise weights, fp32 compute: native/py/onnx_builder.py + dequant_graph.py, as models/default),
config.json (the base's, plus "infill_ls.adapted"), tokenizer.json, tokenizer_config.json (the base's, copied),
adapt.json (the run: data sizes, losses before/after, times). Errors: SystemExit with a message.
"""
from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
sys.path.insert(0, HERE)


def _load_heavy():
    """numpy, torch and the training modules, imported after the arguments are checked (the checks need no torch)."""
    global np, torch, F, build_repo_stream, build_stream, LlamaLM, golden_agreement, state_dict_from_onnx
    try:
        import numpy as np
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        raise SystemExit(f"adapt-repo needs numpy, torch (1.13+) and onnx ({e}); Debian: apt-get install python3-torch python3-onnx")
    from data import build_repo_stream, build_stream
    from model import LlamaLM
    from train import golden_agreement, state_dict_from_onnx


class NodeTokenizer:
    """encode_batch over native/tools/encode.mjs (the runtime's tokenizer library), for machines without the
    Python `tokenizers` package. Same ids as the runtime sees."""

    def __init__(self, model_dir):
        self.model_dir = model_dir

    def encode_batch(self, texts, add_special_tokens=False):
        out = subprocess.run(["node", os.path.join(ROOT, "native/tools/encode.mjs"), self.model_dir],
                             input=json.dumps(list(texts)), capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(f"tokenizing with node failed: {out.stderr.strip()[-500:]}")

        class _E:  # noqa: N801
            def __init__(self, ids):
                self.ids = ids
        return [_E(ids) for ids in json.loads(out.stdout)]


def tokenizer_for(model_dir):
    try:
        from tokenizers import Tokenizer
        return Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    except ImportError:
        return NodeTokenizer(model_dir)


def read_records(path):
    """Corpus records ({"pkg","path","lang","text"} JSON lines), plain or .xz."""
    op = lzma.open if path.endswith(".xz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def python_filter(records):
    """The Python corpus filters (corpus_py.drop_reason) for the .py files that repo-files.mjs passes raw."""
    from corpus_py import drop_reason
    return [r for r in records if r.get("lang") != "python" or drop_reason(r["path"], r["text"]) is None]


def repo_stream(tok, records, epochs: int, seed: int):
    """uint16 token stream: per epoch, single-file FIM chunks of every file plus repository-level sequences."""
    parts = []
    for e in range(epochs):
        parts.append(build_stream(tok, [r["text"] for r in records], seed=seed + 2 * e))
        parts.append(build_repo_stream(tok, records, seed=seed + 2 * e + 1))
    parts = [p for p in parts if p.size]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint16)


def sample_records(records, max_chars: int, seed: int):
    """A seeded sample of whole records totalling at most max_chars characters."""
    order = np.random.default_rng(seed).permutation(len(records))
    out, n = [], 0
    for i in order:
        t = len(records[int(i)]["text"])
        if n + t > max_chars:
            continue
        out.append(records[int(i)])
        n += t
    return out


def windows_loss(model, stream, seq: int, n: int, device, seed=0) -> float:
    """Mean next-token cross-entropy (nats) over n fixed seeded windows of seq tokens (all windows when shorter)."""
    if stream.numel() < seq + 2:
        raise SystemExit(f"evaluation stream of {stream.numel()} tokens is shorter than --seq {seq}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, stream.numel() - seq - 1, (n,), generator=g)
    losses = []
    model.eval()
    for i in range(0, n, 8):
        x = stream[idx[i:i + 8, None] + torch.arange(seq + 1)].long().to(device)
        with torch.no_grad():
            logits = model.forward_train(x[:, :-1]).float()
        losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum").item())
    model.train()
    return sum(losses) / (n * seq)


def auto_steps(tokens: int, batch: int, seq: int, lo: int = 10, hi: int = 200) -> int:
    """Steps for one pass over a stream of `tokens` tokens in batches of batch x seq: ceil(tokens / (batch * seq)),
    clamped to [lo, hi]. One pass (over the --fim-epochs FIM views) adapted better than four on comment-parser
    (bench/results/adapt-repo-gpu.md: lower held-out loss, less forgetting)."""
    return min(hi, max(lo, -(-int(tokens) // max(1, batch * seq))))


def inside(path, parent):
    path, parent = os.path.realpath(path), os.path.realpath(parent)
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


def export_model(model, cfg, base, out, adapted_meta):
    """Writes OUT in the base directory's format: q8w (8-bit block-wise weights, fp32 compute graph) or q4w (the
    layers as 4-bit MatMulNBits with the base's block size and accuracy level, the tied embedding / LM head 8-bit
    folded to fp32: export.py --linear-bits 4). Raises SystemExit for another quantization method."""
    from dequant_graph import rewrite
    from onnx_builder import build_onnx
    import onnx
    base_cfg = json.load(open(os.path.join(base, "config.json")))
    q = base_cfg.get("infill_ls", {}).get("quantization", {})
    method = q.get("method", "q8w")
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    if method == "q4w":
        layers = q.get("layers", {})
        m = build_onnx(cfg, sd, layout="packed", quant="q8w", accuracy_level=int(layers.get("accuracy_level", 1)),
                       linear_bits=4, linear_block=int(layers.get("block_size", 32)))
        rewrite(m, keep_4bit=True)
    elif method == "q8w":
        m = build_onnx(cfg, sd, layout="packed", quant="q8w")
        if not str(q.get("compute", "fp32")).startswith("matmulnbits"):
            rewrite(m)
    else:
        raise SystemExit(f"base quantization {method} is not supported (q8w or q4w)")
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    onnx.save(m, os.path.join(out, "onnx", "model_quantized.onnx"))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(base, f), os.path.join(out, f))
    base_cfg.setdefault("infill_ls", {})["adapted"] = adapted_meta
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(base_cfg, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo-files", required=True, help="records of native/tools/repo-files.mjs")
    ap.add_argument("--repo-dir", default=None, help="the repository (only checked: OUT_DIR must not be inside it)")
    ap.add_argument("--base", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=0,
                    help="optimizer steps; 0 (default): one pass over the repository stream (its --fim-epochs FIM "
                         "views), ceil(tokens / (batch x seq)), at least 10 and at most 200")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--peak-lr", type=float, default=3e-4)
    ap.add_argument("--warmup-frac", type=float, default=0.1)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--replay", type=float, default=0.0, help="fraction of every batch's rows from --replay-data")
    ap.add_argument("--replay-data", default=None, help="pre-training records, JSON lines (.xz or plain)")
    ap.add_argument("--replay-chars", type=int, default=8_000_000, help="characters of --replay-data sampled")
    ap.add_argument("--fim-epochs", type=int, default=4)
    ap.add_argument("--eval", action="append", default=[], help="NAME=records.jsonl[.xz]: loss before and after")
    ap.add_argument("--eval-windows", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t_start = time.time()
    base, out = os.path.abspath(a.base), os.path.abspath(a.out)
    if not os.path.isfile(os.path.join(base, "onnx/model_quantized.onnx")):
        raise SystemExit(f"--base {base}: no onnx/model_quantized.onnx (a q8w model directory such as models/default)")
    if inside(out, base) or inside(base, out):
        raise SystemExit(f"OUT_DIR {out} overlaps the base model directory {base}: refusing to write there")
    if a.repo_dir and (inside(out, a.repo_dir) or inside(a.repo_dir, out)):
        raise SystemExit(f"OUT_DIR {out} overlaps the repository {a.repo_dir}: refusing to write there")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise SystemExit(f"OUT_DIR {out} exists and is not empty: refusing to overwrite it")
    if a.steps < 0:
        ap.error("--steps must be 0 (one pass over the repository) or more")
    if not 0.0 <= a.replay < 1.0:
        raise SystemExit("--replay must be in [0, 1)")
    if a.replay > 0 and not a.replay_data:
        raise SystemExit("--replay needs --replay-data (pre-training records, e.g. .work/corpus/npm-train.jsonl.xz)")
    _load_heavy()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)

    records = python_filter(read_records(a.repo_files))
    if not records:
        raise SystemExit("the repository has no files that pass the training filters (TS/JS/Python sources)")
    tok = tokenizer_for(base)
    t0 = time.time()
    stream = torch.from_numpy(repo_stream(tok, records, a.fim_epochs, a.seed).astype(np.int64))
    if stream.numel() < a.seq + 2:
        raise SystemExit(f"the repository gives {stream.numel()} tokens, fewer than one --seq {a.seq} window")
    replay = None
    if a.replay > 0:
        rr = sample_records(read_records(a.replay_data), a.replay_chars, a.seed)
        replay = torch.from_numpy(build_stream(tok, [r["text"] for r in rr], seed=a.seed + 100).astype(np.int64))
    evals = {}
    for spec in a.eval:
        k, v = spec.split("=", 1)
        evals[k] = torch.from_numpy(build_stream(tok, [r["text"] for r in read_records(v)], seed=7).astype(np.int64))
    evals["repo_train"] = stream
    t_data = time.time() - t0
    print(f"adapt: {len(records)} files, {stream.numel()} repository tokens ({a.fim_epochs} FIM epochs)"
          + (f", replay {replay.numel()} tokens at {a.replay:.0%} of rows" if replay is not None else "")
          + f"; data {t_data:.1f}s", flush=True)

    if a.steps == 0:  # one pass: measured better than four (bench/results/adapt-repo-gpu.md: less forgetting, better held-out)
        a.steps = auto_steps(stream.numel(), a.batch, a.seq)
        print(f"adapt: {a.steps} steps (one pass over the repository stream)", flush=True)

    sd, cfg = state_dict_from_onnx(base)
    model = LlamaLM(cfg)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith("rope_") and k != "lm_head.weight"]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model = model.to(dev)
    if os.path.exists(os.path.join(base, "golden.json")):
        agree = golden_agreement(model, base, dev)
        if agree < 0.9:
            raise SystemExit(f"the base weights as loaded reproduce golden.json at only {agree:.0%}: not adapting")
    before = {k: round(windows_loss(model, s, a.seq, a.eval_windows, dev), 4) for k, s in evals.items()}
    print(f"adapt: loss before {before}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.peak_lr, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(a.seed)
    ar = torch.arange(a.seq + 1)
    warm = max(1, round(a.warmup_frac * a.steps))
    log, t1 = [], time.time()
    n_replay_rows = 0
    model.train()
    for step in range(a.steps):
        frac = step / max(1, a.steps)
        lr = a.peak_lr * min(1.0, (step + 1) / warm) * (a.min_lr_ratio + (1 - a.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        # rows from replay: a.replay * batch, the fractional part rounded at random
        want = a.replay * a.batch
        k = int(want) + int(torch.rand(1, generator=g).item() < want - int(want)) if replay is not None else 0
        rows = []
        for src, n in ((stream, a.batch - k), (replay, k)):
            if n:
                idx = torch.randint(0, src.numel() - a.seq - 1, (n,), generator=g)
                rows.append(src[idx[:, None] + ar])
        n_replay_rows += k
        x = torch.cat(rows).to(dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits = model.forward_train(x[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 10 == 0 or step == a.steps - 1:
            log.append({"step": step + 1, "loss": round(loss.item(), 4), "lr": lr, "time_s": round(time.time() - t1, 1)})
            print(f"adapt: step {step + 1}/{a.steps} loss {loss.item():.4f} lr {lr:.2e} {time.time() - t1:.0f}s", flush=True)
    train_s = time.time() - t1
    after = {k: round(windows_loss(model, s, a.seq, a.eval_windows, dev), 4) for k, s in evals.items()}
    print(f"adapt: loss after {after}", flush=True)
    meta = {"base": os.path.basename(base), "files": len(records), "repo_tokens": int(stream.numel()),
            "steps": a.steps, "batch": a.batch, "seq": a.seq, "peak_lr": a.peak_lr, "replay": a.replay,
            "replay_rows": n_replay_rows, "tokens_trained": a.steps * a.batch * a.seq, "device": str(dev),
            "train_s": round(train_s, 1)}
    t2 = time.time()
    export_model(model, cfg, base, out, meta)
    run = {**meta, "fim_epochs": a.fim_epochs, "seed": a.seed, "replay_tokens": int(replay.numel()) if replay is not None else 0,
           "loss_before": before, "loss_after": after, "data_s": round(t_data, 1), "export_s": round(time.time() - t2, 1),
           "total_s": round(time.time() - t_start, 1), "torch": torch.__version__, "threads": torch.get_num_threads(), "log": log}
    with open(os.path.join(out, "adapt.json"), "w") as f:
        json.dump(run, f, indent=1)
    print(f"adapt: wrote {out} (train {train_s:.0f}s, total {run['total_s']:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
