// Syntax-error counting with tree-sitter: ERROR and MISSING nodes of a text, and whether a completion adds any.

import { grammarFor, grammarSettings, type GrammarName } from './grammars.js';
import { initialScanState, scan, structuralCost } from './lexer.js';
import { errorQuery, parseText, reparseText, type Tree } from './parsers.js';

/** ERROR + MISSING nodes of `text` (optionally only those overlapping [startIndex, endIndex) in UTF-16 units). */
function countIn(grammar: GrammarName, text: string, range?: { startIndex: number; endIndex: number }): number {
  return countInTree(grammar, parseText(grammar, text), range);
}

function countInTree(grammar: GrammarName, tree: Tree | undefined, range?: { startIndex: number; endIndex: number }): number {
  if (!tree || !tree.rootNode.hasError) return 0;
  try {
    return errorQuery(grammar).captures(tree.rootNode, range).length;
  } catch {
    return 0;
  }
}

/**
 * Whether the code in [start, end) (a line's code before the cursor) is where the syntax breaks: an ERROR or MISSING
 * node starts in it (a MISSING node: at `end` too), and no ERROR node starts before `start` and runs across it (code
 * broken from further up — a file whose first lines were cut off, a bracket left open above — makes error recovery
 * mark every line, so nothing is concluded there).
 */
function errorStartsIn(grammar: GrammarName, tree: Tree | undefined, start: number, end: number): boolean {
  if (!tree || !tree.rootNode.hasError) return false;
  try {
    const nodes = errorQuery(grammar).captures(tree.rootNode, { startIndex: start, endIndex: end }).map((c) => c.node);
    // Inside code that is broken from before the line (an ERROR node across the line's start), error recovery makes
    // every line look broken: no conclusion.
    if (nodes.some((n) => n.startIndex < start && n.endIndex > start)) return false;
    return nodes.some((n) => n.startIndex >= start && (n.startIndex < end || (n.isMissing && n.startIndex === end)));
  } catch {
    return false;
  }
}

/**
 * The length of `suffix` through the end of its first line after the cursor's that has code (the whole suffix when
 * there is none): error recovery often puts the error of an unfinished `y = ║` on the next statement (`y = return y`).
 */
function nextCodeLineEnd(suffix: string): number {
  let at = suffix.indexOf('\n');
  while (at >= 0) {
    const end = suffix.indexOf('\n', at + 1);
    const line = suffix.slice(at + 1, end < 0 ? suffix.length : end);
    if (/\S/.test(line) || end < 0) return end < 0 ? suffix.length : end;
    at = end;
  }
  return suffix.length;
}

/** ERROR + MISSING node count of `text` parsed as `languageId`; 0 for languages without a grammar or if parsing fails. */
export function syntaxErrorCount(text: string, languageId: string): number {
  const grammar = grammarFor(languageId);
  return grammar ? countIn(grammar, text) : 0;
}

export interface ErrorCheckOptions {
  /**
   * Parse only about this many UTF-16 units of prefix and of suffix around the cursor (cut at column-0 lines when one is
   * near). Default Infinity: the whole document is parsed once and each candidate re-parsed incrementally, which is
   * cheaper than a window cut inside a class (error recovery over every line outside it is slow).
   */
  windowChars?: number;
  /**
   * Count only ERROR/MISSING nodes overlapping this many units before the cursor through this many after the candidate:
   * a window cut inside a class makes every line outside it an error, identical on both sides, and costly to count.
   * Default 2000.
   */
  localChars?: number;
}

const DEFAULT_WINDOW_CHARS = Infinity;
/** A cursor line longer than this (UTF-16 code units) is a giant line: the window keeps half of it on each side. */
export const GIANT_LINE_CHARS = 8192;
const DEFAULT_LOCAL_CHARS = 2000;

/** The part of prefix and suffix a comparison parses: whole lines, starting/ending at a column-0 non-blank line when one is near. */
export function errorWindow(prefix: string, suffix: string, windowChars: number): { prefix: string; suffix: string } {
  let p = prefix;
  if (prefix.length > windowChars) {
    let at = prefix.lastIndexOf('\n', prefix.length - windowChars);
    // Walk back to a line that starts at column 0 (a top-level statement) within another window's length.
    const floor = Math.max(0, prefix.length - 2 * windowChars);
    while (at > floor && /[ \t\r\n]/.test(prefix[at + 1] ?? ' ')) at = prefix.lastIndexOf('\n', at - 1);
    p = at >= 0 ? prefix.slice(at + 1) : prefix;
  }
  let s = suffix;
  if (suffix.length > windowChars) {
    let at = suffix.indexOf('\n', windowChars);
    const ceiling = Math.min(suffix.length, 2 * windowChars);
    while (at >= 0 && at < ceiling && /[ \t\r\n]/.test(suffix[at + 1] ?? 'x')) at = suffix.indexOf('\n', at + 1);
    s = at >= 0 ? suffix.slice(0, at + 1) : suffix;
  }
  // A giant line (minified code) has no line end to cut at: cut it mid-line, so the parse stays bounded. A giant
  // cursor line bounds the window whatever windowChars is (Infinity included): parsing 100k+ characters of one line
  // per candidate cost seconds per keystroke (issue 13, item 4), and syntax counts on minified code say little.
  const lineStart = prefix.lastIndexOf('\n') + 1;
  const lineEnd = suffix.indexOf('\n');
  const cursorLine = prefix.length - lineStart + (lineEnd === -1 ? suffix.length : lineEnd);
  const cap = cursorLine > GIANT_LINE_CHARS ? Math.min(windowChars, GIANT_LINE_CHARS / 2) : windowChars;
  if (p.length > 2 * cap || (cap < windowChars && p.length > cap)) p = p.slice(p.length - cap);
  if (s.length > 2 * cap || (cap < windowChars && s.length > cap)) s = s.slice(0, cap);
  return { prefix: p, suffix: s };
}

/** How a candidate changes the code at the cursor. */
export interface SyntaxCheck {
  /** ERROR/MISSING nodes near the insertion, with the candidate minus without it (negative: the candidate repairs code). */
  treeDelta: number;
  /** Lexical damage (unclosed/unmatched brackets, unterminated strings) of the window, with minus without the candidate. */
  lexicalDelta: number;
  /** treeDelta > 0 or lexicalDelta > 0. */
  addsErrors: boolean;
  /**
   * The cursor is inside an unfinished statement: its line has code before the cursor (not in a string or comment)
   * and, without a candidate, an ERROR/MISSING node starts between that line's start and the end of the next line with
   * code (`from collections import ║` with nothing imported yet: an ERROR node from `from`; `y = ║` above `return y`:
   * an ERROR node in `return y`), none running across the line's start. The same for every candidate of one checker.
   */
  unfinished: boolean;
}

/**
 * Prepares the comparisons for one cursor: parses the window without a candidate once, then checks each candidate with
 * one more parse. null when the language has no grammar.
 */
export function syntaxChecker(prefix: string, suffix: string, languageId: string, options: ErrorCheckOptions = {}): ((candidate: string) => SyntaxCheck) | null {
  const grammar = grammarFor(languageId);
  if (!grammar) return null;
  const w = errorWindow(prefix, suffix, options.windowChars ?? DEFAULT_WINDOW_CHARS);
  const local = options.localChars ?? DEFAULT_LOCAL_CHARS;
  const from = Math.max(0, w.prefix.length - local);
  const rules = grammarSettings(grammar);
  const afterPrefix = scan(w.prefix, rules, initialScanState());
  const cursor = w.prefix.length;
  const baseText = w.prefix + w.suffix;
  let tree = parseText(grammar, baseText);
  const baseTree = countInTree(grammar, tree, { startIndex: from, endIndex: cursor + local });
  const lineStart = w.prefix.lastIndexOf('\n') + 1;
  const inText = afterPrefix.inString !== null || afterPrefix.inBlockComment || afterPrefix.inLineComment;
  const unfinished = baseTree > 0 && !inText && /\S/.test(w.prefix.slice(lineStart)) && errorStartsIn(grammar, tree, lineStart, cursor + nextCodeLineEnd(w.suffix));
  const baseLexical = structuralCost(scan(w.suffix, rules, afterPrefix));
  const start = pointAfter({ row: 0, column: 0 }, w.prefix);
  // The text currently inserted at the cursor in `tree`; each check edits it into the next candidate and re-parses.
  let inserted = '';
  return (candidate) => {
    const text = w.prefix + candidate + w.suffix;
    if (tree) {
      tree.edit({
        startIndex: cursor,
        oldEndIndex: cursor + inserted.length,
        newEndIndex: cursor + candidate.length,
        startPosition: start,
        oldEndPosition: pointAfter(start, inserted),
        newEndPosition: pointAfter(start, candidate),
      });
      tree = reparseText(grammar, text, tree);
      inserted = candidate;
    }
    const end = cursor + candidate.length + local;
    const treeDelta = countInTree(grammar, tree, { startIndex: from, endIndex: end }) - baseTree;
    const lexicalDelta = structuralCost(scan(w.suffix, rules, scan(candidate, rules, afterPrefix))) - baseLexical;
    return { treeDelta, lexicalDelta, addsErrors: treeDelta > 0 || lexicalDelta > 0, unfinished };
  };
}

/** The row/column (UTF-16 columns, as this binding counts) after `text` starting at `from`. */
function pointAfter(from: { row: number; column: number }, text: string): { row: number; column: number } {
  let rows = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) rows++;
  return rows === 0 ? { row: from.row, column: from.column + text.length } : { row: from.row + rows, column: text.length - text.lastIndexOf('\n') - 1 };
}

/** ERROR/MISSING nodes near the insertion with the candidate minus without it; null when the language has no grammar. */
export function syntaxErrorDelta(prefix: string, candidate: string, suffix: string, languageId: string, options: ErrorCheckOptions = {}): number | null {
  const check = syntaxChecker(prefix, suffix, languageId, options);
  return check ? check(candidate).treeDelta : null;
}

/**
 * True when inserting `candidate` between prefix and suffix adds ERROR/MISSING nodes near the insertion, or lexical
 * damage (an unclosed bracket whose MISSING node tree-sitter would place far away); false when it cannot tell.
 */
export function addsSyntaxErrors(prefix: string, candidate: string, suffix: string, languageId: string, options: ErrorCheckOptions = {}): boolean {
  return syntaxChecker(prefix, suffix, languageId, options)?.(candidate).addsErrors ?? false;
}
