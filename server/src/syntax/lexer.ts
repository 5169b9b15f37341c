// A lexical bracket/quote scanner (no tree-sitter): skips comments and strings, tracks open brackets, counts structural damage.
// Pure and total: any text, however broken, yields a state; it is what post-processing uses to reason about closers.

import type { GrammarSettings } from './grammars.js';

/** Lexical rules the scanner needs (a subset of GrammarSettings, so tests and unknown languages can pass their own). */
export type LexicalRules = Pick<GrammarSettings, 'lineComment' | 'blockComment' | 'quotes' | 'multilineQuotes' | 'tripleQuotes' | 'brackets'>;

/** Fallback rules for languages without a grammar: C-like comments, the common quotes and brackets. */
export const GENERIC_RULES: LexicalRules = {
  lineComment: '//',
  blockComment: ['/*', '*/'],
  quotes: ['"', "'", '`'],
  multilineQuotes: ['`'],
  tripleQuotes: false,
  brackets: [['(', ')'], ['[', ']'], ['{', '}']],
};

export interface ScanState {
  /** Opening brackets not yet closed, outermost first. */
  stack: string[];
  /** Closers met with an empty stack. */
  unmatchedClosers: number;
  /** Closers that did not match the innermost opener (recovered by popping to a matching one, or ignored). */
  mismatchedClosers: number;
  /** Single-line strings cut by a newline. */
  unterminatedStrings: number;
  /** The delimiter of the string the scan ended inside ('"', "'", '`', '"""', ...), or null. */
  inString: string | null;
  inBlockComment: boolean;
  /** True when the scan ended inside a line comment (no newline since its start). */
  inLineComment: boolean;
}

export function initialScanState(): ScanState {
  return { stack: [], unmatchedClosers: 0, mismatchedClosers: 0, unterminatedStrings: 0, inString: null, inBlockComment: false, inLineComment: false };
}

// Per-rules lookup tables for ASCII characters, built once per rules object.
const CLASS_NONE = 0;
const CLASS_OPENER = 1;
const CLASS_CLOSER = 2;
const CLASS_QUOTE = 3;
const CLASS_COMMENT = 4;
const tables = new WeakMap<LexicalRules, { classes: Uint8Array; closerToOpener: Map<string, string> }>();

function tableFor(rules: LexicalRules) {
  let t = tables.get(rules);
  if (!t) {
    const classes = new Uint8Array(128);
    for (const [o, c] of rules.brackets) {
      classes[o.charCodeAt(0)] = CLASS_OPENER;
      classes[c.charCodeAt(0)] = CLASS_CLOSER;
    }
    for (const q of rules.quotes) classes[q.charCodeAt(0)] = CLASS_QUOTE;
    if (rules.lineComment) classes[rules.lineComment.charCodeAt(0)] = CLASS_COMMENT;
    if (rules.blockComment) classes[rules.blockComment[0].charCodeAt(0)] = CLASS_COMMENT;
    t = { classes, closerToOpener: new Map(rules.brackets.map(([o, c]) => [c, o])) };
    tables.set(rules, t);
  }
  return t;
}

const NEWLINE = 10;
const BACKSLASH = 92;

/** Scans `text` continuing from `from` (not mutated) and returns the state after it. Linear; ASCII-table driven. */
export function scan(text: string, rules: LexicalRules, from: ScanState = initialScanState()): ScanState {
  const s: ScanState = { ...from, stack: [...from.stack] };
  const { classes, closerToOpener } = tableFor(rules);
  const blockOpen = rules.blockComment?.[0];
  const blockClose = rules.blockComment?.[1];
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (s.inLineComment) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return s;
      s.inLineComment = false;
      i = nl + 1;
      continue;
    }
    if (s.inBlockComment) {
      const close = blockClose ? text.indexOf(blockClose, i) : -1;
      if (close < 0) return s;
      s.inBlockComment = false;
      i = close + blockClose!.length;
      continue;
    }
    if (s.inString !== null) {
      const delim = s.inString;
      const d0 = delim.charCodeAt(0);
      const multiline = delim.length > 1 || rules.multilineQuotes.includes(delim);
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === BACKSLASH) {
          i++;
          continue;
        }
        if (c === d0 && (delim.length === 1 || text.startsWith(delim, i))) {
          s.inString = null;
          i += delim.length;
          break;
        }
        if (c === NEWLINE && !multiline) {
          s.unterminatedStrings++;
          s.inString = null;
          i++;
          break;
        }
      }
      continue;
    }
    const code = text.charCodeAt(i);
    const cls = code < 128 ? classes[code]! : CLASS_NONE;
    if (cls === CLASS_NONE) {
      i++;
      continue;
    }
    if (cls === CLASS_COMMENT || cls === CLASS_QUOTE) {
      if (rules.lineComment && text.startsWith(rules.lineComment, i)) {
        s.inLineComment = true;
        i += rules.lineComment.length;
        continue;
      }
      if (blockOpen && text.startsWith(blockOpen, i)) {
        s.inBlockComment = true;
        i += blockOpen.length;
        continue;
      }
      if (cls === CLASS_QUOTE) {
        const ch = text[i]!;
        const triple = ch + ch + ch;
        if (rules.tripleQuotes && text.startsWith(triple, i)) {
          s.inString = triple;
          i += 3;
        } else {
          s.inString = ch;
          i++;
        }
        continue;
      }
    } else if (cls === CLASS_OPENER) {
      s.stack.push(text[i]!);
    } else if (cls === CLASS_CLOSER) {
      const opener = closerToOpener.get(text[i]!)!;
      if (s.stack.length === 0) s.unmatchedClosers++;
      else if (s.stack[s.stack.length - 1] === opener) s.stack.pop();
      else {
        s.mismatchedClosers++;
        const at = s.stack.lastIndexOf(opener);
        if (at >= 0) s.stack.length = at;
      }
    }
    i++;
  }
  return s;
}

/** How broken the scanned text is, lexically: unclosed/unmatched/mismatched brackets and unterminated strings or comments. */
export function structuralCost(s: ScanState): number {
  return s.unmatchedClosers + s.mismatchedClosers + s.stack.length + s.unterminatedStrings + (s.inString !== null ? 1 : 0) + (s.inBlockComment ? 1 : 0);
}
