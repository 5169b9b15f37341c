// A model that cannot be loaded over LSP: window/showMessage (Error) with the reason, once per distinct failure, on
// start and after a modelDir change via didChangeConfiguration; the server keeps running.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { INLINE_CAPABILITIES, startHarness, type Harness } from './harness.js';
import { fakeFactory } from '../support/fake-engine.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const shown = (h: Harness) => h.notifications.filter((n) => n.method === 'window/showMessage').map((n) => n.params as { type: number; message: string });

describe('model failures are shown to the user', () => {
  it('shows the reason once per distinct failure, on start and after a settings change', async () => {
    const engines = fakeFactory();
    // The factory fails for model folders that do not exist, like the real one, and serves the others.
    const factory = (options: { modelDir: string }) => {
      if (!fs.existsSync(options.modelDir)) throw new Error(`${options.modelDir}: model directory not found`);
      return engines.factory(options as never);
    };
    const defaults = cloneSettings(DEFAULT_SETTINGS);
    defaults.modelDir = '/nonexistent/nomodel';
    harness = await startHarness({ factory: factory as never, baseDir: '/pkg', defaults, sleep: async () => {} }, { capabilities: INLINE_CAPABILITIES });
    const h = harness;
    const first = await h.waitFor('window/showMessage', (m) => /nomodel: model directory not found/.test(m.message));
    expect(first.type).toBe(1); // MessageType.Error
    // Another settings push that leaves the model as it is: no second message for the same failure.
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { debounce: 10 } } });
    await expect.poll(() => h.server.settings().debounce.fixedMs).toBe(10);
    // A different bad folder: a new message.
    h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { modelDir: '/nonexistent/other' } } });
    await h.waitFor('window/showMessage', (m) => /other: model directory not found/.test(m.message));
    // A good folder: ready, no message; then the first bad one again is news again.
    const good = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-good-model-'));
    try {
      h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { modelDir: good } } });
      await h.waitFor('infill-ls/status', (s) => s.state === 'ready');
      h.client.sendNotification('workspace/didChangeConfiguration', { settings: { 'infill-ls': { modelDir: '/nonexistent/nomodel' } } });
      await expect.poll(() => shown(h).filter((m) => /nomodel/.test(m.message)).length).toBe(2);
    } finally {
      fs.rmSync(good, { recursive: true, force: true });
    }
    expect(shown(h).map((m) => m.message.replace(/^.*\/nonexistent\//, ''))).toEqual([
      'nomodel: model directory not found',
      'other: model directory not found',
      'nomodel: model directory not found',
    ]);
  });
});
