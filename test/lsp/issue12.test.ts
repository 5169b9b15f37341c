// Issue 12 over LSP (in-memory client ↔ server, in-test engine that returns the candidate under test): CRLF documents,
// text after the cursor, positions inside a surrogate pair, first-line indentation, pushed settings.

import { afterEach, describe, expect, it } from 'vitest';
import type { CompletionList, InlineCompletionList, TextEdit } from 'vscode-languageserver/node';
import { fakeFactory } from '../support/fake-engine.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function start(respond: (prefix: string) => string[], init: Parameters<typeof startHarness>[1] = {}) {
  const engines = fakeFactory();
  harness = await startHarness({ factory: engines.factory, baseDir: '/pkg', sleep: async () => {} }, init);
  await harness.waitFor('infill-ls/status', (s) => s.state === 'ready');
  engines.last.respond = (context) => respond(context.prefix);
  return { h: harness, engines };
}

function inline(h: Harness, uri: string, line: number, character: number, triggerKind = 1) {
  return h.request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri }, position: { line, character }, context: { triggerKind } });
}

function classic(h: Harness, uri: string, line: number, character: number) {
  return h.request<CompletionList>('textDocument/completion', { textDocument: { uri }, position: { line, character }, context: { triggerKind: 1 } });
}

/** The document after applying one single-line-range edit (what accepting an item does). */
function applyEdit(text: string, edit: TextEdit): string {
  const lines = text.split('\n');
  const { start, end } = edit.range;
  expect(start.line).toBe(end.line);
  const line = lines[start.line]!;
  lines[start.line] = line.slice(0, start.character) + edit.newText + line.slice(end.character);
  return lines.join('\n');
}

const STACK = 'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        \n\n    def size(self):\n        return len(self.items)\n';

describe('CRLF documents (item 1)', () => {
  it('the engine sees the LF text of a CRLF document; multi-line items get CRLF back', async () => {
    const { h, engines } = await start(() => ['self.items.append(item)\n        return self']);
    h.open('file:///lf.py', STACK, 'python');
    h.open('file:///crlf.py', STACK.replace(/\n/g, '\r\n'), 'python');
    const lf = await inline(h, 'file:///lf.py', 5, 8, 2);
    const crlf = await inline(h, 'file:///crlf.py', 5, 8, 2);
    const [a, b] = engines.last.contexts.slice(-2);
    expect(b!.prefix).toBe(a!.prefix);
    expect(b!.suffix).toBe(a!.suffix);
    expect(lf.items[0]!.insertText).toBe('self.items.append(item)\n        return self');
    expect(crlf.items[0]!.insertText).toBe('self.items.append(item)\r\n        return self');
  });

  it('an item cut to one line from a CRLF candidate does not end with a bare \\r', async () => {
    const { h } = await start(() => ['a, b\r\nconsole.log(total);']);
    h.open('file:///a.ts', 'const a = 1, b = 2;\r\nconst total = sum();\r\n');
    const list = await inline(h, 'file:///a.ts', 1, 18, 2);
    expect(list.items.map((i) => i.insertText)).toEqual(['a, b']);
  });
});

describe('text after the cursor (item 2)', () => {
  const DOC = 'import numpy\n\ndata = numpy.array()\n';
  it('classic completion (triggerKind 1) of a multi-line candidate leaves one `)` after accepting', async () => {
    const { h } = await start(() => ['np.arange(10)\nprint(data)']);
    h.open('file:///d.py', DOC, 'python');
    const list = await classic(h, 'file:///d.py', 2, 19);
    const edit = list.items[0]!.textEdit as TextEdit;
    expect(applyEdit(DOC, edit)).toBe('import numpy\n\ndata = numpy.array(np.arange(10))\n');
  });

  it('a typed-ahead inline answer that repeats the `)` after the cursor inserts it once', async () => {
    const { h } = await start(() => ['p.arange(10))']);
    const typed = 'import numpy\n\ndata = numpy.array(n)\n';
    h.open('file:///d.py', typed, 'python');
    const list = await inline(h, 'file:///d.py', 2, 20, 2);
    const item = list.items[0]!;
    const range = item.range!;
    expect(applyEdit(typed, { range, newText: String(item.insertText) })).toBe('import numpy\n\ndata = numpy.array(np.arange(10))\n');
  });
});

describe('positions inside a surrogate pair (item 3)', () => {
  it('snaps the item to the start of the emoji: no range splits it', async () => {
    const { h, engines } = await start(() => ['icon']);
    h.open('file:///e.ts', 'const icon = "📁";\nconst label = "📁 folder" + ;\n');
    const list = await inline(h, 'file:///e.ts', 1, 16);
    expect(list.items[0]!.range).toEqual({ start: { line: 1, character: 15 }, end: { line: 1, character: 15 } });
    expect(engines.last.contexts.at(-1)!.prefix.endsWith('const label = "')).toBe(true);
  });
});

describe('first-line indentation (item 4)', () => {
  it('spaces on the first line in a tab-indented file become the body indentation in tabs', async () => {
    const { h } = await start(() => ['  if (x === 0) {']);
    h.open('file:///t.ts', 'export function total(items: number[]): number {\n\tlet sum = 0;\n\tfor (const x of items) {\n\n\t}\n\treturn sum;\n}\n');
    const list = await inline(h, 'file:///t.ts', 3, 0);
    expect(list.items[0]!.insertText).toBe('\t\tif (x === 0) {');
  });

  it('a line the editor already indented does not get that indentation again', async () => {
    const { h } = await start(() => ['  return `hello ${name}`;']);
    h.open('file:///g.ts', 'function greet(name: string): string {\n  \n}\n');
    const list = await inline(h, 'file:///g.ts', 1, 2, 2);
    expect(list.items[0]!.insertText).toBe('return `hello ${name}`;');
  });
});

describe('pushed settings (item 5)', () => {
  it('a pushed enable map replaces the old one: plaintext is enabled again', async () => {
    const { h } = await start(() => ['x'], { initializationOptions: { 'infill-ls': { enable: { plaintext: false } } } });
    h.open('file:///n.txt', 'hello ', 'plaintext');
    expect((await inline(h, 'file:///n.txt', 0, 6)).items).toEqual([]);
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { enable: { '*': true } } } });
    await expect.poll(() => h.server.settings().enable).toEqual({ '*': true });
    expect((await inline(h, 'file:///n.txt', 0, 6)).items.map((i) => i.insertText)).toEqual(['x']);
  });
});
