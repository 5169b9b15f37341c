// End-to-end test of the VS Code extension in client/vscode in real VS Code: code-server 4.100.3
// (VS Code 1.100.3) in headless Chromium driven by playwright-core, all installed by
// .ci/install-editors.sh. The .vsix is built by the repository's packaging script (self-contained:
// bundled server and default model), installed with `code-server --install-extension`, and then:
// the status bar goes loading → ready, typing in a TypeScript file shows the default model's ghost
// text, Tab inserts it, Ctrl+Right accepts one word and reports infill-ls/didPartiallyAcceptCompletion,
// and a wrong infill-ls.modelDir shows a readable error in the status bar. On failure a screenshot,
// the code-server log and the extension's log are saved under .work/vscode-test/.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BIN, ROOT } from './spawn.js';
import { ORIGINAL } from './nvim-harness.js';
import { CHROMIUM_ARGS, installExtension, packageVsix, requireEditors, startCodeServer, type CodeServerDirs, type Editors, type RunningCodeServer } from './vscode-harness.js';

const TEST_FILE = 'test/e2e/vscode.test.ts';
/** Typed at the end of ORIGINAL (auto-closing and auto-indent are off, so the text is exactly this). */
const TYPED = '\nexport function add(a: number, b: number): number {\n  return ';
const TYPED_2 = '\n\nexport function mul(a: number, b: number): number {\n  return ';
const WRONG_MODEL_DIR = '/nonexistent/infill-ls-model';
const ARTIFACTS = path.join(ROOT, '.work', 'vscode-test');

const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  // Keystrokes produce exactly TYPED: no auto-closed brackets, no auto-indent, no suggest widget over Tab.
  'editor.autoClosingBrackets': 'never',
  'editor.autoClosingQuotes': 'never',
  'editor.autoIndent': 'none',
  'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
  'editor.suggestOnTriggerCharacters': false,
  'editor.wordBasedSuggestions': 'off',
  'editor.inlineSuggest.enabled': true,
  'files.autoSave': 'off',
  'infill-ls.device': 'cpu',
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-vscode-'));
const folder = path.join(tmp, 'project');
const file = path.join(folder, 'sample.ts');
const dirs: CodeServerDirs = {
  userDataDir: path.join(tmp, 'user-data'),
  extensionsDir: path.join(tmp, 'extensions'),
  configFile: path.join(tmp, 'code-server.yaml'),
};
const settingsFile = path.join(dirs.userDataDir, 'User', 'settings.json');

let editors: Editors;
let server: RunningCodeServer | undefined;
let browser: any;
let page: any;

/** Status-bar texts of the infill-ls item, in the order the page showed them (recorded in the page). */
async function statusHistory(): Promise<string[]> {
  return page.evaluate(() => (window as any).__infillStatus as string[]);
}

async function statusText(): Promise<string> {
  const history = await statusHistory();
  return history[history.length - 1] ?? '';
}

async function waitForStatus(predicate: (text: string) => boolean, what: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await statusText();
    if (predicate(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the status bar to show ${what}; history: ${JSON.stringify(await statusHistory())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the status went through loading to ready after the first `seen` entries of the history. */
async function waitForReload(seen: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const history = (await statusHistory()).slice(seen);
    const loading = history.findIndex((t) => t.startsWith('infill-ls: loading'));
    if (loading >= 0 && history[history.length - 1]!.startsWith('infill-ls: ready')) return history;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for loading → ready; history since: ${JSON.stringify(history)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The ghost text VS Code renders: the part on the cursor line plus any lines of its view zone below. */
async function ghostText(): Promise<string> {
  return page.evaluate(() => {
    const clean = (s: string | null): string => (s ?? '').replace(/\u00a0/g, ' ');
    const editor = document.querySelector('.monaco-editor.focused') ?? document.querySelector('.monaco-editor');
    if (!editor) return '';
    const inline = [...editor.querySelectorAll('.view-lines .ghost-text-decoration')].map((e) => clean(e.textContent)).join('');
    // Lines after the first are rendered in a view zone below the cursor line.
    const below = [...editor.querySelectorAll('.view-zones .suggest-preview-text .view-line')].map((e) => clean(e.textContent));
    return below.length > 0 ? `${inline}\n${below.join('\n')}` : inline;
  });
}

async function waitForGhost(timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ghost = await ghostText();
    if (ghost.trim().length > 0) {
      // Let VS Code settle on the answer to the last keystroke: the same text for 1.5 s.
      await new Promise((r) => setTimeout(r, 1500));
      const again = await ghostText();
      if (again === ghost) return ghost;
    }
    if (Date.now() > deadline) throw new Error(`no ghost text within ${timeoutMs} ms; status: ${await statusText()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs a command by its palette title (F1, type, Enter). */
async function runCommand(title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  // The row whose label is exactly the title ("… Completions" is also a prefix of "… Completions for the Current Language").
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact }) });
  await row.first().click({ timeout: 10_000 });
}

/**
 * Saves with Ctrl+S until the file on disk holds more than `before` (an accept through the extension's
 * command reaches the document after a round trip to the extension host, so one early save can miss it).
 */
async function saveUntilLonger(before: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await page.keyboard.press('Control+S');
    await new Promise((r) => setTimeout(r, 300));
    const text = fs.readFileSync(file, 'utf8');
    if (text.startsWith(before) && text.length > before.length) return text;
    if (Date.now() > deadline) throw new Error(`the saved file never grew past the typed text within 15 s: ${JSON.stringify(text.slice(-300))}`);
  }
}

/** The extension's log channel (with verbose LSP tracing) as VS Code wrote it under the user-data dir. */
function extensionLog(): string {
  const logs = path.join(dirs.userDataDir, 'logs');
  if (!fs.existsSync(logs)) return '';
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/infill-ls/i.test(entry.name) && entry.name.endsWith('.log')) found.push(p);
    }
  };
  walk(logs);
  return found.map((p) => fs.readFileSync(p, 'utf8')).join('\n');
}

/** The first `count` infill-ls/didPartiallyAcceptCompletion notifications the extension logged as sent. */
async function partialAccepts(count: number): Promise<Array<{ completionId: string; acceptedLength: number }>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const log = extensionLog();
    const sent = [...log.matchAll(/sent infill-ls\/didPartiallyAcceptCompletion \{"completionId":"([^"]+)","uri":"file:[^"]*sample\.ts","acceptedLength":(\d+)\}/g)].map((m) => ({
      completionId: m[1]!,
      acceptedLength: Number(m[2]),
    }));
    if (sent.length >= count) return sent.slice(0, count);
    if (Date.now() > deadline) throw new Error(`expected ${count} partial accepts in the extension log within 15 s, got ${sent.length}; log: ${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What `infill-ls complete` prints for the end of `text` with the same model (the CLI's own engine). */
function cliCompletion(text: string): string {
  const sample = path.join(tmp, 'cli-sample.ts');
  fs.writeFileSync(sample, text);
  const lines = text.split('\n');
  const out = execFileSync(process.execPath, [BIN, 'complete', sample, '--line', String(lines.length), '--column', String(lines[lines.length - 1]!.length + 1), '--device', 'cpu', '--trigger', 'automatic', '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(out) as { completion: string }).completion;
}

/**
 * Packages and installs the extension, starts code-server and opens it in Chromium, once. Every test awaits
 * it first, so a missing code-server fails each test with the install hint instead of skipping them.
 */
let setupOnce: Promise<void> | undefined;
function setup(): Promise<void> {
  setupOnce ??= startEditor();
  return setupOnce;
}

async function startEditor(): Promise<void> {
  editors = requireEditors(TEST_FILE);
  fs.mkdirSync(folder, { recursive: true });
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  fs.writeFileSync(file, ORIGINAL);
  fs.writeFileSync(settingsFile, JSON.stringify(USER_SETTINGS, null, 2));
  const vsix = await packageVsix(tmp);
  await installExtension(editors, dirs, vsix);
  server = await startCodeServer(editors, dirs, folder);
  browser = await editors.playwright.chromium.launch({ executablePath: editors.chromium, args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  // Record every text the infill-ls status-bar item shows, from the first paint on.
  await page.addInitScript(() => {
    const w = window as any;
    w.__infillStatus = [] as string[];
    w.__infillProgress = [] as string[];
    const record = (): void => {
      // The extension's item (id "<extension id>.infill-ls.status"); VS Code's progress item for the
      // server's window/workDoneProgress also starts with "infill-ls" and is recorded apart.
      for (const item of document.querySelectorAll('.statusbar-item')) {
        const text = (item.textContent ?? '').replace(/\u00a0/g, ' ').trim();
        const list = item.id.endsWith('infill-ls.status') ? w.__infillStatus : text.startsWith('infill-ls') ? w.__infillProgress : undefined;
        if (list !== undefined && list[list.length - 1] !== text) list.push(text);
      }
    };
    new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(server.url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
}

describe('VS Code extension (client/vscode) in code-server with the default model', () => {
  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail' || page === undefined) return;
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
    const shot = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: shot }).catch(() => {});
    fs.writeFileSync(path.join(ARTIFACTS, `${name}.code-server.log`), server?.log() ?? '');
    fs.writeFileSync(path.join(ARTIFACTS, `${name}.extension.log`), extensionLog());
    console.error(`${TEST_FILE}: "${context.task.name}" failed; screenshot and logs in ${ARTIFACTS}/${name}.*`);
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  it('shows loading, then ready with the device and latency, in the status bar', async () => {
    await setup();
    await page.getByRole('treeitem', { name: 'sample.ts' }).click({ timeout: 60_000 });
    await page.waitForSelector('.monaco-editor .view-lines:has-text("square")', { timeout: 30_000 });
    const ready = await waitForStatus((t) => t.includes('ready') || t.includes('error'), '"ready"', 120_000);
    expect(ready).toMatch(/^infill-ls: ready · cpu/);
    const history = await statusHistory();
    // A loading state the server reported (the extension's own placeholder says "waiting for the server").
    const loading = history.findIndex((t) => t.startsWith('infill-ls: loading') && !t.includes('waiting for the server'));
    expect(loading, JSON.stringify(history)).toBeGreaterThanOrEqual(0);
    expect(history.indexOf(ready), JSON.stringify(history)).toBeGreaterThan(loading);
    expect(history.some((t) => t.includes('error')), JSON.stringify(history)).toBe(false);
    // While it loaded, VS Code also showed the server's window/workDoneProgress ("infill-ls: <message>").
    const progress = await page.evaluate(() => (window as any).__infillProgress as string[]);
    expect(progress.length, JSON.stringify(progress)).toBeGreaterThan(0);
  }, 420_000);

  it('shows the default model\'s ghost text while typing and inserts it on Tab', async () => {
    await setup();
    await page.click('.monaco-editor .view-lines');
    await page.keyboard.press('Control+End');
    await page.keyboard.type(TYPED, { delay: 40 });
    const ghost = await waitForGhost(30_000);
    const before = ORIGINAL + TYPED;

    await page.keyboard.press('Tab');
    const after = await saveUntilLonger(before);
    const inserted = after.slice(before.length);
    // Tab inserted exactly the rendered ghost text, at the cursor.
    expect(inserted.trim().length).toBeGreaterThan(0);
    expect(inserted).toBe(ghost);
    // And it is what the default model completes for this text (the CLI runs the same engine).
    expect(inserted).toBe(cliCompletion(before));
    // The status bar now shows the latency of the completion.
    expect(await statusText()).toMatch(/^infill-ls: ready · cpu · \d+ ms$/);
  }, 90_000);

  it('accepts a word with Ctrl+Right and the rest of the line with Ctrl+Alt+Right, reporting each to the server', async () => {
    await setup();
    const saved = fs.readFileSync(file, 'utf8');
    await page.keyboard.press('Control+End');
    await page.keyboard.type(TYPED_2, { delay: 40 });
    const ghost = await waitForGhost(30_000);
    const before = saved + TYPED_2;

    await page.keyboard.press('Control+ArrowRight');
    const afterWord = await saveUntilLonger(before);
    const word = afterWord.slice(before.length);
    expect(word.length).toBeLessThan(ghost.length);
    expect(ghost.startsWith(word), JSON.stringify({ ghost, word })).toBe(true);
    // The extension sent infill-ls/didPartiallyAcceptCompletion with the accepted length (its log says so).
    const [first] = await partialAccepts(1);
    expect(first!.acceptedLength).toBe(word.length);

    // The rest of the ghost's line (VS Code may have asked the server again after the edit: read it anew).
    const rest = await waitForGhost(30_000);
    await page.keyboard.press('Control+Alt+ArrowRight');
    const afterLine = await saveUntilLonger(afterWord);
    const line = afterLine.slice(afterWord.length);
    expect(rest.startsWith(line), JSON.stringify({ rest, line })).toBe(true);
    const [, second] = await partialAccepts(2);
    // Measured from the start of the item it belongs to: the first one (word + line) or a newer one (line only).
    expect(second!.acceptedLength).toBe(second!.completionId === first!.completionId ? word.length + line.length : line.length);
    await page.keyboard.press('Escape');
  }, 120_000);

  it('shows a readable error for a wrong model directory, and loads the bundled model again from the command', async () => {
    await setup();
    // The user settings name a model directory that does not exist; the window reloads (a new extension host).
    fs.writeFileSync(settingsFile, JSON.stringify({ ...USER_SETTINGS, 'infill-ls.modelDir': WRONG_MODEL_DIR }, null, 2));
    await page.reload();
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    const error = await waitForStatus((t) => t.includes('error') || t.includes('ready'), 'an error', 120_000);
    expect(error).toBe(`infill-ls: error: ${WRONG_MODEL_DIR}: model directory not found`);

    // "infill-ls: Use the Bundled Default Model" clears the setting; the server reloads the default model.
    const seen = (await statusHistory()).length;
    await runCommand('infill-ls: Use the Bundled Default Model');
    await waitForReload(seen, 60_000);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))).not.toHaveProperty(['infill-ls.modelDir']);
  }, 240_000);

  it('refuses a folder that is not a model in "Choose Model Directory…", and loads one that is', async () => {
    await setup();
    const choose = async (dir: string): Promise<void> => {
      await runCommand('infill-ls: Choose Model Directory…');
      // code-server's own file dialog: a path box; a trailing slash enters the folder, the OK button picks it.
      // Wait for the dialog to put its starting folder in the box (or it lands after our path).
      await page.waitForFunction(() => (document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value.startsWith('/') === true, null, {
        timeout: 10_000,
      });
      const input = page.locator('.quick-input-widget input');
      // The dialog may still replace the box's value with its starting folder after we typed (it did on a loaded
      // machine): type again until our path stays put for a second.
      for (let attempt = 0; attempt < 8; attempt++) {
        await input.fill(`${dir}/`);
        await page.waitForTimeout(1000);
        if ((await input.inputValue()) === `${dir}/`) break;
      }
      expect(await input.inputValue()).toBe(`${dir}/`);
      await page.locator('.quick-input-widget .monaco-button', { hasText: 'Use this model' }).click({ timeout: 10_000 });
    };
    await choose(folder);
    const toast = page.locator('.notifications-toasts', { hasText: 'is not a model directory' });
    await toast.waitFor({ timeout: 15_000 });
    expect(await toast.innerText()).toContain(`${folder} is not a model directory (missing config.json, tokenizer.json, onnx/*.onnx); the setting was not changed.`);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))).not.toHaveProperty(['infill-ls.modelDir']);

    const model = path.join(dirs.extensionsDir, 'infill-ls.infill-ls-0.1.0', 'server', 'models', 'default');
    const seen = (await statusHistory()).length;
    await choose(model);
    // The server reloads the engine for the new directory: loading, then ready.
    await waitForReload(seen, 60_000);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['infill-ls.modelDir']).toBe(model);
  }, 120_000);

  it('turns completions off and on for the current language and globally from the command palette', async () => {
    await setup();
    await page.getByRole('treeitem', { name: 'sample.ts' }).click({ timeout: 30_000 });
    await page.waitForSelector('.monaco-editor .view-lines:has-text("square")', { timeout: 30_000 });
    await runCommand('infill-ls: Enable/Disable Completions for the Current Language');
    await waitForStatus((t) => t === 'infill-ls: off for typescript', '"off for typescript"', 30_000);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['infill-ls.enable']).toEqual({ '*': true, typescript: false });

    await runCommand('infill-ls: Enable/Disable Completions for the Current Language');
    await waitForStatus((t) => t.startsWith('infill-ls: ready'), '"ready" again', 30_000);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['infill-ls.enable']).toEqual({ '*': true, typescript: true });

    // The global switch: "*" goes off (languages set explicitly keep their value), then on again.
    await runCommand('infill-ls: Enable/Disable Completions');
    await waitForStatus((t) => t === 'infill-ls: off', '"off"', 30_000);
    expect(JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['infill-ls.enable']).toEqual({ '*': false, typescript: true });
    await runCommand('infill-ls: Enable/Disable Completions');
    await waitForStatus((t) => t.startsWith('infill-ls: ready'), '"ready" again', 30_000);
  }, 90_000);
});
