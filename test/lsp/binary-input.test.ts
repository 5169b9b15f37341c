// Binary text over LSP: a document that is an executable's bytes gets no completion and one log line per document
// and reason; the server keeps serving other documents.

import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { CompletionList } from 'vscode-languageserver/node';
import { fakeFactory } from '../support/fake-engine.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('binary documents over LSP', () => {
  it('answers no completion and logs the reason once', async () => {
    const engines = fakeFactory();
    harness = await startHarness({ factory: engines.factory, baseDir: '/pkg', sleep: async () => {} });
    const h = harness;
    await h.waitFor('infill-ls/status', (s) => s.state === 'ready');
    const fd = fs.openSync(process.execPath, 'r');
    const head = Buffer.alloc(4096);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    h.open('file:///tmp/bin.dat', head.toString('utf8'), 'plaintext');
    const ask = (uri: string) => h.request<CompletionList | null>('textDocument/completion', { textDocument: { uri }, position: { line: 0, character: 1 }, context: { triggerKind: 1 } });
    expect((await ask('file:///tmp/bin.dat'))?.items ?? []).toEqual([]);
    expect((await ask('file:///tmp/bin.dat'))?.items ?? []).toEqual([]);
    const logged = h.notifications.filter((n) => n.method === 'window/logMessage' && /bin\.dat: no completions: it contains a NUL character/.test((n.params as { message: string }).message));
    expect(logged).toHaveLength(1);
    expect(engines.last.contexts.some((c) => c.documentKey === 'file:///tmp/bin.dat')).toBe(false);
    h.open('file:///a.ts', 'const a = 1;\n', 'typescript');
    const ok = await ask('file:///a.ts');
    expect(ok?.items.length).toBeGreaterThan(0);
  });
});
