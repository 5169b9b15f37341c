// runtime/kv-cache.ts frees a replaced past's host buffer at once (issue 15: detached by a transfer to a closed port,
// so V8 stops counting it as external memory) instead of leaving ~17 MB per decode step at the 0.5B shape to the
// collector. What must hold: the buffers a cache replaced are detached, while everything a cache still holds stays
// intact — after runs, after a rewind that copies across heads ([1, kv, past, dim]) and one that keeps a view of the
// same buffer (fused [1, past, 2·dim]), after an eviction, and with two caches of one model used in turn: their logits
// are bitwise those of a cache that went through the same runs without the rewind (same run splits, same kernels).
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadModel, type KvCache, type LoadedModel } from '../../server/src/runtime/index.js';
import type { Tensor } from '../../server/src/runtime/ort.js';
import { modelTimeout } from './helpers/timeout.js';

const root = path.resolve(__dirname, '../..');
const fixture = (n: string) => path.join(root, 'test/fixtures/models', n);

function pasts(m: LoadedModel, c: KvCache): Tensor[] {
  const feeds: Record<string, Tensor> = {};
  c.fill(feeds);
  return m.layout.slots.map((s) => feeds[s.pastName]!);
}
const bytesOf = (a: Float32Array) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

describe('replaced KV buffers are freed at once', () => {
  for (const name of ['qwen2-genai', 'gpt_bigcode', 'qwen2-genai-fp16']) {
    test(`${name}: a replaced past is detached; what a cache holds stays intact through rewinds and evictions`, { timeout: modelTimeout(60_000) }, async () => {
      const m = await loadModel({ modelDir: fixture(name), device: 'cpu', intraOpNumThreads: 1 });
      const a = m.createCache();
      const b = m.createCache();
      try {
        const prompt = [5, 9, 2, 7, 11, 3, 8, 1, 6];
        await m.forward(prompt, a);
        await m.forward(prompt, b);
        const before = pasts(m, a).map((t) => (t.data as Float32Array).buffer);
        await m.forward([4], a);
        // the pasts the run replaced are gone (detached: no bytes); the new ones are live
        expect(before.every((buf) => buf.byteLength === 0)).toBe(true);
        expect(pasts(m, a).every((t) => (t.data as Float32Array).byteLength > 0)).toBe(true);
        await m.forward([10], a);
        // a: prompt, 4, 10, rewound to prompt + 4, then 12; b: prompt, 4, 12 in the same runs
        await a.rewindTo(prompt.length + 1);
        const z = (await m.forward([12], a))!;
        await m.forward([4], b);
        const w = (await m.forward([12], b))!;
        expect(bytesOf(z)).toEqual(bytesOf(w));
        // both caches go on alike
        expect(bytesOf((await m.forward([13], a))!)).toEqual(bytesOf((await m.forward([13], b))!));
        // an eviction copies the kept positions; the next run must read them, not a freed buffer
        if (m.layout.has.positionIds && !m.layout.has.cachePosition) {
          a.evict(2, 4);
          b.evict(2, 4);
          expect(bytesOf((await m.forward([7], a))!)).toEqual(bytesOf((await m.forward([7], b))!));
        }
      } finally {
        a.dispose();
        b.dispose();
        await m.dispose();
      }
    });
  }
});
