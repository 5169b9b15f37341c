#!/usr/bin/env bash
# Issue 15, GPU machine, one job: our WGSL decode step inside the runtime (LoadModelOptions.wgslDecode,
# runtime/wgsl-decode.ts; on by default on WebGPU since session 16) against onnxruntime's WebGPU decode
# (INFILL_LS_WGSL_DECODE=0), at the Qwen2.5-Coder-1.5B and -0.5B shapes (genai int4, fp16 activations, packed q/k/v:
# the builder's GPU form, the engine's best GPU configuration since session 15).
#   1. correctness on the GPU: the genai fixtures' golden tokens and onnxruntime's logits, step by step
#      (bench/realmodels/wgsl-engine-check.mjs --golden) → $OUT/wgsl-check.jsonl;
#   2. per shape (SHAPES, default "1.5b 0.5b") the side-by-side cells (bench/realmodels/gpu-prefill-profile.sh
#      TABLE=1: cpu.mjs, prefill 512/2,048/4,096, decode @2,048, the llama.vim scenario 4,096 + 260 + 24) with
#      onnxruntime's decode and with ours → $OUT/gpu-<shape>-variants.{md,json};
#   3. the 1.5B model's WGSL steps against onnxruntime's at 2,048 past, 64 steps, with the decoder's default KV cache
#      (8,192 rows), and without the speculative next step; the K/V hand-over's time (lastHandOver) → wgsl-check.jsonl;
#   4. one completion through the CLI (the engine in its worker thread) on the 1.5B model, with each decode.
# `gpu-wgsl-engine.sh reps` instead: per shape, decode at 2,048 past over 64 steps and 4 reps (ABBA) and the llama.vim
# scenario, onnxruntime's decode vs ours, then ours with and without the speculative step (INFILL_LS_WGSL_SPECULATE=0)
# → $OUT/reps-<shape>{,-speculate}.{md,json}.
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
if [ "${1:-}" = reps ]; then
  for shape in ${SHAPES:-1.5b 0.5b}; do
    S=/tmp/m/qwen2.5-coder-$shape-shape
    [ -s $S/genai-int4-fp16-packed-bias/model.onnx ] || timeout -k 5 300 python3 native/py/qwen_models.py --shape $shape --out /tmp/m --layouts genai-int4-fp16 --packed-qkv bias --suffix=-packed-bias > /tmp/gen-$shape.log 2>&1
    R="node bench/realmodels/cpu.mjs --models /tmp/m --shape $shape --llama '' --ours genai-int4-fp16-packed-bias --devices webgpu --chunk 4096 --reps 4 --steps 64 --prefill 512 --past 2048 --scenario 4096,260,24"
    el "reps $shape: onnxruntime's decode vs ours"
    INFILL_LS_WGSL_DECODE=0 timeout -k 5 200 bash -c "$R --ours-env INFILL_LS_WGSL_DECODE=1 --out $OUT/reps-$shape" 2>&1 | grep -v -e '^|' -e '^Warning'
    el "reps $shape: ours, speculative step on vs off"
    INFILL_LS_WGSL_DECODE=1 timeout -k 5 200 bash -c "$R --ours-env INFILL_LS_WGSL_SPECULATE=0 --out $OUT/reps-$shape-speculate" 2>&1 | grep -v -e '^|' -e '^Warning'
    grep '^|' $OUT/reps-$shape.md $OUT/reps-$shape-speculate.md
  done
  el done; exit 0
fi
for fx in qwen2-genai qwen2-genai-fp16 qwen2-genai-packed qwen2-genai-fused; do el "check $fx"; chk --model test/fixtures/models/$fx --golden; done
for shape in ${SHAPES:-1.5b 0.5b}; do
  el "table $shape"
  SHAPE=$shape INFILL_LS_WGSL_DECODE=0 VARIANTS=packed-bias PROFILE=0 TABLE=1 PROFILE_TOKENS=512 REPS=4 OURS_ENV=INFILL_LS_WGSL_DECODE=1 bash bench/realmodels/gpu-prefill-profile.sh
done
D=/tmp/m/qwen2.5-coder-1.5b-shape/genai-int4-fp16-packed-bias
el "check 1.5b"
chk --model $D --past 2048 --steps 64
INFILL_LS_WGSL_SPECULATE=0 chk --model $D --past 2048 --steps 64
el "cli 1.5b"
python3 - > /tmp/long.py <<'PY'
for i in range(400):
    print(f"def f{i}(x, y):\n    z = x * {i} + y\n    return z - {i}\n")
print("def total(xs):\n    s = 0\n    for x in xs:\n        s += ")
PY
n=$(wc -l < /tmp/long.py)
for w in 0 1; do
  INFILL_LS_WGSL_DECODE=$w timeout -k 5 120 node bin/infill-ls.js complete /tmp/long.py --line $n --column 14 --device webgpu --model $D --max-new-tokens 24 --json 2>/dev/null \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print('cli INFILL_LS_WGSL_DECODE=$w', json.dumps({'timings': d.get('timings'), 'status': d.get('status')})[:1500])"
done
el done
