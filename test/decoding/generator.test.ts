// The Generator's verbs and the decode loop, on a pure-JS fake model: chunked prefill, cancellation, rewind, stops, streaming.
import { describe, expect, test } from 'vitest';
import { Generator, generate, type TextDecoding } from '../../server/src/decoding/index.js';
import { FakeLm } from './helpers/fake-lm.js';

/** Next token = (last + 1) mod 50; token 49 never appears unless reached. */
const counting = () => new FakeLm(50, (seq) => (seq[seq.length - 1]! + 1) % 50);

/** Decodes token i as the letter 'a'+i (mod 26), 40 as '\n', 41 as 'é' split in two bytes (41: C3, 42: A9). */
const letters: TextDecoding = {
  createStreamDecoder() {
    const dec = new TextDecoder();
    return {
      push: (id) => (id === 40 ? '\n' : id === 41 ? dec.decode(Uint8Array.of(0xc3), { stream: true }) : id === 42 ? dec.decode(Uint8Array.of(0xa9), { stream: true }) : String.fromCharCode(97 + (id % 26))),
      flush: () => dec.decode(),
    };
  },
};

describe('Generator verbs', () => {
  test('prefill runs in chunks; only the last chunk asks for logits', async () => {
    const lm = counting();
    const gen = new Generator(lm, { prefillChunkSize: 4 });
    gen.appendTokens([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const logits = await gen.computeLogits();
    expect(logits).toBeInstanceOf(Float32Array);
    expect(lm.calls.map((c) => [c.ids.length, c.logits])).toEqual([
      [4, false],
      [4, false],
      [2, true],
    ]);
    expect(gen.computedLength).toBe(10);
  });

  test('prefillRunCap shortens runs by the cached depth; the tokens and the last-run logits are unchanged', async () => {
    const lm = counting();
    const seen: number[] = [];
    // at most 4 tokens per run while fewer than 6 positions are cached, then at most 2
    const gen = new Generator(lm, { prefillChunkSize: 4, prefillRunCap: (run, past) => (seen.push(past), past < 6 ? run : 2) });
    gen.appendTokens([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await gen.computeLogits();
    expect(lm.calls.map((c) => [c.ids.length, c.logits])).toEqual([
      [4, false],
      [4, false],
      [2, false],
      [1, true],
    ]);
    expect(seen).toEqual([0, 4, 8, 10]);
    expect(lm.calls.flatMap((c) => [...c.ids])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test('a prefillRunCap answer outside 1..run is clamped (0 → 1 token, above the chunk → the chunk)', async () => {
    const lm = counting();
    const gen = new Generator(lm, { prefillChunkSize: 3, prefillRunCap: (_run, past) => (past === 0 ? 0 : 99) });
    gen.appendTokens([1, 2, 3, 4, 5]);
    await gen.computeLogits();
    expect(lm.calls.map((c) => c.ids.length)).toEqual([1, 3, 1]);
  });

  test('nextToken appends the choice; the next step runs one token', async () => {
    const lm = counting();
    const gen = new Generator(lm);
    gen.appendTokens([3, 4]);
    gen.setSearch({ maxNewTokens: 3 });
    const got: number[] = [];
    while (!gen.isDone()) {
      const c = await gen.nextToken();
      if ('cancelled' in c) throw new Error('cancelled');
      got.push(c.tokenId);
    }
    expect(got).toEqual([5, 6, 7]);
    expect(gen.tokens).toEqual([3, 4, 5, 6, 7]);
    expect(lm.calls.map((c) => c.ids)).toEqual([[3, 4], [5], [6]]);
    await expect(gen.nextToken()).rejects.toThrow(/done/);
  });

  test('a stop token ends the turn', async () => {
    const gen = new Generator(counting());
    gen.appendTokens([7]);
    gen.setSearch({ stopTokenIds: [9], maxNewTokens: 10 });
    await gen.nextToken();
    expect(gen.isDone()).toBe(false);
    await gen.nextToken();
    expect(gen.isDone()).toBe(true);
  });

  test('an abort between prefill chunks returns CANCELLED and keeps the chunks already run', async () => {
    const lm = counting();
    const ac = new AbortController();
    lm.onForward = (c) => {
      if (c.past === 2) ac.abort();
    };
    const gen = new Generator(lm, { prefillChunkSize: 2 });
    gen.appendTokens([1, 2, 3, 4, 5, 6]);
    expect(await gen.computeLogits(ac.signal)).toEqual({ cancelled: true });
    expect(gen.computedLength).toBe(4);
    expect(lm.calls).toHaveLength(2);
    // Resuming without the signal finishes the rest only.
    expect(await gen.computeLogits()).toBeInstanceOf(Float32Array);
    expect(lm.calls.map((c) => c.ids)).toEqual([[1, 2], [3, 4], [5, 6]]);
  });

  test('rewindTo keeps the first n tokens and re-runs only the last one for its logits', async () => {
    const lm = counting();
    const gen = new Generator(lm);
    gen.appendTokens([10, 11, 12, 13, 14]);
    await gen.computeLogits();
    await gen.rewindTo(3);
    expect(gen.tokens).toEqual([10, 11, 12]);
    expect(gen.cache.tokens).toEqual([10, 11]);
    gen.setSearch({ maxNewTokens: 1 });
    const c = await gen.nextToken();
    expect(c).toMatchObject({ tokenId: 13 });
    expect(lm.calls.at(-1)!.ids).toEqual([12]);
    await expect(gen.rewindTo(99)).rejects.toThrow(RangeError);
  });

  test('setPrompt reuses the longest common prefix', async () => {
    const lm = counting();
    const gen = new Generator(lm);
    expect(await gen.setPrompt([1, 2, 3, 4])).toBe(0);
    await gen.computeLogits();
    // Pure extension: nothing re-run.
    expect(await gen.setPrompt([1, 2, 3, 4, 5, 6])).toBe(4);
    await gen.computeLogits();
    expect(lm.calls.at(-1)!.ids).toEqual([5, 6]);
    // Divergence at index 2: the cache is cut there.
    expect(await gen.setPrompt([1, 2, 9, 9])).toBe(2);
    await gen.computeLogits();
    expect(lm.calls.at(-1)!.ids).toEqual([9, 9]);
    // Same prompt again: one token re-run for fresh logits.
    expect(await gen.setPrompt([1, 2, 9, 9])).toBe(3);
    await gen.computeLogits();
    expect(lm.calls.at(-1)!.ids).toEqual([9]);
  });
});

describe('generate', () => {
  test('streams text and stops on a stop token (not included)', async () => {
    const gen = new Generator(counting());
    const deltas: string[] = [];
    const r = await generate(gen, letters, { promptIds: [0], stopTokenIds: [4], onText: (d) => deltas.push(d) });
    expect(r.stopReason).toBe('stop-token');
    expect(r.tokenIds).toEqual([1, 2, 3]);
    expect(r.text).toBe('bcd');
    expect(deltas.join('')).toBe('bcd');
    expect(r.promptTokens).toBe(1);
    expect(r.prefillTokens).toBe(1);
  });

  test('max new tokens', async () => {
    const r = await generate(new Generator(counting()), letters, { promptIds: [0], maxNewTokens: 5 });
    expect(r.stopReason).toBe('max-tokens');
    expect(r.tokenIds).toHaveLength(5);
  });

  test('a stop string cuts the text before it and is never streamed', async () => {
    const gen = new Generator(counting());
    const deltas: string[] = [];
    const r = await generate(gen, letters, { promptIds: [36], stopStrings: ['\n'], onText: (d) => deltas.push(d) });
    // 37 'l', 38 'm', 39 'n', 40 '\n'
    expect(r.stopReason).toBe('stop-string');
    expect(r.text).toBe('lmn');
    expect(deltas.join('')).toBe('lmn');
  });

  test('a multi-character stop string spanning tokens is held back from the stream', async () => {
    const deltas: string[] = [];
    const r = await generate(new Generator(counting()), letters, { promptIds: [0], stopStrings: ['de'], onText: (d) => deltas.push(d) });
    expect(r.text).toBe('bc');
    expect(deltas.join('')).toBe('bc');
    expect(deltas).not.toContain('d');
  });

  test('a multi-byte character split across tokens streams once complete', async () => {
    const deltas: string[] = [];
    const r = await generate(new Generator(counting()), letters, { promptIds: [40], maxNewTokens: 3, onText: (d) => deltas.push(d) });
    // 41 + 42 = 'é' (two bytes), 43 % 26 = 17 = 'r'
    expect(r.text).toBe('ér');
    expect(deltas).toEqual(['é', 'r']);
  });

  test('cancellation is a normal outcome, before or during decoding', async () => {
    const ac = new AbortController();
    ac.abort();
    expect((await generate(new Generator(counting()), letters, { promptIds: [1, 2], signal: ac.signal })).stopReason).toBe('cancelled');
    const lm = counting();
    const ac2 = new AbortController();
    lm.onForward = (c) => {
      if (c.past >= 4) ac2.abort();
    };
    const r = await generate(new Generator(lm), letters, { promptIds: [1, 2], signal: ac2.signal, maxNewTokens: 50 });
    expect(r.stopReason).toBe('cancelled');
    expect(r.tokenIds.length).toBeLessThan(5);
  });

  test('the time budget stops decoding', async () => {
    const lm = counting();
    lm.onForward = () => {
      const t = performance.now();
      while (performance.now() - t < 5);
    };
    const r = await generate(new Generator(lm), letters, { promptIds: [0], maxNewTokens: 1000, timeBudgetMs: 30 });
    expect(r.stopReason).toBe('time-budget');
    expect(r.tokenIds.length).toBeGreaterThan(0);
    expect(r.tokenIds.length).toBeLessThan(20);
  });

  test('a forced prefix constrains the first tokens and is removed from the text', async () => {
    // Logits prefer token 3 ('d') always; forced bytes 'bc' must come first.
    const lm = new FakeLm(50, () => Float32Array.from({ length: 50 }, (_, i) => (i === 3 ? 5 : i < 26 ? 1 : -5)));
    const bytes = Array.from({ length: 50 }, (_, i) => (i < 26 ? String.fromCharCode(97 + i) : ''));
    bytes[27] = 'bc'; // a merged token covering the whole forced text, less likely than 'b'
    const r = await generate(new Generator(lm), letters, { promptIds: [0], maxNewTokens: 4, forced: { bytes: 'bc', text: 'bc', tokenBytes: bytes } });
    expect(r.tokenIds.slice(0, 2)).toEqual([1, 2]);
    expect(r.tokenIds.slice(2)).toEqual([3, 3]);
    expect(r.text).toBe('dd');
  });
});
