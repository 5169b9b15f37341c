// The model side of the engine: everything that touches the model, in the thread that owns it (the model-host worker
// for the servers, the caller's thread for the CLI and tests; model-host/ chooses).
//
// It loads the bundle (model, tokenizer, FIM template), builds prompts (sticky trimming), owns the scheduler and the
// per-document KV store, decodes (engine/decode.ts with the syntax plan) and warms cursor positions (packed prefill
// for several documents). It answers plain data (`ModelResult`); the façade (engine/engine.ts, main thread) keeps the
// completion cache, the speculation policy and the status it shows.
//
// Policy:
// - one model run at a time: the scheduler (scheduler/Scheduler) runs prefills in chunks of `prefillChunkSize`,
//   interactive requests before background work (warming, speculation, aborted requests' prefills); a request whose
//   signal aborts returns {kind:'cancelled'} at once and the chunks already run stay in the document's cache;
// - a document's newer request takes over the prefill under way: it continues when the new prompt extends the
//   computed tokens and cuts the cache to the common prefix otherwise (scheduler/);
// - greedy decoding, at most `maxNewTokens` (64) new tokens, within `timeBudgetMs` (3000) of decoding;
// - decoding (engine/decode.ts) on the generator the scheduler prefilled: the syntax layer decides single vs multi
//   line and where a completion stops; `decodeMode` 'fim' (default) or 'self-infill' decodes, then the
//   post-processing chain and syntax validation order the candidates;
// - per-document KV prefix caches: each document key has its own Generator (tokens + KV cache) in a byte-bounded
//   LRU (cache/KvStore, `cacheBudgetMb`); a request reuses the longest common token prefix of that document's
//   previous prompt+completion (with the SPM template, typing only appends tokens);
// - sticky prefix trimming (cache/stickyTrimPrefix): once a prefix is over its token budget, the first kept line
//   moves by blocks, not on every keystroke, so the common prefix stays long;
// - background warming (`warm(context)`): the prompt of a cursor position is prefilled at background priority;
//   several documents at once use the prepacked prefill (runtime/packedPrefill) with the packed layout.
import type { CompletionCandidate, CompletionContext, CompletionTimings, EngineStatus } from './types.js';
import { loadBundle, type LoadedBundle } from './load.js';
import { Generator, type SamplingOptions } from '../decoding/index.js';
import { buildFimPrompt, DEFAULT_CONTEXT_TOKENS, lineCount, MAX_CHARS_PER_TOKEN, stickyFarTexts, trimPrefix, trimSuffix, type FarChoice, type TemplateOverride } from '../prompt/index.js';
import { packBins, packedPrefill, scanOnnxGraph, webgpuPrefillChunk, webgpuRunCap, type DeviceRequest, type ModelDtype } from '../runtime/index.js';
import { Scheduler, type Lease, type SchedulerEvent } from '../scheduler/index.js';
import { defaultModelDir, documentFileName } from '../util/paths.js';
import { errorText } from '../util/errors.js';
import { nowMs } from '../util/clock.js';
import { pollOnRead } from '../util/cancel-flag.js';
import { LRUCache } from 'lru-cache';
import { createHash } from 'node:crypto';
import { KvStore, stickyTrimPrefix, type KvStoreStats } from '../cache/index.js';
import { SyntaxTrees } from '../syntax/index.js';
import { DEFAULT_DECODE, decodeRequest, type DecodeMode, type DecodeSettings } from './decode.js';

/** The engine's options that reach the model side: plain data only (they cross to the worker thread). */
/**
 * Default suffix budget (tokens) of PSM templates (Qwen2.5-Coder, StarCoder, CodeLlama...). Keystroke replay at the
 * Qwen2.5-Coder-0.5B shape on the 2-core CPU (bench/results/replay-qwen05b-cpu-patient*.md): with 256 suffix tokens
 * a keystroke re-ran a median 216 prompt tokens (24%) and answered in p50 1,258 ms; with 48, 31 tokens (4.5%) and
 * 483 ms. SPM templates keep 256. Options or INFILL_LS_MAX_SUFFIX_TOKENS override both.
 */
export const PSM_SUFFIX_TOKENS = 48;

/**
 * Same-file far context's token budget by default (options.farContextTokens): with the default 768-token prefix budget,
 * a 384-token prefix window and up to 384 tokens of snippets — the default model's 1,024-token training context holds
 * both with the suffix (bench/results/far-context.md: dev single-line exact match up on Python and TypeScript).
 */
export const DEFAULT_FAR_CONTEXT_TOKENS = 384;
/**
 * Far context is not used where the halved prefix window would keep fewer whole lines before the cursor's than this
 * (and the prefix has them): files of very long lines (minified code, data) would give up most of the code the
 * completion continues (a fresh user's find: 600 lines of ~840 characters left a 10-token prompt).
 */
const FAR_CONTEXT_MIN_WINDOW_LINES = 8;

/**
 * Most drafted tokens per decode run (draft-and-verify, decoding/generator.ts `draftTokens`); 0 is off. With drafts
 * from matches of 2+ tokens (DEFAULT_DRAFT_MIN_NGRAM), in-thread side by side (bench/replay/draft.mjs, 60 keystrokes,
 * 8 new tokens, load 1.1-2.6): Qwen2.5-Coder-0.5B shape (random weights, genai int4) p50 347.9 -> 294.2 ms, 66 of 80
 * drafts accepted; models/default 62.2 -> 57.4 ms, 396 of 922, every answer identical. k = 2 and 8 gained less on
 * models/default; matches of 1 token drafted 2.5x as often for about the same gain. The replay over LSP:
 * bench/results/replay-qwen05b-cpu-s9-*.md.
 */
export const DEFAULT_DRAFT_TOKENS = 4;
/** The shortest earlier match (tokens) that drafts (decoding/generator.ts promptLookup's `min`); env INFILL_LS_DRAFT_MIN_NGRAM. */
export const DEFAULT_DRAFT_MIN_NGRAM = 2;

export interface ModelOptions {
  /** Model directory (HF/Optimum layout); default: models/default under the package root. */
  modelDir?: string;
  device?: DeviceRequest;
  dtype?: ModelDtype | 'auto';
  /** CPU threads per operator (onnxruntime intraOpNumThreads); unset: env INFILL_LS_THREADS (1..64), else runtime/model.ts's choice. */
  threads?: number;
  /** Force a FIM family or mode instead of detecting it (env INFILL_LS_FIM_MODE=psm|spm forces the mode). */
  fim?: TemplateOverride;
  maxPrefixTokens?: number;
  maxSuffixTokens?: number;
  maxNewTokens?: number;
  /** Decoding time budget per request in ms (after prefill). */
  timeBudgetMs?: number;
  prefillChunkSize?: number;
  /**
   * The scheduler's chunk-size rule against prefill/decode interference, in ms (scheduler.ts `maxStallMs`; settings
   * `maxStallMs`); 0: off. Absent: env INFILL_LS_MAX_STALL_MS (an integer in 0..60000; another value is ignored and
   * said in the ready status), else off: bench/results/accelerators.md.
   */
  maxStallMs?: number;
  /**
   * SCOPE's decode-phase KV budget in tokens (decoding/generator.ts `decodeKvWindow`; settings `decodeKvWindow`); 0:
   * off (unbounded). Absent: env INFILL_LS_DECODE_KV_WINDOW (an integer in 0..65536, else ignored and said), else off:
   * bench/results/accelerators.md. CPU only: on WebGPU (KV on the GPU) it stays off and the ready status says so.
   */
  decodeKvWindow?: number;
  /**
   * CritiPrefill (issue 17): prefill runs over a long past go to the model's twin graph, which attends to a budget of
   * past KV blocks (runtime/model.ts `LoadModelOptions.critiPrefill`). Absent: env INFILL_LS_CRITIPREFILL=1 turns it
   * on, else off: bench/results/accelerators.md.
   */
  critiPrefill?: boolean;
  /**
   * LazyLLM (issue 17): prefill runs of 128+ tokens go to the model's twin graph, which computes later layers for the
   * tokens the run's last token attends to most (runtime/model.ts `LoadModelOptions.lazyLlm`). Absent: env
   * INFILL_LS_LAZYLLM=1 turns it on, else off: bench/results/accelerators.md.
   */
  lazyLlm?: boolean;
  /**
   * KV-Runahead (issue 17): this many worker threads (2+) prefill long uncached stretches as context partitions over
   * the model's layer groups (runtime/model.ts `LoadModelOptions.kvRunahead`). Absent: env INFILL_LS_KV_RUNAHEAD=N,
   * else off: bench/results/accelerators.md.
   */
  kvRunahead?: number;
  /**
   * Our own WGSL decode step on WebGPU (issue 15, runtime/model.ts `LoadModelOptions.wgslDecode`). Absent: env
   * INFILL_LS_WGSL_DECODE (0 off), else on wherever it can run (WebGPU, a model in the layout it reads, the `webgpu`
   * package and an adapter present); where it runs, draft-and-verify stays off.
   */
  wgslDecode?: boolean;
  /**
   * Draft-and-verify decoding (decoding/generator.ts `draftTokens`: prompt lookup drafts, verified in one model run; the
   * greedy answer is the plain decode's): most drafted tokens per run, 0 off (settings `draftTokens`). Absent: env
   * INFILL_LS_DRAFT_TOKENS (an integer in 0..64, else ignored and said), else DEFAULT_DRAFT_TOKENS.
   * Env INFILL_LS_DRAFT_MIN_NGRAM (1..3, default DEFAULT_DRAFT_MIN_NGRAM): the shortest match that drafts.
   */
  draftTokens?: number;
  /**
   * Same-file far context (prompt/far-context.ts): tokens of snippets from the current document outside the prompt's
   * window, 0 off (settings `farContextTokens`). On, the prefix window gets half the prefix budget and the snippets
   * most similar to the cursor's neighbourhood from the rest of the file fill up to this many tokens, as
   * repository-level chunks of the same path; a document that fits the halved window gets today's prompt. Absent: env
   * INFILL_LS_FAR_CONTEXT_TOKENS (0..8192), else DEFAULT_FAR_CONTEXT_TOKENS (bench/results/far-context.md).
   */
  farContextTokens?: number;
  /** Token healing depth (0 disables). */
  maxHealTokens?: number;
  /** Default greedy. */
  sampling?: SamplingOptions;
  seed?: number;
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
  /**
   * Warm several documents with one prepacked prefill (runtime/packedPrefill) when the model has the packed layout
   * (default on; env INFILL_LS_WARM_PACKED=0 warms them one by one, in chunks).
   */
  warmPacked?: boolean;
  /** Bin capacity of the packed warming passes in tokens (default 1024: one bin is one non-pre-emptible model run). */
  warmBinTokens?: number;
}

/** The model side's hooks into its thread (functions: they never cross threads). */
export interface ModelHooks {
  /** Debug log lines (load progress, fallbacks, one `completion {json}` line per request). */
  log?: (message: string) => void;
  /** Scheduler events (tests, benchmarks). */
  onSchedulerEvent?: (event: SchedulerEvent) => void;
  /** Aborts the signals of jobs cancelled out of band (worker: shared-memory flags); called between model runs. */
  poll?: () => void;
}

/** How a warm() call ended (tests, logs). */
export type WarmOutcome = 'warmed' | 'packed' | 'cached' | 'cancelled' | 'off' | 'unavailable' | 'failed';

/** What the engine's caches hold now (tests, benchmarks). */
export interface EngineCacheStats extends KvStoreStats {
  /** KV bytes per token of the loaded model. */
  bytesPerToken: number;
  /** Prompt tokens the model prefilled since load, background work included. */
  modelPrefillTokens: number;
}

/** One model request's answer: the façade adds the completion cache's id. */
export type ModelResult =
  | { kind: 'ok'; candidates: CompletionCandidate[]; raw: string; stopReason?: string; timings: CompletionTimings; cache: string }
  | { kind: 'cancelled' }
  | { kind: 'degraded'; reason: string };

export interface ModelRequest {
  context: CompletionContext;
  /** Background priority (speculation): stops when interactive work queues. */
  background: boolean;
  /** When the request started, in epoch ms (performance.timeOrigin + now: comparable across threads). */
  startedAt: number;
}

/**
 * The model side as a thread sees it. `createModelSide` implements it in the caller's thread; model-host/ implements
 * it over a worker thread with the same shapes.
 */
export interface ModelHost {
  /** Resolves when the current load ended (ready or degraded); never rejects. */
  readonly loaded: Promise<void>;
  status(): EngineStatus;
  onStatus(listener: (status: EngineStatus) => void): () => void;
  /** Prefill + decode one request; never rejects (a bug answers `degraded`). Aborting `signal` answers `cancelled`. */
  complete(request: ModelRequest, signal: AbortSignal, onPartial?: (text: string) => void): Promise<ModelResult>;
  /** Background prefill of a cursor position; calls in one tick are warmed together. Never rejects. */
  warm(context: CompletionContext): Promise<WarmOutcome>;
  /** Drops the document's KV cache, sticky trim and syntax tree; queued and running work for it is dropped. */
  closeDocument(documentKey: string): void;
  /** KV cache occupancy and counters (a worker host answers its last report); null before the model is loaded. */
  cacheStats(): EngineCacheStats | null;
  /** After a crash (status degraded, reason given), starts the model side again; true when it did. */
  revive?(): boolean;
  dispose(): Promise<void>;
}

function envFlag(name: string): boolean | undefined {
  const v = process.env[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  return !['0', 'off', 'false', 'no'].includes(v);
}

/**
 * An integer in min..max from the environment (issue 17's accelerator options); undefined when unset or empty. A value
 * that is not one is ignored and its reason pushed to `problems` (the model side shows them in its ready status).
 */
function envInteger(name: string, min: number, max: number, problems: string[]): number | undefined {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (/^\d+$/.test(raw) && v >= min && v <= max) return v;
  problems.push(`${name}=${JSON.stringify(raw)} ignored: it must be an integer in ${min}..${max}`);
  return undefined;
}

/**
 * A finite number >= 0 from the environment; undefined when unset or empty. Another value (`zz`, `-1`) is ignored and
 * its reason pushed to `problems`, like envInteger.
 */
function envNumber(name: string, problems: string[]): number | undefined {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (Number.isFinite(v) && v >= 0) return v;
  problems.push(`${name}=${JSON.stringify(raw)} ignored: it must be a number >= 0`);
  return undefined;
}

/** Milliseconds since the epoch with sub-ms precision, comparable between threads (each has its own time origin). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
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

/** Loads the model and answers model requests in the caller's thread (the in-thread twin of model-host/'s worker). */
export function createModelSide(options: ModelOptions = {}, hooks: ModelHooks = {}): ModelHost {
  const modelDir = options.modelDir ?? defaultModelDir;
  const listeners = new Set<(s: EngineStatus) => void>();
  let status: EngineStatus = { state: 'loading', model: modelDir };
  let bundle: LoadedBundle | null = null;
  let store: KvStore<Generator> | null = null;
  let scheduler: Scheduler | null = null;
  let bytesPerToken = 0;
  let disposed = false;
  const log = hooks.log ?? (() => {});
  const poll = hooks.poll;
  // Env values that were ignored (with the reason) and options that are off (with the reason): they end the ready
  // status line, so a setting that has no effect is said where the user looks (issue 17; the fresh-user report).
  const optionNotes: string[] = [];
  const prefixCacheOn = options.prefixCache ?? envFlag('INFILL_LS_PREFIX_CACHE') ?? true;
  const stickyOn = options.stickyTrim ?? envFlag('INFILL_LS_STICKY_TRIM') ?? true;
  const postprocessOn = options.postprocess ?? envFlag('INFILL_LS_POSTPROCESS') ?? true;
  // Prompt budgets: options, else env INFILL_LS_MAX_PREFIX_TOKENS / INFILL_LS_MAX_SUFFIX_TOKENS (benchmarks of long
  // prefills, e.g. bench/cancel), else the prompt builder's defaults (768 / 256).
  const maxPrefixTokens = options.maxPrefixTokens ?? envNumber('INFILL_LS_MAX_PREFIX_TOKENS', optionNotes);
  const maxSuffixTokens = options.maxSuffixTokens ?? envNumber('INFILL_LS_MAX_SUFFIX_TOKENS', optionNotes);
  const decodeSettings: DecodeSettings = {
    mode: options.decodeMode ?? DEFAULT_DECODE.mode,
    loops: Math.max(0, Math.min(2, Math.floor(options.selfInfillLoops ?? DEFAULT_DECODE.loops))),
    tau: Math.max(0, Math.min(1, options.selfInfillTau ?? DEFAULT_DECODE.tau)),
    postprocess: postprocessOn,
    maxNewTokens: options.maxNewTokens ?? 64,
    // INFILL_LS_TIME_BUDGET_MS: what eval does for quality runs (a budget makes answers depend on the machine's load).
    timeBudgetMs: options.timeBudgetMs ?? envNumber('INFILL_LS_TIME_BUDGET_MS', optionNotes) ?? 3000,
    maxPrefixTokens,
    maxSuffixTokens,
    maxHealTokens: options.maxHealTokens,
    sampling: options.sampling,
    seed: options.seed,
  };
  const warmPackedOn = options.warmPacked ?? envFlag('INFILL_LS_WARM_PACKED') ?? true;
  const budgetBytes = options.cacheBudgetBytes ?? Math.round((options.cacheBudgetMb ?? envNumber('INFILL_LS_CACHE_BUDGET_MB', optionNotes) ?? 256) * 1024 * 1024);
  // The FIM mode may be forced (PSM against SPM measurements): options.fim, else env INFILL_LS_FIM_MODE=psm|spm.
  const envMode = process.env.INFILL_LS_FIM_MODE?.trim().toLowerCase();
  if (options.fim === undefined && envMode !== undefined && envMode !== '' && envMode !== 'psm' && envMode !== 'spm') {
    optionNotes.push(`INFILL_LS_FIM_MODE=${JSON.stringify(process.env.INFILL_LS_FIM_MODE?.trim())} ignored: it must be psm or spm`);
  }
  const fimOverride: TemplateOverride | undefined = options.fim ?? (envMode === 'psm' || envMode === 'spm' ? { mode: envMode } : undefined);
  // Prefill chunk size, chosen by measurement per device: 256 on the CPU (bench/results/chunks-cpu.md: fastest total
  // prefill; ~150 ms worst-case wait for an abort); on WebGPU 4,096 when the graph's attention is fused, else 512
  // (runtime/device-rule.ts webgpuPrefillChunk: a run costs a fixed ~12-25 ms there, but MatMul + Softmax attention
  // over 2,048 queries costs 6-10x what runs of 512 do).
  const chunkOverride = options.prefillChunkSize ?? envInteger('INFILL_LS_PREFILL_CHUNK', 1, 1 << 20, optionNotes);
  let chunkSize = Math.max(1, Math.floor(chunkOverride ?? 256));
  let prefillRunCap: ((run: number, past: number) => number) | undefined; // WebGPU without fused attention (below)
  // Issue 17's accelerator options: the setting (options) wins, else the env default, else off; 0 is off.
  const maxStallMs = options.maxStallMs ?? envInteger('INFILL_LS_MAX_STALL_MS', 0, 60000, optionNotes);
  let decodeKvWindow = options.decodeKvWindow ?? envInteger('INFILL_LS_DECODE_KV_WINDOW', 0, 65536, optionNotes);
  if (decodeKvWindow === 0) decodeKvWindow = undefined;
  const draftAsked = options.draftTokens ?? envInteger('INFILL_LS_DRAFT_TOKENS', 0, 64, optionNotes);
  let draftTokens = draftAsked ?? DEFAULT_DRAFT_TOKENS;
  const draftNgram = { max: 3, min: envInteger('INFILL_LS_DRAFT_MIN_NGRAM', 1, 3, optionNotes) ?? DEFAULT_DRAFT_MIN_NGRAM };
  const farTokens = options.farContextTokens ?? envInteger('INFILL_LS_FAR_CONTEXT_TOKENS', 0, 8192, optionNotes) ?? DEFAULT_FAR_CONTEXT_TOKENS;
  /** Per document (far context): the snippets last chosen and the cursor line they were chosen at (see promptOf). */
  const farChosen = new LRUCache<string, FarChoice>({ max: 4096 });
  /** Per document (sticky trimming): the first kept prefix line and a digest of the 4 lines it starts (see promptOf); bounded by count. */
  const trimStarts = new LRUCache<string, { line: number; head: string }>({ max: 4096 });
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
        // Env INFILL_LS_THREADS (1..64) when the option is unset: benchmarks compare thread counts (bench/replay --variant).
        intraOpNumThreads: options.threads ?? envInteger('INFILL_LS_THREADS', 1, 64, optionNotes),
        ...(options.critiPrefill !== undefined ? { critiPrefill: options.critiPrefill } : {}),
        ...(options.lazyLlm !== undefined ? { lazyLlm: options.lazyLlm } : {}),
        ...(options.kvRunahead !== undefined ? { kvRunahead: options.kvRunahead } : {}),
        ...(options.wgslDecode !== undefined ? { wgslDecode: options.wgslDecode } : {}),
        // KV-Runahead's runs inside a partition: the plain prefill's chunk (CPU only, so WebGPU's 2,048 never applies)
        kvRunaheadChunk: chunkSize,
        fim: fimOverride,
        onStatus: (m) => {
          log(m);
          // CritiPrefill asked for (option or INFILL_LS_CRITIPREFILL) but off: the reason joins the ready status line.
          // Likewise LazyLLM (INFILL_LS_LAZYLLM) and an invalid INFILL_LS_WEBGPU_VALIDATION.
          if (/^(critiPrefill off:|lazyLlm off:|wgslDecode off:|INFILL_LS_WEBGPU_VALIDATION=)/.test(m)) optionNotes.push(m);
          setStatus({ message: m });
        },
      });
      if (disposed) {
        await b.model.dispose();
        return;
      }
      bundle = b;
      // WebGPU: 4,096 for fused attention, 512 for MatMul + Softmax attention (device-rule.ts webgpuPrefillChunk); the
      // latter's runs also shrink at depth, keeping the [heads × run × positions] scores under the measured cliff
      // (webgpuScoreCappedRun). An explicit run size (option, INFILL_LS_PREFILL_CHUNK) is taken as given.
      if (chunkOverride === undefined && b.model.device === 'webgpu') {
        const ops = scanOnnxGraph(b.model.files.onnxPath)?.opTypes;
        chunkSize = webgpuPrefillChunk(ops);
        prefillRunCap = webgpuRunCap(ops, b.model.files.config);
      }
      // KvCache.evict is CPU-only (on WebGPU the KV stays on the GPU): the window stays off there, and the status says so.
      if (decodeKvWindow !== undefined && b.model.device === 'webgpu') {
        optionNotes.push(`decodeKvWindow ${decodeKvWindow} off: it needs the KV cache on the CPU`);
        decodeKvWindow = undefined;
      }
      // The WGSL decode step runs one token a step (its own speculative next step pipelines greedy decoding); a verify
      // run of drafts would go back to onnxruntime and hand the K/V over again: drafting stays off where it runs (a
      // draftTokens asked for is noted in the ready status; the VS Code extension always sends its default).
      if (b.model.wgslDecode && draftTokens > 0) {
        if (draftAsked !== undefined && draftAsked !== DEFAULT_DRAFT_TOKENS) optionNotes.push(`draftTokens ${draftAsked} off: the WGSL decode step runs one token at a time`);
        draftTokens = 0;
      }
      for (const note of optionNotes) log(note);
      bytesPerToken = kvBytesPerToken(b.model.layout.slots);
      const kv = new KvStore<Generator>({ budgetBytes: prefixCacheOn ? budgetBytes : 0, sizeOf: (g) => g.cache.length * bytesPerToken });
      store = kv;
      scheduler = new Scheduler({
        store: kv,
        createGenerator: () => new Generator(b.model, { prefillChunkSize: chunkSize, decodeKvWindow, prefillRunCap, draftTokens, draftNgram }),
        chunkSize,
        maxStallMs: maxStallMs || undefined,
        wholeRunFrom: b.model.kvRunahead?.minTokens,
        reuse: prefixCacheOn,
        onEvent: (event) => {
          if (event.type === 'chunk') modelPrefillTokens += event.to - event.from;
          hooks.onSchedulerEvent?.(event);
        },
        log,
        poll,
      });
      if (!b.template) {
        setStatus({ state: 'degraded', device: b.model.device, message: `${b.model.files.tokenizerPath}: the vocabulary has no known fill-in-the-middle tokens` });
        return;
      }
      setStatus({
        state: 'ready',
        device: b.model.device,
        message: `${b.template.family} ${b.template.mode.toUpperCase()}, ${b.model.files.dtype} on ${b.model.device}${b.model.wgslDecode ? ', WGSL decode' : ''}${b.model.fallbackReason ? ` (${b.model.fallbackReason})` : ''}${optionNotes.length ? `; ${optionNotes.join('; ')}` : ''}`,
      });
    } catch (e) {
      log(`model load failed: ${errorText(e)}`);
      setStatus({ state: 'degraded', message: errorText(e) });
    }
  })();

  /**
   * The FIM prompt of a cursor position. Sticky trimming starts from the document's first kept line; a request moves it
   * (`moveStart`), a warm-up only reads it: a warm-up's cursor is a guess that only the servers make (the API at open,
   * LSP at open and after a pause; the CLI never), so what a request answers must not depend on it — the first request
   * on a document trims its prefix as the CLI's one request does.
   */
  function promptOf(context: Pick<CompletionContext, 'documentKey' | 'prefix' | 'suffix' | 'crossFile' | 'languageId'>, moveStart = true) {
    const { tokenizer, template } = bundle!;
    let prefix = context.prefix;
    const suffixBudget = maxSuffixTokens ?? (template!.mode === 'psm' ? PSM_SUFFIX_TOKENS : undefined);
    const fullBudget = Math.max(0, Math.floor(maxPrefixTokens ?? 768));
    // Far context halves the prefix window; the rest of the document may give snippets (farContextOf below).
    let far = farTokens > 0 && typeof prefix === 'string' && typeof context.suffix === 'string';
    if (far) {
      const halved = trimPrefix(prefix, Math.floor(fullBudget / 2), (text) => tokenizer.encode(text)).text;
      if (lineCount(halved) < Math.min(FAR_CONTEXT_MIN_WINDOW_LINES, lineCount(prefix))) far = false;
    }
    const prefixBudget = far ? Math.floor(fullBudget / 2) : fullBudget;
    if (stickyOn && typeof prefix === 'string') {
      const budget = prefixBudget;
      // The previous start holds only while the lines it starts are the same: another text under the same key (the API's
      // prefix mode shares 'untitled:api' by default), lines added or removed above it or a moved window start anew, as a
      // fresh request would; an edit within the lines above it keeps the start (and the KV cache of the kept text).
      const previous = trimStarts.get(context.documentKey);
      const held = previous !== undefined && keptLinesDigest(prefix, previous.line) === previous.head ? previous.line : null;
      const t = stickyTrimPrefix(prefix, held, (text) => tokenizer.encode(text), { budget });
      if (moveStart) trimStarts.set(context.documentKey, { line: t.startLine, head: keptLinesDigest(prefix, t.startLine) ?? '' });
      prefix = t.text;
    }
    const crossFile = far ? farContextOf(context, prefix, prefixBudget, suffixBudget ?? 256, moveStart) : context.crossFile;
    const build = (cf: CompletionContext['crossFile'], pre: number, suf: number | undefined) =>
      buildFimPrompt({ prefix, suffix: context.suffix, crossFile: cf, languageId: context.languageId }, template!, tokenizer, {
        maxPrefixTokens: pre,
        // PSM puts the suffix after the prefix, so every keystroke (which changes the prefix's end) re-runs the whole
        // suffix: its default budget is PSM_SUFFIX_TOKENS there (SPM keeps the builder's 256, cached in front).
        maxSuffixTokens: suf,
        maxHealTokens: options.maxHealTokens,
      });
    let prompt = build(crossFile, prefixBudget, suffixBudget);
    const limit = promptPositionLimit();
    if (limit !== undefined && prompt.ids.length > limit) {
      // A model with fewer positions than the budgets assume (its config's max_position_embeddings): other files' and
      // far context go first, then the prefix and suffix windows shrink in proportion until prompt and answer fit.
      prompt = build(undefined, prefixBudget, suffixBudget);
      let pre = prefixBudget;
      let suf = suffixBudget ?? 256;
      for (let i = 0; i < 6 && prompt.ids.length > limit && pre + suf > 0; i++) {
        const scale = Math.max(0, limit / prompt.ids.length - 0.02);
        pre = Math.floor(pre * scale);
        suf = Math.floor(suf * scale);
        prompt = build(undefined, pre, suf);
      }
    }
    return { prompt, prefix };
  }

  /**
   * Most prompt tokens the loaded model's positions leave room for: its config's `max_position_embeddings` (or
   * `n_positions` / `n_ctx` / `max_sequence_length`) less the answer (maxNewTokens) and a margin of 16 for token
   * healing and drafts; undefined when the config names no limit.
   */
  function promptPositionLimit(): number | undefined {
    const config = bundle?.model.files.config ?? {};
    const n = ['max_position_embeddings', 'n_positions', 'n_ctx', 'max_sequence_length'].map((k) => config[k]).find((v) => typeof v === 'number' && v > 0) as number | undefined;
    return n === undefined ? undefined : Math.max(1, n - decodeSettings.maxNewTokens - 16);
  }

  /**
   * The request's cross-file context with same-file far snippets added after its own chunks (prompt/far-context.ts):
   * the text of the document above the prefix window (`prefix` is the sticky-trimmed prefix, or the whole one, which
   * the prompt builder trims to `prefixBudget`) and below the suffix window. A document's snippets stay while they are
   * still in that text and the cursor is within FAR_CONTEXT_STICKY_LINES lines of where they were chosen
   * (stickyFarTexts), so the prompt's leading tokens (and the KV prefix cache) survive typing. The file is named by the
   * request's cross-file context, else by the document URI's file name (documentFileName).
   */
  function farContextOf(context: Pick<CompletionContext, 'documentKey' | 'prefix' | 'suffix' | 'crossFile'>, prefix: string, prefixBudget: number, suffixBudget: number, moveStart: boolean): CompletionContext['crossFile'] {
    const { tokenizer } = bundle!;
    const encode = (text: string) => tokenizer.encode(text);
    const windowPrefix = trimPrefix(prefix, prefixBudget, encode).text;
    const before = context.prefix.slice(0, context.prefix.length - windowPrefix.length);
    const windowSuffix = trimSuffix(context.suffix, suffixBudget, encode).text;
    const after = context.suffix.slice(windowSuffix.length);
    if (before.trim() === '' && after.trim() === '') return context.crossFile;
    const texts = stickyFarTexts(context.documentKey, context.prefix, before, after, windowPrefix, windowSuffix, farChosen, { maxSnippetChars: farTokens * MAX_CHARS_PER_TOKEN, remember: moveStart });
    if (texts.length === 0) return context.crossFile;
    const own = context.crossFile;
    const names = own ?? documentFileName(context.documentKey);
    return {
      repoName: names.repoName,
      path: names.path,
      chunks: [...(own?.chunks ?? []), ...texts.map((text) => ({ path: names.path, text, kind: 'same-file' as const }))],
      maxTokens: (own ? (own.maxTokens ?? DEFAULT_CONTEXT_TOKENS) : 0) + farTokens,
      ...(own?.format ? { format: own.format } : {}),
    };
  }

  const ready = () => !disposed && status.state === 'ready' && bundle !== null && bundle.template !== null && store !== null && scheduler !== null;

  /**
   * Prefill (scheduler) then decode (engine/decode.ts) one prompt. Interactive requests and speculative completions share it;
   * `background` runs at background priority and stops when interactive work is queued.
   */
  async function run(context: CompletionContext, signal: AbortSignal, t0: number, background: boolean, onPartial?: (text: string) => void): Promise<ModelResult> {
    const { tokenizer, template } = bundle!;
    const sched = scheduler!;
    const kv = store!;
    const key = cacheKey(context.documentKey);
    const tPrompt = nowMs();
    const { prompt, prefix } = promptOf(context);
    const promptMs = nowMs() - tPrompt;
    const outcome = await sched.request(key, prompt.ids, { priority: background ? 'background' : 'interactive', signal, hold: true });
    // What this request fed the engine, for comparing surfaces (CLI, API, LSP) in the debug log: the options that shape
    // the answer and fingerprints of the text it saw and of the exact prompt token ids.
    // (Hashing the window's text costs well under a millisecond; it is skipped when nothing reads the log.)
    const request = hooks.log ? requestFingerprint(context, prompt.ids) : undefined;
    const logLine = (fields: Record<string, unknown>) =>
      // One debug line per request (bench/replay reads them from the server's stderr with INFILL_LS_LOG=debug).
      log(`completion ${JSON.stringify({ doc: context.documentKey, version: context.version, ...(background ? { speculative: true } : {}), ...fields, totalMs: Math.round(nowMs() - t0), kvBytes: kv.stats().bytes, modelPrefillTokens, request })}`);
    if (outcome.kind === 'cancelled') {
      logLine({ outcome: 'cancelled', promptTokens: prompt.ids.length, cancelledIn: 'prefill', reason: outcome.reason });
      return { kind: 'cancelled' };
    }
    if (outcome.kind === 'failed') return { kind: 'degraded', reason: `completion failed: ${errorText(outcome.error)}` };
    if (outcome.kind !== 'ready') return { kind: 'cancelled' }; // not reached: hold jobs end ready
    const lease: Lease = outcome.lease;
    const generator = lease.generator;
    const tPrefilled = nowMs();
    // In the scheduler: waiting for other jobs plus this job's own chunks (all but the last, which the decode runs).
    const schedMs = tPrefilled - tPrompt - promptMs;
    generator.resetPeakLength();
    let broken = false;
    try {
      let decodeSignal = background ? AbortSignal.any([signal, lease.preempt]) : signal;
      // (The composite signal does not read its sources' `aborted`: let it poll the out-of-band flags itself.)
      if (background && poll) decodeSignal = pollOnRead(decodeSignal, poll);
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
        // Repository-level context in the prompt (cross-file chunks and same-file far snippets): chunks kept and tokens.
        ...(prompt.contextChunks > 0 ? { contextChunks: prompt.contextChunks, contextTokens: prompt.contextTokens } : {}),
        prefillTokens,
        cache,
        start: lease.start,
        prefillMs: Math.round(prefillMs),
        decodeMs: Math.round(r.decodeMs),
        generated: r.generatedTokens,
        modelTokens: r.modelTokens,
        // Where the time went (ms; bench/replay tabulates them): from the request's start to the model side taking it
        // (the worker's message and event loop), prompt building (sticky trimming + tokenization), the
        // scheduler (waits + its chunks), the syntax plan, the decode's model runs (count and wall time; the rest of
        // its prefill + decode time is sampling and streaming in JS), post-processing.
        startMs: round1(tPrompt - t0),
        promptMs: round1(promptMs),
        schedMs: round1(schedMs),
        planMs: round1(r.planMs),
        modelRuns: r.modelRuns,
        modelRunMs: round1(r.modelRunMs),
        // Draft-and-verify: tokens drafted into the decode's runs and accepted (0 and 0 when it is off).
        drafted: r.drafted,
        accepted: r.accepted,
        postMs: round1(r.postMs),
        // KV positions: the most this request's model runs left in the document's cache, what it holds now, and what
        // decodeKvWindow evicted (tests and benchmarks read them; the window bounds kvPeak to prompt + window + a block).
        kvPeak: generator.peakLength,
        kvLength: generator.cache.length,
        kvEvicted: generator.evictedLength,
      });
      // Cancelled between decode steps: the prompt stays in the entry's cache.
      if (r.cancelled) return { kind: 'cancelled' };
      // The shown text is post-processed (decode.ts); the cached tokens stay what the model generated, so the next
      // request still reuses them.
      return {
        kind: 'ok',
        candidates: r.candidates,
        raw: r.raw,
        ...(r.stopReason ? { stopReason: r.stopReason } : {}),
        timings: { totalMs: nowMs() - t0, prefillMs, decodeMs: r.decodeMs, prefillTokens, promptTokens: r.promptTokens, generatedTokens: r.generatedTokens, modelTokens: r.modelTokens },
        // kv-prefix:N = N prompt tokens reused from this document's cache; miss = the whole prompt was prefilled
        // (no entry, or nothing in common); off = caches disabled.
        cache,
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

  async function complete(request: ModelRequest, signal: AbortSignal, onPartial?: (text: string) => void): Promise<ModelResult> {
    // The request's start on this thread's clock.
    const t0 = nowMs() - Math.max(0, epochMs() - request.startedAt);
    await loaded;
    if (signal.aborted) return { kind: 'cancelled' };
    if (disposed) return { kind: 'degraded', reason: 'engine disposed' };
    if (!ready()) return { kind: 'degraded', reason: status.message ?? 'model not available' };
    try {
      return await run(request.context, signal, t0, request.background, onPartial);
    } catch (e) {
      log(`completion failed: ${errorText(e)}`);
      return { kind: 'degraded', reason: `completion failed: ${errorText(e)}` };
    }
  }

  // ---- background warming ----
  /** Warm requests of this tick, by document; flushed together (packed prefill for several). */
  let pendingWarm: Map<string, { ids: number[]; resolve: (o: WarmOutcome) => void }[]> | null = null;

  function warm(context: CompletionContext): Promise<WarmOutcome> {
    return loaded.then(() => {
      if (!ready()) return 'unavailable' as const;
      let ids: number[];
      try {
        ids = promptOf(context, false).prompt.ids;
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
              kv.put(m.key, new Generator(model, { prefillChunkSize: chunkSize, decodeKvWindow, prefillRunCap, draftTokens, draftNgram }, caches[k]!, m.ids));
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

  return {
    loaded,
    complete,
    warm,
    status: () => status,
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    closeDocument(documentKey: string) {
      trimStarts.delete(documentKey);
      farChosen.delete(documentKey);
      syntaxTrees.delete(documentKey);
      const key = cacheKey(documentKey);
      // Queued and running work for it is dropped; its generator is disposed instead of stored.
      scheduler?.closeDocument(key);
      store?.delete(key);
    },
    cacheStats() {
      return store ? { ...store.stats(), bytesPerToken, modelPrefillTokens } : null;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
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

/**
 * The answer-shaping part of a request as it reached the model side, for the debug line: trigger, candidate count,
 * forced line mode, language, the lengths of the prefix and suffix it saw (after the transports' window), a SHA-1
 * (12 hex digits) of prefix + NUL + suffix, and one of the prompt's token ids (int32, the platform's byte order) with their count.
 * Two requests with equal fingerprints decode the same prompt with the same options.
 */
export function requestFingerprint(context: CompletionContext, promptIds: ArrayLike<number>) {
  const ids = Int32Array.from(promptIds as ArrayLike<number>);
  return {
    trigger: context.trigger,
    maxCandidates: context.maxCandidates ?? 1,
    lineMode: context.lineMode ?? 'plan',
    languageId: context.languageId,
    prefixChars: context.prefix.length,
    suffixChars: context.suffix.length,
    text: createHash('sha1').update(context.prefix).update('\0').update(context.suffix).digest('hex').slice(0, 12),
    promptTokens: ids.length,
    prompt: createHash('sha1').update(Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex').slice(0, 12),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** SHA-1 of the `count` lines of `text` from line `line` (0-based; fewer at its end), or null when it has no such line. */
function keptLinesDigest(text: string, line: number, count = 4): string | null {
  let start = 0;
  for (let i = 0; i < line; i++) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) return null;
    start = nl + 1;
  }
  let end = start;
  for (let i = 0; i < count && end < text.length; i++) {
    const nl = text.indexOf('\n', end);
    end = nl === -1 ? text.length : nl + 1;
  }
  return createHash('sha1').update(text.slice(start, end)).digest('hex');
}
