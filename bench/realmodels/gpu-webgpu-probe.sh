#!/usr/bin/env bash
# Issue 15, GPU machine: what is left of the WebGPU side by side (bench/results/real-models-gpu.md).
#   1. the 1.5B shape in the engine's WebGPU prefill runs of 2,048 tokens (only runs of 512 had been measured);
#   2. Dawn's command validation on vs off (INFILL_LS_WEBGPU_VALIDATION=basic|disabled, two engines, ABBA) at both
#      shapes: a decode step records ~350 kernels, each validated on the host;
#   3. where a 0.5B WebGPU decode step goes: onnxruntime's own trace (INFILL_LS_ORT_PROFILE) of 16 decode steps at
#      2,048 past, summarised by bench/realmodels/ort-profile-summary.py (kernel times are host-side: record + submit).
# Two device calls, chained while the machine is warm (Node does not fit in one carry with the pack):
#   run command="bash bench/realmodels/gpu-webgpu-probe.sh prepare" carry=[".dev/gpu15/node.xz"]   (Node + both models, ~5 min)
#   run command="bash bench/realmodels/gpu-webgpu-probe.sh" carry=[".dev/gpu15b"]          (after gpu-pack.sh)
#   run command="bash bench/realmodels/gpu-webgpu-probe.sh variants" carry=[".dev/gpu15b"] (4. below, ~4 min)
# Writes $OUT/gpu-{1.5b,0.5b}-{validation,variants}.{md,json}, $OUT/profile-0.5b-webgpu-decode.json, $OUT/job.log.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/job.log") 2>&1
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
gen() { [ -d /tmp/m/qwen2.5-coder-$1-shape/genai-int4 ] || python3 native/py/qwen_models.py --shape "$1" --layouts genai-int4 --out /tmp/m --accuracy-level 4; }
if [ "${1:-}" = prepare ]; then
  mkdir -p /tmp/rt/bin
  [ -x /tmp/rt/bin/node ] || { xz -dc .dev/gpu15/node.xz > /tmp/rt/bin/node && chmod +x /tmp/rt/bin/node; }
  el "node $(/tmp/rt/bin/node --version)"; gen 0.5b; el "0.5b generated"; gen 1.5b; el "1.5b generated"; du -sh /tmp/m/*/*
  exit 0
fi
J=$PWD/.dev/gpu15b
source bench/realmodels/gpu-rt.sh
gen 0.5b; gen 1.5b
if [ "${1:-}" = variants ]; then
  # 4. which MatMulNBits variant the WebGPU provider runs fastest: accuracy level 4 (int8 activations, the CPU's
  #    choice) vs 1 (fp32 activations), block 32 vs 128, side by side (ABBA) in runs of 2,048.
  for v in "0.5b --accuracy-level 1 --suffix=-acc1" "0.5b --block 128 --suffix=-b128" "1.5b --accuracy-level 1 --suffix=-acc1"; do
    set -- $v; s=$1; shift
    python3 native/py/qwen_models.py --shape $s --layouts genai-int4 --out /tmp/m "$@"
  done
  el "variants generated"
  B="node bench/realmodels/cpu.mjs --models /tmp/m --llama '' --devices webgpu --chunk 2048 --reps 2 --steps 16 --prefill 512,2048,4096 --past 2048 --scenario 4096,260,24"
  timeout -k 5 200 bash -c "$B --shape 0.5b --ours genai-int4,genai-int4-acc1,genai-int4-b128 --out $OUT/gpu-0.5b-variants" 2>&1 | grep -v '^|'
  timeout -k 5 200 bash -c "$B --shape 1.5b --ours genai-int4,genai-int4-acc1 --out $OUT/gpu-1.5b-variants" 2>&1 | grep -v '^|'
  el done; uptime; exit 0
fi
B="node bench/realmodels/cpu.mjs --models /tmp/m --llama '' --ours genai-int4 --devices webgpu --chunk 2048"
el "1.5b: webgpu, validation basic vs disabled, runs of 2,048"
timeout -k 5 200 bash -c "$B --shape 1.5b --webgpu-validation basic,disabled --reps 2 --steps 16 --prefill 512,2048,4096 --past 2048 --scenario 4096,260,24 --out $OUT/gpu-1.5b-validation" 2>&1 | grep -v '^|'
el "0.5b: the same"
timeout -k 5 150 bash -c "$B --shape 0.5b --webgpu-validation basic,disabled --reps 2 --steps 16 --prefill 512,2048,4096 --past 2048 --scenario 4096,260,24 --out $OUT/gpu-0.5b-validation" 2>&1 | grep -v '^|'
el "0.5b: onnxruntime trace of 16 decode steps at 2,048 past"
mkdir -p /tmp/prof && rm -f /tmp/prof/*
INFILL_LS_ORT_PROFILE=/tmp/prof/p timeout -k 5 90 bash -c "$B --shape 0.5b --reps 1 --steps 16 --prefill 64 --past 2048 --scenario '' --no-write" 2>&1 | grep -v '^|'
python3 bench/realmodels/ort-profile-summary.py --last 16 /tmp/prof/*.json > "$OUT/profile-0.5b-webgpu-decode.json"
head -c 1500 "$OUT/profile-0.5b-webgpu-decode.json"; echo
el done; uptime
