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
