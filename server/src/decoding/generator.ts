// The Generator: one token sequence over one KV cache, driven by verbs (appendTokens, computeLogits, nextToken, rewindTo, isDone).
import { chooseToken, type Choice, type SamplingOptions, type TokenFilter } from './sampler.js';
import type { Rng } from '../util/rng.js';

/** What the generator needs from a KV cache (runtime/KvCache implements it). */
export interface KvCacheLike {
  readonly length: number;
  rewindTo(length: number): Promise<void>;
  dispose(): void;
  /** Drops positions [start, end) (decodeKvWindow); later tokens keep their own positions. */
  evict?(start: number, end: number): void;
}

/** What the generator needs from a model (runtime/LoadedModel implements it). */
export interface CausalLm<C extends KvCacheLike = KvCacheLike> {
  readonly vocabSize: number;
  createCache(): C;
  /**
   * Appends ids to the cache; returns the last position's logits [vocab] float32, or null for logits 'none'. With
   * `rows` n (only asked of models whose Generator has `draftTokens`): the last n positions' rows, [n × vocab].
   */
  forward(ids: ArrayLike<number>, cache: C, options?: { logits?: 'last' | 'none'; rows?: number }): Promise<Float32Array | null>;
  /**
   * Optional: log Σ exp of each row of an array `forward` returned ([rows] float32), when the model computed it with
   * the logits; undefined otherwise (then decoding computes it from the row).
   */
  rowLse?(logits: Float32Array): Float32Array | undefined;
  /** KV-Runahead in use (runtime `kvRunahead`): pending stretches of minTokens+ go to forward whole, not in chunks. */
  readonly kvRunahead?: { minTokens: number };
}

export interface GeneratorOptions {
  /** Most tokens per model run while prefilling; cancellation is checked between chunks (default 256). */
  prefillChunkSize?: number;
  /**
   * SCOPE's decode-phase KV budget (arXiv 2412.13649), in tokens; undefined (default): unbounded. The prompt's KV
   * (everything before the first setSearch turn's first generated token) stays whole; of the KV added while decoding
   * only the newest `decodeKvWindow` positions are kept (a sliding window: the graphs do not output attention weights,
   * so SCOPE's heavy-hitter selection cannot be computed). Evicted in blocks of max(16, window / 8) positions. After
   * an eviction the reusable (exact) prefix is the prompt: computedLength says so, and rewindTo / setPrompt past it
   * cut the cache to the prompt and run the rest again. Needs a cache with evict() (runtime KvCache, CPU).
   */
  decodeKvWindow?: number;
  /**
   * Shortens a prefill run at depth: (run, past) → the tokens to run now (1..run), `past` being the KV positions
   * already cached. Undefined (default): runs of prefillChunkSize. model-side sets runtime/device-rule.ts
   * webgpuScoreCappedRun for WebGPU graphs whose attention is MatMul + Softmax.
   */
  prefillRunCap?: (run: number, past: number) => number;
  /**
   * Draft-and-verify decoding (prompt lookup decoding, Saxena 2023; the verify rule of Leviathan et al. 2023 at
   * temperature 0): at most this many drafted tokens per model run; undefined or 0 (default): off. When a decode step's
   * caller allows drafts (computeLogits' `draft`), `promptLookup` guesses the next tokens from an earlier occurrence of
   * the sequence's last n tokens, and the run computes [pending tokens + drafts] with the logits rows of the last
   * token and of every draft. appendTokens of the token the caller chose from a row accepts the draft it equals (its
   * KV and the next row are there already); the first other token drops the rest (the cache is cut back before the
   * next run). The caller's choices are made from the same rows a plain decode computes (within float rounding of a
   * longer run), so greedy output is the plain decode's. Needs a model whose forward takes `rows`; not with
   * decodeKvWindow (ignored there).
   */
  draftTokens?: number;
  /** Longest and shortest n-gram promptLookup matches (defaults 3 and 1). */
  draftNgram?: { max: number; min: number };
}

/**
 * Prompt lookup (Saxena 2023, "Prompt Lookup Decoding"): the tokens that followed the latest earlier occurrence of the
 * sequence's last n tokens, for n = max..min (the longest match wins), at most `k` of them; [] when none matches.
 * `seq`: token ids (prompt and generated text). O(length × max); pure.
 */
export function promptLookup(seq: readonly number[], k: number, max = 3, min = 1): number[] {
  const len = seq.length;
  if (k < 1) return [];
  for (let n = Math.min(max, len - 1); n >= Math.max(1, min); n--) {
    const tail = len - n;
    // An occurrence starting at p ends before the tail's start, so at least one token follows it.
    for (let p = tail - 1; p >= 0; p--) {
      let j = 0;
      while (j < n && seq[p + j] === seq[tail + j]) j++;
      if (j === n) return seq.slice(p + n, Math.min(len, p + n + k));
    }
  }
  return [];
}

export interface ComputeLogitsOptions {
  /**
   * Drafted tokens this step may verify (draft-and-verify, GeneratorOptions.draftTokens; capped by it): the caller's
   * remaining token budget minus one, and 0 where choices are not greedy. Default 0.
   */
  draft?: number;
}

export interface NextTokenOptions {
  sampling?: SamplingOptions;
  rng?: Rng | null;
  /** Restricts the choice (e.g. token healing); null = any token. */
  filter?: TokenFilter | null;
  signal?: AbortSignal;
  /**
   * The choice, made by the caller from this step's logits row (computeLogits' result) under the same rules (e.g. a
   * span's greedy argmax, found in its own pass over the row); the sampler is skipped.
   */
  choice?: Choice;
}

/** Outcome of a step that may be cancelled between model runs (cancellation is a value, not an exception). */
export type Cancelled = { cancelled: true };
export const CANCELLED: Cancelled = Object.freeze({ cancelled: true });

/**
 * Invariants: `tokens` = computed tokens (their KV is in the cache, cache.length === computed) followed by
 * pending tokens (appended, not yet run). Logits are held only while nothing is pending.
 */
export class Generator<C extends KvCacheLike = KvCacheLike> {
  readonly cache: C;
  private seq: number[] = [];
  private computed = 0;
  private logits: Float32Array | null = null;
  /** log Σ exp of `logits` when the model gave it (CausalLm.rowLse); undefined: not known. */
  private lse: number | undefined;
  private readonly chunk: number;
  private readonly runCap: ((run: number, past: number) => number) | undefined;
  private stopIds: ReadonlySet<number> = new Set();
  private maxNew = Infinity;
  private generated = 0;
  private done = false;
  private readonly kvWindow: number | null;
  /** decodeKvWindow: tokens before the decode-added KV (the prompt), and positions evicted after it. */
  private decodeStart = 0;
  private evicted = 0;
  /** decodeKvWindow: a generation turn is on (setSearch); setPrompt and a rewind into the prompt end it. */
  private inTurn = false;
  /**
   * Total time spent in model runs and tokens run, for timings; draft-and-verify: tokens drafted, drafts accepted.
   */
  readonly stats = { runMs: 0, runTokens: 0, runs: 0, drafted: 0, accepted: 0 };
  private readonly draftMax: number;
  private readonly draftNgram: { max: number; min: number };
  /** Drafts of the last verify run not yet accepted (their KV is in the cache past `computed`) and its logits rows. */
  private draft: { ids: number[]; rows: Float32Array; next: number; lse: Float32Array | undefined } | null = null;
  /** Cache positions past `computed` (drafted tokens' KV); cut before the next run, rewind or prompt change. */
  private excess = 0;
  /** The largest cache length after a model run since resetPeakLength() (decodeKvWindow's bound, seen in debug lines). */
  private peak = 0;

  /**
   * `tokens` (optional) start the sequence from a filled cache: the cache holds the KV of the first
   * cache.length of them (e.g. runtime/packedPrefill's caches, which hold all but the last prompt token);
   * the rest are pending. Without `tokens` the cache must be empty.
   */
  constructor(
    readonly model: CausalLm<C>,
    options: GeneratorOptions = {},
    cache?: C,
    tokens?: readonly number[],
  ) {
    this.cache = cache ?? model.createCache();
    this.chunk = Math.max(1, Math.floor(options.prefillChunkSize ?? 256));
    this.runCap = options.prefillRunCap;
    const w = options.decodeKvWindow;
    this.kvWindow = w !== undefined && Number.isFinite(w) && w >= 1 ? Math.floor(w) : null;
    if (this.kvWindow !== null && !this.cache.evict) throw new Error('Generator: decodeKvWindow needs a KV cache that can evict positions');
    const d = options.draftTokens;
    this.draftMax = this.kvWindow === null && d !== undefined && Number.isFinite(d) && d >= 1 ? Math.floor(d) : 0;
    this.draftNgram = { max: Math.max(1, options.draftNgram?.max ?? 3), min: Math.max(1, options.draftNgram?.min ?? 1) };
    if (tokens) {
      if (this.cache.length > tokens.length) throw new Error(`Generator: the cache holds ${this.cache.length} positions but only ${tokens.length} tokens were given`);
      this.seq = [...tokens];
      this.computed = this.cache.length;
    } else if (this.cache.length !== 0) {
      throw new Error('Generator: a new generator needs an empty cache (or the tokens it holds)');
    }
  }

  get tokens(): readonly number[] {
    return this.seq;
  }

  get length(): number {
    return this.seq.length;
  }

  /** Tokens whose KV is in the cache and reusable exactly (after a decodeKvWindow eviction: the prompt's). */
  get computedLength(): number {
    return this.evicted > 0 ? Math.min(this.computed, this.decodeStart) : this.computed;
  }

  /** Positions evicted by decodeKvWindow since the cache was last cut below them. */
  get evictedLength(): number {
    return this.evicted;
  }

  /** KV positions: the most the cache held after a model run since resetPeakLength(), or now if more. */
  get peakLength(): number {
    return Math.max(this.peak, this.cache.length);
  }

  /** Starts measuring peakLength from the cache's length now (the engine does so per request). */
  resetPeakLength(): void {
    this.peak = this.cache.length;
  }

  /** Starts a generation turn: what stops it (besides the caller's own criteria). */
  setSearch(options: { stopTokenIds?: Iterable<number>; maxNewTokens?: number }): void {
    this.stopIds = new Set(options.stopTokenIds ?? []);
    this.maxNew = options.maxNewTokens ?? Infinity;
    this.generated = 0;
    this.done = this.maxNew <= 0;
    if (this.evicted === 0) this.decodeStart = this.seq.length;
    this.inTurn = true;
  }

  /** True after a stop token was chosen or maxNewTokens were generated in this turn. */
  isDone(): boolean {
    return this.done;
  }

  /**
   * Queues tokens; they run at the next computeLogits. A token equal to the next draft of the last verify run, appended
   * while nothing is pending, is accepted instead: its KV is in the cache and its logits row becomes the current one.
   */
  appendTokens(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const d = this.draft;
      if (d && this.computed === this.seq.length && d.ids[d.next] === id) {
        this.seq.push(id);
        this.computed++;
        this.excess--;
        d.next++;
        this.stats.accepted++;
        const v = d.rows.length / (d.ids.length + 1);
        this.logits = d.rows.subarray(d.next * v, (d.next + 1) * v);
        this.lse = d.lse?.[d.next];
        if (d.next === d.ids.length) this.draft = null;
        continue;
      }
      this.draft = null; // the rest of the drafts are rejected: their KV (excess) is cut before the next run
      this.seq.push(id);
      this.logits = null;
      this.lse = undefined;
    }
  }

  /** Drops drafted tokens' KV past the accepted ones (draft-and-verify); a no-op without drafts. */
  async dropDrafts(): Promise<void> {
    this.draft = null;
    if (this.excess > 0) {
      const keep = this.cache.length - this.excess;
      this.excess = 0;
      await this.cache.rewindTo(keep);
    }
  }

  /**
   * Runs pending tokens in chunks of prefillChunkSize (only the last chunk asks for logits) and returns the
   * logits after the last token: [vocab] float32. Returns CANCELLED when `signal` aborts between chunks;
   * the chunks already run stay in the cache.
   */
  async computeLogits(signal?: AbortSignal, options: ComputeLogitsOptions = {}): Promise<Float32Array | Cancelled> {
    if (this.logits && this.computed === this.seq.length) return this.logits;
    if (this.seq.length === 0) throw new Error('Generator.computeLogits: empty sequence');
    await this.dropDrafts();
    if (this.computed === this.seq.length) {
      // Logits were dropped (rewind): run the last token again.
      await this.rewindTo(this.seq.length);
    }
    while (this.computed < this.seq.length) {
      if (signal?.aborted) return CANCELLED;
      // KV-Runahead (issue 17): a long pending stretch is one forward, which the model splits over its workers
      const runahead = this.model.kvRunahead;
      const pending = this.seq.length - this.computed;
      const run = this.runCap ? Math.max(1, Math.min(this.chunk, Math.floor(this.runCap(this.chunk, this.cache.length)) || 1)) : this.chunk;
      const end = runahead && pending >= runahead.minTokens ? this.seq.length : Math.min(this.seq.length, this.computed + run);
      const last = end === this.seq.length;
      // Draft-and-verify: the run that ends the sequence also carries the drafted tokens, with their rows.
      const budget = last && !(runahead && pending >= runahead.minTokens) ? Math.min(this.draftMax, Math.floor(options.draft ?? 0), Math.max(0, this.chunk - (end - this.computed))) : 0;
      const drafts = budget > 0 ? promptLookup(this.seq, budget, this.draftNgram.max, this.draftNgram.min) : [];
      const ids = drafts.length ? [...this.seq.slice(this.computed, end), ...drafts] : this.seq.slice(this.computed, end);
      const t0 = performance.now();
      const out = await this.model.forward(ids, this.cache, drafts.length ? { logits: 'last', rows: drafts.length + 1 } : { logits: last ? 'last' : 'none' });
      this.stats.runMs += performance.now() - t0;
      this.stats.runTokens += ids.length;
      this.stats.runs++;
      if (this.cache.length > this.peak) this.peak = this.cache.length;
      this.computed = end;
      if (last) {
        if (!out) throw new Error('Generator.computeLogits: model returned no logits');
        if (drafts.length) {
          const vocab = out.length / (drafts.length + 1);
          if (!Number.isInteger(vocab) || vocab < this.model.vocabSize) throw new Error(`Generator.computeLogits: asked for ${drafts.length + 1} logits rows, got ${out.length} values`);
          const lse = this.model.rowLse?.(out);
          this.draft = { ids: drafts, rows: out, next: 0, lse: lse && lse.length === drafts.length + 1 ? lse : undefined };
          this.excess = drafts.length;
          this.stats.drafted += drafts.length;
          this.logits = out.subarray(0, vocab);
          this.lse = this.draft.lse?.[0];
        } else {
          this.logits = out;
          this.lse = this.model.rowLse?.(out)?.[0];
        }
      }
    }
    return this.logits!;
  }

  /**
   * log Σ exp over the current logits row (what computeLogits returned, while nothing is pending) when the model
   * computed it in its graph (CausalLm.rowLse: float32 rounding of the sum); undefined when it did not, or when no row
   * is current: the caller computes it from the row.
   */
  get logitsLse(): number | undefined {
    return this.logits && this.computed === this.seq.length ? this.lse : undefined;
  }

  /** decodeKvWindow: keeps the newest `window` positions of the decode-added KV, evicting in blocks. */
  private evictDecodeKv(): void {
    if (this.kvWindow === null || !this.inTurn) return;
    const physicalStart = this.decodeStart; // positions before it were never evicted
    const decoded = this.cache.length - physicalStart;
    const block = Math.max(16, this.kvWindow >> 3);
    if (decoded <= this.kvWindow + block - 1) return;
    const drop = decoded - this.kvWindow;
    this.cache.evict!(physicalStart, physicalStart + drop);
    this.evicted += drop;
  }

  /**
   * Computes logits if needed, chooses a token, appends it (pending) and returns the choice. Marks the
   * generator done on a stop token or at maxNewTokens. tokenId -1 means the filter allowed nothing (done).
   */
  async nextToken(options: NextTokenOptions = {}): Promise<Choice | Cancelled> {
    if (this.done) throw new Error('Generator.nextToken: generation is done; call setSearch() to start another turn');
    const logits = await this.computeLogits(options.signal);
    if (!(logits instanceof Float32Array)) return logits;
    this.evictDecodeKv();
    const choice = options.choice ?? chooseToken(logits, options.sampling ?? {}, options.rng ?? null, options.filter ?? null, this.logitsLse);
    if (choice.tokenId < 0) {
      this.done = true;
      return choice;
    }
    this.appendTokens([choice.tokenId]);
    this.generated++;
    if (this.stopIds.has(choice.tokenId) || this.generated >= this.maxNew) this.done = true;
    return choice;
  }

  /**
   * Keeps the first `length` tokens. The cache keeps length-1 of them and the last one becomes pending,
   * so the next computeLogits yields the logits after it with one single-token run.
   */
  async rewindTo(length: number): Promise<void> {
    if (!Number.isInteger(length) || length < 0 || length > this.seq.length) {
      throw new RangeError(`Generator.rewindTo(${length}): length must be an integer in [0, ${this.seq.length}]`);
    }
    await this.dropDrafts();
    this.seq.length = length;
    this.logits = null;
    this.lse = undefined;
    const keep = Math.max(0, length - 1);
    if (length < this.decodeStart) this.inTurn = false;
    if (this.evicted > 0 && this.computed > Math.min(keep, this.decodeStart)) {
      // Only the prompt's KV is exact after an eviction: cut there; the tokens after it run again.
      const exact = Math.min(keep, this.decodeStart);
      await this.cache.rewindTo(exact);
      this.computed = exact;
      this.evicted = 0;
    } else if (this.computed > keep) {
      await this.cache.rewindTo(keep);
      this.computed = keep;
    }
    this.done = false;
  }

  /**
   * Makes the sequence equal `ids`, reusing the longest common prefix already in the cache.
   * Returns how many tokens were reused (need no model run).
   */
  async setPrompt(ids: readonly number[]): Promise<number> {
    await this.dropDrafts();
    this.inTurn = false;
    let lcp = 0;
    const n = Math.min(ids.length, this.computedLength);
    while (lcp < n && this.seq[lcp] === ids[lcp]) lcp++;
    if (lcp === ids.length) {
      // The whole prompt is cached: rewindTo re-runs its last token to get fresh logits.
      await this.rewindTo(lcp);
    } else {
      // New tokens follow the reused prefix; their run yields the logits.
      if (this.computed > lcp) await this.cache.rewindTo(lcp);
      this.computed = Math.min(this.computed, lcp);
      this.evicted = 0; // (lcp <= computedLength: the cut is at or below any evicted position)
      this.inTurn = false;
      this.seq.length = lcp;
      this.logits = null;
      this.lse = undefined;
      this.done = false;
      this.appendTokens(ids.slice(lcp));
    }
    return this.computed;
  }

  dispose(): void {
    this.draft = null;
    this.excess = 0;
    this.cache.dispose();
    this.seq = [];
    this.computed = 0;
    this.evicted = 0;
    this.logits = null;
    this.lse = undefined;
  }
}
