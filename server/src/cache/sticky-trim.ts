// Sticky prefix trimming: keeps the start of the kept prefix still while the user types, so the KV prefix stays reusable.
//
// prompt/trim keeps the last lines of the prefix that fit the token budget: once a file's prefix is longer
// than the budget, every new line (or a long enough cursor line) drops a line at the top, which changes the
// prompt right after the suffix (SPM) and forces a re-prefill of the whole prefix. Here the first kept line
// only moves by a block: when trimming is needed, it moves to leave `slack` tokens free, and stays there
// while the kept lines still fit and still fill at least budget - 2*slack tokens. When the whole prefix fits,
// nothing is cut (the prompt is exactly prompt/trim's).
import { splitLines, type Encode } from '../prompt/trim.js';

export interface StickyTrimOptions {
  /** Prefix token budget (the prompt builder's maxPrefixTokens). */
  budget: number;
  /** Free tokens left when the start moves (default budget/8, at least 16). */
  slack?: number;
}

export interface StickyTrimResult {
  /** The prefix from the first kept line (give it to the prompt builder, which trims nothing more in the common case). */
  text: string;
  /** Index of the first kept line (the state to pass next time). */
  startLine: number;
}

/** Pure: picks the first kept line of `prefix` given the previous choice (`previousStart`, or null). */
export function stickyTrimPrefix(prefix: string, previousStart: number | null, encode: Encode, options: StickyTrimOptions): StickyTrimResult {
  const budget = Math.max(0, Math.floor(options.budget));
  const lines = splitLines(prefix);
  if (lines.length <= 1 || budget <= 0) return { text: prefix, startLine: 0 };
  const slack = Math.max(1, Math.floor(options.slack ?? Math.max(16, budget / 8)));
  // Suffix sums of per-line token counts, from the cursor line up, until past the budget
  // (the same estimate prompt/trim uses).
  const counts = new Map<number, number>(); // line index → tokens of lines[index..]
  let used = 0;
  let minStart = 0; // smallest start whose lines fit
  for (let i = lines.length - 1; i >= 0; i--) {
    const n = encode(lines[i]!).length;
    if (used + n > budget) {
      minStart = i + 1;
      break;
    }
    used += n;
    counts.set(i, used);
  }
  if (minStart === 0) return { text: prefix, startLine: 0 }; // everything fits: no trimming at all
  if (minStart >= lines.length) return { text: lines[lines.length - 1]!, startLine: lines.length - 1 }; // the cursor line alone is too long
  const keep = (start: number) => ({ text: lines.slice(start).join(''), startLine: start });
  if (previousStart !== null && previousStart >= minStart && previousStart < lines.length && counts.get(previousStart)! >= budget - 2 * slack) {
    return keep(previousStart);
  }
  let start = minStart;
  while (start < lines.length - 1 && counts.get(start)! > budget - slack) start++;
  return keep(start);
}
