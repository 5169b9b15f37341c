#!/usr/bin/env bash
# Run by `npm test` before vitest: installs what the tests need when it is missing, and says so on the terminal.
#   - the project's own node_modules (`npm ci`), if the Quick start's `npm install` was skipped;
#   - the real editors the end-to-end tests drive (.ci/install-editors.sh: Chromium and Neovim with apt,
#     code-server in ~/.cache/infill-ls-editors); a no-op taking a fraction of a second once installed;
#   - the VS Code extension's own dependencies (client/vscode: vscode-languageclient, @vscode/vsce), which
#     test/client/ and test/e2e/vscode.test.ts build and package.
# Each step that can take minutes prints what it does, its expected duration and a line every 15 s.
# (Chained in the `test` script rather than a `pretest` one, so that `npm test` shows it as part of the command.)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/heartbeat.sh

stale() { # stale INSTALLED_MARKER LOCKFILE: the install is missing or older than its lockfile
  [ ! -f "$1" ] || [ "$2" -nt "$1" ]
}

if stale node_modules/.package-lock.json package-lock.json; then
  heartbeat "test-deps: npm ci (the server's dependencies; about 30 s)" npm ci --no-audit --no-fund
fi

bash .ci/install-editors.sh

if stale client/vscode/node_modules/.package-lock.json client/vscode/package-lock.json; then
  # --foreground-scripts=false: `npm test` exports the root .npmrc's settings as npm_config_*; shown in the
  # foreground, the optional keytar's failing source build (no libsecret, no network for its prebuilt binary) would
  # print a page of "gyp ERR!" although nothing is wrong (the extension does not use keytar; npm skips it).
  (cd client/vscode && heartbeat "test-deps: npm ci in client/vscode (the VS Code extension's dependencies; about 10-50 s)" npm ci --no-audit --no-fund --foreground-scripts=false)
fi
# llama-server (test/e2e/llama-server-backend.test.ts): cached in ~/.cache/infill-ls/; the first build took 25 min on 2 cores at load ~10, 46 min at load ~20.
heartbeat "test-deps: llama-server (.ci/llama-server.sh: cached, else a build of 25-46 min on 2 loaded cores)" bash .ci/llama-server.sh --gguf models/default >/dev/null

echo "== test-deps: ready; vitest builds server/dist, then runs every test file (about 10 min on 2 busy cores)"
