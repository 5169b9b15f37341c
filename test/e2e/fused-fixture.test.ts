// The onnxruntime-genai layout (GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNormalization, MatMulNBits:
// test/fixtures/models/qwen2-genai) and its GPU attention form (q/k/v packed into one product, rotary inside
// GroupQueryAttention, no position_ids: qwen2-genai-packed) complete through the CLI, the LSP server and the WebSocket
// API, with the same text on all three (issue 15: "a fused-layout fixture … completes through the CLI, the LSP server
// and the API").
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { lspInline, wsComplete } from '../support/complete-paths.js';
import { BIN, ROOT } from './spawn.js';

const run = promisify(execFile);
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-fused-'));
const env = { XDG_STATE_HOME: home, INFILL_LS_TOKEN: '' };
const source = path.join(home, 'add.py');
const PREFIX = 'def add(a, b):\n    return ';
const SUFFIX = '\n\nprint(add(1, 2))\n';

afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe.each(['qwen2-genai', 'qwen2-genai-packed'])('the GroupQueryAttention (onnxruntime-genai layout) fixture %s', (name) => {
  const MODEL = path.join(ROOT, 'test', 'fixtures', 'models', name);
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

  test('completes through the CLI (random weights: some text, not a particular one)', () => {
    expect(reference.length).toBeGreaterThan(0);
  });

  test('completes through the LSP server with the CLI\'s text', async () => {
    const r = await lspInline(['serve', '--stdio', '--model-dir', MODEL, '--device', 'cpu', '--max-new-tokens', '8'], env, { prefix: PREFIX, suffix: SUFFIX });
    expect(r.status).toMatchObject({ state: 'ready' });
    expect(r.text).toBe(reference);
    expect(r.exitCode).toBe(0);
  }, 60_000);

  test('completes through the WebSocket API with the CLI\'s text', async () => {
    const r = await wsComplete(['--model-dir', MODEL, '--device', 'cpu', '--max-new-tokens', '8'], env, home, { prefix: PREFIX, suffix: SUFFIX });
    expect(r.status).toMatchObject({ state: 'ready' });
    expect(r.error).toBeUndefined();
    expect(r.text).toBe(reference);
    expect(r.exitCode).toBe(0);
  }, 60_000);
});
