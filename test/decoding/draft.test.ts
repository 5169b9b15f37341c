// Draft-and-verify decoding (decoding/generator.ts `draftTokens`, prompt lookup drafts): promptLookup's matches, and a
// span decoded with drafts against the same span decoded plainly on a pure-JS model whose rows do not depend on how a
// run is split, so the answers must be equal to the bit: tokens, log-probabilities, confidences, stop reasons; the
// cache holds exactly the accepted tokens afterwards.
import { describe, expect, test } from 'vitest';
import { Generator, promptLookup } from '../../server/src/decoding/generator.js';
import { decodeSpan, type SpanOptions } from '../../server/src/decoding/span.js';
import { Tokenizer, toByteString } from '../../server/src/tokenizer/index.js';
import { createRng } from '../../server/src/util/rng.js';
import { tinyTokenizer } from '../runtime/helpers/tiny-tokenizer.js';
import { FakeLm } from './helpers/fake-lm.js';

const tiny = tinyTokenizer();
const tok = Tokenizer.fromObjects(tiny.json, tiny.config);
const V = tok.vocabSize;

describe('promptLookup', () => {
  test('the longest n-gram wins, at its latest earlier occurrence; at most k tokens, never past the end', () => {
    // n = 3: [1, 2, 3] occurs at 0, followed by 9, 1, 2
    expect(promptLookup([1, 2, 3, 9, 1, 2, 3], 3)).toEqual([9, 1, 2]);
    expect(promptLookup([1, 2, 3, 9, 1, 2, 3], 8)).toEqual([9, 1, 2, 3]);
    // n = 1 only: 5 occurs at 2 (followed by 8) and at 0 (followed by 7): the latest wins
    expect(promptLookup([5, 7, 5, 8, 5], 2)).toEqual([8, 5]);
    // a 2-gram match beats a later 1-gram match
    expect(promptLookup([4, 6, 1, 6, 2, 4, 6], 1)).toEqual([1]);
    expect(promptLookup([1, 2, 3], 4)).toEqual([]);
    expect(promptLookup([4, 1, 4], 2, 3, 2)).toEqual([]);
    expect(promptLookup([4, 1, 4], 2, 3, 1)).toEqual([1, 4]);
    expect(promptLookup([4, 1, 4], 0)).toEqual([]);
    expect(promptLookup([], 3)).toEqual([]);
    expect(promptLookup([7], 3)).toEqual([]);
  });
});

/**
 * A model that mostly copies the token `period` back (so prompt lookup guesses right) and breaks the pattern at some
 * positions (so drafts get rejected mid-run), with dense rows: log-probabilities and p_max are not trivial.
 */
function copyingLm(period: number, breakEvery: number): FakeLm {
  return new FakeLm(V, (seq) => {
    const row = new Float32Array(V);
    const len = seq.length;
    for (let i = 0; i < V; i++) row[i] = ((i * 7 + len * 3) % 11) / 4;
    const copy = len >= period ? seq[len - period]! : 3;
    const next = len % breakEvery === 0 ? (copy + 5) % V : copy;
    row[next] = 6;
    return row;
  });
}

async function decodeBoth(make: () => FakeLm, prompt: number[], options: Omit<SpanOptions, 'maxNewTokens'> & { maxNewTokens?: number }, draftTokens = 4) {
  const out = [];
  for (const draft of [0, draftTokens]) {
    const lm = make();
    const gen = new Generator(lm, { draftTokens: draft });
    gen.appendTokens(prompt);
    const span = await decodeSpan(gen, tok, { maxNewTokens: 24, ...options });
    out.push({ span, gen, lm });
  }
  return out as [(typeof out)[0], (typeof out)[0]];
}

describe('decodeSpan with drafts', () => {
  test('the same tokens, log-probabilities, confidences and stop reason as plain greedy decoding, in fewer runs', async () => {
    const prompt = [11, 12, 13, 14, 15, 11, 12, 13, 14, 15, 11, 12];
    for (const breakEvery of [7, 13, 1000]) {
      const [plain, drafted] = await decodeBoth(() => copyingLm(5, breakEvery), prompt, {});
      expect(drafted.span.tokenIds).toEqual(plain.span.tokenIds);
      expect(drafted.span.steps).toEqual(plain.span.steps);
      expect(drafted.span.text).toBe(plain.span.text);
      expect(drafted.span.stopReason).toBe(plain.span.stopReason);
      expect(drafted.span.firstChoices).toEqual(plain.span.firstChoices);
      expect(drafted.gen.stats.accepted).toBeGreaterThan(0);
      expect(drafted.lm.calls.length).toBeLessThan(plain.lm.calls.length);
      // Drafts that break the pattern are rejected (breakEvery 7 and 13) and the rest of their run is cut.
      if (breakEvery < 1000) expect(drafted.gen.stats.accepted).toBeLessThan(drafted.gen.stats.drafted);
      // The cache holds exactly the computed tokens, which are the sequence's (no rejected draft's KV left).
      expect(drafted.gen.cache.length).toBe(drafted.gen.computedLength);
      expect(drafted.gen.cache.tokens).toEqual(drafted.gen.tokens.slice(0, drafted.gen.cache.length));
      expect(drafted.gen.tokens).toEqual(plain.gen.tokens);
    }
  });

  test('stop tokens, masked ids, token healing and a text stop rule decide as they do without drafts', async () => {
    const cases: Omit<SpanOptions, 'maxNewTokens'>[] = [
      { stopTokenIds: [16] },
      { maskTokenIds: [13, 14] },
      { forced: { bytes: toByteString('Us'), text: 'Us', tokenBytes: tok.tokenByteStrings() } },
      { stopAt: (text) => (text.length > 9 ? 9 : null) },
      { interrupt: ({ index }) => index === 6 },
    ];
    const prompt = [11, 12, 13, 14, 15, 16, 11, 12, 13, 14, 15, 16, 11];
    for (const options of cases) {
      const [plain, drafted] = await decodeBoth(() => copyingLm(6, 9), prompt, options);
      expect(drafted.span.tokenIds).toEqual(plain.span.tokenIds);
      expect(drafted.span.steps).toEqual(plain.span.steps);
      expect(drafted.span.text).toBe(plain.span.text);
      expect(drafted.span.stopReason).toBe(plain.span.stopReason);
      expect(drafted.span.keptTokens).toBe(plain.span.keptTokens);
      expect(drafted.gen.cache.tokens).toEqual(drafted.gen.tokens.slice(0, drafted.gen.cache.length));
    }
  });

  test('the token budget bounds the drafts; sampling with an RNG and a forced first token draft nothing for that step', async () => {
    const prompt = [11, 12, 13, 14, 15, 11, 12, 13, 14, 15, 11, 12];
    const [, budget] = await decodeBoth(() => copyingLm(5, 1000), prompt, { maxNewTokens: 3 }, 8);
    expect(budget.span.tokenIds).toHaveLength(3);
    // 3 tokens: the first run's row plus at most 2 drafts; nothing is drafted past the budget.
    for (const c of budget.lm.calls.slice(1)) expect(c.ids.length).toBeLessThanOrEqual(3);
    expect(Math.max(...budget.lm.calls.map((c) => c.ids.length))).toBeLessThanOrEqual(prompt.length + 2);

    const lm = copyingLm(5, 1000);
    const gen = new Generator(lm, { draftTokens: 4 });
    gen.appendTokens(prompt);
    await decodeSpan(gen, tok, { maxNewTokens: 8, sampling: { temperature: 0.7 }, rng: createRng(3) });
    expect(gen.stats.drafted).toBe(0);
    expect(lm.calls.slice(1).every((c) => c.ids.length === 1)).toBe(true);

    const [plain, forced] = await decodeBoth(() => copyingLm(5, 1000), prompt, { firstTokenId: 20 });
    expect(forced.span.tokenIds).toEqual(plain.span.tokenIds);
    expect(forced.span.tokenIds[0]).toBe(20);
    // the prefill run (the first step's) carried no drafts
    expect(forced.lm.calls[0]!.ids).toEqual(prompt);
  });

  test('a rewind or a new prompt after drafted runs cuts the drafted KV and keeps the common prefix', async () => {
    const lm = copyingLm(5, 1000);
    const gen = new Generator(lm, { draftTokens: 4 });
    const prompt = [11, 12, 13, 14, 15, 11, 12, 13, 14, 15, 11, 12];
    gen.appendTokens(prompt);
    const rows = await gen.computeLogits(undefined, { draft: 4 });
    expect(rows).toBeInstanceOf(Float32Array);
    expect(gen.stats.drafted).toBe(4);
    // The cache holds the drafts' KV past the sequence until a choice accepts or rejects them.
    expect(gen.cache.length).toBe(prompt.length + 4);
    gen.appendTokens([13]); // the model's (and the draft's) next token: accepted, no run
    expect(gen.stats.accepted).toBe(1);
    expect(gen.computedLength).toBe(prompt.length + 1);
    gen.appendTokens([2]); // not the next draft: the remaining drafts are rejected
    const reused = await gen.setPrompt([...prompt, 13, 14]);
    expect(reused).toBe(prompt.length + 1);
    expect(gen.cache.tokens).toEqual([...prompt, 13]);
    await gen.computeLogits();
    expect(gen.cache.tokens).toEqual([...prompt, 13, 14]);
    await gen.rewindTo(5);
    expect(gen.cache.tokens).toEqual(prompt.slice(0, 4));
  });
});
