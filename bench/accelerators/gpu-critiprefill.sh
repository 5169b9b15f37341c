#!/usr/bin/env bash
# Issue 17, GPU column of CritiPrefill (for the lead: this helper does not call the device). Same setup as
# bench/realmodels/gpu-job.sh (its pack .dev/gpu15b: Node, node_modules, server/dist; /tmp/rt/bin/node from
# gpu-llama.sh or .device/node.xz), with this branch's server/dist (rebuild the pack after merging: bash
# bench/realmodels/gpu-pack.sh). Generates the Qwen2.5-Coder-0.5B-shape Optimum int4 graph (MatMulNBits block 128)
# and its CritiPrefill twin (blocks of 128 positions, budget 8 = 1,024 positions) into /tmp/m, then times cold prefills
# of 2,048 / 4,096 / 8,192 tokens plain vs CritiPrefill (bench/accelerators/critiprefill.mjs, ABBA, 2 reps):
#   WebGPU in runs of 2,048 (the engine's WebGPU chunk), then that host's CPU provider (all cores) in runs of 256.
#   run command="bash bench/accelerators/gpu-critiprefill.sh" carry=[".dev/gpu15b"]     (~10 min with generation)
# Writes $OUT/accelerators-critiprefill-qwen05b-{webgpu,cpu16}.json and $OUT/job.log.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
J=$PWD/.dev/gpu15b
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/job.log") 2>&1
source bench/realmodels/gpu-rt.sh
M=/tmp/m/qwen2.5-coder-0.5b-shape/optimum-q4-b128-cp
[ -s $M/onnx/model_q4_critiprefill.onnx ] || python3 native/py/qwen_models.py --shape 0.5b --layouts optimum-q4 --block 128 --critiprefill 128,8 --suffix=-b128-cp --out /tmp/m
timeout -k 5 300 node bench/accelerators/critiprefill.mjs --model $M --device webgpu --chunk 2048 --tokens 2048,4096,8192 --reps 2 --out $OUT/accelerators-critiprefill-qwen05b-webgpu
timeout -k 5 240 node bench/accelerators/critiprefill.mjs --model $M --device cpu --chunk 256 --tokens 2048,4096,8192 --reps 2 --out $OUT/accelerators-critiprefill-qwen05b-cpu16
uptime
