#!/usr/bin/env bash
# Packs the two GPU-machine jobs of issue 15 (see gpu-llama.sh): one job may carry 64 MiB with the checkout, so
#   .dev/gpu15/   llama.cpp's source (from node-llama-cpp's bundle: only what llama-bench/llama-quantize with CUDA
#                 need) + Node.js (unpacked to /tmp there, kept while the machine stays warm)
#   .dev/gpu15b/  onnxruntime-node, the production node_modules, the Vulkan loader, device-setup.sh, server/dist
# Needs: npm ci && npm run build; (cd bench/runtime/llama && npm install); ../shared/tools/device-pack.sh and
# bench/device/pack.sh (they write .device/).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
src=bench/runtime/llama/llama.cpp-src
[ -d "$src" ] || git clone -q bench/runtime/llama/node_modules/node-llama-cpp/llama/gitRelease.bundle "$src"
[ -s .device/node.xz ] && [ -s .device/nm.tar.xz ] && [ -d .device/deb ] || { echo "gpu-pack.sh: .device/ incomplete (device-pack.sh, bench/device/pack.sh)" >&2; exit 1; }
mkdir -p .dev/gpu15 .dev/gpu15b
skip=(); for b in et metal hexagon sycl vulkan opencl cann musa zdnn webgpu openvino virtgpu rpc blas zendnn; do skip+=(--exclude="ggml/src/ggml-$b/*"); done
tar -C "$src" "${skip[@]}" --exclude='tools/ui' -cf - CMakeLists.txt cmake common ggml include src tools vendor licenses \
  gguf-py LICENSE app | xz -T2 -6 > .dev/gpu15/llama-src.tar.xz
cp .device/node.xz .dev/gpu15/
cp -r .device/ort.tar.xz .device/nm.tar.xz .device/deb .device/device-setup.sh .dev/gpu15b/
tar -cJf .dev/gpu15b/dist.tar.xz server/dist
co=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "checkout $(awk -v b="$co" 'BEGIN { printf "%.1f", b / 1048576 }') MiB (tracked files: every call carries them)"
# each carry with the checkout must stay within the device's 64 MiB (.dev/gpu15/node.xz alone when only Node is needed)
for p in .dev/gpu15 .dev/gpu15/node.xz .dev/gpu15b; do
  b=$(du -sb "$p" | cut -f1)
  awk -v p="$p" -v b="$b" -v co="$co" 'BEGIN { t = (b + co) / 1048576; printf "%s %.1f MiB, with the checkout %.1f MiB%s\n", p, b / 1048576, t, (t > 64 ? "  OVER the 64 MiB a call may carry" : "") }'
done
