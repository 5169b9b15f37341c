// LSP level: a symbol defined in another open document (or a file under the workspace folder) reaches the engine's
// CompletionContext as cross-file context; the setting turns it off; nothing outside the workspace is read.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { InlineCompletionList } from 'vscode-languageserver/node';
import { fakeFactory } from '../support/fake-engine.js';
import { startHarness, type Harness } from './harness.js';

const base = mkdtempSync(path.join(tmpdir(), 'infill-ls-lsp-xf-'));
const root = path.join(base, 'app');
mkdirSync(path.join(root, 'src'), { recursive: true });
writeFileSync(path.join(root, 'src', 'units.ts'), 'export function toMetres(feet: number): number {\n  return feet * 0.3048;\n}\n');
writeFileSync(path.join(base, 'outside.ts'), 'export function hidden(x: number) {\n  return x;\n}\n');
afterAll(() => rmSync(base, { recursive: true, force: true }));

const uri = (rel: string) => pathToFileURL(path.join(root, rel)).href;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function start(initializationOptions: unknown = { crossFileContext: true }) {
  const engines = fakeFactory();
  harness = await startHarness(
    { factory: engines.factory, baseDir: '/pkg', sleep: async () => {} },
    { workspaceFolders: [{ uri: pathToFileURL(root).href, name: 'app' }], initializationOptions },
  );
  await harness.waitFor('infill-ls/status', (s) => s.state === 'ready');
  return { h: harness, engines };
}

const MAIN = "import { area } from './geometry';\nimport { toMetres } from './units';\nimport { hidden } from '../../outside';\n\nconst a = area(2, ";

it('definitions from another open document and from a workspace file reach the engine context', async () => {
  const { h, engines } = await start();
  h.open(uri('src/geometry.ts'), 'export function area(width: number, height: number): number {\n  return width * height;\n}\n');
  h.open(uri('src/main.ts'), `${MAIN}toMetres(3)) + hidden(1);\n`);
  const r = await h.request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri: uri('src/main.ts') }, position: { line: 4, character: 18 }, context: { triggerKind: 1 } });
  expect(r.items.length).toBeGreaterThan(0);
  const ctx = engines.last.contexts.at(-1)!;
  expect(ctx.prefix.endsWith('area(2, ')).toBe(true);
  expect(ctx.crossFile).toBeDefined();
  expect(ctx.crossFile!.repoName).toBe('app');
  expect(ctx.crossFile!.path).toBe('src/main.ts');
  const defs = ctx.crossFile!.chunks.filter((c) => c.kind === 'definition');
  expect(defs.map((c) => c.path)).toEqual(['src/geometry.ts', 'src/units.ts']);
  expect(defs[0]!.text).toBe('export function area(width: number, height: number): number {\n  return width * height;\n}');
  expect(defs[1]!.text).toContain('toMetres(feet: number)');
  // ../../outside.ts lies outside the workspace folder: never read.
  expect(JSON.stringify(ctx.crossFile)).not.toContain('hidden(x');
  // Background warming builds the same prompt input (cross-file context included).
  // (didOpen warms at the end of the document, whose last line uses toMetres.)
  for (let i = 0; i < 100 && !engines.last.warmed.some((w) => w.documentKey === uri('src/main.ts')); i++) await new Promise((r) => setTimeout(r, 10));
  const warmed = engines.last.warmed.find((w) => w.documentKey === uri('src/main.ts'));
  expect(warmed?.crossFile?.chunks.map((c) => c.path)).toContain('src/units.ts');
});

it('crossFileContext: false (the default) leaves the context without cross-file chunks', async () => {
  const { h, engines } = await start({});
  h.open(uri('src/geometry.ts'), 'export function area(width: number, height: number): number {\n  return width * height;\n}\n');
  h.open(uri('src/main.ts'), `${MAIN}1);\n`);
  await h.request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri: uri('src/main.ts') }, position: { line: 4, character: 18 }, context: { triggerKind: 1 } });
  expect(engines.last.contexts.at(-1)!.crossFile).toBeUndefined();
});

it('a workspace folder added later becomes a root; a removed one stops being read', async () => {
  const engines = fakeFactory();
  harness = await startHarness(
    { factory: engines.factory, baseDir: '/pkg', sleep: async () => {} },
    { initializationOptions: { crossFileContext: true }, capabilities: { textDocument: { inlineCompletion: {} }, workspace: { workspaceFolders: true } } },
  );
  await harness.waitFor('infill-ls/status', (s) => s.state === 'ready');
  expect(harness.initializeResult.capabilities.workspace?.workspaceFolders).toEqual({ supported: true, changeNotifications: true });
  const text = "import { toMetres } from './units';\n\nconst m = toMetres(";
  harness.open(uri('src/main.ts'), text);
  const ask = async () => {
    await harness!.request('textDocument/inlineCompletion', { textDocument: { uri: uri('src/main.ts') }, position: { line: 2, character: 19 }, context: { triggerKind: 1 } });
    return engines.last.contexts.at(-1)!.crossFile;
  };
  expect(await ask()).toBeUndefined(); // no roots yet: units.ts is not read
  harness.client.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [{ uri: pathToFileURL(root).href, name: 'app' }], removed: [] } });
  await new Promise((r) => setTimeout(r, 20));
  expect((await ask())?.chunks.map((c) => c.path)).toEqual(['src/units.ts']);
  harness.client.sendNotification('workspace/didChangeWorkspaceFolders', { event: { added: [], removed: [{ uri: pathToFileURL(root).href, name: 'app' }] } });
  await new Promise((r) => setTimeout(r, 20));
  expect(await ask()).toBeUndefined();
});
