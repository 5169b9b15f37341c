// What transports need from an engine beyond the shared contract: the factory's options and optional hooks.
//
// The CompletionEngine contract lives in engine/types.ts (runtime helper's room). Transports
// create engines through an EngineFactory so tests can pass an in-test engine and main.ts the
// real one; hooks are optional methods an engine may implement.

import type { CompletionEngine } from '../engine/types.js';
import type { Settings } from './settings.js';

export interface EngineOptions {
  /** Absolute path of the model directory. */
  modelDir: string;
  device: Settings['device'];
  maxNewTokens: number;
  cacheBudgetMb: number;
  decodeMode: Settings['decodeMode'];
  selfInfillLoops: number;
  selfInfillTau: number;
}

export type EngineFactory = (options: EngineOptions) => CompletionEngine | Promise<CompletionEngine>;

/** A client-side event about a completion the server returned (editor telemetry, never required). */
export interface CompletionEvent {
  kind: 'shown' | 'accepted' | 'partiallyAccepted';
  /** Document URI the completion was for, when the client says. */
  uri?: string;
  /** Identifier the server put into the item's `data`/command arguments. */
  completionId?: string;
  /** For partial accepts: how many UTF-16 code units of the item were accepted. */
  acceptedLength?: number;
  /** The raw notification params, for engines that want more. */
  raw: unknown;
}

/** Optional engine methods transports call when present. */
export interface EngineHooks {
  onCompletionEvent?(event: CompletionEvent): void;
  /** Notifies the engine that a document closed so it can drop per-file caches. */
  onDocumentClosed?(documentKey: string): void;
}

export type HookedEngine = CompletionEngine & EngineHooks;
