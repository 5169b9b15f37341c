// KV-Runahead's scheduler side (issue 17, `wholeRunFrom`): an uncached stretch of at least that many prompt tokens is
// prefilled as one model run (the runtime splits it over its workers), a shorter one in chunks; the cache ends the
// same either way.
import { describe, expect, test } from 'vitest';
import { KvStore } from '../../server/src/cache/index.js';
import { Generator } from '../../server/src/decoding/index.js';
import { Scheduler, type PrefillOutcome } from '../../server/src/scheduler/index.js';
import { FakeCache, FakeLm } from '../decoding/helpers/fake-lm.js';

/** A fake model that says it runs KV-Runahead from `minTokens` (as runtime LoadedModel.kvRunahead does). */
class RunaheadLm extends FakeLm {
  constructor(readonly kvRunahead: { minTokens: number } | undefined) {
    super(50, () => 1);
  }
}

function setup(minTokens: number | undefined) {
  const lm = new RunaheadLm(minTokens === undefined ? undefined : { minTokens });
  const store = new KvStore<Generator<FakeCache>>({ budgetBytes: 1e9, sizeOf: (g) => g.cache.length });
  const scheduler = new Scheduler({
    store: store as unknown as KvStore<Generator>,
    createGenerator: () => new Generator(lm, { prefillChunkSize: 8 }) as unknown as Generator,
    chunkSize: 8,
    wholeRunFrom: minTokens,
  });
  const cacheOf = (key: string) => {
    const g = store.take(key)!;
    const tokens = [...g.cache.tokens];
    store.put(key, g);
    return tokens;
  };
  return { lm, scheduler, cacheOf };
}

const prompt = (n: number, tag: number) => Array.from({ length: n }, (_, i) => tag * 1000 + i);

async function warm(s: ReturnType<typeof setup>, key: string, ids: number[]): Promise<void> {
  const o: PrefillOutcome = await s.scheduler.request(key, ids, { priority: 'background' });
  expect(o.kind).toBe('done');
}

describe('scheduler wholeRunFrom (KV-Runahead)', () => {
  test('a long uncached stretch runs as one model run, a short one in chunks; the caches end the same', async () => {
    const on = setup(32);
    const off = setup(undefined);
    const a = prompt(100, 1);
    await warm(on, 'a', a);
    await warm(off, 'a', a);
    // warming holds back the prompt's last token (the request that decodes runs it): 99 tokens
    expect(on.lm.calls.map((c) => c.ids.length)).toEqual([99]);
    expect(off.lm.calls.length).toBe(13);
    expect(off.lm.calls.every((c) => c.ids.length <= 8)).toBe(true);
    expect(on.cacheOf('a')).toEqual(off.cacheOf('a'));
    expect(on.cacheOf('a')).toEqual(a.slice(0, 99));
    // 20 more tokens (under 32): chunks of 8 on both
    const a2 = [...a, ...prompt(20, 2)];
    const before = on.lm.calls.length;
    await warm(on, 'a', a2);
    expect(on.lm.calls.slice(before).map((c) => c.ids.length)).toEqual([8, 8, 4]);
    await warm(off, 'a', a2);
    expect(on.cacheOf('a')).toEqual(off.cacheOf('a'));
  });
});
