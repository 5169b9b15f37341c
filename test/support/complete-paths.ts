// One completion through a spawned server, the LSP way and the WebSocket-API way, for the end-to-end tests that check
// a model answers the same through the CLI, the LSP server and the API (test/hub/pulled-model.test.ts,
// test/e2e/fused-fixture.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { connect } from '../api/client.js';
import { spawnLsp, spawnWs } from '../e2e/spawn.js';

const CAPABILITIES = { textDocument: { inlineCompletion: {} }, window: { workDoneProgress: false } };

/** A Python document and the cursor at the end of its prefix (0-based LSP position). */
export interface Doc {
  prefix: string;
  suffix: string;
}

function cursorOf(prefix: string): { line: number; character: number } {
  const lines = prefix.split('\n');
  return { line: lines.length - 1, character: lines.at(-1)!.length };
}

/**
 * Spawns `infill-ls ARGS` as an LSP server (stdio), waits until it is no longer loading, asks one inline completion at
 * the end of `doc.prefix` (manual trigger, debounce 0), shuts it down and checks it exited with 0.
 * Returns the status it reported once loaded and the first item's text ('' when none).
 */
export async function lspInline(args: string[], env: NodeJS.ProcessEnv, doc: Doc): Promise<{ status: Record<string, unknown>; text: string; exitCode: number | null }> {
  const lsp = spawnLsp(args, env);
  await lsp.client.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: CAPABILITIES, initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 0 } } } });
  lsp.client.sendNotification('initialized', {});
  const status = (await lsp.waitFor('infill-ls/status', (s) => s.state !== 'loading', 30_000)) as Record<string, unknown>;
  const uri = 'file:///tmp/doc.py';
  lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: doc.prefix + doc.suffix } });
  const inline = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: cursorOf(doc.prefix), context: { triggerKind: 1 } })) as { items: Array<{ insertText: string }> };
  await lsp.client.sendRequest('shutdown');
  lsp.client.sendNotification('exit');
  return { status, text: inline.items[0]?.insertText ?? '', exitCode: await lsp.exited };
}

/**
 * Spawns `infill-ls serve --ws ARGS` (its token in `stateHome`/infill-ls/token), waits up to 30 s while it is loading,
 * asks one `complete` for `doc` (Python), stops it with SIGTERM. Returns the status once loaded, the first candidate's
 * text ('' when none), the request's error if any, and the exit code.
 */
export async function wsComplete(args: string[], env: NodeJS.ProcessEnv, stateHome: string, doc: Doc): Promise<{ status: Record<string, unknown>; text: string; error: unknown; exitCode: number | null }> {
  const server = await spawnWs(args, env);
  const token = fs.readFileSync(path.join(stateHome, 'infill-ls', 'token'), 'utf8').trim();
  const c = await connect(server.url, { Authorization: `Bearer ${token}` });
  const deadline = Date.now() + 30_000;
  let status = (await c.call('status')).result;
  while (status.state === 'loading' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await c.call('status')).result;
  }
  const done = await c.call('complete', { prefix: doc.prefix, suffix: doc.suffix, languageId: 'python' }, 30_000);
  c.close();
  server.child.kill('SIGTERM');
  return { status, text: done.result?.candidates?.[0]?.text ?? '', error: done.error, exitCode: await server.exited };
}
