// Issue 17's accelerator options reach the model worker from the user's settings: settings → engine options
// (config/engine-host.ts, what main.ts's factory uses) → the worker host → the worker's scheduler and Generators, on
// models/default. Observed only through what the worker reports: the scheduler's chunk events (run sizes) and the
// per-request debug line (`completion {...}`: KV positions). The worker runs the built code (test/global-setup.ts).
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SETTINGS, applySettings } from '../../server/src/config/settings.js';
import { engineOptions, localModelOptions } from '../../server/src/config/engine-host.js';
import { createEngine, type Engine } from '../../server/src/engine/index.js';
import { createWorkerHost } from '../../server/src/model-host/index.js';
import type { SchedulerEvent } from '../../server/src/scheduler/index.js';
import type { CompletionContext } from '../../server/src/engine/types.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENV = ['INFILL_LS_MAX_STALL_MS', 'INFILL_LS_DECODE_KV_WINDOW'] as const;

const engines: Engine[] = [];
const savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.dispose()));
  for (const k of ENV) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

type Chunk = Extract<SchedulerEvent, { type: 'chunk' }>;
interface CompletionLine {
  doc: string;
  outcome: string;
  promptTokens: number;
  generated: number;
  kvPeak: number;
  kvLength: number;
  kvEvicted: number;
}

/**
 * An engine whose model worker is made the way `serve` makes it, from raw user settings (validated by applySettings),
 * with a decoding time budget no loaded machine reaches (the generations below must run to maxNewTokens) and one
 * onnxruntime thread.
 * `env`: the worker's environment (a worker copies process.env when it starts).
 */
async function start(raw: Record<string, unknown>, env: Partial<Record<(typeof ENV)[number], string>> = {}) {
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, env);
  const update = applySettings(DEFAULT_SETTINGS, { device: 'cpu', ...raw });
  expect(update.errors).toEqual([]);
  const events: SchedulerEvent[] = [];
  const lines: CompletionLine[] = [];
  const host = createWorkerHost(
    // One onnxruntime thread: a 16-token prefill run then takes milliseconds on any CPU (the maxStallMs test's margin).
    { ...localModelOptions(engineOptions(update.settings, ROOT)), timeBudgetMs: 600_000, threads: 1 },
    {
      onSchedulerEvent: (e) => events.push(e),
      log: (m) => {
        if (m.startsWith('completion {')) lines.push(JSON.parse(m.slice('completion '.length)) as CompletionLine);
      },
    },
  );
  const engine = createEngine({ host });
  engines.push(engine);
  await engine.loaded;
  expect(engine.status().state).toBe('ready');
  const complete = async (c: CompletionContext) => {
    const r = await engine.complete(c, new AbortController().signal);
    expect(r.kind).toBe('ok');
    const line = lines.filter((l) => l.doc === c.documentKey).at(-1);
    expect(line?.outcome).toBe('ok');
    return line!;
  };
  const chunks = (doc: string) => events.filter((e): e is Chunk => e.type === 'chunk' && e.key.endsWith(doc)).map((e) => [e.from, e.to] as const);
  return { engine, complete, chunks };
}

// A cold ~700-token prompt (this repository's scheduler source).
const LONG = fs.readFileSync(path.join(ROOT, 'server/src/scheduler/scheduler.ts'), 'utf8').slice(0, 2600);
const longCtx: CompletionContext = { documentKey: 'file:///long.ts', version: 1, languageId: 'typescript', prefix: LONG, suffix: '\n', trigger: 'manual', lineMode: 'single' };
// An array literal the model continues line after line up to maxNewTokens (no syntax-plan stop inside it).
const LIST = `const xs = [\n${Array.from({ length: 40 }, (_, i) => `  ${i},`).join('\n')}\n`;
const listCtx: CompletionContext = { documentKey: 'file:///list.js', version: 1, languageId: 'javascript', prefix: LIST, suffix: '', trigger: 'manual' };

describe('accelerator options reach the model worker (models/default)', () => {
  it('maxStallMs sizes the prefill runs by the rule; 0 (off) keeps 256-token chunks and wins over the env', { timeout: 180_000 }, async () => {
    // Off by the setting, with the env asking for the rule: the setting wins.
    // Far context off (a user setting, so it reaches the worker too): the prompt is the ~700-token prefix window.
    const off = await start({ maxStallMs: 0, farContextTokens: 0 }, { INFILL_LS_MAX_STALL_MS: '1' });
    const a = await off.complete(longCtx);
    expect(a.promptTokens).toBeGreaterThan(600);
    const plain = off.chunks('long.ts');
    expect(plain.length).toBeGreaterThanOrEqual(2);
    for (const [from, to] of plain) expect(to - from).toBe(256);
    await off.engine.dispose();

    // 1 ms, from the settings: the first run is 32 tokens (nothing measured yet), then n = 1 ms / (measured ms per
    // token), clamped to [16, 256]: 16, since one thread does not run a 16-token prefill run of this model (~0.6
    // GFLOP plus the per-run overhead of its graph) in 1 ms.
    const on = await start({ maxStallMs: 1, farContextTokens: 0 });
    const b = await on.complete(longCtx);
    expect(b.promptTokens).toBe(a.promptTokens);
    const sized = on.chunks('long.ts');
    expect(sized[0]).toEqual([0, 32]);
    for (let i = 1; i < sized.length; i++) {
      expect(sized[i]![0]).toBe(sized[i - 1]![1]);
      expect(sized[i]![1] - sized[i]![0]).toBe(16);
    }
    // The lease's last run (the decode's) is at most one sized run: the chunks stop within 16 tokens of the prompt.
    expect(b.promptTokens - sized.at(-1)![1]).toBeLessThanOrEqual(16);
    await on.engine.dispose();

    // Unset in the settings: the env is the default (and a bad env value is ignored, said in the ready status).
    const env = await start({}, { INFILL_LS_MAX_STALL_MS: '1', INFILL_LS_DECODE_KV_WINDOW: 'lots' });
    expect(env.engine.status().message).toContain('INFILL_LS_DECODE_KV_WINDOW="lots" ignored: it must be an integer in 0..65536');
    await env.complete(longCtx);
    const fromEnv = env.chunks('long.ts');
    expect(fromEnv[0]).toEqual([0, 32]);
    expect(fromEnv.slice(1).every(([from, to]) => to - from === 16)).toBe(true);
  });

  it('decodeKvWindow bounds the KV a long generation adds; 0 (off) lets it grow with every token', { timeout: 180_000 }, async () => {
    const window = 16;
    const block = Math.max(16, window >> 3); // evicted in blocks (decoding/generator.ts)
    const off = await start({ maxNewTokens: 96, decodeKvWindow: 0 });
    const a = await off.complete(listCtx);
    // Long enough to need the bound: the unbounded KV ends far above prompt + window + block.
    expect(a.generated).toBeGreaterThan(window + block + 16);
    expect(a.kvEvicted).toBe(0);
    expect(a.kvPeak).toBeGreaterThan(a.promptTokens + window + block);
    await off.engine.dispose();

    const on = await start({ maxNewTokens: 96, decodeKvWindow: window });
    const b = await on.complete(listCtx);
    expect(b.promptTokens).toBe(a.promptTokens);
    expect(b.generated).toBeGreaterThan(window + block + 16);
    // During the whole decode the cache never held more than the prompt, the window and one eviction block.
    expect(b.kvPeak).toBeLessThanOrEqual(b.promptTokens + window + block);
    expect(b.kvEvicted).toBeGreaterThan(0);
    expect(b.kvLength + b.kvEvicted).toBeGreaterThan(b.promptTokens + window + block);
    // What the worker keeps for the next keystroke: the same bound, in the cache counters every answer carries.
    const stats = on.engine.cacheStats();
    expect(stats).not.toBeNull();
    expect(stats!.bytes / stats!.bytesPerToken).toBe(b.kvLength);
    expect(b.kvLength).toBeLessThanOrEqual(b.promptTokens + window + block);
  });
});
