// LSP server tests over an in-memory connection: initialize, inline/classic completion, cancellation, sync, config, status.

import { afterEach, describe, expect, it } from 'vitest';
import { CancellationTokenSource, LSPErrorCodes, ErrorCodes, type CompletionList, type InlineCompletionList } from 'vscode-languageserver/node';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { FakeEngine, fakeFactory } from '../support/fake-engine.js';
import { randomEdit, randomText, seededRandom } from '../documents/random.js';
import { INLINE_CAPABILITIES, startHarness, type Harness } from './harness.js';

const URI = 'file:///work/a.ts';
let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

function setup(init: Parameters<typeof startHarness>[1] = {}, make?: Parameters<typeof fakeFactory>[0]) {
  const engines = fakeFactory(make);
  const delays: number[] = [];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  return {
    engines,
    delays,
    start: async () => {
      harness = await startHarness({ factory: engines.factory, baseDir: '/pkg', sleep, version: '9.9.9' }, init);
      await harness.waitFor('infill-ls/status', (s) => s.state === 'ready');
      return harness;
    },
  };
}

function inline(h: Harness, line: number, character: number, triggerKind = 1, cancel?: CancellationTokenSource) {
  return h.request<InlineCompletionList>(
    'textDocument/inlineCompletion',
    { textDocument: { uri: URI }, position: { line, character }, context: { triggerKind } },
    cancel,
  );
}

/** Waits until the fake engine has received `n` completion requests (a fixed sleep raced the server on a loaded CI machine). */
async function untilEngineCalled(engine: { contexts: unknown[] }, n = 1): Promise<void> {
  for (const deadline = Date.now() + 10_000; engine.contexts.length < n; ) {
    if (Date.now() > deadline) throw new Error(`the engine got ${engine.contexts.length} of ${n} requests in 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function errorOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; message: string };
  }
  throw new Error('expected the request to fail');
}

describe('initialize', () => {
  it('offers inline completion only when the client declares it, classic completion always', async () => {
    const { start } = setup();
    const h = await start();
    const caps = h.initializeResult.capabilities;
    expect(caps.inlineCompletionProvider).toBe(true);
    expect(caps.completionProvider).toEqual({ resolveProvider: false });
    expect(caps.textDocumentSync).toEqual({ openClose: true, change: 2 });
    expect(caps.positionEncoding).toBe('utf-16');
    expect(h.initializeResult.serverInfo).toEqual({ name: 'infill-ls', version: '9.9.9' });
    await h.close();
    harness = undefined;

    const bare = setup({ capabilities: {} });
    const h2 = await bare.start();
    expect(h2.initializeResult.capabilities.inlineCompletionProvider).toBeUndefined();
    expect(h2.initializeResult.capabilities.completionProvider).toBeDefined();
  });

  it('reports loading with workDoneProgress and infill-ls/status, then ready', async () => {
    const { start, engines } = setup({}, (o) => new FakeEngine(o, { state: 'loading', message: 'reading weights' }));
    harness = await startHarness({ factory: engines.factory, baseDir: '/pkg', sleep: async () => {} });
    const h = harness;
    await h.waitFor('infill-ls/status', (s) => s.state === 'loading');
    const create = await h.waitFor('window/workDoneProgress/create');
    await h.waitFor('$/progress', (p) => p.token === create.token && p.value.kind === 'begin');
    // A later loading step updates the same progress item's message.
    engines.last.setStatus({ state: 'loading', message: 'building the session' });
    await h.waitFor('$/progress', (p) => p.token === create.token && p.value.kind === 'report' && p.value.message === 'building the session');
    engines.last.setStatus({ state: 'ready', device: 'cpu', model: 'fake', lastLatencyMs: 12 });
    const ready = await h.waitFor('infill-ls/status', (s) => s.state === 'ready');
    expect(ready).toMatchObject({ state: 'ready', device: 'cpu', model: 'fake', lastLatencyMs: 12 });
    await h.waitFor('$/progress', (p) => p.token === create.token && p.value.kind === 'end');
    void start;
  });

  it('asks the engine factory for the configured model with absolute paths', async () => {
    const { start, engines } = setup({ initializationOptions: { 'infill-ls': { modelDir: './models/x', device: 'cpu', maxNewTokens: 32 } } });
    await start();
    expect(engines.last.options).toEqual({ modelDir: '/pkg/models/x', device: 'cpu', maxNewTokens: 32, cacheBudgetMb: 512, decodeMode: 'fim', selfInfillLoops: 1, selfInfillTau: 0.25 });
  });
});

describe('inline completion', () => {
  it('answers with an item at the cursor and sends the engine the document split at the UTF-16 offset', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'const 😀 = f(\r\n  x\r\n');
    engines.last.respond = () => ['1);'];
    const list = await inline(h, 0, 13);
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({ insertText: '1);', range: { start: { line: 0, character: 13 }, end: { line: 0, character: 13 } } });
    const context = engines.last.contexts.at(-1)!;
    expect(context).toMatchObject({ documentKey: URI, languageId: 'typescript', prefix: 'const 😀 = f(', suffix: '\n  x\n', trigger: 'manual', maxCandidates: 3 });
  });

  it('debounces automatic triggers and never manual ones', async () => {
    const { start, delays } = setup({ initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 77 } } } });
    const h = await start();
    h.open(URI, 'abc\n');
    await inline(h, 0, 3, 2);
    await inline(h, 0, 3, 1);
    expect(delays).toEqual([77, 0]);
  });

  it('returns no items, not an error, when the engine is degraded', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'x');
    engines.last.next({ kind: 'degraded', reason: 'model loading' });
    expect((await inline(h, 0, 1)).items).toEqual([]);
  });

  it('answers InvalidParams for an unknown document or a line past the end, and keeps serving', async () => {
    const { start } = setup();
    const h = await start();
    const unknown = await errorOf(h.request('textDocument/inlineCompletion', { textDocument: { uri: 'file:///nope' }, position: { line: 0, character: 0 }, context: { triggerKind: 1 } }));
    expect(unknown.code).toBe(ErrorCodes.InvalidParams);
    expect(unknown.message).toMatch(/is not open/);
    h.open(URI, 'one\ntwo');
    const past = await errorOf(inline(h, 5, 0));
    expect(past.code).toBe(ErrorCodes.InvalidParams);
    expect(past.message).toMatch(/document has 2 lines/);
    // A character past the end of a line means the end of the line (LSP spec).
    expect((await inline(h, 0, 99)).items).toHaveLength(1);
  });

  it('answers InternalError when the engine throws, and the next request works', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'x');
    engines.last.next({ kind: 'throw', message: 'boom' });
    const err = await errorOf(inline(h, 0, 1));
    expect(err.code).toBe(ErrorCodes.InternalError);
    expect(err.message).toMatch(/boom/);
    expect((await inline(h, 0, 1)).items).toHaveLength(1);
  });
});

describe('classic completion', () => {
  it('returns items whose textEdit replaces the typed word with word + candidate', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'const result = comp\n');
    engines.last.respond = () => ['uteTotal(items);\nreturn result;', 'are()'];
    const list = await h.request<CompletionList>('textDocument/completion', { textDocument: { uri: URI }, position: { line: 0, character: 19 }, context: { triggerKind: 1 } });
    expect(list.isIncomplete).toBe(true);
    expect(list.items.map((i) => i.label)).toEqual(['computeTotal(items); …', 'compare()']);
    expect(list.items[0].textEdit).toEqual({ range: { start: { line: 0, character: 15 }, end: { line: 0, character: 19 } }, newText: 'computeTotal(items);\nreturn result;' });
    expect(list.items[0].filterText).toBe('computeTotal(items);\nreturn result;');
    expect(engines.last.contexts.at(-1)).toMatchObject({ trigger: 'manual', maxCandidates: 3 });
  });
});

describe('cancellation', () => {
  it('answers RequestCancelled (-32800) to $/cancelRequest, aborts the engine, and stays healthy', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'abc');
    engines.last.next({ kind: 'hang' });
    const source = new CancellationTokenSource();
    const pending = inline(h, 0, 3, 1, source);
    await untilEngineCalled(engines.last);
    source.cancel();
    const err = await errorOf(pending);
    expect(err.code).toBe(LSPErrorCodes.RequestCancelled);
    expect(engines.last.aborted).toBe(1);
    expect((await inline(h, 0, 3)).items).toHaveLength(1);
  });

  it('aborts the previous request for the same document (abort-previous)', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'abc');
    engines.last.next({ kind: 'hang' });
    const first = inline(h, 0, 3);
    await untilEngineCalled(engines.last);
    const second = inline(h, 0, 2);
    expect((await errorOf(first)).code).toBe(LSPErrorCodes.RequestCancelled);
    expect((await second).items).toHaveLength(1);
  });

  it('answers ContentModified (-32801) when the document changes under a request', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'abc', 'typescript', 1);
    engines.last.next({ kind: 'hang' });
    const pending = inline(h, 0, 3);
    await untilEngineCalled(engines.last);
    h.client.sendNotification('textDocument/didChange', { textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: 'abcd' }] });
    expect((await errorOf(pending)).code).toBe(LSPErrorCodes.ContentModified);
  });

  it('cancels during the debounce wait without calling the engine', async () => {
    const engines = fakeFactory();
    harness = await startHarness({ factory: engines.factory, baseDir: '/pkg' }, { initializationOptions: { debounce: 5000 } });
    const h = harness;
    await h.waitFor('infill-ls/status', (s) => s.state === 'ready');
    h.open(URI, 'abc');
    const source = new CancellationTokenSource();
    const pending = inline(h, 0, 3, 2, source);
    await new Promise((r) => setTimeout(r, 20));
    source.cancel();
    expect((await errorOf(pending)).code).toBe(LSPErrorCodes.RequestCancelled);
    expect(engines.last.contexts).toHaveLength(0);
  });
});

describe('incremental sync', () => {
  it('property: random incremental didChange sequences give the server the client text (seeded)', async () => {
    const { start, engines } = setup();
    const h = await start();
    for (let seed = 1; seed <= 20; seed++) {
      const rand = seededRandom(seed * 97);
      const uri = `file:///work/p${seed}.ts`;
      let text = randomText(rand, 15);
      let version = 1;
      h.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version, text } });
      for (let step = 0; step < 30; step++) {
        const edits = [];
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
          const edit = randomEdit(rand, text);
          text = text.slice(0, edit.startOffset) + edit.text + text.slice(edit.endOffset);
          edits.push({ range: edit.range, rangeLength: edit.endOffset - edit.startOffset, text: edit.text });
        }
        h.client.sendNotification('textDocument/didChange', { textDocument: { uri, version: ++version }, contentChanges: edits });
      }
      await h.request('textDocument/inlineCompletion', { textDocument: { uri }, position: { line: 0, character: 0 }, context: { triggerKind: 1 } });
      const context = engines.last.contexts.at(-1)!;
      // The server's copy is the client's text; the engine gets it with LF line ends (issue 12).
      expect(h.server.documents.get(uri)!.text, `seed ${seed}`).toBe(text);
      expect(context.prefix + context.suffix, `seed ${seed}`).toBe(text.replace(/\r\n?/g, '\n'));
      expect(context.version).toBe(version);
    }
  });
});

describe('configuration', () => {
  it('reports invalid initializationOptions as a warning and keeps defaults', async () => {
    const { start } = setup({ initializationOptions: { 'infill-ls': { maxNewTokens: 'lots', colour: 'red' } } });
    const h = await start();
    const warning = await h.waitFor('window/showMessage', (p) => p.type === 2);
    expect(warning.message).toMatch(/infill-ls.maxNewTokens must be an integer in 1..1024, got "lots"/);
    expect(warning.message).toMatch(/infill-ls.colour is not a known setting/);
    expect(h.server.settings().maxNewTokens).toBe(DEFAULT_SETTINGS.maxNewTokens);
  });

  it('applies pushed settings: disabling a language, and recreating the engine for a new model dir', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'abc');
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { enable: { typescript: false } } } });
    await expect.poll(() => h.server.settings().enable.typescript).toBe(false);
    expect((await inline(h, 0, 3)).items).toEqual([]);
    expect(engines.last.contexts).toHaveLength(0);

    const first = engines.last;
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { modelDir: '/models/other', enable: { typescript: true } } } });
    await expect.poll(() => engines.engines.length).toBe(2);
    expect(engines.last.options?.modelDir).toBe('/models/other');
    await expect.poll(() => first.disposed).toBe(true);
    expect((await inline(h, 0, 3)).items).toHaveLength(1);
  });

  it('pulls workspace/configuration when the notification carries no settings (pull model)', async () => {
    const { start } = setup({ configuration: { maxNewTokens: 16 } });
    const h = await start();
    expect(h.server.settings().maxNewTokens).toBe(16); // pulled once after initialized
    h.configuration = { maxNewTokens: 8 };
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: null });
    await expect.poll(() => h.server.settings().maxNewTokens).toBe(8);
    expect(h.requests.some((r) => r.method === 'client/registerCapability')).toBe(true);
  });

  it("ignores other servers' sections instead of reporting them as unknown settings", async () => {
    const { start } = setup();
    const h = await start();
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { python: { analysis: { typeCheckingMode: 'strict' } } } });
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { maxNewTokens: 12 } });
    await expect.poll(() => h.server.settings().maxNewTokens).toBe(12);
    expect(h.notifications.filter((n) => n.method === 'window/showMessage')).toEqual([]);
  });

  it("passes issue 17's accelerator settings to the engine factory; a bad pushed value is reported and the old one kept", async () => {
    const { start, engines } = setup({ initializationOptions: { 'infill-ls': { maxStallMs: 100 } } });
    const h = await start();
    expect(engines.last.options).toMatchObject({ maxStallMs: 100 });
    expect(engines.last.options?.decodeKvWindow).toBeUndefined();
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { maxStallMs: 'fast', decodeKvWindow: 256 } } });
    const warning = await h.waitFor('window/showMessage', (p) => p.type === 2);
    expect(warning.message).toMatch(/infill-ls.maxStallMs must be an integer number of milliseconds in 0..60000 \(0: off\), got "fast"/);
    await expect.poll(() => engines.engines.length).toBe(2);
    expect(engines.last.options).toMatchObject({ maxStallMs: 100, decodeKvWindow: 256 });
    h.open(URI, 'abc');
    expect((await inline(h, 0, 3)).items).toHaveLength(1);
  });

  it('does not touch the engine for non-engine settings', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { debounce: 10 } } });
    await expect.poll(() => h.server.settings().debounce.fixedMs).toBe(10);
    expect(engines.engines).toHaveLength(1);
  });
});

describe('degraded engine', () => {
  it('reports a factory failure as degraded status and answers empty', async () => {
    const defaults = cloneSettings(DEFAULT_SETTINGS);
    harness = await startHarness(
      { factory: () => { throw new Error('models/default/config.json: missing file'); }, baseDir: '/pkg', defaults, sleep: async () => {} },
      { capabilities: INLINE_CAPABILITIES },
    );
    const status = await harness.waitFor('infill-ls/status', (s) => s.state === 'degraded');
    expect(status.message).toMatch(/missing file/);
    harness.open(URI, 'x');
    expect((await inline(harness, 0, 1)).items).toEqual([]);
  });
});

describe('completion events', () => {
  it('forwards show/accept/partial-accept notifications and the accept command to the engine hook', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'x');
    const list = await inline(h, 0, 1);
    const completionId = (list.items[0].command!.arguments![0] as { completionId: string }).completionId;
    h.client.sendNotification('infill-ls/didShowCompletion', { completionId, uri: URI });
    h.client.sendNotification('infill-ls/didPartiallyAcceptCompletion', { completionId, acceptedLength: 3 });
    h.client.sendNotification('infill-ls/didAcceptCompletion', { completionId });
    await h.request('workspace/executeCommand', { command: 'infill-ls.didAcceptCompletion', arguments: [{ completionId }] });
    await expect.poll(() => engines.last.events.length).toBe(4);
    expect(engines.last.events.map((e) => [e.kind, e.completionId, e.acceptedLength])).toEqual([
      ['shown', completionId, undefined],
      ['partiallyAccepted', completionId, 3],
      ['accepted', completionId, undefined],
      ['accepted', completionId, undefined],
    ]);
    h.client.sendNotification('textDocument/didClose', { textDocument: { uri: URI } });
    await expect.poll(() => engines.last.closed).toEqual([URI]);
  });

  it("puts the engine's completion id into items, so accept events name the engine's completion", async () => {
    const { start } = setup();
    const h = await start();
    h.open(URI, 'x');
    const list = await inline(h, 0, 1);
    // `${result id}.${candidate index}`
    expect((list.items[0].command!.arguments![0] as { completionId: string }).completionId).toBe('fake-1.0');
  });
});

describe('background warming', () => {
  it('warms a document when it opens (at the end, or where the last completion was) and after a pause in typing', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'const a = 1;\nconst b = 2;\n');
    await expect.poll(() => engines.last.warmed.length).toBe(1);
    expect(engines.last.warmed[0]).toMatchObject({ documentKey: URI, prefix: 'const a = 1;\nconst b = 2;\n', suffix: '', trigger: 'automatic' });
    await inline(h, 1, 5);
    h.client.sendNotification('textDocument/didClose', { textDocument: { uri: URI } });
    h.open(URI, 'const a = 1;\nconst b = 2;\n', 'typescript', 2);
    await expect.poll(() => engines.last.warmed.length).toBe(2);
    expect(engines.last.warmed[1]).toMatchObject({ prefix: 'const a = 1;\nconst', suffix: ' b = 2;\n' });
    // An edit and then nothing: the cache is warmed at the end of the edit.
    h.client.sendNotification('textDocument/didChange', {
      textDocument: { uri: URI, version: 3 },
      contentChanges: [{ range: { start: { line: 0, character: 12 }, end: { line: 0, character: 12 } }, text: ' // one' }],
    });
    await expect.poll(() => engines.last.warmed.length, { timeout: 5000 }).toBe(3);
    expect(engines.last.warmed[2]).toMatchObject({ prefix: 'const a = 1; // one', suffix: '\nconst b = 2;\n' });
  });

  it('does not warm after an edit that a completion request follows', async () => {
    const { start, engines } = setup();
    const h = await start();
    h.open(URI, 'x');
    await expect.poll(() => engines.last.warmed.length).toBe(1);
    h.client.sendNotification('textDocument/didChange', {
      textDocument: { uri: URI, version: 2 },
      contentChanges: [{ range: { start: { line: 0, character: 1 }, end: { line: 0, character: 1 } }, text: 'y' }],
    });
    await inline(h, 0, 2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(engines.last.warmed.length).toBe(1);
  });
});
