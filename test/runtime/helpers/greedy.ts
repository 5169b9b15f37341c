// Runs a Generator greedily for a number of steps and returns the token ids (tests only; a cancel is a test bug).
import type { Generator } from '../../../server/src/decoding/index.js';
import type { KvCacheLike } from '../../../server/src/decoding/generator.js';

export async function greedySteps<C extends KvCacheLike>(gen: Generator<C>, steps: number): Promise<number[]> {
  gen.setSearch({ maxNewTokens: steps });
  const out: number[] = [];
  while (!gen.isDone()) {
    const c = await gen.nextToken();
    if ('cancelled' in c) throw new Error('unexpected cancel');
    out.push(c.tokenId);
  }
  return out;
}
