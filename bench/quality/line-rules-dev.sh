#!/usr/bin/env bash
# Issue 12 item 7: the line rules compared on held-out dev tasks from ONE decode per task (bench/quality/line-rules.mjs
# replays each rule on the raw middles; exact for rules that keep a prefix of the decoded lines, checked against the
# engine: bench/results/quality-line-rules-dev.md). Writes bench/results/quality-line-rules-dev.md.
#   bash bench/quality/line-rules-dev.sh [-s K/N] [-l K/N] [-P PROCS]   (SKIP_EVAL=1: replay the raw middles already decoded)
# -s: shard of the multi and single suites (default 0/4), -l: of the line and own suites (default 0/3).
# Suites (.work/tasks, made by make-tasks.mjs; the line suites derived here from the dev single-line tasks):
#   dev-{py,ts}-multi  a span of lines removed (cursor after the first line's indentation);
#   dev-{py,ts}-line   one whole line removed, the cursor at column 0 of the emptied line (a blank line in a block);
#   dev-{py,ts}-own    one whole line removed, HumanEval-infilling's layout (cursor at column 0, the next line's code
#                      right after it on the cursor's line);
#   dev-{py,ts}-single the rest of a line removed (the cursor after code).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
shard=0/4 lshard=0/3 procs=2
while getopts "s:l:P:" opt; do case $opt in s) shard=$OPTARG ;; l) lshard=$OPTARG ;; P) procs=$OPTARG ;; *) sed -n '2,13p' "$0" >&2; exit 2 ;; esac; done
tasks=.work/tasks raw=.work/line-rules-raw
[ -s $tasks/dev-py-single.jsonl ] || node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200
for L in py ts; do
  node -e '
    const fs = require("fs"); const [src, line, own] = process.argv.slice(1);
    const rows = fs.readFileSync(src, "utf8").split("\n").filter(Boolean).map(JSON.parse).filter((t) => t.suffix.startsWith("\n"));
    const whole = rows.map((t) => { const s = t.prefix.lastIndexOf("\n") + 1; return { ...t, prefix: t.prefix.slice(0, s), reference: t.prefix.slice(s) + t.reference }; }).filter((t) => t.reference.trim() !== "");
    fs.writeFileSync(line, whole.map((t) => JSON.stringify({ ...t, id: t.id.replace("single", "line") })).join("\n") + "\n");
    fs.writeFileSync(own, whole.filter((t) => t.suffix.slice(1).split("\n")[0].trim() !== "").map((t) => JSON.stringify({ ...t, id: t.id.replace("single", "own"), suffix: t.suffix.slice(1) })).join("\n") + "\n");
  ' $tasks/dev-$L-single.jsonl $tasks/dev-$L-line.jsonl $tasks/dev-$L-own.jsonl
done
suites="dev-py-multi dev-ts-multi dev-py-line dev-ts-line dev-py-own dev-ts-own dev-py-single dev-ts-single"
mkdir -p $raw/tasks
for s in $suites; do
  node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => { const t = JSON.parse(l); delete t.kind; return JSON.stringify(t); }).join("\n") + "\n")' $tasks/$s.jsonl $raw/tasks/$s.jsonl
done
if [ "${SKIP_EVAL:-0}" != 1 ]; then
  # Trigger manual without a line mode: the plan is multi-line wherever a rule could keep lines, so the raw middle
  # holds every line any rule keeps; a single-line plan's text is its first line.
  for s in $suites; do case $s in *-line|*-own) echo "$s $lshard" ;; *) echo "$s $shard" ;; esac; done | RAW=$raw xargs -P "$procs" -L 1 sh -c \
    'node bin/infill-ls.js eval --tasks "$RAW/tasks/$0.jsonl" --out "$RAW/$0.jsonl" --shard "$1" --model models/default --device cpu --threads 1 2> "$RAW/$0.log"'
fi
rules="first;all;engine;x:rep;x:rep,f=1/0.5;x:rep,f=2/0.5;x:rep,f=3/0.5;x:rep,f=1/0.5,m=3;x:rep,f=1/0.5,m=5;x:rep,f=2/0.5,m=3;x:rep,f=2/0.5,m=4;x:rep,f=2/0.5,m=5;x:rep,f=3/0.6,m=5;x:rep,f=2/0.5,m=5,op"
out=bench/results/quality-line-rules-dev.md
{
  echo "# Line rules on held-out dev tasks (issue 12 item 7)"
  echo
  echo "\`bash bench/quality/line-rules-dev.sh -s $shard -l $lshard\` on $(node -p 'require("os").cpus()[0].model + " x" + require("os").cpus().length') (load average $(cut -d' ' -f1-3 /proc/loadavg) when replayed), $(date -u +%F), build $(git rev-parse --short HEAD). Shard $shard of the multi and single suites, $lshard of the line and own suites (task i kept when i % N == K)."
  echo
  echo "One decode per task (eval, trigger manual, no line mode), each rule replayed on its raw middle, then the engine's post-processing; scored as returned: EM = exact match, ES = edit similarity, 'multi' = answers of several lines. Rules: first = the first line; all = every line the plan's stop rules keep; engine = this build's keepLines; x:… = variants (rep: cut at a repeated line; f=N/S: cut at a line with edit similarity >= S to one of the next N code lines; m=N: at most N lines; op: a deeper suffix keeps up to the first opener)."
  echo
  printf '| rule |'; for s in $suites; do printf ' %s |' "$s"; done; echo
  printf '|---|'; for s in $suites; do printf -- '---|'; done; echo
  declare -A col
  for s in $suites; do
    col[$s]=$(node bench/quality/line-rules.mjs --tasks $tasks/$s.jsonl --pred $raw/$s.jsonl --table --rules "$rules")
  done
  IFS=';' read -ra rs <<< "$rules"
  for i in "${!rs[@]}"; do
    printf '| %s |' "${rs[$i]}"
    for s in $suites; do
      echo "${col[$s]}" | sed -n "$((i + 1))p" | awk '{ printf " %s / %s (%s, n %s) |", $(NF-4), $(NF-2), $NF, $(NF-6) }'
    done
    echo
  done
} > $out
echo "wrote $out" >&2
