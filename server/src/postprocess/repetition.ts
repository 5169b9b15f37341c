// Filter: a small model often loops; a repeated line or block of lines is cut after its first occurrence.
// A block with two or more non-blank lines counts as looping when it appears twice in a row; a single line (one non-blank
// line) only when it appears three times in a row, since two equal lines in a row are common in real code.
// A line or block that comes again after one or more blank lines (same text, same indentation) counts at its second
// occurrence: `return xs\n\n    return xs` at the end of a body is the model starting the body over, and in real code
// an exact repeat with only blank lines between is dead code or a duplicate (the fresh-user report's top candidate).

import { lineBeforeCursor, type PostprocessContext } from './context.js';

const MAX_LINES = 400;

export function removeRepetition(text: string, ctx: PostprocessContext): string {
  const lines = text.split('\n');
  // Line 0 continues the cursor's line: compare it as the whole line, indentation included.
  const keys = lines.map((l, i) => (i === 0 ? lineBeforeCursor(ctx.prefix) + l : l).replace(/\r$/, '').trimEnd());
  const n = Math.min(keys.length, MAX_LINES);
  for (let start = 0; start < n; start++) {
    const afterBlanks = repeatedAfterBlankLines(keys, start, n);
    if (afterBlanks !== undefined) return lines.slice(0, start + afterBlanks).join('\n');
    for (let size = 1; start + 2 * size <= n + 1; size++) {
      const unit = keys.slice(start, start + size);
      const nonBlank = unit.filter((l) => l.trim() !== '').length;
      if (nonBlank === 0) continue;
      const needed = nonBlank >= 2 ? 2 : 3;
      if (repeats(keys, start, size, needed, n)) return lines.slice(0, start + size).join('\n');
    }
  }
  return text;
}

/**
 * The size of the block keys[start, start+size) (first and last lines non-blank) that occurs again right after one or
 * more blank lines, or undefined. The copy must be whole, except that the text's last line may be a non-empty prefix
 * of its counterpart when the block has 2+ lines (generation stopped mid-line inside the loop).
 */
function repeatedAfterBlankLines(keys: string[], start: number, n: number): number | undefined {
  if (keys[start]!.trim() === '') return undefined;
  for (let size = 1; start + size < n; size++) {
    if (keys[start + size - 1]!.trim() === '') continue;
    let k = start + size;
    while (k < n && keys[k]!.trim() === '') k++;
    if (k === start + size || k >= n) continue;
    if (copyAt(keys, start, size, k, n)) return size;
  }
  return undefined;
}

/**
 * Whether keys[start, start+size) occurs `needed` times in a row from `start`. The very last line of the text may be a
 * non-empty prefix of its counterpart: generation often stops mid-line inside a loop.
 */
function repeats(keys: string[], start: number, size: number, needed: number, n: number): boolean {
  for (let copy = 1; copy < needed; copy++) if (!copyAt(keys, start, size, start + copy * size, n)) return false;
  return true;
}

/**
 * Whether keys[from, from+size) (within the first n) is a copy of keys[start, start+size). The text's very last line
 * may be a non-empty prefix of its counterpart (not the block's first line): generation often stops mid-line inside
 * a loop, and that line ends the copy.
 */
function copyAt(keys: string[], start: number, size: number, from: number, n: number): boolean {
  for (let j = 0; j < size; j++) {
    const at = from + j;
    const want = keys[start + j]!;
    if (at >= n) return false;
    const got = keys[at]!;
    if (got === want) continue;
    return at === keys.length - 1 && j > 0 && got.trim() !== '' && want.startsWith(got);
  }
  return true;
}
