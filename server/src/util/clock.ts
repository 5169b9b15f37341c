// Monotonic milliseconds for timings and time budgets.
import { performance } from 'node:perf_hooks';

export function nowMs(): number {
  return performance.now();
}
