// Pure conversions from engine candidates to LSP inline completion items and classic completion items.

import {
  CompletionItemKind,
  InsertTextFormat,
  MarkupKind,
  type CompletionItem,
  type InlineCompletionItem,
  type Position,
} from 'vscode-languageserver/node';
import type { CompletionCandidate } from '../engine/types.js';
import { fitCandidate, type FitContext } from '../postprocess/index.js';
import { ACCEPT_COMMAND } from './protocol.js';

const LABEL_MAX = 60;

/**
 * The candidates fitted to the document (postprocess/fit.ts: line ends, first-line indentation, no text after the
 * cursor twice), without empty or repeated texts; each keeps its index in the engine's list (items' completion ids).
 * Without `fit`, the texts as given.
 */
export function fitted(candidates: readonly CompletionCandidate[], fit?: FitContext): { text: string; index: number }[] {
  const seen = new Set<string>();
  const out: { text: string; index: number }[] = [];
  candidates.forEach((c, index) => {
    const text = fit ? fitCandidate(c.text, fit) : c.text;
    if (text.length === 0 || seen.has(text)) return;
    seen.add(text);
    out.push({ text, index });
  });
  return out;
}

/** Inline items inserting at `position` (a code-point boundary: the server snaps positions inside a surrogate pair). */
export function inlineItems(candidates: readonly CompletionCandidate[], position: Position, completionId: string, fit?: FitContext): InlineCompletionItem[] {
  return fitted(candidates, fit)
    .map((c) => ({
      insertText: c.text,
      range: { start: position, end: position },
      command: { title: 'infill-ls: accepted', command: ACCEPT_COMMAND, arguments: [{ completionId: `${completionId}.${c.index}` }] },
    }));
}

/** Start (UTF-16 column) of the identifier that ends at the cursor, so the client filters by it. */
export function wordStart(linePrefix: string): number {
  const match = /[\p{L}\p{N}_$]+$/u.exec(linePrefix);
  return match === null ? linePrefix.length : match.index;
}

export function label(text: string): string {
  const firstLine = text.split(/\r\n|\r|\n/, 1)[0].trim() || text.trim().split(/\r\n|\r|\n/, 1)[0];
  const more = /[\r\n]/.test(text.trim()) ? ' …' : '';
  const clipped = firstLine.length > LABEL_MAX ? `${firstLine.slice(0, LABEL_MAX - 1)}…` : firstLine;
  return clipped + more;
}

/**
 * Classic items replace the identifier typed so far (so editors' prefix filtering keeps them)
 * with that identifier plus the candidate.
 */
export function classicItems(
  candidates: readonly CompletionCandidate[],
  position: Position,
  linePrefix: string,
  languageId: string,
  completionId: string,
  fit?: FitContext,
): CompletionItem[] {
  const startCharacter = wordStart(linePrefix);
  const typed = linePrefix.slice(startCharacter);
  return fitted(candidates, fit)
    .filter((c) => c.text.trim().length > 0)
    .map((c, index) => {
      const newText = typed + c.text;
      return {
        label: label(newText),
        kind: CompletionItemKind.Text,
        detail: 'infill-ls',
        documentation: { kind: MarkupKind.Markdown, value: '```' + languageId + '\n' + newText + '\n```' },
        sortText: String(index).padStart(4, '0'),
        filterText: newText,
        preselect: index === 0,
        insertTextFormat: InsertTextFormat.PlainText,
        textEdit: { range: { start: { line: position.line, character: startCharacter }, end: position }, newText },
        data: { completionId: `${completionId}.${c.index}` },
      };
    });
}
