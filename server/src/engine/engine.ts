// The completion engine façade, on the transports' thread. It never runs a model step: the model side
// (engine/model-side.ts) does, behind a ModelHost — a worker thread for the servers (model-host/), or the caller's
// thread for the CLI and tests (the in-thread twin; same interface).
//
// What stays here (cheap, answered without waiting for the model):
// - status: the model side's status, plus the last latency;
// - completion-level reuse (cache/CompletionCache): a request that types through a returned completion is answered
//   with the rest of it without a model run (cache 'completion-reuse');
// - speculation policy: after an accept (onCompletionEvent) the completion after the accepted text is requested at
//   background priority ('completion-reuse:speculative'); a request for another position aborts it;
// - warming policy (on/off) and cancellation: an aborted request answers {kind:'cancelled'} at once, whatever the
//   model side is doing; the model side learns it between model runs.
import type { CompletionContext, CompletionEngine, CompletionEvent, CompletionResult, EngineStatus } from './types.js';
import { createModelSide, epochMs, type EngineCacheStats, type ModelHost, type ModelHooks, type ModelOptions, type WarmOutcome } from './model-side.js';
import { raceAbort } from '../util/mutex.js';
import { errorText } from '../util/errors.js';
import { nowMs } from '../util/clock.js';
import { CompletionCache } from '../cache/index.js';

export type { EngineCacheStats, WarmOutcome, ModelOptions } from './model-side.js';

export interface EngineOptions extends ModelOptions, Pick<ModelHooks, 'log' | 'onSchedulerEvent'> {
  /**
   * Where the model runs: 'in-thread' (default; the CLI, tests) or a ModelHost the caller made (the servers pass
   * model-host/'s worker host, so the message loop never waits for the model). With a given host, the model options
   * and hooks here are ignored (the host was made with its own).
   */
  host?: ModelHost;
  /** Background warming through `warm()` (default on; env INFILL_LS_WARM=0 turns it off: warm() does nothing). */
  warm?: boolean;
  /** Typed-ahead reuse of returned completions (default on; env INFILL_LS_COMPLETION_REUSE=0 turns it off). */
  completionReuse?: boolean;
  /** Speculative next completion after an accept (default on; env INFILL_LS_SPECULATIVE=0 turns it off). */
  speculative?: boolean;
}

export interface Engine extends CompletionEngine {
  /** Resolves when loading ended (ready or degraded); never rejects. */
  readonly loaded: Promise<void>;
  /** Drops the document's caches (the LSP host calls it when a document closes). */
  onDocumentClosed(documentKey: string): void;
  /** Cache occupancy and counters; null before the model is loaded (a worker host answers its last report). */
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

/** The caller's lineMode, else: rest of the cursor line is non-blank → single-line completion (automatic triggers only). */
export function isSingleLine(context: Pick<CompletionContext, 'trigger' | 'suffix' | 'lineMode'>): boolean {
  if (context.lineMode) return context.lineMode === 'single';
  if (context.trigger !== 'automatic') return false;
  const nl = context.suffix.indexOf('\n');
  const rest = nl === -1 ? context.suffix : context.suffix.slice(0, nl);
  return rest.trim().length > 0;
}

export function createEngine(options: EngineOptions = {}): Engine {
  const host: ModelHost = options.host ?? createModelSide(options, { log: options.log, onSchedulerEvent: options.onSchedulerEvent });
  const listeners = new Set<(s: EngineStatus) => void>();
  let lastLatencyMs: number | undefined;
  let disposed = false;
  const log = options.log ?? (() => {});
  const prefixCacheOn = options.prefixCache ?? envFlag('INFILL_LS_PREFIX_CACHE') ?? true;
  const warmOn = options.warm ?? envFlag('INFILL_LS_WARM') ?? true;
  const reuseOn = options.completionReuse ?? envFlag('INFILL_LS_COMPLETION_REUSE') ?? true;
  const speculativeOn = options.speculative ?? envFlag('INFILL_LS_SPECULATIVE') ?? true;
  const completions = new CompletionCache();

  const status = (): EngineStatus => {
    const s = host.status();
    return lastLatencyMs === undefined ? s : { ...s, lastLatencyMs };
  };
  const notify = () => {
    const s = status();
    for (const l of listeners) {
      try {
        l(s);
      } catch {
        // a listener's failure is not the engine's
      }
    }
  };
  host.onStatus(() => notify());
  // A new latency alone is told after the answer, at most once per turn of the event loop: sent before it, the status
  // notification is one more message written (a synchronous pipe write on stdio) ahead of every answer, answers from
  // the completion cache included. (bench/replay/reuse.mjs measured no difference either way on a machine at load 17-21.)
  let latencyNoticeQueued = false;
  const setLatency = (ms: number) => {
    lastLatencyMs = Math.round(ms);
    if (latencyNoticeQueued) return;
    latencyNoticeQueued = true;
    setImmediate(() => {
      latencyNoticeQueued = false;
      if (!disposed) notify();
    });
  };
  /** Debug lines of answers given here go out after the answer too (stderr is a synchronous pipe write). */
  const logSoon = (line: string) => setImmediate(() => log(line));
  /** The model side's counters for the façade's own debug lines (a worker host reports them after each job). */
  const counters = () => {
    const s = host.cacheStats();
    return { kvBytes: s?.bytes ?? 0, modelPrefillTokens: s?.modelPrefillTokens ?? 0 };
  };

  const ready = () => !disposed && host.status().state === 'ready';

  /** Prefill + decode on the model side; the completion cache records the answer. */
  async function run(context: CompletionContext, signal: AbortSignal, t0: number, background: boolean, onPartial?: (text: string) => void): Promise<CompletionResult> {
    const pending = host.complete({ context, background, startedAt: epochMs() - (nowMs() - t0) }, signal, onPartial);
    // An aborted request answers at once; the model side stops at its next chunk or decode step.
    if ((await raceAbort(pending, signal)) === 'aborted') return { kind: 'cancelled' };
    const r = await pending;
    if (r.kind !== 'ok') return r;
    const best = r.candidates[0];
    const entry = completions.add({ documentKey: context.documentKey, languageId: context.languageId, prefix: context.prefix, suffix: context.suffix, text: best?.text ?? '', speculative: background, score: best?.score ?? 0, ...(context.lineMode ? { lineMode: context.lineMode } : {}) });
    const totalMs = nowMs() - t0;
    if (!background) setLatency(totalMs);
    return { kind: 'ok', candidates: r.candidates, raw: r.raw, ...(r.stopReason ? { stopReason: r.stopReason } : {}), timings: { ...r.timings, totalMs }, cache: r.cache, id: entry.id };
  }

  /** Typed-ahead / speculative reuse: the rest of a returned completion the user is typing through, or null. */
  function reuse(context: CompletionContext, t0: number): CompletionResult | null {
    // A request for several candidates (the alternatives of a manual trigger) wants a real decode.
    if (!reuseOn || !prefixCacheOn || (context.maxCandidates ?? 1) > 1) return null;
    const hit = completions.lookup(context.documentKey, context.prefix, context.suffix);
    if (!hit) return null;
    const text = hit.remaining;
    // A request that forces several lines is not answered by a one-line text decoded without that demand.
    if (context.lineMode === 'multi' && hit.entry.lineMode !== 'multi' && !hit.entry.text.includes('\n')) return null;
    // The rest of a multi-line completion is still shown as such; single-line requests keep its first line.
    const shown = isSingleLine(context) && text.includes('\n') ? text.slice(0, text.indexOf('\n')) : text;
    if (!shown.trim()) return null;
    const cache = hit.entry.speculative ? 'completion-reuse:speculative' : 'completion-reuse';
    const entry = hit.typed === 0 ? hit.entry : completions.add({ ...hit.entry, prefix: context.prefix, text, speculative: false });
    const totalMs = nowMs() - t0;
    logSoon(`completion ${JSON.stringify({ doc: context.documentKey, version: context.version, outcome: 'ok', promptTokens: 0, prefillTokens: 0, cache, typed: hit.typed, prefillMs: 0, decodeMs: 0, generated: 0, totalMs: Math.round(totalMs), ...counters() })}`);
    setLatency(totalMs);
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
    if (!disposed) host.revive?.();
    if (host.status().state === 'loading') {
      if ((await raceAbort(host.loaded, signal)) === 'aborted') return { kind: 'cancelled' };
    }
    if (disposed) return { kind: 'degraded', reason: 'engine disposed' };
    if (!ready()) return { kind: 'degraded', reason: host.status().message ?? 'model not available' };
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
        log(`completion ${JSON.stringify({ doc: context.documentKey, version: context.version, outcome: 'ok', promptTokens: 0, prefillTokens: 0, cache: 'completion-reuse:speculative', empty: true, prefillMs: 0, decodeMs: 0, generated: 0, totalMs: Math.round(totalMs), ...counters() })}`);
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

  function warm(context: CompletionContext): Promise<WarmOutcome> {
    if (!warmOn) return Promise.resolve('off');
    if (disposed) return Promise.resolve('unavailable');
    host.revive?.();
    return host.warm(context);
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

  function speculate(documentKey: string, languageId: string, prefix: string, suffix: string, lineMode: 'single' | 'multi' | undefined): void {
    if (!ready()) return;
    speculations.get(documentKey)?.controller.abort();
    const controller = new AbortController();
    // As the accepted request asked: an automatic trigger, with its forced line mode if it had one.
    const context: CompletionContext = { documentKey, version: -1, languageId, prefix, suffix, trigger: 'automatic', ...(lineMode ? { lineMode } : {}) };
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
    speculate(entry.documentKey, entry.languageId, entry.prefix + entry.text, entry.suffix, entry.lineMode);
  }

  return {
    get loaded() {
      return host.loaded;
    },
    complete,
    warm,
    onCompletionEvent,
    async speculationIdle() {
      while (speculations.size) await Promise.all([...speculations.values()].map((s) => s.done));
    },
    status,
    onDocumentClosed(documentKey: string) {
      completions.deleteDocument(documentKey);
      speculations.get(documentKey)?.controller.abort();
      host.closeDocument(documentKey);
    },
    cacheStats: () => host.cacheStats(),
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      for (const s of speculations.values()) s.controller.abort();
      await host.dispose();
      notify();
      listeners.clear();
    },
  };
}
