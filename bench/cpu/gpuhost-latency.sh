#!/usr/bin/env bash
# CPU decode latency of model directories on the GPU machine's host CPU (another CPU class than this machine's: an
# Intel Xeon there, an AMD EPYC here), the model card's measurement (bench/cpu/latency.mjs: prefill of 512 / 1,024
# tokens, then 32 decode steps at that past, 2 threads, 11 reps, medians), with the CPU's model and AVX flags.
# Run as a device job from the project root, after `npm run build` and bench/device/pack.sh; carry `.device`,
# `server/dist` and the model directories (ignored paths such as .dev/v1); results go to $OUT:
#   bash bench/cpu/gpuhost-latency.sh models/default            (then, in a second job: .dev/v1)
# The working tree plus what is carried must stay within 64 MiB: move bench/results, test/fixtures and
# native/corpus out of the checkout for the job (and back after it).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bash bench/cpu/gpuhost-latency.sh DIR..." >&2; exit 2; }
out="${OUT:-/tmp/gpuhost-latency}"
mkdir -p "$out"
source bench/device/setup.sh
{ grep -m1 'model name' /proc/cpuinfo; echo "logical CPUs: $(nproc)"; echo "avx512: $(grep -o 'avx512[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"; echo "avx2: $(grep -c -m1 avx2 /proc/cpuinfo)"; echo "amx: $(grep -o 'amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"; uptime; } > "$out/cpu.txt"
cat "$out/cpu.txt"
for p in 512 1024; do
  node bench/cpu/latency.mjs "$@" --threads 2 --reps 11 --steps 32 --prefill "$p" --out "$out/latency-$p.json"
done
uptime >> "$out/cpu.txt"
