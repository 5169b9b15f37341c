// A minimal async mutex: one holder at a time, FIFO; waiting can be abandoned through an AbortSignal.

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = false;

  get locked(): boolean {
    return this.held;
  }

  /**
   * Waits for the lock; resolves to a release function, or to null when `signal` aborts first
   * (the abandoned slot is released as soon as it comes up, so the queue never stalls).
   */
  async acquire(signal?: AbortSignal): Promise<(() => void) | null> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => mine);
    let done = false;
    const unlock = () => {
      if (done) return;
      done = true;
      this.held = false;
      release();
    };
    if (signal?.aborted) {
      void prev.then(unlock);
      return null;
    }
    const outcome = await raceAbort(prev, signal);
    if (outcome === 'aborted') {
      void prev.then(unlock);
      return null;
    }
    this.held = true;
    return unlock;
  }

  /** Runs `fn` under the lock (no abort). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = (await this.acquire())!;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Resolves 'ok' when `p` settles, or 'aborted' when `signal` aborts first; leaves no listener behind. */
export async function raceAbort(p: Promise<unknown>, signal?: AbortSignal): Promise<'ok' | 'aborted'> {
  if (!signal) {
    await p;
    return 'ok';
  }
  if (signal.aborted) return 'aborted';
  let onAbort!: () => void;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p.then(() => 'ok' as const), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
