// SCOPE's decode-phase KV budget (Generator `decodeKvWindow`, issue 17): the prompt's KV stays whole, the KV added
// while decoding is bounded by a sliding window, and what the prefix caches reuse afterwards is exact.
import { afterAll, describe, expect, test } from 'vitest';
import { Generator } from '../../server/src/decoding/index.js';
import { loadBundle, type LoadedBundle } from '../../server/src/engine/load.js';
import type { KvCache } from '../../server/src/runtime/index.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';
import { FakeCache, FakeLm } from './helpers/fake-lm.js';

/** A fake cache that can evict: its token list loses the positions, as the runtime KvCache's tensors do. */
class EvictingCache extends FakeCache {
  evictions: [number, number][] = [];
  evict(start: number, end: number): void {
    this.tokens.splice(start, end - start);
    this.evictions.push([start, end]);
  }
}
class EvictingLm extends FakeLm {
  override createCache(): EvictingCache {
    return new EvictingCache();
  }
}

const prompt = Array.from({ length: 40 }, (_, i) => 100 + i);

async function decode(gen: Generator<FakeCache>, n: number): Promise<number[]> {
  gen.setSearch({ maxNewTokens: n });
  const out: number[] = [];
  while (!gen.isDone()) {
    const c = await gen.nextToken();
    if ('cancelled' in c) throw new Error('cancelled');
    out.push(c.tokenId);
  }
  return out;
}

describe('Generator decodeKvWindow (fake model)', () => {
  // The next token counts the sequence: the cache's contents do not change the choice, so bookkeeping is what's tested.
  const rule = (seq: readonly number[]) => seq.length % 50;

  test('the decode-added KV stays within window + block; the prompt KV is never evicted', async () => {
    const lm = new EvictingLm(50, rule);
    const gen = new Generator(lm, { decodeKvWindow: 32 }) as Generator<EvictingCache>;
    gen.appendTokens(prompt);
    const out = await decode(gen as unknown as Generator<FakeCache>, 200);
    expect(out).toHaveLength(200);
    const cache = gen.cache;
    // block = max(16, 32 / 8) = 16: at most 32 + 16 - 1 decode positions after a step
    expect(cache.length - prompt.length).toBeLessThanOrEqual(32 + 15);
    expect(cache.length - prompt.length).toBeGreaterThanOrEqual(32);
    expect(cache.tokens.slice(0, prompt.length)).toEqual(prompt);
    // what is left after the prompt is the newest decoded tokens, in order
    const kept = cache.tokens.slice(prompt.length);
    // (the last chosen token is pending: its KV is computed at the next step)
    expect(kept).toEqual(gen.tokens.slice(gen.tokens.length - 1 - kept.length, gen.tokens.length - 1));
    for (const [s] of cache.evictions) expect(s).toBe(prompt.length);
    expect(gen.evictedLength).toBe(cache.evictions.reduce((n, [s, e]) => n + e - s, 0));
    // only the prompt is reusable exactly
    expect(gen.computedLength).toBe(prompt.length);
  });

  test('peakLength: the most positions the cache held after a model run since resetPeakLength (eviction included)', async () => {
    const lm = new EvictingLm(50, rule);
    const gen = new Generator(lm, { decodeKvWindow: 32 }) as Generator<EvictingCache>;
    gen.appendTokens(prompt);
    await gen.computeLogits();
    expect(gen.peakLength).toBe(prompt.length);
    gen.resetPeakLength();
    await decode(gen as unknown as Generator<FakeCache>, 200);
    // A step runs one token, then evicts once the decode-added KV reaches window + block (32 + 16): that is the peak.
    expect(gen.peakLength).toBe(prompt.length + 32 + 16);
    expect(gen.cache.length).toBeLessThan(gen.peakLength);
    const unbounded = new Generator(new EvictingLm(50, rule)) as Generator<EvictingCache>;
    unbounded.appendTokens(prompt);
    await decode(unbounded as unknown as Generator<FakeCache>, 200);
    // (the last chosen token is pending)
    expect(unbounded.peakLength).toBe(prompt.length + 199);
    unbounded.resetPeakLength();
    await unbounded.rewindTo(prompt.length);
    expect(unbounded.peakLength).toBe(prompt.length + 199);
    unbounded.resetPeakLength();
    expect(unbounded.peakLength).toBe(unbounded.cache.length);
  });

  test('setPrompt after an eviction reuses the prompt only and runs the rest again', async () => {
    const lm = new EvictingLm(50, rule);
    const gen = new Generator(lm, { decodeKvWindow: 16 }) as Generator<EvictingCache>;
    gen.appendTokens(prompt);
    await decode(gen as unknown as Generator<FakeCache>, 100);
    const next = [...gen.tokens.slice(0, prompt.length + 30), 7];
    const reused = await gen.setPrompt(next);
    expect(reused).toBe(prompt.length);
    await gen.computeLogits();
    expect(gen.cache.tokens).toEqual(next);
    expect(gen.evictedLength).toBe(0);
  });

  test('a window larger than the generation runs exactly the same model calls as no window', async () => {
    const plain = new EvictingLm(50, rule);
    const bounded = new EvictingLm(50, rule);
    const a = new Generator(plain);
    const b = new Generator(bounded, { decodeKvWindow: 500 });
    a.appendTokens(prompt);
    b.appendTokens(prompt);
    expect(await decode(b as unknown as Generator<FakeCache>, 100)).toEqual(await decode(a as unknown as Generator<FakeCache>, 100));
    expect(bounded.calls).toEqual(plain.calls);
    expect((b.cache as EvictingCache).evictions).toEqual([]);
  });

  test('a prefill without a generation turn evicts nothing, however long', async () => {
    const lm = new EvictingLm(50, rule);
    const gen = new Generator(lm, { decodeKvWindow: 8, prefillChunkSize: 16 });
    await decode(gen as unknown as Generator<FakeCache>, 0); // a turn of 0 tokens; setPrompt ends it
    await gen.setPrompt(Array.from({ length: 300 }, (_, i) => i));
    await gen.computeLogits();
    expect(gen.cache.length).toBe(300);
  });

  test('a cache that cannot evict is refused', () => {
    expect(() => new Generator(new FakeLm(50, rule), { decodeKvWindow: 8 })).toThrow(/evict/);
  });
});

describe('Generator decodeKvWindow on models/default', () => {
  let b: LoadedBundle;
  afterAll(async () => {
    await b?.model.dispose();
  });
  const ids = (n: number) => Array.from({ length: n }, (_, i) => 200 + ((i * 37) % 5000));

  test('bounded KV on the real runtime; position ids continue; the prompt cache stays exact', { timeout: modelTimeout(120_000) }, async () => {
    b = await loadBundle({ modelDir: defaultModelDir, device: 'cpu', intraOpNumThreads: 1 });
    const p = ids(100);
    const gen = new Generator(b.model, { decodeKvWindow: 32 });
    gen.appendTokens(p);
    gen.setSearch({ maxNewTokens: 120 });
    for (let i = 0; i < 120; i++) {
      const c = await gen.nextToken();
      if ('cancelled' in c) throw new Error('cancelled');
    }
    const cache = gen.cache as KvCache;
    expect(cache.length - p.length).toBeLessThanOrEqual(32 + 15);
    // the next token's position is its index in the sequence
    expect(cache.length + cache.positionOffset).toBe(gen.tokens.length - 1);
    expect(gen.computedLength).toBe(p.length);
    // Back to a prompt that extends the original: same logits as a fresh generator, within a float tolerance.
    const next = [...p, 5, 6, 7];
    await gen.setPrompt(next);
    const got = (await gen.computeLogits()) as Float32Array;
    const fresh = new Generator(b.model);
    fresh.appendTokens(p);
    await fresh.computeLogits();
    fresh.appendTokens([5, 6, 7]);
    const want = (await fresh.computeLogits()) as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    // fp32 graph; the same split (prompt, then 3 tokens) on both: only summation order may differ
    expect(maxDiff).toBeLessThan(1e-3);
    gen.dispose();
    fresh.dispose();
  });

  test('KvCache.evict drops exactly the positions asked and refuses rewinds past them', async () => {
    const cache = b.model.createCache();
    await b.model.forward(ids(50), cache, { logits: 'none' });
    cache.evict(10, 30);
    expect(cache.length).toBe(30);
    expect(cache.positionOffset).toBe(20);
    await expect(cache.rewindTo(20)).rejects.toThrow(/evicted/);
    await cache.rewindTo(8);
    expect(cache.positionOffset).toBe(0);
    expect(() => cache.evict(5, 9)).toThrow(RangeError);
    cache.dispose();
  });
});
