// Owns the one engine a server runs: creates it from settings, recreates it when engine settings change, relays status.
//
// Transports (LSP, WebSocket API) talk to the host, never to a factory. A factory that throws
// or rejects gives a stand-in engine whose status is 'degraded' with the error message, so the
// server keeps serving (empty completions) and the editor shows why.

import { modelDirOrRepo } from '../hub/cache.js';
import path from 'node:path';
import { windowContext } from '../documents/window.js';
import type { CompletionContext, CompletionResult, EngineStatus } from '../engine/types.js';
import type { ModelOptions } from '../engine/model-side.js';
import type { CompletionEvent, EngineFactory, EngineOptions, HookedEngine } from './engine.js';
import { ENGINE_SETTINGS, type Settings } from './settings.js';
import { SingleFlight } from '../util/single-flight.js';

export interface EngineHostOptions {
  factory: EngineFactory;
  settings: Settings;
  /** Relative model directories resolve against this directory (the infill-ls package root). */
  baseDir: string;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** An engine that only reports a fixed degraded status; used when the factory fails. */
export function degradedEngine(message: string, model?: string): HookedEngine {
  const status: EngineStatus = { state: 'degraded', message, model };
  return {
    complete: async () => ({ kind: 'degraded', reason: message }),
    status: () => status,
    onStatus: () => () => {},
    dispose: async () => {},
  };
}

export function engineOptions(settings: Settings, baseDir: string): EngineOptions {
  return {
    // A path (relative to baseDir) when it exists, else a Hub repo id kept for the loader to find in the cache.
    modelDir: modelDirOrRepo(settings.modelDir, baseDir),
    device: settings.device,
    maxNewTokens: settings.maxNewTokens,
    cacheBudgetMb: settings.cacheBudgetMb,
    decodeMode: settings.decodeMode,
    selfInfillLoops: settings.selfInfillLoops,
    selfInfillTau: settings.selfInfillTau,
    ...(settings.backend.kind !== 'local' ? { backend: settings.backend } : {}),
    // Issue 17's accelerator options: only when set, so an unset setting leaves the env default to the model side.
    ...(settings.maxStallMs !== undefined ? { maxStallMs: settings.maxStallMs } : {}),
    ...(settings.decodeKvWindow !== undefined ? { decodeKvWindow: settings.decodeKvWindow } : {}),
    ...(settings.draftTokens !== undefined ? { draftTokens: settings.draftTokens } : {}),
    ...(settings.wgslDecode !== undefined ? { wgslDecode: settings.wgslDecode } : {}),
    ...(settings.farContextTokens !== undefined ? { farContextTokens: settings.farContextTokens } : {}),
  };
}

/**
 * The model side's options (engine/model-side.ts `ModelOptions`: plain data, they cross to the model worker) for the
 * local backend, from the engine options: what main.ts's factory hands to the worker host and the façade.
 */
export function localModelOptions(options: EngineOptions): ModelOptions {
  return {
    modelDir: options.modelDir,
    device: options.device,
    maxNewTokens: options.maxNewTokens,
    cacheBudgetMb: options.cacheBudgetMb,
    decodeMode: options.decodeMode,
    selfInfillLoops: options.selfInfillLoops,
    selfInfillTau: options.selfInfillTau,
    ...(options.maxStallMs !== undefined ? { maxStallMs: options.maxStallMs } : {}),
    ...(options.decodeKvWindow !== undefined ? { decodeKvWindow: options.decodeKvWindow } : {}),
    ...(options.draftTokens !== undefined ? { draftTokens: options.draftTokens } : {}),
    ...(options.wgslDecode !== undefined ? { wgslDecode: options.wgslDecode } : {}),
    ...(options.farContextTokens !== undefined ? { farContextTokens: options.farContextTokens } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  };
}

/**
 * The single-flight key of a (windowed) completion context: every field that changes the answer — document key (its
 * caches and sticky trimming), language, prefix, suffix, trigger, line mode, candidate count, cross-file context. Not
 * the version: the same text at another version gets the same answer. The engine is keyed separately (a settings
 * change makes a new engine, whose requests never join the old one's).
 */
export function completionKey(context: CompletionContext): string {
  return JSON.stringify([context.documentKey, context.languageId, context.trigger, context.lineMode ?? null, context.maxCandidates ?? null, context.crossFile ?? null, context.prefix, context.suffix]);
}

export class EngineHost {
  private readonly factory: EngineFactory;
  private readonly baseDir: string;
  private readonly log: NonNullable<EngineHostOptions['log']>;
  private settings: Settings;
  private current: Promise<HookedEngine> | undefined;
  private resolved: HookedEngine | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly listeners = new Set<(status: EngineStatus) => void>();
  private lastStatus: EngineStatus = { state: 'loading', message: 'engine not started' };
  private lastLatencyMs: number | undefined;
  private generation = 0;
  private disposed = false;
  /** In-flight completions per engine, shared between identical requests (`completionKey`). */
  private readonly flights = new WeakMap<HookedEngine, SingleFlight<CompletionResult, string>>();

  constructor(options: EngineHostOptions) {
    this.factory = options.factory;
    this.settings = options.settings;
    this.baseDir = options.baseDir;
    this.log = options.log ?? (() => {});
  }

  /** Creates the engine (idempotent). */
  start(): Promise<HookedEngine> {
    if (this.current === undefined) this.current = this.create();
    return this.current;
  }

  /** Applies new settings; recreates the engine when an engine setting changed. Returns whether it did. */
  async configure(settings: Settings): Promise<boolean> {
    const previous = this.settings;
    this.settings = settings;
    const restart = ENGINE_SETTINGS.some((k) => JSON.stringify(previous[k]) !== JSON.stringify(settings[k]));
    if (!restart || this.current === undefined) return false;
    const old = this.current;
    this.current = this.create();
    void old.then((engine) => engine.dispose()).catch((err) => this.log('warn', `disposing the previous engine failed: ${String(err)}`));
    await this.current;
    return true;
  }

  status(): EngineStatus {
    return { ...this.lastStatus, lastLatencyMs: this.lastStatus.lastLatencyMs ?? this.lastLatencyMs };
  }

  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs a completion; engine bugs (throws) propagate to the transport, which answers one request with an error.
   * The engine sees the bounded window around the cursor (documents/window.ts), whatever the document's size.
   */
  async complete(full: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult> {
    const context = windowContext(full);
    if (signal.aborted) return { kind: 'cancelled' };
    const engine = await this.start();
    if (signal.aborted) return { kind: 'cancelled' };
    const started = performance.now();
    let flights = this.flights.get(engine);
    if (flights === undefined) this.flights.set(engine, (flights = new SingleFlight()));
    // Identical requests in flight at once (two API clients, one client twice, LSP inline + classic) share one
    // prefill + decode; each keeps its own cancellation, and the last one to cancel cancels the shared work.
    const result = await flights.run(completionKey(context), signal, (shared, report) => engine.complete(context, shared, report), { kind: 'cancelled' }, onPartial);
    if (result.kind === 'ok') {
      this.lastLatencyMs = Math.round(performance.now() - started);
    }
    return signal.aborted && result.kind === 'ok' ? { kind: 'cancelled' } : result;
  }

  /** Completions answered by joining an identical request's in-flight generation, for the running engine (tests, debugging). */
  get sharedCompletions(): number {
    return (this.resolved && this.flights.get(this.resolved)?.joined) ?? 0;
  }

  /** Forwards an editor event to the engine's optional hook; hook errors are logged, never thrown. */
  completionEvent(event: CompletionEvent): void {
    if (this.resolved?.onCompletionEvent === undefined) return;
    try {
      this.resolved.onCompletionEvent(event);
    } catch (err) {
      this.log('warn', `engine onCompletionEvent failed: ${String(err)}`);
    }
  }

  /** Asks the engine to warm a cursor position's cache in the background (optional hook); never throws. */
  warm(context: CompletionContext): void {
    if (this.resolved?.warm === undefined) return;
    try {
      this.resolved.warm(windowContext(context));
    } catch (err) {
      this.log('warn', `engine warm failed: ${String(err)}`);
    }
  }

  documentClosed(documentKey: string): void {
    try {
      this.resolved?.onDocumentClosed?.(documentKey);
    } catch (err) {
      this.log('warn', `engine onDocumentClosed failed: ${String(err)}`);
    }
  }

  get latencyMs(): number | undefined {
    return this.lastLatencyMs;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.generation++;
    this.unsubscribe?.();
    this.listeners.clear();
    const current = this.current;
    this.current = undefined;
    if (current !== undefined) await (await current).dispose();
  }

  private async create(): Promise<HookedEngine> {
    const generation = ++this.generation;
    const options = engineOptions(this.settings, this.baseDir);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.emit({ state: 'loading', model: options.modelDir, device: options.device, message: `loading ${options.modelDir}` });
    let engine: HookedEngine;
    try {
      engine = (await this.factory(options)) as HookedEngine;
    } catch (err) {
      const message = `could not start the engine for ${options.modelDir}: ${err instanceof Error ? err.message : String(err)}`;
      this.log('error', message);
      engine = degradedEngine(message, options.modelDir);
    }
    if (generation !== this.generation || this.disposed) {
      // Superseded while loading: the newer engine owns status.
      return engine;
    }
    this.resolved = engine;
    this.unsubscribe = engine.onStatus((status) => {
      if (generation === this.generation) this.emit(status);
    });
    this.emit(engine.status());
    return engine;
  }

  private emit(status: EngineStatus): void {
    this.lastStatus = { ...status };
    const snapshot = this.status();
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (err) {
        this.log('warn', `status listener failed: ${String(err)}`);
      }
    }
  }
}
