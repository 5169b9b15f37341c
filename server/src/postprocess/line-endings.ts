// Filter: the completion's line breaks follow the document's (CRLF documents get CRLF, LF documents LF).

import { detectEol, type PostprocessContext } from './context.js';

export function matchLineEndings(text: string, ctx: PostprocessContext): string {
  const eol = ctx.eol ?? detectEol(ctx.prefix, ctx.suffix);
  const lf = text.replace(/\r\n/g, '\n');
  return eol === '\r\n' ? lf.replace(/\n/g, '\r\n') : lf;
}
