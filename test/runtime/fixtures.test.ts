// Exact greedy tokens on the checked-in tiny fixture models (llama, qwen2, gpt_bigcode) against PyTorch's golden continuations.
// Exact is safe on any CPU: native/py/fixtures.py drew each fixture's seed so that PyTorch's top-1/top-2 logit margin
// along every golden path exceeds 0.05; through our runtime the smallest margin is 0.069 (llama), 0.071 (qwen2) and
// 0.083 (gpt_bigcode), and the logits of an AVX-512 and an emulated AVX2-only CPU differ by at most 1.9e-5
// (bench/cpu/fixture-margins.mjs; bench/results/avx2-tests.md).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../server/src/engine/load.js';
import { Generator } from '../../server/src/decoding/index.js';
import { ModelLoadError } from '../../server/src/util/errors.js';
import { tempDir } from './helpers/model-dir.js';
import { greedySteps } from './helpers/greedy.js';

const root = path.resolve(import.meta.dirname, '../fixtures/models');
const families = ['llama', 'qwen2', 'gpt_bigcode'] as const;
interface Golden {
  prompt: string;
  input_ids: number[];
  greedy: number[];
}

const bundles: LoadedBundle[] = [];
afterAll(async () => {
  for (const b of bundles) await b.model.dispose();
});

async function open(name: string): Promise<LoadedBundle> {
  const b = await loadBundle({ modelDir: path.join(root, name), device: 'cpu', intraOpNumThreads: 1 });
  bundles.push(b);
  return b;
}


describe.each(families)('%s fixture', (name) => {
  const golden = JSON.parse(fs.readFileSync(path.join(root, name, 'golden.json'), 'utf8')) as Golden[];

  test('the tokenizer reproduces the golden input ids', async () => {
    const { tokenizer } = await open(name);
    for (const g of golden) expect(tokenizer.encode(g.prompt)).toEqual(g.input_ids);
  });

  test('greedy decoding matches PyTorch exactly', async () => {
    const { model } = await open(name);
    expect(model.layout.kvFormat).toBe(name === 'gpt_bigcode' ? 'fused' : 'per-layer');
    for (const g of golden) {
      const gen = new Generator(model);
      gen.appendTokens(g.input_ids);
      expect(await greedySteps(gen, g.greedy.length)).toEqual(g.greedy);
      gen.dispose();
    }
  });

  test('chunked prefill, KV rewind and prompt reuse give the same tokens', async () => {
    const { model } = await open(name);
    const g = golden[golden.length - 1]!;
    const gen = new Generator(model, { prefillChunkSize: 3 });
    gen.appendTokens(g.input_ids);
    expect(await greedySteps(gen, g.greedy.length)).toEqual(g.greedy);
    expect(gen.stats.runs).toBe(Math.ceil(g.input_ids.length / 3) + g.greedy.length - 1);
    // Rewind into the generated part and continue: same continuation.
    await gen.rewindTo(g.input_ids.length + 2);
    expect(await greedySteps(gen, g.greedy.length - 2)).toEqual(g.greedy.slice(2));
    // A prompt that shares a prefix reuses it from the cache.
    const reused = await gen.setPrompt(g.input_ids);
    expect(reused).toBe(g.input_ids.length - 1);
    expect(await greedySteps(gen, g.greedy.length)).toEqual(g.greedy);
    gen.dispose();
  });
});

test('a tokenizer from another fixture with more tokens than the model has logits is refused', async () => {
  const sizes = Object.fromEntries(families.map((f) => [f, JSON.parse(fs.readFileSync(path.join(root, f, 'config.json'), 'utf8')).vocab_size as number]));
  const small = families.reduce((a, b) => (sizes[a]! <= sizes[b]! ? a : b));
  const big = families.reduce((a, b) => (sizes[a]! >= sizes[b]! ? a : b));
  expect(sizes[big]).toBeGreaterThan(sizes[small]!);
  const dir = tempDir();
  fs.cpSync(path.join(root, small), dir, { recursive: true });
  fs.copyFileSync(path.join(root, big, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const e = await loadBundle({ modelDir: dir, device: 'cpu' }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelLoadError);
  expect((e as ModelLoadError).code).toBe('vocab-mismatch');
  expect((e as ModelLoadError).file).toBe(path.join(dir, 'tokenizer.json'));
});

test('a fixture with garbage bytes in model.onnx is refused with the file named', async () => {
  const dir = tempDir();
  fs.cpSync(path.join(root, 'llama'), dir, { recursive: true });
  const file = path.join(dir, 'onnx', 'model.onnx');
  const bytes = fs.readFileSync(file);
  bytes.fill(0xab, 0, Math.min(bytes.length, 4096));
  fs.writeFileSync(file, bytes);
  const e = await loadBundle({ modelDir: dir, device: 'cpu' }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelLoadError);
  expect((e as ModelLoadError).code).toBe('corrupt-file');
  expect((e as ModelLoadError).message.startsWith(`${file}: `)).toBe(true);
});

test('the fixture templates are detected from their own special tokens', async () => {
  expect((await open('llama')).template?.family).toBe('codellama');
  expect((await open('qwen2')).template?.family).toBe('qwen');
  expect((await open('gpt_bigcode')).template?.family).toBe('starcoder');
});
