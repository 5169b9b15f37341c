#!/usr/bin/env bash
# The decode-mode grid: every mode over every suite, each task decoded once and scored twice (post-processed
# `completion` and `raw`), sharded over P processes; writes bench/results/quality-modes.{json,md}.
#   bash bench/quality/modes.sh [-P PROCS] [-t THREADS] [-l LIMIT] [-m "MODES"] [-s "SUITES"] [-n NAME] [MODEL_DIR]
# MODES default: fim si0 si1 si2 (si<N> = self-infilling with N loops); SUITES default: the six of run.sh.
# -P: parallel eval processes (default 1; use the core count), -t: onnxruntime threads per process (default 1),
# -l: only the first LIMIT tasks of each suite (default all), -n: result name (default modes → quality-modes.*).
# EVAL_ARGS: extra `infill-ls eval` flags for every run (e.g. EVAL_ARGS="--fim psm").
# Needs node, python3 (HumanEval tests run) and a built server (npm run build). Run from anywhere.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
procs=1 threads=1 limit= modes="fim si0 si1 si2" name=modes
suites="dev-ts-single dev-py-single dev-ts-multi dev-py-multi humaneval-single humaneval-multi"
while getopts "P:t:l:m:s:n:" opt; do
  case $opt in
    P) procs=$OPTARG ;; t) threads=$OPTARG ;; l) limit=$OPTARG ;; m) modes=$OPTARG ;; s) suites=$OPTARG ;; n) name=$OPTARG ;;
    *) sed -n '2,8p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
model=${1:-models/default}
[ -f server/dist/main.js ] || { echo "modes.sh: build first (npm run build)" >&2; exit 1; }
tasks=.work/tasks
[ -s $tasks/humaneval-multi.jsonl ] || node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200
work=.work/modes/$name
rm -rf "$work" && mkdir -p "$work/tasks" bench/results
for s in $suites; do
  if [ -n "$limit" ]; then head -n "$limit" $tasks/$s.jsonl > "$work/tasks/$s.jsonl"; else cp $tasks/$s.jsonl "$work/tasks/$s.jsonl"; fi
done
# One job per (mode, suite, shard); xargs keeps P of them running.
jobs=()
for m in $modes; do for s in $suites; do for ((k = 0; k < procs; k++)); do jobs+=("$m $s $k"); done; done; done
printf '%s\n' "${jobs[@]}" | xargs -P "$procs" -L 1 bash -c '
  m=$0 s=$1 k=$2
  mkdir -p "'"$work"'/pred/$m"
  node bin/infill-ls.js eval --tasks "'"$work"'/tasks/$s.jsonl" --out "'"$work"'/pred/$m/$s.$k.jsonl" --shard "$k/'"$procs"'" \
    --mode "$m" --model "'"$model"'" --device cpu --threads '"$threads"' '"${EVAL_ARGS:-}"' 2> "'"$work"'/pred/$m/$s.$k.log" \
    || { echo "modes.sh: eval $m $s shard $k failed, see '"$work"'/pred/$m/$s.$k.log" >&2; exit 255; }
  echo "done $m $s $k" >&2'
rows="$work/rows.jsonl"
: > "$rows"
# Scoring runs HumanEval's tests in python: one scorer per (mode, suite, field), P at a time, rows joined in order.
for m in $modes; do for s in $suites; do cat "$work"/pred/$m/$s.*.jsonl > "$work/pred/$m/$s.jsonl"; done; done
for m in $modes; do for s in $suites; do for f in completion raw; do echo "$m $s $f"; done; done; done \
  | xargs -P "$procs" -L 1 bash -c '
  m=$0 s=$1 f=$2
  node bench/quality/score.mjs --tasks "'"$work"'/tasks/$s.jsonl" --pred "'"$work"'/pred/$m/$s.jsonl" --field $f \
    | node -e '"'"'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(JSON.stringify({ mode: process.argv[1], suite: process.argv[2], ...r }))'"'"' "$m" "$s" > "'"$work"'/score.$m.$s.$f.json"'
for m in $modes; do for s in $suites; do for f in completion raw; do cat "$work/score.$m.$s.$f.json" >> "$rows"; done; done; done
node bench/quality/modes-report.mjs --rows "$rows" --model "$model" --procs "$procs" --threads "$threads" --limit "${limit:-all}" \
  --json bench/results/quality-$name.json --md bench/results/quality-$name.md
echo "wrote bench/results/quality-$name.json and bench/results/quality-$name.md" >&2
