#!/usr/bin/env bash
# Issue 15, GPU machine, one job: our WGSL decode step inside the runtime (LoadModelOptions.wgslDecode,
# runtime/wgsl-decode.ts) against onnxruntime's WebGPU decode, at the Qwen2.5-Coder-1.5B shape (genai int4, fp16
# activations, packed q/k/v: the builder's GPU form, the engine's best GPU configuration since session 15).
#   1. correctness on the GPU: the genai fixtures' golden tokens and onnxruntime's logits, step by step
#      (bench/realmodels/wgsl-engine-check.mjs --golden) → $OUT/wgsl-check.jsonl;
#   2. the side-by-side cells (bench/realmodels/gpu-prefill-profile.sh TABLE=1: cpu.mjs, prefill 512/2,048/4,096,
#      decode @2,048, the llama.vim scenario 4,096 + 260 + 24), every cell once more with INFILL_LS_WGSL_DECODE=1
#      → $OUT/gpu-1.5b-variants.{md,json};
#   3. the 1.5B model's WGSL steps against onnxruntime's at 2,048 past, 64 steps, with the decoder's default KV cache
#      (8,192 rows), one of 4,096 rows, and without the speculative next step → $OUT/wgsl-check.jsonl.
# Run from the project root after `npm run build` and bench/device/pack.sh; carry `.device` and `server/dist`; move
# models/default, bench/results, native/corpus and test/fixtures (all but qwen2-genai*) out of the checkout for the
# job (64 MiB), and back after it.
#   run command="bash bench/realmodels/gpu-wgsl-engine.sh" carry=[".device", "server/dist"]
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/job.log") 2>&1
source bench/device/setup.sh
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
chk() { timeout -k 5 ${T_CHECK:-150} node bench/realmodels/wgsl-engine-check.mjs "$@" 2>&1 | grep -v -e '^Warning' -e 'onnxruntime:' | tee -a "$OUT/wgsl-check.jsonl"; }
for fx in qwen2-genai qwen2-genai-fp16 qwen2-genai-packed; do el "check $fx"; chk --model test/fixtures/models/$fx --golden; done
el "table"
INFILL_LS_WGSL_DECODE=0 VARIANTS=packed-bias PROFILE=0 TABLE=1 PROFILE_TOKENS=512 REPS=4 OURS_ENV=INFILL_LS_WGSL_DECODE=1 bash bench/realmodels/gpu-prefill-profile.sh
D=/tmp/m/qwen2.5-coder-1.5b-shape/genai-int4-fp16-packed-bias
el "check 1.5b"
chk --model $D --past 2048 --steps 64
chk --model $D --past 2048 --steps 64 --max-context 4096
INFILL_LS_WGSL_SPECULATE=0 chk --model $D --past 2048 --steps 64
el done
