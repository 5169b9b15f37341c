// What transports need from an engine beyond the shared contract: the factory's options and optional hooks.
//
// The CompletionEngine contract lives in engine/types.ts (runtime helper's room). Transports
// create engines through an EngineFactory so tests can pass an in-test engine and main.ts the
// real one; hooks are optional methods an engine may implement.

import type { CompletionContext, CompletionEngine, CompletionEvent } from '../engine/types.js';
import type { Settings } from './settings.js';

export type { CompletionEvent };

export interface EngineOptions {
  /** Absolute path of the model directory. */
  modelDir: string;
  device: Settings['device'];
  maxNewTokens: number;
  cacheBudgetMb: number;
  decodeMode: Settings['decodeMode'];
  selfInfillLoops: number;
  selfInfillTau: number;
  /** Local model or a remote OpenAI-compatible server (settings `backend`); absent means local. */
  backend?: Settings['backend'];
  /** The scheduler's chunk-size rule in ms, 0 off (settings `maxStallMs`); absent: the model side's default (env, else off). */
  maxStallMs?: number;
  /** SCOPE's decode KV window in tokens, 0 off (settings `decodeKvWindow`); absent: the model side's default (env, else off). */
  decodeKvWindow?: number;
  /** Draft-and-verify decoding's most drafted tokens per run, 0 off (settings `draftTokens`); absent: the model side's default (env, else DEFAULT_DRAFT_TOKENS). */
  draftTokens?: number;
  /** Our WGSL decode step on WebGPU, false off (settings `wgslDecode`); absent: the model side's default (env INFILL_LS_WGSL_DECODE, else on where it can run). */
  wgslDecode?: boolean;
  /** Same-file far context's token budget, 0 off (settings `farContextTokens`); absent: the model side's default (env, else DEFAULT_FAR_CONTEXT_TOKENS). */
  farContextTokens?: number;
  /** CPU threads per operator of the local model (`serve --threads`); absent: the model side's default (env INFILL_LS_THREADS, else onnxruntime's). */
  threads?: number;
}

export type EngineFactory = (options: EngineOptions) => CompletionEngine | Promise<CompletionEngine>;

/** Optional engine methods transports call when present. */
export interface EngineHooks {
  onCompletionEvent?(event: CompletionEvent): void;
  /** Notifies the engine that a document closed so it can drop per-file caches. */
  onDocumentClosed?(documentKey: string): void;
  /**
   * Prefills the cache for a cursor position at background priority (a document opened, the user paused), so the
   * first completion there is warm. Fire and forget; interactive requests pre-empt it.
   */
  warm?(context: CompletionContext): void;
}

export type HookedEngine = CompletionEngine & EngineHooks;
