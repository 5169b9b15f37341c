// Runtime tests on synthetic ONNX models with arithmetic greedy tokens: every supported layout, KV rewind, chunking.
import { afterAll, describe, expect, test } from 'vitest';
import { loadModel, type LoadedModel } from '../../server/src/runtime/index.js';
import { argmax } from '../../server/src/decoding/index.js';
import { syntheticGreedy, syntheticNext, type SyntheticOptions } from './helpers/synthetic-model.js';
import { writeSyntheticModelDir } from './helpers/model-dir.js';

const variants: { name: string; opts: SyntheticOptions }[] = [
  { name: 'per-layer key/value, attention_mask, position_ids', opts: { layout: 'per-layer' } },
  { name: 'per-layer without position_ids', opts: { layout: 'per-layer', positionIds: false } },
  { name: 'per-layer with num_logits_to_keep and use_cache_branch', opts: { layout: 'per-layer', numLogitsToKeep: true, useCacheBranch: true, layers: 3 } },
  { name: 'fused key_value (gpt_bigcode)', opts: { layout: 'fused', useCacheBranch: true } },
  { name: 'packed (attention_bias + logits_index)', opts: { layout: 'packed', layers: 1, kvHeads: 1 } },
];

const loaded: LoadedModel[] = [];
afterAll(async () => {
  for (const m of loaded) await m.dispose();
});

async function load(opts: SyntheticOptions): Promise<{ model: LoadedModel; vocab: number }> {
  const d = writeSyntheticModelDir(opts);
  const model = await loadModel({ modelDir: d.dir, device: 'cpu', intraOpNumThreads: 1 });
  loaded.push(model);
  return { model, vocab: d.vocab };
}

const prompt = [5, 17, 200, 3, 99, 42, 7, 1, 250, 31, 8];

describe.each(variants)('$name', ({ opts }) => {
  test('layout is read from the session metadata', async () => {
    const { model, vocab } = await load(opts);
    const L = model.layout;
    expect(L.kind).toBe(opts.layout === 'packed' ? 'packed' : 'standard');
    expect(L.kvFormat).toBe(opts.layout === 'fused' ? 'fused' : 'per-layer');
    expect(L.numLayers).toBe(opts.layers ?? 2);
    expect(L.slots).toHaveLength((opts.layers ?? 2) * (opts.layout === 'fused' ? 1 : 2));
    expect(L.slots[0]!.pastAxis).toBe(opts.layout === 'fused' ? 1 : 2);
    expect(L.has.logitsToKeep).toBe(opts.numLogitsToKeep ? 'num_logits_to_keep' : null);
    expect(L.has.useCacheBranch).toBe(!!opts.useCacheBranch);
    expect(model.vocabSize).toBe(vocab);
    // fp32 synthetic graphs have no 8-bit weights: loaded from the file as they are
    expect(model.foldedWeights).toBe(0);
  });

  test('prefill then greedy decode gives the exact tokens', async () => {
    const { model, vocab } = await load(opts);
    const cache = model.createCache();
    let logits = await model.forward(prompt, cache);
    expect(cache.length).toBe(prompt.length);
    expect(logits!.length).toBe(vocab);
    const got: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t = argmax(logits!);
      got.push(t);
      logits = await model.forward([t], cache);
    }
    expect(got).toEqual(syntheticGreedy(prompt, 12, vocab));
    expect(cache.length).toBe(prompt.length + 12);
    cache.dispose();
  });

  test('chunked prefill equals one-shot prefill, and logits "none" still appends the KV', async () => {
    const { model, vocab } = await load(opts);
    const cache = model.createCache();
    expect(await model.forward(prompt.slice(0, 4), cache, { logits: 'none' })).toBeNull();
    await model.forward(prompt.slice(4, 9), cache, { logits: 'none' });
    const logits = await model.forward(prompt.slice(9), cache);
    expect(argmax(logits!)).toBe(syntheticNext(prompt, vocab));
    cache.dispose();
  });

  test('rewindTo slices the cache along the past axis', async () => {
    const { model, vocab } = await load(opts);
    const cache = model.createCache();
    await model.forward(prompt, cache);
    await cache.rewindTo(6);
    expect(cache.length).toBe(6);
    const alt = [prompt[0]!, prompt[1]!, prompt[2]!, prompt[3]!, prompt[4]!, prompt[5]!, 77, 78];
    const logits = await model.forward([77, 78], cache);
    expect(argmax(logits!)).toBe(syntheticNext(alt, vocab));
    await cache.rewindTo(0);
    expect(cache.length).toBe(0);
    const again = await model.forward([9, 9, 9], cache);
    expect(argmax(again!)).toBe(syntheticNext([9, 9, 9], vocab));
    await expect(cache.rewindTo(10)).rejects.toThrow(/rewindTo\(10\)/);
    cache.dispose();
    expect(() => cache.fill({})).toThrow(/after dispose/);
  });
});
