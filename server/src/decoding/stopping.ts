// Stopping criteria: stop tokens, stop strings, new-token and time budgets; cancellation is checked by the loop.

export type StopReason = 'stop-token' | 'stop-string' | 'max-tokens' | 'time-budget' | 'cancelled' | 'constraint';

export interface StopOptions {
  stopTokenIds?: Iterable<number>;
  /** Generation ends when the text contains one of these; the text is cut before it. */
  stopStrings?: readonly string[];
  maxNewTokens?: number;
  /** Wall-clock budget from the start of decoding, in ms. */
  timeBudgetMs?: number;
}

/** Position of the first stop string in `text` at or after `from` (a stop string may straddle earlier text). */
export function findStopString(text: string, stopStrings: readonly string[], from: number): { index: number; stop: string } | null {
  let best: { index: number; stop: string } | null = null;
  for (const s of stopStrings) {
    if (!s) continue;
    const i = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (i !== -1 && (!best || i < best.index)) best = { index: i, stop: s };
  }
  return best;
}

/**
 * Length of the longest tail of `text` that is a proper prefix of some stop string: text that must be held
 * back from streaming until it is known not to start a stop string.
 */
export function pendingStopPrefix(text: string, stopStrings: readonly string[]): number {
  let hold = 0;
  for (const s of stopStrings) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}
