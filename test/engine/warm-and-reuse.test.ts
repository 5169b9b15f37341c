// Background warming, typed-ahead completion reuse and the speculative next completion, on the default model.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../server/src/engine/engine.js';
import type { CompletionContext, CompletionResult } from '../../server/src/engine/types.js';
import type { SchedulerEvent } from '../../server/src/scheduler/index.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';

// A frozen TypeScript source (runtime/model.ts as of 1f46f30): the tests pick cursors by its text and rely on what the
// default model answers there, so the text must not change when model.ts is edited.
const src = fs.readFileSync(path.join(import.meta.dirname, '../fixtures/engine/reuse-source.ts.txt'), 'utf8');
const never = new AbortController().signal;
// Far context off: the cursors below were chosen for the prompts the prefix and suffix budgets alone give.
const base: EngineOptions = { modelDir: defaultModelDir, device: 'cpu', maxPrefixTokens: 256, maxSuffixTokens: 64, maxNewTokens: 8, prefillChunkSize: 32, timeBudgetMs: modelTimeout(3000), farContextTokens: 0 };

const engines: Engine[] = [];
async function engine(options: Partial<EngineOptions> = {}): Promise<{ e: Engine; events: SchedulerEvent[] }> {
  const events: SchedulerEvent[] = [];
  const e = createEngine({ ...base, onSchedulerEvent: (ev) => events.push(ev), ...options });
  engines.push(e);
  await e.loaded;
  expect(e.status().state).toBe('ready');
  return { e, events };
}
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

function ctx(documentKey: string, text: string, cursor: number, lineMode: 'single' | 'multi' = 'multi'): CompletionContext {
  return { documentKey, version: 1, languageId: 'typescript', prefix: text.slice(0, cursor), suffix: text.slice(cursor), trigger: 'automatic', lineMode };
}

function ok(r: CompletionResult) {
  expect(r.kind).toBe('ok');
  if (r.kind !== 'ok') throw new Error(r.kind);
  return r;
}

const cursors = ['export async function loadModel', 'async forwardPacked', 'export function defaultThreads'].map((s) => src.indexOf(s) + s.length + 2);
// Speculation needs an accepted answer and a next answer that survive post-processing at maxNewTokens 8. Chosen by a
// search (`node bench/tests/spec-cursors.mjs --mode multi`, on the v6 model): over the 177 cursors after `name: ` or
// `name?: ` of a field and after `name = `, multi-line, the first answer and the answer after accepting it were decoded
// greedily (draft-and-verify off) while recording the top-1/top-2 logit margin of every step; of the 51 cursors where
// both answers are non-empty, this one has the largest smallest margin: 0.70 (first answer `opts.intraOpNumThreads`,
// then `,\n        threads,`), far above CPU rounding (1e-3, default-model.test.ts). The v5 model's cursor, after
// `for (let i = ` in `const idData = new BigInt64Array(seq);`, no longer has a speculative answer (v3's, after
// `  modelDir: `, had lost it before).
const specAnchor = 'this.files,\n        intraOpNumThreads: ';
const specCursor = src.indexOf(specAnchor) + specAnchor.length;

describe('background warming', () => {
  test('a warmed position answers its first request with a small new prefill', async () => {
    const { e: cold } = await engine({ warm: false });
    const coldFirst = ok(await cold.complete(ctx('file:///w.ts', src, cursors[0]!), never));
    expect(coldFirst.timings.prefillTokens).toBe(coldFirst.timings.promptTokens);

    const { e } = await engine();
    expect(await e.warm(ctx('file:///w.ts', src, cursors[0]!))).toBe('warmed');
    const first = ok(await e.complete(ctx('file:///w.ts', src, cursors[0]!), never));
    expect(first.timings.promptTokens).toBe(coldFirst.timings.promptTokens);
    expect(first.timings.prefillTokens).toBe(1); // the held-back last prompt token
    // Typing there after a warm-up: only the new tail.
    const typed = src.slice(0, cursors[0]!) + 'x' + src.slice(cursors[0]!);
    const { e: e2 } = await engine();
    await e2.warm(ctx('file:///w.ts', src, cursors[0]!));
    const afterTyping = ok(await e2.complete(ctx('file:///w.ts', typed, cursors[0]! + 1), never));
    expect(afterTyping.timings.prefillTokens).toBeLessThanOrEqual(5);
    // Warming what is already cached runs nothing.
    expect(await e2.warm(ctx('file:///w.ts', typed, cursors[0]! + 1))).toBe('cached');
  }, modelTimeout(60_000));

  test('several documents warmed at once use one packed prefill; each first request is warm', async () => {
    const { e } = await engine();
    const outcomes = await Promise.all(cursors.map((c, i) => e.warm(ctx(`file:///p${i}.ts`, src, c))));
    expect(outcomes).toEqual(['packed', 'packed', 'packed']);
    for (let i = 0; i < cursors.length; i++) {
      const r = ok(await e.complete(ctx(`file:///p${i}.ts`, src, cursors[i]!), never));
      expect(r.timings.prefillTokens).toBe(1);
    }
    // One by one when packing is off: the same warm first requests.
    const { e: single } = await engine({ warmPacked: false });
    expect(await Promise.all(cursors.map((c, i) => single.warm(ctx(`file:///s${i}.ts`, src, c))))).toEqual(['warmed', 'warmed', 'warmed']);
  }, modelTimeout(60_000));

  test('an interactive request pre-empts warming at a chunk boundary; the warming finishes afterwards', async () => {
    const { e, events } = await engine({ maxPrefixTokens: 768, maxSuffixTokens: 256 });
    const warming = e.warm(ctx('file:///long.ts', src, src.length - 2000));
    // Wait until the warming has run a chunk, then ask for a completion elsewhere.
    while (!events.some((ev) => ev.type === 'chunk' && ev.key.endsWith('long.ts'))) await new Promise((r) => setTimeout(r, 1));
    const r = ok(await e.complete(ctx('file:///other.ts', src, cursors[1]!), never));
    expect(r.timings.prefillTokens).toBe(r.timings.promptTokens);
    expect(await warming).toBe('warmed');
    const preempt = events.findIndex((ev) => ev.type === 'preempt' && ev.key.endsWith('long.ts'));
    expect(preempt).toBeGreaterThan(-1);
    const chunksOf = (suffix: string) => events.map((ev, i) => (ev.type === 'chunk' && ev.key.endsWith(suffix) ? i : -1)).filter((i) => i >= 0);
    // The interactive request's chunks ran after the pre-emption and before the warming's remaining chunks.
    expect(chunksOf('other.ts').every((i) => i > preempt)).toBe(true);
    expect(chunksOf('long.ts').some((i) => i > Math.max(...chunksOf('other.ts')))).toBe(true);
    // The warmed document's first request is warm.
    const w = ok(await e.complete(ctx('file:///long.ts', src, src.length - 2000), never));
    expect(w.timings.prefillTokens).toBe(1);
  }, modelTimeout(60_000));
});

describe('completion-level reuse', () => {
  test('typing through a shown completion answers with the rest of it, without a model run', async () => {
    const { e, events } = await engine();
    const cur = cursors[0]!;
    const first = ok(await e.complete(ctx('file:///t.ts', src, cur), never));
    const shown = first.candidates[0]!.text;
    expect(shown.length).toBeGreaterThanOrEqual(3);
    const runs = events.length;
    const hits = e.cacheStats()!.hits;
    let doc = src;
    for (let k = 1; k <= 2; k++) {
      doc = src.slice(0, cur) + shown.slice(0, k) + src.slice(cur);
      const r = ok(await e.complete(ctx('file:///t.ts', doc, cur + k), never));
      expect(r.cache).toBe('completion-reuse');
      expect(r.candidates.map((c) => c.text)).toEqual([shown.slice(k)]);
      expect(r.timings.prefillTokens).toBe(0);
    }
    expect(events.length).toBe(runs); // the scheduler ran nothing
    expect(e.cacheStats()!.hits).toBe(hits); // no KV cache was taken
    // Typing something else runs the model (and reuses the KV prefix).
    const other = src.slice(0, cur) + '\u00a7' + src.slice(cur);
    const r = ok(await e.complete(ctx('file:///t.ts', other, cur + 1), never));
    expect(r.cache).toMatch(/^kv-prefix:/);
    // Off: the same keystroke runs the model.
    const { e: off } = await engine({ completionReuse: false });
    ok(await off.complete(ctx('file:///t.ts', src, cur), never));
    const r2 = ok(await off.complete(ctx('file:///t.ts', src.slice(0, cur) + shown[0] + src.slice(cur), cur + 1), never));
    expect(r2.cache).toMatch(/^kv-prefix:/);
  }, modelTimeout(60_000));

  test('after an accept, the next completion is computed speculatively and served from the cache', async () => {
    const { e } = await engine();
    const cur = specCursor;
    const first = ok(await e.complete(ctx('file:///s.ts', src, cur), never));
    const accepted = first.candidates[0]!.text;
    expect(accepted.length).toBeGreaterThan(0);
    // As the LSP host names the item: `${result.id}.${candidate index}`.
    e.onCompletionEvent({ kind: 'accepted', completionId: `${first.id}.0`, raw: {} });
    await e.speculationIdle();
    const after = src.slice(0, cur) + accepted + src.slice(cur);
    const next = ok(await e.complete(ctx('file:///s.ts', after, cur + accepted.length), never));
    expect(next.cache).toBe('completion-reuse:speculative');
    expect(next.timings.prefillTokens).toBe(0);
    // The same text the model gives without speculation, from the same history.
    const { e: plain } = await engine({ speculative: false });
    ok(await plain.complete(ctx('file:///s.ts', src, cur), never));
    const want = ok(await plain.complete(ctx('file:///s.ts', after, cur + accepted.length), never));
    expect(want.cache).toMatch(/^kv-prefix:/);
    expect(next.candidates.map((c) => c.text)).toEqual(want.candidates.map((c) => c.text));
  }, modelTimeout(60_000));

  test('a request that arrives while its speculation is running waits for it instead of running the model again', async () => {
    const { e, events } = await engine();
    const cur = specCursor;
    const first = ok(await e.complete(ctx('file:///r.ts', src, cur), never));
    const accepted = first.candidates[0]!.text;
    e.onCompletionEvent({ kind: 'accepted', completionId: `${first.id}.0`, raw: {} });
    // The editor asks at once (no speculationIdle()).
    const after = src.slice(0, cur) + accepted + src.slice(cur);
    const before = events.length;
    const next = ok(await e.complete(ctx('file:///r.ts', after, cur + accepted.length), never));
    expect(next.cache).toBe('completion-reuse:speculative');
    // Only the speculation's own prefill ran (background chunks), nothing interactive.
    expect(events.slice(before).filter((ev) => ev.type === 'chunk' && ev.priority === 'interactive')).toEqual([]);
  }, modelTimeout(60_000));

  test('an empty speculative completion answers the request it was computed for, without decoding it again', async () => {
    // A single-line completion that ends its line: after the accept the model has nothing more for that line.
    // Chosen by a search (models/default v5, 40b1371) over the cursors after each of the 100 `const `, single-line,
    // decoded greedily with the top-1/top-2 logit margin of every step recorded: of the 45 where the answer is non-empty
    // and the answer after accepting it is empty, this one has the largest smallest margin: 0.82 (`n = past + seq;`,
    // then nothing), far above CPU rounding (1e-3); `node bench/tests/spec-cursors.mjs --mode single` repeats it.
    // The v3 model's cursor, the third `const `, now answers
    // `configKeys = Object.keys` (cut by the token limit) and then `(config);`.
    const cur = src.indexOf('const ', src.indexOf('function causalBias(')) + 'const '.length;
    const { e: plain } = await engine({ speculative: false, completionReuse: false });
    const shown = ok(await plain.complete(ctx('file:///e.ts', src, cur, 'single'), never)).candidates[0]!.text;
    expect(shown.length).toBeGreaterThan(0);
    const after = src.slice(0, cur) + shown + src.slice(cur);
    expect(ok(await plain.complete(ctx('file:///e.ts', after, cur + shown.length, 'single'), never)).candidates).toEqual([]);

    const { e, events } = await engine();
    const first = ok(await e.complete(ctx('file:///e.ts', src, cur, 'single'), never));
    expect(first.candidates[0]!.text).toBe(shown);
    e.onCompletionEvent({ kind: 'accepted', completionId: `${first.id}.0`, raw: {} });
    const before = events.length;
    const next = ok(await e.complete(ctx('file:///e.ts', after, cur + shown.length, 'single'), never));
    expect(next.cache).toBe('completion-reuse:speculative');
    expect(next.candidates).toEqual([]);
    expect(events.slice(before).filter((ev) => ev.type === 'chunk' && ev.priority === 'interactive')).toEqual([]);
  }, modelTimeout(60_000));
});
