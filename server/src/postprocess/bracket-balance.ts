// Filter: trims closing brackets and quotes at the end of the completion when the suffix already closes what they close
// (an editor's auto-inserted `)`, a block's `}` below the cursor): the cut that leaves the least structural damage wins.

import { structuralScorer, type PostprocessContext } from './context.js';

// Characters that may follow the last meaningful token of a completion: closers, quotes, separators, whitespace.
const TAIL_CHARS = new Set([')', ']', '}', '"', "'", '`', ';', ',', ' ', '\t', '\r', '\n']);
const CUTTABLE = new Set([')', ']', '}', '"', "'", '`']);
const MAX_CUTS = 24;

export function balanceBrackets(text: string, ctx: PostprocessContext): string {
  let start = text.length;
  while (start > 0 && TAIL_CHARS.has(text[start - 1]!)) start--;
  const cuts: number[] = [];
  for (let i = text.length - 1; i >= start && cuts.length < MAX_CUTS; i--) if (CUTTABLE.has(text[i]!)) cuts.push(i);
  return cuts.length === 0 ? text : leastDamageCut(text, ctx, cuts, (at) => text.slice(0, at));
}

/**
 * Of `text` and its cuts (`cutAt(at)` for each position of `cuts`, in that order; undefined: not a candidate), the one
 * with the least structural damage of prefix + it + suffix (context.ts `structuralScorer`). Only a strictly lower cost
 * replaces the best, and a cost of 0 ends the search: given the latest cuts first, the text keeps as much as it can.
 */
function leastDamageCut(text: string, ctx: PostprocessContext, cuts: readonly number[], cutAt: (at: number) => string | undefined): string {
  const cost = structuralScorer(ctx);
  let best = text;
  let bestCost = cost(text);
  for (const at of cuts) {
    if (bestCost === 0) break;
    const candidate = cutAt(at);
    if (candidate === undefined) continue;
    const c = cost(candidate);
    if (c < bestCost) {
      best = candidate;
      bestCost = c;
    }
  }
  return best;
}

/**
 * Filter for a cursor right before a closer the document already holds on its line (an editor's auto-closed `)` or
 * quote): a candidate that closes that bracket itself inside its first line and writes on (`a + b) / 2` in `(‸)`)
 * would leave the closer twice (`(a + b) / 2)`), and `balanceBrackets` only trims closers at the end. The candidate
 * is cut before one of its own copies of that closer when that strictly lowers the structural cost of prefix +
 * candidate + suffix (postprocess/context.ts `structuralScorer`); the latest such cut first, so it keeps what it can
 * (`a + b`, giving `(a + b)`). A candidate that needs its closer (`x) + f(y` in `g(‸)`) is left as it is.
 * Input: candidate text (LF) and the LF context. Pure; never throws on broken code.
 */
export function cutBeforeSuffixCloser(text: string, ctx: PostprocessContext): string {
  const nl = ctx.suffix.indexOf('\n');
  const closer = (nl < 0 ? ctx.suffix : ctx.suffix.slice(0, nl)).trimStart()[0];
  if (closer === undefined || !CUTTABLE.has(closer)) return text;
  const firstLineEnd = text.includes('\n') ? text.indexOf('\n') : text.length;
  const cuts: number[] = [];
  for (let at = firstLineEnd - 1; at > 0 && cuts.length < MAX_CUTS; at--) if (text[at] === closer) cuts.push(at);
  if (cuts.length === 0) return text;
  return leastDamageCut(text, ctx, cuts, (at) => {
    const candidate = text.slice(0, at).trimEnd();
    return candidate.trim() === '' ? undefined : candidate;
  });
}

/**
 * Filter for an answer cut off by the token limit or the time budget (`ctx.truncated`): it may end mid-expression (`[1, 2, 3,` with its `[`
 * never closed), so it is cut back to the last point where prefix + answer + suffix is no more broken than prefix +
 * suffix alone (context.ts `structuralScorer`, the least-damage rule of `leastDamageCut`): for a multi-line answer the
 * end of one of its lines (the partial last line goes), for a single-line answer after a separator (`,` `;` space) or
 * before an opener, keeping what is left when it has code; a multi-line answer that adds no damage and whose last line
 * ends with `;` or a closer is kept whole (it stopped at a statement's end). Brackets opened in the prefix and closed in the suffix
 * count as closed, so an answer that continues them is kept. '' when no cut adds no damage: an answer that opens a
 * bracket it never closes is not returned. Peers (Copilot, Tabby) likewise trim a truncated answer to its last
 * complete line. Input: candidate text (LF) and the LF context. Pure; never throws on broken code.
 */
export function cutTruncated(text: string, ctx: PostprocessContext): string {
  if (!ctx.truncated || text.trim() === '') return text;
  const multi = text.includes('\n');
  const cuts: number[] = [];
  if (multi) {
    for (let at = text.lastIndexOf('\n'); at > 0; at = text.lastIndexOf('\n', at - 1)) cuts.push(at);
  } else {
    for (let at = text.length - 1; at > 0; at--) if (text[at] === ';') cuts.push(at + 1);
    else if (TRUNCATION_CUTS.has(text[at]!) || OPENERS.has(text[at]!)) cuts.push(at);
  }
  const cutAt = (at: number): string | undefined => {
    // A single line cut after a separator drops a trailing comma (`f(a, b` → `f(a`), a `;` ends a statement and stays.
    const kept = multi ? text.slice(0, at).trimEnd() : text.slice(0, at).trimEnd().replace(/,$/, '').trimEnd();
    return /[\p{L}\p{N}_$]/u.test(kept) ? kept : undefined;
  };
  const cost = structuralScorer(ctx);
  const baseline = cost('');
  // A multi-line answer whose last line ends a statement or block (`;`, a closer) and that adds no damage is whole.
  if (multi && STATEMENT_END.test(text.trimEnd()) && cost(text) <= baseline) return text;
  // Otherwise its last line may be partial and goes whatever its brackets: start at the last line end that keeps code.
  const startIdx = multi ? cuts.findIndex((at) => cutAt(at) !== undefined) : -1;
  const start = multi ? (startIdx < 0 ? undefined : cutAt(cuts[startIdx]!)) : text;
  if (start === undefined) return '';
  const best = leastDamageCut(start, ctx, multi ? cuts.slice(startIdx + 1) : cuts, cutAt);
  return cost(best) <= baseline ? best : '';
}

const STATEMENT_END = /[;)\]}]$/;
const TRUNCATION_CUTS = new Set([',', ';', ' ', '\t']);
const OPENERS = new Set(['(', '[', '{']);
