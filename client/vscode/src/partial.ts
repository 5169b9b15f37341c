// Partial acceptance (accept next word / next line) of the server's inline items, measured on the document.
//
// VS Code reports partial accepts only to providers using the proposed API `inlineCompletionsAdditions`
// (`handleDidPartiallyAcceptCompletionItem`), which released VS Code refuses for marketplace
// extensions, and vscode-languageclient's provider does not implement it. So the extension wraps
// `editor.action.inlineSuggest.acceptNextWord` / `acceptNextLine`: it remembers the items the server
// returned per document (through the client middleware), runs the built-in command, and reports how
// much of one of those items the document now holds at the request position.

/** One inline item as the middleware saw it. */
export interface ShownItem {
  completionId: string;
  text: string;
}

/** The latest items for a document: `startOffset` is the request position (UTF-16 offset in the text then). */
export interface ShownCompletion {
  uri: string;
  startOffset: number;
  /** The document's text before `startOffset` when the items were returned. */
  textBefore: string;
  items: ShownItem[];
}

export interface PartialAccept {
  completionId: string;
  uri: string;
  /** UTF-16 code units of the item's text now in the document. */
  acceptedLength: number;
  /** Whether the whole item is now in the document. */
  complete: boolean;
}

/**
 * After an accept command changed the document to `textAfter` with the cursor at `cursorOffset`:
 * the item whose text the document holds from `startOffset` up to the cursor, if any.
 * Pure; returns undefined when the edit was not an acceptance of one of `shown`'s items.
 */
export function measurePartialAccept(shown: ShownCompletion, textAfter: string, cursorOffset: number): PartialAccept | undefined {
  if (cursorOffset <= shown.startOffset) return undefined;
  if (textAfter.slice(0, shown.startOffset) !== shown.textBefore) return undefined;
  const inserted = textAfter.slice(shown.startOffset, cursorOffset);
  for (const item of shown.items) {
    if (item.text.startsWith(inserted)) {
      return { completionId: item.completionId, uri: shown.uri, acceptedLength: inserted.length, complete: inserted.length === item.text.length };
    }
  }
  return undefined;
}

/** The completionId the server put into an inline item's command (`{command, arguments: [{completionId}]}`). */
export function completionIdOf(command: { arguments?: unknown[] } | undefined): string | undefined {
  const arg = command?.arguments?.[0] as { completionId?: unknown } | undefined;
  return typeof arg?.completionId === 'string' ? arg.completionId : undefined;
}
