// The model in a worker thread (model-host/): the main thread's event loop keeps running while the model prefills,
// a cancel reaches the worker between prefill chunks, a crashed worker degrades and restarts, and the worker's stdout
// never reaches process stdout. The worker runs the built code (server/dist; test/global-setup.ts builds it).
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine } from '../../server/src/engine/index.js';
import { createWorkerHost, type WorkerHost } from '../../server/src/model-host/index.js';
import type { SchedulerEvent } from '../../server/src/scheduler/index.js';
import type { CompletionContext, EngineStatus } from '../../server/src/engine/types.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';
import { Tokenizer } from '../../server/src/tokenizer/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// ~2,000 tokens of real TypeScript (this repository's scheduler, repeated as needed).
const SOURCE = fs.readFileSync(path.join(ROOT, 'server/src/scheduler/scheduler.ts'), 'utf8');
const LONG_PREFIX = SOURCE.slice(0, 7000);

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.dispose()));
});

function start(options: Parameters<typeof createWorkerHost>[0] = {}): { engine: Engine; host: WorkerHost; events: SchedulerEvent[] } {
  const events: SchedulerEvent[] = [];
  // A prefix budget that keeps the whole ~2,000-token prefix (the default keeps 768 tokens).
  const host = createWorkerHost({ modelDir: defaultModelDir, device: 'cpu', maxPrefixTokens: 4096, ...options }, { onSchedulerEvent: (e) => events.push(e) });
  const engine = createEngine({ host });
  engines.push(engine);
  return { engine, host, events };
}

const ctx = (documentKey: string, prefix: string, suffix = '\n'): CompletionContext => ({ documentKey, version: 1, languageId: 'typescript', prefix, suffix, trigger: 'manual' });
const chunksOf = (events: SchedulerEvent[], doc: string) => events.filter((e): e is Extract<SchedulerEvent, { type: 'chunk' }> => e.type === 'chunk' && e.key.endsWith(doc));
const waitUntil = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('model worker', () => {
  it('keeps the message loop running while a long prefill runs: timers fire between model runs and a reuse answer comes first', async () => {
    const { engine, events } = start();
    await engine.loaded;
    expect(engine.status().state).toBe('ready');
    // A completion to type through later (completion reuse: answered on the main thread, no model run).
    const short = ctx('file:///short.ts', 'function add(a: number, b: number) {\n  return');
    const first = await engine.complete(short, new AbortController().signal);
    expect(first.kind).toBe('ok');
    const text = first.kind === 'ok' ? (first.candidates[0]?.text ?? '') : '';

    const order: string[] = [];
    let ticks = 0;
    const ticksAtChunk: number[] = [];
    const timer = setInterval(() => ticks++, 1);
    const seen = events.length;
    const long = engine.complete(ctx('file:///long.ts', LONG_PREFIX), new AbortController().signal).then((r) => {
      order.push('long');
      return r;
    });
    // Record the tick count at each chunk the worker reports.
    let reported = 0;
    const watcher = setInterval(() => {
      const n = chunksOf(events.slice(seen), 'long.ts').length;
      for (; reported < n; reported++) ticksAtChunk.push(ticks);
    }, 1);
    await waitUntil(() => chunksOf(events.slice(seen), 'long.ts').length >= 1);
    if (text.length > 1) {
      const reuse = await engine.complete({ ...short, prefix: short.prefix + text[0] }, new AbortController().signal);
      order.push('reuse');
      expect(reuse).toMatchObject({ kind: 'ok', cache: 'completion-reuse' });
    }
    const r = await long;
    clearInterval(timer);
    clearInterval(watcher);
    expect(r.kind).toBe('ok');
    const chunks = chunksOf(events.slice(seen), 'long.ts');
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    if (text.length > 1) expect(order).toEqual(['reuse', 'long']);
    // With the model on this thread, a timer could fire at most once per model run (each run blocks the loop); here it
    // keeps firing while each chunk runs.
    const during = ticksAtChunk.at(-1)! - ticksAtChunk[0]!;
    expect(during).toBeGreaterThan(2 * (chunks.length - 1));
  }, modelTimeout(120_000));

  it('a cancel reaches the worker between prefill chunks: the job stops early and the request answers cancelled at once', async () => {
    // Caches off: an aborted job stops at the next chunk boundary (with caches on it would go on in the background).
    const { engine, events } = start({ prefixCache: false });
    await engine.loaded;
    const controller = new AbortController();
    const pending = engine.complete(ctx('file:///cancel.ts', LONG_PREFIX), controller.signal);
    await waitUntil(() => chunksOf(events, 'cancel.ts').length >= 1);
    const chunksAtAbort = chunksOf(events, 'cancel.ts').length;
    controller.abort();
    // Answered by the main thread, before the worker says anything more.
    const eventsAtAbort = events.length;
    expect(await pending).toEqual({ kind: 'cancelled' });
    expect(events.length).toBe(eventsAtAbort);
    // The worker is free again once a later request is answered (jobs run one at a time, in order).
    const after = await engine.complete(ctx('file:///after.ts', 'const x = '), new AbortController().signal);
    expect(after.kind).toBe('ok');
    const ran = chunksOf(events, 'cancel.ts');
    // At most the chunk under way when the flag was set, plus one that may have started before the worker saw it.
    expect(ran.length).toBeLessThanOrEqual(chunksAtAbort + 2);
    // Run to the end, the prefill would have reached the prompt's last chunk (the decode runs that one).
    const promptTokens = Tokenizer.fromFiles(path.join(defaultModelDir, 'tokenizer.json'), path.join(defaultModelDir, 'tokenizer_config.json')).encode(LONG_PREFIX).length;
    expect(promptTokens).toBeGreaterThan(1800);
    expect(ran.at(-1)!.to).toBeLessThan(promptTokens - 256);
  }, modelTimeout(120_000));

  it('a crashed worker degrades the status with the reason, and the next request starts a new one', async () => {
    const { engine, host } = start();
    await engine.loaded;
    const firstThread = host.threadId();
    expect(firstThread).not.toBeNull();
    const statuses: EngineStatus[] = [];
    engine.onStatus((s) => statuses.push(s));
    host.crashForTest();
    await waitUntil(() => engine.status().state === 'degraded');
    expect(engine.status().message).toMatch(/model worker stopped \(.*crash requested.*\); it restarts on the next request/);
    expect(host.threadId()).toBeNull();
    const r = await engine.complete(ctx('file:///after-crash.ts', 'function square(x: number) {\n  return'), new AbortController().signal);
    expect(r.kind).toBe('ok');
    expect(engine.status().state).toBe('ready');
    expect(host.threadId()).not.toBeNull();
    expect(host.threadId()).not.toBe(firstThread);
    expect(statuses.map((s) => s.state)).toEqual(expect.arrayContaining(['degraded', 'loading', 'ready']));
  }, modelTimeout(120_000));

  it('starts a second host\'s worker only after the first one exited (one model worker per process at a time)', async () => {
    const a = start();
    await a.engine.loaded;
    expect(a.host.threadId()).not.toBeNull();
    const b = start();
    // Waiting for the first worker: no thread yet, status loading, and a request waits with it.
    expect(b.host.threadId()).toBeNull();
    expect(b.engine.status().state).toBe('loading');
    const pending = b.engine.complete(ctx('file:///b.ts', 'const answer = '), new AbortController().signal);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.host.threadId()).toBeNull();
    await a.engine.dispose();
    expect((await pending).kind).toBe('ok');
    expect(b.host.threadId()).not.toBeNull();
    expect(b.engine.status().state).toBe('ready');
  }, modelTimeout(120_000));

  it("sends the worker's stdout to stderr, never to process stdout, and lets the process exit", () => {
    // A child process with its own worker: the worker writes to stdout (console.log) and crashes; then the host is
    // disposed. Nothing may appear on the child's stdout, and the child must exit by itself.
    const script = `
      import { createWorkerHost } from ${JSON.stringify(path.join(ROOT, 'server/dist/model-host/index.js'))};
      const host = createWorkerHost({ modelDir: ${JSON.stringify(defaultModelDir)}, device: 'cpu' });
      await host.loaded;
      host.crashForTest();
      while (host.status().state !== 'degraded') await new Promise((r) => setTimeout(r, 5));
      host.revive();
      await host.loaded;
      process.stderr.write('state ' + host.status().state + '\\n');
      await host.dispose();
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('');
    expect(child.stderr).toContain('model worker: crash requested');
    expect(child.stderr).toContain('state ready');
  }, 90_000);
});
