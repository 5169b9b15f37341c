#!/usr/bin/env bash
# One command for everything the model card reports about a model directory (issue 16): agreement with its fp32
# reference (golden.json), the dev and HumanEval suites, and CPU decode latency at 512 and 1,024 tokens of past,
# optionally side by side with a second model directory. Writes bench/results/model-eval-NAME.json and keeps the
# predictions in .work/pred/NAME/ (bench/quality/paired.mjs compares two runs task by task).
#   bash bench/quality/model-eval.sh MODEL_DIR NAME [--base BASE_DIR] [--suites "S1 S2 ..."] [--he-multi-every K]
#                                    [--latency-reps N] [--no-latency] [--no-golden]
# Suites (bench/quality/make-tasks.mjs, built once into .work/tasks): dev-ts-single dev-py-single dev-ts-multi
# dev-py-multi (200 tasks each), humaneval-single (all 1,033), humaneval-multi (every K-th of the 600 spread tasks,
# K = 3 by default: 200, so that a whole evaluation fits in ~25 minutes on the shared 2-core machine).
# Each suite runs as 2 `infill-ls eval` processes of 1 thread (--shard 0/2, 1/2), niced; eval has no decode time
# budget, so quality does not depend on load. Scores: bench/quality/score.mjs on the raw model text (--field raw,
# as the card's tables) and on the post-processed completion. Latency: bench/cpu/latency.mjs, 2 threads, MODEL_DIR
# and BASE_DIR in one process in alternating order rep by rep (ABBA), with the load average recorded.
# Needs a built server (npm run build) and python3 (HumanEval tests are executed).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
usage() { echo "usage: bash bench/quality/model-eval.sh MODEL_DIR NAME [--base BASE_DIR] [--suites \"S ...\"] [--he-multi-every K] [--latency-reps N] [--no-latency] [--no-golden]" >&2; exit 2; }
[ $# -ge 2 ] || usage
model=$1 name=$2
shift 2
base='' suites='dev-ts-single dev-py-single dev-ts-multi dev-py-multi humaneval-single humaneval-multi'
every=3 reps=7 latency=1 golden=1
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=$2; shift 2 ;;
    --suites) suites=$2; shift 2 ;;
    --he-multi-every) every=$2; shift 2 ;;
    --latency-reps) reps=$2; shift 2 ;;
    --no-latency) latency=0; shift ;;
    --no-golden) golden=0; shift ;;
    *) usage ;;
  esac
done
[ -f "$model/onnx/model_quantized.onnx" ] || { echo "model-eval: $model has no onnx/model_quantized.onnx" >&2; exit 1; }
[ -z "$base" ] || [ -f "$base/onnx/model_quantized.onnx" ] || { echo "model-eval: $base has no onnx/model_quantized.onnx" >&2; exit 1; }
[ -f server/dist/cli/eval.js ] || { echo "model-eval: build the server first (npm run build)" >&2; exit 1; }
n19='nice -n 19'
tasks=.work/tasks
pred=.work/pred/$name
tmp=$pred/parts
mkdir -p "$tmp" bench/results
# the task files are built when one that a suite asked for is missing (without the HumanEval files, make-tasks.mjs
# writes only the dev suites: a run with --suites of dev suites alone still works; a HumanEval suite then stops here)
for s in $suites; do
  [ -s $tasks/$s.jsonl ] || { $n19 node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200; break; }
done
for s in $suites; do
  [ -s $tasks/$s.jsonl ] || { echo "model-eval: no $tasks/$s.jsonl (the HumanEval suites need the four HumanEval-*Infilling*.jsonl.gz files in ../shared/bench/humaneval-infilling/; or leave them out with --suites)" >&2; exit 1; }
done
# the HumanEval multi-line subset: every K-th task of the file (the file is already spread over all 164 problems)
[ ! -s $tasks/humaneval-multi.jsonl ] || awk -v k="$every" '(NR - 1) % k == 0' $tasks/humaneval-multi.jsonl > $tasks/humaneval-multi-every$every.jsonl
stamp() { echo "{\"utc\": \"$(date -u +%FT%TZ)\", \"uptime\": \"$(uptime | sed 's/^ *//')\"}"; }
log() { echo "model-eval $(date -u +%T) $*" >&2; }
t_start=$(date +%s)
: > "$tmp/steps.jsonl"

size=$(du -cb "$model"/onnx/* "$model"/tokenizer.json "$model"/tokenizer_config.json "$model"/config.json | tail -1 | cut -f1)
dirsize=$(du -sb "$model" | cut -f1)
echo "{\"step\": \"size\", \"model_and_tokenizer_bytes\": $size, \"dir_bytes\": $dirsize}" >> "$tmp/steps.jsonl"

if [ $golden = 1 ] && [ -f "$model/golden.json" ]; then
  log "golden $(uptime)"
  g=$($n19 node native/tools/golden.mjs "$model" --tol 1e-3)
  echo "{\"step\": \"golden\", \"at\": $(stamp), \"result\": $g}" >> "$tmp/steps.jsonl"
fi

for s in $suites; do
  f=$tasks/$s.jsonl
  [ $s = humaneval-multi ] && f=$tasks/humaneval-multi-every$every.jsonl
  log "$s start $(uptime)"
  at0=$(stamp) t0=$(date +%s)
  pids=()
  for k in 0 1; do
    $n19 node bin/infill-ls.js eval --tasks $f --out "$tmp/$s.$k.jsonl" --model "$model" --device cpu --threads 1 --shard $k/2 > "$tmp/$s.$k.log" 2>&1 & pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait $p || rc=$?; done
  [ $rc = 0 ] || { echo "model-eval: eval of $s failed (rc $rc), see $tmp/$s.*.log" >&2; tail -3 "$tmp/$s".*.log >&2; exit 1; }
  cat "$tmp/$s.0.jsonl" "$tmp/$s.1.jsonl" > "$pred/$s.jsonl"
  wall=$(( $(date +%s) - t0 ))
  raw=$($n19 node bench/quality/score.mjs --tasks $f --pred "$pred/$s.jsonl" --field raw)
  post=$($n19 node bench/quality/score.mjs --tasks $f --pred "$pred/$s.jsonl" --field completion)
  echo "{\"step\": \"suite\", \"suite\": \"$s\", \"tasks\": \"$f\", \"wall_s\": $wall, \"start\": $at0, \"end\": $(stamp), \"raw\": $raw, \"postprocessed\": $post}" >> "$tmp/steps.jsonl"
  log "$s done in ${wall}s $(uptime)"
done

if [ $latency = 1 ]; then
  for past in 512 1024; do
    log "latency $past $(uptime)"
    at0=$(stamp)
    $n19 node bench/cpu/latency.mjs "$model" ${base:+"$base"} --threads 2 --reps $reps --steps 24 --prefill $past --out "$tmp/latency-$past.json" > /dev/null
    echo "{\"step\": \"latency\", \"past\": $past, \"start\": $at0, \"end\": $(stamp), \"result\": $(node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))))' "$tmp/latency-$past.json")}" >> "$tmp/steps.jsonl"
  done
fi

total=$(( $(date +%s) - t_start ))
node bench/quality/model-eval-summary.mjs "$tmp/steps.jsonl" "$model" "$base" "bench/results/model-eval-$name.json" "$total"
log "wrote bench/results/model-eval-$name.json (${total}s)"
