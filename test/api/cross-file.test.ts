// WebSocket API: cross-file context comes from the documents opened on the same connection only (no disk reads).
import { afterEach, beforeEach, expect, it } from 'vitest';
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

beforeEach(async () => {
  engines = fakeFactory();
  const settings = { ...cloneSettings(DEFAULT_SETTINGS), crossFileContext: true };
  host = new EngineHost({ factory: engines.factory, settings, baseDir: '/pkg' });
  await host.start();
  server = await startApiServer({ engine: host, token: TOKEN, port: 0, settings: () => settings });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
  await host.dispose();
});

async function client(): Promise<TestClient> {
  const c = await connect(server.url, AUTH);
  clients.push(c);
  return c;
}

const LIB = 'export function scale(v: number, by: number): number {\n  return v * by;\n}\n';
const MAIN = "import { scale } from './lib';\n\nconst x = scale(";

it('a definition from another document of the same connection reaches the engine; another connection sees none', async () => {
  const a = await client();
  const b = await client();
  await a.call('document/open', { uri: 'file:///proj/src/lib.ts', languageId: 'typescript', text: LIB });
  await a.call('document/open', { uri: 'file:///proj/src/main.ts', languageId: 'typescript', text: MAIN });
  await a.call('complete', { uri: 'file:///proj/src/main.ts', position: { line: 2, character: 16 } });
  const ctx = engines.last.contexts.at(-1)!;
  expect(ctx.crossFile?.chunks).toEqual([{ path: 'lib.ts', kind: 'definition', text: LIB.trimEnd() }]);

  await b.call('document/open', { uri: 'file:///proj/src/main.ts', languageId: 'typescript', text: MAIN });
  await b.call('complete', { uri: 'file:///proj/src/main.ts', position: { line: 2, character: 16 } });
  expect(engines.last.contexts.at(-1)!.crossFile).toBeUndefined();
});
