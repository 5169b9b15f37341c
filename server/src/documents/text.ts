// Pure UTF-16 text geometry: line starts, LSP positions ↔ UTF-16 offsets, and applying range edits.
//
// Invariants:
// - Offsets are UTF-16 code-unit indices into a JS string (what LSP's default
//   `positionEncoding: 'utf-16'` and JS strings use); astral characters count as 2.
// - Line terminators are `\n`, `\r\n` and a lone `\r` (LSP 3.17 §Text Documents); a line's
//   length excludes its terminator, so no position points between `\r` and `\n`.
// - No cursor offset (cursorOffsetAt) splits a surrogate pair (strict mode rejects such a position, clamp snaps it).
// - Functions here do no I/O; out-of-range input throws a PositionError (a precise, typed
//   error the transports map to "invalid params"), never a bare RangeError.

export interface Position {
  /** Zero-based line number. */
  line: number;
  /** Zero-based UTF-16 code-unit offset within the line. */
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** A change as LSP's didChange sends it: a range edit, or (no range) the whole new text. */
export type TextChange = { range: Range; text: string; rangeLength?: number } | { text: string };

/**
 * How to treat a `character` past the end of its line:
 * - 'strict': throw a PositionError (the headless API's choice: callers send exact positions).
 * - 'clamp': use the line length (what the LSP spec prescribes for servers).
 * A `line` past the last line always throws; a negative or non-integer value always throws.
 */
export type PositionMode = 'strict' | 'clamp';

export class PositionError extends Error {
  readonly position: Position;
  readonly lineCount: number;
  constructor(message: string, position: Position, lineCount: number) {
    super(message);
    this.name = 'PositionError';
    this.position = position;
    this.lineCount = lineCount;
  }
}

/** UTF-16 offsets at which each line starts; always starts with 0, length = line count. */
export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 /* \r */) {
      if (text.charCodeAt(i + 1) === 10 /* \n */) i++;
      starts.push(i + 1);
    } else if (c === 10 /* \n */) {
      starts.push(i + 1);
    }
  }
  return starts;
}

/** UTF-16 offset of the end of `line`'s content (before its terminator). */
export function lineEndOffset(text: string, lineStarts: readonly number[], line: number): number {
  let end = line + 1 < lineStarts.length ? lineStarts[line + 1] : text.length;
  if (end > lineStarts[line] && text.charCodeAt(end - 1) === 10) end--;
  if (end > lineStarts[line] && text.charCodeAt(end - 1) === 13) end--;
  return end;
}

/**
 * A short description of a client's value for error messages: one level deep and at most ~120 characters, so a
 * hostile value (100k levels of nesting, megabytes of text) can neither overflow the stack nor bloat the error.
 */
function describe(p: unknown, depth = 0): string {
  const clip = (s: string): string => (s.length > 120 ? `${s.slice(0, 117)}...` : s);
  if (p === null || typeof p !== 'object') {
    if (typeof p === 'string') return clip(JSON.stringify(p.length > 120 ? p.slice(0, 120) : p));
    return clip(String(p));
  }
  if (Array.isArray(p)) return `an array of ${p.length}`;
  if (depth > 0) return 'an object';
  const keys = Object.keys(p).slice(0, 4);
  return clip(`{${keys.map((k) => `${clip(JSON.stringify(k.slice(0, 40)))}: ${describe((p as Record<string, unknown>)[k], depth + 1)}`).join(', ')}${Object.keys(p).length > 4 ? ', ...' : ''}}`);
}

function isNonNegativeInteger(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/**
 * Converts an LSP position to a UTF-16 offset; throws PositionError when out of range ('strict'; 'clamp' takes a
 * character past the line's end as the end). In both modes the column right after a CRLF line's '\r' is the line's end.
 */
export function offsetAt(text: string, lineStarts: readonly number[], position: Position, mode: PositionMode = 'strict'): number {
  const lineCount = lineStarts.length;
  if (position === null || typeof position !== 'object' || !isNonNegativeInteger(position.line) || !isNonNegativeInteger(position.character)) {
    throw new PositionError(`invalid position ${describe(position)}: line and character must be non-negative integers`, position, lineCount);
  }
  if (position.line >= lineCount) {
    throw new PositionError(
      `position ${position.line}:${position.character} is out of range: the document has ${lineCount} line${lineCount === 1 ? '' : 's'} (last line ${lineCount - 1})`,
      position,
      lineCount,
    );
  }
  const start = lineStarts[position.line];
  const end = lineEndOffset(text, lineStarts, position.line);
  const length = end - start;
  if (position.character > length) {
    // A client that splits lines on '\n' alone sees a CRLF line's '\r' as its last character: the column after it is
    // that line's end too, not an error (Windows line endings; the content a completion sees is the same).
    if (mode === 'clamp' || (position.character === length + 1 && text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10)) return end;
    throw new PositionError(
      `position ${position.line}:${position.character} is out of range: line ${position.line} has ${length} UTF-16 code units`,
      position,
      lineCount,
    );
  }
  return start + position.character;
}

/**
 * Like offsetAt, for a cursor (where a completion is inserted): a position between the two code units of a surrogate
 * pair (an emoji, an astral CJK ideograph) throws a PositionError in 'strict' mode and snaps to the start of that
 * character in 'clamp' mode — no editor cursor is there, and an item placed there would split the character. (Edits
 * may split a pair: offsetAt allows it, since a client can ask for it.)
 */
export function cursorOffsetAt(text: string, lineStarts: readonly number[], position: Position, mode: PositionMode = 'strict'): number {
  const offset = offsetAt(text, lineStarts, position, mode);
  if (!insideSurrogatePair(text, offset)) return offset;
  if (mode === 'clamp') return offset - 1;
  throw new PositionError(
    `position ${position.line}:${position.character} is inside a surrogate pair (between the two UTF-16 code units of one character); use ${position.character - 1} or ${position.character + 1}`,
    position,
    lineStarts.length,
  );
}

/** True when `offset` falls between a high surrogate and the low surrogate that completes it (UTF-16). */
export function insideSurrogatePair(text: string, offset: number): boolean {
  if (offset <= 0 || offset >= text.length) return false;
  const before = text.charCodeAt(offset - 1);
  const after = text.charCodeAt(offset);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

/** Converts a UTF-16 offset to an LSP position; offsets are clamped into [0, text.length]. */
export function positionAt(text: string, lineStarts: readonly number[], offset: number): Position {
  const clamped = Math.max(0, Math.min(Math.trunc(offset), text.length));
  // Binary search for the last line start <= offset.
  let low = 0;
  let high = lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (lineStarts[mid] <= clamped) low = mid;
    else high = mid - 1;
  }
  // An offset between `\r` and `\n` (or on a terminator) maps to the end of that line's content.
  const end = lineEndOffset(text, lineStarts, low);
  return { line: low, character: Math.min(clamped, end) - lineStarts[low] };
}

/** Applies changes in order (each range refers to the text after the previous change). */
export function applyChanges(text: string, changes: readonly TextChange[], mode: PositionMode = 'strict'): string {
  let current = text;
  for (const change of changes) {
    if (change === null || typeof change !== 'object' || typeof (change as { text?: unknown }).text !== 'string') {
      throw new TypeError(`invalid text change ${describe(change)}: expected {range?, text: string}`);
    }
    if (!('range' in change) || change.range === undefined || change.range === null) {
      current = change.text;
      continue;
    }
    const starts = computeLineStarts(current);
    const startOffset = offsetAt(current, starts, change.range.start, mode);
    const endOffset = offsetAt(current, starts, change.range.end, mode);
    if (endOffset < startOffset) {
      throw new PositionError(
        `invalid range ${describe(change.range)}: end is before start`,
        change.range.end,
        starts.length,
      );
    }
    current = current.slice(0, startOffset) + change.text + current.slice(endOffset);
  }
  return current;
}
