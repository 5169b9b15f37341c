// The CritiPrefill option reaches the model worker (issue 17): ModelOptions.critiPrefill, else env
// INFILL_LS_CRITIPREFILL (the worker copies process.env when it starts), decides whether the runtime opens the model's
// twin graph; observed through the worker's log (runtime/model.ts says "critiPrefill on: ..." when it opens it).
// The model: a copy of the qwen2 fixture with test/fixtures/critiprefill's budget-3 twin next to its graph.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../server/src/engine/index.js';
import { createWorkerHost } from '../../server/src/model-host/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-critiprefill-option-'));
fs.cpSync(path.join(ROOT, 'test/fixtures/models/qwen2'), dir, { recursive: true });
fs.copyFileSync(path.join(ROOT, 'test/fixtures/critiprefill/qwen2-block16-budget3.onnx'), path.join(dir, 'onnx/model_critiprefill.onnx'));

const saved = process.env.INFILL_LS_CRITIPREFILL;
const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.dispose()));
  if (saved === undefined) delete process.env.INFILL_LS_CRITIPREFILL;
  else process.env.INFILL_LS_CRITIPREFILL = saved;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function twinOpened(critiPrefill: boolean | undefined, env: string | undefined): Promise<boolean> {
  if (env === undefined) delete process.env.INFILL_LS_CRITIPREFILL;
  else process.env.INFILL_LS_CRITIPREFILL = env;
  const logs: string[] = [];
  const host = createWorkerHost({ modelDir: dir, device: 'cpu', threads: 1, ...(critiPrefill !== undefined ? { critiPrefill } : {}) }, { log: (m) => logs.push(m) });
  const engine = createEngine({ host });
  engines.push(engine);
  await engine.loaded;
  expect(logs.some((m) => m.startsWith('model '))).toBe(true);
  return logs.some((m) => m.startsWith('critiPrefill on: ') && m.includes('model_critiprefill.onnx'));
}

describe('critiPrefill reaches the model worker', () => {
  it('off by default', { timeout: 60_000 }, async () => expect(await twinOpened(undefined, undefined)).toBe(false));
  it('on from the option', { timeout: 60_000 }, async () => expect(await twinOpened(true, undefined)).toBe(true));
  it('on from INFILL_LS_CRITIPREFILL=1 when the option is absent', { timeout: 60_000 }, async () => expect(await twinOpened(undefined, '1')).toBe(true));
  it('the option wins over the env', { timeout: 60_000 }, async () => expect(await twinOpened(false, '1')).toBe(false));
});
