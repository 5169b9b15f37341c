// Filter: a multi-line completion must not run past the code that follows the cursor — it is cut before the
// first of its lines that equals the first non-blank line after the cursor (the model has started to rewrite it).

import type { PostprocessContext } from './context.js';

const WORD = /[\p{L}\p{N}_$]/u;

export function stopAtSuffix(text: string, ctx: PostprocessContext): string {
  if (ctx.lineMode === 'single' || !text.includes('\n')) return text;
  const suffixLines = ctx.suffix.split('\n');
  // The rest of the cursor's line belongs to the cursor's line; the next code line is the first non-blank after it.
  const anchor = suffixLines.slice(1).map((l) => l.trim()).find((l) => l !== '');
  // Closer-only lines (`}`) are ambiguous (the completion may close a block it opened): the bracket filter decides.
  if (!anchor || !WORD.test(anchor)) return text;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === anchor) return lines.slice(0, i).join('\n').replace(/\n+$/, '');
  }
  return text;
}
