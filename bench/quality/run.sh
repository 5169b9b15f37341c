#!/usr/bin/env bash
# Quality evaluation of a model directory: builds the task files (deterministic), runs `infill-ls eval`
# on each suite, scores them, and writes bench/results/quality-<name>.json.
usage() {
  cat <<'USAGE'
usage: bash bench/quality/run.sh [MODEL_DIR] [NAME] [SUITES...]
  MODEL_DIR  model folder (default models/default)
  NAME       results name: bench/results/quality-NAME.json (default "default")
  SUITES     default: dev-ts-single dev-py-single dev-ts-multi dev-py-multi humaneval-single humaneval-multi
env: EVAL_ARGS (extra `infill-ls eval` flags), HUMANEVAL_DIR (folder with HumanEval-*Infilling.jsonl.gz; default
     ../shared/bench/humaneval-infilling next to the repository: the humaneval suites are skipped, with a message,
     when it is absent), QUALITY_TASKS_DIR (default .work/tasks), QUALITY_RESULTS_DIR (default bench/results).
Needs python3 (HumanEval tests are executed) and a built server (npm run build).
USAGE
}
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  -*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
model=${1:-models/default}
name=${2:-default}
shift $(( $# > 2 ? 2 : $# )) || true
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(dev-ts-single dev-py-single dev-ts-multi dev-py-multi humaneval-single humaneval-multi)
tasks=${QUALITY_TASKS_DIR:-.work/tasks}
out_dir=${QUALITY_RESULTS_DIR:-bench/results}
humaneval=${HUMANEVAL_DIR:-$(cd .. && pwd)/shared/bench/humaneval-infilling}
missing=0
for s in "${suites[@]}"; do [ -s "$tasks/$s.jsonl" ] || missing=1; done
if [ $missing = 1 ]; then
  node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz \
    --humaneval "$humaneval" --out "$tasks" --per-lang 200 >&2
fi
mkdir -p "$out_dir" ".work/pred/$name"
results=()
skipped=()
for s in "${suites[@]}"; do
  if [ ! -s "$tasks/$s.jsonl" ]; then
    case "$s" in
      humaneval-*) why="HumanEval infilling data not found under $humaneval (set HUMANEVAL_DIR)" ;;
      *) why="no task file $tasks/$s.jsonl (not a suite make-tasks.mjs builds?)" ;;
    esac
    echo "skip $s: $why" >&2
    skipped+=("$s: $why")
    continue
  fi
  node bin/infill-ls.js eval --tasks "$tasks/$s.jsonl" --out ".work/pred/$name/$s.jsonl" --model "$model" --device cpu ${EVAL_ARGS:-} >&2
  results+=("$(node bench/quality/score.mjs --tasks "$tasks/$s.jsonl" --pred ".work/pred/$name/$s.jsonl")")
  echo "${results[-1]}" >&2
done
# Scored suites as JSON lines on stdin; the skipped ones (with the reason) as arguments.
printf '%s\n' "${results[@]}" | node -e '
const text = require("fs").readFileSync(0, "utf8").trim();
const rows = text === "" ? [] : text.split("\n").map(JSON.parse);
const [model, file, ...skipped] = process.argv.slice(1);
const out = { model, date: new Date().toISOString().slice(0, 10), machine: require("os").cpus()[0].model + " x" + require("os").cpus().length, suites: {} };
for (const r of rows) out.suites[r.tasks.split("/").pop().replace(".jsonl", "")] = r;
if (skipped.length > 0) out.skipped = skipped;
require("fs").writeFileSync(file, JSON.stringify(out, null, 1) + "\n");
' "$model" "$out_dir/quality-$name.json" "${skipped[@]}"
echo "wrote $out_dir/quality-$name.json${skipped[0]:+ (skipped: ${#skipped[@]} suite(s))}"
