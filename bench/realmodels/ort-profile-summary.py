#!/usr/bin/env python3
"""Summarises onnxruntime profiles (JSON traces written with env INFILL_LS_ORT_PROFILE=<prefix>, see runtime/model.ts).

usage: ort-profile-summary.py [--last N] [--gpu] PROFILE.json [...]

For each file: the last N `model_run` events (default 16: the decode steps when the benchmark ran decode last), each
with its wall time, the number of kernel events inside it and the sum of their durations (onnxruntime times a
kernel on the host: for an asynchronous GPU provider that is the time to record and submit the kernel, not GPU time),
then the kernel time of those runs by operator type, largest first. Prints JSON.
--gpu: also the GPU side, from the WebGPU provider's timestamp-query events (category 'Api', one per dispatch, GPU
microseconds, written when the device has timestamp queries): the dispatches are split into the runs in order (every
run the same graph, so the same count), and for the last N runs: GPU busy time (sum of dispatch durations), GPU span
(first dispatch start to last dispatch end: busy plus the gaps where the GPU waited for the host), and busy time by
kernel type and program, largest first.
"""
import argparse
import json
import sys
from collections import defaultdict


def summarise(path, last):
    with open(path) as f:
        ev = json.load(f)
    runs = [e for e in ev if e.get('cat') == 'Session' and e.get('name') == 'model_run']
    runs = runs[-last:]
    nodes = [e for e in ev if e.get('cat') == 'Node' and e.get('name', '').endswith('_kernel_time')]
    out_runs, by_op, by_provider = [], defaultdict(float), defaultdict(float)
    for r in runs:
        t0, t1 = r['ts'], r['ts'] + r['dur']
        inside = [n for n in nodes if t0 <= n['ts'] <= t1]
        out_runs.append({'run_ms': r['dur'] / 1000, 'kernels': len(inside), 'kernel_ms': sum(n['dur'] for n in inside) / 1000})
        for n in inside:
            a = n.get('args', {})
            by_op[a.get('op_name', '?')] += n['dur'] / 1000 / max(1, len(runs))
            by_provider[a.get('provider', '?')] += n['dur'] / 1000 / max(1, len(runs))
    med = lambda xs: sorted(xs)[len(xs) // 2] if xs else None
    return {
        'file': path,
        'runs': len(out_runs),
        'median_run_ms': med([r['run_ms'] for r in out_runs]),
        'median_kernels_per_run': med([r['kernels'] for r in out_runs]),
        'median_kernel_ms_per_run': med([r['kernel_ms'] for r in out_runs]),
        'kernel_ms_per_run_by_op': dict(sorted(((k, round(v, 3)) for k, v in by_op.items()), key=lambda kv: -kv[1])),
        'kernel_ms_per_run_by_provider': {k: round(v, 3) for k, v in by_provider.items()},
        'per_run': out_runs,
    }


def gpu_summary(path, last):
    with open(path) as f:
        ev = json.load(f)
    nruns = sum(1 for e in ev if e.get('cat') == 'Session' and e.get('name') == 'model_run')
    api = [e for e in ev if e.get('cat') == 'Api']
    if not api:
        return {'file': path, 'runs': nruns, 'dispatches': 0,
                'note': "no GPU timestamp events (category 'Api') in this trace: not a WebGPU run, or the device has no timestamp queries"}
    if not nruns or len(api) % nruns:
        return {'file': path, 'runs': nruns, 'dispatches': len(api), 'note': 'dispatches do not split evenly into runs'}
    k = len(api) // nruns
    runs = [api[i * k:(i + 1) * k] for i in range(nruns)][-last:]
    by_kernel = defaultdict(float)
    busy, span = [], []
    for r in runs:
        busy.append(sum(e['dur'] for e in r) / 1000)
        span.append((max(e['ts'] + e['dur'] for e in r) - min(e['ts'] for e in r)) / 1000)
        for e in r:
            parts = e['name'].split('&')
            by_kernel['&'.join(parts[1:]) or parts[0]] += e['dur'] / 1000 / len(runs)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    return {
        'file': path,
        'runs': len(runs),
        'dispatches_per_run': k,
        'median_gpu_busy_ms': round(med(busy), 3),
        'median_gpu_span_ms': round(med(span), 3),
        'gpu_busy_ms_per_run_by_kernel': dict(sorted(((n, round(v, 3)) for n, v in by_kernel.items()), key=lambda kv: -kv[1])),
        'gpu_busy_ms': [round(x, 3) for x in busy],
        'gpu_span_ms': [round(x, 3) for x in span],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--last", type=int, default=16, help="how many of the last model_run events (default 16)")
    ap.add_argument("--gpu", action="store_true", help="also the GPU busy time and span from timestamp-query events")
    ap.add_argument("profiles", nargs="+", metavar="PROFILE.json")
    a = ap.parse_args()
    out, bad = [], 0
    for p in a.profiles:
        try:
            o = summarise(p, a.last)
        except json.JSONDecodeError as e:
            # onnxruntime writes the trace when the session ends: a process that died first leaves it empty or cut.
            out.append({'file': p, 'error': f'not a complete JSON trace ({e}); did the run end before the session was released?'})
            bad += 1
            continue
        if a.gpu:
            o['gpu'] = gpu_summary(p, a.last)
        out.append(o)
    print(json.dumps(out, indent=1))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
