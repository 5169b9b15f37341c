// A model pulled with `infill-ls models pull` (from a local Hub-shaped server) completes through the CLI, the LSP
// server and the WebSocket API by its repo id, loaded offline from the hub cache, with the same text as its folder.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIN, ROOT, spawnLsp } from '../e2e/spawn.js';
import { lspInline, wsComplete } from '../support/complete-paths.js';
import { FakeHub, commitId, readTree } from './fake-hub.js';

const run = promisify(execFile);
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'models', 'llama');
const COMMIT = commitId('tiny-llama');
const hub = new FakeHub();
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-pulled-'));
const env = { HF_HOME: home, XDG_STATE_HOME: home, INFILL_LS_TOKEN: '' };
const source = path.join(home, 'add.py');
const PREFIX = 'def add(a, b):\n    return ';
const SUFFIX = '\n\nprint(add(1, 2))\n';
const CAPABILITIES = { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: false } };

/** `infill-ls complete` at the end of PREFIX with the given --model; the completion text. */
async function completeWith(model: string): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'complete', source, '--line', '2', '--column', '12', '--model', model, '--device', 'cpu', '--max-new-tokens', '8', '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  return (JSON.parse(stdout) as { completion: string }).completion;
}

let reference = '';

beforeAll(async () => {
  hub.addRepo('org/tiny-llama', { refs: { main: COMMIT }, commits: { [COMMIT]: readTree(FIXTURE) } });
  await hub.start();
  fs.writeFileSync(source, PREFIX + SUFFIX);
  // The binary pulls it (async exec: this process serves the Hub meanwhile).
  const pulled = await run(process.execPath, [BIN, 'models', 'pull', 'org/tiny-llama'], { cwd: ROOT, env: { ...process.env, ...env, HF_ENDPOINT: hub.hubUrl } });
  expect(pulled.stdout.trim()).toBe(path.join(home, 'hub', 'models--org--tiny-llama', 'snapshots', COMMIT));
  expect(pulled.stderr).toContain(`${Object.keys(readTree(FIXTURE)).length} files downloaded`);
  reference = await completeWith(FIXTURE);
  hub.log.length = 0;
}, 120_000);

afterAll(async () => {
  await hub.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

describe('a pulled model, named by its repo id', () => {
  test('completes through the CLI like its folder does, without any network request', async () => {
    expect(reference.length).toBeGreaterThan(0);
    expect(await completeWith('org/tiny-llama')).toBe(reference);
    expect(await completeWith(`org/tiny-llama@${COMMIT}`)).toBe(reference);
    expect(hub.log).toEqual([]);
  }, 60_000);

  test('a repo id that is not cached fails with the pull command to run', async () => {
    const failed = await run(process.execPath, [BIN, 'complete', source, '--line', '2', '--column', '12', '--model', 'org/not-pulled', '--device', 'cpu'], { cwd: ROOT, env: { ...process.env, ...env } }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toMatch(/org\/not-pulled: no such directory, and not in the Hugging Face cache .*infill-ls models pull org\/not-pulled/);
  }, 60_000);

  test('completes through the LSP server (serve --stdio --model-dir org/name)', async () => {
    const r = await lspInline(['serve', '--stdio', '--model-dir', 'org/tiny-llama', '--device', 'cpu', '--max-new-tokens', '8'], env, { prefix: PREFIX, suffix: SUFFIX });
    expect(r.status).toMatchObject({ state: 'ready', model: 'org/tiny-llama' });
    expect(r.text).toBe(reference);
    expect(r.exitCode).toBe(0);
    expect(hub.log).toEqual([]);
  }, 60_000);

  test('an LSP server whose repo id is not cached reports degraded with the pull command, and keeps running', async () => {
    const lsp = spawnLsp(['--stdio', '--model-dir', 'org/not-pulled'], env);
    await lsp.client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: CAPABILITIES });
    lsp.client.sendNotification('initialized', {});
    const degraded = await lsp.waitFor('infill-ls/status', (s) => s.state === 'degraded', 30_000);
    expect(degraded.message).toMatch(/infill-ls models pull org\/not-pulled/);
    await lsp.client.sendRequest('shutdown');
    lsp.client.sendNotification('exit');
    expect(await lsp.exited).toBe(0);
  }, 60_000);

  test('completes through the WebSocket API (serve --ws --model-dir org/name)', async () => {
    const r = await wsComplete(['--model-dir', 'org/tiny-llama', '--device', 'cpu', '--max-new-tokens', '8'], env, home, { prefix: PREFIX, suffix: SUFFIX });
    expect(r.status).toMatchObject({ state: 'ready', model: 'org/tiny-llama' });
    expect(r.error).toBeUndefined();
    expect(r.text).toBe(reference);
    expect(r.exitCode).toBe(0);
    expect(hub.log).toEqual([]);
  }, 60_000);
});
