#!/usr/bin/env bash
# Installs the real editors the end-to-end tests drive: Debian's Neovim and Chromium (apt), and
# code-server (VS Code in a browser) with playwright-core in a cache folder outside the repository.
#
# Idempotent: apt packages already present are not reinstalled, and a finished code-server install
# (marked by a stamp file naming the pinned versions) is kept. An interrupted install is redone
# from scratch on the next run.
#
#   INFILL_LS_EDITORS_DIR   where code-server goes (default ${XDG_CACHE_HOME:-~/.cache}/infill-ls-editors);
#                           test/e2e/vscode-harness.ts reads the same variable.
#
# Why not `npm install code-server`: npm 11 skips dependency install scripts, and code-server's own
# postinstall downloads ripgrep from GitHub, needs libkrb5-dev for `kerberos`, and runs `npx node-gyp`
# for node-pty, which npm cancels without a prompt. So the steps below install with
# --ignore-scripts, take ripgrep from the npm package @vscode/ripgrep-linux-x64, and rebuild the
# native modules explicitly. code-server 4.100.x (VS Code 1.100.3) is the last line that runs on Node 20.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/heartbeat.sh"

CODE_SERVER_VERSION=4.100.3
PLAYWRIGHT_CORE_VERSION=1.65.1
RIPGREP_VERSION=1.18.0
DEST="${INFILL_LS_EDITORS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/infill-ls-editors}"
STAMP="$DEST/installed.txt"
WANT="code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_CORE_VERSION @vscode/ripgrep-linux-x64@$RIPGREP_VERSION"

log() { echo "== install-editors: $*"; }

# --- apt: chromium (the browser playwright drives), libkrb5-dev (code-server's kerberos module), neovim, mesa-vulkan-drivers
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nvim >/dev/null 2>&1 || need+=(neovim)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
# Mesa's Vulkan drivers: lavapipe, the software WebGPU adapter the WGSL decode step's tests run on (test/runtime/wgsl-decode.test.ts)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-editors: need root or sudo to apt-get install ${need[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  log "apt-get install ${need[*]}"
  heartbeat "install-editors: apt-get update (about 10 s)" "${SUDO[@]}" apt-get update -qq
  heartbeat "install-editors: apt-get install ${need[*]} (about 2-3 min)" "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
log "$(chromium --version 2>/dev/null || echo 'chromium: not found')"
log "$(nvim --version | sed -n 1p)"

# --- code-server + playwright-core, outside the repository's node_modules
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-editors: code-server is installed for Linux x64 only (ripgrep package), not $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  log "code-server $CODE_SERVER_VERSION already installed in $DEST"
  exit 0
fi

start=$(date +%s)
log "installing $WANT into $DEST (measured: 45 s to 6 min, depending on the npm cache and the machine's load)"
# Start over only in a folder this script made (its package.json names it) or an empty/missing one:
# INFILL_LS_EDITORS_DIR may point anywhere, and nothing else there is ours to delete.
if [ -e "$DEST" ] && [ -n "$(ls -A "$DEST" 2>/dev/null)" ] && ! grep -qsE '"name": *"infill-ls-editors"' "$DEST/package.json"; then
  echo "install-editors: $DEST exists and was not made by this script; refusing to replace it (set INFILL_LS_EDITORS_DIR to a new folder)" >&2
  exit 1
fi
rm -rf "$DEST"
mkdir -p "$DEST"
cd "$DEST"
cat > package.json <<EOF
{ "name": "infill-ls-editors", "private": true, "description": "Editors for infill-ls's end-to-end tests; written by .ci/install-editors.sh" }
EOF
heartbeat "install-editors: npm install code-server, playwright-core, ripgrep (about 20 s warm, minutes cold)" \
  npm install --no-audit --no-fund --ignore-scripts \
  "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_CORE_VERSION" "@vscode/ripgrep-linux-x64@$RIPGREP_VERSION"
heartbeat "install-editors: npm rebuild argon2 (no prebuilt binary for this Node: compiles from source)" npm rebuild argon2

cd node_modules/code-server/lib/vscode
heartbeat "install-editors: npm install in code-server's lib/vscode (about 10-60 s)" npm install --no-audit --no-fund --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$DEST/node_modules/@vscode/ripgrep-linux-x64/bin/rg" node_modules/@vscode/ripgrep/bin/rg
heartbeat "install-editors: npm rebuild node-pty, spdlog, kerberos, watchdog (compiles C++: about 75 s, quiet)" env npm_config_yes=true npm rebuild
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
(cd extensions && heartbeat "install-editors: npm install in code-server's built-in extensions (about 10 s)" npm install --no-audit --no-fund --omit=dev)

"$DEST/node_modules/.bin/code-server" --version >/dev/null
echo "$WANT" > "$STAMP"
log "done in $(( $(date +%s) - start )) s: $("$DEST/node_modules/.bin/code-server" --version | head -1)"
