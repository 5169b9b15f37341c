// Compares two teacher-forced logits dumps (native/tools/numerics.mjs --dump, native/py/reference.py --dump):
// float32 rows of VOCAB logits each. Prints max |Δlogit| over all rows and vocabulary entries, its median per row,
// and how many rows' argmax differ.
// Usage: node native/tools/logit-diff.mjs A.bin B.bin [VOCAB=8192]
import '../../bench/lib/help.mjs';
import fs from 'node:fs';

const [fa, fb, v = '8192'] = process.argv.slice(2);
if (!fa || !fb) {
  console.error('usage: node native/tools/logit-diff.mjs A.bin B.bin [VOCAB]');
  process.exit(2);
}
const read = (f) => {
  const b = fs.readFileSync(f);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const a = read(fa);
const b = read(fb);
const vocab = Number(v);
if (a.length !== b.length || a.length % vocab) throw new Error(`sizes differ or are not rows of ${vocab}: ${a.length} vs ${b.length}`);
const rows = a.length / vocab;
let max = 0;
let argmaxDiff = 0;
const perRow = [];
for (let r = 0; r < rows; r++) {
  let m = 0, ia = 0, ib = 0;
  const o = r * vocab;
  for (let j = 0; j < vocab; j++) {
    m = Math.max(m, Math.abs(a[o + j] - b[o + j]));
    if (a[o + j] > a[o + ia]) ia = j;
    if (b[o + j] > b[o + ib]) ib = j;
  }
  if (ia !== ib) argmaxDiff++;
  perRow.push(m);
  max = Math.max(max, m);
}
perRow.sort((x, y) => x - y);
console.log(JSON.stringify({ rows, max_abs_diff: +max.toExponential(3), median_row_max_abs_diff: +perRow[rows >> 1].toExponential(3), rows_argmax_differs: argmaxDiff }));
