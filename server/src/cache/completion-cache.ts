// Completion-level reuse: the completions the engine returned (shown in the editor), answered again without a model
// run while the user types through them, and speculative completions computed after an accept.
//
// An entry is (document, prefix, suffix, text). A request (prefix', suffix') is answered from an entry when the
// suffix is the same and prefix' = prefix + typed, where `typed` is a prefix of the entry's text shorter than it:
// the answer is the rest of the text (typed-ahead). typed = '' is the same cursor and text again (a repeated
// request, or the speculative entry computed for the text after an accepted completion). Pure and bounded: a few
// entries per document, a bounded number of documents and a byte budget over the kept strings (LRU).
import { LRUCache } from 'lru-cache';

export interface CompletionEntry {
  /** Id the transports put into items (didAccept/didShow notifications carry it back). */
  id: string;
  documentKey: string;
  languageId: string;
  prefix: string;
  suffix: string;
  /** The shown text (after post-processing). */
  text: string;
  /** Computed ahead of a request (after an accept), not shown yet. */
  speculative: boolean;
  /** Model score of the text (mean log-probability per token). */
  score: number;
  /** The line mode the request forced (undefined: the syntax plan chose); a speculation after an accept asks the same. */
  lineMode?: 'single' | 'multi';
}

export interface CompletionHit {
  entry: CompletionEntry;
  /** What is still to insert: entry.text minus what the user typed through. */
  remaining: string;
  /** Characters of the entry's text the user typed through. */
  typed: number;
}

export interface CompletionCacheOptions {
  /** Entries kept per document (default 8). */
  perDocument?: number;
  /** Documents kept (default 256). */
  documents?: number;
  /**
   * Memory budget of the kept strings, in bytes (2 per UTF-16 code unit of prefix + suffix + text, plus
   * ENTRY_OVERHEAD_BYTES per entry; default 32 MiB). Least recently used documents go first; a document whose
   * entries alone exceed the budget is not kept. Over the API the key and the prefix are the client's, so without
   * it 78 distinct 3 MiB prefixes took 600 MB (issue 13, item 5).
   */
  maxBytes?: number;
}

/** Bookkeeping per entry counted besides its strings (object, id, list slot). */
export const ENTRY_OVERHEAD_BYTES = 256;
export const DEFAULT_COMPLETION_CACHE_BYTES = 32 * 1024 * 1024;

/** Bytes an entry list is counted as (see CompletionCacheOptions.maxBytes). */
export function entriesBytes(entries: readonly CompletionEntry[]): number {
  let n = 0;
  for (const e of entries) n += 2 * (e.prefix.length + e.suffix.length + e.text.length + e.documentKey.length) + ENTRY_OVERHEAD_BYTES;
  return n;
}

export class CompletionCache {
  private readonly docs: LRUCache<string, CompletionEntry[]>;
  private readonly byId = new Map<string, CompletionEntry>();
  private readonly perDocument: number;
  private counter = 0;

  constructor(options: CompletionCacheOptions = {}) {
    this.perDocument = Math.max(1, Math.floor(options.perDocument ?? 8));
    this.docs = new LRUCache<string, CompletionEntry[]>({
      max: Math.max(1, Math.floor(options.documents ?? 256)),
      maxSize: Math.max(1, Math.floor(options.maxBytes ?? DEFAULT_COMPLETION_CACHE_BYTES)),
      sizeCalculation: (entries) => Math.max(1, entriesBytes(entries)),
      dispose: (entries, _key, reason) => {
        // 'set' replaces a document's list with its next version: its kept entries stay reachable by id.
        if (reason === 'set') return;
        for (const e of entries) this.byId.delete(e.id);
      },
    });
  }

  /** Adds an entry (most recent first); returns it with its new id. Empty texts are not kept. */
  add(entry: Omit<CompletionEntry, 'id'>): CompletionEntry {
    const full: CompletionEntry = { ...entry, id: `c${++this.counter}` };
    if (!entry.text) return full;
    const list = this.docs.get(entry.documentKey) ?? [];
    // Same cursor text: the newer entry replaces the older.
    const kept = list.filter((e) => !(e.prefix === entry.prefix && e.suffix === entry.suffix));
    for (const e of list) if (!kept.includes(e)) this.byId.delete(e.id);
    kept.unshift(full);
    while (kept.length > this.perDocument) this.byId.delete(kept.pop()!.id);
    this.docs.set(entry.documentKey, kept);
    // Too big for the whole budget: lru-cache refused the list (and dropped the old one): not kept, not findable.
    if (this.docs.peek(entry.documentKey) !== kept) {
      for (const e of kept) this.byId.delete(e.id);
      return full;
    }
    this.byId.set(full.id, full);
    return full;
  }

  get(id: string): CompletionEntry | undefined {
    return this.byId.get(id);
  }

  /** The entry this cursor text types through (most recent first), or null. */
  lookup(documentKey: string, prefix: string, suffix: string): CompletionHit | null {
    const list = this.docs.get(documentKey);
    if (!list) return null;
    for (const entry of list) {
      if (entry.suffix !== suffix || prefix.length < entry.prefix.length) continue;
      const typed = prefix.length - entry.prefix.length;
      if (typed >= entry.text.length) continue;
      if (!prefix.startsWith(entry.prefix)) continue;
      if (!entry.text.startsWith(prefix.slice(entry.prefix.length))) continue;
      return { entry, remaining: entry.text.slice(typed), typed };
    }
    return null;
  }

  deleteDocument(documentKey: string): void {
    this.docs.delete(documentKey);
  }

  clear(): void {
    this.docs.clear();
  }

  get size(): number {
    return this.byId.size;
  }

  /** Bytes currently counted against maxBytes. */
  get bytes(): number {
    return this.docs.calculatedSize;
  }
}
