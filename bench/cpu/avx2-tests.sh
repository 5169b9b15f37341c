#!/usr/bin/env bash
# Runs the test files that run a model in-process on an emulated CPU, one vitest run per file, and natively too, side
# by side. EMU=avx2 (default): an AVX2-only x86-64 CPU (bench/cpu/avx2.sh: QEMU user mode, -cpu EPYC-Rome unless
# QEMU_CPU is set). EMU=arm64 (bench/cpu/arm64-tests.sh sets it): an ARM aarch64 CPU (bench/cpu/arm64.sh: arm64 Node
# and onnxruntime's arm64 binding under qemu-aarch64, -cpu neoverse-n1 unless QEMU_CPU is set). Writes
# bench/results/$EMU-tests.json and .md: date, commit, host and guest CPU flags, the exact commands, per file and per
# test the result and the time on both sides, `uptime` before and after each run, and what is not covered.
#   nice -n 19 bash bench/cpu/avx2-tests.sh                  all files below (about an hour on a 2-core machine)
#   nice -n 19 bash bench/cpu/avx2-tests.sh test/runtime/fold.test.ts ...   only these files (same output files)
#   OUT=/tmp/x bash bench/cpu/avx2-tests.sh ...              write /tmp/x.json and /tmp/x.md instead
#   NATIVE=0 bash bench/cpu/avx2-tests.sh ...                emulated runs only
#   FILE_TIMEOUT_S=5400 (default): a file's run is killed after that long and recorded as timed out.
#   KEEP=bench/results/avx2-tests.json bash bench/cpu/avx2-tests.sh FILES...   re-run FILES and keep that report's
#                                            rows for the other files (each row names the commit it ran at)
#   KEEP_KERNEL=1 (with KEEP): skip the kernel check and keep that report's (it names its date and commit)
#   MERGE="/tmp/a.json /tmp/b.json": reports of invocations that ran other files at the same time (with OUT=/tmp/a
#                                            etc.); their own rows join this report's, each naming its command
#   KERNEL_CPUS="a b": the kernel check (golden logits, fixture margins) runs on each of these emulated CPUs too
#                                            (default: the test CPU only; arm64: neoverse-n1 max cortex-a72)
# The report is rewritten after every file, so an interrupted run leaves the files finished so far.
# Needs qemu-x86_64 (apt-get install -y qemu-user, QEMU >= 7.2) and cc (for the guest's cpuid probe); for arm64,
# what `bash bench/cpu/arm64.sh --setup` installs.
# Times under emulation are tens of times the native ones and say nothing about speed; they show what each file costs.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
emu="${EMU:-avx2}"
case "$emu" in
  avx2) export QEMU_CPU="${QEMU_CPU:-EPYC-Rome}"; kernel_cpus="${KERNEL_CPUS:-$QEMU_CPU}" ;;
  arm64) export QEMU_CPU="${QEMU_CPU:-neoverse-n1}"; kernel_cpus="${KERNEL_CPUS:-neoverse-n1 max cortex-a72}"; bash bench/cpu/arm64.sh --setup >&2 ;;
  *) echo "avx2-tests.sh: EMU is avx2 or arm64 (got $emu)" >&2; exit 2 ;;
esac
wrap=(bash "bench/cpu/$emu.sh")
out="${OUT:-bench/results/$emu-tests}"
native="${NATIVE:-1}"
file_timeout="${FILE_TIMEOUT_S:-5400}"

# Every test file that loads onnxruntime-node in the vitest process (worker threads included) and runs a model:
# the default model, the tiny fixtures under test/fixtures/models, synthetic ONNX graphs. A few of their tests also
# spawn child processes; those children run natively (QEMU user mode does not follow exec) and are listed as such.
# In order of how much their assertions rest on the model's numbers (an interrupted run covers the first ones).
# Not listed: test/cache/sticky-trim.test.ts loads the default model only for its tokenizer (no model run).
default_files=(
  test/engine/default-model.test.ts
  test/engine/prefix-cache.test.ts
  test/runtime/fold.test.ts
  test/runtime/packed-prefill.test.ts
  test/runtime/fixtures.test.ts
  test/runtime/qwen-layouts.test.ts
  test/engine/decode-modes.test.ts
  test/engine/postprocess-wiring.test.ts
  test/engine/cross-file-prompt.test.ts
  test/decoding/decode-kv-window.test.ts
  test/engine/cli.test.ts
  test/engine/warm-and-reuse.test.ts
  test/runtime/synthetic.test.ts
  test/runtime/errors.test.ts
  test/engine/engine.test.ts
  test/e2e/real-model.test.ts
  test/model-host/worker-host.test.ts
)
if [[ $# -gt 0 ]]; then files=("$@"); else files=("${default_files[@]}"); fi
for f in "${files[@]}"; do [[ -f "$f" ]] || { echo "avx2-tests.sh: no such file: $f" >&2; exit 2; }; done
# The test CPU's kernel check comes first (the report's main one), then the others.
cpus=("$QEMU_CPU")
for c in $kernel_cpus; do [[ "$c" == "$QEMU_CPU" ]] || cpus+=("$c"); done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
probe="$(for c in "${cpus[@]}"; do QEMU_CPU="$c" "${wrap[@]}" --probe; done | awk '!seen[$0]++')"
echo "$probe"
# Build once (vitest's global setup builds again, incrementally, before each run).
npx tsc -p tsconfig.json

# Kernel check: the default model's teacher-forced logits on the golden prompts, native and emulated. A difference
# above zero shows that the emulated CPU really takes other kernels (else the emulated runs would prove nothing);
# native/tools/golden.mjs also reports agreement with the fp32 reference on each side.
if [[ -n "${KEEP:-}" && "${KEEP_KERNEL:-0}" == "1" ]]; then
  echo "kernel check: kept from $KEEP (KEEP_KERNEL=1)"
else
golden_native="$(node native/tools/golden.mjs models/default --tol 1e-3 --dump "$work/native.bin")"
printf '%s\n' "$golden_native" > "$work/golden-native.json"
fixtures_native="$(node bench/cpu/fixture-margins.mjs --dump "$work/fx-native.bin")"
printf '%s\n' "$fixtures_native" > "$work/fx-native.json"
for c in "${cpus[@]}"; do
  golden_emulated="$(QEMU_CPU="$c" "${wrap[@]}" node native/tools/golden.mjs models/default --tol 1e-3 --dump "$work/emulated-$c.bin")"
  logit_diff="$(node native/tools/logit-diff.mjs "$work/native.bin" "$work/emulated-$c.bin")"
  echo "kernel check ($c), native vs emulated logits: $logit_diff"
  printf '%s\n' "$golden_emulated" > "$work/golden-emulated-$c.json"
  printf '%s\n' "$logit_diff" > "$work/logit-diff-$c.json"
  # The same for the tiny fixtures' golden paths (test/runtime/fixtures.test.ts compares their tokens exactly).
  fixtures_emulated="$(QEMU_CPU="$c" "${wrap[@]}" node bench/cpu/fixture-margins.mjs --dump "$work/fx-emulated-$c.bin")"
  fixtures_diff="$(node bench/cpu/fixture-margins.mjs --compare "$work/fx-native.bin" "$work/fx-emulated-$c.bin")"
  echo "kernel check ($c), fixtures: $fixtures_diff"
  printf '{"native":%s,"emulated":%s,"diff":%s}\n' "$fixtures_native" "$fixtures_emulated" "$fixtures_diff" > "$work/fixtures-$c.json"
done
fi

report() {
  EMU="$emu" node bench/cpu/avx2-tests-report.mjs --runs "$runs" --probe "$probe" --out "$out" --argv "$*" --planned "${#files[@]}" \
    ${keep_src:+--keep "$work/keep.json" --keep-name "$keep_src"} --kernel-dir "$work" --kernel-cpus "${cpus[*]}" "${merge_args[@]}"
}
merge_args=()
for m in ${MERGE:-}; do [[ -f "$m" ]] || { echo "avx2-tests.sh: MERGE: no such report: $m" >&2; exit 2; }; merge_args+=(--merge "$m"); done
keep_src="${KEEP:-}"
if [[ -n "$keep_src" ]]; then cp "$keep_src" "$work/keep.json"; fi
runs="$work/runs.jsonl"
: > "$runs"
i=0
for f in "${files[@]}"; do
  i=$((i + 1))
  sides=(emulated)
  [[ "$native" == "1" ]] && sides=(native emulated)
  for side in "${sides[@]}"; do
    json="$work/$i-$side.json"
    log="$work/$i-$side.log"
    vitest_args=(vitest run --pool=threads --maxWorkers=1 --reporter=verbose --reporter=json "--outputFile.json=$json" "$f")
    if [[ "$side" == "emulated" ]]; then cmd=("${wrap[@]}" npx "${vitest_args[@]}"); else cmd=(npx "${vitest_args[@]}"); fi
    echo "== [$i/${#files[@]}] $side: ${cmd[*]}"
    commit="$(git rev-parse --short HEAD)"
    if [[ -n "$(git status --porcelain --untracked-files=no -- test server bench/cpu)" ]]; then commit="$commit+changes"; fi
    up0="$(uptime)"
    t0="$(date +%s.%N)"
    set +e
    timeout --kill-after=30 "$file_timeout" "${cmd[@]}" > "$log" 2>&1
    rc=$?
    set -e
    t1="$(date +%s.%N)"
    up1="$(uptime)"
    tail -n 4 "$log" | sed 's/^/   /'
    node -e '
      const fs = require("fs");
      const [file, side, rc, t0, t1, up0, up1, json, log, cmd, runsFile, commit] = process.argv.slice(1);
      let tests = [];
      try {
        const r = JSON.parse(fs.readFileSync(json, "utf8"));
        for (const tr of r.testResults ?? []) for (const a of tr.assertionResults ?? [])
          tests.push({ name: a.fullName ?? a.title, status: a.status, ms: a.duration ?? null, failure: (a.failureMessages ?? []).join("\n").slice(0, 2000) || undefined });
      } catch { tests = null; }
      const text = fs.readFileSync(log, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
      const row = { file, side, commit, command: cmd, rc: Number(rc), timedOut: Number(rc) === 124 || Number(rc) === 137,
        wallS: Math.round((Number(t1) - Number(t0)) * 10) / 10, uptimeBefore: up0.trim(), uptimeAfter: up1.trim(), tests,
        logTail: Number(rc) === 0 ? undefined : text.split("\n").slice(-60).join("\n") };
      fs.appendFileSync(runsFile, JSON.stringify(row) + "\n");
    ' "$f" "$side" "$rc" "$t0" "$t1" "$up0" "$up1" "$json" "$log" "${cmd[*]}" "$runs" "$commit"
  done
  report "$@"
done
echo "wrote $out.json and $out.md"
