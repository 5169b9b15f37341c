// Candidate validation: orders candidates so that those not adding syntax errors (tree-sitter ERROR/MISSING nodes) come
// first; otherwise the input order (the engine's score order) is kept.

import { syntaxChecker, type ErrorCheckOptions, type SyntaxCheck } from '../syntax/index.js';

export interface RankContext {
  prefix: string;
  suffix: string;
  languageId: string;
}

export type Rankable = string | { text: string };

/** The candidates in a new array: those that add no syntax error first, each group in input order (a stable sort). */
export function rankCandidates<T extends Rankable>(candidates: readonly T[], ctx: RankContext, options: ErrorCheckOptions = {}): T[] {
  return rankWithDeltas(candidates, ctx, options).map((r) => r.candidate);
}

/** Like rankCandidates, with each candidate's syntax check (null when the language has no grammar). */
export function rankWithDeltas<T extends Rankable>(candidates: readonly T[], ctx: RankContext, options: ErrorCheckOptions = {}): { candidate: T; check: SyntaxCheck | null }[] {
  const checker = candidates.length > 0 ? syntaxChecker(ctx.prefix, ctx.suffix, ctx.languageId, options) : null;
  if (!checker) return candidates.map((candidate) => ({ candidate, check: null }));
  const seen = new Map<string, SyntaxCheck>();
  const rows = candidates.map((candidate, index) => {
    const text = typeof candidate === 'string' ? candidate : candidate.text;
    let check = seen.get(text);
    if (!check) {
      check = checker(text);
      seen.set(text, check);
    }
    return { candidate, check, index };
  });
  rows.sort((a, b) => Number(a.check.addsErrors) - Number(b.check.addsErrors) || a.index - b.index);
  return rows.map(({ candidate, check }) => ({ candidate, check }));
}
