// forward's `rows` (the last N positions' logits of one run, what draft-and-verify decoding checks) on every way a
// graph selects its logits: models/default's logits_index, runtime/last-logits.ts's cut (positions fed as a graph
// input: Optimum fp32, MatMulNBits int4 and onnxruntime-genai GroupQueryAttention fixtures) and an uncut graph. Each
// row must be the one a run of one token at that position gives, within a stated tolerance (a run of several rows may
// use other kernels than a run of one, which round differently); then greedy decoding with drafts (decoding/generator.ts
// `draftTokens`) on models/default must give the fp32 reference's tokens up to its first near-tie, as plain decoding does.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadModel } from '../../server/src/runtime/index.js';
import { Generator } from '../../server/src/decoding/index.js';
import { decodeSpan } from '../../server/src/decoding/span.js';
import { loadBundle } from '../../server/src/engine/load.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from './helpers/timeout.js';

const root = path.resolve(__dirname, '../..');
const fixture = (n: string) => path.join(root, 'test/fixtures/models', n);
/**
 * Largest |difference| allowed between a row of a several-row run and the same row from a one-token run, and the
 * near-tie margin below which greedy tokens may differ. Measured on the AVX-512 CPU (2026-12-01): worst 1.0e-5 to 1.9e-5
 * over these cases, with |logits| up to ~19; models/default's fp32 reference is compared with the same 1e-3 margin
 * (test/engine/default-model.test.ts), 50x that difference.
 */
const TOL = 1e-3;

const CASES: { name: string; dir: string; cut: boolean }[] = [
  { name: 'models/default (logits_index)', dir: defaultModelDir, cut: true },
  { name: 'qwen2 (Optimum fp32, cut)', dir: fixture('qwen2'), cut: true },
  { name: 'qwen2-q4 (MatMulNBits, cut)', dir: fixture('qwen2-q4'), cut: true },
  { name: 'qwen2-genai (GroupQueryAttention int4, cut)', dir: fixture('qwen2-genai'), cut: true },
  { name: 'qwen2 (Optimum fp32, uncut)', dir: fixture('qwen2'), cut: false },
];

describe('LoadedModel.forward rows', () => {
  for (const c of CASES) {
    test(`${c.name}: each of the last N rows is the row a one-token run gives`, { timeout: modelTimeout(60_000) }, async () => {
      const m = await loadModel({ modelDir: c.dir, device: 'cpu', intraOpNumThreads: 1, lastLogitsOnly: c.cut });
      try {
        if (c.cut && c.dir !== defaultModelDir) expect(m.layout.has.logitsPositions).toBe(true);
        const prompt = [5, 9, 2, 7, 11, 3, 8, 1, 6];
        const run = [4, 10, 12, 13];
        const V = m.vocabSize;
        const a = m.createCache();
        const b = m.createCache();
        try {
          await m.forward(prompt, a);
          await m.forward(prompt, b);
          const rows = Float32Array.from((await m.forward(run, a, { rows: run.length }))!);
          expect(rows.length).toBe(run.length * V);
          expect(a.length).toBe(prompt.length + run.length);
          // The last row alone (rows 1) is the last of the N rows.
          let worst = 0;
          for (let r = 0; r < run.length; r++) {
            const one = (await m.forward([run[r]!], b))!;
            expect(one.length).toBe(V);
            for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(rows[r * V + i]! - one[i]!));
          }
          expect(worst).toBeLessThan(TOL);
          // Two of the last positions of a 3-token run.
          await a.rewindTo(prompt.length);
          const two = Float32Array.from((await m.forward(run.slice(0, 3), a, { rows: 2 }))!);
          expect(two.length).toBe(2 * V);
          await b.rewindTo(prompt.length + 2);
          const second = (await m.forward([run[2]!], b))!;
          let w2 = 0;
          for (let i = 0; i < V; i++) w2 = Math.max(w2, Math.abs(two[V + i]! - second[i]!));
          expect(w2).toBeLessThan(TOL);
          await expect(m.forward([1, 2], a, { rows: 3 })).rejects.toThrow(RangeError);
          await expect(m.forward([1, 2], a, { rows: 0 })).rejects.toThrow(RangeError);
        } finally {
          a.dispose();
          b.dispose();
        }
      } finally {
        await m.dispose();
      }
    });
  }
});

interface Golden {
  input_ids: number[];
  fp32_tokens: number[];
  fp32_margin: number[];
}

describe('draft-and-verify on models/default', () => {
  test('greedy tokens with drafts equal the fp32 reference up to its first near-tie, as plain decoding does; drafts are accepted', { timeout: modelTimeout(120_000) }, async () => {
    const golden = JSON.parse(fs.readFileSync(path.join(defaultModelDir, 'golden.json'), 'utf8')) as Golden[];
    const bundle = await loadBundle({ modelDir: defaultModelDir, device: 'cpu' });
    try {
      let compared = 0;
      let accepted = 0;
      for (const g of golden) {
        const clear = g.fp32_margin.findIndex((m) => m <= TOL);
        const upTo = clear < 0 ? g.fp32_tokens.length : clear;
        for (const draftTokens of [0, 4]) {
          const gen = new Generator(bundle.model, { draftTokens });
          gen.appendTokens(g.input_ids);
          const span = await decodeSpan(gen, bundle.tokenizer, { maxNewTokens: g.fp32_tokens.length });
          expect(span.tokenIds.slice(0, upTo)).toEqual(g.fp32_tokens.slice(0, upTo));
          if (draftTokens) accepted += gen.stats.accepted;
          expect(gen.cache.length).toBe(gen.computedLength);
          gen.dispose();
        }
        compared += upTo;
      }
      expect(compared).toBeGreaterThanOrEqual(48);
      // A longer, repetitive snippet: drafts from its own lines, verified against plain decoding's margins.
      const code = 'function add(a, b) {\n  return a + b;\n}\nfunction sub(a, b) {\n  return a - b;\n}\nfunction mul(a, b) {\n';
      const ids = bundle.tokenizer.encode(code);
      const plain = new Generator(bundle.model);
      plain.appendTokens(ids);
      const tokens: number[] = [];
      const margins: number[] = [];
      for (let i = 0; i < 24; i++) {
        const row = (await plain.computeLogits()) as Float32Array;
        let t1 = 0;
        for (let j = 1; j < row.length; j++) if (row[j]! > row[t1]!) t1 = j;
        let t2 = t1 === 0 ? 1 : 0;
        for (let j = 0; j < row.length; j++) if (j !== t1 && row[j]! > row[t2]!) t2 = j;
        tokens.push(t1);
        margins.push(row[t1]! - row[t2]!);
        plain.appendTokens([t1]);
      }
      plain.dispose();
      const gen = new Generator(bundle.model, { draftTokens: 4 });
      gen.appendTokens(ids);
      const span = await decodeSpan(gen, bundle.tokenizer, { maxNewTokens: 24 });
      const firstTie = margins.findIndex((m) => m <= TOL);
      const n = firstTie < 0 ? 24 : firstTie;
      expect(n).toBeGreaterThanOrEqual(8);
      expect(span.tokenIds.slice(0, n)).toEqual(tokens.slice(0, n));
      accepted += gen.stats.accepted;
      expect(gen.stats.runs).toBeLessThan(24);
      gen.dispose();
      expect(accepted).toBeGreaterThan(0);
    } finally {
      await bundle.model.dispose();
    }
  });
});
