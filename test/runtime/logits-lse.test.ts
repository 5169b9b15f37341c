// runtime/last-logits.ts `addLogitsLse` (issue 15): on the CPU the graphs whose logits are the rows asked for get an
// output with each row's log Σ exp, which LoadedModel.rowLse hands to decoding. Its value must be the host's float64
// pass over the same float32 row within float32 rounding, on every fixture layout that selects its rows (the cut
// Optimum, MatMulNBits and GroupQueryAttention graphs, and models/default's logits_index), for one-row and several-row
// runs, float16 logits included (cast to float32 in the graph; the host's pass is over the widened row); graphs it
// does not apply to (the switch off, uncut logits) have no rowLse, and bytes that are
// no model are refused without throwing.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { addLogitsLse, keepLastLogits, LOGITS_LSE_OUTPUT } from '../../server/src/runtime/last-logits.js';
import { loadModel } from '../../server/src/runtime/index.js';
import { resolveModelFiles } from '../../server/src/runtime/model-files.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import { modelTimeout } from './helpers/timeout.js';
import { hostLse } from './helpers/lse.js';

const root = path.resolve(__dirname, '../..');
const fixture = (n: string) => path.join(root, 'test/fixtures/models', n);
/**
 * Largest |graph − host| allowed, in nats. The graph sums the exps in float32 (onnxruntime's ReduceSum), the host in
 * float64: for a vocabulary of V entries each exp is rounded to 2^-24 relative and the sum's rounding grows with V (at
 * most V·2^-24 relative in the worst order, ~1e-7·log2(V) in a pairwise one); log turns a relative error of the sum
 * into the same absolute error of the result. Measured 1.6e-6 at most at the Qwen2.5-Coder-0.5B shape (V = 151,936,
 * lse ≈ 12.1, 16 steps at 700 past, `bench/runtime/lse-pass.mjs`, 2026-12-01): float32's own spacing at 12 is 9.5e-7. 1e-4 leaves a wide margin and still catches
 * any wrong row, axis or missing max shift (those are off by O(1)).
 */
const TOL = 1e-4;

const CASES = [
  { name: 'models/default (logits_index)', dir: defaultModelDir },
  { name: 'qwen2 (Optimum fp32, cut)', dir: fixture('qwen2') },
  { name: 'qwen2-q4 (MatMulNBits, cut)', dir: fixture('qwen2-q4') },
  { name: 'qwen2-genai (GroupQueryAttention int4, cut)', dir: fixture('qwen2-genai') },
  { name: 'qwen2-genai-fp32 (cut)', dir: fixture('qwen2-genai-fp32') },
  { name: 'qwen2-genai-fp16 (float16 logits, cut)', dir: fixture('qwen2-genai-fp16') },
  { name: 'qwen2-genai-packed (packed GroupQueryAttention, cut)', dir: fixture('qwen2-genai-packed') },
  { name: 'llama (cut)', dir: fixture('llama') },
  { name: 'gpt_bigcode (cut)', dir: fixture('gpt_bigcode') },
];

describe('log Σ exp of the logits rows in the graph', () => {
  for (const c of CASES) {
    test(`${c.name}: rowLse equals the host's pass over each row returned, one row and several`, { timeout: modelTimeout(60_000) }, async () => {
      const m = await loadModel({ modelDir: c.dir, device: 'cpu', intraOpNumThreads: 1 });
      const cache = m.createCache();
      try {
        expect(m.computesLse).toBe(true);
        let worst = 0;
        // prompt, a run of 3, single steps, then a run asking for its last 3 rows (draft-and-verify's shape)
        const runs: { ids: number[]; rows: number }[] = [{ ids: [5, 9, 2, 7, 11, 3, 8, 1, 6], rows: 1 }, { ids: [4, 10, 12], rows: 1 }, { ids: [13], rows: 1 }, { ids: [2], rows: 1 }, { ids: [6, 7, 8], rows: 3 }];
        for (const r of runs) {
          const out = (await m.forward(r.ids, cache, { rows: r.rows }))!;
          const lse = m.rowLse(out);
          expect(lse).toBeDefined();
          expect(lse!.length).toBe(r.rows);
          const V = out.length / r.rows;
          for (let k = 0; k < r.rows; k++) {
            const d = Math.abs(lse![k]! - hostLse(out.subarray(k * V, (k + 1) * V)));
            worst = Math.max(worst, d);
          }
          // Another array (a copy of the row) has none: rowLse is tied to the returned array.
          expect(m.rowLse(Float32Array.from(out))).toBeUndefined();
        }
        expect(worst).toBeLessThan(TOL);
        // logits 'none' runs (prefill chunks) return nothing and need nothing
        expect(await m.forward([3, 4], cache, { logits: 'none' })).toBeNull();
      } finally {
        cache.dispose();
        await m.dispose();
      }
    });
  }

  test('not added: the switch off, uncut logits; the host pass then stays the only one', { timeout: modelTimeout(60_000) }, async () => {
    for (const opts of [
      { modelDir: fixture('qwen2-genai'), logitsLse: false },
      { modelDir: fixture('qwen2-genai-fp16'), logitsLse: false },
      { modelDir: fixture('qwen2'), lastLogitsOnly: false },
    ]) {
      const m = await loadModel({ device: 'cpu', intraOpNumThreads: 1, ...opts });
      const cache = m.createCache();
      try {
        expect(m.computesLse).toBe(false);
        const out = (await m.forward([5, 9, 2], cache))!;
        expect(m.rowLse(out)).toBeUndefined();
      } finally {
        cache.dispose();
        await m.dispose();
      }
    }
    const saved = process.env.INFILL_LS_LOGITS_LSE;
    process.env.INFILL_LS_LOGITS_LSE = '0';
    try {
      const m = await loadModel({ modelDir: fixture('qwen2-genai'), device: 'cpu', intraOpNumThreads: 1 });
      expect(m.computesLse).toBe(false);
      await m.dispose();
    } finally {
      if (saved === undefined) delete process.env.INFILL_LS_LOGITS_LSE;
      else process.env.INFILL_LS_LOGITS_LSE = saved;
    }
  });

  test('addLogitsLse: takes float16 logits through a Cast; refuses an unknown output, a second edit and bytes that are no model, without throwing', () => {
    const cut = keepLastLogits(fs.readFileSync(resolveModelFiles(fixture('qwen2-genai'), {}).onnxPath), 'logits');
    expect(cut.bytes).not.toBeNull();
    const once = addLogitsLse(cut.bytes!, 'logits');
    expect(once.bytes).not.toBeNull();
    expect(new TextDecoder().decode(once.bytes!)).toContain(LOGITS_LSE_OUTPUT);
    const twice = addLogitsLse(once.bytes!, 'logits');
    expect(twice.bytes).toBeNull();
    expect('reason' in twice && twice.reason).toMatch(/already/);
    expect(addLogitsLse(cut.bytes!, 'no_such_output').bytes).toBeNull();
    const half = addLogitsLse(keepLastLogits(fs.readFileSync(resolveModelFiles(fixture('qwen2-genai-fp16'), {}).onnxPath), 'logits').bytes!, 'logits');
    expect(half.bytes).not.toBeNull();
    expect(new TextDecoder().decode(half.bytes!)).toContain(`${LOGITS_LSE_OUTPUT}/logits_f32`);
    for (const junk of [new Uint8Array(0), Uint8Array.from([0xff, 0xff, 0xff]), new TextEncoder().encode('not a model at all')]) {
      expect(addLogitsLse(junk, 'logits').bytes).toBeNull();
    }
  });
});
