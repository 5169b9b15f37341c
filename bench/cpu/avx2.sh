#!/usr/bin/env bash
# Runs a Node command on an emulated AVX2-only x86-64 CPU (no AVX-512, no VNNI), to check that numerics and tests
# do not depend on the development machine's AVX-512 kernels. QEMU user mode (TCG) translates every instruction, so
# onnxruntime's CPU feature detection (cpuid) sees the emulated CPU and takes its AVX2 code paths.
#   apt-get install -y qemu-user      (QEMU >= 7.2: TCG emulates AVX2, FMA, F16C)
#   bash bench/cpu/avx2.sh node native/tools/golden.mjs models/default --tol 1e-3
#   bash bench/cpu/avx2.sh npx vitest run --pool=threads test/engine/default-model.test.ts
#   QEMU_CPU=Haswell bash bench/cpu/avx2.sh node ...   (another AVX2 model; default EPYC-Rome = Zen 2)
#   bash bench/cpu/avx2.sh --probe    prints the host's and the guest's cpuid flags (guest: avx2 yes, avx512f no; needs cc)
# Timing under emulation is meaningless (tens of times slower); use it for numbers, not speed.
# Child processes run natively (QEMU user mode does not follow exec: process.execPath is the host's node), so
# vitest needs `--pool=threads` (workers are threads of the emulated process); `npx X` runs node_modules/.bin/X's
# script under QEMU (npx itself would spawn it). Only `node` and `npx` commands are accepted.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cpu="${QEMU_CPU:-EPYC-Rome}"
command -v qemu-x86_64 >/dev/null || { echo "avx2.sh: qemu-x86_64 not found (apt-get install -y qemu-user)" >&2; exit 2; }
node_bin="$(command -v node)"
# Tests that run the model scale their timeouts by this (test/runtime/helpers/timeout.ts).
export INFILL_LS_TEST_TIMEOUT_SCALE="${INFILL_LS_TEST_TIMEOUT_SCALE:-30}"
# TCG lacks a few of the model's minor features (rdseed, sha-ni, xsavec, ...); QEMU warns about each on every thread.
filter() { grep -v "TCG doesn't support requested feature" >&2 || true; }
if [[ "${1:-}" == "--probe" ]]; then
  # /proc/cpuinfo is the host's under QEMU user mode: ask the (emulated) cpuid instruction instead (needs cc).
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  cat > "$tmp/cpuid.c" <<'C'
#include <cpuid.h>
#include <stdio.h>
int main(void) {
  unsigned a, b, c, d, b7 = 0, c7 = 0;
  __get_cpuid(1, &a, &b, &c, &d);
  unsigned fma = (c >> 12) & 1;
  if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d)) {}
  printf("{\"avx2\":%s,\"fma\":%s,\"avx512f\":%s,\"avx512_vnni\":%s}\n", (b7 >> 5) & 1 ? "true" : "false",
         fma ? "true" : "false", (b7 >> 16) & 1 ? "true" : "false", (c7 >> 11) & 1 ? "true" : "false");
  return 0;
}
C
  cc -O0 -o "$tmp/cpuid" "$tmp/cpuid.c"
  echo "host:      $("$tmp/cpuid")"
  echo "$cpu: $(qemu-x86_64 -cpu "$cpu" "$tmp/cpuid" 2> >(filter))"
  exit 0
fi
[[ $# -gt 0 ]] || { echo "usage: bench/cpu/avx2.sh [--probe] node|npx ARGS..." >&2; exit 2; }
case "$1" in
  node) shift; exec qemu-x86_64 -cpu "$cpu" "$node_bin" "$@" 2> >(filter) ;;
  npx)
    # npx would start the package's bin in a child process, i.e. natively: run the bin's script under QEMU instead.
    shift
    script="$(readlink -f "node_modules/.bin/${1:?npx needs a command}")" || { echo "avx2.sh: node_modules/.bin/$1 not found" >&2; exit 2; }
    shift
    exec qemu-x86_64 -cpu "$cpu" "$node_bin" "$script" "$@" 2> >(filter) ;;
  *) echo "avx2.sh: the command must start with node or npx (got $1)" >&2; exit 2 ;;
esac
