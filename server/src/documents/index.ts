// Public surface of the versioned document store (pure; no protocol imports).
export { completionContext, defaultMaxCandidates, documentEol, lfOnly, lineAround, type Eol } from './context.js';
export { DocumentStore, DocumentSnapshot, DocumentError, type DocumentErrorCode } from './store.js';
export {
  PositionError,
  applyChanges,
  computeLineStarts,
  offsetAt,
  cursorOffsetAt,
  positionAt,
  insideSurrogatePair,
  lineEndOffset,
  type Position,
  type Range,
  type TextChange,
  type PositionMode,
} from './text.js';
export { CONTEXT_WINDOW_CHARS, MAX_DOCUMENT_CHARS, windowContext, windowPrefix, windowSuffix } from './window.js';
export { binaryContentReason } from './binary.js';
