#!/usr/bin/env bash
# Completes and scores the four adaptation suites (held-out single/multi of the package, dev TS/Python single) for
# each model, skipping a suite already scored: the step run.sh and gpu.sh share.
#   bash bench/adapt-repo/score.sh WORK_DIR NAME=MODEL_DIR [NAME=MODEL_DIR ...]
# Reads WORK_DIR/tasks/SUITE.jsonl; writes WORK_DIR/pred/NAME-SUITE.jsonl and .score.json (bench/quality/score.mjs).
case "${1:-}" in -h|--help|'') awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
w=$1; shift
mkdir -p "$w/pred"
for arm in "$@"; do
  m=${arm%%=*} dir=${arm#*=}
  for s in heldout-single heldout-multi dev-ts-single dev-py-single; do
    [ -s "$w/pred/$m-$s.score.json" ] && continue
    node bin/infill-ls.js eval --tasks "$w/tasks/$s.jsonl" --out "$w/pred/$m-$s.jsonl" --model "$dir" --device cpu >/dev/null 2>&1
    node bench/quality/score.mjs --tasks "$w/tasks/$s.jsonl" --pred "$w/pred/$m-$s.jsonl" > "$w/pred/$m-$s.score.json"
    echo "$m $s $(cat "$w/pred/$m-$s.score.json")" >&2
  done
done
