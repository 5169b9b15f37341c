#!/usr/bin/env bash
# Issue 15, GPU machine, first job: llama.cpp with CUDA, built there from the source node-llama-cpp 3.22.1 ships
# (bench/runtime/llama's pinned version), run by its own `llama-bench` on GGUFs with the very random weights of
# native/py/qwen_models.py (seed 15) at the Qwen2.5-Coder-0.5B and -1.5B shapes. Also generates the ONNX layouts the
# second job (gpu-job.sh: ours on WebGPU and on that host's CPU) reads from /tmp/m, and unpacks Node for it, because
# the machine keeps /tmp between jobs while it is warm and one job cannot carry everything (64 MiB per call).
#
#   here:   bash bench/realmodels/gpu-pack.sh          (writes .dev/gpu15/ and .dev/gpu15b/)
#   device: run command="bash bench/realmodels/gpu-llama.sh [--models-only]" carry=[".dev/gpu15"]
#           then at once (while warm) run command="bash bench/realmodels/gpu-job.sh" carry=[".dev/gpu15b"]
# Writes $OUT/llama-cuda-<shape>.json (llama-bench's JSON, one object per test), $OUT/llama-job.log.
# Tests per shape and type (f16, q8_0, q4_k_m; -ngl 99, flash attention on, 3 repetitions):
#   prefill 512/2,048/4,096 tokens; decode 32 tokens at 2,048 past (-d 2048);
#   the llama.vim scenario: 4,096 cached tokens, then 260 new and 24 generated (-d 4096 -p 260 -n 24 and -pg 260,24).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -uo pipefail
J=$PWD/.dev/gpu15
REPO=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/llama-job.log") 2>&1
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; uptime
nvcc --version | tail -2; cmake --version | head -1; ninja --version
# Node for the second job (device-setup.sh skips the unpacking when /tmp/rt/bin/node exists).
# With a checkout over ~39 MiB, .dev/gpu15 and the checkout exceed the 64 MiB a call carries (gpu-pack.sh says so):
# then carry .dev/gpu15/node.xz in one call (e.g. --models-only) and .dev/gpu15/llama-src.tar.xz in the next.
mkdir -p /tmp/rt/bin
if [ -s "$J/node.xz" ]; then xz -dc "$J/node.xz" > /tmp/rt/bin/node && chmod +x /tmp/rt/bin/node
elif [ ! -x /tmp/rt/bin/node ]; then echo "no $J/node.xz and no /tmp/rt/bin/node: carry .dev/gpu15/node.xz"; exit 2; fi
if [ "${1:-}" = "--models-only" ]; then
  # Only Node (for gpu-job.sh) and the ONNX layouts, when llama.cpp's numbers are already in hand.
  python3 native/py/qwen_models.py --shape 0.5b --layouts genai-int4,genai-fp32 --out /tmp/m --accuracy-level 4 &
  p05=$!
  python3 native/py/qwen_models.py --shape 1.5b --layouts genai-int4 --out /tmp/m --accuracy-level 4
  wait "$p05"  # (a bare `wait` would also wait for the tee above, i.e. for ever)
  ls /tmp/m/*/; el "done"; exit 0
fi
mkdir -p /tmp/llama && tar -C /tmp/llama -xJf "$J/llama-src.tar.xz"
el "configure"
cmake -S /tmp/llama -B /tmp/llama/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_NCCL=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF > /tmp/llama/configure.log 2>&1 || { tail -30 /tmp/llama/configure.log; exit 1; }
el "build llama-bench + llama-quantize (background)"
( cmake --build /tmp/llama/build -j "$(nproc)" --target llama-bench llama-quantize > /tmp/llama/build.log 2>&1; echo $? > /tmp/llama/build.rc ) &
bpid=$!
export PYTHONPATH=/tmp/llama/gguf-py
for shape in 0.5b 1.5b; do
  python3 native/py/qwen_gguf.py --shape "$shape" --types f16,q8_0 --out /tmp/m || exit 1
  el "gguf $shape written"
done
# ONNX layouts for the second job (ours): int4 (genai's block 32 and our block 256 + fused q/k/v, gate/up) and fp32.
python3 native/py/qwen_models.py --shape 0.5b --layouts genai-int4,genai-fp32 --out /tmp/m --accuracy-level 4 > /tmp/m-0.5b.log 2>&1 &
mpid=$!
wait "$bpid"; rc=$(cat /tmp/llama/build.rc)
el "build rc $rc"
[ "$rc" = 0 ] || { tail -40 /tmp/llama/build.log; exit 1; }
B=/tmp/llama/build/bin
for shape in 0.5b 1.5b; do
  d=/tmp/m/qwen2.5-coder-$shape-shape/gguf
  $B/llama-quantize "$d/model-f16.gguf" "$d/model-q4_k_m.gguf" Q4_K_M "$(nproc)" > /dev/null 2>&1 && el "q4_k_m $shape" || el "quantize $shape failed"
done
for shape in 0.5b 1.5b; do
  d=/tmp/m/qwen2.5-coder-$shape-shape/gguf
  o=$OUT/llama-cuda-$shape.json; echo "[" > "$o"; first=1
  for t in q4_k_m q8_0 f16; do
    m=$d/model-$t.gguf; [ -f "$m" ] || continue
    for args in "-p 512,2048,4096 -n 0" "-p 0 -n 32 -d 2048" "-p 260 -n 24 -d 4096" "-p 0 -n 0 -pg 260,24 -d 4096"; do
      el "llama-bench $shape $t $args"
      j=$($B/llama-bench -m "$m" -ngl 99 -fa 1 -r 3 -o json $args 2>/tmp/lb.err) || { tail -5 /tmp/lb.err; continue; }
      body=$(echo "$j" | sed '1d;$d')  # the array's elements
      [ -n "$body" ] || continue
      [ $first = 1 ] || echo "," >> "$o"; first=0
      echo "$body" >> "$o"
      echo "$j" | python3 -c "import json,sys; [print('   ', r['model_type'], 'pp', r['n_prompt'], 'tg', r['n_gen'], 'depth', r.get('n_depth',0), round(r['avg_ts'],1), 't/s') for r in json.load(sys.stdin)]"
    done
  done
  echo "]" >> "$o"
done
wait "$mpid"; tail -3 /tmp/m-0.5b.log
el "0.5b onnx layouts ready; 1.5b int4"
python3 native/py/qwen_models.py --shape 1.5b --layouts genai-int4 --out /tmp/m --accuracy-level 4 > /tmp/m-1.5b.log 2>&1; tail -2 /tmp/m-1.5b.log
ls /tmp/m/*/
el "done"
