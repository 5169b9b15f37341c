// Binary text over the WebSocket API: document/open, document/change and prefix-mode complete answer -32602 with the
// reason, the engine never sees the bytes, and the connection keeps working.

import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../server/src/api/server.js';
import { EngineHost } from '../../server/src/config/engine-host.js';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { fakeFactory } from '../support/fake-engine.js';
import { connect, type TestClient } from './client.js';

const TOKEN = 'test-token-0123456789abcdef';
let server: ApiServer | undefined;
let host: EngineHost | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  await host?.dispose();
});

/** 4 KiB of this Node executable, as a client that reads the file as UTF-8 would send it. */
function executableText(): string {
  const fd = fs.openSync(process.execPath, 'r');
  const head = Buffer.alloc(4096);
  fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  return head.toString('utf8');
}

describe('binary input over the API', () => {
  it('refuses binary text in document/open, document/change and complete with -32602 and keeps serving', async () => {
    const engines = fakeFactory();
    const settings = cloneSettings(DEFAULT_SETTINGS);
    host = new EngineHost({ factory: engines.factory, settings, baseDir: '/pkg' });
    await host.start();
    server = await startApiServer({ engine: host, token: TOKEN, port: 0, settings: () => settings });
    const c = await connect(server.url.replace('0.0.0.0', '127.0.0.1'), { Authorization: `Bearer ${TOKEN}` });
    clients.push(c);
    const bin = executableText();

    const open = await c.call('document/open', { uri: 'file:///tmp/bin.dat', languageId: 'plaintext', text: bin });
    expect(open.error).toMatchObject({ code: -32602, message: expect.stringMatching(/document\/open: refusing "text": it contains a NUL character/) });
    // Not opened: a completion at it is an unknown document.
    expect((await c.call('complete', { uri: 'file:///tmp/bin.dat', position: { line: 0, character: 1 } })).error.code).toBe(-32602);

    expect((await c.call('document/open', { uri: 'file:///a.py', languageId: 'python', text: 'x = 1\n' })).result).toEqual({ uri: 'file:///a.py', version: 0 });
    const change = await c.call('document/change', { uri: 'file:///a.py', version: 1, changes: [{ text: bin }] });
    expect(change.error).toMatchObject({ code: -32602, message: expect.stringMatching(/refusing the changed text: .*binary data/) });
    const prefix = await c.call('complete', { prefix: bin, suffix: '' });
    expect(prefix.error).toMatchObject({ code: -32602, message: expect.stringMatching(/complete: refusing "prefix"/) });
    expect(engines.last.contexts.every((ctx) => !ctx.prefix.includes('\u0000'))).toBe(true);

    // The text document is as it was, and completions still work.
    const ok = await c.call('complete', { uri: 'file:///a.py', position: { line: 1, character: 0 } });
    expect(ok.error).toBeUndefined();
    expect(engines.last.contexts.at(-1)!.prefix).toBe('x = 1\n');
  });
});
