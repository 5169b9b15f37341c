#!/usr/bin/env bash
# Repository adaptation (issue 16): base vs adapted-without-replay vs adapted-with-replay on FIM tasks from held-out
# files of one package that is in neither the training corpus nor the dev set, and on the general dev tasks (forgetting).
#   nice -n 19 bash bench/adapt-repo/run.sh        # writes bench/results/adapt-repo.{json,md}
# Env: STEPS (16), BATCH (4), SEQ (256), REPLAY (0.25), TASKS (per held-out suite, 40), DEV_TASKS (per dev suite, 40),
#      EVAL_WINDOWS (8 windows of SEQ tokens per loss measurement), RESUME=1 (keep .work/adapt: skip the arms that have
#      an adapt.json and the suites already scored; the loaded 2-core machine needs more than one sitting).
# Package: comment-parser@1.4.9 (MIT), one of the six `split: "aside"` packages of native/corpus/npm-packages-v2.json,
# never trained on (not in the v1 corpus that models/default was trained on, and set aside from v2).
# Its kept files (native/tools/repo-files.mjs) are split by sha1(path) % 5: 0 = held out, else the adaptation repo.
# Replay data: files of the v1 training packages (native/corpus/manifest-npm.json, split train) from the corpus
# records in .work/corpus/npm-train.jsonl (node native/corpus/fetch-npm.mjs); TS/JS only (v1's Python came from
# the GPU machine's site-packages and is not on this machine).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-16} BATCH=${BATCH:-4} SEQ=${SEQ:-256} REPLAY=${REPLAY:-0.25} TASKS=${TASKS:-40} DEV_TASKS=${DEV_TASKS:-40}
w=.work/adapt
tgz=.work/corpus/npm-cache/comment-parser-1.4.9.tgz
[ -s "$tgz" ] || { mkdir -p .work/corpus/npm-cache && (cd .work/corpus/npm-cache && npm pack comment-parser@1.4.9 >/dev/null); }
[ "${RESUME:-0}" = 1 ] || rm -rf "$w/pkg" "$w/repo" "$w/out-"* "$w/pred"
if [ "${RESUME:-0}" != 1 ] || [ ! -s "$w/split.json" ]; then
rm -rf "$w/pkg" "$w/repo" && mkdir -p "$w/pkg" "$w/repo" "$w/tasks" "$w/pred"
tar -C "$w/pkg" -xzf "$tgz"
node native/tools/repo-files.mjs "$w/pkg/package" > "$w/all.jsonl"
# split, the adaptation repository (a copy of those files), replay records
/usr/bin/python3 - "$w" <<'PY'
import hashlib, json, os, sys
w = sys.argv[1]
recs = [json.loads(l) for l in open(f"{w}/all.jsonl")]
held = [r for r in recs if int(hashlib.sha1(r["path"].encode()).hexdigest(), 16) % 5 == 0]
adapt = [r for r in recs if r not in held]
with open(f"{w}/heldout.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in held)
for r in adapt:
    p = os.path.join(w, "repo", r["path"])
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "w").write(r["text"])
v1 = {p["name"] + "@" + p["version"] for p in json.load(open("native/corpus/manifest-npm.json"))["packages"] if p.get("split") == "train"}
n = 0
with open(f"{w}/replay.jsonl", "w") as f:
    for l in open(".work/corpus/npm-train.jsonl"):
        r = json.loads(l)
        if r["pkg"] in v1:
            f.write(l)
            n += 1
print(json.dumps({"files": len(recs), "heldout": len(held), "adapt": len(adapt), "replay_files": n,
                  "heldout_paths": sorted(r["path"] for r in held)}), file=open(f"{w}/split.json", "w"))
PY
node bench/quality/make-tasks.mjs --npm-dev "$w/heldout.jsonl" --out "$w/tasks/full" --per-lang "$TASKS" --humaneval /nonexistent >/dev/null
cp "$w/tasks/full/dev-ts-single.jsonl" "$w/tasks/heldout-single.jsonl"
cp "$w/tasks/full/dev-ts-multi.jsonl" "$w/tasks/heldout-multi.jsonl"
for s in dev-ts-single dev-py-single; do head -n "$DEV_TASKS" .work/tasks/$s.jsonl > "$w/tasks/$s.jsonl"; done
fi
common=(--steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --threads 2 --eval "heldout=$w/heldout.jsonl" --eval "dev_ts=bench/quality/data/npm-dev.jsonl.xz" --eval "dev_py=bench/quality/data/py-dev.jsonl.xz" --eval-windows "${EVAL_WINDOWS:-8}" --replay-chars 3000000)
arm() {  # NAME [extra adapt-repo options]
  local n=$1; shift
  [ -s "$w/out-$n/adapt.json" ] && return 0
  rm -rf "$w/out-$n"
  bash native/adapt-repo.sh "$w/repo" "$w/out-$n" "${common[@]}" "$@" 2>&1 | tee "$w/log-$n.txt"
}
arm noreplay
arm replay --replay "$REPLAY" --replay-data "$w/replay.jsonl"
bash bench/adapt-repo/score.sh "$w" base=models/default noreplay="$w/out-noreplay" replay="$w/out-replay"
node bench/adapt-repo/report.mjs "$w" "$(uptime)"
