// End-to-end tests of the built binary as editors and API clients run it: LSP over stdio and the WebSocket API, on a checked-in tiny model.

import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancellationTokenSource, StreamMessageReader, StreamMessageWriter, createProtocolConnection } from 'vscode-languageserver/node';
import { connect } from '../api/client.js';
import { BIN, FIXTURE_MODEL, ROOT, spawnLsp, spawnWs } from './spawn.js';

const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-e2e-'));
afterAll(() => fs.rmSync(stateHome, { recursive: true, force: true }));

const CAPABILITIES = { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: false } };

describe('the infill-ls binary', () => {
  it('prints its version and refuses unknown commands with a usage message', () => {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    expect(execFileSync(process.execPath, [BIN, '--version']).toString().trim()).toBe(version);
    let failure: { status?: number; stderr?: Buffer } = {};
    try {
      execFileSync(process.execPath, [BIN, 'frobnicate'], { stdio: 'pipe' });
    } catch (err) {
      failure = err as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(failure.stderr?.toString()).toMatch(/unknown command "frobnicate"[\s\S]*usage:/);
  });

  it('prints every command\'s usage for --help and exits 0', () => {
    for (const [args, usage] of [
      [['--help'], /^infill-ls — /],
      [['serve', '--help'], /^usage: infill-ls serve /],
      [['serve', '--ws', '-h'], /^usage: infill-ls serve /],
      [['complete', '--help'], /^usage: infill-ls complete /],
      [['eval', '--help'], /^usage: infill-ls eval /],
      [['models', 'pull', '--help'], /^usage: infill-ls models pull /],
    ] as const) {
      expect(execFileSync(process.execPath, [BIN, ...args], { stdio: 'pipe' }).toString(), args.join(' ')).toMatch(usage);
    }
  });
});

describe('LSP over stdio (spawned process)', () => {
  it('initializes, reports ready, completes inline and classic, survives cancellation, and exits cleanly', async () => {
    const lsp = spawnLsp(['serve', '--stdio', '--model-dir', FIXTURE_MODEL, '--device', 'cpu', '--max-new-tokens', '8']);
    const init = (await lsp.client.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: CAPABILITIES,
      initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 60_000 } } },
    })) as { capabilities: Record<string, unknown> };
    expect(init.capabilities.inlineCompletionProvider).toBe(true);
    lsp.client.sendNotification('initialized', {});
    const ready = await lsp.waitFor('infill-ls/status', (s) => s.state !== 'loading');
    expect(ready).toMatchObject({ state: 'ready', device: 'cpu' });

    const uri = 'file:///tmp/e2e.py';
    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: 'def add(a, b):\n    return \n' } });
    const position = { line: 1, character: 11 };
    const inline = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } })) as { items: Array<{ insertText: string; range: unknown }> };
    expect(Array.isArray(inline.items)).toBe(true);
    for (const item of inline.items) expect(item.range).toEqual({ start: position, end: position });
    const classic = (await lsp.client.sendRequest('textDocument/completion', { textDocument: { uri }, position })) as { isIncomplete: boolean; items: unknown[] };
    expect(classic.isIncomplete).toBe(true);

    // An automatic trigger waits out the (60 s) debounce: cancelling it answers RequestCancelled.
    const source = new CancellationTokenSource();
    const pending = lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 2 } }, source.token);
    setTimeout(() => source.cancel(), 50);
    await expect(pending).rejects.toMatchObject({ code: -32800 });
    // Still healthy afterwards.
    const again = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } })) as { items: unknown[] };
    expect(Array.isArray(again.items)).toBe(true);

    await lsp.client.sendRequest('shutdown');
    lsp.client.sendNotification('exit');
    expect(await lsp.exited).toBe(0);
    expect(lsp.stderr()).not.toMatch(/TypeError|ReferenceError|unhandled/i);
  });

  it('serve --threads N reaches the model: its sessions are made with N intra-op threads', async () => {
    // The model's load line (runtime/model.ts) names the thread count it gave onnxruntime; debug logging prints it.
    const lsp = spawnLsp(['serve', '--stdio', '--model', FIXTURE_MODEL, '--device', 'cpu', '--threads', '3'], { INFILL_LS_LOG: 'debug', INFILL_LS_THREADS: '' });
    await lsp.client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: CAPABILITIES });
    lsp.client.sendNotification('initialized', {});
    expect(await lsp.waitFor('infill-ls/status', (s) => s.state !== 'loading')).toMatchObject({ state: 'ready' });
    expect(lsp.stderr()).toMatch(/infill-ls engine: model \S+ \(\w+\) on cpu, 3 threads/);
    await lsp.client.sendRequest('shutdown');
    lsp.client.sendNotification('exit');
    expect(await lsp.exited).toBe(0);
    // A bad value is refused before anything loads, in the words complete and eval use.
    let failure: { status?: number; stderr?: Buffer } = {};
    try {
      execFileSync(process.execPath, [BIN, 'serve', '--ws', '--threads', '0'], { stdio: 'pipe' });
    } catch (err) {
      failure = err as typeof failure;
    }
    expect(failure.status).toBe(2);
    expect(failure.stderr?.toString()).toBe('infill-ls: --threads needs a positive integer, got "0"\n');
  });

  it('reports a missing model as degraded status, answers empty and keeps running', async () => {
    const missing = path.join(stateHome, 'no-such-model');
    const lsp = spawnLsp(['--stdio', '--model-dir', missing]);
    await lsp.client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: CAPABILITIES });
    lsp.client.sendNotification('initialized', {});
    const degraded = await lsp.waitFor('infill-ls/status', (s) => s.state === 'degraded');
    expect(degraded.message).toContain(missing);
    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri: 'file:///x.ts', languageId: 'typescript', version: 1, text: 'x' } });
    const list = await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri: 'file:///x.ts' }, position: { line: 0, character: 1 }, context: { triggerKind: 1 } });
    expect(list).toEqual({ items: [] });
    await lsp.client.sendRequest('shutdown');
    lsp.client.sendNotification('exit');
    expect(await lsp.exited).toBe(0);
  });
});

describe('LSP over a socket (spawned process)', () => {
  it('connects to the port the client listens on and initializes', async () => {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    const child = spawn(process.execPath, [BIN, 'serve', `--socket=${port}`, '--model-dir', FIXTURE_MODEL, '--device', 'cpu'], { cwd: ROOT });
    const socket = await accepted;
    const client = createProtocolConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket));
    client.listen();
    const init = (await client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: {} })) as { capabilities: Record<string, unknown> };
    expect(init.capabilities.completionProvider).toEqual({ resolveProvider: false });
    expect(init.capabilities.inlineCompletionProvider).toBeUndefined();
    await client.sendRequest('shutdown');
    client.sendNotification('exit');
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    client.dispose();
    listener.close();
  });
});

describe('WebSocket API (spawned process)', () => {
  it('prints how to connect, writes a 0600 token file, refuses bad tokens, completes, and stops on SIGTERM', async () => {
    const env = { XDG_STATE_HOME: stateHome, INFILL_LS_TOKEN: '' };
    const server = await spawnWs(['--model-dir', FIXTURE_MODEL, '--device', 'cpu', '--max-new-tokens', '8'], env);
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const tokenFile = path.join(stateHome, 'infill-ls', 'token');
    const token = fs.readFileSync(tokenFile, 'utf8').trim();
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(server.stdout()).toContain(token);
    expect(server.stdout()).toMatch(/Authorization: Bearer <token>/);

    await expect(connect(server.url, { Authorization: 'Bearer wrong' })).rejects.toMatchObject({ statusCode: 401 });
    await expect(connect(server.url, { Authorization: `Bearer ${token}`, Origin: 'https://evil.example' })).rejects.toMatchObject({ statusCode: 403 });
    const c = await connect(server.url, { Authorization: `Bearer ${token}` });
    const done = await c.call('complete', { prefix: 'def add(a, b):\n    return ', suffix: '\n', languageId: 'python' }, 30_000); // waits for the load too: 3 s was short on a loaded machine
    expect(done.error).toBeUndefined();
    expect(Array.isArray(done.result.candidates)).toBe(true);
    expect((await c.call('status')).result).toMatchObject({ state: 'ready' });
    c.close();

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('identical requests in flight together share one model run; different ones do not', async () => {
    const token = 'e2e-shared-token-0123456789abcdef';
    const server = await spawnWs(['--model', FIXTURE_MODEL, '--device', 'cpu', '--max-new-tokens', '8'], { XDG_STATE_HOME: stateHome, INFILL_LS_TOKEN: token, INFILL_LS_LOG: 'debug', INFILL_LS_WARM: '0' });
    try {
      const c = await connect(server.url, { Authorization: `Bearer ${token}` });
      // The model side writes one debug line per request it decodes.
      const modelRuns = () => server.stderr().split('\n').filter((l) => l.startsWith('infill-ls engine: completion {')).length;
      // A JSON-RPC batch: its requests reach the engine in the same turn of the event loop, so both are in flight together.
      const batch = (name: string, params: object[]) => {
        c.sendRaw(JSON.stringify(params.map((p, i) => ({ jsonrpc: '2.0', id: `${name}${i}`, method: 'complete', params: p }))));
        return c.next((m) => Array.isArray(m) && m.some((r: { id?: string }) => r.id === `${name}0`), 30_000);
      };
      const ask = { prefix: 'def add(a, b):\n    return ', suffix: '\n', languageId: 'python', documentKey: 'file:///shared.py' };
      const same = await batch('same', [ask, ask]);
      expect(same).toHaveLength(2);
      expect(same[0].error).toBeUndefined();
      expect(same[1].result).toEqual(same[0].result);
      await expect.poll(() => modelRuns(), { timeout: 5000 }).toBe(1);
      const different = await batch('different', [ask, { ...ask, lineMode: 'single' }]);
      expect(different.map((r: { id: string; error?: unknown }) => [r.id, r.error])).toEqual([['different0', undefined], ['different1', undefined]]);
      await expect.poll(() => modelRuns(), { timeout: 5000 }).toBe(3);
      c.close();
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });
});
