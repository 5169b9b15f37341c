// Filter: rewrites the leading whitespace of completion lines into the document's indent unit: the first line's when
// the cursor stands in its line's indentation (fitFirstLine), and the later lines': tabs ↔ spaces, and space units of
// another width (4 → 2) where every line is a whole number of units.

import { detectIndentUnit, grammarFor, grammarSettings, leadingWhitespace } from '../syntax/index.js';
import { defaultIndentFor, lineBeforeCursor, type PostprocessContext } from './context.js';

export function normalizeIndentation(text: string, ctx: PostprocessContext): string {
  const docUnit = detectIndentUnit(ctx.prefix + ctx.suffix, defaultIndentFor(ctx.languageId));
  text = fitFirstLine(text, ctx, docUnit);
  const lines = text.split('\n');
  if (lines.length < 2) return text;
  const body = lines.slice(1);
  // The completion's own space unit: the greatest common divisor of its lines' space indents (and of the cursor line's,
  // when that one is indented with spaces). 1 or more than 8 means no usable unit (alignment, not indentation).
  const cursorIndent = leadingWhitespace(lineBeforeCursor(ctx.prefix));
  const widths = body.filter((l) => l.trim() !== '' && /^ +(?! |\t)/.test(l)).map((l) => leadingWhitespace(l).length);
  if (/^ +$/.test(cursorIndent)) widths.push(cursorIndent.length);
  // One distinct width (a single line at the cursor's depth) says nothing about the unit: 4 could be two 2-space units.
  const unitWidth = new Set(widths).size >= 2 ? widths.reduce(gcd, 0) : 0;
  const ownUnit = unitWidth >= 2 && unitWidth <= 8 ? ' '.repeat(unitWidth) : body.some((l) => l.startsWith('\t')) ? '\t' : docUnit;
  const usesTabs = body.some((l) => l.trim() !== '' && leadingWhitespace(l).includes('\t'));
  const usesSpaces = body.some((l) => l.trim() !== '' && leadingWhitespace(l).startsWith(' '));
  let rewrite: ((ws: string) => string) | null = null;
  if (docUnit === '\t' && usesSpaces && ownUnit !== docUnit) {
    const width = ownUnit === '\t' ? 4 : ownUnit.length;
    rewrite = (ws) => {
      const cols = columns(ws, width);
      return '\t'.repeat(Math.floor(cols / width)) + ' '.repeat(cols % width);
    };
  } else if (docUnit !== '\t' && usesTabs) {
    rewrite = (ws) => ws.replace(/\t/g, docUnit);
  } else if (docUnit !== '\t' && ownUnit !== '\t' && ownUnit.length !== docUnit.length) {
    const widths = body.filter((l) => l.trim() !== '').map((l) => leadingWhitespace(l).length);
    if (widths.every((w) => w % ownUnit.length === 0)) rewrite = (ws) => docUnit.repeat(ws.length / ownUnit.length);
  }
  if (!rewrite) return text;
  const apply = rewrite;
  return [lines[0], ...body.map((l) => (l.trim() === '' ? l : apply(leadingWhitespace(l)) + l.slice(leadingWhitespace(l).length)))].join('\n');
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function columns(ws: string, tabWidth: number): number {
  let cols = 0;
  for (const ch of ws) cols = ch === '\t' ? cols + tabWidth - (cols % tabWidth) : cols + 1;
  return cols;
}

/**
 * The first line of a completion written where the cursor stands in its line's indentation (a blank line, or only
 * whitespace before the cursor): the whitespace it adds must make the line's indentation fit the file.
 * - The wrong kind of indentation (spaces in a tab-indented file, tabs in a space-indented one): the line gets the
 *   indentation the code around expects (`expectedIndent`), in the file's unit.
 * - The editor already indented the new line (the cursor after that whitespace) and the completion adds more, deeper
 *   than both the expected indentation and the editor's: the added whitespace goes (the model repeated it).
 * Whitespace before the cursor is the document's and stays; the later lines are left to normalizeIndentation.
 * `docUnit` is the document's indent unit ('\t' or spaces).
 */
export function fitFirstLine(text: string, ctx: PostprocessContext, docUnit: string): string {
  const before = lineBeforeCursor(ctx.prefix);
  if (before.trim() !== '') return text;
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  if (first.trim() === '') return text;
  const ws = leadingWhitespace(first);
  const full = before + ws;
  const style = blockStyleOf(ctx.languageId);
  const prefixLines = ctx.prefix.slice(0, ctx.prefix.length - before.length);
  let expected = expectedIndent(prefixLines, docUnit, style);
  // A line that starts by closing the block sits one unit out.
  if (style === 'braces' && /^[\])}]/.test(first.trimStart()) && expected.endsWith(docUnit)) expected = expected.slice(0, expected.length - docUnit.length);
  const wrongKind = docUnit === '\t' ? full.includes(' ') : full.includes('\t');
  let target: string | null = null;
  if (wrongKind) target = expected;
  else if (before !== '' && ws !== '' && full.length > Math.max(expected.length, before.length)) target = expected.length > before.length ? expected : before;
  if (target === null || target === full) return text;
  // Only whitespace after the cursor can change: the line's indentation becomes at least what is already there.
  const added = target.startsWith(before) ? target.slice(before.length) : '';
  return added + text.slice(ws.length);
}

/**
 * The indentation a new line at the cursor is expected to have: the previous code line's, one unit deeper after a
 * line that opens a block (`{`, `(`, `[` at its end; a Python line ending with `:`). `prefixLines` ends at the start of
 * the cursor's line. '' at the top of a file.
 */
export function expectedIndent(prefixLines: string, unit: string, style: 'braces' | 'indent'): string {
  // From the last line up; at most a few thousand characters back (a long run of blank lines says nothing more).
  const window = prefixLines.length > 20000 ? prefixLines.slice(-20000) : prefixLines;
  const lines = window.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const opener = style === 'indent' ? /(:|[\[({])\s*(#.*)?$/.test(line) : /[{(\[]\s*$/.test(line);
    return leadingWhitespace(line) + (opener ? unit : '');
  }
  return '';
}

function blockStyleOf(languageId: string): 'braces' | 'indent' {
  const grammar = grammarFor(languageId);
  return grammar ? grammarSettings(grammar).blockStyle : 'braces';
}
