#!/usr/bin/env bash
# Issue 12 item 7: several lines where one is missing. Scores completions as the engine returns them (what an editor
# inserts: `score.mjs --truncate none`) and cut as SantaCoder/InCoder evaluations cut them (`--truncate reference`:
# single-line tasks at their first line break, multi-line ones to the reference's line count), for this build and,
# with -b, a baseline checkout's build. Writes bench/results/quality-<NAME>.{json,md}.
#   bash bench/quality/line-modes.sh [-b BASE_REPO] [-s K/N] [-d K/N] [-P PROCS] [-n NAME] [-c "CONFIGS"]
# CONFIGS (default "B A D"; A needs -b):
#   B  this build, tasks without their "kind", trigger manual: the engine chooses one line or several (the issue's
#      "as the engine returns it");
#   A  the same with BASE_REPO's build (a built checkout: BASE_REPO/bin/infill-ls.js);
#   D  this build, `eval --as-editor`: trigger automatic and the answer fitted as the LSP/API/CLI edges fit it.
# -s: HumanEval shard (default 0/1 = all), -d: dev multi-line shard (default 0/1); -P: parallel evals (default 1).
# SKIP_EVAL=1 scores the predictions already in .work/line-modes/NAME; BASE_COMMIT names the baseline's commit in the
# report. Needs python3 and `npm run build`.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
base= he=0/1 dev=0/1 procs=1 name=line-modes configs="B A D"
while getopts "b:s:d:P:n:c:" opt; do
  case $opt in b) base=$OPTARG ;; s) he=$OPTARG ;; d) dev=$OPTARG ;; P) procs=$OPTARG ;; n) name=$OPTARG ;; c) configs=$OPTARG ;; *) sed -n '2,16p' "$0" >&2; exit 2 ;; esac
done
[ -n "$base" ] || configs=${configs//A/}
tasks=.work/tasks
[ -s $tasks/humaneval-multi.jsonl ] || node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200
mkdir -p .work/tasks-nokind
for f in $tasks/*.jsonl; do
  node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => { const t = JSON.parse(l); delete t.kind; return JSON.stringify(t); }).join("\n") + "\n")' "$f" ".work/tasks-nokind/$(basename "$f")"
done
work=.work/line-modes/$name
suites="humaneval-single humaneval-multi dev-py-multi dev-ts-multi"
shard_of() { case $1 in humaneval-*) echo "$he" ;; *) echo "$dev" ;; esac; }
if [ "${SKIP_EVAL:-0}" != 1 ]; then
  jobs=()
  for c in $configs; do for s in $suites; do jobs+=("$c $s $(shard_of $s)"); done; done
  printf '%s\n' "${jobs[@]}" | BASE="$base" WORK="$work" xargs -P "$procs" -L 1 bash -c '
    c=$0 s=$1 k=$2
    case $c in A) bin="$BASE/bin/infill-ls.js" t=.work/tasks-nokind x= ;; B) bin=bin/infill-ls.js t=.work/tasks-nokind x= ;; D) bin=bin/infill-ls.js t=.work/tasks x=--as-editor ;; esac
    mkdir -p "$WORK/$c"
    node "$bin" eval --tasks "$t/$s.jsonl" --out "$WORK/$c/$s.jsonl" --shard "$k" --model models/default --device cpu --threads 1 $x 2> "$WORK/$c/$s.log"'
fi
rows="$work/rows.jsonl"
: > "$rows"
for c in $configs; do for s in $suites; do
  [ -s "$work/$c/$s.jsonl" ] || continue
  for cut in none reference; do
    node bench/quality/score.mjs --tasks "$tasks/$s.jsonl" --pred "$work/$c/$s.jsonl" --truncate $cut \
      | node -e 'const fs = require("fs"); const r = JSON.parse(fs.readFileSync(0, "utf8")); const p = fs.readFileSync(process.argv[3], "utf8").split("\n").filter(Boolean).map(JSON.parse);
        console.log(JSON.stringify({ config: process.argv[1], suite: process.argv[2], ...r, multi_line_answers: p.filter((x) => x.completion.trim().includes("\n")).length }))' "$c" "$s" "$work/$c/$s.jsonl" >> "$rows"
  done
done; done
node -e '
const fs = require("fs");
const rows = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
const label = { A: "before (baseline build), engine decides lines", B: "after, engine decides lines", D: "after, as an editor (automatic, fitted)" };
const out = { date: new Date().toISOString().slice(0, 10), machine: require("os").cpus()[0].model + " x" + require("os").cpus().length, load: require("os").loadavg().map((x) => +x.toFixed(1)), build: process.argv[7], baseline: process.argv[6], baseline_commit: process.argv[8] || null, humaneval_shard: process.argv[3], dev_shard: process.argv[4], rows };
fs.writeFileSync(process.argv[2] + ".json", JSON.stringify(out, null, 1) + "\n");
const pct = (x) => (x === undefined ? "–" : (100 * x).toFixed(1) + "%");
const lines = ["# Several lines where one is missing (issue 12 item 7)", "", "`bash bench/quality/line-modes.sh " + process.argv[5] + "` on " + out.machine + " (load average " + out.load.join(", ") + " when scored), " + out.date + "; this build " + out.build + ", baseline " + out.baseline + (out.baseline_commit ? " (commit " + out.baseline_commit + ")" : "") + ". HumanEval shard " + out.humaneval_shard + ", dev multi-line shard " + out.dev_shard + " (task i kept when i % N == K).", "", "as returned = the completion as the engine (A, B) or the edge (D) returned it; cut = first line for single-line tasks, the reference line count for multi-line ones. HumanEval: pass@1 by execution; dev: exact match / edit similarity.", "", "| config | suite | n | as returned | cut | multi-line answers | syntax errors added (as returned) |", "|---|---|---|---|---|---|---|"];
const key = (r) => r.config + " " + r.suite;
const seen = new Set();
for (const r of rows) {
  if (seen.has(key(r))) continue;
  seen.add(key(r));
  const asr = rows.find((x) => key(x) === key(r) && x.truncate === "none");
  const cut = rows.find((x) => key(x) === key(r) && x.truncate === "reference");
  const show = (x) => (x.pass_at_1 !== undefined ? pct(x.pass_at_1) : pct(x.exact_match) + " / " + x.edit_similarity.toFixed(3));
  lines.push("| " + r.config + ": " + label[r.config] + " | " + r.suite + " | " + r.n + " | " + show(asr) + " | " + show(cut) + " | " + asr.multi_line_answers + " | " + pct(asr.syntax_error_rate) + " |");
}
fs.writeFileSync(process.argv[2] + ".md", lines.join("\n") + "\n");
' "$rows" "bench/results/quality-$name" "$he" "$dev" "$*" "${base:-none}" "$(git rev-parse --short HEAD)" "${BASE_COMMIT:-}"
echo "wrote bench/results/quality-$name.json and .md" >&2
