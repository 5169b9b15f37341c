// One WebSocket API connection's state and methods: its own documents, in-flight completions, cancellation, limits.
//
// Methods (params → result):
//   document/open   {uri, languageId, text, version?, warmOffset?} → {uri, version}  (warms the cache at warmOffset, else the end)
//   document/change {uri, version?, changes: [{range?, text}]} → {uri, version}
//   document/close  {uri}                                      → null
//   complete        {uri, position} | {prefix, suffix?, languageId?, documentKey?}
//                   + {trigger?, maxCandidates?, stream?}       → {candidates, timings, cache?} | {candidates: [], degraded}
//                   candidates use the document's line ends and leave no text after the cursor twice;
//                   streamed text arrives first as `complete/partial` {id, text} notifications when stream is true
//   cancel          {id}                                       → {cancelled: boolean}
//   status          {}                                         → EngineStatus
// Outcomes: cancelled → error -32800; the document changed under a request → -32801;
// bad params (incl. out-of-range positions and positions inside a surrogate pair) → -32602; anything thrown → -32603 for that request only.

import type { EngineHost } from '../config/engine-host.js';
import { isLanguageEnabled, type Settings } from '../config/settings.js';
import { DocumentError, DocumentStore, PositionError, completionContext, documentEol, lfOnly, type Eol, type TextChange } from '../documents/index.js';
import type { CompletionContext } from '../engine/types.js';
import { fitCandidate } from '../postprocess/index.js';
import { ErrorCode, RpcError, failure, success, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';

export interface SessionOptions {
  engine: EngineHost;
  settings: () => Settings;
  maxConcurrentRequests: number;
  /** Sends a notification to this connection's client. */
  notify: (method: string, params: unknown) => void;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

type Reason = 'cancelled' | 'modified' | 'closed';

interface InFlight {
  controller: AbortController;
  uri: string | undefined;
}

type Params = Record<string, unknown>;

function params(request: JsonRpcRequest): Params {
  const p = request.params;
  if (p === undefined) return {};
  if (Array.isArray(p)) throw new RpcError(ErrorCode.InvalidParams, `${request.method} takes named parameters (an object), not an array`);
  return p as Params;
}

function str(p: Params, name: string, method: string): string {
  const v = p[name];
  if (typeof v !== 'string') throw new RpcError(ErrorCode.InvalidParams, `${method}: "${name}" must be a string`);
  return v;
}

function optionalString(p: Params, name: string, method: string): string | undefined {
  return p[name] === undefined ? undefined : str(p, name, method);
}

function optionalInt(p: Params, name: string, method: string, min: number, max: number): number | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RpcError(ErrorCode.InvalidParams, `${method}: "${name}" must be an integer in ${min}..${max}`);
  }
  return v;
}

function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

export class ApiSession {
  readonly documents = new DocumentStore();
  private readonly inflight = new Map<string, InFlight>();
  private readonly options: SessionOptions;
  private disposed = false;

  constructor(options: SessionOptions) {
    this.options = options;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Handles one request; returns the response, or undefined for notifications. Never throws. */
  async handle(request: JsonRpcRequest): Promise<JsonRpcResponse | undefined> {
    const isNotification = !('id' in request);
    const id = request.id ?? null;
    try {
      const result = await this.dispatch(request, id, isNotification);
      return isNotification ? undefined : success(id, result);
    } catch (err) {
      if (isNotification) return undefined;
      if (err instanceof RpcError) return failure(id, err.toJson());
      if (err instanceof PositionError) {
        return failure(id, { code: ErrorCode.InvalidParams, message: err.message, data: { position: err.position, lineCount: err.lineCount } });
      }
      if (err instanceof DocumentError) return failure(id, { code: ErrorCode.InvalidParams, message: err.message, data: { reason: err.code } });
      const message = err instanceof Error ? err.message : String(err);
      this.options.log?.('error', `${request.method} failed: ${err instanceof Error && err.stack ? err.stack : message}`);
      return failure(id, { code: ErrorCode.InternalError, message: `${request.method} failed: ${message}` });
    }
  }

  /** Aborts everything in flight (the connection closed). */
  dispose(): void {
    this.disposed = true;
    for (const { controller } of this.inflight.values()) controller.abort('closed' satisfies Reason);
    this.inflight.clear();
  }

  private async dispatch(request: JsonRpcRequest, id: JsonRpcId, isNotification: boolean): Promise<unknown> {
    const method = request.method;
    switch (method) {
      case 'document/open': {
        const p = params(request);
        const version = optionalInt(p, 'version', method, 0, Number.MAX_SAFE_INTEGER) ?? 0;
        const uri = str(p, 'uri', method);
        const text = str(p, 'text', method);
        // Warm the document's cache in the background at the given UTF-16 offset, else at the end.
        const at = optionalInt(p, 'warmOffset', method, 0, text.length) ?? text.length;
        this.abortDocument(uri, 'modified');
        const snapshot = this.documents.open(uri, str(p, 'languageId', method), version, text);
        if (isLanguageEnabled(this.options.settings(), snapshot.languageId)) this.options.engine.warm(completionContext(snapshot, at, 'automatic'));
        return { uri: snapshot.uri, version: snapshot.version };
      }
      case 'document/change': {
        const p = params(request);
        const uri = str(p, 'uri', method);
        const version = optionalInt(p, 'version', method, 0, Number.MAX_SAFE_INTEGER);
        if (!Array.isArray(p.changes)) throw new RpcError(ErrorCode.InvalidParams, `${method}: "changes" must be an array of {range?, text}`);
        for (const change of p.changes as unknown[]) {
          if (typeof change !== 'object' || change === null || typeof (change as Params).text !== 'string') {
            throw new RpcError(ErrorCode.InvalidParams, `${method}: each change must be {range?, text: string}`);
          }
        }
        const snapshot = this.documents.change(uri, version, p.changes as TextChange[], 'strict');
        this.abortDocument(uri, 'modified');
        return { uri: snapshot.uri, version: snapshot.version };
      }
      case 'document/close': {
        const uri = str(params(request), 'uri', method);
        this.abortDocument(uri, 'closed');
        this.documents.close(uri);
        this.options.engine.documentClosed(uri);
        return null;
      }
      case 'complete':
        if (isNotification) throw new RpcError(ErrorCode.InvalidRequest, 'complete must be a request (with an id)');
        return this.complete(params(request), id);
      case 'cancel': {
        const p = params(request);
        if (!('id' in p) || (typeof p.id !== 'string' && typeof p.id !== 'number')) {
          throw new RpcError(ErrorCode.InvalidParams, 'cancel: "id" must be the string or number id of a request on this connection');
        }
        const entry = this.inflight.get(idKey(p.id as JsonRpcId));
        entry?.controller.abort('cancelled' satisfies Reason);
        return { cancelled: entry !== undefined };
      }
      case 'status':
        return this.options.engine.status();
      default:
        throw new RpcError(ErrorCode.MethodNotFound, `method not found: ${JSON.stringify(method)} (methods: document/open, document/change, document/close, complete, cancel, status)`);
    }
  }

  private async complete(p: Params, id: JsonRpcId): Promise<unknown> {
    const method = 'complete';
    const trigger = p.trigger ?? 'manual';
    if (trigger !== 'manual' && trigger !== 'automatic') throw new RpcError(ErrorCode.InvalidParams, 'complete: "trigger" must be "manual" or "automatic"');
    const maxCandidates = optionalInt(p, 'maxCandidates', method, 1, 8);
    if (p.stream !== undefined && typeof p.stream !== 'boolean') throw new RpcError(ErrorCode.InvalidParams, 'complete: "stream" must be a boolean');

    let context: CompletionContext;
    let uri: string | undefined;
    // The engine sees LF text; candidates get the document's line ends back (postprocess/fit.ts).
    let eol: Eol;
    if (p.uri !== undefined) {
      uri = str(p, 'uri', method);
      if (typeof p.position !== 'object' || p.position === null) throw new RpcError(ErrorCode.InvalidParams, 'complete: "position" {line, character} is required with "uri"');
      const snapshot = this.documents.require(uri);
      // Strict: a position past the end of a line or inside a surrogate pair is -32602 with the reason.
      const offset = snapshot.cursorOffsetAt(p.position as { line: number; character: number }, 'strict');
      context = completionContext(snapshot, offset, trigger, maxCandidates);
      eol = documentEol(snapshot.text);
    } else if (p.prefix !== undefined) {
      context = {
        documentKey: optionalString(p, 'documentKey', method) ?? 'untitled:api',
        version: 0,
        languageId: optionalString(p, 'languageId', method) ?? 'plaintext',
        prefix: str(p, 'prefix', method),
        suffix: optionalString(p, 'suffix', method) ?? '',
        trigger,
      };
      eol = documentEol(context.prefix + context.suffix);
      context.prefix = lfOnly(context.prefix);
      context.suffix = lfOnly(context.suffix);
      if (maxCandidates !== undefined) context.maxCandidates = maxCandidates;
    } else {
      throw new RpcError(ErrorCode.InvalidParams, 'complete: give either {uri, position} of an open document or {prefix, suffix?, languageId?}');
    }
    if (!isLanguageEnabled(this.options.settings(), context.languageId)) {
      return { candidates: [], degraded: `completion is disabled for ${context.languageId}` };
    }

    const key = idKey(id);
    if (this.inflight.has(key)) throw new RpcError(ErrorCode.InvalidRequest, `a request with id ${key} is already in flight on this connection`);
    if (this.inflight.size >= this.options.maxConcurrentRequests) {
      throw new RpcError(ErrorCode.TooManyRequests, `too many requests in flight on this connection (limit ${this.options.maxConcurrentRequests}); wait for one or cancel it`);
    }
    if (this.disposed) throw new RpcError(ErrorCode.RequestCancelled, 'connection closed');
    const controller = new AbortController();
    this.inflight.set(key, { controller, uri });
    try {
      const onPartial = p.stream === true ? (text: string) => this.options.notify('complete/partial', { id, text: eol === '\n' ? text : text.replace(/\n/g, eol) }) : undefined;
      const result = await this.options.engine.complete(context, controller.signal, onPartial);
      if (controller.signal.aborted || result.kind === 'cancelled') {
        const reason = (controller.signal.reason as Reason | undefined) ?? 'cancelled';
        if (reason === 'modified') throw new RpcError(ErrorCode.ContentModified, 'the document changed; request discarded', { reason });
        throw new RpcError(ErrorCode.RequestCancelled, 'request cancelled', { reason });
      }
      if (result.kind === 'degraded') return { candidates: [], degraded: result.reason };
      const fit = { prefix: context.prefix, suffix: context.suffix, languageId: context.languageId, eol };
      const seen = new Set<string>();
      const candidates = result.candidates
        .map((c) => ({ ...c, text: fitCandidate(c.text, fit) }))
        .filter((c) => c.text.length > 0 && !seen.has(c.text) && seen.add(c.text));
      return result.cache === undefined ? { candidates, timings: result.timings } : { candidates, timings: result.timings, cache: result.cache };
    } finally {
      if (this.inflight.get(key)?.controller === controller) this.inflight.delete(key);
    }
  }

  private abortDocument(uri: string, reason: Reason): void {
    for (const entry of this.inflight.values()) {
      if (entry.uri === uri) entry.controller.abort(reason);
    }
  }
}
