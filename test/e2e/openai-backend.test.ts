// The built binary over LSP stdio with `backend: {kind: "openai"}` against a local stand-in `/v1/completions` server:
// the inline completion comes from the stand-in's stream, the prompt it receives is our FIM text with the definition
// from another open document (crossFileContext on), and the status names the backend.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { spawnLsp } from './spawn.js';

const prompts: string[] = [];
const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (d) => (raw += d));
  req.on('end', () => {
    prompts.push((JSON.parse(raw) as { prompt: string }).prompt);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const piece of ['width ', '* height;']) res.write(`data: ${JSON.stringify({ choices: [{ text: piece }] })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
});
afterAll(() => new Promise((r) => server.close(r)));

it('completes through the OpenAI-compatible backend with cross-file context in the prompt', async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const lsp = spawnLsp(['serve', '--stdio']);
  try {
    await lsp.client.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { inlineCompletion: {} } },
      initializationOptions: { 'infill-ls': { backend: { kind: 'openai', url, model: 'stand-in', fim: 'qwen' }, crossFileContext: true, debounce: 0 } },
    });
    lsp.client.sendNotification('initialized', {});
    const ready = await lsp.waitFor('infill-ls/status', (s) => s.state === 'ready');
    expect(ready).toMatchObject({ device: 'remote', model: 'stand-in' });
    expect(ready.message).toContain(url);

    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri: 'file:///proj/src/shapes.ts', languageId: 'typescript', version: 1, text: 'export function area(width: number, height: number): number {\n  return width * height;\n}\n' } });
    const main = "import { area } from './shapes';\n\nexport function total(w: number, h: number) {\n  return area(w, h) + \n}\n";
    lsp.client.sendNotification('textDocument/didOpen', { textDocument: { uri: 'file:///proj/src/main.ts', languageId: 'typescript', version: 1, text: main } });
    const result = (await lsp.client.sendRequest('textDocument/inlineCompletion', { textDocument: { uri: 'file:///proj/src/main.ts' }, position: { line: 3, character: 22 }, context: { triggerKind: 1 } })) as { items: Array<{ insertText: string }> };
    expect(result.items[0]?.insertText).toBe('width * height;');
    const prompt = prompts.at(-1)!;
    // Qwen's repository-level form (no workspace folder: an empty repository name, paths by file name).
    expect(prompt.startsWith('<|repo_name|>\n<|file_sep|>shapes.ts\nexport function area(width: number, height: number): number {\n  return width * height;\n}\n<|file_sep|>main.ts\n<|fim_prefix|>')).toBe(true);
    expect(prompt).toContain("import { area } from './shapes';");
    expect(prompt.endsWith('<|fim_middle|>')).toBe(true);
  } finally {
    lsp.child.kill();
    await lsp.exited;
  }
});
