// The onnxruntime-genai layout (GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNormalization, MatMulNBits:
// test/fixtures/models/qwen2-genai) completes through the CLI, the LSP server and the WebSocket API, with the same text
// on all three (issue 15: "a fused-layout fixture … completes through the CLI, the LSP server and the API").
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from '../api/client.js';
import { BIN, ROOT, spawnLsp, spawnWs } from './spawn.js';

const run = promisify(execFile);
const MODEL = path.join(ROOT, 'test', 'fixtures', 'models', 'qwen2-genai');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-fused-'));
const env = { XDG_STATE_HOME: home, INFILL_LS_TOKEN: '' };
const source = path.join(home, 'add.py');
const PREFIX = 'def add(a, b):\n    return ';
const SUFFIX = '\n\nprint(add(1, 2))\n';
const CAPABILITIES = { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: false } };

let reference = '';

beforeAll(async () => {
  fs.writeFileSync(source, PREFIX + SUFFIX);
  const { stdout } = await run(process.execPath, [BIN, 'complete', source, '--line', '2', '--column', '12', '--model', MODEL, '--device', 'cpu', '--max-new-tokens', '8', '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  const out = JSON.parse(stdout) as { completion: string; status: { state: string; message: string } };
  expect(out.status).toMatchObject({ state: 'ready' });
  expect(out.status.message).toMatch(/qwen PSM/); // the Qwen FIM template, read from the genai directory's tokenizer
  reference = out.completion;
}, 90_000);

afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('the GroupQueryAttention (onnxruntime-genai layout) fixture', () => {
  test('completes through the CLI (random weights: some text, not a particular one)', () => {
    expect(reference.length).toBeGreaterThan(0);
  });

  test('completes through the LSP server with the CLI\'s text', async () => {
    const lsp = spawnLsp(['serve', '--stdio', '--model-dir', MODEL, '--device', 'cpu', '--max-new-tokens', '8'], env);
    await lsp.client.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: CAPABILITIES, initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 0 } } } });
    lsp.client.sendNotification('initialized', {});
    expect(await lsp.waitFor('infill-ls/status', (s) => s.state !== 'loading', 30_000)).toMatchObject({ state: 'ready' });
    const uri = 'file:///tmp/add.py';
    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: PREFIX + SUFFIX } });
    const inline = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: { line: 1, character: 11 }, context: { triggerKind: 1 } })) as { items: Array<{ insertText: string }> };
    expect(inline.items[0]?.insertText).toBe(reference);
    await lsp.client.sendRequest('shutdown');
    lsp.client.sendNotification('exit');
    expect(await lsp.exited).toBe(0);
  }, 60_000);

  test('completes through the WebSocket API with the CLI\'s text', async () => {
    const server = await spawnWs(['--model-dir', MODEL, '--device', 'cpu', '--max-new-tokens', '8'], env);
    const token = fs.readFileSync(path.join(home, 'infill-ls', 'token'), 'utf8').trim();
    const c = await connect(server.url, { Authorization: `Bearer ${token}` });
    const deadline = Date.now() + 30_000;
    let status = (await c.call('status')).result;
    while (status.state === 'loading' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await c.call('status')).result;
    }
    expect(status).toMatchObject({ state: 'ready' });
    const done = await c.call('complete', { prefix: PREFIX, suffix: SUFFIX, languageId: 'python' }, 30_000);
    expect(done.error).toBeUndefined();
    expect(done.result.candidates[0]?.text).toBe(reference);
    c.close();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 60_000);
});
