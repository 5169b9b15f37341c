// Issue 13 item 7 over LSP: raw frames through the guarded reader into a real server (fake engine), and the built
// binary exiting on a broken header.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ProposedFeatures, StreamMessageReader, StreamMessageWriter, createConnection } from 'vscode-languageserver/node';
import { guardReader } from '../../server/src/lsp/framing.js';
import { attachLspServer, type LspServer } from '../../server/src/lsp/server.js';
import { fakeFactory } from '../support/fake-engine.js';

const root = path.resolve(import.meta.dirname, '../..');

interface Raw {
  up: PassThrough;
  messages: any[];
  fatal: Error[];
  server: LspServer;
  frame(body: string, header?: string): void;
  send(message: unknown): void;
  next(predicate: (m: any) => boolean, timeoutMs?: number): Promise<any>;
}

const open: Raw[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) {
    await r.server.dispose();
    r.up.end();
  }
});

/** Parses Content-Length frames from `stream` into `out`. */
function collect(stream: PassThrough, out: any[], wake: () => void): void {
  let buf = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString('ascii'))?.[1]);
      if (buf.length < end + 4 + length) return;
      out.push(JSON.parse(buf.subarray(end + 4, end + 4 + length).toString('utf8')));
      buf = buf.subarray(end + 4 + length);
      wake();
    }
  });
}

function start(): Raw {
  const up = new PassThrough();
  const down = new PassThrough();
  const messages: any[] = [];
  const fatal: Error[] = [];
  let waiters: Array<() => void> = [];
  collect(down, messages, () => {
    for (const w of waiters) w();
  });
  const writer = new StreamMessageWriter(down);
  const connection = createConnection(ProposedFeatures.all, guardReader(new StreamMessageReader(up), writer, (e) => fatal.push(e)), writer);
  const engines = fakeFactory();
  const server = attachLspServer(connection, { factory: engines.factory, baseDir: '/pkg', sleep: async () => {} });
  connection.listen();
  const raw: Raw = {
    up,
    messages,
    fatal,
    server,
    frame(body, header) {
      up.write(`${header ?? `Content-Length: ${Buffer.byteLength(body)}`}\r\n\r\n${body}`);
    },
    send(message) {
      raw.frame(JSON.stringify(message));
    },
    next(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = messages.find(predicate);
          if (m === undefined) return false;
          waiters = waiters.filter((w) => w !== waiter);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const waiter = (): void => void check();
        const timer = setTimeout(() => reject(new Error(`no matching message; got ${JSON.stringify(messages).slice(0, 2000)}`)), timeoutMs);
        if (!check()) waiters.push(waiter);
      });
    },
  };
  open.push(raw);
  return raw;
}

const INIT = { jsonrpc: '2.0', id: 'init', method: 'initialize', params: { processId: null, rootUri: null, capabilities: { textDocument: { inlineCompletion: {} } } } };

async function initialized(): Promise<Raw> {
  const r = start();
  r.send(INIT);
  await r.next((m) => m.id === 'init');
  r.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
  return r;
}

const inline = (id: number | string, uri: string, line = 0, character = 0) => ({
  jsonrpc: '2.0',
  id,
  method: 'textDocument/inlineCompletion',
  params: { textDocument: { uri }, position: { line, character }, context: { triggerKind: 1 } },
});

describe('LSP framing guard', () => {
  it('answers a request before initialize with -32002 and drops notifications before it', async () => {
    const r = start();
    r.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///a.ts', languageId: 'typescript', version: 1, text: 'x' } } });
    r.send(inline(1, 'file:///a.ts'));
    expect(await r.next((m) => m.id === 1)).toMatchObject({ error: { code: -32002, message: expect.stringMatching(/not initialized/) } });
    r.send(INIT);
    await r.next((m) => m.id === 'init');
    expect(r.server.documents.size).toBe(0); // the early didOpen was dropped
  });

  it('answers an invalid JSON body with -32700 (id null) and keeps serving', async () => {
    const r = await initialized();
    r.frame('{"jsonrpc": "2.0", "id": 5, "method": ');
    expect(await r.next((m) => m.error?.code === -32700)).toMatchObject({ id: null });
    r.send({ jsonrpc: '2.0', id: 6, method: 'textDocument/completion', params: { textDocument: { uri: 'file:///none.ts' }, position: { line: 0, character: 0 } } });
    expect(await r.next((m) => m.id === 6)).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/not open/) } });
    expect(r.fatal).toEqual([]);
  });

  it('answers a request without method with -32600 and its id, [] with one -32600, a batch with one error per request', async () => {
    const r = await initialized();
    r.send({ jsonrpc: '2.0', id: 7 });
    expect(await r.next((m) => m.id === 7)).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/method/) } });
    r.frame('[]');
    expect(await r.next((m) => !Array.isArray(m) && m.id === null && m.error?.code === -32600)).toMatchObject({ error: { message: expect.stringMatching(/empty batch/) } });
    const batch = Array.from({ length: 1000 }, (_, i) => inline(`b${i}`, 'file:///a.ts'));
    batch.push({ jsonrpc: '2.0', method: 'initialized', params: {} } as never); // a notification: no reply
    r.send(batch);
    const replies = await r.next((m) => Array.isArray(m));
    expect(replies).toHaveLength(1000);
    expect(replies.map((x: any) => x.id)).toEqual(batch.slice(0, 1000).map((b) => b.id));
    expect(replies.every((x: any) => x.error.code === -32600 && /batches are not supported/.test(x.error.message))).toBe(true);
  });

  it('answers 100k-deep nesting in position with -32600 and the id, params null with -32602, bad positions with -32602', async () => {
    const r = await initialized();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    r.frame(`{"jsonrpc":"2.0","id":8,"method":"textDocument/inlineCompletion","params":{"textDocument":{"uri":"file:///a.ts"},"position":${deep}}}`);
    expect(await r.next((m) => m.id === 8)).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/nested deeper than 64/) } });
    r.send({ jsonrpc: '2.0', id: 9, method: 'textDocument/inlineCompletion', params: null });
    const nullParams = await r.next((m) => m.id === 9);
    expect(nullParams.error.code).toBe(-32602);
    expect(nullParams.error.message).not.toMatch(/TypeError|Cannot read/);
    r.send({ jsonrpc: '2.0', id: 10, method: 'textDocument/completion', params: { textDocument: { uri: 'file:///a.ts' }, position: { line: [[1]], character: 0 } } });
    expect(await r.next((m) => m.id === 10)).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/position/) } });
  });

  it('reports a missing, non-numeric or short Content-Length as fatal (the transport exits)', async () => {
    const missing = await initialized();
    missing.frame('{}', 'Content-Type: application/json');
    await expect.poll(() => missing.fatal.length).toBe(1);
    const nan = await initialized();
    nan.frame('{}', 'Content-Length: abc');
    await expect.poll(() => nan.fatal.length).toBe(1);
    const short = await initialized();
    const body = JSON.stringify(inline(11, 'file:///a.ts'));
    short.frame(body, `Content-Length: ${body.length - 10}`);
    short.send(inline(12, 'file:///a.ts'));
    expect(await short.next((m) => m.error?.code === -32700)).toMatchObject({ id: null });
    await expect.poll(() => short.fatal.length).toBe(1);
    expect(short.fatal[0]!.message).toMatch(/header|Content-Length/i);
  });
});

describe('a rejected didChange', () => {
  it('marks the document out of sync until a full-text change arrives', async () => {
    const r = await initialized();
    const uri = 'file:///w/a.ts';
    r.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'typescript', version: 3, text: 'let a = 1;\n' } } });
    r.send(inline(20, uri, 0, 3));
    expect((await r.next((m) => m.id === 20)).result.items.length).toBeGreaterThan(0);
    const change = (version: number, contentChanges: unknown[]) => ({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri, version }, contentChanges } });
    const range = (sl: number, sc: number, el: number, ec: number) => ({ start: { line: sl, character: sc }, end: { line: el, character: ec } });
    for (const [i, bad] of [
      change(2, [{ range: range(0, 0, 0, 0), text: 'x' }]), // stale version
      change(150, [{ range: range(0, 5, 0, 1), text: 'x' }]), // start after end
      change(250, [{ range: range(9, 0, 9, 0), text: 'x' }]), // a line past the end
    ].entries()) {
      r.send(bad);
      r.send(inline(21 + i, uri, 0, 3));
      expect(await r.next((m) => m.id === 21 + i)).toMatchObject({ error: { code: -32803, message: expect.stringMatching(/out of sync/) } });
      // An incremental edit does not resync: it would apply to text the editor no longer has.
      r.send(change(100 * i + 60, [{ range: range(0, 0, 0, 0), text: 'y' }]));
      r.send(inline(31 + i, uri, 0, 3));
      expect(await r.next((m) => m.id === 31 + i)).toMatchObject({ error: { code: -32803 } });
      expect(r.server.documents.get(uri)!.text).toBe('let a = 1;\n');
      r.send(change(100 * i + 70, [{ range: range(0, 0, 0, 0), text: 'z' }, { text: 'let b = 2;\n' }, { range: range(0, 4, 0, 5), text: 'c' }]));
      r.send(inline(41 + i, uri, 0, 3));
      expect((await r.next((m) => m.id === 41 + i)).result.items.length).toBeGreaterThan(0);
      expect(r.server.documents.get(uri)!.text).toBe('let c = 2;\n');
      r.send(change(100 * i + 80, [{ text: 'let a = 1;\n' }]));
    }
  });
});

describe('the built server', () => {
  it('exits non-zero on a malformed header instead of staying alive and deaf', async () => {
    const child = spawn(process.execPath, [path.join(root, 'bin/infill-ls.js'), '--stdio'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stdin.write('Content-Length: not-a-number\r\n\r\n{}');
    const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
    expect(await code).toBe(1);
    clearTimeout(timeout);
    expect(stderr).toMatch(/unrecoverable LSP framing error/);
  });
});

describe('documents over the size limit', () => {
  it('are not kept, answer empty, say why once, and come back with a full-text change under the limit', async () => {
    const { MAX_DOCUMENT_CHARS } = await import('../../server/src/documents/index.js');
    const r = await initialized();
    const uri = 'file:///w/huge.min.js';
    r.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'javascript', version: 1, text: 'a'.repeat(MAX_DOCUMENT_CHARS + 1) } } });
    const warning = await r.next((m) => m.method === 'window/showMessage');
    expect(warning.params.message).toMatch(/too large for completions \(16777217 UTF-16 code units/);
    r.send(inline(50, uri, 0, 5));
    expect((await r.next((m) => m.id === 50)).result).toEqual({ items: [] });
    expect(r.server.documents.size).toBe(0);
    r.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri, version: 2 }, contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'x' }] } });
    r.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri, version: 3 }, contentChanges: [{ text: 'let small = 1;\n' }] } });
    r.send(inline(51, uri, 0, 5));
    expect((await r.next((m) => m.id === 51)).result.items.length).toBeGreaterThan(0);
    expect(r.server.documents.get(uri)!.text).toBe('let small = 1;\n');
    expect(r.messages.filter((m) => m.method === 'window/showMessage')).toHaveLength(1);
  });
});
