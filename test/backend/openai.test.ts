// The OpenAI-compatible backend against a local stand-in `/v1/completions` server (node:http, server-sent events):
// the FIM prompt it sends, streaming, the syntax plan's cut, cancellation reaching the server, errors in the status,
// typed-ahead answers from our own cache.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { rawServer } from '../support/raw-server.js';
import { TRUNCATED_PIECES, answerOf, truncationCase } from '../support/truncation-case.js';
import { buildTextPrompt } from '../../server/src/backend/fim-text.js';
import { completionsUrl, createOpenAiEngine, finishedByLength } from '../../server/src/backend/openai.js';
import { DEFAULT_SETTINGS, applySettings } from '../../server/src/config/settings.js';
import type { CompletionContext } from '../../server/src/engine/types.js';

interface Seen {
  url: string;
  auth: string | undefined;
  body: { model: string; prompt: string; stop: string[]; stream: boolean; max_tokens: number };
  closedEarly: boolean;
}

/**
 * A stand-in server: answers each request with `script(body)` — a list of text pieces streamed `delayMs` apart (chunks
 * with `finish_reason: null`, then, when `finish` is given, a last chunk with that finish_reason, as OpenAI streams; with
 * `json`, one JSON body instead), or an HTTP error.
 */
type Script = { pieces: string[]; delayMs?: number; finish?: string; json?: boolean } | { status: number; error: string };
async function standIn(script: (body: Seen['body']) => Script) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      const body = JSON.parse(raw) as Seen['body'];
      const record: Seen = { url: req.url ?? '', auth: req.headers.authorization, body, closedEarly: false };
      seen.push(record);
      const answer = script(body);
      if ('status' in answer) {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: answer.error } }));
        return;
      }
      if (answer.json) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ text: answer.pieces.join(''), index: 0, ...(answer.finish !== undefined ? { finish_reason: answer.finish } : {}) }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let finished = false;
      res.on('close', () => {
        if (!finished) record.closedEarly = true;
      });
      for (const piece of answer.pieces) {
        if (record.closedEarly) return;
        res.write(`data: ${JSON.stringify({ choices: [{ text: piece, index: 0, finish_reason: null }] })}\n\n`);
        await new Promise((r) => setTimeout(r, answer.delayMs ?? 1));
      }
      if (answer.finish !== undefined) res.write(`data: ${JSON.stringify({ choices: [{ text: '', index: 0, finish_reason: answer.finish }] })}\n\n`);
      finished = true;
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  servers.push(server);
  return { url, seen };
}

const servers: http.Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const ctx = (over: Partial<CompletionContext> = {}): CompletionContext => ({
  documentKey: 'file:///w/a.ts',
  version: 1,
  languageId: 'typescript',
  prefix: 'function add(a: number, b: number) {\n  return ',
  suffix: '\n}\n',
  trigger: 'automatic',
  ...over,
});

describe('OpenAI-compatible backend', () => {
  test('sends the FIM prompt with model, stop and key; streams partials; post-processes the answer', async () => {
    const { url, seen } = await standIn(() => ({ pieces: ['a ', '+ b;'] }));
    const engine = createOpenAiEngine({ url, model: 'qwen2.5-coder:1.5b', apiKey: 'sk-test', maxNewTokens: 32 });
    const partials: string[] = [];
    const r = await engine.complete(ctx(), new AbortController().signal, (t) => partials.push(t));
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.candidates.map((c) => c.text)).toEqual(['a + b;']);
    expect(partials).toEqual(['a ', 'a + b;']);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/v1/completions');
    expect(seen[0]!.auth).toBe('Bearer sk-test');
    expect(seen[0]!.body).toMatchObject({ model: 'qwen2.5-coder:1.5b', stream: true, max_tokens: 32 });
    expect(seen[0]!.body.prompt).toBe('<|fim_prefix|>function add(a: number, b: number) {\n  return <|fim_suffix|>\n}\n<|fim_middle|>');
    expect(seen[0]!.body.stop[0]).toBe('\n'); // single line: code follows the cursor on an automatic trigger
    expect(seen[0]!.body.stop.length).toBeLessThanOrEqual(4);
    expect(JSON.stringify(engine.status())).not.toContain('sk-test');
  });

  test("the syntax plan cuts a multi-line answer and the stream is closed early (the server stops generating)", async () => {
    const lines = ['if (a > b) {\n', '    return a;\n', '  }\n', '  return b;\n', '}\n', 'function more() {\n', ...Array.from({ length: 30 }, (_, i) => `  x${i}();\n`)];
    const { url, seen } = await standIn(() => ({ pieces: lines, delayMs: 5 }));
    const engine = createOpenAiEngine({ url: `${url}/v1`, model: 'm', fim: 'starcoder', maxNewTokens: 256 });
    const r = await engine.complete(ctx({ prefix: 'function max(a: number, b: number) {\n  ', suffix: '\n', trigger: 'manual' }), new AbortController().signal);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.candidates[0]!.text).not.toContain('function more');
    expect(r.candidates[0]!.text).toContain('return b;');
    expect(seen[0]!.body.prompt.startsWith('<fim_prefix>')).toBe(true);
    // The stand-in sees the close a little later; poll (5 s at most) rather than sleep, for a loaded machine.
    for (let i = 0; i < 500 && !seen[0]!.closedEarly; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen[0]!.closedEarly).toBe(true);
  });

  test('cancellation answers cancelled and closes the HTTP stream', async () => {
    const { url, seen } = await standIn(() => ({ pieces: Array.from({ length: 200 }, () => 'x'), delayMs: 10 }));
    const engine = createOpenAiEngine({ url, model: 'm', maxNewTokens: 256 });
    const controller = new AbortController();
    const pending = engine.complete(ctx({ trigger: 'manual', suffix: '' }), controller.signal, () => controller.abort());
    expect(await pending).toEqual({ kind: 'cancelled' });
    // The stand-in sees the close a little later; poll (5 s at most) rather than sleep, for a loaded machine.
    for (let i = 0; i < 500 && !seen[0]!.closedEarly; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen[0]!.closedEarly).toBe(true);
  });

  test('HTTP errors and unreachable servers answer degraded and show in the status until a request succeeds', async () => {
    let fail = true;
    const { url } = await standIn(() => (fail ? { status: 401, error: 'invalid api key' } : { pieces: ['a + b;'] }));
    const engine = createOpenAiEngine({ url, model: 'm', maxNewTokens: 16 });
    const statuses: string[] = [];
    engine.onStatus((s) => statuses.push(s.message ?? ''));
    const bad = await engine.complete(ctx(), new AbortController().signal);
    expect(bad).toMatchObject({ kind: 'degraded' });
    expect(bad.kind === 'degraded' && bad.reason).toMatch(/HTTP 401.*invalid api key/);
    expect(engine.status().message).toMatch(/last error: HTTP 401/);
    fail = false;
    expect((await engine.complete(ctx(), new AbortController().signal)).kind).toBe('ok');
    expect(engine.status().message).not.toMatch(/last error/);
    expect(statuses.some((m) => /last error/.test(m))).toBe(true);

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = createOpenAiEngine({ url: `http://127.0.0.1:${port}`, model: 'm', maxNewTokens: 16 });
    const r = await down.complete(ctx(), new AbortController().signal);
    expect(r.kind === 'degraded' && r.reason).toMatch(/cannot reach/);
  });

  // An answer the server stopped at max_tokens may end mid-expression: it is cut back to a balanced end as a local
  // max-tokens answer is. Any other or no finish_reason keeps it as it came.
  test('an answer with finish_reason "length" is cut back to a balanced end; "stop", unknown or none are not', async () => {
    const pieces = TRUNCATED_PIECES;
    let finish: string | undefined;
    let json = false;
    const { url } = await standIn(() => ({ pieces, finish, json }));
    const at = ctx({ prefix: 'function max(a: number, b: number) {\n  ', suffix: '\n}\n', trigger: 'manual' });
    const complete = (f: string | undefined, asJson = false) => {
      finish = f;
      json = asJson;
      return answerOf(createOpenAiEngine({ url, model: 'm', maxNewTokens: 16 }), at, !asJson);
    };
    const { raw, cutBack, asIs, cost } = truncationCase(at);
    const limited = await complete('length');
    expect(limited.raw).toBe(raw);
    expect(limited.text).toBe(cutBack);
    expect(cost(limited.text)).toBeLessThanOrEqual(cost(''));
    expect((await complete('length', true)).text).toBe(cutBack); // a server that ignores `stream`
    for (const f of ['stop', 'content_filter', 'eos', undefined]) expect((await complete(f)).text, String(f)).toBe(asIs);
    expect((await complete('stop', true)).text).toBe(asIs);
    expect((await complete(undefined, true)).text).toBe(asIs);
  });

  test('stream values that are not objects, and text fields that are not strings, are skipped; a broken JSON answer is named as such', async () => {
    const events = ['null', '42', '"x"', '[1]', JSON.stringify({ choices: [{ text: 5 }] }), JSON.stringify({ choices: 'abc' }), JSON.stringify({ choices: [{ text: 'a + b;' }] }), '[DONE]'];
    const streamed = await rawServer(servers, 'text/event-stream', events.map((e) => `data: ${e}\n\n`).join(''));
    expect(await createOpenAiEngine({ url: streamed, model: 'm', maxNewTokens: 8 }).complete(ctx(), new AbortController().signal)).toMatchObject({ kind: 'ok', candidates: [{ text: 'a + b;' }] });
    for (const [body, reason] of [
      ['null', 'backend: the answer is not a JSON object: null'],
      ['<html>oops</html>', 'backend: the answer is not JSON: <html>oops</html>'],
    ]) {
      const url = await rawServer(servers, 'application/json', body!);
      expect(await createOpenAiEngine({ url, model: 'm', maxNewTokens: 8 }).complete(ctx(), new AbortController().signal)).toEqual({ kind: 'degraded', reason });
    }
  });

  test('typing through a returned completion is answered from our cache without a request', async () => {
    const { url, seen } = await standIn(() => ({ pieces: ['a + b;'] }));
    const engine = createOpenAiEngine({ url, model: 'm', maxNewTokens: 16 });
    await engine.complete(ctx(), new AbortController().signal);
    const r = await engine.complete(ctx({ prefix: `${ctx().prefix}a + ` }), new AbortController().signal);
    expect(r).toMatchObject({ kind: 'ok', cache: 'completion-reuse', candidates: [{ text: 'b;' }] });
    expect(seen).toHaveLength(1);
  });
});

test('cross-file context in the repository-level form of the family, else as comments', () => {
  const crossFile = { repoName: 'app', path: 'src/a.ts', chunks: [{ path: 'src/b.ts', text: 'export const b = 1;', kind: 'definition' as const }], format: 'repo' as const };
  expect(buildTextPrompt('qwen', { prefix: 'x', suffix: 'y', languageId: 'typescript', crossFile })).toBe(
    '<|repo_name|>app\n<|file_sep|>src/b.ts\nexport const b = 1;\n<|file_sep|>src/a.ts\n<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>',
  );
  expect(buildTextPrompt('qwen', { prefix: 'x', suffix: 'y', languageId: 'python', crossFile: { ...crossFile, format: 'comment' } })).toBe('<|fim_prefix|># Path: src/b.ts\n# export const b = 1;\nx<|fim_suffix|>y<|fim_middle|>');
  expect(buildTextPrompt('deepseek', { prefix: 'x', suffix: 'y', languageId: 'python', crossFile })).toBe('<｜fim▁begin｜># Path: src/b.ts\n# export const b = 1;\nx<｜fim▁hole｜>y<｜fim▁end｜>');
});

test('finishedByLength: only finish_reason "length" is a token-limit stop', () => {
  expect(finishedByLength('length')).toBe(true);
  expect(['stop', 'content_filter', 'tool_calls', 'LENGTH', null, undefined, 1, {}].map(finishedByLength)).toEqual(Array(8).fill(false));
});

test('completionsUrl and backend settings validation', () => {
  expect(completionsUrl('http://h:8000').href).toBe('http://h:8000/v1/completions');
  expect(completionsUrl('http://h:8000/v1/').href).toBe('http://h:8000/v1/completions');
  expect(completionsUrl('https://h/api/v1/completions').href).toBe('https://h/api/v1/completions');
  expect(() => completionsUrl('file:///etc/passwd')).toThrow(/http/);
  const ok = applySettings(DEFAULT_SETTINGS, { backend: { kind: 'openai', url: 'http://127.0.0.1:8000', model: 'm', fim: 'starcoder' } });
  expect(ok.errors).toEqual([]);
  expect(ok.settings.backend).toEqual({ kind: 'openai', url: 'http://127.0.0.1:8000', model: 'm', fim: 'starcoder' });
  expect(ok.changed).toContain('backend');
  const bad = applySettings(DEFAULT_SETTINGS, { backend: { kind: 'openai', url: 'ftp://x', model: '', fim: 'gpt' } });
  expect(bad.errors).toHaveLength(1);
  expect(bad.errors[0]).toMatch(/url must be an http\(s\) URL.*model must be a non-empty string.*fim must be one of/);
  expect(bad.settings.backend).toEqual({ kind: 'local' });
});
