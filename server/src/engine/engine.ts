// The completion engine façade: loads the model once, builds the FIM prompt, prefills through the scheduler and decodes.
//
// Policy:
// - one model run at a time: the scheduler (scheduler/Scheduler) runs prefills in chunks of `prefillChunkSize`,
//   interactive requests before background work (warming, speculation, aborted requests' prefills); a request whose
//   signal aborts returns {kind:'cancelled'} at once and the chunks already run stay in the document's cache;
// - a document's newer request takes over the prefill under way: it continues when the new prompt extends the
//   computed tokens and cuts the cache to the common prefix otherwise (scheduler/);
// - greedy decoding, at most `maxNewTokens` (64) new tokens, within `timeBudgetMs` (3000) of decoding;
// - decoding (engine/decode.ts) on the generator the scheduler prefilled: the syntax layer decides single vs multi
//   line and where a completion stops (end of the cursor's block, the code after the cursor); `decodeMode` 'fim'
//   (default) or 'self-infill' decodes, then the post-processing chain and syntax validation order the candidates;
// - per-document KV prefix caches: each document key has its own Generator (tokens + KV cache) in a byte-bounded
//   LRU (cache/KvStore, `cacheBudgetMb`); a request reuses the longest common token prefix of that document's
//   previous prompt+completion (with the SPM template, typing only appends tokens);
// - sticky prefix trimming (cache/stickyTrimPrefix): once a prefix is over its token budget, the first kept line
//   moves by blocks, not on every keystroke, so the common prefix stays long;
// - background warming (`warm(context)`): the prompt of a cursor position is prefilled at background priority;
//   several documents at once use the prepacked prefill (runtime/packedPrefill) with the packed layout;
// - completion-level reuse (cache/CompletionCache): a request that types through a returned completion is answered
//   with the rest of it without a model run (cache 'completion-reuse'); after an accept (onCompletionEvent) the
//   completion after the accepted text is computed speculatively in the background ('completion-reuse:speculative').
import type { CompletionContext, CompletionEngine, CompletionEvent, CompletionResult, EngineStatus } from './types.js';
import { loadBundle, type LoadedBundle } from './load.js';
import { Generator, type SamplingOptions } from '../decoding/index.js';
import { buildFimPrompt, type TemplateOverride } from '../prompt/index.js';
import { packBins, packedPrefill, type DeviceRequest, type ModelDtype } from '../runtime/index.js';
import { raceAbort } from '../util/mutex.js';
import { Scheduler, type Lease, type SchedulerEvent } from '../scheduler/index.js';
import { defaultModelDir } from '../util/paths.js';
import { errorText } from '../util/errors.js';
import { nowMs } from '../util/clock.js';
import { LRUCache } from 'lru-cache';
import { CompletionCache, KvStore, stickyTrimPrefix, type KvStoreStats } from '../cache/index.js';
import { SyntaxTrees } from '../syntax/index.js';
import { DEFAULT_DECODE, decodeRequest, type DecodeMode, type DecodeSettings } from './decode.js';

export interface EngineOptions {
  /** Model directory (HF/Optimum layout); default: models/default under the package root. */
  modelDir?: string;
  device?: DeviceRequest;
  dtype?: ModelDtype | 'auto';
  /** CPU threads per operator (onnxruntime intraOpNumThreads); default: onnxruntime's choice. */
  threads?: number;
  /** Force a FIM family or mode instead of detecting it (env INFILL_LS_FIM_MODE=psm|spm forces the mode). */
  fim?: TemplateOverride;
  maxPrefixTokens?: number;
  maxSuffixTokens?: number;
  maxNewTokens?: number;
  /** Decoding time budget per request in ms (after prefill). */
  timeBudgetMs?: number;
  prefillChunkSize?: number;
  /** Token healing depth (0 disables). */
  maxHealTokens?: number;
  /** Default greedy. */
  sampling?: SamplingOptions;
  seed?: number;
  /** Debug log lines (load progress, fallbacks). */
  log?: (message: string) => void;
  /**
   * Per-document KV prefix caches (default on; env INFILL_LS_PREFIX_CACHE=0 turns them off). Off: every request
   * prefills its whole prompt on a fresh KV cache.
   */
  prefixCache?: boolean;
  /** Byte budget of the KV prefix caches in MB (default 256, env INFILL_LS_CACHE_BUDGET_MB). */
  cacheBudgetMb?: number;
  /** Exact byte budget (tests); overrides cacheBudgetMb. */
  cacheBudgetBytes?: number;
  /** Sticky prefix trimming (default on; env INFILL_LS_STICKY_TRIM=0 turns it off). */
  stickyTrim?: boolean;
  /** The post-processing chain on the final text (default on; env INFILL_LS_POSTPROCESS=0 turns it off). */
  postprocess?: boolean;
  /** 'fim' (default: plain FIM, the template's layout) or 'self-infill' (see decoding/self-infill.ts). */
  decodeMode?: DecodeMode;
  /** Self-infilling loops, 0..2 (default DEFAULT_DECODE.loops). */
  selfInfillLoops?: number;
  /** Confidence threshold of self-infilling, 0..1 (default DEFAULT_DECODE.tau). */
  selfInfillTau?: number;
  /** Background warming through `warm()` (default on; env INFILL_LS_WARM=0 turns it off: warm() does nothing). */
  warm?: boolean;
  /**
   * Warm several documents with one prepacked prefill (runtime/packedPrefill) when the model has the packed layout
   * (default on; env INFILL_LS_WARM_PACKED=0 warms them one by one, in chunks).
   */
  warmPacked?: boolean;
  /** Bin capacity of the packed warming passes in tokens (default 1024: one bin is one non-pre-emptible model run). */
  warmBinTokens?: number;
  /** Typed-ahead reuse of returned completions (default on; env INFILL_LS_COMPLETION_REUSE=0 turns it off). */
  completionReuse?: boolean;
  /** Speculative next completion after an accept (default on; env INFILL_LS_SPECULATIVE=0 turns it off). */
  speculative?: boolean;
  /** Scheduler events (tests, benchmarks). */
  onSchedulerEvent?: (event: SchedulerEvent) => void;
}

/** How a warm() call ended (tests, logs). */
export type WarmOutcome = 'warmed' | 'packed' | 'cached' | 'cancelled' | 'off' | 'unavailable' | 'failed';

/** What the engine's caches hold now (tests, benchmarks). */
export interface EngineCacheStats extends KvStoreStats {
  /** KV bytes per token of the loaded model. */
  bytesPerToken: number;
}

export interface Engine extends CompletionEngine {
  /** Resolves when loading ended (ready or degraded); never rejects. */
  readonly loaded: Promise<void>;
  /** Drops the document's caches (the LSP host calls it when a document closes). */
  onDocumentClosed(documentKey: string): void;
  /** Cache occupancy and counters; null before the model is loaded. */
  cacheStats(): EngineCacheStats | null;
  /**
   * Prefills the prompt of this cursor position at background priority (the document's next request there, or
   * after typing there, reuses it). Calls in the same tick are warmed together (packed prefill when available).
   * Resolves when the warming ended; never rejects.
   */
  warm(context: CompletionContext): Promise<WarmOutcome>;
  /** Editor events: an accepted completion starts the speculative next completion. */
  onCompletionEvent(event: CompletionEvent): void;
  /** Resolves when no speculative completion is running (tests, benchmarks). */
  speculationIdle(): Promise<void>;
}

function envFlag(name: string): boolean | undefined {
  const v = process.env[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  return !['0', 'off', 'false', 'no'].includes(v);
}

function envNumber(name: string): number | undefined {
  const v = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** KV bytes one token takes in the model's past tensors (batch 1). */
function kvBytesPerToken(slots: readonly { emptyDims: readonly number[]; pastAxis: number; dtype: string }[]): number {
  let total = 0;
  for (const s of slots) {
    let n = s.dtype === 'float16' ? 2 : 4;
    s.emptyDims.forEach((d, i) => {
      if (i !== s.pastAxis) n *= Math.max(1, d);
    });
    total += n;
  }
  return total;
}

/** The caller's lineMode, else: rest of the cursor line is non-blank → single-line completion (automatic triggers only). */
export function isSingleLine(context: Pick<CompletionContext, 'trigger' | 'suffix' | 'lineMode'>): boolean {
  if (context.lineMode) return context.lineMode === 'single';
  if (context.trigger !== 'automatic') return false;
  const nl = context.suffix.indexOf('\n');
  const rest = nl === -1 ? context.suffix : context.suffix.slice(0, nl);
  return rest.trim().length > 0;
}

export function createEngine(options: EngineOptions = {}): Engine {
  const modelDir = options.modelDir ?? defaultModelDir;
  const listeners = new Set<(s: EngineStatus) => void>();
  let status: EngineStatus = { state: 'loading', model: modelDir };
  let bundle: LoadedBundle | null = null;
  let store: KvStore<Generator> | null = null;
  let scheduler: Scheduler | null = null;
  let bytesPerToken = 0;
  let disposed = false;
  const log = options.log ?? (() => {});
  const prefixCacheOn = options.prefixCache ?? envFlag('INFILL_LS_PREFIX_CACHE') ?? true;
  const stickyOn = options.stickyTrim ?? envFlag('INFILL_LS_STICKY_TRIM') ?? true;
  const postprocessOn = options.postprocess ?? envFlag('INFILL_LS_POSTPROCESS') ?? true;
  const decodeSettings: DecodeSettings = {
    mode: options.decodeMode ?? DEFAULT_DECODE.mode,
    loops: Math.max(0, Math.min(2, Math.floor(options.selfInfillLoops ?? DEFAULT_DECODE.loops))),
    tau: Math.max(0, Math.min(1, options.selfInfillTau ?? DEFAULT_DECODE.tau)),
    postprocess: postprocessOn,
    maxNewTokens: options.maxNewTokens ?? 64,
    timeBudgetMs: options.timeBudgetMs ?? 3000,
    maxPrefixTokens: options.maxPrefixTokens,
    maxSuffixTokens: options.maxSuffixTokens,
    maxHealTokens: options.maxHealTokens,
    sampling: options.sampling,
    seed: options.seed,
  };
  const warmOn = options.warm ?? envFlag('INFILL_LS_WARM') ?? true;
  const warmPackedOn = options.warmPacked ?? envFlag('INFILL_LS_WARM_PACKED') ?? true;
  const reuseOn = options.completionReuse ?? envFlag('INFILL_LS_COMPLETION_REUSE') ?? true;
  const speculativeOn = options.speculative ?? envFlag('INFILL_LS_SPECULATIVE') ?? true;
  const budgetBytes = options.cacheBudgetBytes ?? Math.round((options.cacheBudgetMb ?? envNumber('INFILL_LS_CACHE_BUDGET_MB') ?? 256) * 1024 * 1024);
  // The FIM mode may be forced (PSM against SPM measurements): options.fim, else env INFILL_LS_FIM_MODE=psm|spm.
  const envMode = process.env.INFILL_LS_FIM_MODE?.trim().toLowerCase();
  const fimOverride: TemplateOverride | undefined = options.fim ?? (envMode === 'psm' || envMode === 'spm' ? { mode: envMode } : undefined);
  // Prefill chunk size, chosen by measurement per device (bench/results/chunks-*.md): 256 on the CPU (fastest total
  // prefill; ~150 ms worst-case wait for an abort); 512 on WebGPU, where a chunk costs ~12 ms whatever its size.
  const chunkOverride = options.prefillChunkSize ?? envNumber('INFILL_LS_PREFILL_CHUNK');
  let chunkSize = Math.max(1, Math.floor(chunkOverride ?? 256));
  /** First kept prefix line per document (sticky trimming); a few numbers per document, bounded by count. */
  const trimStarts = new LRUCache<string, number>({ max: 4096 });
  const completions = new CompletionCache();
  /** Per-document syntax trees of the decode plan's window, re-parsed incrementally request after request. */
  const syntaxTrees = new SyntaxTrees();
  /** Prompt tokens the model prefilled since load, background work included (benchmarks read it from the debug line). */
  let modelPrefillTokens = 0;
  const cacheKey = (documentKey: string) => `${modelDir}\u0000${documentKey}`;

  const setStatus = (patch: Partial<EngineStatus>) => {
    status = { ...status, ...patch };
    for (const l of listeners) {
      try {
        l(status);
      } catch {
        // a listener's failure is not the engine's
      }
    }
  };

  const loaded = (async () => {
    try {
      const b = await loadBundle({
        modelDir,
        device: options.device,
        dtype: options.dtype,
        intraOpNumThreads: options.threads,
        fim: fimOverride,
        onStatus: (m) => {
          log(m);
          setStatus({ message: m });
        },
      });
      if (disposed) {
        await b.model.dispose();
        return;
      }
      bundle = b;
      if (chunkOverride === undefined && b.model.device === 'webgpu') chunkSize = 512;
      bytesPerToken = kvBytesPerToken(b.model.layout.slots);
      const kv = new KvStore<Generator>({ budgetBytes: prefixCacheOn ? budgetBytes : 0, sizeOf: (g) => g.cache.length * bytesPerToken });
      store = kv;
      scheduler = new Scheduler({
        store: kv,
        createGenerator: () => new Generator(b.model, { prefillChunkSize: chunkSize }),
        chunkSize,
        reuse: prefixCacheOn,
        onEvent: (event) => {
          if (event.type === 'chunk') modelPrefillTokens += event.to - event.from;
          options.onSchedulerEvent?.(event);
        },
        log,
      });
      if (!b.template) {
        setStatus({ state: 'degraded', device: b.model.device, message: `${b.model.files.tokenizerPath}: the vocabulary has no known fill-in-the-middle tokens` });
        return;
      }
      setStatus({
        state: 'ready',
        device: b.model.device,
        message: `${b.template.family} ${b.template.mode.toUpperCase()}, ${b.model.files.dtype} on ${b.model.device}${b.model.fallbackReason ? ` (${b.model.fallbackReason})` : ''}`,
      });
    } catch (e) {
      log(`model load failed: ${errorText(e)}`);
      setStatus({ state: 'degraded', message: errorText(e) });
    }
  })();

  /** The FIM prompt of a cursor position (sticky trimming moves the document's first kept line). */
  function promptOf(context: Pick<CompletionContext, 'documentKey' | 'prefix' | 'suffix' | 'crossFile' | 'languageId'>) {
    const { tokenizer, template } = bundle!;
    let prefix = context.prefix;
    if (stickyOn && typeof prefix === 'string') {
      const budget = Math.max(0, Math.floor(options.maxPrefixTokens ?? 768));
      const t = stickyTrimPrefix(prefix, trimStarts.get(context.documentKey) ?? null, (text) => tokenizer.encode(text), { budget });
      trimStarts.set(context.documentKey, t.startLine);
      prefix = t.text;
    }
    const prompt = buildFimPrompt({ prefix, suffix: context.suffix, crossFile: context.crossFile, languageId: context.languageId }, template!, tokenizer, {
      maxPrefixTokens: options.maxPrefixTokens,
      maxSuffixTokens: options.maxSuffixTokens,
      maxHealTokens: options.maxHealTokens,
    });
    return { prompt, prefix };
  }

  const ready = () => !disposed && status.state === 'ready' && bundle !== null && bundle.template !== null && store !== null && scheduler !== null;

  /**
   * Prefill (scheduler) then decode (engine/decode.ts) one prompt. Interactive requests and speculative completions share it;
   * `background` runs at background priority and stops when interactive work is queued.
   */
  async function run(context: CompletionContext, signal: AbortSignal, t0: number, background: boolean, onPartial?: (text: string) => void): Promise<CompletionResult> {
    const { tokenizer, template } = bundle!;
    const sched = scheduler!;
    const kv = store!;
    const key = cacheKey(context.documentKey);
    const { prompt, prefix } = promptOf(context);
    const outcome = await sched.request(key, prompt.ids, { priority: background ? 'background' : 'interactive', signal, hold: true });
    const logLine = (fields: Record<string, unknown>) =>
      // One debug line per request (bench/replay reads them from the server's stderr with INFILL_LS_LOG=debug).
      log(`completion ${JSON.stringify({ doc: context.documentKey, version: context.version, ...(background ? { speculative: true } : {}), ...fields, totalMs: Math.round(nowMs() - t0), kvBytes: kv.stats().bytes, modelPrefillTokens })}`);
    if (outcome.kind === 'cancelled') {
      logLine({ outcome: 'cancelled', promptTokens: prompt.ids.length, cancelledIn: 'prefill', reason: outcome.reason });
      return { kind: 'cancelled' };
    }
    if (outcome.kind === 'failed') return { kind: 'degraded', reason: `completion failed: ${errorText(outcome.error)}` };
    if (outcome.kind !== 'ready') return { kind: 'cancelled' }; // not reached: hold jobs end ready
    const lease: Lease = outcome.lease;
    const generator = lease.generator;
    const tPrefilled = nowMs();
    let broken = false;
    try {
      const decodeSignal = background ? AbortSignal.any([signal, lease.preempt]) : signal;
      // Syntax plan, decode mode, post-processing and candidate validation (engine/decode.ts) on the prompt the
      // scheduler prefilled: only its last chunk (the scheduler leaves it to the decode, so cached and uncached
      // requests split a prompt the same way) and self-infilling's extra passes run here.
      const r = await decodeRequest(generator, { tokenizer, template: template!, trees: syntaxTrees }, context, prefix, decodeSettings, decodeSignal, onPartial, prompt);
      // Prompt tokens run for this request: the scheduler's chunks plus what the decode ran of the prompt.
      const prefillTokens = lease.prefilledTokens + r.prefillTokens;
      modelPrefillTokens += r.prefillTokens;
      const reused = r.promptTokens - prefillTokens;
      const prefillMs = tPrefilled - t0 + r.prefillMs;
      const cache = !prefixCacheOn ? 'off' : reused > 0 ? `kv-prefix:${reused}` : lease.start !== 'fresh' ? 'miss:no-common-prefix' : 'miss';
      logLine({
        outcome: r.cancelled ? 'cancelled' : 'ok',
        mode: r.mode,
        lineMode: r.lineMode,
        promptTokens: r.promptTokens,
        prefillTokens,
        cache,
        start: lease.start,
        prefillMs: Math.round(prefillMs),
        decodeMs: Math.round(r.decodeMs),
        generated: r.generatedTokens,
        modelTokens: r.modelTokens,
      });
      // Cancelled between decode steps: the prompt stays in the entry's cache.
      if (r.cancelled) return { kind: 'cancelled' };
      // The shown text is post-processed (decode.ts); the cached tokens stay what the model generated, so the next
      // request still reuses them.
      const best = r.candidates[0];
      const score = best?.score ?? 0;
      const entry = completions.add({ documentKey: context.documentKey, languageId: context.languageId, prefix: context.prefix, suffix: context.suffix, text: best?.text ?? '', speculative: background, score });
      const totalMs = nowMs() - t0;
      if (!background) setStatus({ lastLatencyMs: Math.round(totalMs) });
      return {
        kind: 'ok',
        candidates: r.candidates,
        raw: r.raw,
        timings: { totalMs, prefillMs, decodeMs: r.decodeMs, prefillTokens, promptTokens: r.promptTokens, generatedTokens: r.generatedTokens, modelTokens: r.modelTokens },
        // kv-prefix:N = N prompt tokens reused from this document's cache; miss = the whole prompt was prefilled
        // (no entry, or nothing in common); off = caches disabled.
        cache,
        id: entry.id,
      };
    } catch (e) {
      // A bug or a runtime failure: report it; the document's entry is dropped (next request starts empty).
      log(`completion failed: ${errorText(e)}`);
      broken = true;
      return { kind: 'degraded', reason: `completion failed: ${errorText(e)}` };
    } finally {
      lease.release(broken);
    }
  }

  /** Typed-ahead / speculative reuse: the rest of a returned completion the user is typing through, or null. */
  function reuse(context: CompletionContext, t0: number): CompletionResult | null {
    // A request for several candidates (the alternatives of a manual trigger) wants a real decode.
    if (!reuseOn || !prefixCacheOn || (context.maxCandidates ?? 1) > 1) return null;
    const hit = completions.lookup(context.documentKey, context.prefix, context.suffix);
    if (!hit) return null;
    const text = hit.remaining;
    // The rest of a multi-line completion is still shown as such; single-line requests keep its first line.
    const shown = isSingleLine(context) && text.includes('\n') ? text.slice(0, text.indexOf('\n')) : text;
    if (!shown.trim()) return null;
    const cache = hit.entry.speculative ? 'completion-reuse:speculative' : 'completion-reuse';
    const entry = hit.typed === 0 ? hit.entry : completions.add({ ...hit.entry, prefix: context.prefix, text, speculative: false });
    const totalMs = nowMs() - t0;
    log(`completion ${JSON.stringify({ doc: context.documentKey, version: context.version, outcome: 'ok', promptTokens: 0, prefillTokens: 0, cache, typed: hit.typed, prefillMs: 0, decodeMs: 0, generated: 0, totalMs: Math.round(totalMs), kvBytes: store?.stats().bytes ?? 0, modelPrefillTokens })}`);
    setStatus({ lastLatencyMs: Math.round(totalMs) });
    return {
      kind: 'ok',
      candidates: [{ text: shown, score: hit.entry.score }],
      timings: { totalMs, prefillMs: 0, decodeMs: 0, prefillTokens: 0, promptTokens: 0, generatedTokens: 0 },
      cache,
      id: entry.id,
    };
  }

  async function complete(context: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult> {
    const t0 = nowMs();
    if (signal.aborted) return { kind: 'cancelled' };
    if (status.state === 'loading') {
      if ((await raceAbort(loaded, signal)) === 'aborted') return { kind: 'cancelled' };
    }
    if (disposed) return { kind: 'degraded', reason: 'engine disposed' };
    if (!ready()) return { kind: 'degraded', reason: status.message ?? 'model not available' };
    const reused = reuse(context, t0);
    if (reused) {
      if (reused.kind === 'ok' && onPartial && reused.candidates[0]) onPartial(reused.candidates[0].text);
      return reused;
    }
    const spec = speculations.get(context.documentKey);
    if (spec && spec.prefix === context.prefix && spec.suffix === context.suffix) {
      // The request the speculation was computed for (the editor asks right after the accept): wait for it.
      if ((await raceAbort(spec.done, signal)) === 'aborted') return { kind: 'cancelled' };
      const served = reuse(context, t0);
      if (served) {
        if (served.kind === 'ok' && onPartial && served.candidates[0]) onPartial(served.candidates[0].text);
        return served;
      }
      // The speculation found nothing to insert here (the cache keeps no empty texts): the same prompt and line
      // mode would decode the same empty answer again.
      if (reuseOn && spec.result?.kind === 'ok' && spec.result.candidates.length === 0 && spec.singleLine === isSingleLine(context)) {
        const totalMs = nowMs() - t0;
        log(`completion ${JSON.stringify({ doc: context.documentKey, version: context.version, outcome: 'ok', promptTokens: 0, prefillTokens: 0, cache: 'completion-reuse:speculative', empty: true, prefillMs: 0, decodeMs: 0, generated: 0, totalMs: Math.round(totalMs), kvBytes: store?.stats().bytes ?? 0, modelPrefillTokens })}`);
        return {
          kind: 'ok',
          candidates: [],
          timings: { totalMs, prefillMs: 0, decodeMs: 0, prefillTokens: 0, promptTokens: 0, generatedTokens: 0 },
          cache: 'completion-reuse:speculative',
        };
      }
    } else {
      // A speculation for this document is now stale: queued, it is dropped; prefilling, this request takes it over.
      spec?.controller.abort();
    }
    try {
      return await run(context, signal, t0, false, onPartial);
    } catch (e) {
      log(`completion failed: ${errorText(e)}`);
      return { kind: 'degraded', reason: `completion failed: ${errorText(e)}` };
    }
  }

  // ---- background warming ----
  /** Warm requests of this tick, by document; flushed together (packed prefill for several). */
  let pendingWarm: Map<string, { ids: number[]; resolve: (o: WarmOutcome) => void }[]> | null = null;

  function warm(context: CompletionContext): Promise<WarmOutcome> {
    if (!warmOn) return Promise.resolve('off');
    return loaded.then(() => {
      if (!ready()) return 'unavailable' as const;
      let ids: number[];
      try {
        ids = promptOf(context).prompt.ids;
      } catch (e) {
        log(`warm failed: ${errorText(e)}`);
        return 'failed' as const;
      }
      return new Promise<WarmOutcome>((resolve) => {
        if (!pendingWarm) {
          pendingWarm = new Map();
          setImmediate(flushWarm);
        }
        const key = cacheKey(context.documentKey);
        const list = pendingWarm.get(key) ?? [];
        list.push({ ids, resolve });
        pendingWarm.set(key, list);
      });
    });
  }

  function flushWarm(): void {
    const batch = pendingWarm;
    pendingWarm = null;
    if (!batch) return;
    try {
      flushBatch(batch);
    } catch (e) {
      // (Runs from setImmediate: a throw here would end the process.)
      log(`warm failed: ${errorText(e)}`);
      for (const list of batch.values()) for (const w of list) w.resolve('failed');
    }
  }

  function flushBatch(batch: NonNullable<typeof pendingWarm>): void {
    if (!ready()) {
      for (const list of batch.values()) for (const w of list) w.resolve('unavailable');
      return;
    }
    const model = bundle!.model;
    const sched = scheduler!;
    const kv = store!;
    // The newest position per document is warmed; older calls of the tick share its outcome.
    const items = [...batch].map(([key, list]) => ({ key, ids: list.at(-1)!.ids, done: (o: WarmOutcome) => list.forEach((w) => w.resolve(o)) }));
    const chunked = (item: (typeof items)[number]) =>
      void sched.request(item.key, item.ids, { priority: 'background' }).then((o) => {
        if (o.kind === 'done') item.done(o.prefilledTokens === 0 ? 'cached' : 'warmed');
        else item.done(o.kind === 'failed' ? 'failed' : 'cancelled');
      });
    const packable = warmPackedOn && prefixCacheOn && model.layout.kind === 'packed' && (model.device === 'cpu' || model.device === 'webgpu');
    const fresh = packable ? items.filter((i) => !kv.has(i.key) && i.ids.length > 1) : [];
    if (fresh.length < 2) {
      items.forEach(chunked);
      return;
    }
    items.filter((i) => !fresh.includes(i)).forEach(chunked);
    // Documents with no cache yet: one packed forward pass per bin; each bin is one exclusive background task, so
    // interactive requests wait for at most one bin.
    const capacity = Math.max(1, Math.floor(options.warmBinTokens ?? 1024));
    for (const bin of packBins(fresh.map((i) => i.ids.length - 1), capacity)) {
      const members = bin.map((j) => fresh[j]!);
      void sched
        .exclusive('background', async () => {
          if (!ready()) return members.forEach((m) => m.done('cancelled'));
          // Meanwhile another request may have filled a document's cache: warm those in chunks instead.
          const still = members.filter((m) => !kv.has(m.key));
          members.filter((m) => !still.includes(m)).forEach(chunked);
          if (still.length === 0) return;
          if (still.length === 1) return chunked(still[0]!);
          try {
            const caches = await packedPrefill(model, still.map((m) => m.ids), { binTokens: capacity });
            still.forEach((m, k) => {
              kv.put(m.key, new Generator(model, { prefillChunkSize: chunkSize }, caches[k]!, m.ids));
              m.done('packed');
            });
            const tokens = still.reduce((n, m) => n + m.ids.length - 1, 0);
            modelPrefillTokens += tokens;
            log(`warm ${JSON.stringify({ packed: still.length, tokens })}`);
          } catch (e) {
            log(`packed warm failed: ${errorText(e)}`);
            still.forEach((m) => m.done('failed'));
          }
        })
        .catch((e) => log(`packed warm failed: ${errorText(e)}`));
    }
  }

  // ---- speculative next completion ----
  interface Speculation {
    controller: AbortController;
    done: Promise<void>;
    prefix: string;
    suffix: string;
    singleLine: boolean;
    result?: CompletionResult;
  }
  const speculations = new Map<string, Speculation>();

  function speculate(documentKey: string, languageId: string, prefix: string, suffix: string): void {
    if (!ready()) return;
    speculations.get(documentKey)?.controller.abort();
    const controller = new AbortController();
    const context: CompletionContext = { documentKey, version: -1, languageId, prefix, suffix, trigger: 'automatic' };
    const spec: Speculation = { controller, done: Promise.resolve(), prefix, suffix, singleLine: isSingleLine(context) };
    spec.done = run(context, controller.signal, nowMs(), true)
      .then((result) => {
        spec.result = result;
      })
      .catch((e) => log(`speculative completion failed: ${errorText(e)}`))
      .then(() => {
        if (speculations.get(documentKey) === spec) speculations.delete(documentKey);
      });
    speculations.set(documentKey, spec);
  }

  function onCompletionEvent(event: CompletionEvent): void {
    if (!speculativeOn || !reuseOn || !prefixCacheOn || event.kind !== 'accepted' || !event.completionId) return;
    // Transports name an item `${result.id}.${candidate index}` (lsp/convert.ts); the engine keeps one entry per result.
    const entry = completions.get(event.completionId) ?? completions.get(event.completionId.replace(/\.\d+$/, ''));
    if (!entry) return;
    // The document after the accept: the accepted text is inserted at the cursor, the suffix is unchanged.
    speculate(entry.documentKey, entry.languageId, entry.prefix + entry.text, entry.suffix);
  }

  return {
    loaded,
    complete,
    warm,
    onCompletionEvent,
    async speculationIdle() {
      while (speculations.size) await Promise.all([...speculations.values()].map((s) => s.done));
    },
    status: () => status,
    onDocumentClosed(documentKey: string) {
      trimStarts.delete(documentKey);
      syntaxTrees.delete(documentKey);
      completions.deleteDocument(documentKey);
      speculations.get(documentKey)?.controller.abort();
      const key = cacheKey(documentKey);
      // Queued and running work for it is dropped; its generator is disposed instead of stored.
      scheduler?.closeDocument(key);
      store?.delete(key);
    },
    cacheStats() {
      return store ? { ...store.stats(), bytesPerToken } : null;
    },
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      for (const s of speculations.values()) s.controller.abort();
      await loaded;
      const dispose = async () => {
        store?.clear();
        store = null;
        await bundle?.model.dispose();
        bundle = null;
      };
      if (scheduler) {
        scheduler.dispose();
        await scheduler.exclusive('interactive', dispose);
      } else {
        await dispose();
      }
      setStatus({ state: 'degraded', message: 'disposed' });
      listeners.clear();
    },
  };
}
