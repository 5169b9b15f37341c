#!/usr/bin/env bash
# Issue 17, GPU column of LazyLLM (for the lead: this helper does not call the device). Same setup as
# gpu-critiprefill.sh / bench/realmodels/gpu-job.sh (pack .dev/gpu15b: Node, node_modules, server/dist of this branch;
# rebuild the pack after merging: bash bench/realmodels/gpu-pack.sh). Per shape (0.5B, then 1.5B) it generates the
# Qwen2.5-Coder-shape Optimum int4 graph (MatMulNBits block 128, random weights) and its LazyLLM twin into /tmp/m
# (0.5B, 24 layers: 8:70,12:50,16:35,20:25 = layers 0-7 whole, then 70/50/35/25% of each run's tokens; 1.5B, 28 layers:
# 9:70,14:50,18:35,23:25), then times cold prefills of 2,048 / 4,096 / 8,192 tokens plain vs LazyLLM
# (bench/accelerators/lazyllm.mjs, ABBA, --reps 1 = one sample a side): WebGPU in runs of 2,048 (the engine's WebGPU
# chunk), then that host's CPU provider (all cores) in runs of 256. Every step runs under one deadline (BUDGET_S,
# default 285 s from the start): a step that would start past it is skipped and says so.
#   run command="bash bench/accelerators/gpu-lazyllm.sh" carry=[".dev/gpu15b"]
# Writes $OUT/accelerators-lazyllm-{qwen05b,qwen15b}-{webgpu,cpu16}.json and $OUT/job.log.
# Here (no GPU; the 0.5B model generated already, short prompts, to check the script):
#   LOCAL=1 SHAPES=0.5b DEVICES=cpu TOKENS=256,512 MROOT=~/.cache/infill-ls-models PY=/usr/bin/python3 OUT=/tmp/x bash bench/accelerators/gpu-lazyllm.sh
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
J=$PWD/.dev/gpu15b
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/job.log") 2>&1
[ -n "${LOCAL:-}" ] || source bench/realmodels/gpu-rt.sh
MROOT=${MROOT:-/tmp/m}
END=$(( $(date +%s) + ${BUDGET_S:-285} ))
run() {
  local t=$(( END - $(date +%s) ))
  if [ $t -lt 15 ]; then echo "skipped (past the ${BUDGET_S:-285} s budget): $*"; return 0; fi
  timeout -k 5 $t "$@" || echo "exit status $? (124: stopped at the budget): $*"
}
for S in ${SHAPES:-0.5b 1.5b}; do
  case $S in
    0.5b) sched=8:70,12:50,16:35,20:25; tag=qwen05b; dir=qwen2.5-coder-0.5b-shape; tokens=2048,4096,8192; chunks="2048 256"; block=128;;
    1.5b) sched=9:70,14:50,18:35,23:25; tag=qwen15b; dir=qwen2.5-coder-1.5b-shape; tokens=2048,4096,8192; chunks="2048 256"; block=128;;
  esac
  M=$MROOT/$dir/optimum-q4-b$block-lazy
  [ -s $M/onnx/model_q4_lazyllm.onnx ] || run ${PY:-python3} native/py/qwen_models.py --shape $S --layouts optimum-q4 --block $block --lazyllm $sched --suffix=-b$block-lazy --out $MROOT
  set -- $chunks
  for D in ${DEVICES:-webgpu cpu}; do
    if [ $D = webgpu ]; then c=$1; name=webgpu; else c=$2; name=cpu$(nproc); fi
    run node bench/accelerators/lazyllm.mjs --model $M --device $D --chunk $c --tokens ${TOKENS:-$tokens} --reps 1 --out $OUT/accelerators-lazyllm-$tag-$name
  done
done
uptime
