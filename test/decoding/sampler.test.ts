// Samplers: greedy argmax, seeded temperature/top-k/top-p sampling, filters and log-probabilities.
import { describe, expect, test } from 'vitest';
import { argmax, chooseToken } from '../../server/src/decoding/index.js';
import { createRng } from '../../server/src/util/rng.js';

const logits = Float32Array.from([1, 3, 2, 3, -1]);

describe('greedy', () => {
  test('argmax takes the first of equal maxima, like torch.argmax', () => {
    expect(argmax(logits)).toBe(1);
    expect(chooseToken(logits, {}, null).tokenId).toBe(1);
  });

  test('a filter masks tokens; nothing allowed gives -1', () => {
    expect(argmax(logits, (i) => i !== 1)).toBe(3);
    expect(chooseToken(logits, {}, null, () => false).tokenId).toBe(-1);
  });

  test('logprob is log softmax of the chosen token', () => {
    const lse = Math.log([...logits].reduce((a, b) => a + Math.exp(b), 0));
    expect(chooseToken(logits, {}, null).logprob).toBeCloseTo(3 - lse, 6);
  });
});

describe('sampling', () => {
  test('the same seed gives the same tokens; another seed differs somewhere', () => {
    const run = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 50 }, () => chooseToken(logits, { temperature: 1 }, rng).tokenId);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  test('frequencies follow softmax(logits / T)', () => {
    const rng = createRng(1);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[chooseToken(logits, { temperature: 1 }, rng).tokenId]++;
    const z = [...logits].reduce((a, b) => a + Math.exp(b), 0);
    for (let i = 0; i < 5; i++) expect(counts[i] / n).toBeCloseTo(Math.exp(logits[i]!) / z, 1);
  });

  test('top-k 2 keeps only the two best tokens; top-p small keeps only the best', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(chooseToken(logits, { temperature: 5, topK: 2 }, rng).tokenId);
    expect(seen).toEqual(new Set([1, 3]));
    const single = Float32Array.from([0, 5, 1]);
    for (let i = 0; i < 100; i++) expect(chooseToken(single, { temperature: 1, topP: 0.5 }, rng).tokenId).toBe(1);
  });

  test('the filter applies to sampling too', () => {
    const rng = createRng(4);
    for (let i = 0; i < 200; i++) expect([0, 2, 4]).toContain(chooseToken(logits, { temperature: 2 }, rng, (t) => t % 2 === 0).tokenId);
  });
});
