// Identical concurrent completions share one in-flight generation (config/engine-host.ts + util/single-flight.ts):
// over a real WebSocket server with an in-test engine that records every call it gets and every abort it sees.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../server/src/api/server.js';
import { EngineHost } from '../../server/src/config/engine-host.js';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { fakeFactory } from '../support/fake-engine.js';
import { connect, type TestClient } from './client.js';

const TOKEN = 'test-token-shared-0123456789';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let server: ApiServer;
let host: EngineHost;
let engines: ReturnType<typeof fakeFactory>;
const clients: TestClient[] = [];

async function client(): Promise<TestClient> {
  const c = await connect(server.url, AUTH);
  clients.push(c);
  return c;
}

function send(c: TestClient, id: string, params: Record<string, unknown>): void {
  c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id, method: 'complete', params }));
}

const DOC = 'def add(a, b):\n    return ';
const AT = { uri: 'file:///w/add.py', position: { line: 1, character: 11 } };

beforeEach(async () => {
  engines = fakeFactory();
  host = new EngineHost({ factory: engines.factory, settings: cloneSettings(DEFAULT_SETTINGS), baseDir: '/pkg' });
  await host.start();
  server = await startApiServer({ engine: host, token: TOKEN, port: 0 });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
  await host.dispose();
});

describe('identical concurrent requests share one generation', () => {
  it('two clients asking at the same text, position and options while the first runs: one engine call, both answered, partials to both', async () => {
    const a = await client();
    const b = await client();
    // Same text under the same uri on both connections; versions differ (the answer depends on the text, not the version).
    await a.call('document/open', { uri: AT.uri, languageId: 'python', text: DOC, version: 1 });
    await b.call('document/open', { uri: AT.uri, languageId: 'python', text: DOC, version: 7 });
    const engine = engines.last;
    const warmed = engine.contexts.length;
    engine.next({ kind: 'stream', parts: ['a', ' + ', 'b'], delayMs: 40 });
    send(a, 'a1', { ...AT, stream: true });
    await expect.poll(() => engine.contexts.length).toBe(warmed + 1);
    // b asks once a has streamed something: it joins, and first gets the text streamed so far.
    await a.next((m) => m.method === 'complete/partial' && m.params.id === 'a1');
    send(b, 'b1', { ...AT, stream: true });
    const [ra, rb] = await Promise.all([a.next((m) => m.id === 'a1'), b.next((m) => m.id === 'b1')]);
    expect(engine.contexts.length).toBe(warmed + 1);
    expect(host.sharedCompletions).toBe(1);
    expect(ra.result.candidates).toEqual([{ text: 'a + b', score: 0 }]);
    expect(rb.result.candidates).toEqual(ra.result.candidates);
    const partials = (c: TestClient, id: string) => c.messages.filter((m) => m.method === 'complete/partial' && m.params.id === id).map((m) => m.params.text as string);
    expect(partials(a, 'a1')).toEqual(['a', 'a + ', 'a + b']);
    // The joiner's partials are the shared stream from where it joined: each a prefix of the next, ending with the answer.
    const pb = partials(b, 'b1');
    expect(pb.at(-1)).toBe('a + b');
    expect(pb.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < pb.length; i++) expect(pb[i]!.startsWith(pb[i - 1]!)).toBe(true);
  });

  it('one client asking twice (two ids) shares too; a request after the answer runs again', async () => {
    const a = await client();
    const engine = engines.last;
    engine.next({ kind: 'stream', parts: ['x', 'y'], delayMs: 30 });
    send(a, '1', { prefix: 'let total = ', languageId: 'typescript' });
    await expect.poll(() => engine.contexts.length).toBe(1);
    send(a, '2', { prefix: 'let total = ', languageId: 'typescript' });
    const [r1, r2] = await Promise.all([a.next((m) => m.id === '1'), a.next((m) => m.id === '2')]);
    expect(r1.result.candidates).toEqual([{ text: 'xy', score: 0 }]);
    expect(r2.result.candidates).toEqual(r1.result.candidates);
    expect(engine.contexts.length).toBe(1);
    await a.call('complete', { prefix: 'let total = ', languageId: 'typescript' });
    expect(engine.contexts.length).toBe(2);
  });

  it('anything that changes the answer keeps requests apart: candidate count, line mode, trigger, text, language, document key', async () => {
    // Two connections (4 requests in flight per connection by default).
    const cs = [await client(), await client()];
    const engine = engines.last;
    const base = { prefix: 'let n = ', languageId: 'typescript' };
    const variants = [
      base,
      { ...base, maxCandidates: 1 },
      { ...base, lineMode: 'single' },
      { ...base, trigger: 'automatic' },
      { ...base, prefix: 'let m = ' },
      { ...base, suffix: ';' },
      { ...base, languageId: 'javascript' },
      { ...base, documentKey: 'untitled:other' },
    ];
    engine.next(...variants.map(() => ({ kind: 'hang' as const })));
    variants.forEach((v, i) => send(cs[i % 2]!, `v${i}`, v));
    await expect.poll(() => engine.contexts.length).toBe(variants.length);
    expect(host.sharedCompletions).toBe(0);
    for (let i = 0; i < variants.length; i++) await cs[i % 2]!.call('cancel', { id: `v${i}` });
    await expect.poll(() => engine.aborted).toBe(variants.length);
  });

  it('a requester cancelling leaves the shared work running for the other; the last one cancelling cancels it', async () => {
    const a = await client();
    const b = await client();
    const engine = engines.last;
    engine.next({ kind: 'hang' });
    send(a, 'a1', { prefix: 'const s = ', languageId: 'typescript' });
    await expect.poll(() => engine.contexts.length).toBe(1);
    send(b, 'b1', { prefix: 'const s = ', languageId: 'typescript' });
    await expect.poll(() => host.sharedCompletions).toBe(1);
    expect((await a.call('cancel', { id: 'a1' })).result).toEqual({ cancelled: true });
    expect(await a.next((m) => m.id === 'a1')).toMatchObject({ error: { code: -32800 } });
    // a's cancel reached the host before its answer went out: the engine's run was not aborted.
    expect(engine.aborted).toBe(0);
    expect(engine.contexts.length).toBe(1);
    expect((await b.call('cancel', { id: 'b1' })).result).toEqual({ cancelled: true });
    expect(await b.next((m) => m.id === 'b1')).toMatchObject({ error: { code: -32800 } });
    await expect.poll(() => engine.aborted).toBe(1);
    // Nothing is left in flight: the same request now starts a new run.
    expect((await a.call('complete', { prefix: 'const s = ', languageId: 'typescript' })).result.candidates).toHaveLength(1);
    expect(engine.contexts.length).toBe(2);
  });

  it('a connection closing while another waits on the same work does not cancel it', async () => {
    const a = await client();
    const b = await client();
    const engine = engines.last;
    engine.next({ kind: 'stream', parts: ['1', '2', '3'], delayMs: 40 });
    send(a, 'a1', { prefix: 'n = ', languageId: 'python' });
    await expect.poll(() => engine.contexts.length).toBe(1);
    send(b, 'b1', { prefix: 'n = ', languageId: 'python' });
    await expect.poll(() => host.sharedCompletions).toBe(1);
    a.close();
    expect((await b.next((m) => m.id === 'b1')).result.candidates).toEqual([{ text: '123', score: 0 }]);
    expect(engine.aborted).toBe(0);
  });
});
