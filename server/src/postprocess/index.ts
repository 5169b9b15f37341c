// The post-processing chain: pure filters applied in order to each raw completion, plus syntax-based candidate ranking.

import { balanceBrackets, cutTruncated } from './bracket-balance.js';
import { dropBlockCloser } from './block-closer.js';
import { detectEol, type Filter, type PostprocessContext } from './context.js';
import { normalizeIndentation } from './indentation.js';
import { matchLineEndings } from './line-endings.js';
import { removeRepetition } from './repetition.js';
import { singleLine } from './single-line.js';
import { removeSuffixOverlap } from './suffix-overlap.js';
import { trimTrailingWhitespace } from './trailing-whitespace.js';
import { stopAtSuffix } from './stop-at-suffix.js';
import { dropStatementBreak } from './statement-break.js';

export { breaksLine, startsStatement, startsStatementMidLine } from './statement-break.js';
export { balanceBrackets, cutTruncated, dropBlockCloser, dropStatementBreak, matchLineEndings, normalizeIndentation, removeRepetition, removeSuffixOverlap, singleLine, stopAtSuffix, trimTrailingWhitespace };
export { detectEol, type Filter, type PostprocessContext } from './context.js';
export { fitCandidate, type FitContext } from './fit.js';
export { expectedIndent, fitFirstLine } from './indentation.js';
export { rankCandidates, rankWithDeltas, type RankContext, type Rankable } from './rank.js';

/**
 * The chain, in order. A completion that only closes the cursor's block is dropped first; cutting filters come next (single line, loops), then indentation (so later filters see the
 * completion as it will be inserted), then the suffix-aware trims and whitespace; line endings last because every filter
 * before works on LF text.
 */
export const FILTERS: readonly { name: string; filter: Filter }[] = [
  // First: a completion that starts by closing the cursor's block is dropped whole (the other filters would keep its `}`).
  { name: 'blockCloser', filter: dropBlockCloser },
  { name: 'singleLine', filter: singleLine },
  { name: 'repetition', filter: removeRepetition },
  { name: 'stopAtSuffix', filter: stopAtSuffix },
  { name: 'indentation', filter: normalizeIndentation },
  { name: 'suffixOverlap', filter: removeSuffixOverlap },
  { name: 'bracketBalance', filter: balanceBrackets },
  // An answer stopped by the token limit or the time budget (ctx.truncated) goes back to its last balanced line end.
  { name: 'truncated', filter: cutTruncated },
  { name: 'trailingWhitespace', filter: trimTrailingWhitespace },
  // On the text as it will be inserted: a new statement begun mid-line where it breaks the line is dropped whole.
  { name: 'statementBreak', filter: dropStatementBreak },
  { name: 'lineEndings', filter: matchLineEndings },
];

/**
 * Runs the whole chain on one raw completion. CRLF documents are handled by running the filters on LF text (prefix,
 * suffix and candidate) and converting back at the end. Never throws on broken code.
 */
export function postprocess(candidate: string, ctx: PostprocessContext): string {
  const eol = ctx.eol ?? detectEol(ctx.prefix, ctx.suffix);
  const lfCtx: PostprocessContext =
    eol === '\r\n' ? { ...ctx, prefix: toLf(ctx.prefix), suffix: toLf(ctx.suffix), eol } : { ...ctx, eol };
  let text = toLf(candidate);
  for (const { filter } of FILTERS) text = filter(text, lfCtx);
  return text;
}

function toLf(text: string): string {
  return text.includes('\r\n') ? text.replace(/\r\n/g, '\n') : text;
}
