// cache/: per-document KV prefix caches (byte-bounded LRU) and prompt choices that keep them reusable.
export { KvStore, type Disposable, type KvStoreOptions, type KvStoreStats } from './kv-store.js';
export { stickyTrimPrefix, type StickyTrimOptions, type StickyTrimResult } from './sticky-trim.js';
export { CompletionCache, type CompletionEntry, type CompletionHit, type CompletionCacheOptions } from './completion-cache.js';
