#!/usr/bin/env bash
# Times the README's first Quick start command on a fresh clone: clone → `npm install && npm start` → the README's
# WebSocket example answering. Prints each step's seconds and the load average before and after (the README's
# "clone → first completion" figure). Usage: bash .ci/time-first-completion.sh [BRANCH]  (default: the current one)
# Uses a temporary folder and a fresh XDG_STATE_HOME (so the token is generated as on a first run), port 7733.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
branch="${1:-$(git -C "$repo" rev-parse --abbrev-ref HEAD)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"
echo "load before: $(uptime | sed 's/.*load average: //')"
t0=$(date +%s.%N)
git clone -q -b "$branch" "$repo" "$work/repo"
cd "$work/repo"
npm install > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
t1=$(date +%s.%N)
setsid npm start > "$work/start.out" 2> "$work/start.err" &
pid=$!
trap 'kill -INT -- -$pid 2>/dev/null || true; rm -rf "$work"' EXIT
until grep -q "^infill-ls model:" "$work/start.err" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$work/start.out" "$work/start.err"; exit 1; }
  sleep 0.2
done
t2=$(date +%s.%N)
sed -n '/^```js$/,/^```$/p' README.md | sed '1d;$d' > example.mjs
node example.mjs
t3=$(date +%s.%N)
secs() { awk "BEGIN { printf \"%.0f\", $2 - $1 }"; }
echo "clone + npm install: $(secs "$t0" "$t1") s; npm start to its status line: $(secs "$t1" "$t2") s; example: $(secs "$t2" "$t3") s"
echo "clone → first completion: $(secs "$t0" "$t3") s"
echo "status: $(grep '^infill-ls model:' "$work/start.err")"
echo "load after: $(uptime | sed 's/.*load average: //')"
