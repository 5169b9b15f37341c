#!/usr/bin/env bash
# The model tests, the default model's golden-logit kernel check and the fixture margins on an emulated ARM (aarch64)
# CPU, natively too, side by side: bench/cpu/avx2-tests.sh with EMU=arm64 (bench/cpu/arm64.sh runs each emulated
# command; its --setup, run first, installs qemu-user, the arm64 glibc/libstdc++ and an arm64 Node if missing). Writes
# bench/results/arm64-tests.json and .md. Same arguments and variables as avx2-tests.sh; QEMU_CPU picks the CPU the
# tests run on (default neoverse-n1), KERNEL_CPUS the ones the kernel check covers (default neoverse-n1 max cortex-a72).
#   nice -n 19 bash bench/cpu/arm64-tests.sh                          every file (hours under emulation)
#   nice -n 19 bash bench/cpu/arm64-tests.sh test/engine/default-model.test.ts ...   only these files
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
EMU=arm64 exec bash "$(dirname "$0")/avx2-tests.sh" "$@"
