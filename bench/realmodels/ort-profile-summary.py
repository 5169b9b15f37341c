#!/usr/bin/env python3
"""Summarises onnxruntime profiles (JSON traces written with env INFILL_LS_ORT_PROFILE=<prefix>, see runtime/model.ts).

usage: ort-profile-summary.py [--last N] PROFILE.json [...]

For each file: the last N `model_run` events (default 16: the decode steps when the benchmark ran decode last), each
with its wall time, the number of kernel events inside it and the sum of their durations (onnxruntime times a
kernel on the host: for an asynchronous GPU provider that is the time to record and submit the kernel, not GPU time),
then the kernel time of those runs by operator type, largest first. Prints JSON.
"""
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


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__.strip())
        return 0
    last = 16
    if argv[0] == '--last':
        last, argv = int(argv[1]), argv[2:]
    print(json.dumps([summarise(p, last) for p in argv], indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
