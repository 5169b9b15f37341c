// End-to-end test with a real client no one here wrote: headless Neovim (Debian's 0.7.2) starts
// `infill-ls serve --stdio` on the default model, types a function header through insert mode and asks
// for completions at the cursor. The Lua side is test/e2e/nvim/init.lua; it writes what it saw as JSON.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from './spawn.js';
import { KEYS, ORIGINAL, requireNvim, runNvim } from './nvim-harness.js';

const INIT = path.join(ROOT, 'test', 'e2e', 'nvim', 'init.lua');
const NVIM_TIMEOUT_MS = 60_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-nvim-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface LspResponse<T> {
  error?: { code: number; message: string };
  result?: T;
}
interface NvimReport {
  error?: string;
  nvim: { major: number; minor: number; patch: number };
  filetype: string;
  statuses: Array<{ state: string; message?: string }>;
  server_capabilities: Record<string, unknown>;
  mode: string;
  text: string;
  position: { line: number; character: number };
  completion?: LspResponse<{ isIncomplete: boolean; items: Array<{ label: string; textEdit?: { newText: string; range: unknown } }> }>;
  inline?: LspResponse<{ items: Array<{ insertText: string; range: unknown }> }>;
  completion_ms: number;
  inline_ms: number;
  server_exit: { code: number; signal: number };
  log: string[];
}

/** The engine's own answer for the same text and position, from `infill-ls complete` (a fresh process). */
function cliCompletion(file: string, line: number, column: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, 'complete', file, '--line', String(line), '--column', String(column), '--device', 'cpu', '--json'],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`infill-ls complete failed: ${err.message}; stderr: ${stderr}`));
        else resolve((JSON.parse(stdout) as { completion: string }).completion);
      },
    );
  });
}

describe('Neovim (headless, real client) with the default model', () => {
  it('starts infill-ls over stdio, and completes a function header typed in insert mode with the model’s text', async () => {
    const version = requireNvim('test/e2e/neovim.test.ts');
    expect(version).toMatch(/^NVIM v0\.(\d\d|[7-9])\./);

    const file = path.join(tmp, 'sample.ts');
    const out = path.join(tmp, 'result.json');
    fs.writeFileSync(file, ORIGINAL);
    const run = await runNvim(INIT, file, { INFILL_LS_NVIM_OUT: out, INFILL_LS_NVIM_KEYS: KEYS, INFILL_LS_NVIM_WAIT_MS: '30000' }, NVIM_TIMEOUT_MS);
    const detail = `nvim exit ${run.code}; stderr: ${run.stderr.slice(-2000)}; report: ${fs.existsSync(out) ? fs.readFileSync(out, 'utf8').slice(0, 3000) : '(none)'}`;
    expect(fs.existsSync(out), detail).toBe(true);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as NvimReport;
    expect(report.error, detail).toBeUndefined();
    expect(run.code, detail).toBe(0);

    // The client negotiated inline completion and saw the model load.
    expect(report.filetype).toBe('typescript');
    expect(report.server_capabilities.inlineCompletionProvider).toBe(true);
    expect(report.statuses.at(-1)?.state, detail).toBe('ready');

    // The edit happened in Neovim, through insert mode, and the cursor sits after the typed `return `.
    expect(report.mode).toBe('i');
    expect(report.text).toBe(`${ORIGINAL}\nexport function add(a: number, b: number): number {\n  return \n`);
    expect(report.position).toEqual({ line: 7, character: 9 });

    // Both requests answered without error and with non-empty model text at the cursor.
    expect(report.completion?.error, detail).toBeUndefined();
    expect(report.inline?.error, detail).toBeUndefined();
    const items = report.completion?.result?.items ?? [];
    const inlineItems = report.inline?.result?.items ?? [];
    expect(items.length, detail).toBeGreaterThan(0);
    expect(inlineItems.length, detail).toBeGreaterThan(0);
    const inlineText = inlineItems[0].insertText;
    const classicText = items[0].textEdit?.newText ?? '';
    expect(inlineText.trim().length).toBeGreaterThan(0);
    expect(inlineItems[0].range).toEqual({ start: report.position, end: report.position });
    expect(items[0].textEdit?.range).toEqual({ start: report.position, end: report.position });
    // Nothing typed is an identifier at the cursor, so the classic item inserts exactly the candidate.
    expect(classicText).toBe(inlineText);

    // It is the default model's completion of the edited text: the CLI engine, given Neovim's buffer
    // text and cursor (1-based), produces the same greedy completion.
    const edited = path.join(tmp, 'edited.ts');
    fs.writeFileSync(edited, report.text);
    const expected = await cliCompletion(edited, report.position.line + 1, report.position.character + 1);
    expect(expected.trim().length).toBeGreaterThan(0);
    expect(inlineText).toBe(expected);
    // …and it continues the typed header sensibly: the returned expression uses a parameter.
    expect(inlineText.split('\n', 1)[0], `completion: ${JSON.stringify(inlineText)}`).toMatch(/\b[ab]\b/);

    // Neovim shut the server down cleanly (shutdown + exit).
    expect(report.server_exit).toEqual({ code: 0, signal: 0 });
    expect(report.completion_ms + report.inline_ms).toBeLessThan(20_000);
  }, 150_000);
});
