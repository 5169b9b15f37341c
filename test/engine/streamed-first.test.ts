// The streamed candidate stays first (engine/decode.ts keepStreamedFirst): the ranking rule that keeps a manual
// request's final list consistent with the text it streamed.
import { afterAll, describe, expect, it } from 'vitest';
import { STREAMED_FIRST_MARGIN, keepStreamedFirst } from '../../server/src/engine/decode.js';
import { createEngine } from '../../server/src/engine/index.js';
import type { CompletionContext } from '../../server/src/engine/types.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';

const c = (text: string, score: number) => ({ text, score });

describe('keepStreamedFirst', () => {
  it('moves the streamed candidate to the front when no other scores more than the margin above it', () => {
    const ranked = [c('add(a, b)', -0.40), c('a + b', -0.55), c('a - b', -0.9)];
    expect(keepStreamedFirst(ranked, 'a + b', undefined, 0.3).map((x) => x.text)).toEqual(['a + b', 'add(a, b)', 'a - b']);
    // Within the default margin as well.
    expect(STREAMED_FIRST_MARGIN).toBeGreaterThan(0.15);
    expect(keepStreamedFirst(ranked, 'a + b', undefined)[0]!.text).toBe('a + b');
  });

  it('keeps the score order when another candidate is better by more than the margin', () => {
    const ranked = [c('add(a, b)', -0.2), c('a + b', -0.9)];
    expect(keepStreamedFirst(ranked, 'a + b', undefined, 0.3)).toEqual(ranked);
    // The margin is the only difference: 0.7 apart, a margin of 1 keeps the streamed one first.
    expect(keepStreamedFirst(ranked, 'a + b', undefined, 1)[0]!.text).toBe('a + b');
  });

  it('never puts a candidate that adds syntax errors above one that does not', () => {
    const ranked = [c('a + b', -0.6), c('a + (b', -0.5)];
    expect(keepStreamedFirst(ranked, 'a + (b', [false, true], 0.3)).toEqual(ranked);
    // In the same group (both add errors, or the language has no grammar) the margin decides.
    expect(keepStreamedFirst(ranked, 'a + (b', [true, true], 0.3)[0]!.text).toBe('a + (b');
  });

  it('changes nothing when the streamed text is first, absent (post-processing emptied it) or there is none', () => {
    const ranked = [c('x', -0.1), c('y', -0.2)];
    expect(keepStreamedFirst(ranked, 'x')).toEqual(ranked);
    expect(keepStreamedFirst(ranked, 'z')).toEqual(ranked);
    expect(keepStreamedFirst(ranked, undefined)).toEqual(ranked);
    expect(keepStreamedFirst([], 'x')).toEqual([]);
  });

  it('returns a new array and keeps the others in their order', () => {
    const ranked = [c('a', -0.1), c('b', -0.15), c('s', -0.2), c('d', -0.25)];
    const out = keepStreamedFirst(ranked, 's', undefined, 0.3);
    expect(out.map((x) => x.text)).toEqual(['s', 'a', 'b', 'd']);
    expect(ranked.map((x) => x.text)).toEqual(['a', 'b', 's', 'd']);
  });
});

describe('a manual request on models/default streams the candidate that ends up first', () => {
  // Completion reuse off: the 1-candidate request must decode, not answer from the 3-candidate request's entry. The
  // decoding time budget scales with the test timeouts, so a slow machine (or emulation) does not cut the greedy text.
  const engine = createEngine({ modelDir: defaultModelDir, device: 'cpu', threads: 1, completionReuse: false, warm: false, speculative: false, timeBudgetMs: modelTimeout(30_000) });
  afterAll(() => engine.dispose());
  const context: CompletionContext = {
    documentKey: 'file:///home.py',
    version: 1,
    languageId: 'python',
    prefix: 'import os\n\ndef home():\n    ',
    suffix: '\n',
    trigger: 'manual',
  };

  it('keeps the streamed (greedy) text first although an alternative scores a little higher', async () => {
    const partials: string[] = [];
    const three = await engine.complete({ ...context, maxCandidates: 3 }, new AbortController().signal, (t) => partials.push(t));
    const one = await engine.complete({ ...context, maxCandidates: 1 }, new AbortController().signal);
    if (three.kind !== 'ok' || one.kind !== 'ok') throw new Error(`not ok: ${three.kind} / ${one.kind}`);
    const streamed = one.candidates[0]!.text;
    expect(streamed).toBe('return os.path.expanduser("~/.config/home")');
    // The stream showed the greedy span as it decoded (each partial a prefix of the answer, or the raw text that
    // post-processing then cut back to it), and ends with the answer's first text.
    expect(partials.length).toBeGreaterThan(0);
    expect(partials.every((p) => streamed.startsWith(p) || p.startsWith(streamed))).toBe(true);
    expect(partials.at(-1)).toBe(streamed);
    // The case this test is about: another candidate (same syntax group: both parse) scores higher than the streamed one,
    // by less than the margin. Ranked by score alone it came first, and the editor's ghost text jumped to it. The gap
    // (0.25 when written, for the model of session 9; 0.23 for the prompt the v2 model had here; 0.125 for the v5
    // model's prompt; 0.172 for this prompt with the v6 model, chosen among 35 prompts as one whose two candidates both
    // parse and whose gap sits mid-way) stays clear of both 0 and the margin, far beyond float differences between CPUs.
    const better = three.candidates.find((c) => c.text !== streamed && c.score > three.candidates[0]!.score);
    expect(better?.text).toBe('if os.name == "nt":\n        return os.path.expanduser("~")\n    else:\n        return os.path.expanduser("~/")');
    const gap = better!.score - three.candidates.find((c) => c.text === streamed)!.score;
    expect(gap).toBeGreaterThan(0.05);
    expect(gap).toBeLessThan(STREAMED_FIRST_MARGIN - 0.05);
    expect(three.candidates[0]!.text).toBe(streamed);
  }, modelTimeout(60_000));
});
