#!/usr/bin/env bash
# CPU latency on the AVX2 kernel class, measured natively: the GPU machine's Xeon (AVX-512, AMX) runs the model card's
# latency measurement (bench/cpu/latency.mjs: prefill of 512 / 1,024 tokens, then 32 decode steps at that past,
# 2 threads) twice per length, once plain and once with cpuid masked to an AVX2-only CPU (bench/cpu/cpuid-mask.c:
# CPUID faulting, so onnxruntime's MLAS picks its AVX2 kernels), in the order plain, masked, masked, plain.
# First it shows that the mask took: the cpuid bits a masked process sees, and the first DIR's teacher-forced logits
# (native/tools/golden.mjs --dump) plain against masked (native/tools/logit-diff.mjs; nonzero = other kernels ran);
# the masked dump comes back as $OUT/dump-masked.bin.xz to compare with `bash bench/cpu/avx2.sh`'s emulated AVX2 here.
# Refuses (exit 3) where CPUID faulting is unavailable (this development machine: an AMD EPYC VM).
# Run as a device job from the project root, after `npm run build` and bench/device/pack.sh; carry `.device` and
# `server/dist` (and an ignored model directory such as .dev/v1, in its own job); results go to $OUT:
#   bash bench/cpu/gpuhost-avx2.sh models/default        (then, in a second job: .dev/v1)
# The working tree plus what is carried must stay within 64 MiB: move bench/results, test/fixtures and native/corpus
# (and models/default for the .dev/v1 job) out of the checkout for the job, and back after it.
# What it stands for: the AVX2 code paths on this Xeon's cores and clock, not an AVX2-only CPU's microarchitecture.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bash bench/cpu/gpuhost-avx2.sh DIR..." >&2; exit 2; }
out="${OUT:-/tmp/gpuhost-avx2}"
reps="${REPS:-6}"
mkdir -p "$out"
so=/tmp/cpuid-mask.so
cc -O2 -shared -fPIC -o "$so" bench/cpu/cpuid-mask.c -ldl
# Refuse before the device setup, which a machine other than the GPU machine lacks (.device/device-setup.sh).
LD_PRELOAD=$so /bin/true || { echo "gpuhost-avx2.sh: CPUID faulting unavailable here; nothing measured" >&2; exit 3; }
source bench/device/setup.sh
cat > /tmp/cpuid-bits.c <<'C'
#include <cpuid.h>
#include <stdio.h>
int main(void) {
  unsigned a, b, c, d, b7, c7, d7, a71 = 0;
  __cpuid_count(7, 0, a, b7, c7, d7);
  __cpuid_count(7, 1, a71, b, c, d);
  __cpuid(1, a, b, c, d);
  printf("avx2 %u fma %u avx512f %u avx512bw %u avx512vl %u avx512vnni %u amx-int8 %u avx-vnni %u\n", (b7 >> 5) & 1,
         (c >> 12) & 1, (b7 >> 16) & 1, (b7 >> 30) & 1, (b7 >> 31) & 1, (c7 >> 11) & 1, (d7 >> 25) & 1, (a71 >> 4) & 1);
  return 0;
}
C
cc -O2 -o /tmp/cpuid-bits /tmp/cpuid-bits.c
{
  grep -m1 'model name' /proc/cpuinfo; echo "logical CPUs: $(nproc)"
  echo "avx512 (kernel's list): $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "cpuid_fault flag: $(grep -c -m1 cpuid_fault /proc/cpuinfo || true)"
  echo "plain : $(/tmp/cpuid-bits)"
  echo "masked: $(CPUID_MASK_VERBOSE=1 LD_PRELOAD=$so /tmp/cpuid-bits 2>&1 | tr '\n' ' ')"
  echo "node under the mask: $(CPUID_MASK_VERBOSE=1 LD_PRELOAD=$so node -e 'console.log("runs")' 2>&1 | tr '\n' ' ')"
  uptime
} > "$out/cpu.txt" 2>&1 || true
cat "$out/cpu.txt"
masked() { CPUID_MASK_VERBOSE=1 LD_PRELOAD=$so "$@"; }
if [ -f "$1/golden.json" ]; then
  {
    echo "plain:"; node native/tools/golden.mjs "$1" --tol 1e-3 --threads 2 --dump /tmp/dump-plain.bin
    echo "masked:"; masked node native/tools/golden.mjs "$1" --tol 1e-3 --threads 2 --dump /tmp/dump-masked.bin 2>&1
    echo "logit-diff plain masked:"; node native/tools/logit-diff.mjs /tmp/dump-plain.bin /tmp/dump-masked.bin 2>&1
  } > "$out/golden.txt" || true
  xz -3 -c /tmp/dump-masked.bin > "$out/dump-masked.bin.xz"
  cat "$out/golden.txt"
fi
for p in 512 1024; do
  for mode in plain masked masked2 plain2; do
    run=(node bench/cpu/latency.mjs "$@" --threads 2 --reps "$reps" --steps 32 --prefill "$p" --out "/tmp/lat-$p-$mode.json")
    case "$mode" in masked*) masked "${run[@]}" > /dev/null ;; *) "${run[@]}" > /dev/null ;; esac
  done
done
uptime >> "$out/cpu.txt"
node -e '
const fs = require("fs"), out = process.argv[1], all = {};
for (const p of [512, 1024]) for (const mode of ["plain", "masked", "masked2", "plain2"]) {
  const r = JSON.parse(fs.readFileSync(`/tmp/lat-${p}-${mode}.json`, "utf8"));
  all[`${p}-${mode}`] = r;
  for (const v of r.variants) console.log(p, mode.padEnd(7), v.dir, "prefill", v.prefill_ms_median, "ms; decode", v.decode_ms_per_token_median, "ms/token");
}
fs.writeFileSync(`${out}/latency.json`, JSON.stringify(all, null, 1) + "\n");' "$out" | tee "$out/summary.txt"
