// WebSocket API tests against a real server on a free port with an in-test engine: auth, framing, errors, isolation.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startApiServer, type ApiServer } from '../../server/src/api/server.js';
import { EngineHost } from '../../server/src/config/engine-host.js';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { fakeFactory } from '../support/fake-engine.js';
import { connect, type TestClient } from './client.js';

const TOKEN = 'test-token-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let server: ApiServer;
let host: EngineHost;
let engines: ReturnType<typeof fakeFactory>;
const clients: TestClient[] = [];

async function start(extra: Partial<Parameters<typeof startApiServer>[0]> = {}): Promise<void> {
  await server?.close();
  engines = fakeFactory();
  host = new EngineHost({ factory: engines.factory, settings: cloneSettings(DEFAULT_SETTINGS), baseDir: '/pkg' });
  await host.start();
  server = await startApiServer({ engine: host, token: TOKEN, port: 0, ...extra });
}

async function client(headers: Record<string, string> = AUTH): Promise<TestClient> {
  const c = await connect(server.url, headers);
  clients.push(c);
  return c;
}

function refusal(headers: Record<string, string>): Promise<number> {
  return connect(server.url, headers).then(
    () => 0,
    (err: { statusCode?: number }) => err.statusCode ?? -1,
  );
}

beforeEach(async () => {
  await start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
  await host.dispose();
});

describe('connection security', () => {
  it('binds to 127.0.0.1 by default', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a missing or wrong token with HTTP 401', async () => {
    expect(await refusal({})).toBe(401);
    expect(await refusal({ Authorization: 'Bearer nope' })).toBe(401);
    expect(await refusal({ Authorization: `Basic ${TOKEN}` })).toBe(401);
  });

  it('refuses browser pages (an Origin header) with HTTP 403 unless allow-listed', async () => {
    expect(await refusal({ ...AUTH, Origin: 'https://evil.example' })).toBe(403);
    await start({ allowedOrigins: ['http://localhost:5173'] });
    expect(await refusal({ ...AUTH, Origin: 'https://evil.example' })).toBe(403);
    const c = await client({ ...AUTH, Origin: 'http://localhost:5173' });
    expect((await c.call('status')).result.state).toBe('ready');
  });

  it('accepts the token as a query parameter (for allow-listed browser pages)', async () => {
    const c = await connect(`${server.url}/?token=${TOKEN}`, {});
    clients.push(c);
    expect((await c.call('status')).result).toMatchObject({ state: 'ready' });
  });
});

describe('JSON-RPC framing and errors', () => {
  it('answers malformed JSON with -32700 and keeps the connection', async () => {
    const c = await client();
    c.sendRaw('{"jsonrpc": "2.0", "method": ');
    const parseError = await c.next((m) => m.error?.code === -32700);
    expect(parseError).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    expect((await c.call('status')).result).toBeDefined();
  });

  it('answers invalid requests with -32600 and unknown methods with -32601', async () => {
    const c = await client();
    c.sendRaw(JSON.stringify({ id: 5, method: 'status' }));
    expect(await c.next((m) => m.id === 5)).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/jsonrpc/) } });
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'status', params: 3 }));
    expect(await c.next((m) => m.id === 6)).toMatchObject({ error: { code: -32600 } });
    c.sendRaw('[]');
    expect(await c.next((m) => m.error?.message === 'invalid request: empty batch')).toMatchObject({ id: null });
    const unknown = await c.call('frobnicate');
    expect(unknown.error).toMatchObject({ code: -32601, message: expect.stringMatching(/frobnicate/) });
  });

  it('answers batches with an array and skips notifications', async () => {
    const c = await client();
    c.sendRaw(JSON.stringify([
      { jsonrpc: '2.0', id: 'a', method: 'status' },
      { jsonrpc: '2.0', method: 'status' },
      { jsonrpc: '2.0', id: 'b', method: 'nope' },
      42,
    ]));
    const batch = await c.next((m) => Array.isArray(m));
    expect(batch).toHaveLength(3);
    expect(batch[0]).toMatchObject({ id: 'a', result: { state: 'ready' } });
    expect(batch[1]).toMatchObject({ id: 'b', error: { code: -32601 } });
    expect(batch[2]).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('answers oversized messages with -32600 and closes the socket (1009) far above the limit', async () => {
    await start({ maxMessageBytes: 1000 });
    const c = await client();
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'complete', params: { prefix: 'x'.repeat(2000) } }));
    expect(await c.next((m) => m.error?.code === -32600)).toMatchObject({ error: { message: expect.stringMatching(/message too large: \d+ bytes \(limit 1000\)/) } });
    expect((await c.call('status')).result).toBeDefined();
    const closed = new Promise<number>((resolve) => c.ws.on('close', (code) => resolve(code)));
    c.sendRaw('x'.repeat(5000));
    expect(await closed).toBe(1009);
  });

  it('answers bad params and out-of-range positions with -32602', async () => {
    const c = await client();
    await c.call('document/open', { uri: 'mem://a.py', languageId: 'python', text: 'def f():\n    return 1\n' });
    const past = await c.call('complete', { uri: 'mem://a.py', position: { line: 7, character: 0 } });
    expect(past.error).toMatchObject({ code: -32602, message: expect.stringMatching(/document has 3 lines/), data: { lineCount: 3 } });
    const pastChar = await c.call('complete', { uri: 'mem://a.py', position: { line: 0, character: 9 } });
    expect(pastChar.error).toMatchObject({ code: -32602, message: expect.stringMatching(/line 0 has 8 UTF-16 code units/) });
    const badChange = await c.call('document/change', { uri: 'mem://a.py', changes: [{ range: { start: { line: 9, character: 0 }, end: { line: 9, character: 0 } }, text: 'x' }] });
    expect(badChange.error.code).toBe(-32602);
    expect((await c.call('complete', { uri: 'mem://nope', position: { line: 0, character: 0 } })).error).toMatchObject({ code: -32602, message: expect.stringMatching(/not open/) });
    expect((await c.call('complete', {})).error.code).toBe(-32602);
    expect((await c.call('complete', { prefix: 1 })).error.code).toBe(-32602);
    expect((await c.call('document/open', { uri: 'mem://b' })).error.code).toBe(-32602);
    expect((await c.call('complete', { prefix: 'x', maxCandidates: 99 })).error.code).toBe(-32602);
  });
});

describe('documents and completion', () => {
  it('completes at a position of an open, incrementally edited document', async () => {
    const c = await client();
    expect((await c.call('document/open', { uri: 'mem://a.ts', languageId: 'typescript', text: 'let a = 1;\r\nlet 😀 = ', version: 1 })).result).toEqual({ uri: 'mem://a.ts', version: 1 });
    const changed = await c.call('document/change', { uri: 'mem://a.ts', changes: [{ range: { start: { line: 1, character: 7 }, end: { line: 1, character: 8 } }, text: '= a +' }] });
    expect(changed.result).toEqual({ uri: 'mem://a.ts', version: 2 });
    const done = await c.call('complete', { uri: 'mem://a.ts', position: { line: 1, character: 12 } });
    expect(done.result.candidates).toEqual([{ text: '/*23*/', score: 0 }]);
    expect(done.result.timings).toMatchObject({ totalMs: expect.any(Number) });
    expect(engines.last.contexts.at(-1)).toMatchObject({ prefix: 'let a = 1;\nlet 😀 = a +', suffix: ' ', version: 2, trigger: 'manual', languageId: 'typescript' });
    expect((await c.call('document/close', { uri: 'mem://a.ts' })).result).toBeNull();
    expect(engines.last.closed).toEqual(['mem://a.ts']);
  });

  it('warms the cache of an opened document in the background (at warmOffset, else at the end)', async () => {
    const c = await client();
    await c.call('document/open', { uri: 'mem://w.ts', languageId: 'typescript', text: 'let a = 1;\nlet b = ' });
    await c.call('document/open', { uri: 'mem://v.ts', languageId: 'typescript', text: 'let a = 1;\nlet b = ', warmOffset: 4 });
    expect(engines.last.warmed.map((w) => [w.documentKey, w.prefix, w.suffix])).toEqual([
      ['mem://w.ts', 'let a = 1;\nlet b = ', ''],
      ['mem://v.ts', 'let ', 'a = 1;\nlet b = '],
    ]);
    expect((await c.call('document/open', { uri: 'mem://u.ts', languageId: 'typescript', text: 'x', warmOffset: 2 })).error.code).toBe(-32602);
    expect((await c.call('complete', { uri: 'mem://u.ts', position: { line: 0, character: 0 } })).error.message).toMatch(/not open/);
  });

  it('completes from a bare prefix and suffix', async () => {
    const c = await client();
    const done = await c.call('complete', { prefix: 'def add(a, b):\n    return ', suffix: '\n', languageId: 'python', maxCandidates: 2 });
    expect(done.result.candidates).toHaveLength(1);
    expect(engines.last.contexts.at(-1)).toMatchObject({ languageId: 'python', maxCandidates: 2, suffix: '\n' });
  });

  it('asks for three candidates on a manual trigger and one on an automatic one unless maxCandidates is sent', async () => {
    const c = await client();
    await c.call('complete', { prefix: 'x', languageId: 'python' });
    expect(engines.last.contexts.at(-1)).toMatchObject({ trigger: 'manual', maxCandidates: 3 });
    await c.call('complete', { prefix: 'x', languageId: 'python', trigger: 'automatic' });
    expect(engines.last.contexts.at(-1)).toMatchObject({ trigger: 'automatic', maxCandidates: 1 });
    await c.call('complete', { prefix: 'x', languageId: 'python', maxCandidates: 1 });
    expect(engines.last.contexts.at(-1)).toMatchObject({ trigger: 'manual', maxCandidates: 1 });
  });

  it('lineMode forces one line or several (as the CLI\'s --line-mode); absent, the engine chooses; anything else is -32602', async () => {
    const c = await client();
    await c.call('complete', { prefix: 'x', languageId: 'python', lineMode: 'single' });
    expect(engines.last.contexts.at(-1)).toMatchObject({ lineMode: 'single' });
    await c.call('document/open', { uri: 'file:///m.py', languageId: 'python', text: 'def f():\n    \n' });
    await c.call('complete', { uri: 'file:///m.py', position: { line: 1, character: 4 }, lineMode: 'multi' });
    expect(engines.last.contexts.at(-1)).toMatchObject({ documentKey: 'file:///m.py', lineMode: 'multi' });
    await c.call('complete', { prefix: 'x', languageId: 'python' });
    expect(engines.last.contexts.at(-1)).not.toHaveProperty('lineMode');
    const bad = await c.call('complete', { prefix: 'x', lineMode: 'both' });
    expect(bad.error).toMatchObject({ code: -32602, message: 'complete: "lineMode" must be "single" or "multi"' });
  });

  it('streams partial text as complete/partial notifications before the result', async () => {
    const c = await client();
    engines.last.next({ kind: 'stream', parts: ['a', 'b', 'c'], delayMs: 5 });
    const done = await c.call('complete', { prefix: 'x', stream: true });
    const partials = c.messages.filter((m) => m.method === 'complete/partial' && m.params.id === done.id).map((m) => m.params.text);
    expect(partials).toEqual(['a', 'ab', 'abc']);
    expect(done.result.candidates[0].text).toBe('abc');
  });

  it('reports degraded results as empty candidates with the reason', async () => {
    const c = await client();
    engines.last.next({ kind: 'degraded', reason: 'model loading' });
    expect((await c.call('complete', { prefix: 'x' })).result).toEqual({ candidates: [], degraded: 'model loading' });
  });

  it('answers status and pushes status/changed', async () => {
    const c = await client();
    expect((await c.call('status')).result).toEqual({ state: 'ready', device: 'cpu', model: 'fake' });
    engines.last.setStatus({ state: 'degraded', message: 'out of memory' });
    expect(await c.next((m) => m.method === 'status/changed')).toMatchObject({ params: { state: 'degraded', message: 'out of memory' } });
  });
});

describe('cancellation and limits', () => {
  it('cancel makes the request answer -32800 and the connection keeps working', async () => {
    const c = await client();
    engines.last.next({ kind: 'hang' });
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'slow', method: 'complete', params: { prefix: 'x' } }));
    await expect.poll(() => engines.last.contexts.length).toBe(1);
    expect((await c.call('cancel', { id: 'slow' })).result).toEqual({ cancelled: true });
    expect(await c.next((m) => m.id === 'slow')).toMatchObject({ error: { code: -32800 } });
    expect((await c.call('cancel', { id: 'slow' })).result).toEqual({ cancelled: false });
    expect((await c.call('complete', { prefix: 'x' })).result.candidates).toHaveLength(1);
  });

  it('a change to the document answers its in-flight completion with -32801', async () => {
    const c = await client();
    await c.call('document/open', { uri: 'mem://a', languageId: 'python', text: 'x' });
    engines.last.next({ kind: 'hang' });
    c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'c1', method: 'complete', params: { uri: 'mem://a', position: { line: 0, character: 1 } } }));
    await expect.poll(() => engines.last.contexts.length).toBe(1);
    await c.call('document/change', { uri: 'mem://a', changes: [{ text: 'xy' }] });
    expect(await c.next((m) => m.id === 'c1')).toMatchObject({ error: { code: -32801 } });
  });

  it('limits concurrent requests per connection (-32001) without affecting other connections', async () => {
    await start({ maxConcurrentRequests: 2 });
    const a = await client();
    const b = await client();
    engines.last.next({ kind: 'hang' }, { kind: 'hang' });
    // Two different requests (identical ones would share one generation: test/api/shared-requests.test.ts).
    a.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'complete', params: { prefix: 'x' } }));
    a.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'complete', params: { prefix: 'x2' } }));
    await expect.poll(() => engines.last.contexts.length).toBe(2);
    const third = await a.call('complete', { prefix: 'x' });
    expect(third.error).toMatchObject({ code: -32001, message: expect.stringMatching(/limit 2/) });
    expect((await b.call('complete', { prefix: 'y' })).result.candidates).toHaveLength(1);
  });

  it('closing a connection aborts its work; a bad client never affects another', async () => {
    await start({ maxMessageBytes: 1000 });
    const bad = await client();
    const good = await client();
    await good.call('document/open', { uri: 'mem://shared-name', languageId: 'python', text: 'good' });
    engines.last.next({ kind: 'hang' });
    bad.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'complete', params: { prefix: 'x' } }));
    await expect.poll(() => engines.last.contexts.length).toBe(1);
    bad.sendRaw('garbage');
    bad.sendRaw(Buffer.from([1, 2, 3]));
    // Documents are per connection: the bad client cannot see or touch the good one's.
    expect((await bad.call('document/close', { uri: 'mem://shared-name' })).error.code).toBe(-32602);
    bad.sendRaw('y'.repeat(10_000)); // past the hard limit: the server drops this connection
    await expect.poll(() => bad.ws.readyState).toBe(WebSocket.CLOSED);
    await expect.poll(() => engines.last.aborted).toBe(1);
    const result = await good.call('complete', { uri: 'mem://shared-name', position: { line: 0, character: 4 } });
    expect(result.result.candidates).toEqual([{ text: '/*4*/', score: 0 }]);
    expect(server.connections).toBe(1);
  });
});
