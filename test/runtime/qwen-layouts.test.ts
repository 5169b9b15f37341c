// The layouts users download for Qwen2.5-Coder-class models (issue 15), on tiny fixtures written by
// native/py/qwen_models.py --fixtures: Optimum 4-bit MatMulNBits (qwen2-q4), and onnxruntime-genai's model-builder
// layout with GroupQueryAttention / RotaryEmbedding / SkipSimplifiedLayerNormalization, int4 (qwen2-genai) and
// fp32 (qwen2-genai-fp32), and int4 with fp16 activations, KV and logits (qwen2-genai-fp16: what the model builder
// writes for a GPU), qwen2-genai-packed (qwen2-genai's weights in the builder's GPU attention form: q/k/v as one
// MatMulNBits fed packed to GroupQueryAttention, rotary inside it, no position_ids input), qwen2-genai-fused (qwen2-genai's
// weights with q/k/v and gate/up each one MatMulNBits + Split, qwen_models.py --fuse), and qwen2-q4-grouped
// (qwen2-q4's weights, exporter --grouped-attention). Golden tokens are PyTorch's greedy continuation (native/py/model.py) on the same
// weights — for the int4 fixtures the dequantized int4 weights — and every fixture was drawn so that the top-1 /
// top-2 logit gap along each golden path is at least `min_margin` (> 0.1, in golden.json; > 0.3 for the fp16
// fixture), far above fp32 kernel differences (~1e-5); fp16 activations moved these logits (|x| up to ~25) by
// 0.03-0.12 against the fp32-activation graph of the same int4 weights (measured when the fixture was made):
// exact token equality is the tolerance-aware check here.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { loadBundle, type LoadedBundle } from '../../server/src/engine/load.js';
import { Generator } from '../../server/src/decoding/index.js';
import { readLayout } from '../../server/src/runtime/layout.js';
import type { ValueMetadata } from '../../server/src/runtime/ort.js';
import { ModelLoadError } from '../../server/src/util/errors.js';
import { tempDir } from './helpers/model-dir.js';
import { greedySteps } from './helpers/greedy.js';

const repo = path.resolve(import.meta.dirname, '../..');
const root = path.join(repo, 'test/fixtures/models');
const fixtures = ['qwen2-q4', 'qwen2-genai', 'qwen2-genai-fp32', 'qwen2-genai-fp16', 'qwen2-genai-packed', 'qwen2-genai-fused', 'qwen2-q4-grouped'] as const;
const int4 = (name: string) => name === 'qwen2-genai' || name === 'qwen2-genai-fp16' || name === 'qwen2-genai-packed' || name === 'qwen2-genai-fused';
interface Golden {
  min_margin: number;
  cases: { prompt: string; input_ids: number[]; greedy: number[] }[];
}
const golden = (name: string) => JSON.parse(fs.readFileSync(path.join(root, name, 'golden.json'), 'utf8')) as Golden;

const bundles: LoadedBundle[] = [];
afterAll(async () => {
  for (const b of bundles) await b.model.dispose();
});
async function open(dir: string): Promise<LoadedBundle> {
  const b = await loadBundle({ modelDir: dir, device: 'cpu', intraOpNumThreads: 1 });
  bundles.push(b);
  return b;
}

describe.each(fixtures)('%s fixture', (name) => {
  const g = golden(name);
  const dir = path.join(root, name);

  test('is the layout it claims and is read through the same loader as every model', async () => {
    const { model, template } = await open(dir);
    const onnx = fs.readFileSync(model.files.onnxPath).toString('latin1');
    if (name.startsWith('qwen2-genai')) {
      expect(model.files.format).toBe('genai');
      expect(path.basename(model.files.onnxPath)).toBe('model.onnx');
      expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(false); // read from genai_config.json alone
      for (const op of ['GroupQueryAttention', 'SkipSimplifiedLayerNormalization']) expect(onnx).toContain(op);
      // the packed form rotates inside GroupQueryAttention (do_rotary) and has no position_ids to feed
      expect(onnx.includes('RotaryEmbedding')).toBe(name !== 'qwen2-genai-packed');
      expect(onnx.includes('do_rotary')).toBe(true);
      expect(model.layout.has.positionIds).toBe(name !== 'qwen2-genai-packed');
      expect(onnx.includes('MatMulNBits')).toBe(int4(name));
      expect(model.files.dtype).toBe(name === 'qwen2-genai-fp16' ? 'q4f16' : int4(name) ? 'q4' : 'fp32');
      expect(model.layout.slots[0]!.dtype).toBe(name === 'qwen2-genai-fp16' ? 'float16' : 'float32');
    } else {
      expect(model.files.format).toBe('optimum');
      expect(model.files.dtype).toBe('q4');
      expect(onnx).toContain('MatMulNBits');
    }
    expect(model.layout.kvFormat).toBe('per-layer');
    expect(model.layout.numLayers).toBe(2);
    expect(model.layout.slots[0]!.emptyDims).toEqual([1, 2, 0, 16]); // [batch, kv_heads, past, head_dim]
    expect(template?.family).toBe('qwen');
  });

  test('the tokenizer reproduces the golden input ids', async () => {
    const { tokenizer } = await open(dir);
    for (const c of g.cases) expect(tokenizer.encode(c.prompt)).toEqual(c.input_ids);
  });

  test('greedy decoding matches PyTorch (golden margin > 0.1, fp16: > 0.3)', async () => {
    expect(g.min_margin).toBeGreaterThan(name === 'qwen2-genai-fp16' ? 0.3 : 0.1);
    const { model } = await open(dir);
    for (const c of g.cases) {
      const gen = new Generator(model);
      gen.appendTokens(c.input_ids);
      expect(await greedySteps(gen, c.greedy.length)).toEqual(c.greedy);
      gen.dispose();
    }
  });

  test('chunked prefill (past > 0 and several new tokens per run) and KV rewind give the same tokens', async () => {
    const { model } = await open(dir);
    const c = g.cases[g.cases.length - 1]!;
    const gen = new Generator(model, { prefillChunkSize: 3 });
    gen.appendTokens(c.input_ids);
    expect(await greedySteps(gen, c.greedy.length)).toEqual(c.greedy);
    expect(gen.stats.runs).toBe(Math.ceil(c.input_ids.length / 3) + c.greedy.length - 1);
    await gen.rewindTo(c.input_ids.length + 2);
    expect(await greedySteps(gen, c.greedy.length - 2)).toEqual(c.greedy.slice(2));
    gen.dispose();
  });

  // fp32: summation-order differences only (1e-4). fp16: 0 on the AVX-512 development CPU, but a kernel that sums in
  // another order rounds to fp16 differently (one fp16 step of these logits, |x| ≤ 25, is ~0.016): 2e-2, well under
  // the fixture's 0.3 golden margin.
  const tolerance = name === 'qwen2-genai-fp16' ? 2e-2 : 1e-4;
  test(`one-shot and chunked prefill give the same last logits (tolerance ${tolerance})`, async () => {
    const { model } = await open(dir);
    const ids = g.cases[0]!.input_ids;
    const a = model.createCache();
    const one = Float32Array.from((await model.forward(ids, a))!);
    const b = model.createCache();
    let chunked: Float32Array | null = null;
    for (let i = 0; i < ids.length; i += 4) chunked = await model.forward(ids.slice(i, i + 4), b, { logits: i + 4 >= ids.length ? 'last' : 'none' });
    expect(b.length).toBe(ids.length);
    let maxDiff = 0;
    for (let i = 0; i < one.length; i++) maxDiff = Math.max(maxDiff, Math.abs(one[i]! - chunked![i]!));
    expect(maxDiff).toBeLessThan(tolerance);
    a.dispose();
    b.dispose();
  });
});

test('a genai directory whose genai_config.json names a missing decoder file is refused with the file named', async () => {
  const dir = tempDir();
  fs.cpSync(path.join(root, 'qwen2-genai'), dir, { recursive: true });
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'genai_config.json'), 'utf8'));
  cfg.model.decoder.filename = 'decoder.onnx';
  fs.writeFileSync(path.join(dir, 'genai_config.json'), JSON.stringify(cfg));
  const e = await loadBundle({ modelDir: dir, device: 'cpu' }).then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ModelLoadError);
  expect((e as ModelLoadError).code).toBe('missing-file');
  expect((e as ModelLoadError).file).toBe(path.join(dir, 'decoder.onnx'));
});

test("genai_config.json's name map is honoured: renamed inputs, past and present are found and fed by their own names", () => {
  const t = (name: string, type: string, shape: (number | string)[]) => ({ name, isTensor: true, type, shape }) as unknown as ValueMetadata;
  const inputs = [
    t('ids', 'int64', ['b', 's']),
    t('mask', 'int64', ['b', 't']),
    t('pos', 'int64', ['b', 's']),
    t('cache_in.0.k', 'float32', ['b', 2, 'p', 16]),
    t('cache_in.0.v', 'float32', ['b', 2, 'p', 16]),
  ];
  const outputs = [t('scores', 'float32', ['b', 's', 99]), t('cache_out.0.k', 'float32', ['b', 2, 't', 16]), t('cache_out.0.v', 'float32', ['b', 2, 't', 16])];
  const names = { inputIds: 'ids', attentionMask: 'mask', positionIds: 'pos', logits: 'scores', pastKey: 'cache_in.%d.k', pastValue: 'cache_in.%d.v', presentKey: 'cache_out.%d.k', presentValue: 'cache_out.%d.v' };
  const layout = readLayout(inputs, outputs, {}, 'model.onnx', names);
  expect(layout.names).toEqual({ inputIds: 'ids', attentionMask: 'mask', positionIds: 'pos', logits: 'scores' });
  expect(layout.slots.map((s) => [s.pastName, s.presentName, s.part])).toEqual([
    ['cache_in.0.k', 'cache_out.0.k', 'key'],
    ['cache_in.0.v', 'cache_out.0.v', 'value'],
  ]);
  expect(layout.has.attentionMask && layout.has.positionIds).toBe(true);
  expect(layout.vocabSize).toBe(99);
  // Without the map the same graph is not a decoder infill-ls can feed, and says so.
  expect(() => readLayout(inputs, outputs, {}, 'model.onnx')).toThrow(/input_ids/);
});

test('the CLI completes with the GroupQueryAttention fixture', async () => {
  const file = path.join(tempDir(), 'mean.py');
  fs.writeFileSync(file, 'def mean(values):\n    total = \n');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(repo, 'bin/infill-ls.js'), 'complete', file, '--line', '2', '--column', '13', '--model', path.join(root, 'qwen2-genai'), '--device', 'cpu', '--max-new-tokens', '8', '--json'],
    { cwd: repo, timeout: 60_000 },
  );
  const out = JSON.parse(stdout) as { completion: string; status: { state: string; message: string } };
  expect(out.status.state).toBe('ready');
  expect(out.status.message).toMatch(/qwen PSM/);
  expect(typeof out.completion).toBe('string');
}, 90_000);

test("a file longer than the model's positions completes: the prompt shrinks to fit them (the fixtures have 256)", async () => {
  // The default budgets (768 + 48 suffix + far context) exceed the fixture's context_length; before the fit onnxruntime
  // failed inside GroupQueryAttention ('cos_cache dimension 0 shall not be less than total_sequence_length').
  const file = path.join(tempDir(), 'long.py');
  const body = Array.from({ length: 400 }, (_, i) => `def f${i}(x):\n    return x + ${i}\n`).join('');
  fs.writeFileSync(file, `${body}def g(y):\n    return \n`);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(repo, 'bin/infill-ls.js'), 'complete', file, '--line', '802', '--column', '12', '--model', path.join(root, 'qwen2-genai-packed'), '--device', 'cpu', '--json'],
    { cwd: repo, timeout: 60_000 },
  );
  const out = JSON.parse(stdout) as { completion: string; status: { state: string } };
  expect(out.status.state).toBe('ready');
  expect(typeof out.completion).toBe('string');
}, 90_000);

test('a finished CLI command exits with its code even while a handle is still open, after its output is flushed', async () => {
  // What ends `complete` / `eval` (server/src/main.ts exitWhenFlushed): not the event loop draining, which a native
  // teardown can block (see there); 1 MiB through a pipe checks that nothing written is cut off.
  const script = `import { exitWhenFlushed } from ${JSON.stringify(path.join(repo, 'server/dist/main.js'))};
    setInterval(() => {}, 1000); process.stdout.write('x'.repeat(1 << 20)); exitWhenFlushed(3);`;
  const r = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000, maxBuffer: 4 << 20 }).then(
    () => ({ code: 0, stdout: '' }),
    (e: { code: number; stdout: string; killed: boolean }) => ({ code: e.killed ? -1 : e.code, stdout: e.stdout }),
  );
  expect(r.code).toBe(3);
  expect(r.stdout.length).toBe(1 << 20);
}, 40_000);

test('qwen2-q4-grouped (exporter --grouped-attention) is another graph computing qwen2-q4\'s logits (fp32 tolerance 1e-4)', async () => {
  const graph = (name: string) => fs.readFileSync(path.join(root, name, 'onnx', 'model_q4.onnx'));
  expect(graph('qwen2-q4-grouped').equals(graph('qwen2-q4'))).toBe(false);
  const ids = golden('qwen2-q4').cases[1]!.input_ids;
  const run = async (name: string) => {
    const { model } = await open(path.join(root, name));
    const c = model.createCache();
    const outs = [Float32Array.from((await model.forward(ids.slice(0, 5), c))!), Float32Array.from((await model.forward(ids.slice(5), c))!)];
    for (const t of [7, 11, 13]) outs.push(Float32Array.from((await model.forward([t], c))!)); // decode steps
    c.dispose();
    return outs;
  };
  const [a, b] = [await run('qwen2-q4'), await run('qwen2-q4-grouped')];
  let maxDiff = 0;
  a.forEach((x, k) => x.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b[k]![i]!)))));
  expect(maxDiff).toBeLessThan(1e-4);
});
