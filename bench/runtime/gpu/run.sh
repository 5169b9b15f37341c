#!/usr/bin/env bash
# The GPU half of the runtime benchmark, as one job on the GPU machine (see README.md in bench/runtime):
#   run (device tool): bash bench/runtime/gpu/run.sh    carry: .device server/dist
# Writes $OUT/runtime-gpu.{json,md} (copy them to bench/results/) plus the raw torch.json / ort.json.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
source bench/device/setup.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 bench/runtime/gpu/variants.py --out /tmp/variants | tee "$OUT/variants.json"
python3 bench/runtime/gpu/torch_bench.py --state /tmp/variants/state.pt --out "$OUT/torch.json" > /dev/null
timeout ${ORT_TIMEOUT:-420} node bench/runtime/gpu.mjs --model /tmp/variants --out "$OUT/ort.json" ${GPU_BENCH_ARGS:-}
node bench/runtime/gpu/report.mjs "$OUT/torch.json" "$OUT/ort.json" "$OUT/runtime-gpu"
