// What the remote engines (openai.ts, llama-server.ts) share: the status they report, with the backend's last error
// in its message until a request succeeds, and how an HTTP failure is worded.

import type { EngineStatus } from '../engine/types.js';

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

/** Parses a configured base URL. Throws when it is not http(s). */
export function httpUrl(base: string): URL {
  const u = new URL(base);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`backend url must be http(s), got ${u.protocol}`);
  return u;
}
