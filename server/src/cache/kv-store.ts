// Per-document KV prefix caches: an LRU of owned values (a Generator and its KV cache) bounded in bytes.
//
// Ownership: a value is either in the store or taken by exactly one request. `take` removes it without
// disposing it (the caller owns it until `put` gives it back or it disposes it); eviction, `delete`,
// replacement and `clear` dispose it (its KV tensors are freed now, not at garbage collection).
// The byte total of the values in the store never exceeds the budget; a value taken by a running request
// is outside the store, so the process holds at most budget + that one value.
import { LRUCache } from 'lru-cache';

export interface Disposable {
  dispose(): void;
}

export interface KvStoreOptions<V extends Disposable> {
  /** Budget in bytes for the values held; 0 keeps nothing. */
  budgetBytes: number;
  /** Bytes a value holds now (its KV tensors); read when the value is put back. */
  sizeOf(value: V): number;
}

export interface KvStoreStats {
  entries: number;
  bytes: number;
  budgetBytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

export class KvStore<V extends Disposable> {
  private readonly lru: LRUCache<string, V> | null;
  private detaching = false;
  private counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(private readonly options: KvStoreOptions<V>) {
    const budget = Math.max(0, Math.floor(options.budgetBytes));
    this.lru =
      budget > 0
        ? new LRUCache<string, V>({
            maxSize: budget,
            // Sizes are given at set time (the value's size is fixed while it is in the store).
            sizeCalculation: (v) => Math.max(1, options.sizeOf(v)),
            dispose: (value, _key, reason) => {
              if (this.detaching && reason === 'delete') return;
              if (reason === 'evict') this.counters.evictions++;
              value.dispose();
            },
          })
        : null;
  }

  get budgetBytes(): number {
    return Math.max(0, Math.floor(this.options.budgetBytes));
  }

  /** Removes and returns the value of `key` (the caller owns it now), or undefined. Counts a hit or a miss. */
  take(key: string): V | undefined {
    const v = this.lru?.get(key);
    if (v === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    this.detaching = true;
    try {
      this.lru!.delete(key);
    } finally {
      this.detaching = false;
    }
    return v;
  }

  /** Gives a value back (most recently used); evicts least recently used values to keep the budget. */
  put(key: string, value: V): void {
    const size = Math.max(1, this.options.sizeOf(value));
    if (!this.lru || size > this.budgetBytes) {
      // Larger than the whole budget: not kept.
      this.counters.evictions++;
      value.dispose();
      return;
    }
    this.lru.set(key, value);
  }

  /** Disposes the value of `key` if the store holds it. */
  delete(key: string): boolean {
    return this.lru?.delete(key) ?? false;
  }

  /** The value of `key` without taking it, touching its recency or counting a hit (the scheduler's look-ahead). */
  peek(key: string): V | undefined {
    return this.lru?.peek(key);
  }

  has(key: string): boolean {
    return this.lru?.has(key) ?? false;
  }

  /** Disposes every value held. */
  clear(): void {
    this.lru?.clear();
  }

  stats(): KvStoreStats {
    return {
      entries: this.lru?.size ?? 0,
      bytes: this.lru?.calculatedSize ?? 0,
      budgetBytes: this.budgetBytes,
      ...this.counters,
    };
  }
}
