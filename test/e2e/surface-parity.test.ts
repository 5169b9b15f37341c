// Issue 14's follow-up: the CLI, the WebSocket API and LSP give the same answer for the same document, position and
// options. Each surface runs as a user runs it (the built binary, models/default, default settings, INFILL_LS_LOG=debug),
// and the test compares the surfaces with each other, never with fixed strings:
// - the request each surface fed the engine, from the engine's debug line (model-side.ts requestFingerprint: trigger,
//   candidate count, line mode, language, the text it saw and the exact prompt token ids) — equal, exactly;
// - the candidates each surface answered (fitted to the document: postprocess/fit.ts), in order — equal.
// Equal prompts and options decode the same tokens: the prompts here are short (one prefill chunk) or cut by the same
// window, every request is a document's first (no completion reuse), all run on this machine's CPU, and without the
// decoding time budget (INFILL_LS_TIME_BUDGET_MS), which a loaded machine would hit on one surface and not another.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type TestClient } from '../api/client.js';
import { BIN, ROOT, spawnLsp, spawnWs, type LspProcess } from './spawn.js';

interface Case {
  name: string;
  ext: string;
  languageId: string;
  text: string;
  /** 0-based line and UTF-16 character (LSP and API); the CLI gets line + 1, character + 1. */
  line: number;
  character: number;
}

/** A long Python module (over the 64 Ki-character window and the 768-token prefix budget) with the cursor near its end. */
function longModule(): Case {
  const parts: string[] = [];
  for (let i = 0; i < 1400; i++) parts.push(`def scale_${i}(value):\n    return value * ${i % 17} + ${i % 5}\n\n`);
  const head = parts.join('') + 'def total(values):\n    result = ';
  const text = `${head}\n    return result\n\nprint(total([1, 2, 3]))\n`;
  const lines = head.split('\n');
  return { name: 'long-python', ext: 'py', languageId: 'python', text, line: lines.length - 1, character: lines.at(-1)!.length };
}

const CASES: Case[] = [
  // The README's example.
  { name: 'add', ext: 'py', languageId: 'python', text: 'def add(a, b):\n    return \n', line: 1, character: 11 },
  { name: 'area', ext: 'ts', languageId: 'typescript', text: 'function area(width: number, height: number): number {\n  return \n}\n', line: 1, character: 9 },
  { name: 'empty-block', ext: 'js', languageId: 'javascript', text: 'function sum(values) {\n  let total = 0;\n  \n}\n\nconsole.log(sum([1, 2]));\n', line: 2, character: 2 },
  { name: 'crlf', ext: 'py', languageId: 'python', text: 'import math\r\n\r\ndef circle_area(r):\r\n    return \r\n\r\nprint(circle_area(2))\r\n', line: 3, character: 11 },
  longModule(),
];
const TRIGGERS = ['manual', 'automatic'] as const;
/** The CLI's candidates per compared case (equal answers must not all be empty ones). */
const answered: string[][] = [];

interface Answer {
  /** The engine's fingerprint of the request (the debug line's `request`). */
  request: Record<string, unknown>;
  texts: string[];
}

/** The `request` of the engine's debug line for document `doc` in `log` (stderr of a surface). */
function fingerprint(log: string, doc: string): Record<string, unknown> {
  const found = log
    .split('\n')
    .map((line) => /completion (\{.*\})\s*$/.exec(line)?.[1])
    .filter((json): json is string => json !== undefined)
    .map((json) => JSON.parse(json) as { doc: string; request?: Record<string, unknown>; cache?: string; mode?: string })
    .filter((entry) => entry.doc === doc);
  // One model run per request: never an answer from the completion cache.
  expect(found.map((e) => e.cache ?? '').filter((c) => c.startsWith('completion-reuse')), doc).toEqual([]);
  expect(found, `one debug line for ${doc}`).toHaveLength(1);
  // With the decode mode the engine ran (fim or self-infill: settings, not part of the request).
  return { ...found[0]!.request!, decodeMode: found[0]!.mode };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-parity-'));
const token = 'surface-parity-test-token-0123456789';
// No decoding time budget (3 s by default): cut by a loaded machine, one surface's decode would stop early.
const env = { INFILL_LS_LOG: 'debug', XDG_STATE_HOME: dir, INFILL_LS_TOKEN: token, INFILL_LS_TIME_BUDGET_MS: '600000' };
let lsp: LspProcess;
let ws: Awaited<ReturnType<typeof spawnWs>>;
let wsErr = '';
let api: TestClient;

beforeAll(async () => {
  lsp = spawnLsp(['serve', '--stdio', '--device', 'cpu'], env);
  await lsp.client.sendRequest('initialize', { processId: null, rootUri: null, capabilities: { textDocument: { inlineCompletion: {} } } });
  lsp.client.sendNotification('initialized', {});
  ws = await spawnWs(['--device', 'cpu'], env);
  ws.child.stderr.on('data', (d: Buffer) => (wsErr += d.toString()));
  api = await connect(ws.url, { Authorization: `Bearer ${token}` });
  expect(await lsp.waitFor('infill-ls/status', (s) => s.state !== 'loading', 90_000)).toMatchObject({ state: 'ready' });
  let status = (await api.call('status')).result;
  for (const deadline = Date.now() + 90_000; status.state === 'loading' && Date.now() < deadline; status = (await api.call('status')).result) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toMatchObject({ state: 'ready' });
}, 200_000);

afterAll(async () => {
  api?.close();
  ws?.child.kill('SIGKILL');
  lsp?.child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

async function viaCli(c: Case, trigger: string, lineMode?: string, flags: string[] = []): Promise<Answer> {
  const file = path.join(dir, `${c.name}-${trigger}${lineMode ? `-${lineMode}` : ''}${flags.join('')}.${c.ext}`);
  fs.writeFileSync(file, c.text);
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [BIN, 'complete', file, '--line', String(c.line + 1), '--column', String(c.character + 1), '--trigger', trigger, '--device', 'cpu', '--json', ...(lineMode ? ['--line-mode', lineMode] : []), ...flags],
    { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 },
  );
  const out = JSON.parse(stdout) as { completion: string; candidates: Array<{ text: string }> };
  expect(out.completion).toBe(out.candidates[0]?.text ?? '');
  return { request: fingerprint(stderr, pathToFileURL(file).href), texts: out.candidates.map((x) => x.text) };
}

async function viaApi(c: Case, trigger: string, lineMode?: string): Promise<Answer> {
  const uri = `file:///parity/api/${c.name}-${trigger}${lineMode ? `-${lineMode}` : ''}.${c.ext}`;
  expect((await api.call('document/open', { uri, languageId: c.languageId, text: c.text })).error).toBeUndefined();
  const done = await api.call('complete', { uri, position: { line: c.line, character: c.character }, trigger, ...(lineMode ? { lineMode } : {}) }, 120_000);
  expect(done.error).toBeUndefined();
  await new Promise((r) => setTimeout(r, 100)); // the worker's debug line reaches stderr through a pipe
  return { request: fingerprint(wsErr, uri), texts: (done.result.candidates as Array<{ text: string }>).map((x) => x.text) };
}

async function viaLsp(c: Case, trigger: string, server: LspProcess = lsp): Promise<Answer> {
  const uri = `file:///parity/lsp/${c.name}-${trigger}.${c.ext}`;
  server.client.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: c.languageId, version: 1, text: c.text } });
  const list = (await server.client.sendRequest('textDocument/inlineCompletion', {
    textDocument: { uri },
    position: { line: c.line, character: c.character },
    context: { triggerKind: trigger === 'manual' ? 1 : 2 },
  })) as { items: Array<{ insertText: string }> };
  await new Promise((r) => setTimeout(r, 100));
  return { request: fingerprint(server.stderr(), uri), texts: list.items.map((x) => x.insertText) };
}

describe('the same document, position and trigger on every surface', () => {
  for (const c of CASES) {
    for (const trigger of TRIGGERS) {
      it(`${c.name}, ${trigger}: CLI, API and LSP feed the engine the same request and answer the same candidates`, async () => {
        const cli = await viaCli(c, trigger);
        const fromApi = await viaApi(c, trigger);
        const fromLsp = await viaLsp(c, trigger);
        expect(cli.request.trigger).toBe(trigger);
        expect(fromApi.request).toEqual(cli.request);
        expect(fromLsp.request).toEqual(cli.request);
        expect(fromApi.texts).toEqual(cli.texts);
        expect(fromLsp.texts).toEqual(cli.texts);
        expect(fromApi.texts[0]).toBe(cli.texts[0]);
        answered.push(cli.texts);
      }, 180_000);
    }
  }

  // LSP has no line-mode option (editors leave it to the syntax plan): the CLI's --line-mode and the API's lineMode.
  for (const [name, lineMode] of [['empty-block', 'single'], ['area', 'multi']] as const) {
    it(`${name}, manual, line mode ${lineMode} forced: CLI and API feed the engine the same request and answer the same candidates`, async () => {
      const c = CASES.find((x) => x.name === name)!;
      const cli = await viaCli(c, 'manual', lineMode);
      const fromApi = await viaApi(c, 'manual', lineMode);
      expect(cli.request.lineMode).toBe(lineMode);
      expect(fromApi).toEqual(cli);
    }, 180_000);
  }

  // A decode-mode setting (LSP initializationOptions) and the CLI's --mode: self-infilling with one loop.
  it('self-infilling: the CLI\'s --mode si1 and LSP\'s decodeMode self-infill feed the engine the same request and answer alike', async () => {
    const si = spawnLsp(['serve', '--stdio', '--device', 'cpu'], env);
    try {
      await si.client.sendRequest('initialize', {
        processId: null,
        rootUri: null,
        capabilities: { textDocument: { inlineCompletion: {} } },
        initializationOptions: { 'infill-ls': { decodeMode: 'self-infill', selfInfillLoops: 1 } },
      });
      si.client.sendNotification('initialized', {});
      expect(await si.waitFor('infill-ls/status', (st) => st.state !== 'loading', 90_000)).toMatchObject({ state: 'ready' });
      for (const name of ['area', 'empty-block']) {
        const c = CASES.find((x) => x.name === name)!;
        const cli = await viaCli(c, 'manual', undefined, ['--mode', 'si1']);
        const fromLsp = await viaLsp(c, 'manual', si);
        expect(cli.request.decodeMode).toBe('self-infill');
        expect(fromLsp).toEqual(cli);
      }
    } finally {
      si.child.kill('SIGKILL');
    }
  }, 240_000);

  it('the compared answers are mostly completions, not empty lists', () => {
    expect(answered).toHaveLength(CASES.length * TRIGGERS.length);
    expect(answered.filter((texts) => (texts[0] ?? '').trim().length > 0).length).toBeGreaterThanOrEqual(answered.length / 2);
  });

  it("the API's prefix mode (the README's example) asks as its document mode does", async () => {
    const c = CASES[0]!;
    const cut = c.text.split('\n').slice(0, c.line).join('\n').length + 1 + c.character;
    const documentKey = 'untitled:parity-prefix';
    const done = await api.call('complete', { prefix: c.text.slice(0, cut), suffix: c.text.slice(cut), languageId: c.languageId, documentKey }, 120_000);
    expect(done.error).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    const prefixMode = { request: fingerprint(wsErr, documentKey), texts: (done.result.candidates as Array<{ text: string }>).map((x) => x.text) };
    const documentMode = await viaApi({ ...c, name: 'add-again' }, 'manual');
    expect(prefixMode).toEqual(documentMode);
  }, 180_000);
});
