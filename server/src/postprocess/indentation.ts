// Filter: rewrites the leading whitespace of completion lines (after the first) into the document's indent unit:
// tabs ↔ spaces, and space units of another width (4 → 2) where every line is a whole number of units.

import { detectIndentUnit, leadingWhitespace } from '../syntax/index.js';
import { defaultIndentFor, lineBeforeCursor, type PostprocessContext } from './context.js';

export function normalizeIndentation(text: string, ctx: PostprocessContext): string {
  const lines = text.split('\n');
  if (lines.length < 2) return text;
  const docUnit = detectIndentUnit(ctx.prefix + ctx.suffix, defaultIndentFor(ctx.languageId));
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
