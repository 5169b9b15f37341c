// Single-flight: identical concurrent calls share one in-flight run, with per-caller cancellation (the last caller to
// leave cancels the shared run) and progress fanned out to every caller (a late joiner first gets the latest value).
//
// The pattern of Go's golang.org/x/sync/singleflight (`Group.Do`: one execution per key while it is in flight,
// duplicates wait for its result), extended with reference-counted cancellation: a caller that aborts gets its own
// `cancelled` value at once and leaves; the run is aborted only when no caller is left. Nothing is remembered after a
// run settles (a later identical call starts a new run). npm's coalescing helpers (p-memoize, promise-coalesce) share
// a promise but not its cancellation, which is the part that matters here.

interface Flight<T, P> {
  readonly controller: AbortController;
  readonly waiters: Set<{ onProgress?: (progress: P) => void }>;
  promise: Promise<T>;
  /** The latest progress value, replayed to a caller that joins after it was reported. */
  last?: { value: P };
}

export class SingleFlight<T, P = never> {
  private readonly flights = new Map<string, Flight<T, P>>();
  /** Calls answered by joining a run another call started (tests, debug lines). */
  joined = 0;

  /** Runs in flight (one per distinct key). */
  get size(): number {
    return this.flights.size;
  }

  /**
   * Starts `start(runSignal, report)` for `key`, or joins the run of the same key already in flight.
   *
   * - Resolves with the run's value (every caller of one run gets the same value), or rejects with its error.
   * - `signal` aborting (before or during the run) resolves this caller with `cancelled` at once; the run itself is
   *   aborted (`runSignal`, with this caller's abort reason) only when every caller of it has left.
   * - `onProgress` receives every value the run passes to `report` while this caller waits; a caller joining a run
   *   that already reported gets the latest value first (so cumulative progress, like streamed text, is complete).
   * - A run whose callers all left is forgotten at once: the next call for the key starts a new run.
   */
  run(key: string, signal: AbortSignal, start: (runSignal: AbortSignal, report: (progress: P) => void) => Promise<T>, cancelled: T, onProgress?: (progress: P) => void): Promise<T> {
    if (signal.aborted) return Promise.resolve(cancelled);
    let flight = this.flights.get(key);
    if (flight === undefined) {
      const created: Flight<T, P> = { controller: new AbortController(), waiters: new Set(), promise: Promise.resolve(cancelled) };
      const report = (value: P) => {
        created.last = { value };
        for (const w of [...created.waiters]) w.onProgress?.(value);
      };
      this.flights.set(key, created);
      created.promise = (async () => start(created.controller.signal, report))().finally(() => {
        if (this.flights.get(key) === created) this.flights.delete(key);
      });
      flight = created;
    } else {
      this.joined++;
    }
    const shared = flight;
    const waiter = { onProgress };
    shared.waiters.add(waiter);
    if (shared.last !== undefined) onProgress?.(shared.last.value);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = () => {
        shared.waiters.delete(waiter);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        if (settled) return;
        settled = true;
        leave();
        if (shared.waiters.size === 0) {
          if (this.flights.get(key) === shared) this.flights.delete(key);
          shared.controller.abort(signal.reason);
        }
        resolve(cancelled);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      shared.promise.then(
        (value) => {
          if (settled) return;
          settled = true;
          leave();
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          leave();
          reject(err);
        },
      );
    });
  }
}
