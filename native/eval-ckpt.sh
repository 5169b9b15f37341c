#!/usr/bin/env bash
# Evaluate a bf16 checkpoint that came back from the GPU machine against the shipped model, the way
# models/default was exported and measured (native/README.md "export + parity", models/default/README.md
# "Evaluation"), without touching models/default.
#
#   bash native/eval-ckpt.sh CKPT_DIR OUT_DIR NAME [SUITES...]
#
# CKPT_DIR  ckpt.pt.part00.. + ckpt.json (train.py's layout; e.g. cpt-job.sh's `constant.ckpt.pt.part*` renamed)
# OUT_DIR   where the exported model directory goes (an ignored folder, e.g. .work/cpt2/model-constant)
# NAME      results go to bench/results/quality-NAME.json (both models, every suite, raw and post-processed)
# SUITES    default: dev-ts-single dev-py-single dev-ts-multi dev-py-multi (add humaneval-single if time allows)
# Env: SHARDS (processes per suite and model, default 1), THREADS (onnxruntime threads per process, default 1),
#      SKIP_EXPORT=1 (OUT_DIR already exported and checked), BASE (the model compared with, default models/default),
#      LIMIT=N (only the first N tasks of each shard: a smoke run).
# Steps: 1. native/py/export.py (8-bit block-wise weights, fp32 compute, the shipped tokenizer and config layout);
# 2. native/py/reference.py OUT --write (golden.json's fp32_tokens/fp32_margin); 3. native/tools/parity.mjs (node
# reproduces the fp32 tokens) and native/tools/golden.mjs --tol 1e-3 --write (parity.json "node"); 4. `infill-ls eval`
# of both models on the same task files (bench/quality/make-tasks.mjs, deterministic), every process interleaved so that
# machine load hits both models alike, then bench/quality/score.mjs with --field raw and --field completion.
# Needs Debian's python3-torch + python3-onnx (/usr/bin/python3) and a built server (npm run build).
# Everything runs under `nice -n 19` (the development machine is shared).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n 5,12p "$0" >&2; exit 2; }
ckpt=$1 out=$2 name=$3; shift 3
suites=("$@"); [ ${#suites[@]} -gt 0 ] || suites=(dev-ts-single dev-py-single dev-ts-multi dev-py-multi)
base=${BASE:-models/default} shards=${SHARDS:-1} threads=${THREADS:-1}
py=/usr/bin/python3 n19="nice -n 19"
if [ "${SKIP_EXPORT:-0}" != 1 ]; then
  [ -s "$ckpt/ckpt.json" ] || { echo "eval-ckpt: $ckpt/ckpt.json missing" >&2; exit 2; }
  $n19 $py native/py/export.py --ckpt "$ckpt" --tokenizer "$base" --out "$out" --fp32-out "$out.fp32.onnx"
  $n19 $py native/py/reference.py "$out" --write
fi
$n19 node native/tools/parity.mjs "$out" model_quantized.onnx fp32_tokens
$n19 node native/tools/golden.mjs "$out" --tol 1e-3 --write
tasks=.work/tasks
[ -s $tasks/humaneval-multi.jsonl ] || $n19 node bench/quality/make-tasks.mjs --npm-dev bench/quality/data/npm-dev.jsonl.xz \
  --py-dev bench/quality/data/py-dev.jsonl.xz --out $tasks --per-lang 200
pred=.work/pred/$name; mkdir -p "$pred" bench/results
pids=()
for s in "${suites[@]}"; do
  for k in $(seq 0 $((shards - 1))); do
    for m in base:"$base" ckpt:"$out"; do
      tag=${m%%:*} dir=${m#*:}
      $n19 node bin/infill-ls.js eval --tasks $tasks/$s.jsonl --out "$pred/$tag-$s.$k.jsonl" --model "$dir" --device cpu \
        --threads "$threads" --shard "$k/$shards" ${LIMIT:+--limit "$LIMIT"} > "$pred/$tag-$s.$k.log" 2>&1 &
      pids+=($!)
    done
  done
done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc = 0 ] || { echo "eval-ckpt: an eval process failed (logs in $pred/*.log)" >&2; exit 1; }
rows=()
for s in "${suites[@]}"; do
  for tag in base ckpt; do
    cat "$pred/$tag-$s".*.jsonl > "$pred/$tag-$s.jsonl"
    for f in raw completion; do
      rows+=("{\"model\":\"$tag\",\"suite\":\"$s\",\"score\":$(node bench/quality/score.mjs --tasks $tasks/$s.jsonl --pred "$pred/$tag-$s.jsonl" --field $f)}")
    done
  done
done
printf '%s\n' "${rows[@]}" | node -e '
const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
const [base, ckpt, file, shards, threads] = process.argv.slice(1);
const os = require("os");
const out = { base, ckpt, date: new Date().toISOString(), machine: os.cpus()[0].model + " x" + os.cpus().length,
  shards: Number(shards), threads: Number(threads), rows };
require("fs").writeFileSync(file, JSON.stringify(out, null, 1) + "\n");
for (const r of rows) console.log([r.model, r.suite, r.score.field, "n=" + r.score.n, "missing=" + r.score.missing,
  r.score.pass_at_1 !== undefined ? "pass@1=" + (100 * r.score.pass_at_1).toFixed(1) + "%"
    : "EM=" + (100 * r.score.exact_match).toFixed(1) + "% ES=" + r.score.edit_similarity.toFixed(3)].join(" "));
' "$base" "$out" "bench/results/quality-$name.json" "$shards" "$threads"
echo "wrote bench/results/quality-$name.json"
