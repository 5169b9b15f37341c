// The adaptive server-side debounce for automatic completion triggers (Tabby-style), as pure arithmetic.
//
// delay = clamp(base × contextScale − expectedLatency, minMs, maxMs), where
//   base            = mean of the recent gaps between automatic requests, clamped to 100–400 ms
//                     (fast typists get a short wait, slow ones a longer one);
//   contextScale    = 1.5 where a suggestion is likely wanted (start of a line, after punctuation),
//                     2.0 otherwise, 3.0 in the middle of a line (text after the cursor);
//   expectedLatency = moving average of recent engine latencies (the wait overlaps with it).
// Manual triggers never wait. No timers here: the caller sleeps; tests pass their own clock.

import type { DebounceSettings } from '../config/settings.js';

const GAP_WINDOW = 20;
/** Gaps longer than this are pauses, not typing rhythm, and are ignored. */
const MAX_TYPING_GAP_MS = 2000;
const BASE_MIN_MS = 100;
const BASE_MAX_MS = 400;
const DEFAULT_BASE_MS = 200;
const LATENCY_SMOOTHING = 0.3;

export interface DebounceContext {
  trigger: 'automatic' | 'manual';
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text of the cursor's line after the cursor. */
  lineSuffix: string;
}

export function contextScale(linePrefix: string, lineSuffix: string): number {
  if (/[^\s)\]}>"'`;,]/.test(lineSuffix)) return 3.0;
  const trimmed = linePrefix.trimEnd();
  if (trimmed.length === 0) return 1.5;
  if (trimmed.length === linePrefix.length && /[.(,[{=:]$/.test(trimmed)) return 1.5;
  return 2.0;
}

export class AdaptiveDebouncer {
  private settings: DebounceSettings;
  private readonly gapsMs: number[] = [];
  private lastRequestMs: number | undefined;
  private latencyMs: number | undefined;

  constructor(settings: DebounceSettings) {
    this.settings = { ...settings };
  }

  configure(settings: DebounceSettings): void {
    this.settings = { ...settings };
  }

  /** Records an automatic request at `nowMs` (keystroke rhythm). */
  recordRequest(nowMs: number): void {
    if (this.lastRequestMs !== undefined) {
      const gap = nowMs - this.lastRequestMs;
      if (gap >= 0 && gap <= MAX_TYPING_GAP_MS) {
        this.gapsMs.push(gap);
        if (this.gapsMs.length > GAP_WINDOW) this.gapsMs.shift();
      }
    }
    this.lastRequestMs = nowMs;
  }

  /** Records how long the engine took for a completed request. */
  recordLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.latencyMs = this.latencyMs === undefined ? ms : this.latencyMs + LATENCY_SMOOTHING * (ms - this.latencyMs);
  }

  baseMs(): number {
    if (this.gapsMs.length === 0) return DEFAULT_BASE_MS;
    const mean = this.gapsMs.reduce((a, b) => a + b, 0) / this.gapsMs.length;
    return Math.min(BASE_MAX_MS, Math.max(BASE_MIN_MS, mean));
  }

  expectedLatencyMs(): number {
    return this.latencyMs ?? 0;
  }

  delayMs(context: DebounceContext): number {
    if (context.trigger === 'manual') return 0;
    if (this.settings.mode === 'fixed') return this.settings.fixedMs;
    const raw = this.baseMs() * contextScale(context.linePrefix, context.lineSuffix) - this.expectedLatencyMs();
    return Math.round(Math.min(this.settings.maxMs, Math.max(this.settings.minMs, raw)));
  }
}
