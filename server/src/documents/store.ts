// The versioned document store: open/change/close documents and hand out immutable snapshots.
//
// Transport-neutral (LSP and the WebSocket API each own one store per session/connection).
// Versions are monotonic per document: a change must carry a version greater than the
// current one (or none, which means current + 1). Errors are DocumentError with a code the
// transports map to protocol errors.

import { applyChanges, computeLineStarts, cursorOffsetAt, offsetAt, positionAt, type Position, type PositionMode, type TextChange } from './text.js';

export type DocumentErrorCode = 'unknown-document' | 'stale-version' | 'invalid-argument';

export class DocumentError extends Error {
  readonly code: DocumentErrorCode;
  constructor(code: DocumentErrorCode, message: string) {
    super(message);
    this.name = 'DocumentError';
    this.code = code;
  }
}

/** An immutable view of one document at one version. Line starts are computed lazily, once. */
export class DocumentSnapshot {
  readonly uri: string;
  readonly languageId: string;
  readonly version: number;
  readonly text: string;
  private starts: number[] | undefined;

  constructor(uri: string, languageId: string, version: number, text: string) {
    this.uri = uri;
    this.languageId = languageId;
    this.version = version;
    this.text = text;
  }

  get lineStarts(): readonly number[] {
    if (this.starts === undefined) this.starts = computeLineStarts(this.text);
    return this.starts;
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  /** UTF-16 offset of a position; throws PositionError when out of range (see PositionMode). */
  offsetAt(position: Position, mode: PositionMode = 'strict'): number {
    return offsetAt(this.text, this.lineStarts, position, mode);
  }

  /** The offset of a cursor position: never inside a surrogate pair (text.ts cursorOffsetAt). */
  cursorOffsetAt(position: Position, mode: PositionMode = 'strict'): number {
    return cursorOffsetAt(this.text, this.lineStarts, position, mode);
  }

  positionAt(utf16Offset: number): Position {
    return positionAt(this.text, this.lineStarts, utf16Offset);
  }

  /** Text of line `line` without its terminator. */
  lineText(line: number): string {
    const start = this.lineStarts[line];
    const end = this.offsetAt({ line, character: Number.MAX_SAFE_INTEGER }, 'clamp');
    return this.text.slice(start, end);
  }
}

export class DocumentStore {
  private readonly docs = new Map<string, DocumentSnapshot>();
  private readonly listeners = new Set<(uri: string, snapshot: DocumentSnapshot | undefined) => void>();

  /** Opens (or re-opens, replacing) a document. */
  open(uri: string, languageId: string, version: number, text: string): DocumentSnapshot {
    if (typeof uri !== 'string' || uri.length === 0) throw new DocumentError('invalid-argument', 'uri must be a non-empty string');
    if (typeof languageId !== 'string') throw new DocumentError('invalid-argument', 'languageId must be a string');
    if (!Number.isInteger(version)) throw new DocumentError('invalid-argument', `version must be an integer, got ${JSON.stringify(version)}`);
    if (typeof text !== 'string') throw new DocumentError('invalid-argument', 'text must be a string');
    const snapshot = new DocumentSnapshot(uri, languageId, version, text);
    this.docs.set(uri, snapshot);
    this.emit(uri, snapshot);
    return snapshot;
  }

  /**
   * Applies full or incremental changes and returns the new snapshot. Atomic: if any change is
   * out of range, the document keeps its previous version and text.
   */
  change(uri: string, version: number | undefined, changes: readonly TextChange[], mode: PositionMode = 'strict'): DocumentSnapshot {
    const current = this.require(uri);
    if (!Array.isArray(changes)) throw new DocumentError('invalid-argument', 'changes must be an array');
    const nextVersion = version ?? current.version + 1;
    if (!Number.isInteger(nextVersion)) throw new DocumentError('invalid-argument', `version must be an integer, got ${JSON.stringify(version)}`);
    if (nextVersion <= current.version) {
      throw new DocumentError('stale-version', `version ${nextVersion} of ${uri} is not newer than the current version ${current.version}`);
    }
    const text = applyChanges(current.text, changes, mode);
    const snapshot = new DocumentSnapshot(uri, current.languageId, nextVersion, text);
    this.docs.set(uri, snapshot);
    this.emit(uri, snapshot);
    return snapshot;
  }

  close(uri: string): void {
    this.require(uri);
    this.docs.delete(uri);
    this.emit(uri, undefined);
  }

  get(uri: string): DocumentSnapshot | undefined {
    return this.docs.get(uri);
  }

  /** The snapshot of an open document; throws DocumentError('unknown-document') otherwise. */
  require(uri: string): DocumentSnapshot {
    const doc = this.docs.get(uri);
    if (doc === undefined) throw new DocumentError('unknown-document', `document ${JSON.stringify(uri)} is not open`);
    return doc;
  }

  uris(): string[] {
    return [...this.docs.keys()];
  }

  get size(): number {
    return this.docs.size;
  }

  /** Called after every open/change (snapshot) and close (undefined). Returns an unsubscribe function. */
  onDidChange(listener: (uri: string, snapshot: DocumentSnapshot | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(uri: string, snapshot: DocumentSnapshot | undefined): void {
    for (const listener of this.listeners) listener(uri, snapshot);
  }
}
