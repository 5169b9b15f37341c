// Test helper: resolve once a check over collected messages succeeds, re-checking on every new message, or time out.

export class Waiters {
  private readonly pending = new Set<() => void>();

  /** Call after each new message. */
  notify(): void {
    for (const w of [...this.pending]) w();
  }

  /**
   * `find` returns the value to resolve with, or undefined while it is not there yet; it is called now and on every
   * notify() until it finds one or `timeoutMs` passes (then the promise rejects with `timeoutError()`).
   */
  until<T>(find: () => T | undefined, timeoutMs: number, timeoutError: () => Error): Promise<T> {
    return new Promise((resolve, reject) => {
      const first = find();
      if (first !== undefined) return resolve(first);
      const waiter = (): void => {
        const hit = find();
        if (hit === undefined) return;
        this.pending.delete(waiter);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.pending.delete(waiter);
        reject(timeoutError());
      }, timeoutMs);
      this.pending.add(waiter);
    });
  }
}
