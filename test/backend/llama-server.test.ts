// The llama-server `/infill` backend against a local stand-in (node:http, server-sent events in llama-server's
// shape): the request body (prefix/suffix, input_extra from cross-file context, cache_prompt, a slot per document,
// t_max_predict_ms, the key), streaming, the syntax plan's cut and cancellation closing the stream, errors in the
// status. test/e2e/llama-server-backend.test.ts runs the same engine against a real llama-server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { rawServer } from '../support/raw-server.js';
import { TRUNCATED_PIECES, answerOf, truncationCase } from '../support/truncation-case.js';
import { SlotMap, createLlamaServerEngine, infillUrl, stableTail, stoppedAtLimit } from '../../server/src/backend/llama-server.js';
import { DEFAULT_SETTINGS, applySettings } from '../../server/src/config/settings.js';
import type { CompletionContext } from '../../server/src/engine/types.js';
import { postprocess } from '../../server/src/postprocess/index.js';

interface Body {
  input_prefix: string;
  input_suffix: string;
  input_extra: Array<{ filename: string; text: string }>;
  cache_prompt: boolean;
  id_slot?: number;
  t_max_predict_ms: number;
  n_predict: number;
  stream: boolean;
  stop?: string[];
}
interface Seen {
  url: string;
  auth: string | undefined;
  body: Body;
  closedEarly: boolean;
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/**
 * A stand-in llama-server: `/props` with `slots`, `/infill` streaming `script(body)`'s pieces (their final event with
 * `final`'s fields, e.g. `stop_type`; with `json`, one JSON body instead of a stream) or an HTTP error.
 */
type Script = { pieces: string[]; delayMs?: number; final?: Record<string, unknown>; json?: boolean } | { status: number; error: string };
async function standIn(script: (body: Body) => Script, slots = 4) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/props') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ total_slots: slots, model_path: '/models/stand-in.gguf' }));
      return;
    }
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      const body = JSON.parse(raw) as Body;
      const record: Seen = { url: req.url ?? '', auth: req.headers.authorization, body, closedEarly: false };
      seen.push(record);
      const answer = script(body);
      if ('status' in answer) {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: answer.status, message: answer.error, type: 'authentication_error' } }));
        return;
      }
      if (answer.json) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ content: answer.pieces.join(''), stop: true, ...answer.final }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let finished = false;
      res.on('close', () => {
        if (!finished) record.closedEarly = true;
      });
      for (const piece of answer.pieces) {
        if (record.closedEarly) return;
        res.write(`data: ${JSON.stringify({ content: piece, stop: false, index: 0 })}\n\n`);
        await new Promise((r) => setTimeout(r, answer.delayMs ?? 1));
      }
      finished = true;
      const n = body.input_prefix.length;
      res.end(`data: ${JSON.stringify({ content: '', stop: true, tokens_evaluated: n, tokens_cached: n, timings: { cache_n: n - 3, prompt_n: 3, prompt_ms: 1.5, predicted_n: answer.pieces.length, predicted_ms: 2.5 }, ...answer.final })}\n\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Resolves once `check()` is true; fails after 5 s (the stand-in notices a closed connection asynchronously). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ctx = (over: Partial<CompletionContext> = {}): CompletionContext => ({
  documentKey: 'file:///w/a.ts',
  version: 1,
  languageId: 'typescript',
  prefix: 'function add(a: number, b: number) {\n  return ',
  suffix: '\n}\n',
  trigger: 'automatic',
  ...over,
});

describe('llama-server backend', () => {
  test('sends /infill with prefix, suffix, input_extra, cache_prompt, a slot per document and the key; streams; post-processes', async () => {
    const { url, seen } = await standIn(() => ({ pieces: ['a ', '+ b;'] }));
    const engine = createLlamaServerEngine({ url, apiKey: 'sk-llama', maxNewTokens: 32, tMaxPredictMs: 500 });
    const partials: string[] = [];
    const crossFile = { repoName: 'w', path: 'a.ts', chunks: [{ path: 'b.ts', text: 'export const b = 1;', kind: 'definition' as const }], format: 'repo' as const };
    const r = await engine.complete(ctx({ crossFile }), new AbortController().signal, (t) => partials.push(t));
    // The stand-in's final event reports prefix-length prompt tokens, all but 3 of them cached.
    const n = ctx().prefix.length;
    expect(r).toMatchObject({ kind: 'ok', candidates: [{ text: 'a + b;' }], cache: `remote:kv-prefix:${n - 3}` });
    if (r.kind !== 'ok') return;
    expect(r.timings).toMatchObject({ prefillTokens: 3, promptTokens: n, generatedTokens: 2, prefillMs: 1.5, decodeMs: 2.5 });
    expect(partials).toEqual(['a ', 'a + b;']);
    expect(seen[0]!.url).toBe('/infill');
    expect(seen[0]!.auth).toBe('Bearer sk-llama');
    expect(seen[0]!.body).toMatchObject({
      input_prefix: ctx().prefix,
      input_suffix: ctx().suffix,
      input_extra: [{ filename: 'b.ts', text: 'export const b = 1;\n' }],
      cache_prompt: true,
      id_slot: 0,
      t_max_predict_ms: 500,
      n_predict: 32,
      stream: true,
      stop: ['\n'], // single line: code follows the cursor on an automatic trigger
    });
    expect(engine.status()).toMatchObject({ device: 'remote', model: 'stand-in.gguf' });
    expect(JSON.stringify(engine.status())).not.toContain('sk-llama');

    // Another document gets its own slot; the first keeps its own; a closed document's slot is reused.
    await engine.complete(ctx({ documentKey: 'file:///w/b.ts', prefix: 'const x = ' }), new AbortController().signal);
    await engine.complete(ctx({ prefix: 'function sub(a: number, b: number) {\n  return ' }), new AbortController().signal);
    engine.onDocumentClosed?.('file:///w/a.ts');
    await new Promise((r) => setTimeout(r, 0));
    await engine.complete(ctx({ documentKey: 'file:///w/c.ts', prefix: 'let y = ' }), new AbortController().signal);
    expect(seen.map((s) => s.body.id_slot)).toEqual([0, 1, 0, 0]);
  });

  test('warm-up prefills the document in its own slot with n_predict 0, one at a time', async () => {
    const { url, seen } = await standIn(() => ({ pieces: [] }));
    const engine = createLlamaServerEngine({ url, maxNewTokens: 32 });
    engine.warm?.(ctx());
    engine.warm?.(ctx({ documentKey: 'file:///w/b.ts' })); // dropped: one warm-up in flight already
    await until(() => seen.length === 1);
    await engine.complete(ctx({ documentKey: 'file:///w/b.ts' }), new AbortController().signal);
    expect(seen.map((s) => [s.body.n_predict, s.body.id_slot, s.body.stream, s.body.cache_prompt])).toEqual([
      [0, 0, false, true],
      [32, 1, true, true],
    ]);
  });

  test('the syntax plan cuts a multi-line answer and the stream is closed early (llama-server frees the slot)', async () => {
    const lines = ['if (a > b) {\n', '    return a;\n', '  }\n', '  return b;\n', '}\n', 'function more() {\n', ...Array.from({ length: 30 }, (_, i) => `  x${i}();\n`)];
    const { url, seen } = await standIn(() => ({ pieces: lines, delayMs: 30 }));
    const engine = createLlamaServerEngine({ url, maxNewTokens: 256 });
    const r = await engine.complete(ctx({ prefix: 'function max(a: number, b: number) {\n  ', suffix: '\n', trigger: 'manual' }), new AbortController().signal);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.candidates[0]!.text).toContain('return b;');
    expect(r.candidates[0]!.text).not.toContain('function more');
    expect(seen[0]!.body.stop).toBeUndefined();
    await until(() => seen[0]!.closedEarly);
  });

  // An answer that llama-server stopped at a limit (n_predict, t_max_predict_ms, a full context) may end mid-expression:
  // it is cut back to a balanced end as a local max-tokens answer is. Any other or no stop_type keeps it as it came.
  test('an answer stopped at its limit (stop_type "limit", stopped_limit) is cut back to a balanced end; eos, word, unknown or none are not', async () => {
    const pieces = TRUNCATED_PIECES;
    let final: Record<string, unknown> | undefined;
    let json = false;
    const { url } = await standIn(() => ({ pieces, final, json }));
    const at = ctx({ prefix: 'function max(a: number, b: number) {\n  ', suffix: '\n}\n', trigger: 'manual' });
    const complete = (f: Record<string, unknown> | undefined, asJson = false) => {
      final = f;
      json = asJson;
      return answerOf(createLlamaServerEngine({ url, maxNewTokens: 16 }), at, !asJson);
    };
    const { raw, cutBack, asIs, cost } = truncationCase(at);
    for (const f of [{ stop_type: 'limit' }, { stop_type: 'limit', truncated: true }, { stopped_limit: true, stopped_eos: false }]) {
      const r = await complete(f);
      expect(r.raw).toBe(raw);
      expect(r.text, JSON.stringify(f)).toBe(cutBack);
      expect(cost(r.text)).toBeLessThanOrEqual(cost(''));
    }
    expect((await complete({ stop_type: 'limit' }, true)).text).toBe(cutBack); // a server that answers one JSON body
    // EOS, a stop string, an unknown value, no field at all, and `truncated` alone (a context shift: the answer went on).
    for (const f of [{ stop_type: 'eos' }, { stop_type: 'word', stopping_word: '\n\n' }, { stop_type: 'budget' }, undefined, { truncated: true }, { stop_type: 'eos', stopped_limit: true }]) {
      expect((await complete(f)).text, JSON.stringify(f)).toBe(asIs);
    }
    expect((await complete({ stop_type: 'eos' }, true)).text).toBe(asIs);
  });

  test('a limit stop after our plan ended the text does not count: the line the plan kept is not cut again', async () => {
    // One JSON body (a server that ignores `stream`) whose text goes past the line, stopped at the token limit: the
    // single-line plan ends it at the line break (`a + Math.max(a,`, the model wraps its arguments), as a local decode
    // cut by its stop rule is not marked truncated either.
    const { url } = await standIn(() => ({ pieces: ['a + Math.max(a,\n', '    b'], final: { stop_type: 'limit' }, json: true }));
    const r = await createLlamaServerEngine({ url, maxNewTokens: 16 }).complete(ctx(), new AbortController().signal);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    const pctx = { prefix: ctx().prefix, suffix: ctx().suffix, languageId: 'typescript', lineMode: 'single' as const };
    expect(r.raw).toBe('a + Math.max(a,');
    expect(r.candidates[0]?.text).toBe(postprocess('a + Math.max(a,', pctx));
    expect(postprocess('a + Math.max(a,', { ...pctx, truncated: true })).not.toBe(r.candidates[0]?.text);
  });

  test('stream values that are not objects, and text fields that are not strings, are skipped; a broken JSON answer is named as such', async () => {
    const events = ['null', '42', '"x"', '[1]', JSON.stringify({ content: 5 }), JSON.stringify({ content: 'a + b;' }), JSON.stringify({ content: '', stop: true, stop_type: 'eos' })];
    const streamed = await rawServer(servers, 'text/event-stream', events.map((e) => `data: ${e}\n\n`).join(''));
    expect(await createLlamaServerEngine({ url: streamed, maxNewTokens: 8 }).complete(ctx(), new AbortController().signal)).toMatchObject({ kind: 'ok', candidates: [{ text: 'a + b;' }] });
    for (const [body, reason] of [
      ['null', 'backend: the answer is not a JSON object: null'],
      ['[]', 'backend: the answer is not a JSON object: []'],
      ['<html>oops</html>', 'backend: the answer is not JSON: <html>oops</html>'],
    ]) {
      const url = await rawServer(servers, 'application/json', body!);
      const engine = createLlamaServerEngine({ url, maxNewTokens: 8 });
      expect(await engine.complete(ctx(), new AbortController().signal)).toEqual({ kind: 'degraded', reason });
      expect(engine.status().message).toContain('last error: the answer is not');
    }
    const wrongType = await rawServer(servers, 'application/json', JSON.stringify({ content: 7, stop: true }));
    expect(await createLlamaServerEngine({ url: wrongType, maxNewTokens: 8 }).complete(ctx(), new AbortController().signal)).toMatchObject({ kind: 'ok', candidates: [] });
  });

  test('cancellation answers cancelled and closes the HTTP stream', async () => {
    const { url, seen } = await standIn(() => ({ pieces: Array.from({ length: 200 }, () => 'x'), delayMs: 10 }));
    const engine = createLlamaServerEngine({ url, maxNewTokens: 256 });
    const controller = new AbortController();
    expect(await engine.complete(ctx({ trigger: 'manual', suffix: '' }), controller.signal, () => controller.abort())).toEqual({ kind: 'cancelled' });
    await until(() => seen[0]!.closedEarly);
  });

  test('HTTP errors and unreachable servers answer degraded and show in the status until a request succeeds', async () => {
    let fail = true;
    const { url } = await standIn(() => (fail ? { status: 401, error: 'Invalid API Key' } : { pieces: ['a + b;'] }));
    const engine = createLlamaServerEngine({ url, maxNewTokens: 16 });
    const bad = await engine.complete(ctx(), new AbortController().signal);
    expect(bad.kind === 'degraded' && bad.reason).toBe('backend: HTTP 401: Invalid API Key');
    expect(engine.status().message).toBe(`llama-server ${url}/infill; last error: HTTP 401: Invalid API Key`);
    fail = false;
    expect((await engine.complete(ctx(), new AbortController().signal)).kind).toBe('ok');
    expect(engine.status().message).toBe(`llama-server ${url}/infill`);

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = createLlamaServerEngine({ url: `http://127.0.0.1:${port}`, maxNewTokens: 16 });
    const r = await down.complete(ctx(), new AbortController().signal);
    expect(r.kind === 'degraded' && r.reason).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});

test('stableTail keeps the cut in place while text is appended, within the character budget', () => {
  const base = Array.from({ length: 400 }, (_, i) => `line ${i} ${'x'.repeat(i % 7)}`).join('\n') + '\n';
  const starts = new Set<number>();
  for (let typed = 0; typed < 200; typed++) {
    const text = base + 'y'.repeat(typed);
    const tail = stableTail(text, 1000, 250);
    expect(tail.length).toBeLessThanOrEqual(1000);
    expect(tail.length).toBeGreaterThan(1000 - 250 - 20);
    expect(text.endsWith(tail)).toBe(true);
    expect(text[text.length - tail.length - 1]).toBe('\n'); // cut at a line start
    starts.add(text.length - tail.length);
  }
  expect(starts.size).toBeLessThanOrEqual(2); // 200 keystrokes cross at most one 250-character step
  expect(stableTail('short', 1000)).toBe('short');
  expect(stableTail('z'.repeat(3000), 1000)).toBe('z'.repeat(1000)); // one giant line: the plain tail
});

test('stoppedAtLimit reads stop_type, else the older stopped_limit; anything else is not a limit stop', () => {
  expect([{ stop_type: 'limit' }, { stopped_limit: true }].map(stoppedAtLimit)).toEqual([true, true]);
  expect([{ stop_type: 'eos' }, { stop_type: 'word' }, { stop_type: 'none' }, { stop_type: 'eos', stopped_limit: true }, { stopped_limit: 'yes' }, { truncated: true }, {}, null, undefined, 'limit', 42].map(stoppedAtLimit)).toEqual(Array(11).fill(false));
});

test('SlotMap gives each document its own slot and reuses the least recently used one', () => {
  const m = new SlotMap(2);
  expect([m.slot('a'), m.slot('b'), m.slot('a')]).toEqual([0, 1, 0]);
  expect(m.slot('c')).toBe(1); // b was least recently used
  m.release('a');
  expect(m.slot('d')).toBe(0);
});

test('infillUrl and llama-server settings validation', () => {
  expect(infillUrl('http://h:8012').href).toBe('http://h:8012/infill');
  expect(infillUrl('http://h:8012/llama/').href).toBe('http://h:8012/llama/infill');
  expect(() => infillUrl('file:///etc/passwd')).toThrow(/http/);
  const ok = applySettings(DEFAULT_SETTINGS, { backend: { kind: 'llama-server', url: 'http://127.0.0.1:8012', apiKey: 'k', tMaxPredictMs: 250 } });
  expect(ok.errors).toEqual([]);
  expect(ok.settings.backend).toEqual({ kind: 'llama-server', url: 'http://127.0.0.1:8012', apiKey: 'k', tMaxPredictMs: 250 });
  const bad = applySettings(DEFAULT_SETTINGS, { backend: { kind: 'llama-server', url: 'ws://x', tMaxPredictMs: -1 } });
  expect(bad.errors).toHaveLength(1);
  expect(bad.errors[0]).toMatch(/url must be an http\(s\) URL.*tMaxPredictMs must be an integer/);
  expect(bad.settings.backend).toEqual({ kind: 'local' });
});
