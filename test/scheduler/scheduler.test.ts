// The scheduler over a pure-JS causal LM whose cache is its token list: which tokens each model run computes,
// in which order, and what each document's cache holds afterwards.
import { describe, expect, test } from 'vitest';
import { KvStore } from '../../server/src/cache/index.js';
import { Generator } from '../../server/src/decoding/index.js';
import { Scheduler, type Lease, type PrefillOutcome, type SchedulerEvent } from '../../server/src/scheduler/index.js';
import { FakeCache, FakeLm } from '../decoding/helpers/fake-lm.js';

const CHUNK = 8;

/** A model whose runs take a macrotask each (so requests can arrive mid-run), counting overlapping runs. */
class SlowLm extends FakeLm {
  inFlight = 0;
  maxInFlight = 0;
  /** Runs before a model run starts, with its index (0-based). */
  beforeRun: ((index: number, call: { ids: number[]; past: number }) => void) | null = null;
  override async forward(ids: ArrayLike<number>, cache: FakeCache, options: { logits?: 'last' | 'none' } = {}): Promise<Float32Array | null> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.beforeRun?.(this.calls.length, { ids: Array.from(ids), past: cache.length });
    await new Promise((r) => setImmediate(r));
    try {
      return await super.forward(ids, cache, options);
    } finally {
      this.inFlight--;
    }
  }
}

function setup(options: { reuse?: boolean } = {}) {
  const lm = new SlowLm(50, () => 1);
  const store = new KvStore<Generator<FakeCache>>({ budgetBytes: 1e9, sizeOf: (g) => g.cache.length });
  const events: SchedulerEvent[] = [];
  const scheduler = new Scheduler({
    store: store as unknown as KvStore<Generator>,
    createGenerator: () => new Generator(lm, { prefillChunkSize: CHUNK }) as unknown as Generator,
    chunkSize: CHUNK,
    reuse: options.reuse,
    onEvent: (e) => events.push(e),
  });
  /** Runs (key order) of the model, as [document tag, past, tokens]. */
  const cacheOf = (key: string) => {
    const g = store.take(key);
    if (!g) return null;
    const tokens = [...g.cache.tokens];
    store.put(key, g);
    return tokens;
  };
  return { lm, store, scheduler, events, cacheOf };
}

/** Prompt of `n` tokens; `tag` makes documents' prompts differ. */
const prompt = (n: number, tag: number) => Array.from({ length: n }, (_, i) => tag * 1000 + i);

function ready(o: PrefillOutcome): Lease {
  expect(o.kind).toBe('ready');
  if (o.kind !== 'ready') throw new Error(o.kind);
  return o.lease;
}

/** Decodes like the engine: the lease's generator runs the rest of the prompt (its last chunk). */
async function finish(lease: Lease, ids: readonly number[]): Promise<void> {
  await lease.generator.setPrompt(ids);
  await lease.generator.computeLogits();
  lease.release();
}

describe('scheduler', () => {
  test('interactive work pre-empts background work at a chunk boundary; the background prefill resumes where it stopped', async () => {
    const { lm, scheduler, events, cacheOf } = setup();
    const bg = prompt(6 * CHUNK + 1, 1);
    const fg = prompt(2 * CHUNK, 2);
    let fgOutcome: Promise<PrefillOutcome> | null = null;
    // The interactive request arrives while the background job's second chunk runs.
    lm.beforeRun = (index) => {
      if (index === 1) fgOutcome = scheduler.request('b', fg, { priority: 'interactive', hold: true });
    };
    const warm = scheduler.request('a', bg, { priority: 'background' });
    await new Promise((r) => setTimeout(r, 0));
    while (!fgOutcome) await new Promise((r) => setImmediate(r));
    const lease = ready(await fgOutcome);
    // The background job stopped after its running chunk: 2 chunks of 'a' ran, none since.
    expect(lm.calls.map((c) => c.ids[0]! >= 2000)).toEqual([false, false, true]);
    expect(events.filter((e) => e.type === 'preempt')).toEqual([{ type: 'preempt', key: 'a', computed: 2 * CHUNK }]);
    // 'b' ran its first chunk; its last chunk (last token included) is the holder's.
    expect(lease.prefilledTokens).toBe(CHUNK);
    await finish(lease, fg);
    const outcome = await warm;
    expect(outcome).toMatchObject({ kind: 'done', prefilledTokens: 6 * CHUNK, start: 'fresh' });
    // It resumed at 2 chunks (no token ran twice) and held back its last token.
    const runsOfA = lm.calls.filter((c) => c.ids[0]! < 2000);
    expect(runsOfA.map((c) => c.past)).toEqual([0, 8, 16, 24, 32, 40]);
    expect(cacheOf('a')).toEqual(bg.slice(0, -1));
    expect(cacheOf('b')).toEqual(fg);
    expect(lm.maxInFlight).toBe(1);
  });

  test('an aborted request keeps prefilling; a newer request whose prompt extends it continues instead of starting over', async () => {
    const { lm, scheduler, events, cacheOf } = setup();
    const first = prompt(5 * CHUNK, 3);
    const typed = [...first, 77, 78]; // the user only appended
    const controller = new AbortController();
    let second: Promise<PrefillOutcome> | null = null;
    lm.beforeRun = (index) => {
      if (index === 1) controller.abort(); // the editor cancels it (a keystroke) mid-prefill
      if (index === 3) second = scheduler.request('d', typed, { priority: 'interactive', hold: true }); // the next request, after the debounce
    };
    const outcome = await scheduler.request('d', first, { priority: 'interactive', hold: true, signal: controller.signal });
    expect(outcome).toEqual({ kind: 'cancelled', reason: 'aborted' });
    while (!second) await new Promise((r) => setImmediate(r));
    const lease = ready(await second);
    expect(events.filter((e) => e.type === 'orphan' || e.type === 'continue' || e.type === 'truncate')).toEqual([
      { type: 'orphan', key: 'd', computed: 2 * CHUNK },
      { type: 'continue', key: 'd', kept: 4 * CHUNK, computed: 4 * CHUNK },
    ]);
    expect(lease.start).toBe('continued');
    expect(lease.reusedTokens).toBe(4 * CHUNK);
    await finish(lease, typed);
    // Every token ran once, in order: nothing was prefilled again.
    expect(lm.calls.map((c) => c.past)).toEqual([0, 8, 16, 24, 32, 40]);
    expect(lm.calls.flatMap((c) => c.ids)).toEqual(typed);
    expect(cacheOf('d')).toEqual(typed);
  });

  test('a newer request that edits earlier tokens truncates the running prefill to the common prefix', async () => {
    const { lm, scheduler, events, cacheOf } = setup();
    const first = prompt(6 * CHUNK, 4);
    const edited = [...first.slice(0, 13), 99, ...first.slice(14)]; // token 13 changed
    const controller = new AbortController();
    let second: Promise<PrefillOutcome> | null = null;
    lm.beforeRun = (index) => {
      if (index === 0) controller.abort();
      if (index === 2) second = scheduler.request('d', edited, { priority: 'interactive', hold: true });
    };
    expect(await scheduler.request('d', first, { priority: 'interactive', hold: true, signal: controller.signal })).toEqual({ kind: 'cancelled', reason: 'aborted' });
    while (!second) await new Promise((r) => setImmediate(r));
    const lease = ready(await second);
    expect(events.find((e) => e.type === 'continue' || e.type === 'truncate')).toEqual({ type: 'truncate', key: 'd', kept: 13, computed: 3 * CHUNK });
    expect(lease.start).toBe('truncated');
    // The run after the hand-over starts at the common prefix.
    expect(lm.calls[3]!.past).toBe(13);
    await finish(lease, edited);
    expect(cacheOf('d')).toEqual(edited);
  });

  test('a pre-empted background prefill that a newer request of its document overtook never runs again', async () => {
    const { lm, scheduler, cacheOf } = setup();
    const stale = prompt(6 * CHUNK, 11);
    const fresh = [...stale.slice(0, 5), 55, ...stale.slice(6)]; // the user edited token 5 meanwhile
    const controller = new AbortController();
    let other: Promise<PrefillOutcome> | null = null;
    let newer: Promise<PrefillOutcome> | null = null;
    lm.beforeRun = (index, call) => {
      if (index === 0) controller.abort(); // 'a' goes on as background work
      if (index === 1) other = scheduler.request('b', prompt(2 * CHUNK, 12), { priority: 'interactive', hold: true }); // pre-empts it
      if (call.ids[0]! >= 12000 && !newer) newer = scheduler.request('a', fresh, { priority: 'interactive', hold: true });
    };
    expect(await scheduler.request('a', stale, { priority: 'interactive', hold: true, signal: controller.signal })).toMatchObject({ kind: 'cancelled' });
    while (!other) await new Promise((r) => setImmediate(r));
    await finish(ready(await other), prompt(2 * CHUNK, 12));
    while (!newer) await new Promise((r) => setImmediate(r));
    await finish(ready(await newer), fresh);
    while (scheduler.busy || scheduler.queued) await new Promise((r) => setImmediate(r));
    expect(cacheOf('a')).toEqual(fresh);
  });

  test('a cancelled request leaves a usable cache: the chunks it ran are reused by the next request', async () => {
    // reuse: false stops the prefill at the next chunk boundary (no orphan), as with caches off... but the store
    // still keeps what ran when it has a budget.
    for (const reuse of [true, false]) {
      const { lm, scheduler, cacheOf } = setup({ reuse });
      const ids = prompt(5 * CHUNK, 5);
      const controller = new AbortController();
      lm.beforeRun = (index) => {
        if (index === 1) controller.abort();
      };
      expect(await scheduler.request('c', ids, { priority: 'interactive', hold: true, signal: controller.signal })).toMatchObject({ kind: 'cancelled' });
      while (scheduler.busy) await new Promise((r) => setImmediate(r));
      const kept = cacheOf('c')!;
      expect(kept).toEqual(ids.slice(0, kept.length));
      expect(kept.length).toBeGreaterThanOrEqual(2 * CHUNK);
      lm.beforeRun = null;
      const lease = ready(await scheduler.request('c', ids, { priority: 'interactive', hold: true }));
      expect(lease.start).toBe('cached');
      expect(lease.reusedTokens).toBe(kept.length);
      await finish(lease, ids);
      expect(cacheOf('c')).toEqual(ids);
      expect(lm.calls.flatMap((c) => c.ids)).toEqual(ids); // no token ran twice
    }
  });

  test('interactive requests wait for a lease; background leases are told to stop when interactive work comes', async () => {
    const { scheduler } = setup();
    const spec = ready(await scheduler.request('s', prompt(3, 6), { priority: 'background', hold: true }));
    expect(spec.preempt.aborted).toBe(false);
    let answered = false;
    const fg = scheduler.request('f', prompt(3, 7), { priority: 'interactive', hold: true }).then((o) => {
      answered = true;
      return o;
    });
    expect(spec.preempt.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    expect(answered).toBe(false); // one model user at a time
    spec.release();
    ready(await fg).release();
  });

  test('a request aborted while queued answers cancelled at once and runs nothing', async () => {
    const { lm, scheduler } = setup();
    const lease = ready(await scheduler.request('x', prompt(3, 8), { priority: 'interactive', hold: true }));
    const controller = new AbortController();
    const queued = scheduler.request('y', prompt(40, 9), { priority: 'interactive', hold: true, signal: controller.signal });
    controller.abort();
    expect(await queued).toEqual({ kind: 'cancelled', reason: 'aborted' });
    lease.release();
    while (scheduler.busy) await new Promise((r) => setImmediate(r));
    expect(lm.calls.length).toBe(0);
  });

  test('closing a document drops its running prefill; the generator is not stored', async () => {
    const { lm, scheduler, cacheOf } = setup();
    lm.beforeRun = (index) => {
      if (index === 1) scheduler.closeDocument('z');
    };
    expect(await scheduler.request('z', prompt(6 * CHUNK, 10), { priority: 'background' })).toEqual({ kind: 'cancelled', reason: 'closed' });
    expect(cacheOf('z')).toBeNull();
  });
});

describe('scheduler poll hook (out-of-band cancellation)', () => {
  test('a flag set during a model run aborts the job at the next chunk boundary, through poll, with no event-loop message', async () => {
    const { createCancelFlag, isCancelFlagSet, setCancelFlag, pollOnRead } = await import('../../server/src/util/cancel-flag.js');
    const lm = new SlowLm(50, () => 1);
    const store = new KvStore<Generator<FakeCache>>({ budgetBytes: 1e9, sizeOf: (g) => g.cache.length });
    const flag = createCancelFlag();
    const controller = new AbortController();
    let polls = 0;
    const poll = () => {
      polls++;
      if (!controller.signal.aborted && isCancelFlagSet(flag)) controller.abort();
    };
    const scheduler = new Scheduler({
      store: store as unknown as KvStore<Generator>,
      createGenerator: () => new Generator(lm, { prefillChunkSize: CHUNK }) as unknown as Generator,
      chunkSize: CHUNK,
      reuse: false,
      poll,
    });
    // The flag is set from inside the second model run (as another thread would, between two of this thread's ticks).
    lm.beforeRun = (index) => {
      if (index === 1) setCancelFlag(flag);
    };
    const outcome = await scheduler.request('a', prompt(6 * CHUNK + 1, 1), { priority: 'interactive', hold: true, signal: pollOnRead(controller.signal, poll) });
    expect(outcome).toEqual({ kind: 'cancelled', reason: 'aborted' });
    expect(polls).toBeGreaterThanOrEqual(2);
    // Caches off: the job stopped at the boundary after the run in which the flag was set (6 chunks otherwise).
    await new Promise((r) => setTimeout(r, 10));
    expect(lm.calls.length).toBe(2);
  });

  test('pollOnRead: reading `aborted` polls first, so a set flag is seen at once', async () => {
    const { createCancelFlag, isCancelFlagSet, setCancelFlag, pollOnRead } = await import('../../server/src/util/cancel-flag.js');
    const flag = createCancelFlag();
    const controller = new AbortController();
    const signal = pollOnRead(controller.signal, () => {
      if (isCancelFlagSet(flag)) controller.abort();
    });
    expect(signal.aborted).toBe(false);
    setCancelFlag(flag);
    expect(signal.aborted).toBe(true);
  });
});
