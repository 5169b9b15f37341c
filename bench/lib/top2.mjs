// The two highest entries of a logits row: indices and the margin between them (the "clear position" measure of
// native/tools/golden.mjs and the CPU-class checks: a margin far above ~1e-3 does not flip between CPU kernels).

/**
 * @param {ArrayLike<number>} row logits (length >= 2)
 * @returns {{ i1: number, i2: number, margin: number }} argmax, runner-up, row[i1] - row[i2] (>= 0)
 */
export function topTwo(row) {
  let i1 = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[i1]) i1 = i;
  let i2 = i1 === 0 ? 1 : 0;
  for (let i = 0; i < row.length; i++) if (i !== i1 && row[i] > row[i2]) i2 = i;
  return { i1, i2, margin: row[i1] - row[i2] };
}
