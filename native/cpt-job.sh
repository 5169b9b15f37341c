#!/usr/bin/env bash
# One continual pre-training slot on the GPU machine (issue 16): two arms trained at the same time on the one
# GPU from the shipped models/default weights, on the same new data, differing only in the learning-rate schedule:
#   A "rewarm":   linear warm-up (WARMUP steps) to PEAK_LR, cosine to PEAK_LR/10 by the end (arXiv 2308.04014)
#   B "constant": LOW_LR from the first step (the shipped model's final learning rate: no re-warm)
# Loss curves on new held-out data, the held-out dev packages and old (v1) data come back per arm.
#   bash native/cpt-job.sh SECONDS_FROM_START_TO_STOP     (carry: .dev/i16 = DATA dir, see native/README.md)
# Needs in $DATA (default .dev/i16): new-*.jsonl.xz (training data), old-npm.jsonl.xz (optional: v1 training files,
# evaluation only), and the repository's models/default,
# bench/quality/data/{npm,py}-dev.jsonl.xz. Returns in $OUT: rewarm.ckpt.pt.partNN, constant.ckpt.pt.partNN
# (bf16 weights, 15 MiB parts), meta.tar.xz (ckpt.json of both arms with loss curves, streams.json), log.txt.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
t_start=$(date +%s)
stop_after=${1:-140}
here=$(cd "$(dirname "$0")" && pwd)
root=${REPO_ROOT:-$(cd "$here/.." && pwd)}  # models/default, bench/quality/data, native/corpus/manifest-py.json
data=${DATA:-$root/.dev/i16}
out=${OUT:-/tmp/out}
w=${WORK:-/tmp/cpt-work}
dev=${DEVICE:-cuda}
mkdir -p "$w/c" "$out"
exec > >(tee "$out/log.txt") 2>&1
stamp() { echo "[$(( $(date +%s) - t_start ))s] $*"; }
nvidia-smi -L 2>/dev/null || true
stamp "decompress"
pids=()
for f in "$data"/*.jsonl.xz "$root"/bench/quality/data/*-dev.jsonl.xz; do xz -T0 -dc "$f" > "$w/c/$(basename "${f%.xz}")" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done  # (a bare `wait` would also wait for the tee above)
end_at=$(( t_start + stop_after ))
stamp "start both arms (they compile while the token streams are made), train until +${stop_after}s"
evals=()
for n in new_heldout dev_ts dev_py old_npm old_py; do evals+=(--eval "$n=$w/s/$n.npy"); done
common=(--stream "$w/s/train.npy" --dev-stream "$w/s/dev_ts.npy" --init-onnx "$root/models/default" --end-at "$end_at"
        --wait-for "$w/s/streams.json" --device "$dev" --eval-every-s "${EVAL_EVERY:-10}" "${evals[@]}" ${TRAIN_ARGS:-})
python3 "$here/py/train.py" "${common[@]}" --name rewarm --schedule cosine --peak-lr "${PEAK_LR:-1e-3}" --warmup "${WARMUP:-100}" --out "$w/rewarm" > "$w/rewarm.log" 2>&1 &
pa=$!
python3 "$here/py/train.py" "${common[@]}" --name constant --schedule constant --peak-lr "${LOW_LR:-1e-4}" --out "$w/constant" > "$w/constant.log" 2>&1 &
pb=$!
stamp "token streams"
site=${OLD_SITE:-/opt/torch/.venv/lib/python3.12/site-packages}
old=()
[ -d "$site" ] && old=(--old-site "$site" --old-manifest "$root/native/corpus/manifest-py.json")
python3 "$here/py/cpt_streams.py" --tokenizer "$root/models/default" --out "$w/s" --new "$w"/c/new-*.jsonl \
  --eval "dev_ts=$w/c/npm-dev.jsonl" --eval "dev_py=$w/c/py-dev.jsonl" \
  $( [ -f "$w/c/old-npm.jsonl" ] && echo --eval "old_npm=$w/c/old-npm.jsonl" ) "${old[@]}" ${STREAM_ARGS:-} \
  || { echo "token streams failed"; kill $pa $pb; exit 1; }
stamp "streams ready"
rc=0
wait $pa || rc=$?
wait $pb || rc=$?
cat "$w/rewarm.log" "$w/constant.log"
stamp "collect (train rc $rc)"
for arm in rewarm constant; do
  for p in "$w/$arm"/ckpt.pt.part*; do [ -f "$p" ] && cp "$p" "$out/$arm.$(basename "$p")"; done
  [ -f "$w/$arm/ckpt.json" ] && cp "$w/$arm/ckpt.json" "$w/s/$arm.ckpt.json"
done
tar -C "$w/s" -cJf "$out/meta.tar.xz" $(cd "$w/s" && ls *.json)
ls -la "$out"
stamp "done"
exit $rc
