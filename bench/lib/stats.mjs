// Shared by the benchmark scripts that compare two variants task by task.

/**
 * Two-sided exact sign test (binomial, p = 0.5) of `a` against `b` discordant pairs (tasks only one variant gets
 * right): the probability of a split at least this uneven under no difference. 1 when there are none.
 */
export function signTestP(a, b) {
  const n = a + b;
  if (n === 0) return 1;
  const k = Math.min(a, b);
  let tail = 0;
  for (let i = 0, c = 1; i <= k; i++) {
    tail += c / 2 ** n;
    c = (c * (n - i)) / (i + 1);
  }
  return Math.min(1, 2 * tail);
}

/** Median of a non-empty array of numbers (mean of the two middle values for an even count); NaN when empty. */
export function median(values) {
  if (!values.length) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
