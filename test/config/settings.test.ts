// Tests of settings validation: sections, partial updates, precise messages, per-language enable.

import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, ENGINE_SETTINGS, applySettings, isLanguageEnabled } from '../../server/src/config/settings.js';
import { engineOptions, localModelOptions } from '../../server/src/config/engine-host.js';
import { DEFAULT_DECODE } from '../../server/src/engine/decode.js';

describe('applySettings', () => {
  it('accepts the "infill-ls" section, the infillLs key, or bare settings', () => {
    for (const raw of [{ 'infill-ls': { maxNewTokens: 8 } }, { infillLs: { maxNewTokens: 8 } }, { maxNewTokens: 8 }]) {
      const update = applySettings(DEFAULT_SETTINGS, raw);
      expect(update.errors).toEqual([]);
      expect(update.settings.maxNewTokens).toBe(8);
      expect(update.changed).toEqual(['maxNewTokens']);
    }
  });

  it('keeps everything for null/undefined and reports non-objects', () => {
    expect(applySettings(DEFAULT_SETTINGS, null).settings).toEqual(DEFAULT_SETTINGS);
    expect(applySettings(DEFAULT_SETTINGS, 'x').errors).toEqual(['infill-ls settings must be an object, got "x"']);
  });

  it('rejects bad values field by field with precise messages and keeps the previous values', () => {
    const update = applySettings(DEFAULT_SETTINGS, {
      modelDir: '',
      device: 'tpu',
      maxNewTokens: 0,
      cacheBudgetMb: 1.5,
      debounce: { mode: 'sometimes', minMs: 500, maxMs: 100 },
      enable: { python: 'yes' },
      colour: 'red',
    });
    expect(update.settings).toEqual(DEFAULT_SETTINGS);
    expect(update.errors).toEqual([
      'infill-ls.modelDir must be a non-empty path, got ""',
      'infill-ls.device must be one of auto, cpu, cuda, webgpu, got "tpu"',
      'infill-ls.maxNewTokens must be an integer in 1..1024, got 0',
      'infill-ls.cacheBudgetMb must be an integer in 0..65536, got 1.5',
      'infill-ls.debounce.mode must be "adaptive" or "fixed", got "sometimes"',
      'infill-ls.debounce.minMs (500) must not exceed debounce.maxMs (100)',
      'infill-ls.enable.python must be a boolean, got "yes"',
      'infill-ls.colour is not a known setting (known: modelDir, device, maxNewTokens, cacheBudgetMb, decodeMode, selfInfillLoops, selfInfillTau, debounce, enable, crossFileContext, backend, maxStallMs, decodeKvWindow, draftTokens, wgslDecode, farContextTokens)',
    ]);
  });

  it('decode mode settings: values, ranges, and the defaults of the engine', () => {
    const ok = applySettings(DEFAULT_SETTINGS, { decodeMode: 'self-infill', selfInfillLoops: 2, selfInfillTau: 0.1 });
    expect(ok.errors).toEqual([]);
    expect(ok.settings).toMatchObject({ decodeMode: 'self-infill', selfInfillLoops: 2, selfInfillTau: 0.1 });
    expect(ok.changed).toEqual(['decodeMode', 'selfInfillLoops', 'selfInfillTau']);
    expect(applySettings(DEFAULT_SETTINGS, { decodeMode: 'beam', selfInfillLoops: 3, selfInfillTau: 2 }).errors).toEqual([
      'infill-ls.decodeMode must be "fim" or "self-infill", got "beam"',
      'infill-ls.selfInfillLoops must be an integer in 0..2, got 3',
      'infill-ls.selfInfillTau must be a number in 0..1, got 2',
    ]);
    expect({ mode: DEFAULT_SETTINGS.decodeMode, loops: DEFAULT_SETTINGS.selfInfillLoops, tau: DEFAULT_SETTINGS.selfInfillTau }).toEqual(DEFAULT_DECODE);
  });

  it("issue 17's accelerator options: unset by default, integers with units and ranges, 0 is off, both restart the engine", () => {
    expect(DEFAULT_SETTINGS.maxStallMs).toBeUndefined();
    expect(DEFAULT_SETTINGS.decodeKvWindow).toBeUndefined();
    const ok = applySettings(DEFAULT_SETTINGS, { maxStallMs: 100, decodeKvWindow: 256 });
    expect(ok.errors).toEqual([]);
    expect(ok.settings).toMatchObject({ maxStallMs: 100, decodeKvWindow: 256 });
    expect(ok.changed).toEqual(['maxStallMs', 'decodeKvWindow']);
    expect(ENGINE_SETTINGS).toEqual(expect.arrayContaining(['maxStallMs', 'decodeKvWindow']));
    const off = applySettings(ok.settings, { maxStallMs: 0, decodeKvWindow: 0 });
    expect(off.settings).toMatchObject({ maxStallMs: 0, decodeKvWindow: 0 });
    expect(off.changed).toEqual(['maxStallMs', 'decodeKvWindow']);
    const bad = applySettings(ok.settings, { maxStallMs: -5, decodeKvWindow: '256' });
    expect(bad.errors).toEqual([
      'infill-ls.maxStallMs must be an integer number of milliseconds in 0..60000 (0: off), got -5',
      'infill-ls.decodeKvWindow must be an integer number of tokens in 0..65536 (0: off), got "256"',
    ]);
    expect(bad.settings).toMatchObject({ maxStallMs: 100, decodeKvWindow: 256 });
    expect(applySettings(DEFAULT_SETTINGS, { maxStallMs: 12.5, decodeKvWindow: 65537 }).errors).toHaveLength(2);
  });

  it("issue 15's draftTokens: unset by default, an integer in 0..64 (0 off) that restarts the engine and reaches the model side only when set", () => {
    expect(DEFAULT_SETTINGS.draftTokens).toBeUndefined();
    const ok = applySettings(DEFAULT_SETTINGS, { draftTokens: 4 });
    expect(ok.errors).toEqual([]);
    expect(ok.changed).toEqual(['draftTokens']);
    expect(ENGINE_SETTINGS).toContain('draftTokens');
    expect(localModelOptions(engineOptions(ok.settings, '/pkg')).draftTokens).toBe(4);
    expect('draftTokens' in localModelOptions(engineOptions(DEFAULT_SETTINGS, '/pkg'))).toBe(false);
    expect(applySettings(ok.settings, { draftTokens: 0 }).settings.draftTokens).toBe(0);
    const bad = applySettings(ok.settings, { draftTokens: 65 });
    expect(bad.errors).toEqual(['infill-ls.draftTokens must be an integer number of tokens in 0..64 (0: off), got 65']);
    expect(bad.settings.draftTokens).toBe(4);
    expect(applySettings(DEFAULT_SETTINGS, { draftTokens: 2.5 }).errors).toHaveLength(1);
  });

  it("issue 15's wgslDecode: unset by default (env, else on where it can run), a boolean that restarts the engine and reaches the model side only when set", () => {
    expect(DEFAULT_SETTINGS.wgslDecode).toBeUndefined();
    const off = applySettings(DEFAULT_SETTINGS, { wgslDecode: false });
    expect(off.errors).toEqual([]);
    expect(off.changed).toEqual(['wgslDecode']);
    expect(ENGINE_SETTINGS).toContain('wgslDecode');
    expect(localModelOptions(engineOptions(off.settings, '/pkg')).wgslDecode).toBe(false);
    expect('wgslDecode' in localModelOptions(engineOptions(DEFAULT_SETTINGS, '/pkg'))).toBe(false);
    const on = applySettings(off.settings, { wgslDecode: true });
    expect(on.settings.wgslDecode).toBe(true);
    expect(on.changed).toEqual(['wgslDecode']);
    expect(localModelOptions(engineOptions(on.settings, '/pkg')).wgslDecode).toBe(true);
    expect(applySettings(on.settings, { wgslDecode: null }).settings.wgslDecode).toBe(true);
    for (const value of ['off', 0, 1, 'false']) {
      const bad = applySettings(off.settings, { wgslDecode: value });
      expect(bad.errors).toEqual([`infill-ls.wgslDecode must be a boolean, got ${JSON.stringify(value)}`]);
      expect(bad.settings.wgslDecode).toBe(false);
    }
  });

  it('farContextTokens: unset by default, an integer in 0..8192 (0 off) that restarts the engine and reaches the model side only when set', () => {
    expect(DEFAULT_SETTINGS.farContextTokens).toBeUndefined();
    const ok = applySettings(DEFAULT_SETTINGS, { farContextTokens: 256 });
    expect(ok.errors).toEqual([]);
    expect(ok.changed).toEqual(['farContextTokens']);
    expect(ENGINE_SETTINGS).toContain('farContextTokens');
    expect(localModelOptions(engineOptions(ok.settings, '/pkg')).farContextTokens).toBe(256);
    expect('farContextTokens' in localModelOptions(engineOptions(DEFAULT_SETTINGS, '/pkg'))).toBe(false);
    expect(applySettings(ok.settings, { farContextTokens: 0 }).settings.farContextTokens).toBe(0);
    const bad = applySettings(ok.settings, { farContextTokens: -1 });
    expect(bad.errors).toEqual(['infill-ls.farContextTokens must be an integer number of tokens in 0..8192 (0: off), got -1']);
    expect(bad.settings.farContextTokens).toBe(256);
  });

  it('the engine options carry the accelerator options only when set (unset leaves the env default to the model side)', () => {
    const none = localModelOptions(engineOptions(DEFAULT_SETTINGS, '/pkg'));
    expect('maxStallMs' in none || 'decodeKvWindow' in none).toBe(false);
    const set = applySettings(DEFAULT_SETTINGS, { maxStallMs: 0, decodeKvWindow: 64 }).settings;
    expect(localModelOptions(engineOptions(set, '/pkg'))).toMatchObject({ maxStallMs: 0, decodeKvWindow: 64 });
  });

  it('reads a bare debounce number as a fixed delay', () => {
    expect(applySettings(DEFAULT_SETTINGS, { debounce: 0 }).settings.debounce).toEqual({ ...DEFAULT_SETTINGS.debounce, mode: 'fixed', fixedMs: 0 });
  });

  it('enables per language with a "*" default', () => {
    const s = applySettings(DEFAULT_SETTINGS, { enable: { markdown: false } }).settings;
    expect(isLanguageEnabled(s, 'markdown')).toBe(false);
    expect(isLanguageEnabled(s, 'python')).toBe(true);
    const off = applySettings(DEFAULT_SETTINGS, { enable: false }).settings;
    expect(isLanguageEnabled(off, 'python')).toBe(false);
  });
});

describe('pushed settings replace the old value of a setting (issue 12 item 5)', () => {
  it('a pushed enable map replaces the old map instead of merging into it', () => {
    const start = applySettings(DEFAULT_SETTINGS, { enable: { plaintext: false } }).settings;
    expect(isLanguageEnabled(start, 'plaintext')).toBe(false);
    const pushed = applySettings(start, { 'infill-ls': { enable: { '*': true } } }).settings;
    expect(pushed.enable).toEqual({ '*': true });
    expect(isLanguageEnabled(pushed, 'plaintext')).toBe(true);
  });
  it('an invalid entry of a pushed map is reported and that language keeps its old value', () => {
    const start = applySettings(DEFAULT_SETTINGS, { enable: { plaintext: false, python: false } }).settings;
    const update = applySettings(start, { enable: { plaintext: 'yes', markdown: false } });
    expect(update.errors).toEqual(['infill-ls.enable.plaintext must be a boolean, got "yes"']);
    expect(update.settings.enable).toEqual({ plaintext: false, markdown: false });
  });
  it('a pushed debounce object replaces the old one: keys it leaves out take their defaults', () => {
    const start = applySettings(DEFAULT_SETTINGS, { debounce: { mode: 'fixed', fixedMs: 40, maxMs: 900 } }).settings;
    const pushed = applySettings(start, { debounce: { mode: 'adaptive' } }).settings;
    expect(pushed.debounce).toEqual({ ...DEFAULT_SETTINGS.debounce, mode: 'adaptive' });
  });
});
