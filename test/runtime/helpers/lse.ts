/** The host's log Σ exp of a logits row ([vocab] float32) in float64, as decoding/span.ts computes it: the reference the graph's value is compared with. */
export function hostLse(row: Float32Array): number {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return max + Math.log(sum);
}
