// Builds the engine's plain-data CompletionContext from a document snapshot and a cursor offset.

import type { CompletionContext } from '../engine/types.js';
import type { DocumentSnapshot } from './store.js';

export function completionContext(
  snapshot: DocumentSnapshot,
  utf16Offset: number,
  trigger: CompletionContext['trigger'],
  maxCandidates?: number,
): CompletionContext {
  const context: CompletionContext = {
    documentKey: snapshot.uri,
    version: snapshot.version,
    languageId: snapshot.languageId,
    prefix: snapshot.text.slice(0, utf16Offset),
    suffix: snapshot.text.slice(utf16Offset),
    trigger,
  };
  if (maxCandidates !== undefined) context.maxCandidates = maxCandidates;
  return context;
}

/** The cursor line's text before and after `utf16Offset` (for debounce heuristics and item ranges). */
export function lineAround(snapshot: DocumentSnapshot, utf16Offset: number): { linePrefix: string; lineSuffix: string } {
  const position = snapshot.positionAt(utf16Offset);
  const line = snapshot.lineText(position.line);
  return { linePrefix: line.slice(0, position.character), lineSuffix: line.slice(position.character) };
}
