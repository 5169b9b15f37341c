// The scheduler's chunk-size rule against prefill/decode interference (maxStallMs, issue 17): runs sized by measured
// time, and a cached document's request that only has to decode goes before the rest of another document's cold
// prefill, which then resumes and leaves exactly the cache a plain prefill leaves.
import { describe, expect, test } from 'vitest';
import { KvStore } from '../../server/src/cache/index.js';
import { Generator } from '../../server/src/decoding/index.js';
import { Scheduler, type Lease, type PrefillOutcome, type SchedulerEvent } from '../../server/src/scheduler/index.js';
import { FakeCache, FakeLm } from '../decoding/helpers/fake-lm.js';

/** A model whose runs take at least `msPerToken` per token (busy wait), then a macrotask (requests arrive mid-prefill). */
class TimedLm extends FakeLm {
  beforeRun: ((index: number) => void) | null = null;
  constructor(private readonly msPerToken: number) {
    super(50, () => 1);
  }
  override async forward(ids: ArrayLike<number>, cache: FakeCache, options: { logits?: 'last' | 'none' } = {}): Promise<Float32Array | null> {
    this.beforeRun?.(this.calls.length);
    const end = performance.now() + ids.length * this.msPerToken;
    while (performance.now() < end) {
      // busy: a model run
    }
    await new Promise((r) => setImmediate(r));
    return await super.forward(ids, cache, options);
  }
}

function setup(chunkSize: number, maxStallMs: number | undefined, msPerToken = 0) {
  const lm = new TimedLm(msPerToken);
  const store = new KvStore<Generator<FakeCache>>({ budgetBytes: 1e9, sizeOf: (g) => g.cache.length });
  const events: SchedulerEvent[] = [];
  const scheduler = new Scheduler({
    store: store as unknown as KvStore<Generator>,
    createGenerator: () => new Generator(lm, { prefillChunkSize: chunkSize }) as unknown as Generator,
    chunkSize,
    maxStallMs,
    onEvent: (e) => events.push(e),
  });
  const cacheOf = (key: string) => {
    const g = store.take(key);
    if (!g) return null;
    const tokens = [...g.cache.tokens];
    store.put(key, g);
    return tokens;
  };
  return { lm, scheduler, events, cacheOf };
}

const prompt = (n: number, tag: number) => Array.from({ length: n }, (_, i) => tag * 1000 + i);

function ready(o: PrefillOutcome): Lease {
  if (o.kind !== 'ready') throw new Error(`expected a lease, got ${o.kind}`);
  return o.lease;
}

async function finish(lease: Lease, ids: readonly number[]): Promise<void> {
  await lease.generator.setPrompt(ids);
  await lease.generator.computeLogits();
  lease.release();
}

/** Document a is cached; b's cold prefill starts; a's next request (2 new tokens) arrives during b's second run. */
async function scenario(maxStallMs: number | undefined) {
  const s = setup(8, maxStallMs);
  const a = prompt(20, 1);
  const b = prompt(60, 2);
  await finish(ready(await s.scheduler.request('a', a, { priority: 'interactive', hold: true })), a);
  const runsBefore = s.lm.calls.length;
  const order: string[] = [];
  let aNext: Promise<PrefillOutcome> | null = null;
  const a2 = [...a, 7, 8];
  s.lm.beforeRun = (index) => {
    if (index === runsBefore + 1) aNext = s.scheduler.request('a', a2, { priority: 'interactive', hold: true });
  };
  const bDone = s.scheduler.request('b', b, { priority: 'interactive', hold: true }).then(async (o) => {
    order.push('b ready');
    await finish(ready(o), b);
  });
  while (!aNext) await new Promise((r) => setImmediate(r));
  const aLease = ready(await aNext);
  order.push(`a ready after ${s.lm.calls.length - runsBefore} runs`);
  await finish(aLease, a2);
  await bDone;
  return { ...s, order, a2, b };
}

describe('scheduler maxStallMs (chunk-size rule)', () => {
  test('off: a cached request waits for the other document\'s whole cold prefill', async () => {
    const s = await scenario(undefined);
    expect(s.order[0]).toBe('b ready');
    expect(s.events.some((e) => e.type === 'yield')).toBe(false);
  });

  test('on: the cached request decodes after at most the run under way, and b\'s cache ends exactly as a plain prefill leaves it', async () => {
    const s = await scenario(1000);
    // a was asked during b's second run; it got its lease right after that run.
    expect(s.order[0]).toBe('a ready after 2 runs');
    const y = s.events.find((e) => e.type === 'yield');
    expect(y).toMatchObject({ type: 'yield', key: 'b', to: 'a' });
    expect(s.cacheOf('b')).toEqual(s.b);
    expect(s.cacheOf('a')).toEqual(s.a2);
    // Every token of b was computed once: no run repeated b's work after it yielded.
    const bTokens = s.lm.calls.filter((c) => c.ids[0]! >= 2000).reduce((n, c) => n + c.ids.length, 0);
    expect(bTokens).toBe(s.b.length);
  });

  test('on: prefill runs are sized from the measured time per token, within [16, chunkSize]', async () => {
    // ≥ 0.5 ms per token (busy wait) and a 10 ms target: after the first 32-token run, runs of 16–20 tokens.
    const s = setup(64, 10, 0.5);
    const p = prompt(200, 3);
    const o = await s.scheduler.request('c', p, { priority: 'background' });
    expect(o.kind).toBe('done');
    const sizes = s.lm.calls.map((c) => c.ids.length);
    expect(sizes[0]).toBe(32);
    // (the last run may be shorter: it ends at the prompt's last token but one)
    for (const n of sizes.slice(1, -1)) {
      expect(n).toBeGreaterThanOrEqual(16);
      expect(n).toBeLessThanOrEqual(20);
    }
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(p.length - 1);
    expect(s.cacheOf('c')).toEqual(p.slice(0, -1));
  });

  test('on: a lease is handed out with at most one sized run left, so the decode\'s first run is bounded too', async () => {
    const s = setup(64, 10, 0.5);
    const p = prompt(200, 4);
    const lease = ready(await s.scheduler.request('d', p, { priority: 'interactive', hold: true }));
    const before = s.lm.calls.length;
    await finish(lease, p);
    const last = s.lm.calls.slice(before).map((c) => c.ids.length);
    expect(last).toHaveLength(1);
    expect(last[0]).toBeLessThanOrEqual(20);
    expect(s.cacheOf('d')).toEqual(p);
  });

  test('off: runs are chunkSize tokens whatever they cost', async () => {
    const s = setup(64, undefined, 0.05);
    const p = prompt(200, 3);
    await s.scheduler.request('c', p, { priority: 'background' });
    expect(s.lm.calls.map((c) => c.ids.length)).toEqual([64, 64, 64, 7]);
  });
});
