// The completion engine façade: loads the model once, builds the FIM prompt, prefills and decodes one request at a time.
//
// Policy (kept minimal; later issues add per-file caches, self-infilling and post-processing behind this façade):
// - one model run at a time (a FIFO mutex); a request whose signal aborts while waiting or between chunks
//   returns {kind:'cancelled'};
// - greedy decoding, at most `maxNewTokens` (64) new tokens, within `timeBudgetMs` (3000) of decoding;
// - single line: an automatic trigger with non-blank text after the cursor on the same line stops at the
//   first newline; otherwise the completion may span lines and stops at EOS / a FIM sentinel / the budgets;
// - one Generator (and its KV cache) survives requests: a request reuses the longest common token prefix
//   of the previous prompt+completion (with the SPM template, typing only appends tokens).
import type { CompletionContext, CompletionEngine, CompletionResult, EngineStatus } from './types.js';
import { loadBundle, type LoadedBundle } from './load.js';
import { Generator, generate, type SamplingOptions } from '../decoding/index.js';
import { buildFimPrompt, type TemplateOverride } from '../prompt/index.js';
import type { DeviceRequest, ModelDtype } from '../runtime/index.js';
import { Mutex, raceAbort } from '../util/mutex.js';
import { defaultModelDir } from '../util/paths.js';
import { errorText } from '../util/errors.js';
import { nowMs } from '../util/clock.js';

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
}

export interface Engine extends CompletionEngine {
  /** Resolves when loading ended (ready or degraded); never rejects. */
  readonly loaded: Promise<void>;
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
  let generator: Generator | null = null;
  let disposed = false;
  const log = options.log ?? (() => {});

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
      generator = new Generator(b.model, { prefillChunkSize: options.prefillChunkSize });
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
    if (status.state !== 'ready' || !bundle || !bundle.template || !generator) {
      return { kind: 'degraded', reason: status.message ?? 'model not available' };
    }
    const release = await mutex.acquire(signal);
    if (!release) return { kind: 'cancelled' };
    try {
      if (disposed || !generator) return { kind: 'degraded', reason: 'engine disposed' };
      const { tokenizer, template } = bundle;
      const prompt = buildFimPrompt(context, template, tokenizer, {
        maxPrefixTokens: options.maxPrefixTokens,
        maxSuffixTokens: options.maxSuffixTokens,
        maxHealTokens: options.maxHealTokens,
      });
      let streamed = '';
      const r = await generate(generator, tokenizer, {
        promptIds: prompt.ids,
        stopTokenIds: template.stopIds,
        stopStrings: isSingleLine(context) ? ['\n'] : [],
        maxNewTokens: options.maxNewTokens ?? 64,
        timeBudgetMs: options.timeBudgetMs ?? 3000,
        sampling: options.sampling,
        seed: options.seed,
        forced: prompt.healBytes ? { bytes: prompt.healBytes, text: prompt.healText, tokenBytes: tokenizer.tokenByteStrings() } : undefined,
        signal,
        onText: onPartial
          ? (delta) => {
              streamed += delta;
              onPartial(streamed);
            }
          : undefined,
      });
      if (r.stopReason === 'cancelled') return { kind: 'cancelled' };
      const totalMs = nowMs() - t0;
      setStatus({ lastLatencyMs: Math.round(totalMs) });
      const reused = r.promptTokens - r.prefillTokens;
      return {
        kind: 'ok',
        candidates: r.text.length ? [{ text: r.text, score: r.tokenIds.length ? r.logprobSum / r.tokenIds.length : 0 }] : [],
        timings: {
          totalMs,
          prefillMs: r.prefillMs,
          decodeMs: r.decodeMs,
          prefillTokens: r.prefillTokens,
          promptTokens: r.promptTokens,
          generatedTokens: r.tokenIds.length,
        },
        ...(reused > 0 ? { cache: `kv-prefix:${reused}` } : {}),
      };
    } catch (e) {
      // A bug or a runtime failure: report it, start the next request from an empty cache.
      log(`completion failed: ${errorText(e)}`);
      try {
        generator?.dispose();
      } catch {
        // already broken
      }
      generator = bundle ? new Generator(bundle.model, { prefillChunkSize: options.prefillChunkSize }) : null;
      return { kind: 'degraded', reason: `completion failed: ${errorText(e)}` };
    } finally {
      release();
    }
  }

  return {
    loaded,
    complete,
    status: () => status,
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await loaded;
      await mutex.run(async () => {
        generator?.dispose();
        generator = null;
        await bundle?.model.dispose();
        bundle = null;
      });
      setStatus({ state: 'degraded', message: 'disposed' });
      listeners.clear();
    },
  };
}
