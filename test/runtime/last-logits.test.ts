// runtime/last-logits.ts: the LM head cut to the last position gives the logits the whole graph gives for that row
// (within a stated tolerance: a one-row kernel may round differently), on every fixture layout that computes
// logits for every position; graphs that select their logits themselves, and bytes that are no model, are left alone.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { keepLastLogits } from '../../server/src/runtime/last-logits.js';
import { loadModel } from '../../server/src/runtime/index.js';
import { resolveModelFiles } from '../../server/src/runtime/model-files.js';
import { modelTimeout } from './helpers/timeout.js';

const root = path.resolve(__dirname, '../..');
const FIXTURES = ['qwen2-q4', 'qwen2-genai', 'qwen2-genai-fp32', 'qwen2-genai-fp16', 'llama', 'gpt_bigcode', 'qwen2'].map((n) => path.join(root, 'test/fixtures/models', n));
/** Largest |difference| allowed between the cut and the full graph's last-row logits (fixture logits are O(1)). */
const TOL = 1e-4;

async function lastRows(dir: string, cut: boolean, ids: number[][]): Promise<Float32Array[]> {
  const m = await loadModel({ modelDir: dir, device: 'cpu', intraOpNumThreads: 1, lastLogitsOnly: cut, foldAtLoad: false });
  const c = m.createCache();
  const rows: Float32Array[] = [];
  try {
    for (const run of ids) rows.push(Float32Array.from((await m.forward(run, c))!));
  } finally {
    c.dispose();
    await m.dispose();
  }
  return rows;
}

describe('keepLastLogits', () => {
  for (const dir of FIXTURES) {
    test(`${path.basename(dir)}: same last-row logits as the whole graph, prefill and decode`, { timeout: modelTimeout(60_000) }, async () => {
      const files = resolveModelFiles(dir, {});
      const edited = keepLastLogits(fs.readFileSync(files.onnxPath), 'logits');
      expect(edited.bytes, 'reason' in edited ? edited.reason : '').not.toBeNull();
      // 9 tokens of prompt, then 3 more in one run, then one decode step (ids inside every fixture's vocabulary).
      const ids = [[5, 9, 2, 7, 11, 3, 8, 1, 6], [4, 10, 12], [13]];
      const [cut, full] = [await lastRows(dir, true, ids), await lastRows(dir, false, ids)];
      for (let r = 0; r < ids.length; r++) {
        expect(cut[r]!.length).toBe(full[r]!.length);
        let worst = 0;
        for (let i = 0; i < full[r]!.length; i++) worst = Math.max(worst, Math.abs(cut[r]![i]! - full[r]![i]!));
        expect(worst).toBeLessThan(TOL);
      }
    });
  }

  test('a graph that takes logits_index (models/default) is left as it is', () => {
    const files = resolveModelFiles(path.join(root, 'models/default'), {});
    const r = keepLastLogits(fs.readFileSync(files.onnxPath), 'logits');
    expect(r.bytes).toBeNull();
    expect('reason' in r && r.reason).toMatch(/logits_index/);
  });

  test('an edited graph is not edited twice; an unknown output name and bytes that are no model are refused without throwing', () => {
    const files = resolveModelFiles(FIXTURES[0]!, {});
    const once = keepLastLogits(fs.readFileSync(files.onnxPath), 'logits');
    expect(once.bytes).not.toBeNull();
    const twice = keepLastLogits(once.bytes!, 'logits');
    expect(twice.bytes).toBeNull();
    expect(keepLastLogits(fs.readFileSync(files.onnxPath), 'no_such_output').bytes).toBeNull();
    for (const junk of [new Uint8Array(0), Uint8Array.from([0xff, 0xff, 0xff]), new TextEncoder().encode('not a model at all')]) {
      const r = keepLastLogits(junk, 'logits');
      expect(r.bytes).toBeNull();
    }
  });
});
