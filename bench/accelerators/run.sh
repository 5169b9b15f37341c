#!/usr/bin/env bash
# Issue 17's accelerator table on this machine: bash bench/accelerators/run.sh  (after npm run build)
# Writes bench/results/accelerators-*.json; bench/results/accelerators.md reads them (written by hand from them).
# QWEN05=dir of the 0.5B-shape genai-int4-b128 model (bench/realmodels/README.md); SKIP_QWEN=1 skips its rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
R=bench/results
QWEN05=${QWEN05:-$HOME/.cache/infill-ls-models/qwen2.5-coder-0.5b-shape/genai-int4-b128}
uptime
# 1. Interference: a cached request's wait during another document's cold prefill, rule off / 50 / 100 ms.
node bench/accelerators/interference.mjs --cold 1900 --rules 0,50,100 --offsets 0.25,0.5,0.75 --out $R/accelerators-interference-default
node bench/accelerators/interference.mjs --cold 1900 --rules 0,50 --offsets 0.5 --b-priority background --out $R/accelerators-interference-default-bg
if [ -z "${SKIP_QWEN:-}" ] && [ -d "$QWEN05" ]; then
  node bench/accelerators/interference.mjs --model "$QWEN05" --threads 1 --cold 1024 --warm-a 256 --decode 8 --rules 0,250 --offsets 0.5 --out $R/accelerators-interference-qwen05b
fi
# 2. SCOPE: decode-phase KV budget on models/default (speed and edit similarity against unbounded decoding).
node bench/accelerators/scope.mjs --out $R/accelerators-scope
uptime
