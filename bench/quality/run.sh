#!/usr/bin/env bash
# Quality evaluation of a model directory: builds the task files (deterministic), runs `infill-ls eval`
# on each suite, scores them, and writes bench/results/quality-<name>.json.
#   bash bench/quality/run.sh [MODEL_DIR] [NAME] [SUITES...]
# SUITES default: dev-ts-single dev-py-single dev-ts-multi dev-py-multi humaneval-single humaneval-multi
# Needs python3 (HumanEval tests are executed) and a built server (npm run build).
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/default}
name=${2:-default}
shift $(( $# > 2 ? 2 : $# )) || true
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(dev-ts-single dev-py-single dev-ts-multi dev-py-multi humaneval-single humaneval-multi)
tasks=.work/tasks
[ -s $tasks/humaneval-multi.jsonl ] || node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200
mkdir -p bench/results .work/pred/$name
results=()
for s in "${suites[@]}"; do
  node bin/infill-ls.js eval --tasks $tasks/$s.jsonl --out .work/pred/$name/$s.jsonl --model "$model" --device cpu ${EVAL_ARGS:-} >&2
  results+=("$(node bench/quality/score.mjs --tasks $tasks/$s.jsonl --pred .work/pred/$name/$s.jsonl)")
  echo "${results[-1]}" >&2
done
printf '%s\n' "${results[@]}" | node -e '
const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
const out = { model: process.argv[1], date: new Date().toISOString().slice(0, 10), machine: require("os").cpus()[0].model + " x" + require("os").cpus().length, suites: {} };
for (const r of rows) out.suites[r.tasks.split("/").pop().replace(".jsonl", "")] = r;
require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 1) + "\n");
' "$model" "bench/results/quality-$name.json"
echo "wrote bench/results/quality-$name.json"
