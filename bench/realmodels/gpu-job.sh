#!/usr/bin/env bash
# The GPU machine's half of issue 15's side-by-side, as one job of the device tool (see README.md here).
# Carried: .dev/models/ = device/ (../shared/tools/device-pack.sh + bench/device/pack.sh output) and job.tar.xz
# (server/dist, bin, package.json, native/py, bench/realmodels of this branch). The big random models are generated
# there (it has torch/onnx/numpy), not carried. Writes $OUT/*.md|json and logs.
#   run: command="bash .dev/models/gpu-job.sh"  carry=[".dev/models"]
set -uo pipefail
J=$(cd "$(dirname "$0")" && pwd)
REPO=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/job.log") 2>&1
source "$J/device/device-setup.sh"
[ -d /tmp/rt/node_modules/lru-cache ] || tar -C /tmp/rt -xJf "$J/device/nm.tar.xz"
mkdir -p /tmp/job && tar -C /tmp/job -xJf "$J/job.tar.xz"
ln -sfn /tmp/rt/node_modules /tmp/job/node_modules
ln -sfn "$REPO/models" /tmp/job/models
cd /tmp/job
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; uptime
T0=$(date +%s)
left() { echo $(( ${BUDGET:-540} - ($(date +%s) - T0) )); }

# 1. Do CLI processes with --device cpu exit on a machine with a GPU? Old ending (event loop drains) vs new one.
printf 'def mean(values):\n    total = \n' > /tmp/mean.py
old="import('/tmp/job/server/dist/main.js').then(async (m) => { process.exitCode = await m.main(process.argv.slice(1)); })"
# (wait on these pids only: a bare `wait` also waits for the `tee` above, i.e. for ever)
pids=()
for i in 1 2 3 4; do
  ( s=$(date +%s%N); timeout -k 2 40 node --input-type=module -e "$old" complete /tmp/mean.py --line 2 --column 13 --device cpu --max-new-tokens 4 > /dev/null 2>&1; \
    echo "exit-check old#$i rc=$? $(( ($(date +%s%N) - s) / 1000000 )) ms" ) & pids+=($!)
  ( s=$(date +%s%N); timeout -k 2 40 node bin/infill-ls.js complete /tmp/mean.py --line 2 --column 13 --device cpu --max-new-tokens 4 > /dev/null 2>&1; \
    echo "exit-check new#$i rc=$? $(( ($(date +%s%N) - s) / 1000000 )) ms" ) & pids+=($!)
done
wait "${pids[@]}"
echo "left $(left) s"

# 2. Models (random weights, Qwen2.5-Coder-0.5B / -1.5B shapes).
python3 native/py/qwen_models.py --shape 0.5b --layouts genai-int4,genai-fp32,optimum-q4 --out /tmp/m --accuracy-level 4
echo "left $(left) s"

# 3. Side by side: WebGPU (fused genai layout int4 and fp32; chunks of 512 as the engine uses there) and this
#    host's CPU provider (all cores; and 2 cores pinned, comparable with the 2-core dev machine).
B="node bench/realmodels/cpu.mjs --models /tmp/m --llama '' --reps 2 --steps 8"
timeout -k 5 $(( $(left) * 45 / 100 )) bash -c "$B --shape 0.5b --ours genai-int4,genai-fp32 --devices webgpu --chunk 512 --out $OUT/gpu-0.5b-webgpu" 2>&1 | grep -v '^|' 
echo "left $(left) s"
timeout -k 5 $(( $(left) * 50 / 100 )) taskset -c 0,1 bash -c "$B --shape 0.5b --ours genai-int4,optimum-q4 --devices cpu --threads 2 --chunk 256 --out $OUT/gpu-host-cpu2-0.5b" 2>&1 | grep -v '^|'
echo "left $(left) s"
if [ "$(left)" -gt 150 ]; then
  python3 native/py/qwen_models.py --shape 1.5b --layouts genai-int4 --out /tmp/m --accuracy-level 4
  timeout -k 5 $(( $(left) - 15 )) bash -c "$B --shape 1.5b --ours genai-int4 --devices webgpu,cpu --threads 0 --chunk 512 --out $OUT/gpu-1.5b" 2>&1 | grep -v '^|'
fi
echo "done, left $(left) s"
