#!/usr/bin/env bash
# One training slot on the GPU machine: corpus → (tokenizer) → token streams → train → export → $OUT.
#   bash native/gpu-job.sh start  TRAIN_SECONDS   # first slot: trains the tokenizer, trains from scratch
#   bash native/gpu-job.sh resume TRAIN_SECONDS   # later slots: reuse .work/tok and resume from .work/ckpt
# Needs, carried from this repo: .work/corpus/npm-{train,dev}.jsonl.xz (node native/corpus/fetch-npm.mjs),
# and for resume .work/tok/ and .work/ckpt/ (from the previous slot's $OUT, see native/README.md).
# Returns in $OUT (the device tool's 8-file, 16-MiB-per-file limit): ckpt.pt.partNN (bf16 weights),
# model.tar.partNN (models/default), meta.tar.xz (tokenizer, logs, manifests, python dev files), log.txt.
set -euo pipefail
usage() { sed -n '2,8s/^# \{0,1\}//p' "$0"; }
# validate before anything is created or run (--help used to be taken as a mode after mkdir)
case "${1:-}" in
  start|resume) ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
mode=$1
budget=${2:-300}
[[ $budget =~ ^[0-9]+$ ]] || { echo "gpu-job.sh: TRAIN_SECONDS must be a whole number of seconds, got '$budget'" >&2; exit 2; }
seed=${SEED:-$([ "$mode" = start ] && echo 0 || date +%s)}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${OUT:-/tmp/out}
w=/tmp/infill-work
mkdir -p "$w/corpus" "$w/ckpt" "$w/model" "$out"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi -L || true
python3 -c 'import torch, tokenizers, onnx, onnxruntime; print("torch", torch.__version__, "tokenizers", tokenizers.__version__, "onnx", onnx.__version__, "ort", onnxruntime.__version__)'

stamp "python corpus"
python3 "$here/py/corpus_py.py" ${SITE:+--site "$SITE"} --out "$w/corpus" ${MAX_PY_FILES:+--max-files $MAX_PY_FILES}
npmdir=${NPM_CORPUS:-$root/.work/corpus}
xz -dc "$npmdir/npm-train.jsonl.xz" > "$w/corpus/npm-train.jsonl"
xz -dc "$npmdir/npm-dev.jsonl.xz" > "$w/corpus/npm-dev.jsonl"

if [ "$mode" = start ]; then
  stamp "tokenizer"
  python3 "$here/py/train_tokenizer.py" --corpus "$w/corpus/py-train.jsonl" "$w/corpus/npm-train.jsonl" --vocab 8192 --sample-mb "${TOK_SAMPLE_MB:-80}" --out "$w/tok"
  resume=()
else
  mkdir -p "$w/tok" && cp "$root/.work/tok/"tokenizer*.json "$w/tok/"
  resume=(--resume "$root/.work/ckpt")
fi

stamp "token streams (seed $seed)"
python3 "$here/py/prepare.py" --tokenizer "$w/tok" --train "$w/corpus/py-train.jsonl" "$w/corpus/npm-train.jsonl" \
  --dev "$w/corpus/py-dev.jsonl" "$w/corpus/npm-dev.jsonl" --passes "${PASSES:-1}" --seed "$seed" --out "$w/streams"

stamp "train ${budget}s"
python3 "$here/py/train.py" --stream "$w/streams/train.npy" --dev-stream "$w/streams/dev.npy" --out "$w/ckpt" \
  --budget-s "$budget" ${PEAK_LR:+--peak-lr $PEAK_LR} ${WARMUP:+--warmup $WARMUP} "${resume[@]}"

stamp "export"
python3 "$here/py/export.py" --ckpt "$w/ckpt" --tokenizer "$w/tok" --out "$w/model" --dev-stream "$w/streams/dev.npy"

stamp "collect"
cp "$w/ckpt/"ckpt.pt.part* "$out/"
tar -C "$w/model" -cf - . | split -b 15M -d - "$out/model.tar.part"
mkdir -p "$w/meta"
cp "$w/ckpt/ckpt.json" "$w/tok/"tokenizer*.json "$w/corpus/manifest-py.json" "$w/model/parity.json" "$w/meta/"
cp "$w/corpus/py-dev.jsonl" "$w/meta/"
tar -C "$w/meta" -cJf "$out/meta.tar.xz" .
ls -la "$out"
stamp "done"
