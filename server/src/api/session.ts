// One WebSocket API connection's state and methods: its own documents, in-flight completions, cancellation, limits.
//
// Methods (params → result):
//   document/open   {uri, languageId, text, version?, warmOffset?} → {uri, version}  (warms the cache at warmOffset, else the end)
//   document/change {uri, version?, changes: [{range?, text}]} → {uri, version}
//   document/close  {uri}                                      → null
//   complete        {uri, position} | {prefix, suffix?, languageId?, documentKey?}
//                   + {trigger?, maxCandidates?, lineMode?, stream?} → {candidates, timings, cache?} | {candidates: [], degraded}
//                   (maxCandidates defaults to 3 for trigger manual, 1 for automatic: the same as LSP and the CLI)
//                   candidates use the document's line ends and leave no text after the cursor twice;
//                   streamed text arrives first as `complete/partial` {id, text} notifications when stream is true
//   cancel          {id}                                       → {cancelled: boolean}
//   status          {}                                         → EngineStatus
// Outcomes: cancelled → error -32800; the document changed under a request → -32801;
// bad params (incl. out-of-range positions and positions inside a surrogate pair) → -32602; anything thrown → -32603 for that request only.
// Binary text (documents/binary.ts: NUL, mostly invalid UTF-8 or control characters) in document/open, the result of
// document/change, or complete's prefix/suffix → -32602 with the reason; the document stays as it was.

import type { EngineHost } from '../config/engine-host.js';
import { isLanguageEnabled, type Settings } from '../config/settings.js';
import { CrossFileContextProvider } from '../context/index.js';
import { DocumentError, DocumentStore, binaryContentReason, MAX_DOCUMENT_CHARS, PositionError, applyChanges, completionContext, defaultMaxCandidates, documentEol, lfOnly, type DocumentSnapshot, type Eol, type TextChange } from '../documents/index.js';
import type { CompletionContext } from '../engine/types.js';
import { fitCandidate } from '../postprocess/index.js';
import { ErrorCode, RpcError, failure, success, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';

export interface SessionOptions {
  engine: EngineHost;
  settings: () => Settings;
  maxConcurrentRequests: number;
  /** Documents open on this connection, plus distinct `documentKey`s of prefix-mode requests (default 64). */
  maxDocuments?: number;
  /** Text of this connection's open documents, in memory bytes (2 per UTF-16 code unit; default 64 MiB). */
  maxDocumentBytes?: number;
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
  if (p === null) throw new RpcError(ErrorCode.InvalidParams, `${request.method} takes named parameters (an object), not null`);
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

export const DEFAULT_MAX_DOCUMENTS = 64;
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

function idKey(id: JsonRpcId): string {
  return JSON.stringify(id);
}

export class ApiSession {
  readonly documents = new DocumentStore();
  /**
   * Cross-file context from the documents opened on this connection only: no workspace roots, so nothing is read
   * from disk (another connection's documents are never used).
   */
  private readonly crossFile = new CrossFileContextProvider({
    roots: [],
    documents: () => this.documents.uris().flatMap((uri) => {
      const d = this.documents.get(uri);
      return d ? [{ uri, languageId: d.languageId, text: d.text }] : [];
    }),
  });
  private readonly inflight = new Map<string, InFlight>();
  private readonly options: SessionOptions;
  private disposed = false;
  /** Prefix-mode `documentKey`s this connection used (their caches are released with the connection). */
  private readonly prefixKeys = new Set<string>();
  /** Sum of open documents' text lengths (UTF-16 code units). */
  private textUnits = 0;
  private readonly maxDocuments: number;
  private readonly maxDocumentBytes: number;

  constructor(options: SessionOptions) {
    this.options = options;
    this.maxDocuments = options.maxDocuments ?? DEFAULT_MAX_DOCUMENTS;
    this.maxDocumentBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  }

  /** Memory bytes of this connection's open documents' text (2 per UTF-16 code unit). */
  get documentBytes(): number {
    return this.textUnits * 2;
  }

  /** Throws -32602 when `text` (the whole document, or a prefix/suffix) looks like binary data rather than source code. */
  private checkText(method: string, what: string, text: string): void {
    const reason = binaryContentReason(text);
    if (reason !== undefined) throw new RpcError(ErrorCode.InvalidParams, `${method}: refusing ${what}: ${reason}`);
  }

  /** Throws -32001 when `uri` may not hold `units` code units of text (a new document, or a bigger one). */
  private checkDocumentLimits(uri: string, units: number): void {
    const current = this.documents.get(uri);
    if (current === undefined && this.documents.size + this.prefixKeys.size >= this.maxDocuments) {
      throw new RpcError(ErrorCode.TooManyRequests, `too many documents on this connection (limit ${this.maxDocuments}); close one with document/close first`);
    }
    if (units > MAX_DOCUMENT_CHARS) {
      throw new RpcError(ErrorCode.TooManyRequests, `document too large: ${units} UTF-16 code units (limit ${MAX_DOCUMENT_CHARS}); no completions for documents this size`);
    }
    const bytes = (this.textUnits - (current?.text.length ?? 0) + units) * 2;
    if (bytes > this.maxDocumentBytes) {
      throw new RpcError(
        ErrorCode.TooManyRequests,
        `documents on this connection would take ${bytes} bytes (limit ${this.maxDocumentBytes}); close documents with document/close first`,
      );
    }
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
        // Never the raw position in data: it is the client's value (possibly 100k levels deep); the message describes it.
        return failure(id, { code: ErrorCode.InvalidParams, message: err.message, data: { lineCount: err.lineCount } });
      }
      if (err instanceof DocumentError) return failure(id, { code: ErrorCode.InvalidParams, message: err.message, data: { reason: err.code } });
      const message = err instanceof Error ? err.message : String(err);
      this.options.log?.('error', `${request.method} failed: ${err instanceof Error && err.stack ? err.stack : message}`);
      return failure(id, { code: ErrorCode.InternalError, message: `${request.method} failed: ${message}` });
    }
  }

  /**
   * The connection closed: aborts everything in flight and releases the engine's caches of every document it
   * opened and every prefix-mode key it used (KV caches, syntax trees, completions), as document/close would.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { controller } of this.inflight.values()) controller.abort('closed' satisfies Reason);
    this.inflight.clear();
    for (const uri of this.documents.uris()) {
      this.documents.close(uri);
      this.options.engine.documentClosed(uri);
    }
    for (const key of this.prefixKeys) this.options.engine.documentClosed(key);
    this.prefixKeys.clear();
    this.textUnits = 0;
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
        const languageId = str(p, 'languageId', method);
        this.checkDocumentLimits(uri, text.length);
        this.checkText(method, '"text"', text);
        this.abortDocument(uri, 'modified');
        const before = this.documents.get(uri)?.text.length ?? 0;
        const snapshot = this.documents.open(uri, languageId, version, text);
        this.textUnits += text.length - before;
        this.crossFile.noteDocument(uri, snapshot.text, snapshot.positionAt(at).line);
        if (isLanguageEnabled(this.options.settings(), snapshot.languageId)) {
          // Warm the prompt a request would build (cross-file context included) before answering.
          const context = await this.withCrossFile(completionContext(snapshot, at, 'automatic'), snapshot, at);
          if (this.documents.get(uri) === snapshot) this.options.engine.warm(context);
        }
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
        const before = this.documents.require(uri);
        // Applied to a copy first: the limits are checked on the result, and a refused change leaves the document as it was.
        const text = applyChanges(before.text, p.changes as TextChange[], 'strict');
        this.checkDocumentLimits(uri, text.length);
        this.checkText(method, 'the changed text', text);
        const snapshot = this.documents.change(uri, version, [{ text }], 'strict');
        this.textUnits += snapshot.text.length - before.text.length;
        this.abortDocument(uri, 'modified');
        const last = (p.changes as TextChange[]).at(-1);
        this.crossFile.noteDocument(uri, snapshot.text, last && 'range' in last && last.range ? last.range.start.line : 0);
        return { uri: snapshot.uri, version: snapshot.version };
      }
      case 'document/close': {
        const uri = str(params(request), 'uri', method);
        this.abortDocument(uri, 'closed');
        const closing = this.documents.require(uri);
        this.documents.close(uri);
        this.textUnits -= closing.text.length;
        this.options.engine.documentClosed(uri);
        this.crossFile.documentClosed(uri);
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

  /** The context with cross-file chunks (from this connection's documents) when the setting is on; never fails. */
  private async withCrossFile(context: CompletionContext, snapshot: DocumentSnapshot, offset: number): Promise<CompletionContext> {
    if (!this.options.settings().crossFileContext) return context;
    try {
      const extra = await this.crossFile.contextFor({ uri: snapshot.uri, languageId: snapshot.languageId, text: snapshot.text }, offset);
      return extra ? { ...context, crossFile: extra } : context;
    } catch (err) {
      this.options.log?.('warn', `cross-file context for ${snapshot.uri}: ${String(err)}`);
      return context;
    }
  }

  private async complete(p: Params, id: JsonRpcId): Promise<unknown> {
    const method = 'complete';
    const trigger = p.trigger ?? 'manual';
    if (trigger !== 'manual' && trigger !== 'automatic') throw new RpcError(ErrorCode.InvalidParams, 'complete: "trigger" must be "manual" or "automatic"');
    // The same default as LSP and the CLI (documents/context.ts defaultMaxCandidates): the count changes the top answer.
    const maxCandidates = optionalInt(p, 'maxCandidates', method, 1, 8) ?? defaultMaxCandidates(trigger);
    if (p.stream !== undefined && typeof p.stream !== 'boolean') throw new RpcError(ErrorCode.InvalidParams, 'complete: "stream" must be a boolean');
    // Forces one line or several, as the CLI's --line-mode does (absent: the syntax plan chooses, as over LSP).
    const lineMode = p.lineMode;
    if (lineMode !== undefined && lineMode !== 'single' && lineMode !== 'multi') throw new RpcError(ErrorCode.InvalidParams, 'complete: "lineMode" must be "single" or "multi"');

    let context: CompletionContext;
    let uri: string | undefined;
    // The engine sees LF text; candidates get the document's line ends back (postprocess/fit.ts).
    let eol: Eol;
    if (p.uri !== undefined) {
      uri = str(p, 'uri', method);
      const pos = p.position as { line?: unknown; character?: unknown } | null | undefined;
      const nat = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
      if (typeof pos !== 'object' || pos === null || Array.isArray(pos) || !nat(pos.line) || !nat(pos.character)) {
        throw new RpcError(ErrorCode.InvalidParams, 'complete: "position" {line, character} with non-negative integers is required with "uri"');
      }
      const snapshot = this.documents.require(uri);
      // Strict: a position past the end of a line or inside a surrogate pair is -32602 with the reason.
      const offset = snapshot.cursorOffsetAt(p.position as { line: number; character: number }, 'strict');
      context = await this.withCrossFile(completionContext(snapshot, offset, trigger, maxCandidates), snapshot, offset);
      eol = documentEol(snapshot.text);
    } else if (p.prefix !== undefined) {
      const documentKey = optionalString(p, 'documentKey', method) ?? 'untitled:api';
      if (!this.prefixKeys.has(documentKey)) {
        if (this.documents.size + this.prefixKeys.size >= this.maxDocuments) {
          throw new RpcError(ErrorCode.TooManyRequests, `too many document keys on this connection (limit ${this.maxDocuments} documents and keys); reuse a documentKey`);
        }
        this.prefixKeys.add(documentKey);
      }
      context = {
        documentKey,
        version: 0,
        languageId: optionalString(p, 'languageId', method) ?? 'plaintext',
        prefix: str(p, 'prefix', method),
        suffix: optionalString(p, 'suffix', method) ?? '',
        trigger,
      };
      this.checkText(method, '"prefix"', context.prefix);
      this.checkText(method, '"suffix"', context.suffix);
      eol = documentEol(context.prefix + context.suffix);
      context.prefix = lfOnly(context.prefix);
      context.suffix = lfOnly(context.suffix);
      if (maxCandidates !== undefined) context.maxCandidates = maxCandidates;
    } else {
      throw new RpcError(ErrorCode.InvalidParams, 'complete: give either {uri, position} of an open document or {prefix, suffix?, languageId?}');
    }
    if (lineMode !== undefined) context = { ...context, lineMode };
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
