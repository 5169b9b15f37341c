#!/usr/bin/env bash
# LazyLLM's quality cost on models/default (issue 17): twins re-exported from the shipped graph's own weights
# (native/py/lazyllm.py; models/default has 8 layers: layers 0-2 always whole, then the schedules below), then
# `infill-ls eval` with the plain graph and with each twin (INFILL_LS_LAZYLLM=1: prefill runs of 128+ tokens go to the
# twin) on the two task sets of critiprefill-quality.sh, compared by critiprefill-quality.mjs:
#   dev: the first N tasks of each bench/quality dev suite (ts/py, single/multi line);
#   deep: every dev task whose kept prefix is >= 6,000 characters (cursor deep in a large file, prompts ~800 tokens).
#   bash bench/accelerators/lazyllm-quality.sh [N per suite, default 25] [deep limit, default 100] [schedules]
# schedules: NAME=LAYER:PERCENT[/LAYER:PERCENT...] separated by spaces (default below).
# (env TAG: a suffix for the result files.) Needs npm run build, /usr/bin/python3 with onnx + numpy (PY=...).
# Twins and predictions go under .work/ (ignored).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
N=${1:-25}
DEEP=${2:-100}
SCHEDULES=${3:-"lz70=3:70/5:50/7:35 lz85=3:85/5:70/7:50 lz50=2:60/4:40/6:25"}
W=.work/lazyllm
T=.work/tasks
mkdir -p $W
[ -s $T/dev-py-multi.jsonl ] || node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz --py-dev bench/quality/data/py-dev.jsonl.xz --out $T --per-lang 200
node -e '
const fs = require("fs"); const [T, W, N, DEEP] = process.argv.slice(1);
const dev = [], deep = [];
for (const s of ["dev-ts-single", "dev-py-single", "dev-ts-multi", "dev-py-multi"]) {
  const rows = fs.readFileSync(`${T}/${s}.jsonl`, "utf8").trim().split("\n").map(JSON.parse).map((r) => ({ ...r, id: `${s}/${r.id}` }));
  dev.push(...rows.slice(0, +N));
  deep.push(...rows.filter((r) => r.prefix.length >= 6000));
}
fs.writeFileSync(`${W}/dev.jsonl`, dev.map((r) => JSON.stringify(r)).join("\n") + "\n");
fs.writeFileSync(`${W}/deep.jsonl`, deep.slice(0, +DEEP).map((r) => JSON.stringify(r)).join("\n") + "\n");
' $T $W $N $DEEP
names=""
for spec in $SCHEDULES; do
  name=${spec%%=*}; sched=$(echo "${spec#*=}" | tr / ,)
  names="$names $name"
  d=$W/default-$name
  mkdir -p $d/onnx
  cp models/default/{config.json,tokenizer.json,tokenizer_config.json} $d/
  cmp -s models/default/onnx/model_quantized.onnx $d/onnx/model_quantized.onnx || cp models/default/onnx/model_quantized.onnx $d/onnx/
  # a twin older than the graph was made from another model: write it again (and always when the schedule changed)
  if [ ! $d/onnx/model_quantized_lazyllm.onnx -nt $d/onnx/model_quantized.onnx ] || [ "$(cat $d/schedule 2>/dev/null)" != "$sched" ]; then
    "$PY" native/py/lazyllm.py $d --schedule $sched && echo "$sched" > $d/schedule
  fi
done
uptime
for set in deep dev; do
  variants=""
  for v in plain $names; do
    case $v in plain) m=models/default; env=0; g=$m/onnx/model_quantized.onnx;; *) m=$W/default-$v; env=1; g=$m/onnx/model_quantized_lazyllm.onnx; variants="$variants${variants:+,}$v=$W/$set-$v.jsonl";; esac
    # predictions newer than their graph are kept (FORCE=1 runs them again)
    if [ -z "${FORCE:-}" ] && [ $W/$set-$v.jsonl -nt $g ]; then echo "kept $W/$set-$v.jsonl"; continue; fi
    INFILL_LS_LAZYLLM=$env INFILL_LS_LOG=debug node bin/infill-ls.js eval --tasks $W/$set.jsonl --out $W/$set-$v.jsonl --model $m --device cpu 2> $W/$set-$v.log
    tail -1 $W/$set-$v.log
    uptime
  done
  node bench/accelerators/critiprefill-quality.mjs --tasks $W/$set.jsonl --plain $W/$set-plain.jsonl --variants "$variants" --out bench/results/accelerators-lazyllm-quality-$set${TAG:-}.json
done
