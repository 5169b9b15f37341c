// Filter: drops the tail of the completion that the suffix already holds — whole lines equal to the lines after the
// cursor, or the rest of the cursor's line (`);`, `)`, `name)`) — when dropping it does not damage bracket structure.

import { lineBeforeCursor, restOfLine, structuralScorer, type PostprocessContext } from './context.js';

const WORD = /[\p{L}\p{N}_$]/u;
const MAX_SUFFIX_LINES = 20;

export function removeSuffixOverlap(text: string, ctx: PostprocessContext): string {
  if (text.trim() === '') return text;
  // A looping model may repeat the next line several times: drop duplicated trailing lines until none is left.
  let current = text;
  for (let byLines = dropDuplicatedLines(current, ctx); byLines !== null && byLines !== current; byLines = dropDuplicatedLines(current, ctx)) {
    current = byLines;
  }
  return current === text ? dropRestOfLine(text, ctx) : current;
}

/** Whole-line overlap: the completion's last non-blank lines equal the first non-blank lines after the cursor's line. */
function dropDuplicatedLines(text: string, ctx: PostprocessContext): string | null {
  if (restOfLine(ctx.suffix).trim() !== '') return null;
  const after = ctx.suffix.split('\n').slice(1, 1 + MAX_SUFFIX_LINES).map((l) => l.trim()).filter((l) => l !== '');
  const lines = text.split('\n');
  // Line 0 of the completion continues the cursor's line: compare the whole line.
  const full = lines.map((l, i) => (i === 0 ? lineBeforeCursor(ctx.prefix) + l : l).trim());
  const nonBlank = full.map((l, i) => [l, i] as const).filter(([l]) => l !== '');
  for (let m = Math.min(nonBlank.length, after.length); m >= 1; m--) {
    const tail = nonBlank.slice(nonBlank.length - m);
    if (!tail.every(([l], k) => l === after[k])) continue;
    // Closer-only lines (`}`, `)`) are the bracket filter's business: they may close a block the completion opened.
    if (!tail.some(([l]) => WORD.test(l))) continue;
    const firstLine = tail[0]![1];
    return firstLine === 0 ? '' : lines.slice(0, firstLine).join('\n');
  }
  return null;
}

/** Same-line overlap: the completion ends with the rest of the cursor's line. */
function dropRestOfLine(text: string, ctx: PostprocessContext): string {
  const rest = restOfLine(ctx.suffix).trim();
  if (rest === '') return text;
  const trimmed = text.trimEnd();
  const lastLine = trimmed.slice(trimmed.lastIndexOf('\n') + 1);
  if (!lastLine.endsWith(rest)) return text;
  const candidate = trimmed.slice(0, trimmed.length - rest.length);
  // At the start of a code line (only whitespace before the cursor), a whole line ending like that code is a line of
  // its own (`        return False` before `    return False`), not that code again.
  if (candidate.trim() === '' && lineBeforeCursor(ctx.prefix).trim() === '') return text;
  const cost = structuralScorer(ctx);
  return cost(candidate) <= cost(text) ? candidate : text;
}
