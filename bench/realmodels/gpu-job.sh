#!/usr/bin/env bash
# Issue 15, GPU machine, second job (after gpu-llama.sh, while the machine is warm: it reuses /tmp/rt/bin/node and
# the models in /tmp/m that job left; it generates the models itself when they are missing). Ours, through the
# product's runtime (server/dist: loadModel + forward, KV kept on the GPU), at the Qwen2.5-Coder-0.5B and -1.5B shapes:
# WebGPU (prefill in runs of 512 tokens, the engine's WebGPU chunk) and that host's CPU provider on all its cores,
# side by side in one run per shape (bench/realmodels/cpu.mjs, ABBA), full scale: prefill 512/2,048/4,096, decode at
# 2,048 past, the llama.vim scenario 4,096 + 260 + 24. Then the exit check of CLI processes with --device cpu.
#   run command="bash bench/realmodels/gpu-job.sh [0.5b|1.5b|all]" carry=[".dev/gpu15b"]
# Writes $OUT/gpu-<shape>.{md,json}, $OUT/gpu-0.5b-chunk2048.{md,json}, $OUT/job.log.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
J=$PWD/.dev/gpu15b
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/job.log") 2>&1
WHAT=${1:-all}
source bench/realmodels/gpu-rt.sh
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
B="node bench/realmodels/cpu.mjs --models /tmp/m --llama '' --reps 2 --steps 16 --prefill 512,2048,4096 --past 2048 --scenario 4096,260,24"
if [ "$WHAT" != 1.5b ]; then
  [ -d /tmp/m/qwen2.5-coder-0.5b-shape/genai-fp32 ] || python3 native/py/qwen_models.py --shape 0.5b --layouts genai-int4,genai-fp32 --out /tmp/m --accuracy-level 4
  el "0.5b: webgpu int4/fp32, cpu 16 cores int4"
  timeout -k 5 280 bash -c "$B --shape 0.5b --ours genai-int4,genai-fp32 --devices webgpu,cpu --threads 0 --chunk 512 --out $OUT/gpu-0.5b" 2>&1 | grep -v '^|'
  el "0.5b: webgpu int4 in prefill runs of 2,048"
  timeout -k 5 120 bash -c "$B --shape 0.5b --ours genai-int4 --devices webgpu --chunk 2048 --out $OUT/gpu-0.5b-chunk2048" 2>&1 | grep -v '^|'
fi
if [ "$WHAT" != 0.5b ]; then
  [ -d /tmp/m/qwen2.5-coder-1.5b-shape/genai-int4 ] || python3 native/py/qwen_models.py --shape 1.5b --layouts genai-int4 --out /tmp/m --accuracy-level 4
  el "1.5b: webgpu int4, cpu 16 cores int4"
  timeout -k 5 280 bash -c "$B --shape 1.5b --ours genai-int4 --devices webgpu,cpu --threads 0 --chunk 512 --out $OUT/gpu-1.5b" 2>&1 | grep -v '^|'
fi
# Exit check: 16 parallel `eval --device cpu` (the reported hang) on 2 dev tasks each, bounded by timeout.
printf '%s\n' '{"id":"a","language":"python","prefix":"def add(a, b):\n    return ","suffix":"\n"}' \
  '{"id":"b","language":"typescript","prefix":"export function mean(xs: number[]): number {\n  return ","suffix":"\n}\n"}' > /tmp/two.jsonl
if [ -s /tmp/two.jsonl ]; then
  pids=()
  for i in $(seq 1 16); do
    ( s=$(date +%s%N); timeout -k 2 60 node bin/infill-ls.js eval --tasks /tmp/two.jsonl --out /tmp/p$i.jsonl --device cpu --threads 1 > /dev/null 2>&1
      echo "exit-check eval#$i rc=$? $(( ($(date +%s%N) - s) / 1000000 )) ms" ) & pids+=($!)
  done
  wait "${pids[@]}"
fi
el "done"
