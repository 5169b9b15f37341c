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
  if (cuts.length === 0) return text;
  const cost = structuralScorer(ctx);
  let best = text;
  let bestCost = cost(text);
  // Latest cut first, and only a strictly better score replaces the best: the completion keeps as much as it can.
  for (const at of cuts) {
    if (bestCost === 0) break;
    const candidate = text.slice(0, at);
    const c = cost(candidate);
    if (c < bestCost) {
      best = candidate;
      bestCost = c;
    }
  }
  return best;
}

const SUFFIX_CLOSERS = new Set([')', ']', '}', '"', "'", '`']);

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
  if (closer === undefined || !SUFFIX_CLOSERS.has(closer)) return text;
  const firstLineEnd = text.includes('\n') ? text.indexOf('\n') : text.length;
  const cost = structuralScorer(ctx);
  let best = text;
  let bestCost = cost(text);
  let tried = 0;
  for (let at = firstLineEnd - 1; at > 0 && bestCost > 0 && tried < MAX_CUTS; at--) {
    if (text[at] !== closer) continue;
    tried++;
    const candidate = text.slice(0, at).trimEnd();
    if (candidate.trim() === '') continue;
    const c = cost(candidate);
    if (c < bestCost) {
      best = candidate;
      bestCost = c;
    }
  }
  return best;
}
