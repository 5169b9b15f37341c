// Issue 12 over the WebSocket API (real server on a free port, in-test engine returning the candidate under test):
// CRLF documents, text after the cursor, positions inside a surrogate pair, first-line indentation.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../server/src/api/server.js';
import { EngineHost } from '../../server/src/config/engine-host.js';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { fakeFactory } from '../support/fake-engine.js';
import { connect, type TestClient } from './client.js';

const TOKEN = 'test-token-issue12-0123456789';
let server: ApiServer;
let host: EngineHost;
let engines: ReturnType<typeof fakeFactory>;
let c: TestClient;

beforeEach(async () => {
  engines = fakeFactory();
  host = new EngineHost({ factory: engines.factory, settings: cloneSettings(DEFAULT_SETTINGS), baseDir: '/pkg' });
  await host.start();
  server = await startApiServer({ engine: host, token: TOKEN, port: 0 });
  c = await connect(server.url, { Authorization: `Bearer ${TOKEN}` });
});

afterEach(async () => {
  c.close();
  await server.close();
  await host.dispose();
});

const respond = (...texts: string[]) => {
  engines.last.respond = () => texts;
};

describe('issue 12 over the API', () => {
  it('answers -32602 with the reason for a position inside a surrogate pair', async () => {
    respond('x');
    await c.call('document/open', { uri: 'mem://e.ts', languageId: 'typescript', text: 'const icon = "📁";\nconst label = "📁 folder" + ;\n' });
    const inside = await c.call('complete', { uri: 'mem://e.ts', position: { line: 1, character: 16 } });
    expect(inside.error).toMatchObject({ code: -32602, message: expect.stringMatching(/inside a surrogate pair.*use 15 or 17/) });
    expect(engines.last.contexts).toHaveLength(0);
    expect((await c.call('complete', { uri: 'mem://e.ts', position: { line: 1, character: 15 } })).result.candidates).toEqual([{ text: 'x', score: 0 }]);
  });

  it('a CRLF document: the engine gets LF text, the candidates CRLF line ends', async () => {
    respond('self.items.append(item)\n        return self');
    const text = 'class Stack:\r\n    def push(self, item):\r\n        \r\n\r\n    def size(self):\r\n        return 0\r\n';
    await c.call('document/open', { uri: 'mem://s.py', languageId: 'python', text });
    const done = await c.call('complete', { uri: 'mem://s.py', position: { line: 2, character: 8 } });
    expect(engines.last.contexts.at(-1)!.prefix).toBe('class Stack:\n    def push(self, item):\n        ');
    expect(done.result.candidates.map((x: { text: string }) => x.text)).toEqual(['self.items.append(item)\r\n        return self']);
    // A bare prefix/suffix in CRLF is treated the same way.
    const bare = await c.call('complete', { prefix: 'class Stack:\r\n    def push(self, item):\r\n        ', suffix: '\r\n', languageId: 'python' });
    expect(engines.last.contexts.at(-1)!.prefix).toBe('class Stack:\n    def push(self, item):\n        ');
    expect(bare.result.candidates[0].text).toBe('self.items.append(item)\r\n        return self');
  });

  it('the text after the cursor is not left twice; the first line fits the editor-indented line', async () => {
    respond('np.arange(10))', 'np.arange(10)\nprint(data)');
    await c.call('document/open', { uri: 'mem://d.py', languageId: 'python', text: 'import numpy\n\ndata = numpy.array()\n' });
    const done = await c.call('complete', { uri: 'mem://d.py', position: { line: 2, character: 19 }, maxCandidates: 2 });
    // Both candidates fit to the same text: one is left.
    expect(done.result.candidates.map((x: { text: string }) => x.text)).toEqual(['np.arange(10)']);
    respond('  return `hello ${name}`;');
    const greet = await c.call('complete', { prefix: 'function greet(name: string): string {\n  ', suffix: '\n}\n', languageId: 'typescript' });
    expect(greet.result.candidates[0].text).toBe('return `hello ${name}`;');
  });
});
