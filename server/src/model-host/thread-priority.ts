// Lowers the calling thread's OS scheduling priority (Linux nice value), so that the model worker's CPU work yields to
// the main thread's message loop on a busy machine. On Linux the nice value belongs to each thread (setpriority(2)
// with PRIO_PROCESS and a thread id changes that thread only) and a new thread inherits its creator's, so calling
// this at the start of the worker thread, before onnxruntime creates its sessions and their thread pools, lowers the
// worker and every onnxruntime thread it creates, and nothing else. Elsewhere (no /proc/thread-self) it does nothing.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** What happened: the thread's nice value before and after, or why nothing changed. Never throws. */
export type ThreadNiceOutcome = { changed: true; tid: number; from: number; to: number } | { changed: false; reason: string };

/**
 * Adds `delta` (an integer 1..19) to the calling thread's nice value, capped at 19 (Linux `setpriority(2)`; a higher
 * nice value is a lower priority, and lowering one's own priority needs no privilege). The thread id comes from
 * /proc/thread-self ("PID/task/TID"). Returns what it did; a missing /proc, another OS or a refused call is reported,
 * not thrown.
 */
export function lowerThreadPriority(delta: number): ThreadNiceOutcome {
  if (!Number.isInteger(delta) || delta < 1 || delta > 19) return { changed: false, reason: `nice delta must be an integer in 1..19, got ${delta}` };
  if (process.platform !== 'linux') return { changed: false, reason: `per-thread nice values are Linux only (${process.platform})` };
  try {
    const tid = Number(/\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (!Number.isInteger(tid) || tid <= 0) return { changed: false, reason: 'no thread id in /proc/thread-self' };
    const from = getPriority(tid);
    const to = Math.min(19, from + delta);
    if (to !== from) setPriority(tid, to);
    return { changed: to !== from, ...(to !== from ? { tid, from, to } : { reason: `already at nice ${from}` }) } as ThreadNiceOutcome;
  } catch (e) {
    return { changed: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
