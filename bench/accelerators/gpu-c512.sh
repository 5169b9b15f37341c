#!/usr/bin/env bash
# Issue 17 (and issue 15's fp16 probe), GPU machine: the accelerators table's WebGPU columns again, in the engine's
# WebGPU run size for plain-attention graphs (512 tokens, runtime/device-rule.ts webgpuPrefillChunk: the first GPU
# runs used 2,048, 6-10x slower for these graphs), plus the GPU host CPU's missing 1.5B cells.
# Three device calls, chained while the machine is warm (Node does not fit in one carry with the pack; rebuild the
# pack first: npm run build && bash bench/realmodels/gpu-pack.sh):
#   run command="bash bench/accelerators/gpu-c512.sh prepare" carry=[".dev/gpu15/node.xz"]    Node + every model (~2-5 min)
#   run command="bash bench/accelerators/gpu-c512.sh webgpu"  carry=[".dev/gpu15b"]   CritiPrefill, LazyLLM, AdaSkip,
#        interference on WebGPU in runs of GPU_CHUNK (512), 0.5B and 1.5B, and issue 15's genai-int4 fp32 vs fp16
#        activations side by side (bench/realmodels/cpu.mjs, WebGPU, runs of 2,048: fused attention)
#   run command="bash bench/accelerators/gpu-c512.sh cpu16"   carry=[".dev/gpu15b"]   the host's 16-core CPU: 1.5B
#        CritiPrefill 2k/4k/8k, KV-Runahead 2 workers x 8 threads 2k/4k/8k, AdaSkip 8k; 0.5B CritiPrefill 2k
# Models go to /tmp/m (outside the checkout; kept while the machine stays warm):
#   qwen2.5-coder-{0.5b,1.5b}-shape/optimum-q4-b128-cp     plain + CritiPrefill twin (blocks of 128, budget 8)
#   qwen2.5-coder-{0.5b,1.5b}-shape/optimum-q4-b128-lazy   plain + LazyLLM twin (the schedules of gpu-lazyllm.sh)
#   qwen2.5-coder-1.5b-shape/optimum-q4-b128-kvra          plain + 7 KV-Runahead layer groups of 4 layers
#   qwen2.5-coder-{0.5b,1.5b}-shape/genai-int4{,-fp16}     issue 15: the model builder's layout, fp32 / fp16 activations
#   adaskip-qwen{05b,15b}/                                 AdaSkip variants of the -cp plain graph (adaskip_graph.py)
# FP16_CHUNK=N (webgpu phase, fp16): the genai prefill run size (default 2,048; files gpu-*-fp16-cN.*).
# SCORE_CAP=1 (webgpu phase, cp/lazy): both sides shorten their runs at depth as the engine now does for these graphs
# (webgpuScoreCappedRun, --score-cap; files *-c512-cap.json): the plain side then avoids the attention-scores cliff.
# Every step is bounded by `timeout`; the benches write their JSON after each sample, so a limit keeps what finished.
# Writes $OUT/accelerators-*-c512.json, $OUT/accelerators-*-cpu16*.json, $OUT/gpu-{0.5b,1.5b}-fp16.{md,json},
# $OUT/job.log (its end: cells-summary.mjs's markdown of the JSON files).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
PHASE=${1:?phase: prepare, webgpu or cpu16}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee -a "$OUT/job.log") 2>&1
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
PY=${PY:-python3}
M=/tmp/m
S05=$M/qwen2.5-coder-0.5b-shape; S15=$M/qwen2.5-coder-1.5b-shape
GPU_CHUNK=${GPU_CHUNK:-512}
CAP=(); CAPTAG=''; [ "${SCORE_CAP:-0}" = 1 ] && { CAP=(--score-cap); CAPTAG=-cap; }
# One generation, bounded (T_GEN s); run in the background, its PID kept: a bare `wait` would also wait for the
# `tee` above (bash waits for the last process substitution too) and never return.
gen() { timeout -k 5 ${T_GEN:-420} "$PY" native/py/qwen_models.py --out $M "$@" > /tmp/gen-$$-$RANDOM.log 2>&1 || echo "[$(( $(date +%s) - T0 ))s] generation failed or cut: $*"; }
pids=(); bg() { "$@" & pids+=($!); }

if [ "$PHASE" = prepare ]; then
  mkdir -p /tmp/rt/bin
  [ -x /tmp/rt/bin/node ] || { xz -dc .dev/gpu15/node.xz > /tmp/rt/bin/node && chmod +x /tmp/rt/bin/node; }
  el "node $(/tmp/rt/bin/node --version); generating (parallel)"
  [ -s $S05/optimum-q4-b128-cp/onnx/model_q4_critiprefill.onnx ] || bg gen --shape 0.5b --layouts optimum-q4 --block 128 --critiprefill 128,8 --suffix=-b128-cp
  [ -s $S15/optimum-q4-b128-cp/onnx/model_q4_critiprefill.onnx ] || bg gen --shape 1.5b --layouts optimum-q4 --block 128 --critiprefill 128,8 --suffix=-b128-cp
  [ -s $S05/optimum-q4-b128-lazy/onnx/model_q4_lazyllm.onnx ] || bg gen --shape 0.5b --layouts optimum-q4 --block 128 --lazyllm 8:70,12:50,16:35,20:25 --suffix=-b128-lazy
  [ -s $S15/optimum-q4-b128-lazy/onnx/model_q4_lazyllm.onnx ] || bg gen --shape 1.5b --layouts optimum-q4 --block 128 --lazyllm 9:70,14:50,18:35,23:25 --suffix=-b128-lazy
  [ -s $S15/optimum-q4-b128-kvra/onnx/model_q4_runahead6of7.onnx ] || bg gen --shape 1.5b --layouts optimum-q4 --block 128 --kv-runahead 7 --suffix=-b128-kvra
  [ -s $S05/genai-int4-fp16/model.onnx ] || bg gen --shape 0.5b --layouts genai-int4,genai-int4-fp16
  [ -s $S15/genai-int4-fp16/model.onnx ] || bg gen --shape 1.5b --layouts genai-int4,genai-int4-fp16
  wait "${pids[@]}"
  el "generated"; cat /tmp/gen-$$-*.log | grep -v '^$' | tail -30
  for s in 0.5b 1.5b; do
    case $s in 0.5b) tag=qwen05b; v="--variant skip-a10:10:0 --variant skip-a12f2:12:2"; base=$S05;; 1.5b) tag=qwen15b; v="--variant skip-a11:11:0 --variant skip-a14f3:14:3"; base=$S15;; esac
    mkdir -p $M/adaskip-$tag
    "$PY" bench/accelerators/adaskip_graph.py --model $base/optimum-q4-b128-cp --out $M/adaskip-$tag $v > $M/adaskip-$tag.json || echo "adaskip $s failed"
  done
  el "adaskip variants written"; du -sh $M/*/* 2>/dev/null; df -h /tmp | tail -1
  exit 0
fi

J=$PWD/.dev/gpu15b
source bench/realmodels/gpu-rt.sh
has() { [[ ",${ONLY:-$1}," == *",$1,"* ]]; }
ada() { case $1 in qwen05b) echo "$M/adaskip-qwen05b/skip-a10,$M/adaskip-qwen05b/skip-a12f2";; qwen15b) echo "$M/adaskip-qwen15b/skip-a11,$M/adaskip-qwen15b/skip-a14f3";; esac; }

if [ "$PHASE" = webgpu ]; then
  for s in 0.5b 1.5b; do
    case $s in 0.5b) tag=qwen05b; base=$S05;; 1.5b) tag=qwen15b; base=$S15;; esac
    if has fp16; then
      el "$s: genai-int4 fp32 vs fp16 activations, WebGPU, runs of ${FP16_CHUNK:-2048} (issue 15)"
      timeout -k 5 ${T_FP16:-110} node bench/realmodels/cpu.mjs --models $M --shape $s --llama '' --ours genai-int4,genai-int4-fp16 --devices webgpu --chunk ${FP16_CHUNK:-2048} --reps 2 --steps 16 --prefill 512,2048,4096 --past 2048 --scenario 4096,260,24 --out $OUT/gpu-$s-fp16${FP16_CHUNK:+-c$FP16_CHUNK} 2>&1 | grep -v '^|'
    fi
    if has cp; then
      el "$s: CritiPrefill, WebGPU, runs of $GPU_CHUNK"
      timeout -k 5 ${T_CP:-60} node bench/accelerators/critiprefill.mjs --model $base/optimum-q4-b128-cp --device webgpu --chunk $GPU_CHUNK --tokens 2048,4096,8192 --reps 2 "${CAP[@]}" --out $OUT/accelerators-critiprefill-$tag-webgpu-c$GPU_CHUNK$CAPTAG
    fi
    if has lazy; then
      el "$s: LazyLLM, WebGPU, runs of $GPU_CHUNK"
      timeout -k 5 ${T_LAZY:-60} node bench/accelerators/lazyllm.mjs --model $base/optimum-q4-b128-lazy --device webgpu --chunk $GPU_CHUNK --tokens 2048,4096,8192 --reps 2 "${CAP[@]}" --out $OUT/accelerators-lazyllm-$tag-webgpu-c$GPU_CHUNK$CAPTAG
    fi
    if has ada; then
      el "$s: AdaSkip, WebGPU, runs of $GPU_CHUNK"
      timeout -k 5 ${T_ADA:-60} node bench/accelerators/adaskip-prefill.mjs --base $base/optimum-q4-b128-cp --variants "$(ada $tag)" --device webgpu --chunk $GPU_CHUNK --tokens 2048,4096,8192 --reps 2 --decode 16 --out $OUT/accelerators-adaskip-$tag-webgpu-c$GPU_CHUNK
    fi
    if has int; then
      el "$s: interference, WebGPU, runs of $GPU_CHUNK"
      timeout -k 5 ${T_INT:-60} node bench/accelerators/interference.mjs --model $base/optimum-q4-b128-cp --device webgpu --chunk $GPU_CHUNK --cold 4096 --warm-a 512 --decode 16 --rules 0,50,100 --offsets 0.5 --out $OUT/accelerators-interference-$tag-webgpu-c$GPU_CHUNK
    fi
  done
elif [ "$PHASE" = cpu16 ]; then
  C=$(nproc)
  if has cp; then
    el "CritiPrefill, CPU ($C cores): 0.5B 2k, 1.5B 2k/4k/8k"
    timeout -k 5 ${T_CP05:-50} node bench/accelerators/critiprefill.mjs --model $S05/optimum-q4-b128-cp --device cpu --chunk 256 --tokens 2048 --reps 2 --out $OUT/accelerators-critiprefill-qwen05b-cpu$C-2k
    timeout -k 5 ${T_CP15:-170} node bench/accelerators/critiprefill.mjs --model $S15/optimum-q4-b128-cp --device cpu --chunk 256 --tokens 2048,4096,8192 --reps 1 --out $OUT/accelerators-critiprefill-qwen15b-cpu$C
  fi
  if has kvra; then
    el "KV-Runahead, CPU ($C cores): 1.5B, $C threads plain vs 2 workers x $((C / 2)) threads"
    timeout -k 5 ${T_KVRA:-200} node bench/accelerators/kv-runahead.mjs --model $S15/optimum-q4-b128-kvra --tokens 2048,4096,8192 --reps 1 --plain-threads $C --workers 2 --worker-threads $((C / 2)) --out $OUT/accelerators-kv-runahead-qwen15b-cpu$C-w2
  fi
  if has ada; then
    el "AdaSkip, CPU ($C cores): 1.5B 8k"
    timeout -k 5 ${T_ADA8:-150} node bench/accelerators/adaskip-prefill.mjs --base $S15/optimum-q4-b128-cp --variants "$(ada qwen15b)" --device cpu --chunk 256 --tokens 8192 --reps 1 --decode 16 --out $OUT/accelerators-adaskip-qwen15b-cpu$C-8k
  fi
else
  echo "phase: prepare, webgpu or cpu16"; exit 2
fi
el "done"; uptime
echo; echo "----- markdown summary -----"
node bench/accelerators/cells-summary.mjs "$OUT"/accelerators-*.json 2>&1 | head -80
