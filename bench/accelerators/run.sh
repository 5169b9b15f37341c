#!/usr/bin/env bash
# Issue 17's accelerator measurements on this machine, one command: bash bench/accelerators/run.sh  (after npm run build)
# Writes bench/results/accelerators-*.json; bench/results/accelerators.md is the table read from them.
# QWEN05: the 0.5B-shape genai-int4-b128 model dir (bench/realmodels/README.md); its rows are skipped when it is absent.
# QWEN05CP: the 0.5B-shape Optimum int4 dir with its CritiPrefill twin (section 5; generated when absent).
# PY: a Python with torch + onnx + numpy (AdaSkip's calibration and graph surgery; default /usr/bin/python3).
# ADASKIP_DIR: where the AdaSkip graphs go (outside the repository; default /tmp/infill-ls-adaskip).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
R=bench/results
QWEN05=${QWEN05:-$HOME/.cache/infill-ls-models/qwen2.5-coder-0.5b-shape/genai-int4-b128}
PY=${PY:-/usr/bin/python3}
AD=${ADASKIP_DIR:-/tmp/infill-ls-adaskip}
uptime
# 1. Interference (TetriInfer/DistServe): a cached request's wait during another document's cold prefill, rule off/on.
node bench/accelerators/interference.mjs --cold 1900 --rules 0,50,100 --offsets 0.25,0.5,0.75 --out $R/accelerators-interference-default
node bench/accelerators/interference.mjs --cold 1900 --rules 0,50 --offsets 0.5 --b-priority background --out $R/accelerators-interference-default-bg
node bench/accelerators/interference.mjs --cold 1900 --rules 0,50,100 --offsets solo --reps 3 --out $R/accelerators-interference-default-solo
if [ -d "$QWEN05" ]; then
  node bench/accelerators/interference.mjs --model "$QWEN05" --threads 1 --cold 1024 --warm-a 256 --decode 8 --rules 0,250 --offsets 0.5 --out $R/accelerators-interference-qwen05b
fi
# 2. SCOPE: decode-phase KV budget on models/default (speed and edit similarity against unbounded decoding).
node bench/accelerators/scope.mjs --files 4 --prompt 384 --tokens 1024 --windows 0,128,512 --out $R/accelerators-scope
#    (the same within models/default's 1,024-token training context: 128 prompt + 896 generated)
node bench/accelerators/scope.mjs --files 6 --prompt 128 --tokens 896 --windows 0,128,256 --out $R/accelerators-scope-incontext
# 3. AdaSkip: calibration + quality (PyTorch), skipped-sublayer graphs, their speed.
"$PY" bench/accelerators/adaskip.py --out "$AD" --calib 6 --eval 6 --tokens 512 --skips 1,2,4,6 --json $R/accelerators-adaskip.json
node bench/accelerators/adaskip-speed.mjs --variants "$AD/skip-1,$AD/skip-2,$AD/skip-4,$AD/skip-6" --parity "$AD/parity_ids.json" --prefill 1024 --decode 64 --reps 5 --out $R/accelerators-adaskip-speed
# 4. CritiPrefill / LazyLLM / KV-Runahead: what a cold chunked prefill spends on attention over the past.
if [ -d "$QWEN05" ]; then
  node bench/accelerators/attention-share.mjs --model "$QWEN05" --threads 1 --pasts 0,1792,3840,7936 --chunk 256 --reps 2 --out $R/accelerators-attention-share-qwen05b
fi
node bench/accelerators/attention-share.mjs --pasts 0,896,1792 --chunk 256 --reps 3 --out $R/accelerators-attention-share-default
# 5. CritiPrefill (built): cold-prefill TTFT plain vs the twin at the 0.5B shape (our exporter's Optimum int4 graph,
#    MatMulNBits block 128, + its twin: blocks of 128, budget 8; QWEN05CP, generated when absent, ~5 min), then the
#    quality cost on models/default (twins re-exported from its own weights: blocks of 64, budgets 4 and 6).
QWEN05CP=${QWEN05CP:-$HOME/.cache/infill-ls-models/qwen2.5-coder-0.5b-shape/optimum-q4-b128-cp}
[ -s "$QWEN05CP/onnx/model_q4_critiprefill.onnx" ] || "$PY" native/py/qwen_models.py --shape 0.5b --layouts optimum-q4 --block 128 --critiprefill 128,8 --suffix=-b128-cp --out "$(dirname "$(dirname "$QWEN05CP")")"
node bench/accelerators/critiprefill.mjs --model "$QWEN05CP" --tokens 2048,4096,8192 --reps 2 --threads 1 --out $R/accelerators-critiprefill-qwen05b
QWEN15CP=${QWEN15CP:-$HOME/.cache/infill-ls-models/qwen2.5-coder-1.5b-shape/optimum-q4-b128-cp}
if [ -s "$QWEN15CP/onnx/model_q4_critiprefill.onnx" ]; then  # the 1.5B rows, when that model was generated (--shape 1.5b)
  node bench/accelerators/critiprefill.mjs --model "$QWEN15CP" --tokens 4096,8192 --reps 2 --threads 1 --out $R/accelerators-critiprefill-qwen15b
  node bench/accelerators/critiprefill.mjs --model "$QWEN15CP" --tokens 2048 --reps 2 --threads 1 --out $R/accelerators-critiprefill-qwen15b-2k
fi
PY="$PY" bash bench/accelerators/critiprefill-quality.sh 25 100
# 6. KV-Runahead (built): cold-prefill TTFT, plain chunked prefill on 2 intra-op threads vs 2 workers x 1 thread over
#    the layer groups (0.5B shape: 8 groups, QWEN05RA, generated when absent, ~2 min; models/default: 5 groups written
#    into a copy outside the repository), and the worker-thread probe (onnxruntime-node with several sessions in
#    several workers, and what aborts it).
QWEN05RA=${QWEN05RA:-$HOME/.cache/infill-ls-models/qwen2.5-coder-0.5b-shape/optimum-q4-b128-kvra}
[ -s "$QWEN05RA/onnx/model_q4_runahead7of8.onnx" ] || "$PY" native/py/qwen_models.py --shape 0.5b --layouts optimum-q4 --block 128 --kv-runahead 8 --suffix=-b128-kvra --out "$(dirname "$(dirname "$QWEN05RA")")"
DEFRA=${DEFRA:-/tmp/infill-ls-default-kvra}
[ -s "$DEFRA/onnx/model_quantized_runahead4of5.onnx" ] || { rm -rf "$DEFRA"; cp -r models/default "$DEFRA"; "$PY" native/py/kv_runahead.py "$DEFRA" --groups 5; }
node bench/accelerators/kv-runahead.mjs --model "$QWEN05RA" --tokens 2048,4096 --reps 2 --out $R/accelerators-kv-runahead-qwen05b
node bench/accelerators/kv-runahead.mjs --model "$QWEN05RA" --tokens 8192 --reps 2 --out $R/accelerators-kv-runahead-qwen05b-8k
node bench/accelerators/kv-runahead.mjs --model "$QWEN05RA" --tokens 2048,4096 --reps 2 --out $R/accelerators-kv-runahead-qwen05b-quiet  # the same again; read in a quiet slot
#    the 1.5B shape: 28 layers in 7 groups of 4 (QWEN15RA, generated when absent, ~1 min, 3.3 GB)
QWEN15RA=${QWEN15RA:-$HOME/.cache/infill-ls-models/qwen2.5-coder-1.5b-shape/optimum-q4-b128-kvra}
[ -s "$QWEN15RA/onnx/model_q4_runahead6of7.onnx" ] || "$PY" native/py/qwen_models.py --shape 1.5b --layouts optimum-q4 --block 128 --kv-runahead 7 --suffix=-b128-kvra --out "$(dirname "$(dirname "$QWEN15RA")")"
node bench/accelerators/kv-runahead.mjs --model "$QWEN15RA" --tokens 2048,4096 --reps 2 --out $R/accelerators-kv-runahead-qwen15b
node bench/accelerators/kv-runahead.mjs --model "$QWEN15RA" --tokens 8192 --reps 2 --out $R/accelerators-kv-runahead-qwen15b-8k
node bench/accelerators/kv-runahead.mjs --model "$DEFRA" --tokens 2048,4096 --reps 2 --out $R/accelerators-kv-runahead-default
for e in release idle-terminate idle-exit terminate exit; do echo "## --end $e"; node bench/accelerators/workers-probe.mjs --workers 4 --sessions 2 --runs 2 --end $e 2>&1 && echo "exit status 0" || echo "exit status $? (aborted)"; done > $R/accelerators-workers-probe.txt || true
# 7. The cells at the real shapes (random weights: speed only; 1 thread): AdaSkip's graph surgery at the 0.5B / 1.5B
#    shapes (adaskip_graph.py: a fixed rule, no calibration on random weights; the plain graphs of QWEN05CP / QWEN15CP)
#    against the plain graph, and SCOPE's decode ms/token at the 0.5B shape over 1,024 generated tokens. The GPU
#    machine's cells: bash bench/accelerators/gpu-cells.sh [1.5b] (the lead, on the device).
AS=${ADASKIP_SHAPES_DIR:-/tmp/infill-ls-adaskip-shapes}
"$PY" bench/accelerators/adaskip_graph.py --model "$QWEN05CP" --out $AS/qwen05b --variant skip-a10:10:0 --variant skip-a12f2:12:2 > /dev/null
node bench/accelerators/adaskip-prefill.mjs --base "$QWEN05CP" --variants $AS/qwen05b/skip-a10,$AS/qwen05b/skip-a12f2 --tokens 2048,4096 --reps 2 --decode 16 --threads 1 --out $R/accelerators-adaskip-qwen05b
node bench/accelerators/adaskip-prefill.mjs --base "$QWEN05CP" --variants $AS/qwen05b/skip-a10,$AS/qwen05b/skip-a12f2 --tokens 8192 --reps 2 --decode 16 --threads 1 --out $R/accelerators-adaskip-qwen05b-8k
if [ -s "$QWEN15CP/onnx/model_q4.onnx" ]; then
  "$PY" bench/accelerators/adaskip_graph.py --model "$QWEN15CP" --out $AS/qwen15b --variant skip-a11:11:0 --variant skip-a14f3:14:3 > /dev/null
  node bench/accelerators/adaskip-prefill.mjs --base "$QWEN15CP" --variants $AS/qwen15b/skip-a11,$AS/qwen15b/skip-a14f3 --tokens 2048 --reps 2 --decode 16 --threads 1 --out $R/accelerators-adaskip-qwen15b
  node bench/accelerators/adaskip-prefill.mjs --base "$QWEN15CP" --variants $AS/qwen15b/skip-a14f3 --tokens 4096 --reps 2 --decode 16 --threads 1 --out $R/accelerators-adaskip-qwen15b-4k
  node bench/accelerators/adaskip-prefill.mjs --base "$QWEN15CP" --variants $AS/qwen15b/skip-a11 --tokens 4096 --reps 2 --decode 16 --threads 1 --out $R/accelerators-adaskip-qwen15b-4k-a11
  node bench/accelerators/adaskip-prefill.mjs --base "$QWEN15CP" --variants $AS/qwen15b/skip-a11,$AS/qwen15b/skip-a14f3 --tokens 8192 --reps 2 --decode 16 --threads 1 --out $R/accelerators-adaskip-qwen15b-8k
fi
node bench/accelerators/scope.mjs --model "$QWEN05CP" --files 2 --prompt 128 --tokens 1024 --windows 0,128,256 --threads 1 --out $R/accelerators-scope-qwen05b
# 8. LazyLLM (built; accelerators.md section 7): cold-prefill TTFT plain vs the twin at the 0.5B shape (our exporter's Optimum int4 graph +
#    its LazyLLM twin: layers 0-7 whole, then 70/50/35/25% of each run's tokens from layers 8/12/16/20; QWEN05LZ,
#    generated when absent, ~1 min), the 1.5B rows when that model was generated, then the quality cost on
#    models/default (twins re-exported from its own weights, three schedules).
QWEN05LZ=${QWEN05LZ:-$HOME/.cache/infill-ls-models/qwen2.5-coder-0.5b-shape/optimum-q4-b128-lazy}
[ -s "$QWEN05LZ/onnx/model_q4_lazyllm.onnx" ] || "$PY" native/py/qwen_models.py --shape 0.5b --layouts optimum-q4 --block 128 --lazyllm 8:70,12:50,16:35,20:25 --suffix=-b128-lazy --out "$(dirname "$(dirname "$QWEN05LZ")")"
node bench/accelerators/lazyllm.mjs --model "$QWEN05LZ" --tokens 2048,4096,8192 --reps 2 --threads 1 --out $R/accelerators-lazyllm-qwen05b
QWEN15LZ=${QWEN15LZ:-$HOME/.cache/infill-ls-models/qwen2.5-coder-1.5b-shape/optimum-q4-b128-lazy}
if [ -s "$QWEN15LZ/onnx/model_q4_lazyllm.onnx" ]; then  # (qwen_models.py --shape 1.5b ... --lazyllm 9:70,14:50,18:35,23:25)
  node bench/accelerators/lazyllm.mjs --model "$QWEN15LZ" --tokens 2048,4096 --reps 2 --threads 1 --out $R/accelerators-lazyllm-qwen15b
  node bench/accelerators/lazyllm.mjs --model "$QWEN15LZ" --tokens 8192 --reps 2 --threads 1 --out $R/accelerators-lazyllm-qwen15b-8k
fi
PY="$PY" bash bench/accelerators/lazyllm-quality.sh 25 100
uptime
