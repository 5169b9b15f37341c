// The completion engine façade: loads the model once, builds the FIM prompt, prefills and decodes one request at a time.
//
// Policy (kept minimal; later issues add per-file caches, self-infilling and post-processing behind this façade):
// - one model run at a time (a FIFO mutex); a request whose signal aborts while waiting or between chunks
//   returns {kind:'cancelled'};
// - greedy decoding, at most `maxNewTokens` (64) new tokens, within `timeBudgetMs` (3000) of decoding;
// - decoding (engine/decode.ts): the syntax layer decides single vs multi line and where a completion stops (end of
//   the cursor's block, the code after the cursor); `decodeMode` 'fim' (default) or 'self-infill' decodes, then the
//   post-processing chain and syntax validation order the candidates;
// - per-document KV prefix caches: each document key has its own Generator (tokens + KV cache) in a byte-bounded
//   LRU (cache/KvStore, `cacheBudgetMb`); a request takes its document's entry, reuses the longest common token
//   prefix of that document's previous prompt+completion (with the SPM template, typing only appends tokens),
//   prefills the rest and gives the entry back; another document's request no longer destroys it;
// - sticky prefix trimming (cache/stickyTrimPrefix): once a prefix is over its token budget, the first kept line
//   moves by blocks, not on every keystroke, so the common prefix stays long.
import type { CompletionContext, CompletionEngine, CompletionResult, EngineStatus } from './types.js';
import { loadBundle, type LoadedBundle } from './load.js';
import { Generator, type SamplingOptions } from '../decoding/index.js';
import type { TemplateOverride } from '../prompt/index.js';
import type { DeviceRequest, ModelDtype } from '../runtime/index.js';
import { Mutex, raceAbort } from '../util/mutex.js';
import { defaultModelDir } from '../util/paths.js';
import { errorText } from '../util/errors.js';
import { nowMs } from '../util/clock.js';
import { LRUCache } from 'lru-cache';
import { KvStore, stickyTrimPrefix, type KvStoreStats } from '../cache/index.js';
import { DEFAULT_DECODE, decodeRequest, type DecodeMode, type DecodeSettings } from './decode.js';

export interface EngineOptions {
  /** Model directory (HF/Optimum layout); default: models/default under the package root. */
  modelDir?: string;
  device?: DeviceRequest;
  dtype?: ModelDtype | 'auto';
  /** CPU threads per operator (onnxruntime intraOpNumThreads); default: onnxruntime's choice. */
  threads?: number;
  /** Force a FIM family or mode instead of detecting it. */
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
  /** Self-infilling loops, 0..2 (default 1). */
  selfInfillLoops?: number;
  /** Confidence threshold of self-infilling, 0..1 (default 0.25). */
  selfInfillTau?: number;
}

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
  const mutex = new Mutex();
  let status: EngineStatus = { state: 'loading', model: modelDir };
  let bundle: LoadedBundle | null = null;
  let store: KvStore<Generator> | null = null;
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
  const budgetBytes = options.cacheBudgetBytes ?? Math.round((options.cacheBudgetMb ?? envNumber('INFILL_LS_CACHE_BUDGET_MB') ?? 256) * 1024 * 1024);
  /** First kept prefix line per document (sticky trimming); a few numbers per document, bounded by count. */
  const trimStarts = new LRUCache<string, number>({ max: 4096 });
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
        fim: options.fim,
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
      bytesPerToken = kvBytesPerToken(b.model.layout.slots);
      store = new KvStore<Generator>({ budgetBytes: prefixCacheOn ? budgetBytes : 0, sizeOf: (g) => g.cache.length * bytesPerToken });
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

  async function complete(context: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult> {
    const t0 = nowMs();
    if (signal.aborted) return { kind: 'cancelled' };
    if (status.state === 'loading') {
      if ((await raceAbort(loaded, signal)) === 'aborted') return { kind: 'cancelled' };
    }
    if (disposed) return { kind: 'degraded', reason: 'engine disposed' };
    if (status.state !== 'ready' || !bundle || !bundle.template || !store) {
      return { kind: 'degraded', reason: status.message ?? 'model not available' };
    }
    const release = await mutex.acquire(signal);
    if (!release) return { kind: 'cancelled' };
    const key = cacheKey(context.documentKey);
    let generator: Generator | undefined;
    let hit = false;
    try {
      if (disposed || !bundle || !store) return { kind: 'degraded', reason: 'engine disposed' };
      const { tokenizer, template } = bundle;
      let prefix = context.prefix;
      if (stickyOn && typeof prefix === 'string') {
        const budget = Math.max(0, Math.floor(options.maxPrefixTokens ?? 768));
        const t = stickyTrimPrefix(prefix, trimStarts.get(context.documentKey) ?? null, (text) => tokenizer.encode(text), { budget });
        trimStarts.set(context.documentKey, t.startLine);
        prefix = t.text;
      }
      generator = store.take(key);
      hit = generator !== undefined;
      generator ??= new Generator(bundle.model, { prefillChunkSize: options.prefillChunkSize });
      // Syntax plan, prompt, decode mode, post-processing and candidate validation: engine/decode.ts.
      const r = await decodeRequest(generator, { tokenizer, template }, context, prefix, decodeSettings, signal, onPartial);
      const reused = r.promptTokens - r.prefillTokens;
      const cache = !prefixCacheOn ? 'off' : reused > 0 ? `kv-prefix:${reused}` : hit ? 'miss:no-common-prefix' : 'miss';
      // One debug line per request (bench/replay reads them from the server's stderr with INFILL_LS_LOG=debug).
      log(
        `completion ${JSON.stringify({ doc: context.documentKey, version: context.version, outcome: r.cancelled ? 'cancelled' : 'ok', mode: r.mode, lineMode: r.lineMode, promptTokens: r.promptTokens, prefillTokens: r.prefillTokens, cache, prefillMs: Math.round(r.prefillMs), decodeMs: Math.round(r.decodeMs), generated: r.generatedTokens, modelTokens: r.modelTokens, totalMs: Math.round(nowMs() - t0), kvBytes: store.stats().bytes })}`,
      );
      // Cancelled between prefill chunks or decode steps: the chunks already run stay in the entry's cache.
      if (r.cancelled) return { kind: 'cancelled' };
      const totalMs = nowMs() - t0;
      setStatus({ lastLatencyMs: Math.round(totalMs) });
      return {
        kind: 'ok',
        candidates: r.candidates,
        raw: r.raw,
        timings: {
          totalMs,
          prefillMs: r.prefillMs,
          decodeMs: r.decodeMs,
          prefillTokens: r.prefillTokens,
          promptTokens: r.promptTokens,
          generatedTokens: r.generatedTokens,
          modelTokens: r.modelTokens,
        },
        // kv-prefix:N = N prompt tokens reused from this document's cache; miss = the whole prompt was prefilled
        // (no entry, or nothing in common); off = caches disabled.
        cache,
      };
    } catch (e) {
      // A bug or a runtime failure: report it; the document's entry is dropped (next request starts empty).
      log(`completion failed: ${errorText(e)}`);
      try {
        generator?.dispose();
      } catch {
        // already broken
      }
      generator = undefined;
      return { kind: 'degraded', reason: `completion failed: ${errorText(e)}` };
    } finally {
      if (generator) {
        if (store && !disposed) store.put(key, generator);
        else generator.dispose();
      }
      release();
    }
  }

  return {
    loaded,
    complete,
    status: () => status,
    onDocumentClosed(documentKey: string) {
      trimStarts.delete(documentKey);
      // An entry taken by a running request is put back when it ends; the LRU evicts it later.
      store?.delete(cacheKey(documentKey));
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
      await loaded;
      await mutex.run(async () => {
        store?.clear();
        store = null;
        await bundle?.model.dispose();
        bundle = null;
      });
      setStatus({ state: 'degraded', message: 'disposed' });
      listeners.clear();
    },
  };
}
