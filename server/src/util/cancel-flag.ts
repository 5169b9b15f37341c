// Out-of-band cancellation across threads: one Int32 flag per job in a SharedArrayBuffer (the pattern of
// vscode-jsonrpc's sharedArrayCancellation.ts). The sender sets it with Atomics.store; the receiver reads it with
// Atomics.load between model runs, so a cancel never waits behind the receiver's message queue.

/** Creates a job's flag: 4 bytes of shared memory, 0 = running, 1 = cancelled. */
export function createCancelFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Sets the flag (the sending thread). */
export function setCancelFlag(flag: Int32Array): void {
  Atomics.store(flag, 0, 1);
}

/** Reads the flag (the receiving thread). */
export function isCancelFlagSet(flag: Int32Array): boolean {
  return Atomics.load(flag, 0) !== 0;
}

const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
/** True while a poll runs: a poll that reads a polled signal's `aborted` gets the plain value. */
let polling = false;

/**
 * Makes `signal.aborted` call `poll()` first, so code that checks `signal.aborted` between model runs (the generator
 * between prefill chunks, spans before each decode step) sees a flag set by another thread even while this thread's
 * event loop is busy. `poll` aborts the controllers whose flags are set (synchronously: listeners run before the getter
 * returns). Returns the same signal.
 */
export function pollOnRead(signal: AbortSignal, poll: () => void): AbortSignal {
  Object.defineProperty(signal, 'aborted', {
    configurable: true,
    get() {
      if (!polling && !abortedGetter.call(signal)) {
        polling = true;
        try {
          poll();
        } finally {
          polling = false;
        }
      }
      return abortedGetter.call(signal) as boolean;
    },
  });
  return signal;
}
