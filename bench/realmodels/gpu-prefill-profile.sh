#!/usr/bin/env bash
# Issue 15, GPU machine: where a WebGPU prefill's time goes at the Qwen2.5-Coder-1.5B shape (genai int4 layout, fp16
# activations: the engine's best GPU configuration, 59.6 ms for 512 tokens against llama.cpp CUDA's 22.6 ms in
# real-models-gpu-s8.md). One device job: generates the model into /tmp/m (kept while the machine stays warm), then
# per length (PROFILE_TOKENS, default "512 2048") the prefill's wall time without profiling
# (bench/realmodels/prefill-profile.mjs) and once more with onnxruntime's profiler on, summarised with GPU timestamps
# (bench/realmodels/ort-profile-summary.py --gpu: host time per kernel, GPU busy time and GPU span per run).
# VARIANTS="base packed-bias packed-add" adds qwen_models.py --packed-qkv twins (same weights) side by side.
# PROFILE=0 skips the profiled runs; TABLE=1 adds bench/realmodels/cpu.mjs's cells (prefill 512/2,048/4,096, decode
# at 2,048 past, the llama.vim scenario) for every variant, written to $OUT/gpu-$SHAPE-variants.{md,json}.
# SHAPE=0.5b: the Qwen2.5-Coder-0.5B shape instead of 1.5B. OURS_ENV=NAME=VALUE (TABLE): every variant once more
# with that env (cpu.mjs --ours-env), e.g. INFILL_LS_LOGITS_LSE=0.
# Run from the project root after `npm run build` and bench/device/pack.sh; carry `.device` and `server/dist`; move
# bench/results, test/fixtures and native/corpus out of the checkout for the job (64 MiB), and back after it.
#   bash bench/realmodels/gpu-prefill-profile.sh            VARIANTS="base packed-bias" PROFILE_TOKENS=512 bash ...
# Writes $OUT/prefill-profile.jsonl (wall times), $OUT/prefill-profile-summary.json, $OUT/job.log.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/job.log") 2>&1
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
source bench/device/setup.sh
SHAPE=${SHAPE:-1.5b}
M=/tmp/m; S=$M/qwen2.5-coder-$SHAPE-shape
# VARIANTS: "base" (the model builder's layout as qwen_models.py writes it) and/or "packed-bias" / "packed-add"
# (--packed-qkv: q/k/v as one MatMulNBits fed packed to GroupQueryAttention with rotary inside it), each optionally
# with -bN (blocks of N); every variant has the same weights (seed 15).
VARIANTS=${VARIANTS:-base}
gen() { timeout -k 5 ${T_GEN:-420} python3 native/py/qwen_models.py --shape $SHAPE --out $M "$@" > /tmp/gen-$RANDOM.log 2>&1 || echo "generation failed: $*"; }
# A variant name may end in -bN: MatMulNBits blocks of N (default 32, the builder's), and start with fp32-: fp32
# activations (the genai-int4 layout) instead of fp16.
layout() { case $1 in fp32-*) echo genai-int4;; *) echo genai-int4-fp16;; esac; }
dir() { echo "$S/$(layout $1)-$1"; }
args() {
  local v=${1#fp32-} a=(--layouts "$(layout $1)")
  [[ $v =~ -b([0-9]+)$ ]] && { a+=(--block "${BASH_REMATCH[1]}"); v=${v%-b*}; }
  case $v in packed-*) a+=(--packed-qkv "${v#packed-}");; esac
  echo "${a[@]}"
}
pids=()
for v in $VARIANTS; do
  [ -s "$(dir $v)/model.onnx" ] && continue
  gen $(args $v) --suffix=-$v & pids+=($!)
done
[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
el "models: $(du -sh $S/* 2>/dev/null | tr '\n' ' ')"
mkdir -p /tmp/prof
for n in ${PROFILE_TOKENS:-512 2048}; do
  for v in $VARIANTS; do
    D=$(dir $v)
    el "$v: prefill $n, plain"
    timeout -k 5 120 node bench/realmodels/prefill-profile.mjs --model $D --device webgpu --tokens $n --reps ${REPS:-10} 2>/dev/null | sed "s/^/$v: /" | tee -a "$OUT/prefill-profile.jsonl"
  done
  [ "${PROFILE:-1}" = 1 ] || continue
  for v in $VARIANTS; do
    D=$(dir $v)
    el "$v: prefill $n, profiled"
    rm -rf /tmp/prof/$v-$n; mkdir -p /tmp/prof/$v-$n
    INFILL_LS_ORT_PROFILE=/tmp/prof/$v-$n/p timeout -k 5 120 node bench/realmodels/prefill-profile.mjs --model $D --device webgpu --tokens $n --reps 6 2>/dev/null | sed "s/^/$v profiled: /" | tee -a "$OUT/prefill-profile.jsonl"
  done
done
if [ "${TABLE:-0}" = 1 ]; then
  # The side-by-side table's cells (bench/realmodels/cpu.mjs, as gpu-job.sh / gpu-c512.sh run it) for every variant.
  el "table: prefill 512/2,048/4,096, decode @2,048, llama.vim scenario, WebGPU, one run of up to 4,096"
  timeout -k 5 ${T_TABLE:-240} node bench/realmodels/cpu.mjs --models $M --shape $SHAPE --llama '' --ours "$(for v in $VARIANTS; do printf '%s-%s,' "$(layout $v)" $v; done | sed 's/,$//')" --devices webgpu --chunk 4096 --reps 2 --steps 16 --prefill 512,2048,4096 --past 2048 --scenario 4096,260,24 ${OURS_ENV:+--ours-env "$OURS_ENV"} --out "$OUT/gpu-$SHAPE-variants" 2>&1 | grep -v '^|'
  cat "$OUT/gpu-$SHAPE-variants.md" 2>/dev/null | grep '^|'
fi
[ "${PROFILE:-1}" = 1 ] || { el done; exit 0; }
python3 bench/realmodels/ort-profile-summary.py --gpu --last 6 /tmp/prof/*/p_*.json > "$OUT/prefill-profile-summary.json"
ls /tmp/prof/*/p_*.json
python3 - "$OUT/prefill-profile-summary.json" <<'PY'
import json, sys
for d in json.load(open(sys.argv[1])):
    if 'error' in d:
        print(d['file'], d['error'])
        continue
    g = d.get('gpu', {})
    print(d['file'], 'run', d['median_run_ms'], 'ms; kernels', d['median_kernels_per_run'], 'host kernel ms', round(d['median_kernel_ms_per_run'], 2),
          '| gpu busy', g.get('median_gpu_busy_ms'), 'span', g.get('median_gpu_span_ms'), 'dispatches', g.get('dispatches_per_run'), g.get('note', ''))
    print('  gpu top:', list(g.get('gpu_busy_ms_per_run_by_kernel', {}).items())[:10])
    print('  host top:', list(d['kernel_ms_per_run_by_op'].items())[:8])
PY
el done
