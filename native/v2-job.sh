#!/usr/bin/env bash
# Issue 16's v2 default model, trained from scratch on the GPU machine over a chain of device calls that keep their
# state in /tmp (kept between calls only while the machine stays warm). Every step is resumable from what /tmp holds.
#   bash native/v2-job.sh data N        carry .dev/v2/partN.jsonl.xz (N=1 also .dev/v2/dev-deb.jsonl.xz):
#                                       unpack, tokenize -> /tmp/v2/s/partN.npy; N=1 also builds the site-packages
#                                       Python corpus (py/corpus_py.py) and its stream, and the evaluation streams
#                                       (ALSO_AS=M: part N's text once more as stream M, other spans)
#   bash native/v2-job.sh data site     only the evaluation streams and the site-packages stream (when data 1 ran out of time)
#   bash native/v2-job.sh train1 S      carry the last part (.dev/v2/partN.jsonl.xz): tokenize it while train.py compiles,
#                                       train until S seconds after the call began; full state -> /tmp/v2/state.pt
#                                       (also saved every 120 s; a second train1 resumes from it)
#   bash native/v2-job.sh train2 S      resume the state, finish the schedule (cosine to 1/10; QAT in its last
#                                       1 - QAT_FROM), stop at S - EXPORT_S, export the 4-bit model -> $OUT
#   bash native/v2-job.sh export        export again from /tmp/v2/ckpt32 (when train2's export failed) -> $OUT
#   bash native/v2-job.sh collect K     bf16 weights parts (15 MiB): K=1 -> parts 00-01, K=2 -> parts 02-.. -> $OUT
#   bash native/v2-job.sh status        what /tmp/v2 holds
#   bash native/v2-job.sh smoke         the whole chain on this machine's CPU with a tiny shape (DEVICE=cpu)
# Environment: DEVICE (cuda), MODEL_CONFIG (JSON, the v2 shape below), TOTAL_S (planned training seconds over both
# calls; train2 ends the schedule wherever it stops), QAT_FROM (0.75), SEQ (1024), BATCH (128), PEAK_LR (2e-3),
# PARTS (4: train1 refuses with fewer part streams unless MIN_PARTS is lower), EXPORT_S (110), OUT (/tmp/out),
# INIT_ONNX (train1 starts from that model directory's weights: continued pre-training), WARMUP (200),
# V2 (/tmp/v2), SITE (the GPU machine's site-packages), PY (python3), EXPAND (with INIT_ONNX: train.py --expand-layers,
# e.g. 3,7: block expansion 8 -> 10 layers), LINEAR_BLOCK (32: the 4-bit block of QAT and of the export; 64 or 128 store
# fewer scales, so more layers fit the 20 MiB cap), SPAN_MIX (v2: data.py's FIM span mix of the training streams;
# lines: more multi-line and block spans; lines2: half of those blocks from column 0, what v5's fix-up used; the
# evaluation streams always use v2).
set -euo pipefail
t_start=$(date +%s)
usage() { sed -n '2,26s/^# \{0,1\}//p' "$0"; }
# validate the subcommand before anything is created under /tmp or $OUT
case "${1:-}" in
  data|train1|train2|export|collect|status|smoke) ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
cmd=$1
arg=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# smoke without V2: a fresh directory of its own, so it never resumes (and overwrites) another run's /tmp/v2 state.
if [ "$cmd" = smoke ] && [ -z "${V2:-}" ]; then V2=$(mktemp -d /tmp/v2-smoke.XXXXXX); OUT=${OUT:-$V2/out}; fi
v2=${V2:-/tmp/v2}
out=${OUT:-/tmp/out}
dev=${DEVICE:-cuda}
parts=${PARTS:-4}
site=${SITE:-/opt/torch/.venv/lib/python3.12/site-packages}
cfg=${MODEL_CONFIG:-'{"hidden_size": 512, "num_layers": 8, "num_heads": 8, "num_kv_heads": 2, "intermediate_size": 1408}'}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
mkdir -p "$v2/c" "$v2/s" "$out"
exec > >(tee -a "$out/log.txt") 2>&1
stamp() { echo "[$(( $(date +%s) - t_start ))s] $*"; }
py=${PY:-python3}
stream() { "$py" "$here/py/v2_streams.py" --tokenizer "$root/models/default" "$@"; }
unxz_to() { [ -f "$2" ] || { xz -T0 -dc "$1" > "$2.tmp" && mv "$2.tmp" "$2"; }; }
stamp "v2-job $cmd $arg on $(hostname); $(nvidia-smi -L 2>/dev/null | head -1 || true)"

evals_and_site() {  # the evaluation streams (tracked dev files + the v2 dev packages) and the site-packages stream
  local pids=()
  unxz_to "$root/bench/quality/data/npm-dev.jsonl.xz" "$v2/c/npm-dev.jsonl"
  unxz_to "$root/bench/quality/data/py-dev.jsonl.xz" "$v2/c/py-dev.jsonl"
  [ -f "$v2/s/dev.json" ] || { stream --eval --out "$v2/s/dev.npy" "$v2/c/py-dev.jsonl" "$v2/c/npm-dev.jsonl" & pids+=($!); }
  [ -f "$v2/s/dev_ts.json" ] || { stream --eval --out "$v2/s/dev_ts.npy" "$v2/c/npm-dev.jsonl" & pids+=($!); }
  [ -f "$v2/s/dev_py.json" ] || { stream --eval --out "$v2/s/dev_py.npy" "$v2/c/py-dev.jsonl" & pids+=($!); }
  for n in deb; do
    f="$root/.dev/v2/dev-$n.jsonl.xz"
    if [ -f "$f" ] && [ ! -f "$v2/s/dev_$n.json" ]; then
      unxz_to "$f" "$v2/c/dev-$n.jsonl"; stream --eval --out "$v2/s/dev_$n.npy" "$v2/c/dev-$n.jsonl" & pids+=($!)
    fi
  done
  if [ ! -f "$v2/s/site.json" ]; then
    if [ -d "$site" ]; then
      ( [ -f "$v2/c/py/py-train.jsonl" ] || "$py" "$here/py/corpus_py.py" --site "$site" --out "$v2/c/py" ${MAX_PY_FILES:+--max-files $MAX_PY_FILES}
        stream --span-mix "${SPAN_MIX:-v2}" --out "$v2/s/site.npy" "$v2/c/py/py-train.jsonl" ) & pids+=($!)
    else
      echo "no site-packages at $site: the Python of corpus v2 is Debian's only"
    fi
  fi
  for p in "${pids[@]}"; do wait "$p"; done
}

part_stream() {  # N: unpack and tokenize part N if its stream is not there yet
  local n=$1 f="$root/.dev/v2/part$1.jsonl.xz"
  [ -f "$v2/s/part$n.json" ] && { stamp "part $n already tokenized"; return 0; }
  [ -f "$f" ] || { echo "missing $f (carry it)"; return 2; }
  unxz_to "$f" "$v2/c/part$n.jsonl"
  stream --seed "$n" --span-mix "${SPAN_MIX:-v2}" --out "$v2/s/part$n.npy" "$v2/c/part$n.jsonl" ${MAX_RECORDS:+--max-records $MAX_RECORDS}
  # ALSO_AS=M: the same text a second time as part M, with part M's seed (other FIM spans): upsampling without a
  # second transfer
  if [ -n "${ALSO_AS:-}" ] && [ ! -f "$v2/s/part$ALSO_AS.json" ]; then
    stream --seed "$ALSO_AS" --span-mix "${SPAN_MIX:-v2}" --out "$v2/s/part$ALSO_AS.npy" "$v2/c/part$n.jsonl" ${MAX_RECORDS:+--max-records $MAX_RECORDS}
  fi
  rm -f "$v2/c/part$n.jsonl"
}

train_args() {  # $1: end-at unix time
  local ev=()
  for n in dev_ts dev_py dev_deb; do ev+=(--eval "$n=$v2/s/$n.npy"); done
  echo --dev-stream "$v2/s/dev.npy" "${ev[@]}" \
    --out "$v2/ckpt" --state "$v2/state.pt" --end-at "$1" --device "$dev" --seq "${SEQ:-1024}" --batch "${BATCH:-128}" \
    --peak-lr "${PEAK_LR:-2e-3}" --warmup "${WARMUP:-200}" --qat-from "${QAT_FROM:-0.75}" --qat-block "${LINEAR_BLOCK:-32}" --eval-every-s "${EVAL_EVERY:-20}" --eval-batches "${EVAL_BATCHES:-4}" \
    --compile "${COMPILE:-1}" --name v2
}

export_model() {
  stamp "export (4-bit layers, block ${LINEAR_BLOCK:-32})"
  rm -rf "$v2/model" && mkdir -p "$v2/model"
  "$py" "$here/py/export.py" --ckpt "$v2/ckpt32" --tokenizer "$root/models/default" --out "$v2/model" \
    --dev-stream "$v2/s/dev.npy" --linear-bits 4 --linear-block "${LINEAR_BLOCK:-32}" --fp32-out "$v2/model-fp32.onnx"
  cp "$root/models/default/README.md" "$v2/model/README.md"  # the contract; the card itself is rewritten on the dev machine
  tar -C "$v2/model" -cf - . | split -b 15M -d - "$out/model.tar.part"
  mkdir -p "$v2/meta" && cp "$v2/ckpt/ckpt.json" "$v2/model/parity.json" "$v2/model/config.json" "$v2"/s/*.json "$v2/meta/" 2>/dev/null || true
  [ -f "$v2/c/py/manifest-py.json" ] && cp "$v2/c/py/manifest-py.json" "$v2/meta/"
  cp "$v2"/*.log "$v2/meta/" 2>/dev/null || true
  tar -C "$v2/meta" -cJf "$out/meta.tar.xz" .
  ls -la "$out"
}

case "$cmd" in
  status)
    ls -la "$v2" "$v2/s" 2>/dev/null; du -sh "$v2" 2>/dev/null; nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null || true ;;
  data)
    [ -n "$arg" ] || { echo "data N|site"; exit 2; }
    if [ "$arg" = site ]; then evals_and_site; stamp "data site done"; exit 0; fi
    pids=()
    [ "$arg" = 1 ] && { evals_and_site & pids+=($!); }
    part_stream "$arg" & pids+=($!)
    rc=0; for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    for f in "$v2"/s/*.json; do [ -f "$f" ] && { echo -n "$(basename "$f"): "; tr -d '\n ' < "$f"; echo; }; done
    stamp "data $arg done (rc $rc)"; exit $rc ;;
  train1|train2)
    [ -n "$arg" ] || { echo "$cmd SECONDS"; exit 2; }
    if [ "$cmd" = train2 ] && [ ! -f "$v2/state.pt" ]; then
      echo "no $v2/state.pt: the machine went cold since train1 (or train1 never saved); run the data calls and train1 again"; exit 3
    fi
    reserve=0; [ "$cmd" = train2 ] && reserve=${EXPORT_S:-110}
    end=$(( t_start + arg - reserve ))
    rm -f "$v2/s/ready"
    # train.py compiles (forward + backward, plain and QAT) while the last part is tokenized; it waits for s/ready
    train_extra=()
    [ "$cmd" = train2 ] && train_extra=(--finish --fp32-out "$v2/ckpt32")
    [ "$cmd" = train1 ] && train_extra=(--total-s "${TOTAL_S:-880}")
    # INIT_ONNX=DIR (a model directory of the checkout, e.g. models/default): train1 starts from its weights (dequantized
    # as its graph does, checked against its golden.json) instead of random ones: continued pre-training. train2 takes
    # it too, for the model's shape (its weights then come from the state), so MODEL_CONFIG need not match.
    [ -n "${INIT_ONNX:-}" ] && train_extra+=(--init-onnx "$root/$INIT_ONNX")
    [ -n "${EXPAND:-}" ] && train_extra+=(--expand-layers "$EXPAND")
    ( # the streams are listed once they are all there
      set -e
      if [ "$cmd" = train1 ]; then
        [ -f "$v2/s/dev.json" ] || evals_and_site
        for n in $(seq 1 "$parts"); do if [ -f "$root/.dev/v2/part$n.jsonl.xz" ]; then part_stream "$n"; fi; done
      fi
      have=$(ls "$v2"/s/part*.json 2>/dev/null | wc -l)
      echo "part streams: $have of $parts; site: $([ -f "$v2/s/site.json" ] && echo yes || echo no)"
      if [ "$have" -lt "${MIN_PARTS:-$parts}" ]; then echo "too few part streams (MIN_PARTS=${MIN_PARTS:-$parts})"; exit 4; fi
      for f in "$v2"/s/part*.npy "$v2/s/site.npy"; do [ -f "${f%.npy}.json" ] && echo "$f"; done > "$v2/s/streams.txt"
      touch "$v2/s/ready"
    ) & prep=$!
    "$py" "$here/py/train.py" $(train_args "$end") --model-config "$cfg" --streams-from "$v2/s/streams.txt" \
      --wait-for "$v2/s/ready" "${train_extra[@]}" > "$v2/$cmd.log" 2>&1 &
    tr=$!
    rc=0; wait $prep || rc=$?
    [ $rc = 0 ] || { echo "stream preparation failed (rc $rc)"; kill $tr 2>/dev/null; wait $tr || true; cat "$v2/$cmd.log"; exit $rc; }
    wait $tr || rc=$?
    cat "$v2/$cmd.log"
    stamp "$cmd training rc $rc"
    [ $rc = 0 ] || exit $rc
    if [ "$cmd" = train2 ]; then export_model; fi
    stamp "$cmd done" ;;
  export)
    [ -d "$v2/ckpt32" ] || { echo "no $v2/ckpt32"; exit 3; }
    export_model ;;
  collect)
    case "$arg" in 1) sel="00 01" ;; *) sel="02 03 04 05" ;; esac
    for k in $sel; do [ -f "$v2/ckpt/ckpt.pt.part$k" ] && cp "$v2/ckpt/ckpt.pt.part$k" "$out/"; done
    cp "$v2/ckpt/ckpt.json" "$out/"; ls -la "$out" ;;
  smoke)  # the chain as the GPU machine runs it, on this CPU, tiny: data 1, data 2, train1, train2 (+ export)
    export DEVICE=cpu COMPILE=0 SEQ=128 BATCH=4 WARMUP=5 PARTS=2 MAX_RECORDS=${MAX_RECORDS:-40} MAX_PY_FILES=200 \
      SITE=${SMOKE_SITE:-/nonexistent} TOTAL_S=150 EXPORT_S=${EXPORT_S:-90} EVAL_EVERY=10 EVAL_BATCHES=1 \
      MODEL_CONFIG='{"hidden_size": 128, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 256}'
    [ -e "$v2/state.pt" ] && echo "smoke: $v2 already holds a training state: the chain resumes it (unset V2 for a fresh directory)"
    export V2=$v2 OUT=$out
    export PY=${PY:-/usr/bin/python3}
    bash "$0" data 1; bash "$0" data 2; bash "$0" train1 "${SMOKE_T1:-100}"; bash "$0" train2 "${SMOKE_T2:-200}"
    stamp "smoke done" ;;
  *) echo "unknown subcommand $cmd"; exit 2 ;;
esac
