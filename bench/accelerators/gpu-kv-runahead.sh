#!/usr/bin/env bash
# Issue 17, KV-Runahead on the GPU machine's 16-core CPU (for the lead: this helper does not call the device; not run).
# Same setup as gpu-critiprefill.sh / bench/realmodels/gpu-job.sh (pack .dev/gpu15b: Node, node_modules, server/dist
# of this branch — rebuild the pack after merging: bash bench/realmodels/gpu-pack.sh). Generates the
# Qwen2.5-Coder-0.5B-shape Optimum int4 graph (MatMulNBits block 128) with 8 KV-Runahead layer groups into /tmp/m and
# models/default's 5 groups into /tmp/m/default-kvra, then times cold prefills of 2,048 / 4,096 tokens, plain chunked
# prefill on all 16 cores vs KV-Runahead with the same cores split over 2 / 4 workers (bench/accelerators/kv-runahead.mjs,
# ABBA, 2 reps; KV-Runahead is CPU-only):
#   run command="bash bench/accelerators/gpu-kv-runahead.sh" carry=[".dev/gpu15b"]     (~8 min with generation)
# Writes $OUT/accelerators-kv-runahead-{qwen05b,default}-cpu16-w{2,4}.json and $OUT/job.log.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
J=$PWD/.dev/gpu15b
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/job.log") 2>&1
[ -x /tmp/rt/bin/node ] || { echo "no /tmp/rt/bin/node: run gpu-llama.sh first (or carry .device/node.xz)"; exit 1; }
source "$J/device-setup.sh"
[ -d /tmp/rt/node_modules/lru-cache ] || tar -C /tmp/rt -xJf "$J/nm.tar.xz"
[ -d server/dist ] || tar -xJf "$J/dist.tar.xz"
[ -e node_modules ] || ln -s /tmp/rt/node_modules node_modules
nproc; uptime
M=/tmp/m/qwen2.5-coder-0.5b-shape/optimum-q4-b128-kvra
[ -s $M/onnx/model_q4_runahead7of8.onnx ] || python3 native/py/qwen_models.py --shape 0.5b --layouts optimum-q4 --block 128 --kv-runahead 8 --suffix=-b128-kvra --out /tmp/m
D=/tmp/m/default-kvra
# (kv_runahead.py reads the q8w graph through critiprefill.py, which imports native/py/model.py: torch; without it the
#  models/default rows are skipped)
[ -s $D/onnx/model_quantized_runahead4of5.onnx ] || { rm -rf $D; cp -r models/default $D && python3 native/py/kv_runahead.py $D --groups 5 || echo "models/default groups not written: its rows are skipped"; }
for W in 2 4; do
  T=$((16 / W))
  timeout -k 5 150 node bench/accelerators/kv-runahead.mjs --model $M --tokens 2048,4096 --reps 2 --plain-threads 16 --workers $W --worker-threads $T --out $OUT/accelerators-kv-runahead-qwen05b-cpu16-w$W
  [ -s $D/onnx/model_quantized_runahead4of5.onnx ] && timeout -k 5 60 node bench/accelerators/kv-runahead.mjs --model $D --tokens 2048,4096 --reps 2 --plain-threads 16 --workers $W --worker-threads $T --out $OUT/accelerators-kv-runahead-default-cpu16-w$W
done
uptime
