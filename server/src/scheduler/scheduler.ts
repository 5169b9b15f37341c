// The model scheduler: one model run at a time, prefill in chunks, interactive work before background work,
// and a document's newer request continuing (or truncating) the prefill already under way.
//
// Jobs are per document (a key) and target a prompt (token ids). A prefill job takes the document's Generator
// from the KvStore (or a new one) and runs the prompt in chunks. Background jobs hold back the prompt's last token
// (the decode's first step runs it and yields the first logits, as runtime/packedPrefill does); a request that
// decodes (hold) gets its lease with its last chunk, last token included, still to run. Between chunks it checks:
// - a newer job for the same document is queued and this one is no longer owed an answer (aborted, or background):
//   the newer job takes over the generator: if its prompt extends the tokens computed so far the prefill continues
//   ('continue'); otherwise the cache is cut to the common prefix ('truncate') and the prefill goes on from there;
// - this job is background work (warming, speculation, or an aborted request's prefill) and interactive work is
//   queued: it gives the generator back to the store and queues itself again ('preempt'); it resumes later from
//   where it stopped;
// - the job was aborted: its caller gets {kind:'cancelled'} at once (even mid-chunk), and the prefill goes on as
//   background work (an "orphan") until a newer request for the document adopts it or interactive work pre-empts
//   it; the chunks run stay in the document's cache either way.
// A finished interactive job ('hold') gets a Lease: the scheduler runs nothing else until the lease is released
// (the engine decodes under it). Exclusive tasks (packed warming, disposal) run between jobs.
// Cancellation is an outcome, never an exception; a model failure is {kind:'failed'} for that job only.
import type { Generator } from '../decoding/index.js';
import type { KvStore } from '../cache/index.js';

export type Priority = 'interactive' | 'background';

/** What the scheduler did, for tests and logs. */
export type SchedulerEvent =
  | { type: 'chunk'; key: string; from: number; to: number; priority: Priority }
  | { type: 'continue' | 'truncate'; key: string; kept: number; computed: number }
  | { type: 'preempt'; key: string; computed: number }
  /** maxStallMs: an interactive prefill gave the model to another document's request that is ready to decode. */
  | { type: 'yield'; key: string; computed: number; to: string }
  | { type: 'orphan'; key: string; computed: number };

export interface SchedulerOptions {
  store: KvStore<Generator>;
  createGenerator(): Generator;
  /** Most prompt tokens per model run while prefilling. */
  chunkSize: number;
  /**
   * The chunk-size rule against prefill/decode interference (TetriInfer arXiv 2401.11181, DistServe arXiv
   * 2401.09670, with Sarathi-Serve's stall-free chunks, arXiv 2403.02310), in milliseconds; undefined (default): off.
   * When set, (1) each prefill run is sized to take about `maxStallMs`: n = maxStallMs / (measured ms per prompt
   * token of the previous runs, an exponential average), clamped to [16, chunkSize] (32 before anything was
   * measured); (2) at a chunk boundary an interactive prefill yields to another document's interactive request that
   * is ready to decode (its uncached prompt fits in the lease's last chunk), which is also picked first from the
   * queue: a request that only decodes waits for at most one run of about `maxStallMs`, not for another
   * document's whole cold prefill. The split of a prompt into runs then depends on timing (bench/accelerators).
   */
  maxStallMs?: number;
  /**
   * KV-Runahead (issue 17; runtime `kvRunahead`): an uncached stretch of at least this many prompt tokens is prefilled
   * as one run (the model splits it over its workers), so cancellation and yielding wait for that whole run;
   * undefined (default): runs of chunkSize.
   */
  wholeRunFrom?: number;
  /**
   * Reuse across requests (default true): orphans keep prefilling and newer requests adopt running prefills.
   * False (caches off): an aborted job stops at the next chunk boundary and nothing is handed over.
   */
  reuse?: boolean;
  onEvent?(event: SchedulerEvent): void;
  log?(message: string): void;
  /**
   * Called at every chunk boundary and before each job, before the abort checks: a host whose cancellations arrive
   * out of band (model-host/worker.ts: shared-memory flags) aborts the jobs' signals here, so a cancel takes effect
   * between chunks even while this thread's event loop is busy with model runs.
   */
  poll?(): void;
}

export interface Lease {
  readonly generator: Generator;
  /** Prompt tokens already in the cache when this job took the generator (the rest it ran itself). */
  readonly reusedTokens: number;
  /** Prompt tokens run for this job by the scheduler (the last chunk is left to the holder's decode). */
  readonly prefilledTokens: number;
  /** How this job started on the document's cache. */
  readonly start: JobStart;
  /** Aborts when interactive work is queued while a background lease is held (the holder should stop soon). */
  readonly preempt: AbortSignal;
  /** Ends the lease; the generator goes back to the store (or is disposed when `broken`). */
  release(broken?: boolean): void;
}

/** 'cached' = took the document's stored generator; 'fresh' = no entry; 'continued'/'truncated' = took over a running prefill. */
export type JobStart = 'fresh' | 'cached' | 'continued' | 'truncated';

export type PrefillOutcome =
  | { kind: 'ready'; lease: Lease }
  | { kind: 'done'; reusedTokens: number; prefilledTokens: number; start: JobStart }
  | { kind: 'cancelled'; reason: 'aborted' | 'superseded' | 'closed' | 'disposed' }
  | { kind: 'failed'; error: unknown };

export interface RequestOptions {
  priority: Priority;
  signal?: AbortSignal;
  /** Hand the generator out as a Lease when the prefill is done (the caller decodes); else give it back to the store. */
  hold?: boolean;
}

interface Job {
  id: number;
  key: string;
  target: readonly number[] | null; // null: an exclusive task
  task: (() => Promise<void>) | null;
  priority: Priority;
  hold: boolean;
  signal: AbortSignal | undefined;
  /** Answers the caller; null once answered (an orphan still runs without it). */
  settle: ((o: PrefillOutcome) => void) | null;
  unlisten: () => void;
  dropped: boolean;
  started: boolean;
  reused: number;
  prefilled: number;
  start: JobStart;
}

function commonPrefix(gen: Generator, target: readonly number[]): number {
  const tokens = gen.tokens;
  const n = Math.min(target.length, gen.computedLength);
  let i = 0;
  while (i < n && tokens[i] === target[i]) i++;
  return i;
}

export class Scheduler {
  private readonly queue: Job[] = [];
  private nextId = 1;
  private pumping = false;
  private lease: { background: boolean; preempt: AbortController } | null = null;
  private running: Job | null = null;
  private disposed = false;
  private readonly reuse: boolean;
  private readonly chunk: number;
  private readonly maxStallMs: number | undefined;
  /** maxStallMs: measured milliseconds per prompt token of prefill runs (exponential average); null until measured. */
  private msPerToken: number | null = null;

  constructor(private readonly options: SchedulerOptions) {
    this.reuse = options.reuse ?? true;
    this.chunk = Math.max(1, Math.floor(options.chunkSize));
    const stall = options.maxStallMs;
    this.maxStallMs = stall !== undefined && Number.isFinite(stall) && stall > 0 ? stall : undefined;
  }

  /** Tokens of the next prefill run: chunkSize, or under maxStallMs the run that should take about that long. */
  private runTokens(): number {
    if (this.maxStallMs === undefined) return this.chunk;
    const min = Math.min(16, this.chunk);
    if (this.msPerToken === null) return Math.min(32, this.chunk);
    return Math.max(min, Math.min(this.chunk, Math.floor(this.maxStallMs / this.msPerToken)));
  }

  /** maxStallMs: an interactive job whose uncached prompt fits in its lease's last chunk (it is about to decode). */
  private readyToDecode(job: Job): boolean {
    if (!job.target || !this.isInteractive(job) || !job.hold) return false;
    const gen = this.options.store.peek(job.key);
    return job.target.length - (gen ? commonPrefix(gen, job.target) : 0) <= this.lastRun();
  }

  /** Prompt tokens a lease is handed out with (its decode runs them in one run): a chunk, or one sized run under maxStallMs. */
  private lastRun(): number {
    return this.maxStallMs === undefined ? this.chunk : this.runTokens();
  }

  /** Jobs waiting (tests, stats). */
  get queued(): number {
    return this.queue.length;
  }

  /** True while a job, task or lease holds the model. */
  get busy(): boolean {
    return this.pumping || this.lease !== null;
  }

  /** Prefills `ids` (all but the last token) for `key`. Resolves when done, cancelled, superseded or failed; never rejects. */
  request(key: string, ids: readonly number[], options: RequestOptions): Promise<PrefillOutcome> {
    return new Promise<PrefillOutcome>((resolve) => {
      if (this.disposed) return resolve({ kind: 'cancelled', reason: 'disposed' });
      if (options.signal?.aborted) return resolve({ kind: 'cancelled', reason: 'aborted' });
      const job = this.newJob(key, [...ids], null, options, resolve);
      if (options.priority === 'background') {
        // One queued background prefill per document: the newer target replaces the older.
        for (const old of this.queue.filter((j) => j.key === key && j.target && j.priority === 'background' && j.settle === null)) this.remove(old);
      }
      this.enqueue(job);
    });
  }

  /** Runs `fn` alone (no model run in parallel), in priority order with the jobs; resolves to its value. */
  exclusive<T>(priority: Priority, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job = this.newJob('', null, null, { priority }, () => {});
      job.task = async () => {
        try {
          resolve(await fn());
        } catch (e) {
          reject(e);
        }
      };
      this.enqueue(job);
    });
  }

  /** Drops the document's queued and running jobs; its generator is disposed, not stored (the document closed). */
  closeDocument(key: string): void {
    for (const j of this.queue.filter((q) => q.key === key && q.target)) {
      this.remove(j);
      this.answer(j, { kind: 'cancelled', reason: 'closed' });
    }
    if (this.running?.key === key) this.running.dropped = true;
  }

  /** Cancels everything queued; running work stops at its next chunk boundary. */
  dispose(): void {
    this.disposed = true;
    // Exclusive tasks stay queued (disposal itself is one); prefill jobs are answered now.
    for (const j of this.queue.filter((q) => q.target)) {
      this.remove(j);
      this.answer(j, { kind: 'cancelled', reason: 'disposed' });
    }
    if (this.running) this.running.dropped = true;
  }

  private newJob(key: string, target: readonly number[] | null, task: Job['task'], options: RequestOptions, resolve: (o: PrefillOutcome) => void): Job {
    const job: Job = {
      id: this.nextId++,
      key,
      target,
      task,
      priority: options.priority,
      hold: options.hold ?? false,
      signal: options.signal,
      settle: resolve,
      unlisten: () => {},
      dropped: false,
      started: false,
      reused: 0,
      prefilled: 0,
      start: 'fresh',
    };
    const signal = options.signal;
    if (signal) {
      const onAbort = () => {
        const queued = this.queue.indexOf(job);
        if (queued !== -1) this.queue.splice(queued, 1);
        // A running job answers now; its prefill goes on as an orphan (or stops at the chunk boundary without reuse).
        this.answer(job, { kind: 'cancelled', reason: 'aborted' });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    return job;
  }

  private answer(job: Job, outcome: PrefillOutcome): void {
    const settle = job.settle;
    if (!settle) return;
    job.settle = null;
    job.unlisten();
    settle(outcome);
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    if (job.priority === 'interactive' && this.lease?.background) this.lease.preempt.abort();
    this.kick();
  }

  private remove(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i !== -1) this.queue.splice(i, 1);
  }

  /** Interactive and owed an answer. */
  private isInteractive(job: Job): boolean {
    return job.priority === 'interactive' && job.settle !== null;
  }

  private next(): Job | undefined {
    let best: Job | undefined;
    const decodeFirst = this.maxStallMs !== undefined;
    for (const j of this.queue) {
      const rank = (x: Job) => (this.isInteractive(x) ? (decodeFirst && this.readyToDecode(x) ? 0 : 1) : 2);
      if (!best || rank(j) < rank(best) || (rank(j) === rank(best) && j.id < best.id)) best = j;
    }
    if (best) this.remove(best);
    return best;
  }

  private kick(): void {
    if (this.pumping || this.lease) return;
    this.pumping = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.lease) {
        this.options.poll?.();
        const job = this.next();
        if (!job) break;
        if (job.task) {
          await job.task();
          continue;
        }
        if (!job.settle && !this.reuse) continue; // cancelled while queued (caches off: nothing to continue)
        this.running = job;
        try {
          await this.runPrefill(job);
        } catch (e) {
          // runPrefill answers its own failures; this is a bug in it: answer the job and keep scheduling.
          this.options.log?.(`scheduler: ${e instanceof Error ? e.message : String(e)}`);
          this.answer(job, { kind: 'failed', error: e });
        } finally {
          this.running = null;
        }
      }
    } finally {
      this.pumping = false;
    }
    // A lease released while the loop was finishing, or jobs queued since: go again.
    if (!this.lease && this.queue.length) this.kick();
  }

  private newestQueuedPrefill(key: string): Job | undefined {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const j = this.queue[i]!;
      if (j.key === key && j.target && (j.settle || j.priority === 'background')) return j;
    }
    return undefined;
  }

  private hasQueuedInteractive(): boolean {
    return this.queue.some((j) => this.isInteractive(j) || (j.task !== null && j.priority === 'interactive'));
  }

  private async runPrefill(first: Job): Promise<void> {
    const { store } = this.options;
    let job = first;
    let gen: Generator | null = store.take(job.key) ?? null;
    if (!job.started) {
      // (A pre-empted job that resumes keeps how it started.)
      job.started = true;
      job.start = gen ? 'cached' : 'fresh';
      job.reused = gen ? commonPrefix(gen, job.target!) : 0;
    }
    // Background work queued earlier for this document (a pre-empted orphan, an older warm-up) is stale now: left
    // queued, it would cut this job's cache back to its own older prompt.
    for (const old of this.queue.filter((q) => q.key === job.key && q.target && !this.isInteractive(q) && q.id < job.id)) {
      this.remove(old);
      this.answer(old, { kind: 'cancelled', reason: 'superseded' });
    }
    try {
      gen ??= this.options.createGenerator();
      for (;;) {
        this.options.poll?.();
        const target = job.target!;
        if (this.disposed || job.dropped) {
          gen.dispose();
          gen = null;
          this.answer(job, { kind: 'cancelled', reason: job.dropped ? 'closed' : 'disposed' });
          return;
        }
        if (!job.settle && job.priority === 'interactive' && job.signal?.aborted) {
          if (!this.reuse) {
            store.put(job.key, gen);
            gen = null;
            return;
          }
          // Aborted mid-prefill: keep prefilling its prompt as background work until someone needs the model.
          job.priority = 'background';
          this.options.onEvent?.({ type: 'orphan', key: job.key, computed: gen.computedLength });
        }
        // A newer request for this document takes over the prefill when this one is owed no answer.
        if (this.reuse && !this.isInteractive(job)) {
          const newer = this.newestQueuedPrefill(job.key);
          if (newer) {
            this.remove(newer);
            for (const older of this.queue.filter((q) => q.key === job.key && q.target && !this.isInteractive(q) && q.id < newer.id)) {
              this.remove(older);
              this.answer(older, { kind: 'cancelled', reason: 'superseded' });
            }
            this.answer(job, { kind: 'cancelled', reason: 'superseded' });
            const computed = gen.computedLength;
            const kept = commonPrefix(gen, newer.target!);
            // (The next chunk's setPrompt cuts the cache to the common prefix when the prompts diverge.)
            this.options.onEvent?.({ type: kept < computed ? 'truncate' : 'continue', key: job.key, kept, computed });
            newer.start = kept < computed ? 'truncated' : 'continued';
            newer.started = true;
            newer.reused = commonPrefix(gen, newer.target!);
            job = newer;
            this.running = job;
            continue;
          }
        }
        // Background work yields to queued interactive work at a chunk boundary and resumes later.
        if (!this.isInteractive(job) && this.hasQueuedInteractive()) {
          this.options.onEvent?.({ type: 'preempt', key: job.key, computed: gen.computedLength });
          store.put(job.key, gen);
          gen = null;
          if (!job.dropped && !this.disposed) this.queue.push(job); // keeps its id: it resumes before newer background work
          return;
        }
        const goal = target.length - 1;
        const have = commonPrefix(gen, target);
        const leasing = job.settle !== null && job.hold;
        // maxStallMs: another document's request that only has to decode goes before the rest of this prefill.
        if (this.maxStallMs !== undefined && !(leasing && target.length - have <= this.lastRun())) {
          const ready = this.queue.find((q) => q.key !== job.key && this.readyToDecode(q));
          if (ready) {
            this.options.onEvent?.({ type: 'yield', key: job.key, computed: gen.computedLength, to: ready.key });
            store.put(job.key, gen);
            gen = null;
            this.queue.push(job); // keeps its id (and its caller): it resumes right after
            return;
          }
        }
        // A lease is handed out with the last chunk still to run (at most one chunk, the last token included): the
        // holder's decode runs it in one model run, so a request's runs split its prompt as a plain chunked prefill.
        if (leasing ? target.length - have <= this.lastRun() : have >= goal) {
          if (leasing) {
            const preempt = new AbortController();
            const lease = { background: job.priority === 'background', preempt };
            this.lease = lease;
            if (lease.background && this.hasQueuedInteractive()) preempt.abort();
            const held = gen;
            gen = null;
            let released = false;
            const key = job.key;
            this.answer(job, {
              kind: 'ready',
              lease: {
                generator: held,
                reusedTokens: job.reused,
                prefilledTokens: job.prefilled,
                start: job.start,
                preempt: preempt.signal,
                release: (broken?: boolean) => {
                  if (released) return;
                  released = true;
                  if (broken || this.disposed) held.dispose();
                  else store.put(key, held);
                  this.lease = null;
                  this.kick();
                },
              },
            });
            return;
          }
          store.put(job.key, gen);
          gen = null;
          this.answer(job, { kind: 'done', reusedTokens: job.reused, prefilledTokens: job.prefilled, start: job.start });
          return;
        }
        const whole = this.options.wholeRunFrom !== undefined && goal - have >= this.options.wholeRunFrom;
        const end = whole ? goal : Math.min(goal, have + this.runTokens());
        await gen.setPrompt(target.slice(0, end));
        const computedBefore = gen.computedLength;
        const t0 = performance.now();
        await gen.computeLogits();
        if (this.maxStallMs !== undefined && end > computedBefore) {
          const perToken = (performance.now() - t0) / (end - computedBefore);
          this.msPerToken = this.msPerToken === null ? perToken : 0.5 * this.msPerToken + 0.5 * perToken;
        }
        job.prefilled += end - computedBefore;
        this.options.onEvent?.({ type: 'chunk', key: job.key, from: computedBefore, to: end, priority: this.isInteractive(job) ? 'interactive' : 'background' });
      }
    } catch (e) {
      this.options.log?.(`scheduler: prefill of ${job.key} failed: ${e instanceof Error ? e.message : String(e)}`);
      gen?.dispose();
      gen = null;
      this.answer(job, { kind: 'failed', error: e });
    } finally {
      if (gen) store.put(job.key, gen);
    }
  }
}
