#!/usr/bin/env bash
# Dev-task quality of a model on both x86-64 CPU classes (issue 11): the same dev tasks completed natively (this
# machine: AVX-512) and on an emulated AVX2-only CPU (bench/cpu/avx2.sh: QEMU user mode, -cpu EPYC-Rome; onnxruntime
# picks its kernels from cpuid, which QEMU reports without AVX-512), then compared task by task and scored.
#   bash bench/cpu/quality-avx2.sh [--model DIR] [--name NAME] [--single N] [--multi N] [--procs P] [--from-end K]
#                                  [--near-ties N] [--until HH:MM] [--report-only]
#   defaults: --model models/default --name v2-avx2-vs-avx512 --single 60 --multi 10 --procs 2 --from-end 0
#             --near-ties 0 --until (now + 90 min); --report-only rewrites the report from the predictions there
# Tasks: the model card's dev suites (bench/quality/make-tasks.mjs, built into .work/tasks like model-eval.sh does):
# N TypeScript + N Python single-line and M TypeScript + M Python multi-line tasks, each suite's tasks taken in a
# low-discrepancy order (golden-ratio steps over its 200 tasks), interleaved in rounds (one TS single, one Python
# single, a multi-line task every third round) and dealt round by round to P files; --from-end K adds K files that
# walk those P from their ends (the files alternating), so that K more processes finish tasks the first P would
# reach only after the time limit (a task both reach is counted once); --near-ties N adds one more process over the N
# tasks whose AVX-512 greedy path comes closest to a tie (smallest top-1/top-2 logit margin, below), once the native
# side is done: where a CPU class could change an answer, if anywhere. Emulation is ~200x slower than
# native here (one task: 2-6 min), so the emulated evals (P processes of 1 thread, niced) stop at --until (UTC); the
# tasks they finished are the comparison set, and every prefix of a file is balanced over the suites.
# Both sides run `infill-ls eval` (greedy, up to 64 tokens, the engine's default prompt budget, SPM, 1 thread, no
# decode time budget: load does not change the answers). The native side runs the same files completely.
# Report (bench/cpu/quality-avx2-report.mjs): per suite and in all, exact match / edit similarity on the raw model
# text (bench/quality/score.mjs --field raw) and post-processed, on each CPU class over the same tasks; how many raw
# and post-processed completions differ; for the ones that differ, the top-1/top-2 logit margin of the AVX-512
# run's greedy path at the first token where the two differ (a native teacher-forced pass).
# Writes bench/results/quality-NAME.{json,md}; predictions in .work/pred/NAME/. Needs npm run build, qemu-user.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
model=models/default name=v2-avx2-vs-avx512 single=60 multi=10 procs=2 from_end=0 near=0
until=$(date -u -d '+90 min' +%H:%M)
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --single) single=$2; shift 2 ;;
    --multi) multi=$2; shift 2 ;;
    --procs) procs=$2; shift 2 ;;
    --from-end) from_end=$2; shift 2 ;;
    --near-ties) near=$2; shift 2 ;;
    --until) until=$2; shift 2 ;;
    --report-only) report_only=1; shift ;;
    *) echo "usage: bash bench/cpu/quality-avx2.sh [--model DIR] [--name NAME] [--single N] [--multi N] [--procs P] [--from-end K] [--near-ties N] [--until HH:MM] [--report-only]" >&2; exit 2 ;;
  esac
done
[ -f server/dist/cli/eval.js ] || { echo "quality-avx2: build the server first (npm run build)" >&2; exit 1; }
n19='nice -n 19'
tasks=.work/tasks pred=.work/pred/$name
mkdir -p "$pred" bench/results
stamp() { echo "{\"utc\": \"$(date -u +%FT%TZ)\", \"uptime\": \"$(uptime | sed 's/^ *//')\"}"; }
log() { echo "quality-avx2 $(date -u +%T) $*" >&2; }
if [ -z "${report_only:-}" ]; then
  [ -s $tasks/dev-py-multi.jsonl ] || $n19 node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200
  end=$(date -u -d "$until" +%s); now=$(date -u +%s)
  [ "$end" -gt "$now" ] || end=$(( end + 86400 ))
  limit=$(( end - now ))
  node bench/cpu/quality-avx2-report.mjs subset --tasks $tasks --single "$single" --multi "$multi" --procs "$procs" --from-end "$from_end" --out "$pred"
  echo "{\"model\": \"$model\", \"single\": $single, \"multi\": $multi, \"procs\": $procs, \"from_end\": $from_end, \"near_ties\": $near, \"until\": \"$until\", \"start\": $(stamp)}" > "$pred/run.json"
  log "emulated AVX2: $(( procs + from_end )) processes until $until UTC ($limit s); $(uptime)"
  pids=()
  for ((k = 0; k < procs + from_end; k++)); do
    # eval writes each task's line as it finishes, so a process stopped by the time limit leaves whole lines
    timeout "$limit" $n19 bash bench/cpu/avx2.sh node bin/infill-ls.js eval --tasks "$pred/subset.$k.jsonl" --out "$pred/avx2.$k.jsonl" --model "$model" --device cpu --threads 1 > "$pred/avx2.$k.log" 2>&1 & pids+=($!)
  done
  log "native (AVX-512): the same files; $(uptime)"
  for ((k = 0; k < procs; k++)); do
    $n19 node bin/infill-ls.js eval --tasks "$pred/subset.$k.jsonl" --out "$pred/native.$k.jsonl" --model "$model" --device cpu --threads 1 > "$pred/native.$k.log" 2>&1
  done
  echo "{\"native_done\": $(stamp)}" >> "$pred/run.json"
  if [ "$near" -gt 0 ]; then
    k=$(( procs + from_end ))
    $n19 node bench/cpu/quality-avx2-report.mjs report --tasks $tasks --pred "$pred" --model "$model" --procs "$procs" --near-ties "$near" --out "$pred/subset.$k.jsonl"
    echo "{\"near_ties_start\": $(stamp)}" >> "$pred/run.json"
    timeout $(( end - $(date -u +%s) )) $n19 bash bench/cpu/avx2.sh node bin/infill-ls.js eval --tasks "$pred/subset.$k.jsonl" --out "$pred/avx2.$k.jsonl" --model "$model" --device cpu --threads 1 > "$pred/avx2.$k.log" 2>&1 & pids+=($!)
  fi
  for p in "${pids[@]}"; do wait "$p" || true; done
  echo "{\"avx2_done\": $(stamp)}" >> "$pred/run.json"
  log "evals done; $(uptime)"
fi
$n19 node bench/cpu/quality-avx2-report.mjs report --tasks $tasks --pred "$pred" --model "$model" --procs "$(( procs + from_end + (near > 0 ? 1 : 0) ))" --name "$name" --all-margins 1
