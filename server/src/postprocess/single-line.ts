// Filter: in single-line mode, the completion stops at its first line break.

import type { PostprocessContext } from './context.js';

export function singleLine(text: string, ctx: PostprocessContext): string {
  if (ctx.lineMode !== 'single') return text;
  const at = text.search(/\r?\n/);
  return at < 0 ? text : text.slice(0, at);
}
