#!/usr/bin/env bash
# Repository adaptation on the GPU machine (issue 16 item 6): the arms of run.sh with a full step budget, trained on
# the device, evaluated here. Three phases:
#   bash bench/adapt-repo/gpu.sh prep      here: .work/adapt (run.sh's split of comment-parser@1.4.9) -> .dev/adapt
#                                          (adaptation files as repo-files.mjs records, held-out records, replay sample)
#   run command="bash bench/adapt-repo/gpu.sh device" carry=[".dev/adapt"]    on the GPU machine: the arms below,
#                                          each model as $OUT/ARM.tar.part*, adapt.json files in $OUT/adapt.tar.xz
#   bash bench/adapt-repo/gpu.sh eval DIR  here: unpack DIR (the returned files) into .work/adapt-gpu/out-ARM, run the
#                                          four task suites on base and every arm, write bench/results/adapt-repo-gpu.{json,md}
# Arms (ARMS to change): noreplay (0 replay), replay (0.25), replay50 (0.5); STEPS (200) x BATCH (8) x SEQ (512) tokens,
# the adapt_repo.py defaults (about 4 passes over the ~212K repository tokens), on models/default.
# Replay sample (prep): REPLAY_CHARS (4M) of v1 npm training records (.work/adapt/replay.jsonl, made by run.sh) and as
# many of Debian python3-* training records (DEB, default the corpus v2 output .work/debout/deb-train.jsonl).
case "${1:-}" in -h|--help|'') awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
ARMS=${ARMS:-noreplay:0 replay:0.25 replay50:0.5}
case "$1" in
prep)
  w=${ADAPT_WORK:-.work/adapt}
  [ -s "$w/split.json" ] || { echo "no $w/split.json: run bench/adapt-repo/run.sh first (it makes the split)"; exit 2; }
  mkdir -p .dev/adapt
  node native/tools/repo-files.mjs "$w/repo" > .dev/adapt/repo.jsonl
  cp "$w/heldout.jsonl" .dev/adapt/heldout.jsonl
  /usr/bin/python3 - "$w/replay.jsonl" "${DEB:-.work/debout/deb-train.jsonl}" "${REPLAY_CHARS:-4000000}" > .dev/adapt/replay.jsonl <<'PY'
import json, random, sys
npm, deb, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
for path in (npm, deb):
    recs = [l for l in open(path)]
    random.Random(0).shuffle(recs)
    n = 0
    for l in recs:
        if n >= cap:
            break
        n += len(json.loads(l)["text"])
        sys.stdout.write(l)
PY
  xz -6 -f .dev/adapt/replay.jsonl
  ls -la .dev/adapt ;;
device)
  OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/adapt
  for a in $ARMS; do
    n=${a%%:*} r=${a#*:}
    rm -rf "/tmp/adapt/out-$n"
    extra=(); [ "$r" != 0 ] && extra=(--replay "$r" --replay-data .dev/adapt/replay.jsonl.xz)
    ${PY:-python3} native/py/adapt_repo.py --repo-files .dev/adapt/repo.jsonl --out "/tmp/adapt/out-$n" --device "${DEVICE:-cuda}" \
      --steps "${STEPS:-200}" --batch "${BATCH:-8}" --seq "${SEQ:-512}" --eval heldout=.dev/adapt/heldout.jsonl \
      --eval dev_ts=bench/quality/data/npm-dev.jsonl.xz --eval dev_py=bench/quality/data/py-dev.jsonl.xz \
      --eval-windows "${EVAL_WINDOWS:-32}" "${extra[@]}" 2>&1 | tail -n 12
    tar -C "/tmp/adapt/out-$n" -cf - . | split -b 15M -d - "$OUT/$n.tar.part"
  done
  (cd /tmp/adapt && tar -cJf "$OUT/adapt.tar.xz" out-*/adapt.json)
  ls -la "$OUT" ;;
eval)
  d=${2:?eval DIR (the returned files)}
  w=.work/adapt-gpu; src=${ADAPT_WORK:-.work/adapt}
  mkdir -p "$w/pred" "$w/tasks"
  cp "$src/split.json" "$w/"; cp "$src"/tasks/*.jsonl "$w/tasks/"
  arms=base models=(base=models/default)
  for a in $ARMS; do
    n=${a%%:*}; arms="$arms $n"; models+=("$n=$w/out-$n")
    [ -s "$w/out-$n/onnx/model_quantized.onnx" ] || { rm -rf "$w/out-$n"; mkdir -p "$w/out-$n"; cat "$d/$n".tar.part* | tar -C "$w/out-$n" -xf -; }
  done
  bash bench/adapt-repo/score.sh "$w" "${models[@]}"
  node bench/adapt-repo/report.mjs "$w" "$(uptime)" --name adapt-repo-gpu --arms "$(echo $arms | tr ' ' ,)" \
    --command "bash bench/adapt-repo/gpu.sh prep; (GPU) bash bench/adapt-repo/gpu.sh device; bash bench/adapt-repo/gpu.sh eval DIR" ;;
*) echo "phase: prep, device or eval" >&2; exit 2 ;;
esac
