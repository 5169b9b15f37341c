// Completion-level reuse: the completions the engine returned (shown in the editor), answered again without a model
// run while the user types through them, and speculative completions computed after an accept.
//
// An entry is (document, prefix, suffix, text). A request (prefix', suffix') is answered from an entry when the
// suffix is the same and prefix' = prefix + typed, where `typed` is a prefix of the entry's text shorter than it:
// the answer is the rest of the text (typed-ahead). typed = '' is the same cursor and text again (a repeated
// request, or the speculative entry computed for the text after an accepted completion). Pure and bounded: a few
// entries per document, a bounded number of documents (LRU).
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
      dispose: (entries) => {
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
}
