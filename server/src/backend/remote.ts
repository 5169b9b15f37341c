// What the remote engines (openai.ts, llama-server.ts) share: the status they report, with the backend's last error
// in its message until a request succeeds, and how an HTTP failure is worded.

import type { CompletionCache } from '../cache/completion-cache.js';
import type { DecodePlan } from '../engine/decode-plan.js';
import type { CompletionContext, CompletionResult, EngineStatus } from '../engine/types.js';
import { postprocess } from '../postprocess/index.js';

/** An HTTP answer that was not a success, or a server-reported error event; its message is shown as is. */
export class HttpError extends Error {}

/** The status of a remote engine and its listeners. */
export interface RemoteStatus {
  get(): EngineStatus;
  /** Replaces the status and tells every listener. */
  set(next: EngineStatus): void;
  /**
   * Records the last request's failure (null: it succeeded): the status message becomes `describe; last error: …`
   * until a success puts back `describe`; each new error is also logged once. Repeats of the same message do nothing.
   */
  noteError(message: string | null): void;
  onStatus(listener: (status: EngineStatus) => void): () => void;
  /** Drops every listener (dispose). */
  clear(): void;
}

/** A ready status for a backend described by `describe` (its kind and URL), reporting `model`. */
export function remoteStatus(describe: string, model: string, log?: (message: string) => void): RemoteStatus {
  let status: EngineStatus = { state: 'ready', device: 'remote', model, message: describe };
  let lastError: string | null = null;
  const listeners = new Set<(s: EngineStatus) => void>();
  const set = (next: EngineStatus): void => {
    status = next;
    for (const l of listeners) l(status);
  };
  return {
    get: () => status,
    set,
    noteError(message) {
      if (message === lastError) return;
      lastError = message;
      set({ ...status, message: message ? `${describe}; last error: ${message}` : describe });
      if (message) log?.(`backend error: ${message}`);
    },
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    clear: () => listeners.clear(),
  };
}

/**
 * Why a request to `origin` failed, for the status and the `degraded` answer: the time limit when `timedOut`, an
 * HttpError's own message, else `cannot reach ORIGIN: CODE` (the network error's code, e.g. ECONNREFUSED).
 */
export function failureMessage(err: unknown, timedOut: boolean, timeoutMs: number, origin: string): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  if (err instanceof HttpError) return err.message;
  const e = err as Error & { cause?: { code?: string } };
  return `cannot reach ${origin}: ${e.cause?.code ?? e.message}`;
}

/**
 * The body of a non-streamed answer (a server that ignores `stream`) as a JSON object. Throws an HttpError that says
 * what came instead when it is not JSON or not an object (`null`, a number, an array), so the status names a broken
 * answer rather than an unreachable server.
 */
export async function jsonAnswer<T extends object>(res: Response): Promise<T> {
  const raw = await res.text();
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new HttpError(`the answer is not JSON: ${raw.slice(0, 80).replace(/\s+/g, ' ').trim()}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(`the answer is not a JSON object: ${raw.slice(0, 80).replace(/\s+/g, ' ').trim()}`);
  return value as T;
}

/** `value` when it is a string, else '' (a server's text field of another type adds nothing). */
export function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Parses a configured base URL. Throws when it is not http(s). */
export function httpUrl(base: string): URL {
  const u = new URL(base);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`backend url must be http(s), got ${u.protocol}`);
  return u;
}

/**
 * The typed-ahead answer: what is left of an earlier completion of this document that the user has been typing
 * through (CompletionCache.lookup), as a `completion-reuse` result timed from `t0` (performance.now() ms); undefined
 * when there is none and the server must be asked.
 */
export function typedAheadAnswer(cache: CompletionCache, context: CompletionContext, t0: number): CompletionResult | undefined {
  const hit = cache.lookup(context.documentKey, context.prefix, context.suffix);
  if (!hit?.remaining) return undefined;
  return { kind: 'ok', candidates: [{ text: hit.remaining, score: hit.entry.score }], timings: { totalMs: performance.now() - t0, prefillMs: 0, decodeMs: 0, prefillTokens: 0, promptTokens: 0, generatedTokens: 0 }, cache: 'completion-reuse', id: hit.entry.id };
}

/**
 * A request's stream of partial texts: `send` passes each to `onPartial` (absent: nothing is sent) and remembers it;
 * `end(shown)` sends the answer's post-processed text when the stream showed something and that text differs (and is
 * not empty), so a stream that showed text ends with the answer — as engine/decode.ts does for local answers — also
 * when post-processing cut a truncated answer back.
 */
export function partialStream(onPartial?: (text: string) => void): { send(text: string): void; end(shown: string): void } {
  let last: string | undefined;
  return {
    send(text) {
      if (!onPartial) return;
      last = text;
      onPartial(text);
    },
    end(shown) {
      if (onPartial && last !== undefined && shown !== '' && shown !== last) onPartial(shown);
    },
  };
}

/**
 * The server's raw `text` as the editor gets it: post-processed for `context` under the plan's line mode, and kept in
 * the completion cache for typed-ahead answers. `truncated`: the server stopped at its token or time limit and nothing
 * of ours cut the text since (llama-server.ts `stoppedAtLimit`, openai.ts `finishedByLength`), so it may end
 * mid-expression and post-processing cuts it back to a balanced end (postprocess/bracket-balance.ts `cutTruncated`), as
 * the local engine does for a decode stopped by `max-tokens` or `time-budget` (engine/decode.ts). Returns the shown text
 * and its cache entry's id.
 */
export function keepAnswer(cache: CompletionCache, context: CompletionContext, plan: Pick<DecodePlan, 'lineMode'>, text: string, truncated = false): { shown: string; id: string } {
  const shown = postprocess(text, { prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, lineMode: plan.lineMode, ...(truncated ? { truncated: true } : {}) });
  const entry = cache.add({ documentKey: context.documentKey, languageId: context.languageId, prefix: context.prefix, suffix: context.suffix, text: shown, speculative: false, score: 0 });
  return { shown, id: entry.id };
}
