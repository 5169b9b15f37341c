// The truncated-answer case the remote backend tests share (test/backend/{llama-server,openai}.test.ts): a server
// streams `Math.max(a, ` and stops; stopped at its limit the answer must be cut back to a balanced end, stopped for any
// other reason it is post-processed as it came.
import { expect } from 'vitest';
import type { CompletionContext, CompletionEngine } from '../../server/src/engine/types.js';
import { structuralScorer } from '../../server/src/postprocess/context.js';
import { postprocess } from '../../server/src/postprocess/index.js';

/** The server's answer, in the pieces it streams: it leaves `Math.max(` open. */
export const TRUNCATED_PIECES = ['if (a > b) {\n', '    return a;\n', '  }\n', '  return Math.max(a, '];

/**
 * The expected texts for TRUNCATED_PIECES at `at` (a multi-line context): `raw` (the pieces joined), `cutBack` (what a
 * limit stop must show), `asIs` (any other stop), and `cost` (postprocess/context.ts's structural damage). Asserts the
 * case is the one at stake: the raw answer adds damage, the cut-back one is the lines before `Math.max(`.
 */
export function truncationCase(at: CompletionContext): { raw: string; cutBack: string; asIs: string; cost: (text: string) => number } {
  const raw = TRUNCATED_PIECES.join('');
  const pctx = { prefix: at.prefix, suffix: at.suffix, languageId: at.languageId, lineMode: 'multi' as const };
  const cost = structuralScorer(pctx);
  expect(cost(raw)).toBeGreaterThan(cost('')); // the raw answer leaves `Math.max(` open
  const cutBack = postprocess(raw, { ...pctx, truncated: true });
  expect(cutBack).toBe('if (a > b) {\n    return a;\n  }');
  const asIs = postprocess(raw, pctx);
  expect(asIs).toContain('Math.max(a,');
  return { raw, cutBack, asIs, cost };
}

/**
 * One answer of `engine` (a fresh one per answer: the completion cache would answer the same context again without
 * asking) for `at`, recording the streamed partials. When it streamed (`streamed`), the last partial must be the answer
 * as shown. Returns the shown text and the raw one.
 */
export async function answerOf(engine: CompletionEngine, at: CompletionContext, streamed: boolean): Promise<{ text: string; raw: string }> {
  const partials: string[] = [];
  const r = await engine.complete(at, new AbortController().signal, (t) => partials.push(t));
  expect(r.kind).toBe('ok');
  const text = r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '';
  if (streamed) expect(partials.at(-1)).toBe(text);
  return { text, raw: r.kind === 'ok' ? (r.raw ?? '') : '' };
}
