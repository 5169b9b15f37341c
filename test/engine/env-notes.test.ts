// Invalid INFILL_LS_* environment values are ignored with the reason in the ready status line (engine/model-side.ts
// optionNotes), like INFILL_LS_THREADS; CritiPrefill asked for on a model without a twin says "off: reason" there too.
// In-thread model side on a synthetic model folder (no twin graph).

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { createModelSide, type ModelHost } from '../../server/src/engine/model-side.js';
import { writeSyntheticModelDir } from '../runtime/helpers/model-dir.js';

const ENV = [
  'INFILL_LS_TIME_BUDGET_MS',
  'INFILL_LS_PREFILL_CHUNK',
  'INFILL_LS_MAX_PREFIX_TOKENS',
  'INFILL_LS_MAX_SUFFIX_TOKENS',
  'INFILL_LS_CACHE_BUDGET_MB',
  'INFILL_LS_FIM_MODE',
  'INFILL_LS_CRITIPREFILL',
  'INFILL_LS_THREADS',
  'INFILL_LS_WEBGPU_VALIDATION',
] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
const synth = writeSyntheticModelDir({ layout: 'per-layer' });
const sides: ModelHost[] = [];

afterEach(async () => {
  await Promise.all(sides.splice(0).map((s) => s.dispose()));
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});
afterAll(() => fs.rmSync(synth.dir, { recursive: true, force: true }));

async function readyMessage(env: Partial<Record<(typeof ENV)[number], string>>): Promise<string> {
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, env);
  const side = createModelSide({ modelDir: synth.dir, device: 'cpu' });
  sides.push(side);
  await side.loaded;
  expect(side.status().state).toBe('ready');
  return side.status().message ?? '';
}

describe('environment settings that have no effect are said in the ready status', () => {
  it('names each ignored value and why', { timeout: 60_000 }, async () => {
    const message = await readyMessage({
      INFILL_LS_TIME_BUDGET_MS: 'zz',
      INFILL_LS_PREFILL_CHUNK: '-5',
      INFILL_LS_MAX_PREFIX_TOKENS: '-1',
      INFILL_LS_FIM_MODE: 'xyz',
      INFILL_LS_WEBGPU_VALIDATION: 'none',
    });
    expect(message).toContain('INFILL_LS_WEBGPU_VALIDATION="none" ignored: it must be one of disabled, wgpuOnly, basic, full');
    expect(message).toContain('INFILL_LS_TIME_BUDGET_MS="zz" ignored: it must be a number >= 0');
    expect(message).toContain('INFILL_LS_PREFILL_CHUNK="-5" ignored: it must be an integer in 1..1048576');
    expect(message).toContain('INFILL_LS_MAX_PREFIX_TOKENS="-1" ignored: it must be a number >= 0');
    expect(message).toContain('INFILL_LS_FIM_MODE="xyz" ignored: it must be psm or spm');
    expect(await readyMessage({ INFILL_LS_PREFILL_CHUNK: 'abc' })).toContain('INFILL_LS_PREFILL_CHUNK="abc" ignored');
  });

  it('says nothing for valid values, and CritiPrefill off with its reason only when asked for', { timeout: 60_000 }, async () => {
    const valid = await readyMessage({ INFILL_LS_TIME_BUDGET_MS: '5000', INFILL_LS_PREFILL_CHUNK: '64', INFILL_LS_MAX_PREFIX_TOKENS: '512', INFILL_LS_FIM_MODE: 'SPM', INFILL_LS_WEBGPU_VALIDATION: 'disabled' });
    expect(valid).not.toMatch(/ignored|critiPrefill/);
    expect(await readyMessage({ INFILL_LS_CRITIPREFILL: '1' })).toMatch(/critiPrefill off: no twin graph .*model_critiprefill\.onnx/);
    expect(await readyMessage({ INFILL_LS_CRITIPREFILL: '0' })).not.toMatch(/critiPrefill/);
  });
});
