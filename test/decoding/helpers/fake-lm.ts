// A pure-JS causal LM for decoding tests: the cache is the token list, logits come from a rule over the sequence.
import type { CausalLm, KvCacheLike } from '../../../server/src/decoding/index.js';

export class FakeCache implements KvCacheLike {
  tokens: number[] = [];
  disposed = false;
  get length(): number {
    return this.tokens.length;
  }
  async rewindTo(n: number): Promise<void> {
    if (n > this.tokens.length) throw new RangeError('rewind past end');
    this.tokens.length = n;
  }
  dispose(): void {
    this.disposed = true;
  }
}

export class FakeLm implements CausalLm<FakeCache> {
  /** Every forward call: the ids it ran and whether it asked for logits. */
  calls: { ids: number[]; logits: boolean; past: number }[] = [];
  /** Called before each forward resolves (to abort mid-prefill, etc.). */
  onForward: ((call: { ids: number[]; past: number }) => void) | null = null;

  constructor(
    readonly vocabSize: number,
    /** Next token (one-hot, value 10) or a full logits row, from the whole sequence so far. */
    private readonly rule: (seq: readonly number[]) => number | Float32Array,
  ) {}

  createCache(): FakeCache {
    return new FakeCache();
  }

  async forward(ids: ArrayLike<number>, cache: FakeCache, options: { logits?: 'last' | 'none'; rows?: number } = {}): Promise<Float32Array | null> {
    const list = Array.from(ids);
    this.calls.push({ ids: list, logits: options.logits !== 'none', past: cache.length });
    this.onForward?.({ ids: list, past: cache.length });
    cache.tokens.push(...list);
    if (options.logits === 'none') return null;
    const rows = options.rows ?? 1;
    if (rows === 1) return this.row(cache.tokens);
    // The last `rows` positions' rows, as runtime/model.ts returns them ([rows × vocab]).
    const out = new Float32Array(rows * this.vocabSize);
    for (let r = 0; r < rows; r++) out.set(this.row(cache.tokens.slice(0, cache.tokens.length - rows + 1 + r)), r * this.vocabSize);
    return out;
  }

  private row(seq: readonly number[]): Float32Array {
    const r = this.rule(seq);
    if (r instanceof Float32Array) return r;
    const row = new Float32Array(this.vocabSize);
    row[r] = 10;
    return row;
  }
}
