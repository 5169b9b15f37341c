#!/usr/bin/env bash
# Our own WebGPU decode step (bench/realmodels/wgsl-decode.mjs) on the GPU machine, in one job (issue 15).
#   here:             bash bench/realmodels/gpu-wgsl.sh pack DEPS   (DEPS: the scratch folder holding the `webgpu`
#                     npm package, see wgsl-decode.mjs) writes .dev/wg/: Node.js without debug symbols and the Vulkan
#                     loader's .deb (from .device/: ../shared/tools/device-pack.sh, then bench/device/pack.sh, which
#                     strips the Node binary), and the package with only its Linux x64 binary (dawn.node)
#   GPU machine:      bash bench/realmodels/gpu-wgsl.sh run       (device call with carry [".dev/wg", "server/dist"]:
#                     npm run build first)
#                     checks the kernels against the float64 reference (small shape, head size 128) and the genai
#                     fixture's golden tokens (test/fixtures/models/qwen2-genai), then times the
#                     0.5B and 1.5B shapes at 2,048 rows of past, twice each, the 1.5B step's products alone and
#                     the 1.5B step with tree reductions instead of subgroup sums;
#                     one JSON line each into $OUT/wgsl.jsonl (bench/results/wgsl-decode-h200.jsonl).
# Size: .dev/wg is ~26 MiB; with the checkout's 45 MiB it is over the 64 MiB a call may carry, so the job ran from a
# working tree without models/default/onnx/model_quantized.onnx (the probe does not read it; put it back after:
# `git checkout models/default/onnx/model_quantized.onnx`).
case "${1:-}" in -h|--help|'') awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
case $1 in
  pack)
    deps=${2:?usage: gpu-wgsl.sh pack DEPS}
    [ -d .device/deb ] && [ -e .device/node.stripped ] || { echo "gpu-wgsl.sh: run ../shared/tools/device-pack.sh, then bench/device/pack.sh first (.device/: the stripped Node binary, the Vulkan loader's .deb)" >&2; exit 1; }
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    mkdir -p .dev/wg "$tmp/webgpu/dist/linux-x64"
    cp "$deps/node_modules/webgpu/index.js" "$deps/node_modules/webgpu/package.json" "$tmp/webgpu/"
    cp "$deps/node_modules/webgpu/dist/linux-x64/dawn.node" "$tmp/webgpu/dist/linux-x64/"
    tar -C "$tmp" -cJf .dev/wg/webgpu.tar.xz webgpu
    cp .device/node.xz .dev/wg/
    rm -rf .dev/wg/deb && cp -r .device/deb .dev/wg/
    du -sh .dev/wg ;;
  run)
    mkdir -p /tmp/rt/bin /tmp/wg/node_modules
    [ -x /tmp/rt/bin/node ] || { xz -dc .dev/wg/node.xz > /tmp/rt/bin/node; chmod +x /tmp/rt/bin/node; }
    [ -d /tmp/wg/node_modules/webgpu ] || tar -C /tmp/wg/node_modules -xJf .dev/wg/webgpu.tar.xz
    ldconfig -p | grep -q libvulkan.so.1 || { for f in .dev/wg/deb/*.deb; do dpkg -x "$f" /; done; ldconfig; }
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json PATH=/tmp/rt/bin:$PATH
    out=${OUT:-.}/wgsl.jsonl
    w() { timeout 200 node bench/realmodels/wgsl-decode.mjs --deps /tmp/wg "$@" 2>&1 | grep -v '^Warning' | tee -a "$out"; }
    w --shape small --check --steps 70 --max-context 256
    w --model test/fixtures/models/qwen2-genai --check --max-context 256
    for r in 1 2; do for sh in qwen15b qwen05b; do w --shape $sh --past 2048 --steps 256; done; done
    w --shape qwen15b --past 2048 --steps 256 --variant matvec
    w --shape qwen15b --past 2048 --steps 256 --subgroups 0 ;;
  *) echo "usage: bash bench/realmodels/gpu-wgsl.sh pack DEPS | run" >&2; exit 2 ;;
esac
