// An in-test CompletionEngine for transport tests: scripted answers, recorded contexts, observable aborts.

import type { CompletionEvent, EngineOptions, HookedEngine } from '../../server/src/config/engine.js';
import type { CompletionContext, CompletionResult, EngineStatus } from '../../server/src/engine/types.js';

export type Behaviour =
  /** Answer at once with `respond(context)`. */
  | { kind: 'answer' }
  /** Never answer until aborted, then return {kind:'cancelled'}. */
  | { kind: 'hang' }
  /** Stream `parts` with `delayMs` between them, then answer with their concatenation. */
  | { kind: 'stream'; parts: string[]; delayMs: number }
  /** Throw (an engine bug). */
  | { kind: 'throw'; message: string }
  | { kind: 'degraded'; reason: string };

export class FakeEngine implements HookedEngine {
  readonly contexts: CompletionContext[] = [];
  readonly events: CompletionEvent[] = [];
  readonly closed: string[] = [];
  /** Contexts of warm() calls (the background-warming hook). */
  readonly warmed: CompletionContext[] = [];
  behaviours: Behaviour[] = [];
  respond: (context: CompletionContext) => string[] = (context) => [`/*${context.prefix.length}*/`];
  disposed = false;
  aborted = 0;
  private current: EngineStatus;
  private readonly listeners = new Set<(status: EngineStatus) => void>();

  constructor(readonly options?: EngineOptions, initial: EngineStatus = { state: 'ready', device: 'cpu', model: 'fake' }) {
    this.current = initial;
  }

  /** Queue behaviours for the next calls; after the queue drains, calls answer. */
  next(...behaviours: Behaviour[]): this {
    this.behaviours.push(...behaviours);
    return this;
  }

  setStatus(status: EngineStatus): void {
    this.current = status;
    for (const l of this.listeners) l(status);
  }

  async complete(context: CompletionContext, signal: AbortSignal, onPartial?: (text: string) => void): Promise<CompletionResult> {
    this.contexts.push(context);
    const behaviour = this.behaviours.shift() ?? { kind: 'answer' };
    const timings = { totalMs: 5, prefillMs: 3, decodeMs: 2, prefillTokens: 10, promptTokens: 10, generatedTokens: 2 };
    switch (behaviour.kind) {
      case 'answer':
        return { kind: 'ok', candidates: this.respond(context).map((text, i) => ({ text, score: 0 - i })), timings, id: `fake-${this.contexts.length}` };
      case 'hang':
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.aborted++;
        return { kind: 'cancelled' };
      case 'stream': {
        let text = '';
        for (const part of behaviour.parts) {
          await new Promise((r) => setTimeout(r, behaviour.delayMs));
          if (signal.aborted) {
            this.aborted++;
            return { kind: 'cancelled' };
          }
          text += part;
          onPartial?.(text);
        }
        return { kind: 'ok', candidates: [{ text, score: 0 }], timings };
      }
      case 'throw':
        throw new Error(behaviour.message);
      case 'degraded':
        return { kind: 'degraded', reason: behaviour.reason };
    }
  }

  status(): EngineStatus {
    return this.current;
  }

  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onCompletionEvent(event: CompletionEvent): void {
    this.events.push(event);
  }

  warm(context: CompletionContext): void {
    this.warmed.push(context);
  }

  onDocumentClosed(documentKey: string): void {
    this.closed.push(documentKey);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

/** A factory that records every engine it creates. */
export function fakeFactory(make: (options: EngineOptions) => FakeEngine = (o) => new FakeEngine(o)) {
  const engines: FakeEngine[] = [];
  const factory = (options: EngineOptions): FakeEngine => {
    const engine = make(options);
    engines.push(engine);
    return engine;
  };
  return { factory, engines, get last(): FakeEngine {
    const e = engines.at(-1);
    if (e === undefined) throw new Error('no engine created yet');
    return e;
  } };
}
