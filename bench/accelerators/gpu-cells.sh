#!/usr/bin/env bash
# Issue 17, the accelerators table's GPU cells for AdaSkip, SCOPE and the interference rule (for the lead: this
# helper does not call the device). Same setup as gpu-critiprefill.sh / bench/realmodels/gpu-job.sh (pack
# .dev/gpu15b: Node, node_modules, server/dist — rebuild the pack after merging: bash bench/realmodels/gpu-pack.sh).
#   run command="bash bench/accelerators/gpu-cells.sh"      carry=[".dev/gpu15b"]   the 0.5B shape, all cells (< 8 min)
#   run command="bash bench/accelerators/gpu-cells.sh 1.5b" carry=[".dev/gpu15b"]   the 1.5B shape: AdaSkip, interference
# Generates the shape's Optimum int4 graph (our exporter, MatMulNBits block 128: the graph of sections 5–6) into /tmp/m
# (reuses a -b128-cp / -b128 one left there by an earlier job) and the AdaSkip variants next to it (adaskip_graph.py:
# the same fixed rule as on the development CPU; the weights hard-linked, not copied), then, each step bounded by
# `timeout` (worst case ~6.5 min after generation; the limits are env T_ADA_GPU, T_ADA_CPU, T_SCOPE, T_INT_GPU, T_INT_CPU
# in seconds; AdaSkip and interference write their JSON after every sample or trial, so a limit keeps what finished;
# SCOPE writes its JSON at the end):
#   1. AdaSkip, WebGPU (runs of GPU_CHUNK = 512, the engine's run size for these graphs): cold prefill 2k/4k/8k, plain
#      vs 2 variants, 2 reps
#   2. AdaSkip, the host's CPU provider (all cores, runs of 256): 2k/4k(/8k), 2 reps
#   3. SCOPE (0.5B only), the host's CPU provider: 1,024 generated tokens, windows unbounded/128/256 in lockstep
#      (decodeKvWindow evicts CPU tensors; the engine turns it off on WebGPU, where the KV stays in GPU buffers)
#   4. interference, WebGPU (chunk GPU_CHUNK): a cached request's wait while another document's 4,096-token cold prefill
#      runs, rule off / 50 / 100 ms
#   5. interference, the host's CPU provider (chunk 256): the same
# Writes to $OUT (0.5B: 5 files; 1.5B: 3): accelerators-adaskip-qwen05b-{webgpu-c512,cpu16}.json,
# accelerators-scope-qwen05b-cpu16.json, accelerators-interference-qwen05b-{webgpu-c512,cpu16}.json (1.5B: qwen15b, no
# SCOPE, no CPU interference), and job.log, whose end is a markdown summary of those JSON files (cells-summary.mjs).
# Locally (no GPU): LOCAL=1 DEVICES=cpu SHAPE_DIR=<a model dir> OUT=/tmp/cells-out bash bench/accelerators/gpu-cells.sh
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
J=$PWD/.dev/gpu15b
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/job.log") 2>&1
SHAPE=${1:-0.5b}
DEVICES=${DEVICES:-webgpu,cpu}
PY=${PY:-python3}
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
if [ "${LOCAL:-0}" = 1 ]; then nproc; uptime; else source bench/realmodels/gpu-rt.sh; fi
case "$SHAPE" in
  0.5b) TAG=qwen05b; VARIANTS="skip-a10:10:0 skip-a12f2:12:2" ;;   # 48 sublayers: 21% attention only; 29%, 12 + 2
  1.5b) TAG=qwen15b; VARIANTS="skip-a11:11:0 skip-a14f3:14:3" ;;   # 56 sublayers: 20% attention only; 30%, 14 + 3
  *) echo "shape: 0.5b or 1.5b"; exit 2 ;;
esac
S=/tmp/m/qwen2.5-coder-$SHAPE-shape
M=${SHAPE_DIR:-}
if [ -z "$M" ]; then
  for d in $S/optimum-q4-b128-cp $S/optimum-q4-b128; do [ -s $d/onnx/model_q4.onnx ] && { M=$d; break; }; done
fi
if [ -z "$M" ]; then
  el "generating the $SHAPE shape (optimum-q4, block 128)"
  "$PY" native/py/qwen_models.py --shape $SHAPE --layouts optimum-q4 --block 128 --suffix=-b128 --out /tmp/m || exit 1
  M=$S/optimum-q4-b128
fi
AD=/tmp/m/adaskip-$TAG; mkdir -p $AD
args=(); for v in $VARIANTS; do args+=(--variant "$v"); done
"$PY" bench/accelerators/adaskip_graph.py --model "$M" --out $AD "${args[@]}" > $AD.json || exit 1
V=$(for v in $VARIANTS; do printf '%s,' "$AD/${v%%:*}"; done); V=${V%,}
el "model $M; AdaSkip variants $V"
has() { [[ ",$DEVICES," == *",$1,"* ]]; }
TOK_CPU=${TOK_CPU:-2048,4096,8192}
TOK_GPU=${TOK_GPU:-2048,4096,8192}
COLD=${COLD:-4096}
# WebGPU run size: 512, what the engine gives a graph with MatMul + Softmax attention (runtime/device-rule.ts
# webgpuPrefillChunk; runs of 2,048 are 6-10x slower on these graphs: real-models-gpu-s6.md section 5). The first run
# of this script (2026-12-01 05:42) used 2,048 (its files: ...-webgpu.json); the WebGPU files now carry -c<chunk>.
# Only the WebGPU steps, e.g.: DEVICES=webgpu bash bench/accelerators/gpu-cells.sh [1.5b]
GPU_CHUNK=${GPU_CHUNK:-512}
if has webgpu; then
  el "1. AdaSkip, WebGPU"
  timeout -k 5 ${T_ADA_GPU:-100} node bench/accelerators/adaskip-prefill.mjs --base "$M" --variants "$V" --device webgpu --chunk $GPU_CHUNK --tokens $TOK_GPU --reps 2 --decode 16 --out $OUT/accelerators-adaskip-$TAG-webgpu-c$GPU_CHUNK
fi
if has cpu; then
  el "2. AdaSkip, CPU (all cores)"
  timeout -k 5 ${T_ADA_CPU:-90} node bench/accelerators/adaskip-prefill.mjs --base "$M" --variants "$V" --device cpu --chunk 256 --tokens $TOK_CPU --reps 2 --decode 16 --out $OUT/accelerators-adaskip-$TAG-cpu16
  if [ $SHAPE = 0.5b ]; then
    el "3. SCOPE, CPU (all cores)"
    timeout -k 5 ${T_SCOPE:-90} node bench/accelerators/scope.mjs --model "$M" --files 1 --prompt 128 --tokens ${SCOPE_TOKENS:-1024} --windows 0,128,256 --out $OUT/accelerators-scope-$TAG-cpu16
  fi
fi
if has webgpu; then
  el "4. interference, WebGPU"
  timeout -k 5 ${T_INT_GPU:-60} node bench/accelerators/interference.mjs --model "$M" --device webgpu --chunk $GPU_CHUNK --cold $COLD --warm-a 512 --decode 16 --rules 0,50,100 --offsets 0.5 --out $OUT/accelerators-interference-$TAG-webgpu-c$GPU_CHUNK
fi
if has cpu && [ $SHAPE = 0.5b ]; then
  el "5. interference, CPU (all cores)"
  timeout -k 5 ${T_INT_CPU:-55} node bench/accelerators/interference.mjs --model "$M" --device cpu --chunk 256 --cold $COLD --warm-a 512 --decode 16 --rules 0,50,100 --offsets 0.5 --out $OUT/accelerators-interference-$TAG-cpu16
fi
el "done"; uptime
echo; echo "----- markdown summary (paste into bench/results/accelerators.md) -----"
node bench/accelerators/cells-summary.mjs "$OUT"/accelerators-*-$TAG-*.json
