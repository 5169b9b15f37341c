// Fits a candidate to the document where a transport turns it into an item (LSP classic and inline items, API answers,
// the CLI's output). Every answer passes here — fresh, typed-ahead, speculative — so that the text inserted at the
// cursor never leaves the text after the cursor twice, starts its first line at the file's indentation, and uses the
// document's line ends.

import { balanceBrackets, cutBeforeSuffixCloser } from './bracket-balance.js';
import { lineBeforeCursor, restOfLine, type PostprocessContext } from './context.js';
import { normalizeIndentation } from './indentation.js';
import { removeSuffixOverlap } from './suffix-overlap.js';

export interface FitContext {
  /** Document text before the cursor, LF line ends (documents/completionContext gives it so). */
  prefix: string;
  /** Document text after the cursor, LF line ends. */
  suffix: string;
  languageId: string;
  /** The document's line terminator; the fitted text uses it (default '\n'). */
  eol?: '\n' | '\r\n' | '\r';
}

const CLOSERS_ONLY = /^[\s\])}>;,'"`]*$/;

/**
 * The text to insert at the cursor (a zero-width range there) for `candidate`, or '' when nothing is left of it:
 * 1. LF line ends (a CRLF or lone-CR candidate is normalised first);
 * 2. the first line's indentation fits the file (postprocess/indentation.ts `fitFirstLine`);
 * 3. with code after the cursor on its line, a multi-line candidate keeps its first line only — the code after the
 *    cursor would otherwise land after its last line — unless that last line is blank and the code after the cursor is
 *    only closers (`foo(` ⏎ args ⏎ `)`), which then close on their own line; when the cursor stands at the start of
 *    that code (only whitespace before it), the lines go in front of it and the code keeps its own line and
 *    indentation (a line break and the cursor line's whitespace end the text; a last line that repeats the code goes);
 * 4. the tail the document already holds after the cursor is dropped: the rest of the cursor's line (`)`, `);`) or the
 *    next lines again, when dropping it does not add bracket damage (postprocess/suffix-overlap.ts, bracket-balance.ts —
 *    the filters fresh answers went through, run again against the document as it is now); a candidate that closes
 *    the bracket before the cursor's closer inside its first line and writes on (`a + b) / 2` in `(‸)`) is cut before
 *    its own closer when that removes the damage (bracket-balance.ts `cutBeforeSuffixCloser`);
 * 5. the document's line ends.
 * Pure; never throws on broken code.
 */
export function fitCandidate(candidate: string, ctx: FitContext): string {
  const pctx: PostprocessContext = { prefix: ctx.prefix, suffix: ctx.suffix, languageId: ctx.languageId, eol: '\n' };
  let text = candidate.includes('\r') ? candidate.replace(/\r\n?/g, '\n') : candidate;
  text = normalizeIndentation(text, pctx);
  const rest = restOfLine(ctx.suffix);
  const before = lineBeforeCursor(ctx.prefix);
  // Lines written in front of the code line the cursor stands at the start of: that code keeps its own line.
  let ownLine = false;
  if (rest.trim() !== '' && text.includes('\n')) {
    const lastLine = text.slice(text.lastIndexOf('\n') + 1);
    if (before.trim() === '') {
      ownLine = true;
      const lines = text.replace(/\n[ \t]*$/, '').split('\n');
      // The model wrote the code after the cursor again as its last line.
      if (lines.length > 1 && lines[lines.length - 1]!.trim() === rest.trim()) lines.pop();
      text = lines.join('\n');
    } else if (!(lastLine.trim() === '' && CLOSERS_ONLY.test(rest))) text = text.slice(0, text.indexOf('\n')).trimEnd();
  }
  if (text.trim() !== '' && !ownLine) {
    text = removeSuffixOverlap(text, pctx);
    text = balanceBrackets(text, pctx);
    text = cutBeforeSuffixCloser(text, pctx);
  }
  if (text.trim() === '') return '';
  // The code after the cursor goes on the next line at the indentation it had.
  if (ownLine) text = `${text}\n${before}`;
  const eol = ctx.eol ?? '\n';
  return eol === '\n' ? text : text.replace(/\n/g, eol);
}
