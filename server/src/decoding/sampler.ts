// Token choice from a logits row: greedy argmax or temperature / top-k / top-p sampling, with the chosen token's log-probability.
import type { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = no limit). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 = no limit). */
  topP?: number;
}

export interface Choice {
  tokenId: number;
  /** log p(token) under the untempered distribution (what candidate scores average). */
  logprob: number;
}

/** Allows a token (true) or masks it out (false); used by constraints. */
export type TokenFilter = (tokenId: number) => boolean;

/** log Σ exp over allowed entries, with its max; logits: [vocab] float32, not modified. */
function logSumExp(logits: Float32Array, allow: TokenFilter | null): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max && (!allow || allow(i))) max = logits[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) if (!allow || allow(i)) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/** Index of the largest allowed logit, or -1 when nothing is allowed. Ties go to the lowest id (as torch.argmax). */
export function argmax(logits: Float32Array, allow: TokenFilter | null = null): number {
  let best = -1;
  let bestV = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestV && (!allow || allow(i))) {
      bestV = v;
      best = i;
    }
  }
  if (best === -1 && !allow) return logits.length ? 0 : -1;
  return best;
}

/**
 * Chooses the next token. Greedy when temperature is 0/absent; otherwise samples with `rng`.
 * Returns tokenId -1 when the filter allows nothing. `rowLse`: log Σ exp over all of `logits` when the caller has it
 * (the model computed it: Generator.logitsLse), else computed here; it only sets the returned logprob.
 */
export function chooseToken(logits: Float32Array, options: SamplingOptions, rng: Rng | null, allow: TokenFilter | null = null, rowLse?: number): Choice {
  const lse = rowLse ?? logSumExp(logits, null);
  const temperature = options.temperature ?? 0;
  if (!(temperature > 0) || !rng) {
    const id = argmax(logits, allow);
    return { tokenId: id, logprob: id < 0 ? -Infinity : logits[id]! - lse };
  }
  // Candidates sorted by logit; top-k cut, then softmax at the temperature, then top-p cut.
  const topK = options.topK && options.topK > 0 ? Math.floor(options.topK) : 0;
  const topP = options.topP !== undefined && options.topP > 0 && options.topP < 1 ? options.topP : 1;
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if (Number.isFinite(logits[i]!) && (!allow || allow(i))) ids.push(i);
  if (ids.length === 0) return { tokenId: -1, logprob: -Infinity };
  ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  const kept = topK ? ids.slice(0, topK) : ids;
  const maxL = logits[kept[0]!]!;
  const weights = kept.map((i) => Math.exp((logits[i]! - maxL) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let n = kept.length;
  if (topP < 1) {
    let acc = 0;
    for (let j = 0; j < kept.length; j++) {
      acc += weights[j]! / total;
      if (acc >= topP) {
        n = j + 1;
        break;
      }
    }
  }
  const mass = weights.slice(0, n).reduce((a, b) => a + b, 0);
  let r = rng.next() * mass;
  let pick = kept[n - 1]!;
  for (let j = 0; j < n; j++) {
    r -= weights[j]!;
    if (r < 0) {
      pick = kept[j]!;
      break;
    }
  }
  return { tokenId: pick, logprob: logits[pick]! - lse };
}
