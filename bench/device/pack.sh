#!/usr/bin/env bash
# Packs what running this project's Node code on the GPU machine needs beyond ../shared's device-pack.sh
# (Node.js, onnxruntime-node, the Vulkan loader): the production node_modules (Linux x64 binaries only,
# no sources) as .device/nm.tar.xz. Run from the project root after `npm ci && npm run build`.
# On the GPU machine:  source bench/device/setup.sh   (then `node bin/infill-ls.js ...` works there).
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
[ -s .device/node.xz ] || { echo "pack.sh: run ../shared/tools/device-pack.sh first (writes .device/)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$PWD/||" | grep '^node_modules/' \
  | grep -v -e '^node_modules/onnxruntime-' | while read -r p; do
  mkdir -p "$tmp/$p"
  if [ "$p" = node_modules/webgpu ]; then
    # Dawn's Node binding (optional dependency, runtime/wgsl-decode.ts): only its Linux x64 binary (132 MiB with all platforms)
    cp "$p"/index.js "$p"/package.json "$p"/types.d.ts "$p"/LICENSE.md "$tmp/$p/" && mkdir -p "$tmp/$p/dist" && cp -r "$p/dist/linux-x64" "$tmp/$p/dist/"
    continue
  fi
  # package files without sources, tests and other platforms' prebuilt binaries
  (cd "$p" && find . -maxdepth 1 -mindepth 1 ! -name node_modules ! -name src ! -name prebuilds ! -name build ! -name test ! -name '*.md' \
     -exec cp -r {} "$tmp/$p/" \;)
  [ -d "$p/prebuilds/linux-x64" ] && mkdir -p "$tmp/$p/prebuilds" && cp -r "$p/prebuilds/linux-x64" "$tmp/$p/prebuilds/"
  if [ -d "$p/build/Release" ]; then mkdir -p "$tmp/$p/build/Release" && cp "$p"/build/Release/*.node "$tmp/$p/build/Release/" 2>/dev/null || true; fi
done
tar -C "$tmp" -cJf .device/nm.tar.xz node_modules
# The Node.js binary without its debug symbols (-2 MiB of the 64 MiB a job may carry).
if [ ! -e .device/node.stripped ]; then
  cp "$(readlink -f "$(command -v node)")" "$tmp/node" && strip "$tmp/node" && xz -6 -T2 -c "$tmp/node" > .device/node.xz && touch .device/node.stripped
fi
# The evaluation task files (bench/quality/make-tasks.mjs writes them to .work/tasks), when present.
[ -s .work/tasks/humaneval-single.jsonl ] && tar -C .work -cJf .device/tasks.tar.xz tasks
du -cb .device/* | tail -1 | awk '{printf "pack.sh: .device is %.1f MiB\n", $1/1048576}'
