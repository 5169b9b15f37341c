// Every filter and the whole chain are total on broken code: a seeded sweep over broken prefixes, suffixes and completions.

import { describe, expect, test } from 'vitest';
import { FILTERS, cutTruncated, postprocess, type PostprocessContext } from '../../server/src/postprocess/index.js';
import { structuralScorer } from '../../server/src/postprocess/context.js';

const PIECES = ['(', ')', '[', ']', '{', '}', '"', "'", '`', '${', '"""', '/*', '*/', '//', '#', '\\', '\n', '\r\n', '\t', '    ', 'x', 'return', ';', ':', '😀', '║'];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function junk(next: () => number, maxPieces: number): string {
  let out = '';
  const n = Math.floor(next() * maxPieces);
  for (let i = 0; i < n; i++) out += PIECES[Math.floor(next() * PIECES.length)];
  return out;
}

describe('robustness', () => {
  test('500 random broken contexts: every filter and the chain return strings without throwing', () => {
    const next = rng(6);
    for (let i = 0; i < 500; i++) {
      const ctx: PostprocessContext = {
        prefix: junk(next, 30),
        suffix: junk(next, 30),
        languageId: ['typescript', 'typescriptreact', 'javascript', 'python', 'plaintext'][i % 5]!,
        lineMode: next() < 0.3 ? 'single' : 'multi',
        // Half of them as answers stopped by the token limit (bracket-balance.ts cutTruncated).
        truncated: i % 2 === 0,
      };
      const candidate = junk(next, 20);
      for (const { name, filter } of FILTERS) expect(typeof filter(candidate, ctx), name).toBe('string');
      const out = postprocess(candidate, ctx);
      expect(typeof out).toBe('string');
      if (ctx.lineMode === 'single') expect(out).not.toMatch(/\n/);
      // A truncated answer with code never adds bracket or string damage to the document.
      if (ctx.truncated && candidate.trim() !== '') {
        const cost = structuralScorer(ctx);
        expect(cost(cutTruncated(candidate, ctx))).toBeLessThanOrEqual(cost(''));
      }
    }
  });
});
