// Token budgets: trims the prefix (from the top) and the suffix (from the bottom) by whole lines, keeping the text nearest the cursor.

export type Encode = (text: string) => number[];

export interface Trimmed {
  text: string;
  ids: number[];
}

/** Splits after each '\n', so joining the parts gives back the text. */
export function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/**
 * Where a line cut from its end starts: a multiple of this many code units from the line's start, so that typing at
 * the end of a long line leaves the prompt's first characters (and the KV cache of the prompt) in place for this
 * many keystrokes; the prompt is up to this many characters below its budget instead.
 */
export const LINE_CUT_STEP = 128;

/** Longest slice of `line` taken from its end (fromEnd) or start whose encoding fits `budget` tokens. */
function fitChars(line: string, budget: number, encode: Encode, fromEnd: boolean): string {
  let lo = 0;
  let hi = line.length;
  const take = (n: number) => (fromEnd ? line.slice(line.length - n) : line.slice(0, n));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encode(take(mid)).length <= budget) lo = mid;
    else hi = mid - 1;
  }
  if (fromEnd && lo < line.length) {
    // Start on a step boundary (later, so it still fits): the start holds still while the line grows at its end.
    const start = Math.ceil((line.length - lo) / LINE_CUT_STEP) * LINE_CUT_STEP;
    if (start < line.length) lo = line.length - start;
  }
  let s = take(lo);
  // Do not split a surrogate pair.
  if (fromEnd && s.length && /[\uDC00-\uDFFF]/.test(s[0]!)) s = s.slice(1);
  if (!fromEnd && s.length && /[\uD800-\uDBFF]/.test(s[s.length - 1]!)) s = s.slice(0, -1);
  return s;
}

/**
 * Characters one token is assumed to cover at most. Only text within budget × this of the cursor can reach the
 * prompt, so trimming cuts there before encoding anything: its cost is bounded by the budget, not by the length of
 * the document or of its longest line (issue 13, item 4: a 5 MB minified line was encoded ~22 times per keystroke).
 * Text averaging more than 32 characters per token (none in practice) would get a prompt below its budget.
 */
export const MAX_CHARS_PER_TOKEN = 32;

function trim(text: string, budget: number, encode: Encode, keepEnd: boolean): Trimmed {
  if (budget <= 0 || text.length === 0) return { text: '', ids: [] };
  const cap = budget * MAX_CHARS_PER_TOKEN;
  if (text.length > cap) {
    // From the end: on a step boundary counted from the text's start, so the cut holds still while the user types.
    let cut = keepEnd ? Math.floor((text.length - cap) / LINE_CUT_STEP) * LINE_CUT_STEP : cap;
    // Do not split a surrogate pair.
    if (keepEnd && /[\uDC00-\uDFFF]/.test(text[cut] ?? '')) cut++;
    if (!keepEnd && /[\uD800-\uDBFF]/.test(text[cut - 1] ?? '')) cut--;
    text = keepEnd ? text.slice(cut) : text.slice(0, cut);
  }
  const lines = splitLines(text);
  if (keepEnd) lines.reverse();
  // Walk outward from the cursor, summing per-line counts (a close estimate of the joined encoding).
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    const n = encode(line).length;
    if (used + n > budget) {
      if (kept.length === 0) kept.push(fitChars(line, budget, encode, keepEnd));
      break;
    }
    kept.push(line);
    used += n;
  }
  const join = () => (keepEnd ? [...kept].reverse().join('') : kept.join(''));
  let out = join();
  let ids = encode(out);
  // BPE merges across line boundaries can make the joined text a little longer: drop far lines until it fits.
  while (ids.length > budget && kept.length > 1) {
    kept.pop();
    out = join();
    ids = encode(out);
  }
  if (ids.length > budget) {
    out = fitChars(out, budget, encode, keepEnd);
    ids = encode(out);
  }
  return { text: out, ids };
}

/** Keeps the last lines of `prefix` (the cursor line first) within `budget` tokens. */
export function trimPrefix(prefix: string, budget: number, encode: Encode): Trimmed {
  return trim(prefix, budget, encode, true);
}

/** Keeps the first lines of `suffix` (the rest of the cursor line first) within `budget` tokens. */
export function trimSuffix(suffix: string, budget: number, encode: Encode): Trimmed {
  return trim(suffix, budget, encode, false);
}
