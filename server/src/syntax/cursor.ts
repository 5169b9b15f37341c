// Syntax facts at a cursor (in comment/string, partial identifier, empty block, enclosing statement/block ends, indentation).
// Tree-sitter where it knows, the lexical scanner and line heuristics where the code is too broken for the tree.

import { grammarFor, grammarSettings, type GrammarName, type GrammarSettings } from './grammars.js';
import { detectIndentUnit, leadingWhitespace } from './indent.js';
import { GENERIC_RULES, scan } from './lexer.js';
import { parseText, type SyntaxNode, type Tree } from './parsers.js';

export interface CursorAnalysis {
  /** The grammar used, or null for a language without one (then only lexical/line facts are filled in). */
  grammar: GrammarName | null;
  inComment: boolean;
  inString: boolean;
  /** The identifier characters right before the cursor ('' when none, or inside a comment/string). */
  midIdentifier: string;
  /** The cursor sits in a block that has nothing in it yet: `{║}`, `{\n  ║\n}`, `if x:\n    ║` (Python) … */
  atEmptyBlockStart: boolean;
  /** UTF-16 offset where the innermost statement containing the cursor ends, or null. */
  enclosingStatementEnd: number | null;
  /** UTF-16 offset where the innermost block containing the cursor ends (after its `}` for brace blocks), or null. */
  enclosingBlockEnd: number | null;
  indent: {
    /** The document's indent unit ('\t', '  ', '    ', ...). */
    unit: string;
    /** Leading whitespace of the cursor's line. */
    line: string;
  };
}

const IDENTIFIER_TAIL = /[\p{ID_Start}_$][\p{ID_Continue}$\u200c\u200d]*$/u;
const PY_IDENTIFIER_TAIL = /[\p{ID_Start}_][\p{ID_Continue}]*$/u;

/**
 * Analyses `text` at `utf16Offset` (0..text.length). Never throws on broken code; throws a RangeError only for an
 * offset outside the text (a caller bug). `tree`: the tree of exactly `text` when the caller has one (SyntaxTrees
 * keeps them per document, parsed incrementally); otherwise the text is parsed here.
 */
export function analyzeCursor(text: string, utf16Offset: number, languageId: string, tree?: Tree): CursorAnalysis {
  if (!Number.isInteger(utf16Offset) || utf16Offset < 0 || utf16Offset > text.length) {
    throw new RangeError(`analyzeCursor: utf16Offset ${utf16Offset} is outside 0..${text.length}`);
  }
  const grammar = grammarFor(languageId) ?? null;
  const settings = grammar ? grammarSettings(grammar) : null;
  const prefix = text.slice(0, utf16Offset);
  const suffix = text.slice(utf16Offset);

  const lexical = scan(prefix, settings ?? GENERIC_RULES);
  let inComment = lexical.inLineComment || lexical.inBlockComment;
  let inString = lexical.inString !== null;
  let enclosingStatementEnd: number | null = null;
  let enclosingBlockEnd: number | null = null;

  tree ??= grammar ? parseText(grammar, text) : undefined;
  if (tree && settings) {
    const node = tree.rootNode.descendantForIndex(Math.max(0, utf16Offset - 1), utf16Offset);
    const tf = treeFacts(node, utf16Offset, settings);
    // Trust the tree where it is intact; where the code around is broken, the lexical scan is the better witness.
    if (!tree.rootNode.hasError) {
      inComment = tf.inComment;
      inString = tf.inString;
    } else {
      inComment ||= tf.inComment;
      inString ||= tf.inString;
    }
    enclosingStatementEnd = tf.statementEnd;
    enclosingBlockEnd = tf.blockEnd;
  }
  if (inComment) inString = false;

  const tail = prefix.slice(-256);
  const idMatch = inComment || inString ? null : (grammar === 'python' ? PY_IDENTIFIER_TAIL : IDENTIFIER_TAIL).exec(tail);
  const lineStart = prefix.lastIndexOf('\n') + 1;
  return {
    grammar,
    inComment,
    inString,
    midIdentifier: idMatch ? idMatch[0] : '',
    atEmptyBlockStart: !inComment && !inString && emptyBlockStart(prefix, suffix, settings?.blockStyle ?? 'braces'),
    enclosingStatementEnd,
    enclosingBlockEnd,
    indent: { unit: detectIndentUnit(text, settings?.defaultIndent ?? '    '), line: leadingWhitespace(prefix.slice(lineStart)) },
  };
}

function treeFacts(start: SyntaxNode, offset: number, settings: GrammarSettings) {
  let inComment = false;
  let inString = false;
  let statementEnd: number | null = null;
  let blockEnd: number | null = null;
  for (let node: SyntaxNode | null = start; node; node = node.parent) {
    const { type, startIndex, endIndex } = node;
    if (settings.commentTypes.includes(type) && startIndex < offset) {
      const body = node.text;
      const closed = settings.blockComment !== null && body.startsWith(settings.blockComment[0]) && body.length >= 4 && body.endsWith(settings.blockComment[1]);
      // A line comment (or an unterminated block comment) still holds a cursor placed right at its end.
      if (offset < endIndex || (offset === endIndex && !closed)) inComment = true;
    }
    if (settings.stringTypes.includes(type) && startIndex < offset && offset < endIndex) inString = true;
    if (statementEnd === null && settings.statementTypes.includes(type) && startIndex < offset && offset <= endIndex) statementEnd = endIndex;
    if (blockEnd === null && settings.blockTypes.includes(type)) {
      const inside = settings.blockStyle === 'braces' ? startIndex < offset && offset < endIndex : startIndex <= offset && offset <= endIndex;
      if (inside) blockEnd = endIndex;
    }
  }
  return { inComment, inString, statementEnd, blockEnd };
}

function emptyBlockStart(prefix: string, suffix: string, style: 'braces' | 'indent'): boolean {
  const before = prefix.trimEnd();
  const restOfLine = suffix.slice(0, suffix.indexOf('\n') < 0 ? suffix.length : suffix.indexOf('\n'));
  const openerLine = before.slice(before.lastIndexOf('\n') + 1);
  const openerIndent = leadingWhitespace(openerLine).length;
  const nextLine = nextNonBlankLine(suffix);
  if (style === 'braces') {
    if (!before.endsWith('{')) return false;
    if (suffix.trimStart().startsWith('}')) return true;
    // `{` with nothing after the cursor in the block yet: the next line is not indented deeper than the opener.
    return restOfLine.trim() === '' && (nextLine === null || leadingWhitespace(nextLine).length <= openerIndent);
  }
  if (!before.endsWith(':') || restOfLine.trim() !== '') return false;
  return nextLine === null || leadingWhitespace(nextLine).length <= openerIndent;
}

/** The first non-blank line after the cursor's line, or null. */
function nextNonBlankLine(suffix: string): string | null {
  const lines = suffix.split('\n');
  for (let i = 1; i < lines.length; i++) if (lines[i]!.trim() !== '') return lines[i]!.replace(/\r$/, '');
  return null;
}
