// The VS Code extension's pure parts (client/vscode/src without the `vscode` module): status-bar wording,
// the settings sent to the server, the enable toggles, partial-accept measuring and server location.
// The editor itself is covered by test/e2e/vscode.test.ts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { completionIdOf, measurePartialAccept, type ShownCompletion } from '../../client/vscode/src/partial.js';
import { ServerConfigError, resolveServer, serverEnv } from '../../client/vscode/src/server.js';
import { SERVER_KEYS, enableMap, isEnabledFor, missingModelFiles, serverSettings, toggleGlobal, toggleLanguage } from '../../client/vscode/src/settings.js';
import { statusView } from '../../client/vscode/src/status.js';
import { DEFAULT_DRAFT_TOKENS, DEFAULT_FAR_CONTEXT_TOKENS } from '../../server/src/engine/model-side.js';
import { ROOT } from '../e2e/spawn.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-vscode-units-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function reader(values: Record<string, unknown>) {
  return { get: <T>(key: string) => values[key] as T | undefined };
}

describe('statusView', () => {
  it('shows loading with the server message, ready with device and latency, and the reason of an error', () => {
    expect(statusView({ phase: 'starting' }, true, true).text).toBe('$(loading~spin) infill-ls: starting');
    expect(statusView({ phase: 'running', status: { state: 'loading', message: 'loading onnx/model.onnx' } }, true, true).text).toBe(
      '$(loading~spin) infill-ls: loading (loading onnx/model.onnx)',
    );
    expect(statusView({ phase: 'running', status: { state: 'ready', device: 'cpu' } }, true, true).text).toBe('$(check) infill-ls: ready · cpu');
    expect(statusView({ phase: 'running', status: { state: 'ready', device: 'cpu', lastLatencyMs: 85 } }, true, true).text).toBe('$(check) infill-ls: ready · cpu · 85 ms');
    const degraded = statusView({ phase: 'running', status: { state: 'degraded', message: '/x: model directory not found' } }, true, true);
    expect(degraded).toMatchObject({ text: '$(error) infill-ls: error: /x: model directory not found', severity: 'error' });
    expect(degraded.tooltip).toContain('infill-ls.modelDir');
    expect(statusView({ phase: 'failed', reason: 'the server exited 4 times' }, true, true).text).toBe('$(error) infill-ls: error: the server exited 4 times');
  });

  it('clips a long reason in the text and keeps it whole in the tooltip', () => {
    const reason = `${'/very/long/path'.repeat(10)}: model directory not found`;
    const view = statusView({ phase: 'running', status: { state: 'degraded', message: reason } }, true, true);
    expect(view.text.length).toBeLessThan(90);
    expect(view.text.endsWith('…')).toBe(true);
    expect(view.tooltip).toContain(reason);
  });

  it('says off globally or for the language, once the model is ready', () => {
    const ready = { phase: 'running', status: { state: 'ready', device: 'cpu' } } as const;
    expect(statusView(ready, false, false, 'typescript').text).toBe('$(circle-slash) infill-ls: off');
    expect(statusView(ready, true, false, 'typescript').text).toBe('$(circle-slash) infill-ls: off for typescript');
    expect(statusView(ready, true, undefined).text).toBe('$(check) infill-ls: ready · cpu');
  });
});

describe('serverSettings', () => {
  it('forwards only the server keys, resolving modelDir against the workspace and ~', () => {
    const settings = serverSettings(
      reader({ modelDir: 'models/mine', device: 'cpu', maxNewTokens: 32, 'server.path': '/x', 'trace.server': 'verbose', enable: { '*': true } }),
      '/work/project',
    );
    expect(settings).toEqual({ modelDir: '/work/project/models/mine', device: 'cpu', maxNewTokens: 32, enable: { '*': true } });
    expect(serverSettings(reader({ modelDir: '~/m' }), undefined)).toEqual({ modelDir: path.join(os.homedir(), 'm') });
    expect(serverSettings(reader({ modelDir: '/abs/m' }), '/work/project')).toEqual({ modelDir: '/abs/m' });
  });

  it('sends the default model for an empty modelDir, so clearing a wrong directory takes effect', () => {
    expect(serverSettings(reader({ modelDir: '' }), '/w')).toEqual({ modelDir: 'models/default' });
    expect(serverSettings(reader({ modelDir: '   ' }), '/w')).toEqual({ modelDir: 'models/default' });
  });

  it("forwards issue 17's accelerator options, which the manifest declares as integers that default to off", () => {
    expect(serverSettings(reader({ maxStallMs: 100, decodeKvWindow: 0 }), '/w')).toEqual({ maxStallMs: 100, decodeKvWindow: 0 });
    const properties = JSON.parse(fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'package.json'), 'utf8')).contributes.configuration.properties;
    expect(properties['infill-ls.maxStallMs']).toMatchObject({ type: 'integer', minimum: 0, maximum: 60000, default: 0 });
    expect(properties['infill-ls.decodeKvWindow']).toMatchObject({ type: 'integer', minimum: 0, maximum: 65536, default: 0 });
  });

  it("forwards issue 15's draftTokens, declared with the server's range and default", () => {
    expect(serverSettings(reader({ draftTokens: 0 }), '/w')).toEqual({ draftTokens: 0 });
    const properties = JSON.parse(fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'package.json'), 'utf8')).contributes.configuration.properties;
    expect(properties['infill-ls.draftTokens']).toMatchObject({ type: 'integer', minimum: 0, maximum: 64, default: DEFAULT_DRAFT_TOKENS });
  });

  it("forwards issue 15's wgslDecode, declared as a boolean whose default true means where it can run", () => {
    expect(SERVER_KEYS).toContain('wgslDecode');
    expect(serverSettings(reader({ wgslDecode: false }), '/w')).toEqual({ wgslDecode: false });
    expect(serverSettings(reader({ wgslDecode: true }), '/w')).toEqual({ wgslDecode: true });
    const properties = JSON.parse(fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'package.json'), 'utf8')).contributes.configuration.properties;
    expect(properties['infill-ls.wgslDecode']).toMatchObject({ type: 'boolean', default: true });
    expect(properties['infill-ls.wgslDecode'].markdownDescription).toContain('where it can run');
  });

  it('forwards farContextTokens, declared with the server\'s range and default', () => {
    expect(serverSettings(reader({ farContextTokens: 0 }), '/w')).toEqual({ farContextTokens: 0 });
    const properties = JSON.parse(fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'package.json'), 'utf8')).contributes.configuration.properties;
    expect(properties['infill-ls.farContextTokens']).toMatchObject({ type: 'integer', minimum: 0, maximum: 8192, default: DEFAULT_FAR_CONTEXT_TOKENS });
  });

  it('declares every forwarded key in the manifest and lists it in both READMEs', () => {
    const properties = JSON.parse(fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'package.json'), 'utf8')).contributes.configuration.properties;
    const clientReadme = fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'README.md'), 'utf8');
    // The main README's VS Code section: the bullet "Settings `infill-ls.modelDir`, … mirror the server's".
    const bullet = /^- Settings (`infill-ls\.modelDir`[\s\S]*?) mirror the server's/m.exec(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(bullet).not.toBeNull();
    const listed = [...bullet![1]!.matchAll(/`(?:infill-ls\.)?([A-Za-z]+)`/g)].map((m) => m[1]);
    for (const key of SERVER_KEYS) {
      expect(properties[`infill-ls.${key}`], key).toBeDefined();
      expect(clientReadme, key).toContain(`| \`infill-ls.${key}\` |`);
    }
    expect(listed).toEqual([...SERVER_KEYS]);
  });

  it('passes values of the wrong type through for the server to reject with its own message', () => {
    expect(serverSettings(reader({ maxNewTokens: 'many', modelDir: 7 }), '/w')).toEqual({ maxNewTokens: 'many', modelDir: 7 });
  });
});

describe('enable toggles', () => {
  it('reads the map like the server and flips one language or all', () => {
    expect(enableMap(false)).toEqual({ '*': false });
    expect(enableMap({ '*': true, markdown: false, bad: 'x' })).toEqual({ '*': true, markdown: false });
    expect(enableMap('nonsense')).toEqual({ '*': true });
    expect(isEnabledFor({ '*': false, python: true }, 'python')).toBe(true);
    expect(isEnabledFor({ '*': false, python: true }, 'typescript')).toBe(false);
    expect(toggleGlobal({ '*': true, python: true })).toEqual({ '*': false, python: true });
    expect(toggleGlobal({})).toEqual({ '*': false });
    expect(toggleLanguage({ '*': true }, 'typescript')).toEqual({ '*': true, typescript: false });
    expect(toggleLanguage({ '*': false }, 'typescript')).toEqual({ '*': false, typescript: true });
  });
});

describe('measurePartialAccept', () => {
  const shown: ShownCompletion = {
    uri: 'file:///a.ts',
    startOffset: 9,
    textBefore: '  return ',
    items: [{ completionId: '3.0', text: 'a + b;\n}' }],
  };

  it('measures how much of the item the document holds up to the cursor', () => {
    expect(measurePartialAccept(shown, '  return a\n', 10)).toEqual({ completionId: '3.0', uri: 'file:///a.ts', acceptedLength: 1, complete: false });
    expect(measurePartialAccept(shown, '  return a + b;\n}\n', 17)).toMatchObject({ acceptedLength: 8, complete: true });
  });

  it('ignores edits that are not an acceptance of the item', () => {
    expect(measurePartialAccept(shown, '  return x\n', 10)).toBeUndefined(); // other text
    expect(measurePartialAccept(shown, '  return ', 9)).toBeUndefined(); // nothing inserted
    expect(measurePartialAccept(shown, '  retur a', 9)).toBeUndefined(); // the text before changed
  });

  it('reads the completionId from the item command', () => {
    expect(completionIdOf({ arguments: [{ completionId: '7.1' }] })).toBe('7.1');
    expect(completionIdOf({ arguments: [] })).toBeUndefined();
    expect(completionIdOf(undefined)).toBeUndefined();
  });
});

describe('resolveServer', () => {
  it('runs a checkout named by infill-ls.server.path (folder or bin/infill-ls.js) with `serve` and the extra args', () => {
    const launch = resolveServer('/ext', ROOT, '', ['--device', 'cpu']);
    expect(launch).toMatchObject({ module: path.join(ROOT, 'bin', 'infill-ls.js'), root: path.resolve(ROOT), runtime: undefined, bundled: false, args: ['serve', '--device', 'cpu'] });
    expect(resolveServer('/ext', path.join(ROOT, 'bin', 'infill-ls.js'), process.execPath, []).runtime).toBe(process.execPath);
  });

  it('explains what is wrong with a missing path, a folder that is not infill-ls, an unbuilt checkout or a missing runtime', () => {
    expect(() => resolveServer('/ext', '/nonexistent/infill-ls', '', [])).toThrow(new ServerConfigError('infill-ls.server.path "/nonexistent/infill-ls" does not exist'));
    expect(() => resolveServer(tmp, '', '', [])).toThrow(/has no bundled server/);
    expect(() => resolveServer('/ext', tmp, '', [])).toThrow(`${tmp} is not an infill-ls folder: ${path.join(tmp, 'bin', 'infill-ls.js')} is missing`);
    const unbuilt = path.join(tmp, 'unbuilt');
    fs.mkdirSync(path.join(unbuilt, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(unbuilt, 'bin', 'infill-ls.js'), '');
    expect(() => resolveServer('/ext', unbuilt, '', [])).toThrow(`run "npm ci && npm run build" in ${unbuilt}`);
    expect(() => resolveServer('/ext', ROOT, '/nonexistent/node', [])).toThrow('infill-ls.server.runtime "/nonexistent/node" does not exist');
  });
});

describe('missingModelFiles', () => {
  it('names the files a model directory lacks', () => {
    expect(missingModelFiles(() => true, ['model_quantized.onnx'])).toEqual([]);
    expect(missingModelFiles((f) => f === 'config.json', [])).toEqual(['tokenizer.json', 'onnx/*.onnx']);
  });
});

describe('untrusted workspaces (Restricted Mode)', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'client', 'vscode', 'package.json'), 'utf8'));
  const untrusted = manifest.capabilities?.untrustedWorkspaces;
  const settings: Record<string, { type?: string; scope?: string }> = manifest.contributes.configuration.properties;

  it('declares limited support, so the extension runs there and says what is restricted', () => {
    // Without the declaration VS Code leaves the extension off in Restricted Mode, with no status item and no reason.
    expect(untrusted?.supported).toBe('limited');
    expect(untrusted.description).toMatch(/user settings/);
  });

  it('takes every setting that chooses a file to load or a program to run from the user settings only', () => {
    const restricted: string[] = untrusted.restrictedConfigurations;
    for (const key of restricted) expect(Object.keys(settings), key).toContain(key);
    // Paths and arguments: the model directory (onnxruntime loads its files), the server checkout, its runtime, extra args.
    const chooseWhatRuns = Object.keys(settings).filter((k) => /modelDir|server\.(path|runtime|extraArgs)/.test(k));
    expect(chooseWhatRuns).toHaveLength(4);
    expect(restricted.slice().sort()).toEqual(chooseWhatRuns.sort());
    // The rest only tune the same bundled server and model (device, token counts, debounce, enable, trace).
    for (const key of Object.keys(settings).filter((k) => !restricted.includes(k))) expect(settings[key].type, key).toMatch(/^(string|integer|object|boolean)$/);
  });
});

describe('serverEnv', () => {
  it("starts the server with onnxruntime's telemetry off, keeping the host's environment", () => {
    const env = serverEnv({ PATH: '/bin', ORT_DISABLE_TELEMETRY: '0' });
    expect(env).toEqual({ PATH: '/bin', ORT_DISABLE_TELEMETRY: '1', MALLOC_MMAP_THRESHOLD_: '131072' });
  });
  it("fixes glibc's mmap threshold (the load-time dequantization's intermediates go back to the system) unless the user set one", () => {
    expect(serverEnv({ MALLOC_MMAP_THRESHOLD_: '65536' }).MALLOC_MMAP_THRESHOLD_).toBe('65536');
  });
});
