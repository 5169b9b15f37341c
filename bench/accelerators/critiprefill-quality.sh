#!/usr/bin/env bash
# CritiPrefill's quality cost on models/default (issue 17): twins re-exported from the shipped graph's own weights
# (native/py/critiprefill.py, blocks of 64 positions, budgets 4 and 6 blocks), then `infill-ls eval` with the plain
# graph and with each twin (INFILL_LS_CRITIPREFILL=1) on two task sets, compared by critiprefill-quality.mjs:
#   dev: the first N tasks of each bench/quality dev suite (ts/py, single/multi line);
#   deep: every dev task whose kept prefix is >= 6,000 characters (cursor deep in a large file: the 768-token prefix
#         budget is full, prompts ~800 tokens, as deep as models/default's 1,024-token training context allows).
#   bash bench/accelerators/critiprefill-quality.sh [N per suite, default 25] [deep limit, default 100]
# (env TAG: a suffix for the result files, e.g. TAG=-v2 -> accelerators-critiprefill-quality-{deep,dev}-v2.json)
# Needs npm run build, /usr/bin/python3 with torch + onnx (PY=...). Twins and predictions go under .work/ (ignored).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
N=${1:-25}
DEEP=${2:-100}
W=.work/critiprefill
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
for B in 4 6; do
  d=$W/default-cp$B
  mkdir -p $d/onnx
  cp models/default/{config.json,tokenizer.json,tokenizer_config.json} $d/
  cmp -s models/default/onnx/model_quantized.onnx $d/onnx/model_quantized.onnx || cp models/default/onnx/model_quantized.onnx $d/onnx/
  # a twin older than the graph was made from another model: write it again
  [ $d/onnx/model_quantized_critiprefill.onnx -nt $d/onnx/model_quantized.onnx ] || "$PY" native/py/critiprefill.py $d --block 64 --budget $B
done
uptime
for set in deep dev; do
  for v in plain cp4 cp6; do
    case $v in plain) m=models/default; env=0;; *) m=$W/default-$v; env=1;; esac
    INFILL_LS_CRITIPREFILL=$env INFILL_LS_LOG=debug node bin/infill-ls.js eval --tasks $W/$set.jsonl --out $W/$set-$v.jsonl --model $m --device cpu 2> $W/$set-$v.log
    tail -1 $W/$set-$v.log
  done
  # twin minimum past: (budget + 1) * 64
  node bench/accelerators/critiprefill-quality.mjs --tasks $W/$set.jsonl --plain $W/$set-plain.jsonl \
    --variants "cp4=$W/$set-cp4.jsonl:$W/$set-cp4.log:320,cp6=$W/$set-cp6.jsonl:$W/$set-cp6.log:448" --out bench/results/accelerators-critiprefill-quality-$set${TAG:-}.json
  uptime
done
