#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (CPU only) from the llama.cpp source that the npm package node-llama-cpp ships
# (its llama/gitRelease.bundle, a git bundle of one llama.cpp commit), for the llama-server backend's tests and
# bench/team (issue 18). Prints the binary's path as its last line.
#
#   bash .ci/llama-server.sh            # build once; later runs only check the cached binary (well under a second)
#   LLAMA_SERVER_JOBS=4 bash .ci/llama-server.sh
#   bash .ci/llama-server.sh --gguf models/default   # also converts that model to GGUF (f32) and prints its path
#
# Cache, outside the repository: ${XDG_CACHE_HOME:-~/.cache}/infill-ls/llama-server-<node-llama-cpp version>/
#   bin/llama-server   the binary (ggml/llama linked statically; no OpenMP)
#   src.txt            which commit it was built from, and how
#   gguf-py/           llama.cpp's Python GGUF writer from the same source (for native/py/gguf_from_onnx.py)
#   models/<sha256 of the .onnx and the converter (gguf_from_onnx.py + gguf_export.py), 16 hex>-f32.gguf   conversions by --gguf (python3, numpy, onnx)
# The build runs in a temporary folder beside it and is moved into place only when it succeeded, so an interrupted
# build leaves no half-made cache and the next run starts over.
#
# Where the source comes from, first match wins:
#   1. $LLAMA_CPP_BUNDLE (a gitRelease.bundle file), for machines without the npm registry;
#   2. node_modules/node-llama-cpp or bench/runtime/llama/node_modules/node-llama-cpp, if installed at the pinned version;
#   3. `npm pack node-llama-cpp@<version>` (the tarball only: none of its dependencies, none of its install scripts,
#      none of its prebuilt binaries), checked against the sha512 pinned below (bench/runtime/llama's lockfile).
# Missing Debian packages (git, cmake, g++; python3-numpy, python3-onnx for --gguf) are apt-get installed, as
# .ci/install-editors.sh does for the editors.
# Minimal build: only the llama-server target; no curl, no OpenSSL, no Web UI (neither built nor downloaded), no
# tests/examples; GGML_NATIVE (the default) compiles for this machine's CPU, which is why the cache is per machine.
set -euo pipefail
cd "$(dirname "$0")/.."

NLC_VERSION=3.22.1
NLC_INTEGRITY='sha512-bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw=='
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/infill-ls/llama-server-$NLC_VERSION"
BIN="$CACHE/bin/llama-server"
JOBS="${LLAMA_SERVER_JOBS:-2}"
GGUF_MODEL=""
if [ "${1:-}" = "--gguf" ]; then
  GGUF_MODEL="${2:?--gguf needs a model directory}"
elif [ -n "${1:-}" ]; then
  echo "usage: bash .ci/llama-server.sh [--gguf MODEL_DIR]" >&2
  exit 2
fi

# Debian packages the build or the conversion needs, installed with apt-get when missing (as .ci/install-editors.sh
# does for the editors); elsewhere the checks below say what to install.
apt_install() {
  local need=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  [ "${#need[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1 || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || return 0
    sudo=(sudo)
  fi
  echo "== llama-server: apt-get install ${need[*]}" >&2
  "${sudo[@]}" apt-get update -qq >&2 && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
}

# --gguf: the model's GGUF (f32, native/py/gguf_from_onnx.py), cached by the .onnx file's hash.
gguf() {
  local onnx sha out py
  onnx="$(ls "$GGUF_MODEL"/onnx/*.onnx | head -n 1)"
  sha="$(cat "$onnx" native/py/gguf_from_onnx.py native/py/gguf_export.py | sha256sum | cut -c1-16)"
  out="$CACHE/models/$sha-f32.gguf"
  if [ ! -f "$out" ]; then
    /usr/bin/python3 -c 'import numpy, onnx' 2>/dev/null || apt_install python3-numpy python3-onnx
    for py in /usr/bin/python3 python3; do
      if "$py" -c 'import numpy, onnx' 2>/dev/null; then break; fi
      py=""
    done
    [ -n "$py" ] || { echo "llama-server.sh: --gguf needs python3 with numpy and onnx (Debian: apt-get install python3-onnx)" >&2; exit 1; }
    mkdir -p "$CACHE/models"
    echo "== llama-server: converting $onnx to GGUF" >&2
    PYTHONPATH="$CACHE/gguf-py" "$py" native/py/gguf_from_onnx.py --model "$GGUF_MODEL" --out "$out" >&2
  fi
  echo "$out"
}

if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1 && [ -d "$CACHE/gguf-py" ]; then
  if [ -n "$GGUF_MODEL" ]; then gguf; else echo "$BIN"; fi
  exit 0
fi

apt_install git cmake g++
for tool in git cmake c++; do
  command -v "$tool" >/dev/null || { echo "llama-server.sh: '$tool' is needed to build llama-server (apt-get install git cmake g++)" >&2; exit 1; }
done

mkdir -p "$(dirname "$CACHE")"
WORK="$(mktemp -d "$(dirname "$CACHE")/.llama-server-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

bundle=""
if [ -n "${LLAMA_CPP_BUNDLE:-}" ]; then
  bundle="$LLAMA_CPP_BUNDLE"
else
  for dir in node_modules/node-llama-cpp bench/runtime/llama/node_modules/node-llama-cpp; do
    if [ -f "$dir/llama/gitRelease.bundle" ] && [ "$(node -p "require('./$dir/package.json').version" 2>/dev/null)" = "$NLC_VERSION" ]; then
      bundle="$dir/llama/gitRelease.bundle"
      break
    fi
  done
fi
if [ -z "$bundle" ]; then
  echo "== llama-server: npm pack node-llama-cpp@$NLC_VERSION (its tarball only, ~40 MB)" >&2
  tgz="$(cd "$WORK" && npm pack --silent "node-llama-cpp@$NLC_VERSION" | tail -n 1)"
  got="sha512-$(openssl dgst -sha512 -binary "$WORK/$tgz" | base64 -w0)"
  if [ "$got" != "$NLC_INTEGRITY" ]; then
    echo "llama-server.sh: $tgz has $got, expected $NLC_INTEGRITY" >&2
    exit 1
  fi
  tar -xzf "$WORK/$tgz" -C "$WORK" package/llama/gitRelease.bundle
  bundle="$WORK/package/llama/gitRelease.bundle"
fi

echo "== llama-server: git clone $bundle" >&2
git clone -q --no-checkout "$bundle" "$WORK/src"
git -C "$WORK/src" -c advice.detachedHead=false checkout -q HEAD
commit="$(git -C "$WORK/src" rev-parse HEAD)"

echo "== llama-server: cmake (CPU only, llama-server target, -j$JOBS; fresh: 25 min on 2 cores at load ~10, 46 min at load ~20)" >&2
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$WORK/src" -B "$WORK/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_LLGUIDANCE=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
  -DGGML_OPENMP=OFF -DLLAMA_BUILD_NUMBER=0 >"$WORK/cmake.log" 2>&1 || { tail -n 40 "$WORK/cmake.log" >&2; exit 1; }
cmake --build "$WORK/build" --target llama-server -j "$JOBS" >"$WORK/build.log" 2>&1 || { tail -n 60 "$WORK/build.log" >&2; exit 1; }

mkdir -p "$WORK/out/bin"
cp "$WORK/build/bin/llama-server" "$WORK/out/bin/"
cp -r "$WORK/src/gguf-py" "$WORK/out/gguf-py"
"$WORK/out/bin/llama-server" --version >/dev/null 2>&1 || { echo "llama-server.sh: the built binary does not run" >&2; exit 1; }
printf 'llama.cpp %s from node-llama-cpp@%s (%s)\nbuilt %s in %d s, -j%s, %s\n' "$commit" "$NLC_VERSION" "$bundle" \
  "$(date -u +%FT%TZ)" "$((SECONDS - start))" "$JOBS" "$(uptime | sed 's/.*load average/load average/')" >"$WORK/out/src.txt"
rm -rf "$CACHE"
mv "$WORK/out" "$CACHE"
echo "== llama-server: built in $((SECONDS - start)) s ($CACHE/src.txt)" >&2
if [ -n "$GGUF_MODEL" ]; then gguf; else echo "$BIN"; fi
