// The shipped default model (models/default): packed layout, exact onnxruntime int8 greedy tokens, and a real completion.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadBundle } from '../../server/src/engine/load.js';
import { createEngine } from '../../server/src/engine/index.js';
import { Generator } from '../../server/src/decoding/index.js';
import { defaultModelDir } from '../../server/src/util/paths.js';

interface Golden {
  prompt: string;
  input_ids: number[];
  greedy: number[];
}

const golden = JSON.parse(fs.readFileSync(path.join(defaultModelDir, 'golden.json'), 'utf8')) as Golden[];
const bundle = await loadBundle({ modelDir: defaultModelDir, device: 'cpu' });
afterAll(async () => {
  await bundle.model.dispose();
});

test('loads the int8 variant named by config.json, in the packed layout, with the SPM template', () => {
  expect(bundle.model.files.onnxPath).toBe(path.join(defaultModelDir, 'onnx', 'model_quantized.onnx'));
  expect(bundle.model.layout.kind).toBe('packed');
  expect(bundle.template).toMatchObject({ family: 'starcoder', mode: 'spm' });
});

test('reproduces onnxruntime int8 greedy tokens for every golden prompt', async () => {
  for (const g of golden) {
    expect(bundle.tokenizer.encodeWithSpecials(g.prompt)).toEqual(g.input_ids);
    const gen = new Generator(bundle.model, { prefillChunkSize: 7 });
    gen.appendTokens(g.input_ids);
    gen.setSearch({ maxNewTokens: g.greedy.length });
    const got: number[] = [];
    while (!gen.isDone()) {
      const c = await gen.nextToken();
      if ('cancelled' in c) throw new Error('cancelled');
      got.push(c.tokenId);
    }
    expect(got).toEqual(g.greedy);
    gen.dispose();
  }
});

const sumPrefix = 'export function sum(values: number[]): number {\n  let total = 0;\n  for (const v of values) {\n    ';
const sumSuffix = '\n  }\n  return total;\n}\n';

async function completeSum(): Promise<string> {
  const engine = createEngine({ modelDir: defaultModelDir, device: 'cpu' });
  try {
    const r = await engine.complete(
      { documentKey: 'file:///sum.ts', version: 1, languageId: 'typescript', prefix: sumPrefix, suffix: sumSuffix, trigger: 'manual' },
      new AbortController().signal,
    );
    expect(r.kind).toBe('ok');
    return r.kind === 'ok' ? (r.candidates[0]?.text ?? '') : '';
  } finally {
    await engine.dispose();
  }
}

test('completes a TypeScript function body through the engine: non-empty, clean text', async () => {
  const text = await completeSum();
  expect(text.trim().length).toBeGreaterThan(0);
  expect(text).not.toMatch(/[\uFFFD\u0000-\u0008\u000E-\u001F]/);
});

// FIXME(default model quality): the model shipped on 2026-11-26 is an early checkpoint (dev loss 6.4) and
// completes this body with '_' repeated; this asserts the plausible answer and is marked as failing today.
// When it starts to pass, vitest reports this test as failed: remove `.fails` then.
test.fails('completes a TypeScript function body plausibly (uses the loop variables)', async () => {
  const text = await completeSum();
  expect(text).toMatch(/\btotal\b/);
  expect(text).toMatch(/\bv\b/);
});
