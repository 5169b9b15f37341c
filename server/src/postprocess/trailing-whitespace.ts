// Filter: removes trailing spaces and tabs on every completion line, and trailing blank lines/whitespace at the end of
// the completion when the cursor is at the end of its line (mid-line, a final space may separate it from the suffix).

import { restOfLine, type PostprocessContext } from './context.js';

export function trimTrailingWhitespace(text: string, ctx: PostprocessContext): string {
  const lines = text.split('\n');
  const last = lines.length - 1;
  const trimmed = lines.map((l, i) => (i === last ? l : l.replace(/[ \t]+(\r?)$/, '$1'))).join('\n');
  return restOfLine(ctx.suffix).trim() === '' ? trimmed.trimEnd() : trimmed;
}
