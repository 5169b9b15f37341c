// Builds the engine's plain-data CompletionContext from a document snapshot and a cursor offset.
//
// The engine sees LF-only text: CRLF and lone CR line ends are normalised to \n here (the model was trained on LF
// text, and `\r` tokens change its prompt), and transports convert candidates back to the document's line end where
// they become items (postprocess/fit.ts `fitCandidate`). Positions and ranges stay computed on the original text.

import type { CompletionContext } from '../engine/types.js';
import type { DocumentSnapshot } from './store.js';

/** A document's line terminator. */
export type Eol = '\n' | '\r\n' | '\r';

/** `text` with every CRLF and lone CR turned into LF (LSP 3.17's three line terminators become one). */
export function lfOnly(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/**
 * The document's line terminator: the most frequent of CRLF, lone CR and LF in (a sample of) `text`; LF when there is
 * no line break or on a tie with LF.
 */
export function documentEol(text: string): Eol {
  if (!text.includes('\r')) return '\n';
  const sample = text.length > 65536 ? text.slice(0, 65536) : text;
  let crlf = 0;
  let cr = 0;
  let lf = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 13) {
      if (sample.charCodeAt(i + 1) === 10) {
        crlf++;
        i++;
      } else cr++;
    } else if (c === 10) lf++;
  }
  if (crlf > lf && crlf >= cr) return '\r\n';
  if (cr > lf && cr > crlf) return '\r';
  return '\n';
}

/**
 * How many candidates a request asks for when its caller does not say: 3 for a manual trigger (the alternatives an
 * explicit request shows), 1 for an automatic one. Every surface uses it — LSP, the WebSocket API's `complete`, the CLI's
 * `complete` — because the count changes the top answer, not only the list's length: with several candidates the
 * engine ranks the alternatives by mean log-probability (decoding/self-infill.ts), so the first of three can be an
 * alternative first token rather than the greedy decode that a one-candidate request returns.
 */
export function defaultMaxCandidates(trigger: CompletionContext['trigger']): number {
  return trigger === 'manual' ? 3 : 1;
}

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
    prefix: lfOnly(snapshot.text.slice(0, utf16Offset)),
    suffix: lfOnly(snapshot.text.slice(utf16Offset)),
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
