// LazyLLM twins (issue 17, arXiv 2407.14057). The model: test/fixtures/lazyllm/qwen2-4l, the qwen2 fixture (fp32, 2 KV
// heads) with its two layers repeated to four (`/usr/bin/python3 native/py/lazyllm.py test/fixtures/models/qwen2
// --stack-layers 4 --out-dir test/fixtures/lazyllm/qwen2-4l`; with 2 layers a pruned layer-1 row would reach neither
// the last token's logits nor any K/V). Its twins, from native/py/lazyllm.py on that directory: `--schedule 1:100`
// (every row kept from layer 1 on: the plain graph's arithmetic through Gather/ScatterND) and `--schedule 2:50` (from
// layer 2 on, half of each run's tokens). The runtime runs the twin for prefill runs of lazyLlmMinTokens+ tokens; the
// cache it leaves has the plain layout and length, and the plain graph extends it. With the option off the twin is
// never opened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadedModel, type LoadModelOptions } from '../../server/src/runtime/index.js';
import type { KvCache } from '../../server/src/runtime/kv-cache.js';
import { lazyLlmTwinPath, readLazyLlmParams } from '../../server/src/runtime/lazyllm.js';
import { modelTimeout } from './helpers/timeout.js';
import { kvFeeds as kv, maxDiff } from './helpers/kv.js';

const root = path.resolve(__dirname, '../..');
const FIXTURE = path.join(root, 'test/fixtures/lazyllm/qwen2-4l');
const TWINS = path.join(root, 'test/fixtures/lazyllm');
/** |logit| / |K,V| difference allowed between the keep-100% twin and the plain graph (seen: 0; fixture logits reach ~40). */
const TOL_LOGITS = 1e-3;
const TOL_KV = 1e-4;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-lazyllm-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the 4-layer fixture with `twin` (a file under TWINS, or none) as its onnx/model_lazyllm.onnx. */
function modelDir(name: string, twin?: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(FIXTURE, dir, { recursive: true });
  if (twin) fs.copyFileSync(path.join(TWINS, twin), lazyLlmTwinPath(path.join(dir, 'onnx/model.onnx')));
  return dir;
}

/** 200 tokens inside the fixture's vocabulary (327), prefilled in runs of 50 (each goes to the twin with a minimum of 40). */
const IDS = Array.from({ length: 200 }, (_, i) => ((i * 37 + 11) % 300) + 5);
const RUNS = [IDS.slice(0, 50), IDS.slice(50, 100), IDS.slice(100, 150), IDS.slice(150, 200)];

async function prefill(opts: Omit<LoadModelOptions, 'device'>): Promise<{ model: LoadedModel; cache: KvCache; logits: Float32Array[] }> {
  const model = await loadModel({ device: 'cpu', intraOpNumThreads: 1, lazyLlmMinTokens: 40, ...opts });
  const cache = model.createCache();
  const logits: Float32Array[] = [];
  for (const run of RUNS) logits.push(Float32Array.from((await model.forward(run, cache))!));
  return { model, cache, logits };
}

async function dispose(...xs: { model: LoadedModel; cache: KvCache }[]): Promise<void> {
  for (const x of xs) {
    x.cache.dispose();
    await x.model.dispose();
  }
}

describe('LazyLLM twin', () => {
  test('the twin records its schedule; the plain graph has none', () => {
    expect(readLazyLlmParams(path.join(TWINS, 'qwen2-4l-keep50.onnx'))).toEqual({ layers: [2], keep: [50] });
    expect(readLazyLlmParams(path.join(TWINS, 'qwen2-4l-keep100.onnx'))).toEqual({ layers: [1], keep: [100] });
    expect(readLazyLlmParams(path.join(FIXTURE, 'onnx/model.onnx'))).toBeUndefined();
  });

  test('keep 100%: the same logits and KV as the plain graph', { timeout: modelTimeout(60_000) }, async () => {
    const plain = await prefill({ modelDir: modelDir('plain-all') });
    const twin = await prefill({ modelDir: modelDir('twin-all', 'qwen2-4l-keep100.onnx'), lazyLlm: true });
    try {
      expect(twin.model.lazyLlmRuns).toBe(4);
      expect(plain.model.lazyLlmRuns).toBe(0);
      for (let r = 0; r < RUNS.length; r++) expect(maxDiff(twin.logits[r]!, plain.logits[r]!), `run ${r}`).toBeLessThan(TOL_LOGITS);
      const [a, b] = [kv(twin.cache), kv(plain.cache)];
      for (const name of Object.keys(b)) {
        expect(a[name]!.dims).toEqual(b[name]!.dims);
        expect(maxDiff(a[name]!.data as Float32Array, b[name]!.data as Float32Array), name).toBeLessThan(TOL_KV);
      }
    } finally {
      await dispose(plain, twin);
    }
  });

  test('keep 50% from layer 2: other numbers, the same cache layout and length, and the plain graph extends it', { timeout: modelTimeout(60_000) }, async () => {
    const plain = await prefill({ modelDir: modelDir('plain-50') });
    const twin = await prefill({ modelDir: modelDir('twin-50', 'qwen2-4l-keep50.onnx'), lazyLlm: true });
    try {
      expect(twin.model.lazyLlm).toMatchObject({ layers: [2], keep: [50], minTokens: 40 });
      expect(twin.model.lazyLlmRuns).toBe(4);
      // 25 of each run's 50 rows skip layers 2-3: the last token's layer-3 input moves, and so do its logits, far
      // beyond summation-order noise (seen: 1-4)
      expect(maxDiff(twin.logits[0]!, plain.logits[0]!)).toBeGreaterThan(0.1);
      expect(maxDiff(twin.logits[3]!, plain.logits[3]!)).toBeGreaterThan(0.1);
      expect(twin.cache.length).toBe(200);
      const [a, b] = [kv(twin.cache), kv(plain.cache)];
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      for (const name of Object.keys(b)) expect(a[name]!.dims, name).toEqual(b[name]!.dims);
      // K/V of layers 0-2 are projected from the inputs of layers 0-2, which no pruning reached: exact.
      // Layer 3's come from the pruned rows' layer-2 input (their stale hidden state): approximate.
      for (const l of [0, 1, 2]) {
        for (const kind of ['key', 'value']) {
          const n = `past_key_values.${l}.${kind}`;
          expect(maxDiff(a[n]!.data as Float32Array, b[n]!.data as Float32Array), n).toBe(0);
        }
      }
      expect(maxDiff(a['past_key_values.3.key']!.data as Float32Array, b['past_key_values.3.key']!.data as Float32Array)).toBeGreaterThan(1e-3);
      // a short run (below the minimum) and a decode step go to the plain graph and extend the twin's cache
      const short = await twin.model.forward(IDS.slice(0, 30), twin.cache);
      expect(short!.length).toBe(twin.model.vocabSize);
      const step = await twin.model.forward([7], twin.cache);
      expect(step!.length).toBe(twin.model.vocabSize);
      expect(step!.every((x) => Number.isFinite(x))).toBe(true);
      expect(twin.cache.length).toBe(231);
      expect(twin.model.lazyLlmRuns).toBe(4);
    } finally {
      await dispose(plain, twin);
    }
  });

  test('option off: the twin is not opened and every number is the plain graph’s', { timeout: modelTimeout(60_000) }, async () => {
    const saved = process.env.INFILL_LS_LAZYLLM;
    delete process.env.INFILL_LS_LAZYLLM;
    try {
      const plain = await prefill({ modelDir: modelDir('plain-off') });
      const off = await prefill({ modelDir: modelDir('twin-off', 'qwen2-4l-keep50.onnx') });
      try {
        expect(off.model.lazyLlm).toBeUndefined();
        expect(off.model.lazyLlmRuns).toBe(0);
        for (let r = 0; r < RUNS.length; r++) expect(maxDiff(off.logits[r]!, plain.logits[r]!)).toBe(0);
      } finally {
        await dispose(plain, off);
      }
    } finally {
      if (saved !== undefined) process.env.INFILL_LS_LAZYLLM = saved;
    }
  });

  test('option on without a twin: says so and runs the plain graph', { timeout: modelTimeout(60_000) }, async () => {
    const messages: string[] = [];
    const x = await prefill({ modelDir: modelDir('no-twin'), lazyLlm: true, onStatus: (m) => messages.push(m) });
    try {
      expect(x.model.lazyLlm).toBeUndefined();
      expect(x.model.lazyLlmRuns).toBe(0);
      expect(messages.some((m) => /lazyLlm off: no twin graph .*model_lazyllm\.onnx/.test(m))).toBe(true);
    } finally {
      await dispose(x);
    }
  });
});
