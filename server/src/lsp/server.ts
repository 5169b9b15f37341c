// Binds LSP handlers on a connection: lifecycle, configuration, text sync, inline and classic completion, status.
//
// The logic behind the handlers lives elsewhere (documents/, config/, lsp/debounce.ts,
// lsp/convert.ts); this file maps protocol messages to those calls and outcomes back to
// protocol answers:
// - cancelled (client `$/cancelRequest`, a newer request for the same document, shutdown)
//   → RequestCancelled (-32800); the document changed under the request → ContentModified (-32801);
// - degraded (model loading or missing, language disabled) → an empty answer, status says why;
// - bugs (anything thrown) → one InternalError answer; the server keeps running.

import {
  DidChangeConfigurationNotification,
  ErrorCodes,
  InlineCompletionTriggerKind,
  CompletionTriggerKind,
  LSPErrorCodes,
  MessageType,
  ShowMessageNotification,
  ResponseError,
  TextDocumentSyncKind,
  type CancellationToken,
  type ClientCapabilities,
  type CompletionList,
  type Connection,
  type InitializeResult,
  type InlineCompletionList,
  type Position,
  type WorkDoneProgressServerReporter,
} from 'vscode-languageserver/node';
import type { CompletionEvent, EngineFactory } from '../config/engine.js';
import { EngineHost } from '../config/engine-host.js';
import { DEFAULT_SETTINGS, SETTINGS_SECTION, applySettings, cloneSettings, isLanguageEnabled, type Settings } from '../config/settings.js';
import { CrossFileContextProvider, uriToPath } from '../context/index.js';
import { DocumentError, DocumentStore, MAX_DOCUMENT_CHARS, binaryContentReason, PositionError, applyChanges, completionContext, defaultMaxCandidates, documentEol, lineAround, type DocumentSnapshot } from '../documents/index.js';
import type { CompletionContext, CompletionResult, EngineStatus } from '../engine/types.js';
import type { FitContext } from '../postprocess/index.js';
import { classicItems, inlineItems } from './convert.js';
import { AdaptiveDebouncer } from './debounce.js';
import {
  ACCEPT_COMMAND,
  COPILOT_ALIASES,
  DID_ACCEPT_COMPLETION,
  DID_PARTIALLY_ACCEPT_COMPLETION,
  DID_SHOW_COMPLETION,
  STATUS_NOTIFICATION,
  type CompletionEventParams,
} from './protocol.js';

export interface LspServerOptions {
  factory: EngineFactory;
  /** Relative model directories resolve against this directory. */
  baseDir: string;
  /** Settings before the client's initializationOptions (e.g. from command-line flags). */
  defaults?: Settings;
  version?: string;
  /** Injectable clock and sleep for tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface LspServer {
  readonly documents: DocumentStore;
  settings(): Settings;
  dispose(): Promise<void>;
}

/** Why an in-flight request stopped; decides the LSP error code. */
type AbortReason = 'cancelled' | 'superseded' | 'modified' | 'closed' | 'shutdown';

class Cancelled {
  constructor(readonly reason: AbortReason) {}
}

/**
 * The `{textDocument: {uri}, position: {line, character}}` of a completion request, or an InvalidParams error that
 * names the field. Checked before use: `params: null`, arrays or deeply nested values in place of numbers answer
 * -32602 instead of a TypeError (issue 13, item 7); nothing of the raw value is echoed back.
 */
function documentPosition(params: unknown, method: string): { uri: string; position: Position } | ResponseError<void> {
  const bad = (what: string): ResponseError<void> => new ResponseError(ErrorCodes.InvalidParams, `${method}: ${what}`);
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return bad('params must be an object {textDocument, position}');
  const p = params as { textDocument?: unknown; position?: unknown };
  const doc = p.textDocument as { uri?: unknown } | null | undefined;
  if (typeof doc !== 'object' || doc === null || typeof doc.uri !== 'string') return bad('"textDocument.uri" must be a string');
  const pos = p.position as { line?: unknown; character?: unknown } | null | undefined;
  const nat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff;
  if (typeof pos !== 'object' || pos === null || !nat(pos.line) || !nat(pos.character)) {
    return bad('"position" must be {line, character} with non-negative integers');
  }
  return { uri: doc.uri, position: { line: pos.line, character: pos.character } };
}

/** Quiet time after an edit, with no completion request, before the document's cache is warmed at the cursor. */
const WARM_AFTER_PAUSE_MS = 750;

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function attachLspServer(connection: Connection, options: LspServerOptions): LspServer {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? abortableSleep;
  const documents = new DocumentStore();
  let settings = cloneSettings(options.defaults ?? DEFAULT_SETTINGS);
  const debouncer = new AdaptiveDebouncer(settings.debounce);
  const host = new EngineHost({
    factory: options.factory,
    settings,
    baseDir: options.baseDir,
    log: (level, message) => log(level, message),
  });
  /** In-flight requests keyed by `${kind}:${uri}`; a newer request of the same kind aborts the older one. */
  const inflight = new Map<string, AbortController>();
  let capabilities: ClientCapabilities = {};
  let pendingSettingsErrors: string[] = [];
  let completionCounter = 0;
  let progress: Promise<WorkDoneProgressServerReporter> | undefined;
  let initialized = false;
  // Cross-file context (context/): roots from the client's workspace folders (initialize); open documents' text
  // is used before the file on disk; nothing outside the roots is read.
  const openDocuments = () => documents.uris().flatMap((uri) => {
    const d = documents.get(uri);
    return d ? [{ uri, languageId: d.languageId, text: d.text }] : [];
  });
  let crossFile = new CrossFileContextProvider({ roots: [], documents: openDocuments });
  let workspaceRoots: string[] = [];
  /** The context with cross-file chunks when the setting is on; never fails the request (context is optional). */
  async function withCrossFile(context: CompletionContext, snapshot: DocumentSnapshot, offset: number): Promise<CompletionContext> {
    if (!settings.crossFileContext) return context;
    try {
      const extra = await crossFile.contextFor({ uri: snapshot.uri, languageId: snapshot.languageId, text: snapshot.text }, offset);
      return extra ? { ...context, crossFile: extra } : context;
    } catch (err) {
      log('warn', `cross-file context for ${snapshot.uri}: ${String(err)}`);
      return context;
    }
  }

  /**
   * Documents whose last didChange was rejected (stale version, start after end, a line past the end): the server's
   * text no longer matches the editor's. Completions answer RequestFailed until a full-text change or a reopen.
   */
  const outOfSync = new Map<string, string>();
  /**
   * Documents over MAX_DOCUMENT_CHARS: not kept (no text, no caches), completions answer empty, the user is told
   * once per open. A full-text change that brings one under the limit opens it again.
   */
  const tooLarge = new Map<string, { languageId: string }>();
  function refuseTooLarge(uri: string, languageId: string, chars: number): void {
    tooLarge.set(uri, { languageId });
    if (documents.get(uri) !== undefined) {
      documents.close(uri);
      host.documentClosed(uri);
    }
    const mb = ((chars * 2) / (1024 * 1024)).toFixed(1);
    const message = `infill-ls: ${uri} is too large for completions (${chars} UTF-16 code units, ${mb} MiB in memory; the limit is ${MAX_DOCUMENT_CHARS}); it is not kept and gets no completions`;
    log('warn', message);
    void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message });
  }

  function log(level: 'info' | 'warn' | 'error', message: string): void {
    if (level === 'error') connection.console.error(message);
    else if (level === 'warn') connection.console.warn(message);
    else connection.console.info(message);
  }

  // A model that cannot be used (bad modelDir, missing files, no FIM tokens) is shown to the user like invalid settings
  // are, once per distinct failure (the status notification alone is invisible in most editors); a ready engine in
  // between makes the same failure news again. 'disposed' is the engine shutting down, not a failure.
  let shownFailure: string | undefined;
  function showFailure(status: EngineStatus): void {
    if (status.state === 'ready') shownFailure = undefined;
    if (status.state !== 'degraded' || !status.message || status.message === 'disposed') return;
    const message = `infill-ls: no completions: ${status.message}`;
    if (message === shownFailure) return;
    shownFailure = message;
    log('error', message);
    void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Error, message });
  }

  function reportSettingsErrors(errors: string[]): void {
    if (errors.length === 0) return;
    const message = `infill-ls: invalid settings ignored: ${errors.join('; ')}`;
    log('warn', message);
    void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message });
  }

  async function updateSettings(raw: unknown): Promise<void> {
    const update = applySettings(settings, raw);
    reportSettingsErrors(update.errors);
    settings = update.settings;
    debouncer.configure(settings.debounce);
    if (update.changed.length > 0) log('info', `settings changed: ${update.changed.join(', ')}`);
    await host.configure(settings);
  }

  async function pullSettings(): Promise<void> {
    if (capabilities.workspace?.configuration !== true) return;
    try {
      const raw: unknown = await connection.workspace.getConfiguration({ section: SETTINGS_SECTION });
      if (raw !== null && raw !== undefined && !(typeof raw === 'object' && Object.keys(raw as object).length === 0)) {
        await updateSettings(raw);
      }
    } catch (err) {
      log('warn', `workspace/configuration failed: ${String(err)}`);
    }
  }

  /** Workspace folders added or removed after initialize (LSP workspace/didChangeWorkspaceFolders) change the roots. */
  function onWorkspaceFolders(event: { added: Array<{ uri: string }>; removed: Array<{ uri: string }> }): void {
    const removed = new Set(event.removed.map((f) => uriToPath(f.uri)));
    const added = event.added.map((f) => uriToPath(f.uri)).filter((r): r is string => r !== undefined);
    workspaceRoots = [...workspaceRoots.filter((r) => !removed.has(r)), ...added.filter((r) => !workspaceRoots.includes(r))];
    crossFile = new CrossFileContextProvider({ roots: workspaceRoots, documents: openDocuments });
  }

  function onStatus(status: EngineStatus): void {
    void connection.sendNotification(STATUS_NOTIFICATION, status);
    showFailure(status);
    if (capabilities.window?.workDoneProgress !== true) return;
    if (status.state === 'loading') {
      if (progress === undefined) {
        progress = connection.window.createWorkDoneProgress().then((reporter) => {
          reporter.begin('infill-ls', undefined, status.message ?? 'loading the model', false);
          return reporter;
        });
        progress.catch((err) => log('warn', `window/workDoneProgress/create failed: ${String(err)}`));
      } else if (status.message) {
        // A later loading step (e.g. "model ... on cpu" after "engine not started") updates the same progress.
        const message = status.message;
        void progress.then((reporter) => reporter.report(message)).catch(() => {});
      }
    } else if (progress !== undefined) {
      const done = progress;
      progress = undefined;
      void done.then((reporter) => reporter.done()).catch(() => {});
    }
  }
  host.onStatus((status) => {
    if (initialized) onStatus(status);
  });

  // Background warming (engine hook): when a document opens, and when the user pauses after an edit without a
  // completion request, the engine prefills the prompt of the likely cursor in the background. LSP does not tell the
  // server where the cursor is: it is the end of the last edit, else the last completion's position in this document
  // (kept across close/open), else the end of the document.
  const lastCursor = new Map<string, number>();
  const pauseTimers = new Map<string, ReturnType<typeof setTimeout>>();
  // Documents whose text looks like binary data (documents/binary.ts): no warm-up and no completions, one log line
  // per document and reason (the editor opened an executable or image as text; the server keeps running).
  const binaryLogged = new Map<string, string>();
  function binaryReason(snapshot: DocumentSnapshot): string | undefined {
    const reason = binaryContentReason(snapshot.text);
    if (reason === undefined) {
      binaryLogged.delete(snapshot.uri);
      return undefined;
    }
    if (binaryLogged.get(snapshot.uri) !== reason) {
      binaryLogged.set(snapshot.uri, reason);
      log('warn', `infill-ls: ${snapshot.uri}: no completions: ${reason}`);
    }
    return reason;
  }

  function warmAt(uri: string, offset: number | undefined): void {
    const snapshot = documents.get(uri);
    if (!snapshot || !isLanguageEnabled(settings, snapshot.languageId) || binaryReason(snapshot) !== undefined) return;
    const at = Math.max(0, Math.min(snapshot.text.length, offset ?? snapshot.text.length));
    // Warm the prompt a request would build, cross-file context included, so the request finds it cached.
    void withCrossFile(completionContext(snapshot, at, 'automatic'), snapshot, at).then((context) => {
      if (documents.get(uri) === snapshot) host.warm(context);
    });
  }
  function cancelPauseWarm(uri: string): void {
    const t = pauseTimers.get(uri);
    if (t !== undefined) clearTimeout(t);
    pauseTimers.delete(uri);
  }
  function schedulePauseWarm(uri: string): void {
    cancelPauseWarm(uri);
    if (WARM_AFTER_PAUSE_MS <= 0) return;
    const t = setTimeout(() => {
      pauseTimers.delete(uri);
      if ([...inflight.keys()].some((k) => k.slice(k.indexOf(':') + 1) === uri)) return;
      warmAt(uri, lastCursor.get(uri));
    }, WARM_AFTER_PAUSE_MS);
    t.unref?.();
    pauseTimers.set(uri, t);
  }

  function abortDocument(uri: string, reason: AbortReason): void {
    for (const [key, controller] of inflight) {
      if (key.slice(key.indexOf(':') + 1) === uri) controller.abort(new Cancelled(reason));
    }
  }

  function cancelledError(reason: AbortReason): ResponseError<void> {
    if (reason === 'modified') return new ResponseError(LSPErrorCodes.ContentModified, 'the document changed; request discarded');
    return new ResponseError(LSPErrorCodes.RequestCancelled, `request cancelled (${reason})`);
  }

  function toResponseError(err: unknown, method: string): ResponseError<void> {
    if (err instanceof PositionError || err instanceof DocumentError) return new ResponseError(ErrorCodes.InvalidParams, err.message);
    const message = err instanceof Error ? err.message : String(err);
    log('error', `${method} failed: ${err instanceof Error && err.stack ? err.stack : message}`);
    return new ResponseError(ErrorCodes.InternalError, `${method} failed: ${message}`);
  }

  /** Shared path of both completion requests: debounce, abort-previous, engine call, outcome mapping. */
  async function complete(
    kind: 'inline' | 'classic',
    uri: string,
    position: Position,
    trigger: 'automatic' | 'manual',
    token: CancellationToken,
  ): Promise<{ result: CompletionResult; languageId: string; linePrefix: string; completionId: string; position: Position; fit: FitContext } | ResponseError<void> | null> {
    const snapshot = documents.require(uri);
    const desync = outOfSync.get(uri);
    if (desync !== undefined) {
      return new ResponseError(
        LSPErrorCodes.RequestFailed,
        `${uri} is out of sync: an edit was rejected (${desync}); the server needs the full text (a full-document change or reopening the file)`,
      );
    }
    if (!isLanguageEnabled(settings, snapshot.languageId)) return null;
    if (binaryReason(snapshot) !== undefined) return null;
    // LSP: a character past the end of the line means the end of the line; one inside a surrogate pair, the start of
    // that character. Items are placed at the position the offset maps back to.
    const offset = snapshot.cursorOffsetAt(position, 'clamp');
    const { linePrefix, lineSuffix } = lineAround(snapshot, offset);

    const key = `${kind}:${uri}`;
    cancelPauseWarm(uri);
    inflight.get(key)?.abort(new Cancelled('superseded'));
    const controller = new AbortController();
    inflight.set(key, controller);
    const subscription = token.onCancellationRequested(() => controller.abort(new Cancelled('cancelled')));
    if (token.isCancellationRequested) controller.abort(new Cancelled('cancelled'));
    try {
      if (trigger === 'automatic' && (kind === 'inline' || capabilities.textDocument?.inlineCompletion === undefined)) {
        debouncer.recordRequest(now());
      }
      await sleep(debouncer.delayMs({ trigger, linePrefix, lineSuffix }), controller.signal);
      const reason = (): AbortReason => (controller.signal.reason instanceof Cancelled ? controller.signal.reason.reason : 'cancelled');
      if (controller.signal.aborted) return cancelledError(reason());
      const context = await withCrossFile(completionContext(snapshot, offset, trigger, defaultMaxCandidates(trigger)), snapshot, offset);
      if (controller.signal.aborted) return cancelledError(reason());
      const result = await host.complete(context, controller.signal);
      if (result.kind === 'ok') debouncer.recordLatency(result.timings.totalMs);
      if (controller.signal.aborted || result.kind === 'cancelled') return cancelledError(reason());
      lastCursor.set(uri, offset);
      const fit: FitContext = { prefix: context.prefix, suffix: context.suffix, languageId: snapshot.languageId, eol: documentEol(snapshot.text) };
      const at = snapshot.positionAt(offset);
      return { result, languageId: snapshot.languageId, linePrefix, completionId: (result.kind === 'ok' ? result.id : undefined) ?? `lsp${++completionCounter}`, position: at, fit };
    } finally {
      subscription.dispose();
      if (inflight.get(key) === controller) inflight.delete(key);
    }
  }

  connection.onInitialize((params): InitializeResult => {
    capabilities = params.capabilities ?? {};
    const update = applySettings(settings, params.initializationOptions);
    settings = update.settings;
    pendingSettingsErrors = update.errors;
    debouncer.configure(settings.debounce);
    void host.configure(settings); // the engine does not exist yet: this only records the settings
    const folders = (params.workspaceFolders ?? []).map((f) => uriToPath(f.uri));
    const root = params.rootUri ? uriToPath(params.rootUri) : (params.rootPath ?? undefined);
    workspaceRoots = [...folders, ...(folders.length === 0 ? [root] : [])].filter((r): r is string => typeof r === 'string' && r.length > 0);
    crossFile = new CrossFileContextProvider({ roots: workspaceRoots, documents: openDocuments });
    const result: InitializeResult = {
      capabilities: {
        positionEncoding: 'utf-16',
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        completionProvider: { resolveProvider: false },
        executeCommandProvider: { commands: [ACCEPT_COMMAND] },
      },
      serverInfo: { name: 'infill-ls', version: options.version ?? '0.0.0' },
    };
    if (capabilities.textDocument?.inlineCompletion !== undefined) result.capabilities.inlineCompletionProvider = true;
    // Workspace folders added or removed later change the roots cross-file context may read under.
    if (capabilities.workspace?.workspaceFolders === true) result.capabilities.workspace = { workspaceFolders: { supported: true, changeNotifications: true } };
    return result;
  });

  connection.onInitialized(async () => {
    initialized = true;
    reportSettingsErrors(pendingSettingsErrors);
    pendingSettingsErrors = [];
    if (capabilities.workspace?.didChangeConfiguration?.dynamicRegistration === true) {
      connection.client.register(DidChangeConfigurationNotification.type, { section: SETTINGS_SECTION }).catch((err: unknown) => {
        log('warn', `could not register for configuration changes: ${String(err)}`);
      });
    }
    if (capabilities.workspace?.workspaceFolders === true) connection.workspace.onDidChangeWorkspaceFolders(onWorkspaceFolders);
    await pullSettings();
    onStatus(host.status());
    void host.start();
  });

  connection.onDidChangeConfiguration(async (params) => {
    try {
      const raw: unknown = params.settings;
      const record = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : undefined;
      // Ours: our section, or a bare settings object (some clients send only the server's own table).
      const ours = record !== undefined && (SETTINGS_SECTION in record || 'infillLs' in record || Object.keys(record).some((k) => k in DEFAULT_SETTINGS));
      if (ours) await updateSettings(raw);
      else await pullSettings();
    } catch (err) {
      log('error', `workspace/didChangeConfiguration failed: ${String(err)}`);
    }
  });

  connection.onDidOpenTextDocument(({ textDocument }) => {
    try {
      abortDocument(textDocument.uri, 'modified');
      outOfSync.delete(textDocument.uri);
      tooLarge.delete(textDocument.uri);
      if (typeof textDocument.text === 'string' && textDocument.text.length > MAX_DOCUMENT_CHARS) {
        refuseTooLarge(textDocument.uri, textDocument.languageId, textDocument.text.length);
        return;
      }
      const opened = documents.open(textDocument.uri, textDocument.languageId, textDocument.version, textDocument.text);
      // A viewed document: its lines around the last known cursor (else its top) join the recent-chunks ring.
      crossFile.noteDocument(textDocument.uri, opened.text, opened.positionAt(Math.min(opened.text.length, lastCursor.get(textDocument.uri) ?? 0)).line);
      warmAt(textDocument.uri, lastCursor.get(textDocument.uri));
    } catch (err) {
      log('error', `textDocument/didOpen ${textDocument.uri}: ${String(err)}`);
    }
  });

  connection.onDidChangeTextDocument(({ textDocument, contentChanges }) => {
    abortDocument(textDocument.uri, 'modified');
    try {
      let changes = contentChanges;
      const large = tooLarge.get(textDocument.uri);
      if (large !== undefined) {
        // Only a full-text change can bring it back under the limit; incremental edits have no text to apply to.
        let full = -1;
        changes.forEach((c, i) => {
          if (!('range' in c) || c.range === undefined) full = i;
        });
        if (full === -1) return;
        const text = applyChanges('', changes.slice(full), 'clamp');
        if (text.length > MAX_DOCUMENT_CHARS) return;
        tooLarge.delete(textDocument.uri);
        documents.open(textDocument.uri, large.languageId, textDocument.version ?? 0, text);
        return;
      }
      if (outOfSync.has(textDocument.uri)) {
        // Only a full-text change brings the copy back in step; edits before it apply to text we do not have.
        let full = -1;
        changes.forEach((c, i) => {
          if (!('range' in c) || c.range === undefined) full = i;
        });
        if (full === -1) {
          log('warn', `textDocument/didChange ${textDocument.uri} ignored: the document is out of sync until a full-text change or a reopen`);
          return;
        }
        changes = changes.slice(full);
      }
      const snapshot = documents.change(textDocument.uri, textDocument.version ?? undefined, changes, 'clamp');
      outOfSync.delete(textDocument.uri);
      if (snapshot.text.length > MAX_DOCUMENT_CHARS) {
        abortDocument(textDocument.uri, 'closed');
        refuseTooLarge(textDocument.uri, snapshot.languageId, snapshot.text.length);
        return;
      }
      const last = contentChanges.at(-1);
      if (last && 'range' in last && last.range) {
        // The cursor is most likely at the end of the last edit.
        lastCursor.set(textDocument.uri, snapshot.offsetAt(last.range.start, 'clamp') + last.text.length);
      }
      const edited = lastCursor.get(textDocument.uri);
      crossFile.noteDocument(textDocument.uri, snapshot.text, edited === undefined ? 0 : snapshot.positionAt(Math.min(snapshot.text.length, edited)).line);
      schedulePauseWarm(textDocument.uri);
    } catch (err) {
      // The client and server texts now differ; completions for this document would be wrong.
      const reason = err instanceof Error ? err.message : String(err);
      if (documents.get(textDocument.uri) !== undefined) outOfSync.set(textDocument.uri, reason);
      log('error', `textDocument/didChange ${textDocument.uri} rejected, document out of sync until a full-text change or a reopen: ${reason}`);
    }
  });

  connection.onDidCloseTextDocument(({ textDocument }) => {
    abortDocument(textDocument.uri, 'closed');
    cancelPauseWarm(textDocument.uri);
    outOfSync.delete(textDocument.uri);
    binaryLogged.delete(textDocument.uri);
    if (tooLarge.delete(textDocument.uri)) return;
    try {
      documents.close(textDocument.uri);
      host.documentClosed(textDocument.uri);
      crossFile.documentClosed(textDocument.uri);
    } catch (err) {
      log('warn', `textDocument/didClose ${textDocument.uri}: ${String(err)}`);
    }
  });

  connection.languages.inlineCompletion.on(async (params, token): Promise<InlineCompletionList | ResponseError<void>> => {
    try {
      const at = documentPosition(params, 'textDocument/inlineCompletion');
      if (at instanceof ResponseError) return at;
      if (tooLarge.has(at.uri)) return { items: [] };
      const trigger = params.context?.triggerKind === InlineCompletionTriggerKind.Invoked ? 'manual' : 'automatic';
      const outcome = await complete('inline', at.uri, at.position, trigger, token);
      if (outcome === null) return { items: [] };
      if (outcome instanceof ResponseError) return outcome;
      if (outcome.result.kind !== 'ok') return { items: [] };
      return { items: inlineItems(outcome.result.candidates, outcome.position, outcome.completionId, outcome.fit) };
    } catch (err) {
      return toResponseError(err, 'textDocument/inlineCompletion');
    }
  });

  connection.onCompletion(async (params, token): Promise<CompletionList | ResponseError<void>> => {
    try {
      const at = documentPosition(params, 'textDocument/completion');
      if (at instanceof ResponseError) return at;
      if (tooLarge.has(at.uri)) return { isIncomplete: false, items: [] };
      const trigger = params.context?.triggerKind === CompletionTriggerKind.Invoked || params.context === undefined ? 'manual' : 'automatic';
      const outcome = await complete('classic', at.uri, at.position, trigger, token);
      if (outcome === null) return { isIncomplete: false, items: [] };
      if (outcome instanceof ResponseError) return outcome;
      if (outcome.result.kind !== 'ok') return { isIncomplete: true, items: [] };
      const items = classicItems(outcome.result.candidates, outcome.position, outcome.linePrefix, outcome.languageId, outcome.completionId, outcome.fit);
      // Incomplete: the answer depends on the whole prefix, so the client asks again as the user types.
      return { isIncomplete: true, items };
    } catch (err) {
      return toResponseError(err, 'textDocument/completion');
    }
  });

  function forwardEvent(kind: CompletionEvent['kind'], params: unknown): void {
    const p = (params ?? {}) as CompletionEventParams;
    const fromCommand = p.item?.command?.arguments?.[0] as { completionId?: string } | undefined;
    host.completionEvent({
      kind,
      raw: params,
      uri: typeof p.uri === 'string' ? p.uri : undefined,
      completionId: p.completionId ?? p.item?.data?.completionId ?? fromCommand?.completionId,
      acceptedLength: typeof p.acceptedLength === 'number' ? p.acceptedLength : undefined,
    });
  }
  connection.onNotification(DID_SHOW_COMPLETION, (params: unknown) => forwardEvent('shown', params));
  connection.onNotification(DID_ACCEPT_COMPLETION, (params: unknown) => forwardEvent('accepted', params));
  connection.onNotification(DID_PARTIALLY_ACCEPT_COMPLETION, (params: unknown) => forwardEvent('partiallyAccepted', params));
  for (const [alias, target] of Object.entries(COPILOT_ALIASES)) {
    connection.onNotification(alias, (params: unknown) => forwardEvent(target === DID_SHOW_COMPLETION ? 'shown' : 'partiallyAccepted', params));
  }

  connection.onExecuteCommand((params) => {
    if (params.command === ACCEPT_COMMAND) {
      forwardEvent('accepted', params.arguments?.[0]);
      return null;
    }
    return new ResponseError(ErrorCodes.InvalidParams, `unknown command ${JSON.stringify(params.command)}`);
  });

  async function dispose(): Promise<void> {
    for (const uri of [...pauseTimers.keys()]) cancelPauseWarm(uri);
    for (const controller of inflight.values()) controller.abort(new Cancelled('shutdown'));
    inflight.clear();
    await host.dispose();
  }

  connection.onShutdown(async () => {
    await dispose();
  });

  return { documents, settings: () => settings, dispose };
}
