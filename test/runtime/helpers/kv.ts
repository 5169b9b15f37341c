// Shared by the runtime tests that compare a KV cache or logits with another run's (CritiPrefill, KV-Runahead).
import { expect } from 'vitest';
import type { KvCache } from '../../../server/src/runtime/kv-cache.js';
import type { Tensor } from '../../../server/src/runtime/ort.js';

/** The cache's past tensors by input name, as the next forward run would be fed them. */
export function kvFeeds(cache: KvCache): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  cache.fill(feeds);
  return feeds;
}

/** max |a[i] − b[i]|; fails the test when the lengths differ. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
