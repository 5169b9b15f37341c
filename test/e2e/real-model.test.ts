// End-to-end tests over the real engine and the shipped default model (models/default).

import { describe, expect, it, onTestFailed } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../api/client.js';
import { createEngine } from '../../server/src/engine/engine.js';
import { ROOT, spawnLsp, spawnWs } from './spawn.js';
import { modelTimeout } from '../runtime/helpers/timeout.js';

/** INFILL_LS_TEST_MODEL points these tests at another model directory (for trying them before the default lands). */
const override = process.env.INFILL_LS_TEST_MODEL;
const MODEL = override ?? path.join(ROOT, 'models', 'default');
const MODEL_ARGS = override === undefined ? [] : ['--model-dir', override];
const PROMPTS = [
  { languageId: 'python', prefix: 'def add(a, b):\n    return ', suffix: '\n' },
  { languageId: 'typescript', prefix: 'function add(a: number, b: number): number {\n  return ', suffix: '\n}\n' },
  { languageId: 'javascript', prefix: 'for (let i = 0; i < items.length; ', suffix: ') {\n}\n' },
];

describe('real default model', () => {
  it('has the model files the README promises', () => {
    expect(fs.existsSync(path.join(MODEL, 'config.json'))).toBe(true);
    expect(fs.existsSync(path.join(MODEL, 'tokenizer.json'))).toBe(true);
  });

  it('the engine loads it, reports ready and completes simple code with non-empty text', async () => {
    const engine = createEngine({ modelDir: MODEL, device: 'cpu' });
    await engine.loaded;
    expect(engine.status()).toMatchObject({ state: 'ready' });
    let nonEmpty = 0;
    for (const [i, p] of PROMPTS.entries()) {
      const result = await engine.complete({ documentKey: `mem://${i}`, version: 1, trigger: 'manual', ...p }, new AbortController().signal);
      expect(result.kind).toBe('ok');
      if (result.kind === 'ok' && result.candidates.some((c) => c.text.trim().length > 0)) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(2);
    await engine.dispose();
  }, modelTimeout(120_000));

  it('serves inline completions over LSP stdio with the default model (no --model-dir)', async () => {
    const lsp = spawnLsp(['serve', '--stdio', '--device', 'cpu', ...MODEL_ARGS]);
    await lsp.client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: { textDocument: { inlineCompletion: {} } } });
    lsp.client.sendNotification('initialized', {});
    expect(await lsp.waitFor('infill-ls/status', (s) => s.state !== 'loading', 60_000)).toMatchObject({ state: 'ready' });
    const uri = 'file:///tmp/real.py';
    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: PROMPTS[0].prefix + PROMPTS[0].suffix } });
    const list = (await lsp.client.sendRequest('textDocument/inlineCompletion', {
      textDocument: { uri },
      position: { line: 1, character: 11 },
      context: { triggerKind: 1 },
    })) as { items: Array<{ insertText: string }> };
    expect(list.items.length).toBeGreaterThan(0);
    expect(list.items[0].insertText.trim().length).toBeGreaterThan(0);
    await lsp.client.sendRequest('shutdown');
    lsp.client.sendNotification('exit');
    expect(await lsp.exited).toBe(0);
  }, 120_000);

  it('serves `npm start`’s WebSocket API with the default model and reports timings', async () => {
    const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-real-'));
    const token = 'real-model-test-token-0123456789';
    const server = await spawnWs(['--device', 'cpu', ...MODEL_ARGS], { XDG_STATE_HOME: stateHome, INFILL_LS_TOKEN: token });
    // A failed expectation must not leave the server running (one outlived a failed CI run).
    onTestFailed(() => {
      server.child.kill('SIGKILL');
      fs.rmSync(stateHome, { recursive: true, force: true });
    });
    const c = await connect(server.url, { Authorization: `Bearer ${token}` });
    // The model loads in the worker while the socket opens: on a loaded CI machine that alone took over 3 s (the
    // client's default wait), so this polls `status` until the load ends (60 s at most), like the LSP test above
    // waits for its status, then gives the completion 30 s.
    let status = (await c.call('status')).result;
    for (const deadline = Date.now() + 60_000; status.state === 'loading' && Date.now() < deadline; status = (await c.call('status')).result) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toMatchObject({ state: 'ready' });
    const done = await c.call('complete', PROMPTS[1], 30_000);
    expect(done.error).toBeUndefined();
    expect(done.result.candidates.length).toBeGreaterThan(0);
    expect(done.result.timings.totalMs).toBeGreaterThan(0);
    c.close();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    fs.rmSync(stateHome, { recursive: true, force: true });
  }, 120_000);
});
