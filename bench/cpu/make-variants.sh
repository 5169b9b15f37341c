#!/usr/bin/env bash
# Builds the default model's numeric variants side by side, all from the same 8-bit weights:
#   OUT/level0, OUT/level1, OUT/level4  MatMulNBits with accuracy_level 0 / 1 / 4 (the graph shipped until
#                                       commit 4a351cd had level 4), rewritten by native/tools/accuracy-level.mjs
#   OUT/fold                            the MatMulNBits graph rewritten by native/py/dequant_graph.py (8-bit file,
#                                       dequantized to fp32 by constant folding at load; shipped since)
# Usage: bash bench/cpu/make-variants.sh OUT     (needs git, node, python3 with onnx: apt-get install python3-onnx)
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
  ''|-*) echo "usage: bash bench/cpu/make-variants.sh OUT" >&2; exit 2 ;;
esac
out="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="${PYTHON:-python3}"
src="$out/matmulnbits-level4.onnx"
mkdir -p "$out"
git -C "$root" show 4a351cd:models/default/onnx/model_quantized.onnx > "$src"
for v in level0 level1 level4 fold; do
  mkdir -p "$out/$v/onnx"
  cp "$root"/models/default/{config.json,tokenizer.json,tokenizer_config.json,golden.json} "$out/$v/"
done
for l in 0 1 4; do node "$root/native/tools/accuracy-level.mjs" "$src" "$l" "$out/level$l/onnx/model_quantized.onnx"; done
"$py" "$root/native/py/dequant_graph.py" "$src" "$out/fold/onnx/model_quantized.onnx"
