// The LazyLLM option reaches the model worker (issue 17): ModelOptions.lazyLlm, else env
// INFILL_LS_LAZYLLM (the worker copies process.env when it starts), decides whether the runtime opens the model's
// twin graph; observed through the worker's log (runtime/model.ts says "lazyLlm on: ..." when it opens it).
// The model: a copy of the 4-layer fixture test/fixtures/lazyllm/qwen2-4l with its keep-50% twin next to its graph.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../server/src/engine/index.js';
import { createWorkerHost } from '../../server/src/model-host/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-lazyllm-option-'));
fs.cpSync(path.join(ROOT, 'test/fixtures/lazyllm/qwen2-4l'), dir, { recursive: true });
fs.copyFileSync(path.join(ROOT, 'test/fixtures/lazyllm/qwen2-4l-keep50.onnx'), path.join(dir, 'onnx/model_lazyllm.onnx'));

const saved = process.env.INFILL_LS_LAZYLLM;
const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.dispose()));
  if (saved === undefined) delete process.env.INFILL_LS_LAZYLLM;
  else process.env.INFILL_LS_LAZYLLM = saved;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function twinOpened(lazyLlm: boolean | undefined, env: string | undefined): Promise<boolean> {
  if (env === undefined) delete process.env.INFILL_LS_LAZYLLM;
  else process.env.INFILL_LS_LAZYLLM = env;
  const logs: string[] = [];
  const host = createWorkerHost({ modelDir: dir, device: 'cpu', threads: 1, ...(lazyLlm !== undefined ? { lazyLlm } : {}) }, { log: (m) => logs.push(m) });
  const engine = createEngine({ host });
  engines.push(engine);
  await engine.loaded;
  expect(logs.some((m) => m.startsWith('model '))).toBe(true);
  return logs.some((m) => m.startsWith('lazyLlm on: ') && m.includes('model_lazyllm.onnx'));
}

describe('lazyLlm reaches the model worker', () => {
  it('off by default', { timeout: 60_000 }, async () => expect(await twinOpened(undefined, undefined)).toBe(false));
  it('on from the option', { timeout: 60_000 }, async () => expect(await twinOpened(true, undefined)).toBe(true));
  it('on from INFILL_LS_LAZYLLM=1 when the option is absent', { timeout: 60_000 }, async () => expect(await twinOpened(undefined, '1')).toBe(true));
  it('the option wins over the env', { timeout: 60_000 }, async () => expect(await twinOpened(false, '1')).toBe(false));
});
