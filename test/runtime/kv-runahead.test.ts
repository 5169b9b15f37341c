// KV-Runahead (issue 17, arXiv 2405.05329): native/py/kv_runahead.py split the qwen2 fixture (fp32, 2 layers) into two
// layer groups (`/usr/bin/python3 native/py/kv_runahead.py test/fixtures/models/qwen2 --groups 2 --out-prefix
// test/fixtures/kv-runahead/qwen2`). The runtime's pool runs a forward as context partitions in worker threads, each
// with its own sessions over the groups, handing each group's K/V forward. What must hold: the cache it leaves has the
// plain graph's tensors (names, dims, length) and values, its logits are the plain graph's, later runs extend it, and
// the option off (or groups missing) never starts a worker.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadedModel, type LoadModelOptions } from '../../server/src/runtime/index.js';
import type { KvCache } from '../../server/src/runtime/kv-cache.js';
import type { Tensor } from '../../server/src/runtime/ort.js';
import { findKvRunaheadGroups, partitionForCausalCost, readKvRunaheadGroup } from '../../server/src/runtime/kv-runahead.js';
import { Generator } from '../../server/src/decoding/index.js';
import { modelTimeout } from './helpers/timeout.js';
import { kvFeeds, maxDiff } from './helpers/kv.js';

const root = path.resolve(__dirname, '../..');
const FIXTURE = path.join(root, 'test/fixtures/models/qwen2');
const GROUPS = path.join(root, 'test/fixtures/kv-runahead');
/**
 * |logit| and |K/V| differences allowed against the plain graph: the same runs, split at layer boundaries into two
 * sessions (graph optimisations may order float sums differently there). Fixture logits reach ~40.
 */
const TOL_LOGITS = 1e-3;
const TOL_KV = 1e-4;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-kv-runahead-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture with the given group files (names under GROUPS) as onnx/model_runahead{k}of2.onnx. */
function modelDir(name: string, groups: string[]): string {
  const dir = path.join(tmp, name);
  fs.cpSync(FIXTURE, dir, { recursive: true });
  for (const g of groups) fs.copyFileSync(path.join(GROUPS, g), path.join(dir, 'onnx', g.replace(/^qwen2/, 'model')));
  return dir;
}
const BOTH = ['qwen2_runahead0of2.onnx', 'qwen2_runahead1of2.onnx'];

/** 240 tokens inside the fixture's vocabulary (327); its context is 256. */
const IDS = Array.from({ length: 240 }, (_, i) => ((i * 37 + 11) % 300) + 5);
const CHUNK = 32;

const kv = kvFeeds;

/** The plain chunked prefill: runs of CHUNK tokens, the last run's logits. */
async function plainPrefill(model: LoadedModel, ids: number[], cache: KvCache): Promise<Float32Array> {
  let logits: Float32Array | null = null;
  for (let p = 0; p < ids.length; p += CHUNK) {
    const last = p + CHUNK >= ids.length;
    const out = await model.forward(ids.slice(p, p + CHUNK), cache, { logits: last ? 'last' : 'none' });
    if (last) logits = Float32Array.from(out!);
  }
  return logits!;
}

function expectSameCache(a: KvCache, b: KvCache): void {
  expect(a.length).toBe(b.length);
  const ta = kv(a);
  const tb = kv(b);
  expect(Object.keys(ta).sort()).toEqual(Object.keys(tb).sort());
  for (const name of Object.keys(ta)) {
    expect(ta[name]!.dims).toEqual(tb[name]!.dims);
    expect(maxDiff(ta[name]!.data as Float32Array, tb[name]!.data as Float32Array)).toBeLessThan(TOL_KV);
  }
}

describe('partitionForCausalCost', () => {
  test('partitions cover the tokens, later ones are shorter, costs are equal within one aligned run', () => {
    for (const [tokens, parts, past] of [
      [4096, 2, 0],
      [4096, 4, 0],
      [2048, 3, 1024],
      [2048, 4, 0], // 8 runs over 4 partitions: rounding each boundary alone once gave 768, 512, 256, 512
    ] as const) {
      const span = 2048;
      const align = 256;
      const p = partitionForCausalCost(tokens, parts, { past, span, align });
      expect(p.length).toBe(parts);
      expect(p.reduce((a, b) => a + b, 0)).toBe(tokens);
      for (let k = 1; k < p.length; k++) expect(p[k]!).toBeLessThanOrEqual(p[k - 1]!);
      expect(p[p.length - 1]!).toBeLessThan(p[0]!);
      for (const n of p) expect(n % align).toBe(0);
      // cost of positions [s, s + n): n + ((s+n)^2 - s^2) / (2 span); one run of `align` tokens moves a boundary at most
      let s = past;
      const costs = p.map((n) => {
        const c = n + ((s + n) ** 2 - s ** 2) / (2 * span);
        s += n;
        return c;
      });
      const oneRun = align + ((past + tokens) ** 2 - (past + tokens - align) ** 2) / (2 * span);
      expect(Math.max(...costs) - Math.min(...costs)).toBeLessThanOrEqual(oneRun);
    }
  });

  test('short prompts give fewer partitions, never an empty one; bad arguments throw', () => {
    expect(partitionForCausalCost(100, 4, { align: 256 })).toEqual([100]);
    expect(partitionForCausalCost(300, 2, { align: 256 })).toEqual([256, 44]);
    expect(partitionForCausalCost(5, 8)).toEqual(expect.arrayContaining([1]));
    expect(partitionForCausalCost(5, 8).every((n) => n >= 1)).toBe(true);
    expect(() => partitionForCausalCost(0, 2)).toThrow(RangeError);
    expect(() => partitionForCausalCost(10, 0)).toThrow(RangeError);
  });
});

describe('KV-Runahead layer groups', () => {
  test('the exporter records each group\'s layers; the runtime finds a complete set and says why it rejects one', () => {
    expect(readKvRunaheadGroup(path.join(GROUPS, BOTH[0]!))).toEqual({ layers: [0, 1], numLayers: 2 });
    expect(readKvRunaheadGroup(path.join(GROUPS, BOTH[1]!))).toEqual({ layers: [1, 2], numLayers: 2 });
    expect(readKvRunaheadGroup(path.join(FIXTURE, 'onnx/model.onnx'))).toBeUndefined();
    const full = modelDir('find-full', BOTH);
    const found = findKvRunaheadGroups(path.join(full, 'onnx/model.onnx'), 2);
    expect('groups' in found && found.groups.map((g) => g.layers)).toEqual([
      [0, 1],
      [1, 2],
    ]);
    const half = modelDir('find-half', [BOTH[0]!]);
    expect(findKvRunaheadGroups(path.join(half, 'onnx/model.onnx'), 2)).toEqual({ reason: expect.stringMatching(/incomplete/) });
    expect(findKvRunaheadGroups(path.join(full, 'onnx/model.onnx'), 3)).toEqual({ reason: expect.stringMatching(/do not follow|end at layer/) });
  });

  test(
    'a cold prefill by 2 workers leaves the plain prefill\'s KV cache and logits, and a decode step extends it',
    async () => {
      const dir = modelDir('cold', BOTH);
      const common: LoadModelOptions = { modelDir: dir, device: 'cpu', intraOpNumThreads: 1 };
      const plain = await loadModel({ ...common, kvRunahead: 0 });
      const messages: string[] = [];
      const ra = await loadModel({ ...common, kvRunahead: 2, kvRunaheadMinTokens: 64, kvRunaheadChunk: CHUNK, kvRunaheadSpan: 64, onStatus: (m) => messages.push(m) });
      try {
        expect(plain.kvRunahead).toBeUndefined();
        expect(ra.kvRunahead).toMatchObject({ workers: 2, groups: 2, threads: 1 });
        expect(messages.some((m) => /kvRunahead on: 2 workers/.test(m))).toBe(true);
        const a = plain.createCache();
        const b = ra.createCache();
        const la = await plainPrefill(plain, IDS, a);
        const lb = Float32Array.from((await ra.forward(IDS, b))!);
        expect(ra.kvRunaheadRuns).toBe(1);
        const parts = ra.kvRunaheadLast!.partitions;
        expect(parts.length).toBe(2);
        expect(parts[0]! + parts[1]!).toBe(IDS.length);
        expect(parts[1]!).toBeLessThan(parts[0]!); // balanced for the causal cost
        expect(maxDiff(la, lb)).toBeLessThan(TOL_LOGITS);
        expect(Math.max(...la.map(Math.abs))).toBeGreaterThan(1); // the comparison has a scale
        expectSameCache(a, b);
        // the cache extends: one decode step on each (the plain graph, a 1-token run) gives the same logits
        const da = Float32Array.from((await plain.forward([7], a))!);
        const db = Float32Array.from((await ra.forward([7], b))!);
        expect(ra.kvRunaheadRuns).toBe(1);
        expect(maxDiff(da, db)).toBeLessThan(TOL_LOGITS);
        expectSameCache(a, b);
        a.dispose();
        b.dispose();
      } finally {
        await plain.dispose();
        await ra.dispose();
      }
    },
    modelTimeout(60_000),
  );

  test(
    'a run after a cached past (a prefix cache extended) and 3 workers: the same KV and logits as the plain graph',
    async () => {
      const dir = modelDir('warm', BOTH);
      const common: LoadModelOptions = { modelDir: dir, device: 'cpu', intraOpNumThreads: 1 };
      const plain = await loadModel({ ...common });
      const ra = await loadModel({ ...common, kvRunahead: 3, kvRunaheadMinTokens: 64, kvRunaheadChunk: CHUNK, kvRunaheadSpan: 64 });
      try {
        const a = plain.createCache();
        const b = ra.createCache();
        await plainPrefill(plain, IDS.slice(0, 48), a);
        await plainPrefill(ra, IDS.slice(0, 48), b); // 32 + 16: both under the minimum, the plain path
        expect(ra.kvRunaheadRuns).toBe(0);
        const la = await plainPrefill(plain, IDS.slice(48), a);
        const lb = Float32Array.from((await ra.forward(IDS.slice(48), b))!);
        expect(ra.kvRunaheadRuns).toBe(1);
        expect(ra.kvRunaheadLast!.partitions.length).toBe(3);
        expect(maxDiff(la, lb)).toBeLessThan(TOL_LOGITS);
        expectSameCache(a, b);
        // logits 'none' returns null and still fills the cache
        const c = ra.createCache();
        expect(await ra.forward(IDS.slice(0, 128), c, { logits: 'none' })).toBeNull();
        expect(c.length).toBe(128);
        a.dispose();
        b.dispose();
        c.dispose();
      } finally {
        await plain.dispose();
        await ra.dispose();
      }
    },
    modelTimeout(60_000),
  );

  test(
    'the Generator hands a long pending stretch to the model whole (KV-Runahead), a short one in chunks; greedy tokens agree',
    async () => {
      const dir = modelDir('generator', BOTH);
      const common: LoadModelOptions = { modelDir: dir, device: 'cpu', intraOpNumThreads: 1 };
      const plain = await loadModel({ ...common });
      const ra = await loadModel({ ...common, kvRunahead: 2, kvRunaheadMinTokens: 100, kvRunaheadChunk: CHUNK, kvRunaheadSpan: 64 });
      try {
        const gp = new Generator(plain, { prefillChunkSize: CHUNK });
        const gr = new Generator(ra, { prefillChunkSize: CHUNK });
        await gp.setPrompt(IDS.slice(0, 200));
        await gr.setPrompt(IDS.slice(0, 200));
        for (const g of [gp, gr]) g.setSearch({ maxNewTokens: 8 });
        const tp: number[] = [];
        const tr: number[] = [];
        for (let i = 0; i < 8; i++) {
          const a = await gp.nextToken();
          const b = await gr.nextToken();
          if ('tokenId' in a) tp.push(a.tokenId);
          if ('tokenId' in b) tr.push(b.tokenId);
        }
        expect(ra.kvRunaheadRuns).toBe(1); // the 200-token prompt; the decode steps ran on the plain graph
        expect(tr).toEqual(tp);
        expect(tp.length).toBe(8);
        // a later stretch under the minimum runs in chunks on the plain graph
        await gr.setPrompt([...IDS.slice(0, 200), ...IDS.slice(200, 240)]);
        await gr.computeLogits();
        expect(ra.kvRunaheadRuns).toBe(1);
        gp.dispose();
        gr.dispose();
      } finally {
        await plain.dispose();
        await ra.dispose();
      }
    },
    modelTimeout(60_000),
  );

  test(
    'a run that fails in a worker (a token id outside the vocabulary) rejects without hanging; the pool keeps working',
    async () => {
      const dir = modelDir('error', BOTH);
      const ra = await loadModel({ modelDir: dir, device: 'cpu', intraOpNumThreads: 1, kvRunahead: 2, kvRunaheadMinTokens: 64, kvRunaheadChunk: CHUNK });
      try {
        const c = ra.createCache();
        const bad = [...IDS.slice(0, 150), 100_000, ...IDS.slice(151, 200)];
        await expect(ra.forward(bad, c)).rejects.toThrow();
        expect(c.length).toBe(0); // untouched
        expect(ra.kvRunahead).toBeDefined();
        expect((await ra.forward(IDS.slice(0, 200), c))!.length).toBe(ra.vocabSize);
        expect(ra.kvRunaheadRuns).toBe(1);
        expect(c.length).toBe(200);
        c.dispose();
      } finally {
        await ra.dispose();
      }
    },
    modelTimeout(60_000),
  );

  test(
    'without layer groups the option stays off and says why; off by default',
    async () => {
      const dir = modelDir('none', []);
      const messages: string[] = [];
      const m = await loadModel({ modelDir: dir, device: 'cpu', intraOpNumThreads: 1, kvRunahead: 2, onStatus: (s) => messages.push(s) });
      try {
        expect(m.kvRunahead).toBeUndefined();
        expect(messages.some((s) => /kvRunahead off: no layer groups model_runahead\{k\}of\{n\}\.onnx/.test(s))).toBe(true);
        const c = m.createCache();
        expect((await m.forward(IDS.slice(0, 100), c))!.length).toBeGreaterThan(0);
        expect(m.kvRunaheadRuns).toBe(0);
        c.dispose();
      } finally {
        await m.dispose();
      }
      const def = await loadModel({ modelDir: modelDir('default-off', BOTH), device: 'cpu', intraOpNumThreads: 1 });
      expect(def.kvRunahead).toBeUndefined();
      await def.dispose();
    },
    modelTimeout(60_000),
  );
});
