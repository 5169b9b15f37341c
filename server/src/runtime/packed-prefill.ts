// Prepacked prefill (arXiv 2404.09529): several prompts' KV computed in few forward passes, one per bin of prompts.
import type { KvCache } from './kv-cache.js';
import type { LoadedModel } from './model.js';

export interface PackedPrefillOptions {
  /** Most tokens per packed forward pass (bin capacity); a longer prompt gets a bin of its own. Default 2048. */
  binTokens?: number;
}

/** First-fit decreasing: groups item indices so each group's total size stays within `capacity` (oversized items alone). */
export function packBins(sizes: readonly number[], capacity: number): number[][] {
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  const bins: { items: number[]; used: number }[] = [];
  for (const i of order) {
    const size = sizes[i]!;
    const bin = bins.find((b) => b.used + size <= capacity);
    if (bin) {
      bin.items.push(i);
      bin.used += size;
    } else {
      bins.push({ items: [i], used: size });
    }
  }
  return bins.map((b) => b.items);
}

/**
 * Computes each prompt's KV cache for all but its last token: cache k holds prompts[k].slice(0, -1)
 * (length max(0, len - 1)). Start a Generator from it with the whole prompt as its tokens; the first decode
 * step runs the held-back last token and yields the first logits. With the packed layout the prompts are
 * bin-packed and each bin is one forward pass (CPU, or WebGPU where the KV is split on the GPU); other layouts prefill one by one.
 */
export async function packedPrefill(model: LoadedModel, prompts: readonly (readonly number[])[], options: PackedPrefillOptions = {}): Promise<KvCache[]> {
  const capacity = Math.max(1, Math.floor(options.binTokens ?? 2048));
  const caches: KvCache[] = prompts.map(() => model.createCache());
  try {
    const held = prompts.map((p) => p.slice(0, Math.max(0, p.length - 1)));
    const todo = held.map((_, i) => i).filter((i) => held[i]!.length > 0);
    if (model.layout.kind !== 'packed' || (model.device !== 'cpu' && model.device !== 'webgpu')) {
      for (const i of todo) await model.forward(held[i]!, caches[i]!, { logits: 'none' });
      return caches;
    }
    for (const bin of packBins(todo.map((i) => held[i]!.length), capacity)) {
      const members = bin.map((j) => todo[j]!);
      const filled = await model.forwardPacked(members.map((i) => held[i]!));
      members.forEach((i, k) => {
        caches[i]!.dispose();
        caches[i] = filled[k]!;
      });
    }
    return caches;
  } catch (e) {
    for (const c of caches) c.dispose();
    throw e;
  }
}
