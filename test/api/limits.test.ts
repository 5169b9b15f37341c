// Issue 13 items 5–7 over the WebSocket API: protocol edges, per-connection limits, release on disconnect, --host.

import { afterEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../server/src/api/server.js';
import { EngineHost } from '../../server/src/config/engine-host.js';
import { DEFAULT_SETTINGS, applySettings, cloneSettings } from '../../server/src/config/settings.js';
import { fakeFactory } from '../support/fake-engine.js';
import { connect, type TestClient } from './client.js';

const TOKEN = 'test-token-0123456789abcdef';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let server: ApiServer | undefined;
let host: EngineHost | undefined;
let engines: ReturnType<typeof fakeFactory>;
const clients: TestClient[] = [];
const logs: string[] = [];

async function start(extra: Partial<Parameters<typeof startApiServer>[0]> = {}, settings = cloneSettings(DEFAULT_SETTINGS)): Promise<TestClient> {
  engines = fakeFactory();
  host = new EngineHost({ factory: engines.factory, settings, baseDir: '/pkg' });
  await host.start();
  server = await startApiServer({ engine: host, token: TOKEN, port: 0, settings: () => settings, log: (level, m) => logs.push(`${level}: ${m}`), ...extra });
  const c = await connect(server.url.replace('0.0.0.0', '127.0.0.1'), AUTH);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  await host?.dispose();
  logs.length = 0;
});

describe('protocol edges over the API', () => {
  it('answers 100k-deep nesting with -32600 and the request id, without echoing it', async () => {
    const c = await start();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    c.sendRaw(`{"jsonrpc":"2.0","id":41,"method":"complete","params":{"uri":"mem://a","position":${deep}}}`);
    const reply = await c.next((m) => m.id === 41);
    expect(reply.error).toMatchObject({ code: -32600, message: expect.stringMatching(/nested deeper than 64/) });
    expect(JSON.stringify(reply).length).toBeLessThan(300);
    c.sendRaw(`{"jsonrpc":"2.0","id":42,"method":"document/change","params":{"uri":"mem://a","changes":[{"range":${deep},"text":""}]}}`);
    expect((await c.next((m) => m.id === 42)).error.code).toBe(-32600);
    // The connection still works.
    expect((await c.call('status')).result).toMatchObject({ state: 'ready' });
  });

  it('answers params null with -32602, and bad positions with -32602 without the raw value in error.data', async () => {
    const c = await start();
    for (const method of ['complete', 'document/open', 'document/change', 'document/close', 'cancel']) {
      c.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: method, method, params: null }));
      expect((await c.next((m) => m.id === method)).error).toMatchObject({ code: -32602, message: expect.stringMatching(/not null/) });
    }
    await c.call('document/open', { uri: 'mem://a', languageId: 'typescript', text: 'let a = 1;\n' });
    const shallowButHuge = { line: 0, character: 'x'.repeat(100_000) };
    const r1 = await c.call('complete', { uri: 'mem://a', position: shallowButHuge });
    expect(r1.error.code).toBe(-32602);
    expect(JSON.stringify(r1).length).toBeLessThan(400);
    const r2 = await c.call('complete', { uri: 'mem://a', position: { line: 7, character: 0 } });
    expect(r2.error).toMatchObject({ code: -32602, message: expect.stringMatching(/out of range/) });
    expect(r2.error.data).toEqual({ lineCount: 2 });
    const r3 = await c.call('document/change', { uri: 'mem://a', changes: [{ range: { start: { line: [[[0]]], character: 0 }, end: { line: 0, character: 0 } }, text: '' }] });
    expect(r3.error.code).toBe(-32602);
    expect(JSON.stringify(r3).length).toBeLessThan(400);
  });

  it('treats Object.prototype language ids as unknown languages that enable:false turns off', async () => {
    const settings = applySettings(DEFAULT_SETTINGS, { enable: false }).settings;
    const c = await start({}, settings);
    for (const languageId of ['constructor', '__proto__', 'toString']) {
      const r = await c.call('complete', { prefix: 'x', languageId });
      expect(r.result).toEqual({ candidates: [], degraded: `completion is disabled for ${languageId}` });
    }
  });
});

describe('per-connection limits (-32001)', () => {
  it('limits the documents (and prefix-mode keys) one connection holds', async () => {
    const c = await start({ maxDocuments: 3 });
    for (const n of [1, 2]) expect((await c.call('document/open', { uri: `mem://${n}`, languageId: 'python', text: 'x' })).result).toBeTruthy();
    expect((await c.call('complete', { prefix: 'x', documentKey: 'k1' })).result).toBeTruthy();
    const refused = await c.call('document/open', { uri: 'mem://3', languageId: 'python', text: 'x' });
    expect(refused.error).toMatchObject({ code: -32001, message: expect.stringMatching(/too many documents on this connection \(limit 3\)/) });
    expect((await c.call('complete', { prefix: 'x', documentKey: 'k2' })).error.code).toBe(-32001);
    // Re-opening an open document and closing one are fine; then there is room again.
    expect((await c.call('document/open', { uri: 'mem://1', languageId: 'python', text: 'y' })).result).toBeTruthy();
    await c.call('document/close', { uri: 'mem://2' });
    expect((await c.call('document/open', { uri: 'mem://3', languageId: 'python', text: 'x' })).result).toBeTruthy();
    // Another connection has its own count.
    const other = await connect(server!.url, AUTH);
    clients.push(other);
    expect((await other.call('document/open', { uri: 'mem://9', languageId: 'python', text: 'x' })).result).toBeTruthy();
  });

  it('limits the bytes of one connection\'s documents; a refused change leaves the document as it was', async () => {
    const c = await start({ maxDocumentBytes: 1000 });
    expect((await c.call('document/open', { uri: 'mem://a', languageId: 'python', text: 'a'.repeat(300) })).result).toBeTruthy();
    const big = await c.call('document/open', { uri: 'mem://b', languageId: 'python', text: 'b'.repeat(300) });
    expect(big.error).toMatchObject({ code: -32001, message: expect.stringMatching(/would take 1200 bytes \(limit 1000\)/) });
    const grow = await c.call('document/change', { uri: 'mem://a', version: 5, changes: [{ text: 'c'.repeat(600) }] });
    expect(grow.error.code).toBe(-32001);
    const done = await c.call('complete', { uri: 'mem://a', position: { line: 0, character: 300 } });
    expect(engines.last.contexts.at(-1)!.prefix).toBe('a'.repeat(300));
    expect(done.result.candidates.length).toBeGreaterThan(0);
    // Replacing a document by a smaller one frees its bytes.
    expect((await c.call('document/change', { uri: 'mem://a', version: 6, changes: [{ text: 'd' }] })).result).toEqual({ uri: 'mem://a', version: 6 });
    expect((await c.call('document/open', { uri: 'mem://b', languageId: 'python', text: 'b'.repeat(490) })).result).toBeTruthy();
  });

  it('releases every document and prefix-mode key of a connection that disconnects without document/close', async () => {
    const c = await start();
    for (const uri of ['mem://x', 'mem://y']) await c.call('document/open', { uri, languageId: 'python', text: 'x = 1\n' });
    await c.call('complete', { prefix: 'def f(', documentKey: 'scratch' });
    await c.call('document/close', { uri: 'mem://y' });
    expect(engines.last.closed).toEqual(['mem://y']);
    c.close();
    await expect.poll(() => server!.connections).toBe(0);
    expect([...engines.last.closed].sort()).toEqual(['mem://x', 'mem://y', 'scratch']);
  });
});

describe('--host', () => {
  it('warns that a non-loopback host exposes the API, and stays quiet on loopback', async () => {
    await start({ host: '127.0.0.1' });
    expect(logs.filter((l) => /reachable from the network/.test(l))).toEqual([]);
    for (const c of clients.splice(0)) c.close();
    await server!.close();
    await host!.dispose();
    await start({ host: '0.0.0.0' });
    expect(logs.filter((l) => l.startsWith('warn:') && /--host 0\.0\.0\.0: the API is reachable from the network/.test(l))).toHaveLength(1);
  });
});
