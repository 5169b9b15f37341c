// Per-document syntax trees kept across requests and re-parsed incrementally (tree-sitter's edit + parse with the old
// tree): typing a character re-parses the edited region only, not the whole file.
//
// The edit is derived from the text itself (the common prefix and suffix of the previous and the new text: one range
// that covers every change since the last update), so every transport (LSP, WebSocket API, CLI) gets it without
// handing edit events through the engine façade. For a single contiguous change, which is what typing is, the range
// equals the document store's own edit.

import { LRUCache } from 'lru-cache';
import { grammarFor, type GrammarName } from './grammars.js';
import { parseText, reparseText, type Tree } from './parsers.js';

interface Entry {
  grammar: GrammarName;
  text: string;
  tree: Tree;
}

export interface TreeUpdate {
  tree: Tree | undefined;
  /** 'full' (first parse, language change, or the previous parse failed), 'incremental', 'unchanged', or 'none' (no grammar). */
  parse: 'full' | 'incremental' | 'unchanged' | 'none';
}

interface Point {
  row: number;
  column: number;
}

/** Row and UTF-16 column of `offset` in `text` (tree-sitter's node binding takes UTF-16 columns). */
function pointAt(text: string, offset: number): Point {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: offset - lineStart };
}

/** The single edit turning `before` into `after`: [start, oldEnd) replaced by [start, newEnd). */
export function coveringEdit(before: string, after: string): { start: number; oldEnd: number; newEnd: number } | null {
  if (before === after) return null;
  const max = Math.min(before.length, after.length);
  let start = 0;
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  // Do not split a surrogate pair.
  if (start > 0 && start < max && (before.charCodeAt(start - 1) & 0xfc00) === 0xd800) start--;
  let tail = 0;
  const maxTail = max - start;
  while (tail < maxTail && before.charCodeAt(before.length - 1 - tail) === after.charCodeAt(after.length - 1 - tail)) tail++;
  if (tail > 0 && tail < maxTail && (before.charCodeAt(before.length - tail) & 0xfc00) === 0xdc00) tail--;
  return { start, oldEnd: before.length - tail, newEnd: after.length - tail };
}

export class SyntaxTrees {
  private readonly entries: LRUCache<string, Entry>;

  constructor(options: { maxDocuments?: number } = {}) {
    this.entries = new LRUCache<string, Entry>({ max: options.maxDocuments ?? 64 });
  }

  /** The tree of `text` for the document, parsed incrementally from the document's previous tree when there is one. */
  update(documentKey: string, languageId: string, text: string): TreeUpdate {
    const grammar = grammarFor(languageId);
    if (!grammar) {
      this.entries.delete(documentKey);
      return { tree: undefined, parse: 'none' };
    }
    const prev = this.entries.get(documentKey);
    if (prev && prev.grammar === grammar) {
      const edit = coveringEdit(prev.text, text);
      if (!edit) return { tree: prev.tree, parse: 'unchanged' };
      // The old tree is edited in place; it belongs to this cache only.
      prev.tree.edit({
        startIndex: edit.start,
        oldEndIndex: edit.oldEnd,
        newEndIndex: edit.newEnd,
        startPosition: pointAt(text, edit.start),
        oldEndPosition: pointAt(prev.text, edit.oldEnd),
        newEndPosition: pointAt(text, edit.newEnd),
      });
      const tree = reparseText(grammar, text, prev.tree);
      if (tree) {
        this.entries.set(documentKey, { grammar, text, tree });
        return { tree, parse: 'incremental' };
      }
    }
    const tree = parseText(grammar, text);
    if (tree) this.entries.set(documentKey, { grammar, text, tree });
    else this.entries.delete(documentKey);
    return { tree, parse: 'full' };
  }

  delete(documentKey: string): void {
    this.entries.delete(documentKey);
  }

  get size(): number {
    return this.entries.size;
  }
}
