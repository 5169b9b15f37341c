// The plain-data context every post-processing filter receives, and small text helpers the filters share.

import { GENERIC_RULES, grammarFor, grammarSettings, initialScanState, scan, structuralCost, type LexicalRules, type ScanState } from '../syntax/index.js';

export interface PostprocessContext {
  /** Document text before the cursor. */
  prefix: string;
  /** Document text after the cursor. */
  suffix: string;
  /** Editor language id (typescript, python, ...). */
  languageId: string;
  /** 'single': the completion must stay on the cursor's line. */
  lineMode?: 'single' | 'multi';
  /** The document's line terminator; detected from prefix and suffix when absent. */
  eol?: '\n' | '\r\n';
  /**
   * True when generation was cut off at the token limit or the time budget (stop reason 'max-tokens' or 'time-budget',
   * engine/decode.ts `isTruncated`; a remote server's limit stop): the text may end mid-expression.
   */
  truncated?: boolean;
}

/** A post-processing step: pure, total on any text (broken code included), returns the text to keep. */
export type Filter = (text: string, ctx: PostprocessContext) => string;

/** Lexical rules for the context's language (generic C-like rules when it has no grammar). */
export function rulesFor(languageId: string): LexicalRules {
  const grammar = grammarFor(languageId);
  return grammar ? grammarSettings(grammar) : GENERIC_RULES;
}

/** The indent unit to assume when the document has no indented line. */
export function defaultIndentFor(languageId: string): string {
  const grammar = grammarFor(languageId);
  return grammar ? grammarSettings(grammar).defaultIndent : '    ';
}

/** The suffix up to (not including) the end of the cursor's line. */
export function restOfLine(suffix: string): string {
  const nl = suffix.indexOf('\n');
  return (nl < 0 ? suffix : suffix.slice(0, nl)).replace(/\r$/, '');
}

/** The prefix from the start of the cursor's line. */
export function lineBeforeCursor(prefix: string): string {
  return prefix.slice(prefix.lastIndexOf('\n') + 1);
}

/**
 * Scores candidate texts at the cursor by lexical structural damage of prefix + text + suffix (unclosed, unmatched or
 * mismatched brackets, unterminated strings). The prefix is scanned once per scorer.
 */
export function structuralScorer(ctx: PostprocessContext): (text: string) => number {
  const rules = rulesFor(ctx.languageId);
  let afterPrefix: ScanState | undefined;
  return (text) => {
    afterPrefix ??= scan(ctx.prefix, rules, initialScanState());
    return structuralCost(scan(ctx.suffix, rules, scan(text, rules, afterPrefix)));
  };
}

/** The document's line terminator: CRLF when most line breaks in (a sample of) prefix and suffix are CRLF. */
export function detectEol(prefix: string, suffix: string): '\n' | '\r\n' {
  const sample = prefix.slice(-32768) + suffix.slice(0, 32768);
  let crlf = 0;
  let lf = 0;
  for (let i = sample.indexOf('\n'); i >= 0; i = sample.indexOf('\n', i + 1)) {
    if (i > 0 && sample[i - 1] === '\r') crlf++;
    else lf++;
  }
  return crlf > lf ? '\r\n' : '\n';
}
