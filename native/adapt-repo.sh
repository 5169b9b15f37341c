#!/usr/bin/env bash
# Adapts the default model to one repository (issue 16): continued pre-training on the repository's source files,
# optionally with replay of pre-training data, exported as a model directory that `infill-ls complete --model` loads.
#   bash native/adapt-repo.sh REPO_DIR OUT_DIR [--replay FRACTION --replay-data RECORDS.jsonl[.xz]] [--steps N]
#        [--device cpu|cuda] [--base models/default] [any other native/py/adapt_repo.py option]
# Reads REPO_DIR (never writes it), reads the base (never writes it), writes only OUT_DIR (must be new or empty).
# Needs node, and a python3 with torch (1.13+), numpy and onnx: PYTHON=/usr/bin/python3 by default when it has torch.
case "${1:-}" in -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 2 ] || [[ "$1" == -* ]] || [[ "$2" == -* ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
repo=$1 out=$2
shift 2
[ -d "$repo" ] || { echo "adapt-repo: not a directory: $repo" >&2; exit 2; }
py=${PYTHON:-}
if [ -z "$py" ]; then
  for c in /usr/bin/python3 python3; do
    if "$c" -c 'import torch, onnx, numpy' 2>/dev/null; then py=$c; break; fi
  done
  py=${py:-python3}  # without torch: adapt_repo.py still checks the arguments, then says what is missing
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/adapt-repo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
node "$here/tools/repo-files.mjs" "$repo" > "$tmp/repo.jsonl"
"$py" "$here/py/adapt_repo.py" --repo-files "$tmp/repo.jsonl" --repo-dir "$repo" --out "$out" "$@"
