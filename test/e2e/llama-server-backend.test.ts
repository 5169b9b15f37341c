// The built binary over LSP stdio with `backend: {kind: "llama-server"}` against a REAL llama-server (llama.cpp built
// from node-llama-cpp's source by .ci/llama-server.sh, cached outside the repository) serving models/default converted
// to GGUF: LSP request in, completion out. The expected text is not written here: it is what the same llama-server's
// `/infill` answers for the same request body (sent directly, to another slot, without its prompt cache), cut by our
// syntax plan, post-processed and fitted as infill-ls does. Both runs are greedy on the same prompt tokens, evaluated
// the same way (a fresh slot, the whole prompt in one batch), so they agree on any CPU.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { infillBody, stoppedAtLimit } from '../../server/src/backend/llama-server.js';
import { planDecode } from '../../server/src/engine/decode-plan.js';
import { fitCandidate, postprocess } from '../../server/src/postprocess/index.js';
// @ts-expect-error: plain JavaScript helper shared with bench/team
import { startLlamaServer } from '../../bench/team/llama-server.mjs';
import { spawnLsp } from './spawn.js';

let server: { url: string; log: () => string; stop: () => Promise<void> };
const API_KEY = 'test-key-llama';

beforeAll(async () => {
  // Builds llama-server the first time (.ci/run does it beforehand; 46 min measured on 2 cores at load ~20; less on an idle machine), then starts it.
  // --spm-infill: suffix first, the order models/default was trained with (config.json's fim_mode).
  server = await startLlamaServer({ parallel: 2, ctxPerSlot: 2048, threads: 1, apiKey: API_KEY, spm: true });
}, 60 * 60_000);
afterAll(async () => {
  await server?.stop();
});

const uri = 'file:///proj/geometry.py';
const text = 'def area(width, height):\n    """Area of a rectangle."""\n    return \n\n\nprint(area(2, 3))\n';
const position = { line: 2, character: 11 };

it('answers an inline completion through llama-server /infill with the text llama-server gives for that prompt', async () => {
  const lsp = spawnLsp(['serve', '--stdio']);
  try {
    await lsp.client.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { inlineCompletion: {} } },
      initializationOptions: { 'infill-ls': { backend: { kind: 'llama-server', url: server.url, apiKey: API_KEY }, debounce: 0, maxNewTokens: 24 } },
    });
    lsp.client.sendNotification('initialized', {});
    const ready = await lsp.waitFor('infill-ls/status', (s) => s.state === 'ready');
    expect(ready.device).toBe('remote');
    expect(ready.message).toContain(`llama-server ${server.url}/infill`);

    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    const result = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } })) as { items: Array<{ insertText: string }> };

    // The reference: the same body straight to /infill (slot 1, no prompt cache, no stream), then our chain.
    const lines = text.split('\n');
    const offset = lines.slice(0, position.line).reduce((n, l) => n + l.length + 1, 0) + position.character;
    const prefix = text.slice(0, offset);
    const suffix = text.slice(offset);
    const plan = planDecode({ prefix, suffix, languageId: 'python', trigger: 'manual' });
    const body = { ...infillBody({ prefix, suffix }, { maxNewTokens: 24 }, { stream: false, idSlot: 1, stop: plan.lineMode === 'single' ? ['\n'] : [] }), cache_prompt: false };
    const res = await fetch(`${server.url}/infill`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const direct = (await res.json()) as { content: string; tokens_evaluated: number; stop_type?: string };
    let raw = direct.content;
    const end = plan.stopAt(raw);
    if (end !== null) raw = raw.slice(0, end);
    // Stopped at its limit (n_predict 24) with no plan cut: the text may end mid-expression and is cut back.
    const truncated = end === null && stoppedAtLimit(direct);
    const expected = fitCandidate(postprocess(raw, { prefix, suffix, languageId: 'python', lineMode: plan.lineMode, truncated }), { prefix, suffix, languageId: 'python' });

    expect(direct.tokens_evaluated).toBeGreaterThan(10); // the FIM prompt, not an empty one
    expect(expected.trim().length).toBeGreaterThan(0); // the model does complete here: the comparison means something
    expect(result.items.map((i) => i.insertText)).toEqual([expected]);

    // Without the key llama-server refuses, and infill-ls says so in its status instead of failing silently.
    const before = lsp.notifications.length;
    lsp.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { backend: { kind: 'llama-server', url: server.url, apiKey: 'wrong' }, debounce: 0, maxNewTokens: 24 } } });
    // The engine is recreated for the new backend setting: wait for a ready status sent after the change.
    const deadline = Date.now() + 30_000;
    while (!lsp.notifications.slice(before).some((n) => n.method === 'infill-ls/status' && n.params.state === 'ready')) {
      if (Date.now() > deadline) throw new Error(`no ready status after the settings change: ${JSON.stringify(lsp.notifications.slice(before))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } })) as { items: unknown[] };
    expect(refused.items).toEqual([]);
    const failed = await lsp.waitFor('infill-ls/status', (s) => typeof s.message === 'string' && s.message.includes('last error: HTTP 401'), 30_000);
    expect(failed.message).toContain(`llama-server ${server.url}/infill`);
  } finally {
    lsp.child.kill();
    await lsp.exited;
  }
}, 120_000);
