// CritiPrefill twins (issue 17): native/py/critiprefill.py wrote two twins (`/usr/bin/python3 native/py/critiprefill.py
// test/fixtures/models/qwen2 --block 16 --budget 100|3 --out test/fixtures/critiprefill/qwen2-block16-budget100|3.onnx`) of the qwen2 fixture (fp32, 2 layers, 2 KV
// heads, blocks of 16 positions): budget 100 blocks (more than any past here: it keeps every block, so it computes the
// plain graph's attention, in another summation order) and budget 3 (sink + the newest block + the best-scoring one).
// The runtime runs the twin for prefill runs whose past reaches its minimum; the cache it leaves has the plain layout
// and length, and later runs extend it. With the option off the twin is never opened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadedModel, type LoadModelOptions } from '../../server/src/runtime/index.js';
import type { KvCache } from '../../server/src/runtime/kv-cache.js';
import type { Tensor } from '../../server/src/runtime/ort.js';
import { critiPrefillMinPast, critiPrefillTwinPath, readCritiPrefillParams } from '../../server/src/runtime/critiprefill.js';
import { modelTimeout } from './helpers/timeout.js';
import { kvFeeds, maxDiff } from './helpers/kv.js';

const root = path.resolve(__dirname, '../..');
const FIXTURE = path.join(root, 'test/fixtures/models/qwen2');
const TWINS = path.join(root, 'test/fixtures/critiprefill');
/** |logit| difference allowed between the all-blocks twin and the plain graph: the same arithmetic in another order (seen: 5e-5; fixture logits reach ~40). */
const TOL_LOGITS = 1e-3;
const TOL_KV = 1e-4;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-critiprefill-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture with `twin` (a file under TWINS, or none) as its onnx/model_critiprefill.onnx. */
function modelDir(name: string, twin?: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(FIXTURE, dir, { recursive: true });
  if (twin) fs.copyFileSync(path.join(TWINS, twin), critiPrefillTwinPath(path.join(dir, 'onnx/model.onnx')));
  return dir;
}

/** 200 tokens inside the fixture's vocabulary (327), prefilled in runs of 50: pasts 0, 50, 100, 150. */
const IDS = Array.from({ length: 200 }, (_, i) => ((i * 37 + 11) % 300) + 5);
const RUNS = [IDS.slice(0, 50), IDS.slice(50, 100), IDS.slice(100, 150), IDS.slice(150, 200)];

async function prefill(opts: Omit<LoadModelOptions, 'device'>): Promise<{ model: LoadedModel; cache: KvCache; logits: Float32Array[] }> {
  const model = await loadModel({ device: 'cpu', intraOpNumThreads: 1, ...opts });
  const cache = model.createCache();
  const logits: Float32Array[] = [];
  for (const run of RUNS) logits.push(Float32Array.from((await model.forward(run, cache))!));
  return { model, cache, logits };
}

const kv = kvFeeds;

describe('CritiPrefill twin', () => {
  test('the twin records its parameters; the plain graph has none', () => {
    expect(readCritiPrefillParams(path.join(TWINS, 'qwen2-block16-budget3.onnx'))).toEqual({ block: 16, budget: 3, recent: 1 });
    expect(readCritiPrefillParams(path.join(TWINS, 'qwen2-block16-budget100.onnx'))).toEqual({ block: 16, budget: 100, recent: 1 });
    expect(readCritiPrefillParams(path.join(FIXTURE, 'onnx/model.onnx'))).toBeUndefined();
    expect(critiPrefillMinPast({ block: 16, budget: 3, recent: 1 })).toBe(64);
  });

  test('budget >= every block: the same logits and KV as the plain graph', { timeout: modelTimeout(60_000) }, async () => {
    const plain = await prefill({ modelDir: modelDir('plain-all') });
    // minPast 1: every run with a past (3 of 4) goes to the twin, although it keeps every block there
    const twin = await prefill({ modelDir: modelDir('twin-all', 'qwen2-block16-budget100.onnx'), critiPrefill: true, critiPrefillMinPast: 1 });
    try {
      expect(twin.model.critiPrefillRuns).toBe(3);
      expect(plain.model.critiPrefillRuns).toBe(0);
      for (let r = 0; r < RUNS.length; r++) expect(maxDiff(twin.logits[r]!, plain.logits[r]!), `run ${r}`).toBeLessThan(TOL_LOGITS);
      const [a, b] = [kv(twin.cache), kv(plain.cache)];
      for (const name of Object.keys(b)) {
        expect(a[name]!.dims).toEqual(b[name]!.dims);
        expect(maxDiff(a[name]!.data as Float32Array, b[name]!.data as Float32Array), name).toBeLessThan(TOL_KV);
      }
    } finally {
      for (const x of [plain, twin]) {
        x.cache.dispose();
        await x.model.dispose();
      }
    }
  });

  test('a smaller budget prunes: other numbers, the same cache layout and length, and the cache extends', { timeout: modelTimeout(60_000) }, async () => {
    const plain = await prefill({ modelDir: modelDir('plain-3') });
    const twin = await prefill({ modelDir: modelDir('twin-3', 'qwen2-block16-budget3.onnx'), critiPrefill: true });
    try {
      // minPast = (3 + 1) * 16 = 64: the runs at past 100 and 150 (7 and 9 whole blocks) go to the twin
      expect(twin.model.critiPrefill).toMatchObject({ block: 16, budget: 3, recent: 1, minPast: 64 });
      expect(twin.model.critiPrefillRuns).toBe(2);
      // runs 0 and 1 (past 0 and 50) ran the plain graph in both: identical
      expect(maxDiff(twin.logits[0]!, plain.logits[0]!)).toBe(0);
      expect(maxDiff(twin.logits[1]!, plain.logits[1]!)).toBe(0);
      // pruned attention: the last run's logits move far beyond summation-order noise (seen: ~36)
      expect(maxDiff(twin.logits[3]!, plain.logits[3]!)).toBeGreaterThan(0.1);
      expect(twin.cache.length).toBe(200);
      const [a, b] = [kv(twin.cache), kv(plain.cache)];
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      for (const name of Object.keys(b)) expect(a[name]!.dims, name).toEqual(b[name]!.dims);
      // layer 0's K/V come from the embeddings alone: exact; layer 1's come from pruned layer-0 attention: approximate
      expect(maxDiff(a['past_key_values.0.key']!.data as Float32Array, b['past_key_values.0.key']!.data as Float32Array)).toBe(0);
      expect(maxDiff(a['past_key_values.1.key']!.data as Float32Array, b['past_key_values.1.key']!.data as Float32Array)).toBeGreaterThan(1e-3);
      // the positions prefilled before the twin ran (the first 100) are the plain graph's in every layer
      const first100 = (t: Tensor) => {
        const [, kvh, len, d] = t.dims as number[];
        const data = t.data as Float32Array;
        const out: number[] = [];
        for (let h = 0; h < kvh!; h++) out.push(...data.subarray(h * len! * d!, (h * len! + 100) * d!));
        return out;
      };
      expect(maxDiff(first100(a['past_key_values.1.value']!), first100(b['past_key_values.1.value']!))).toBe(0);
      // a decode step (1 token: the plain graph) extends the twin's cache
      const step = await twin.model.forward([7], twin.cache);
      expect(step!.length).toBe(twin.model.vocabSize);
      expect(twin.cache.length).toBe(201);
      expect(twin.model.critiPrefillRuns).toBe(2);
    } finally {
      for (const x of [plain, twin]) {
        x.cache.dispose();
        await x.model.dispose();
      }
    }
  });

  test('option off: the twin is not opened and every number is the plain graph’s', { timeout: modelTimeout(60_000) }, async () => {
    const saved = process.env.INFILL_LS_CRITIPREFILL;
    delete process.env.INFILL_LS_CRITIPREFILL;
    try {
      const plain = await prefill({ modelDir: modelDir('plain-off') });
      const off = await prefill({ modelDir: modelDir('twin-off', 'qwen2-block16-budget3.onnx') });
      try {
        expect(off.model.critiPrefill).toBeUndefined();
        expect(off.model.critiPrefillRuns).toBe(0);
        for (let r = 0; r < RUNS.length; r++) expect(maxDiff(off.logits[r]!, plain.logits[r]!)).toBe(0);
      } finally {
        for (const x of [plain, off]) {
          x.cache.dispose();
          await x.model.dispose();
        }
      }
    } finally {
      if (saved !== undefined) process.env.INFILL_LS_CRITIPREFILL = saved;
    }
  });

  test('option on without a twin: says so and runs the plain graph', { timeout: modelTimeout(60_000) }, async () => {
    const messages: string[] = [];
    const x = await prefill({ modelDir: modelDir('no-twin'), critiPrefill: true, onStatus: (m) => messages.push(m) });
    try {
      expect(x.model.critiPrefill).toBeUndefined();
      expect(x.model.critiPrefillRuns).toBe(0);
      expect(messages.some((m) => /critiPrefill off: no twin graph .*model_critiprefill\.onnx/.test(m))).toBe(true);
    } finally {
      x.cache.dispose();
      await x.model.dispose();
    }
  });
});
