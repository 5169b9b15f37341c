// Tests of the adaptive debounce arithmetic (typing rhythm, context scale, latency, clamps, manual = 0).

import { describe, expect, it } from 'vitest';
import { AdaptiveDebouncer, contextScale } from '../../server/src/lsp/debounce.js';

const adaptive = { mode: 'adaptive' as const, fixedMs: 150, minMs: 100, maxMs: 1000 };

describe('contextScale', () => {
  it.each([
    ['', '', 1.5],
    ['    ', '', 1.5],
    ['foo.', '', 1.5],
    ['call(', ')', 1.5],
    ['const x', '', 2.0],
    ['const x ', '', 2.0],
    ['a', 'b + c', 3.0],
  ])('%j|%j → %d', (prefix, suffix, scale) => {
    expect(contextScale(prefix, suffix)).toBe(scale);
  });
});

describe('AdaptiveDebouncer', () => {
  it('never waits on manual triggers', () => {
    expect(new AdaptiveDebouncer(adaptive).delayMs({ trigger: 'manual', linePrefix: 'x', lineSuffix: 'y' })).toBe(0);
  });

  it('uses a 200 ms base without history and the mean typing gap clamped to 100–400 ms', () => {
    const d = new AdaptiveDebouncer(adaptive);
    expect(d.baseMs()).toBe(200);
    for (let t = 0; t <= 1000; t += 50) d.recordRequest(t); // very fast typist: 50 ms gaps
    expect(d.baseMs()).toBe(100);
    const slow = new AdaptiveDebouncer(adaptive);
    for (let t = 0; t <= 9000; t += 900) slow.recordRequest(t);
    expect(slow.baseMs()).toBe(400);
  });

  it('ignores pauses longer than 2 s', () => {
    const d = new AdaptiveDebouncer(adaptive);
    d.recordRequest(0);
    d.recordRequest(250);
    d.recordRequest(60_000);
    d.recordRequest(60_250);
    expect(d.baseMs()).toBe(250);
  });

  it('scales by context, subtracts expected latency and clamps', () => {
    const d = new AdaptiveDebouncer(adaptive);
    d.recordRequest(0);
    d.recordRequest(300);
    expect(d.delayMs({ trigger: 'automatic', linePrefix: 'x = ', lineSuffix: '' })).toBe(600);
    expect(d.delayMs({ trigger: 'automatic', linePrefix: 'f(', lineSuffix: '' })).toBe(450);
    d.recordLatency(400);
    expect(d.delayMs({ trigger: 'automatic', linePrefix: 'f(', lineSuffix: '' })).toBe(100);
    expect(d.delayMs({ trigger: 'automatic', linePrefix: 'a', lineSuffix: 'b' })).toBe(500);
    d.configure({ ...adaptive, maxMs: 300 });
    expect(d.delayMs({ trigger: 'automatic', linePrefix: 'a', lineSuffix: 'b' })).toBe(300);
  });

  it('smooths latency with a moving average', () => {
    const d = new AdaptiveDebouncer(adaptive);
    d.recordLatency(100);
    d.recordLatency(200);
    expect(d.expectedLatencyMs()).toBeCloseTo(130);
  });

  it('uses fixedMs in fixed mode', () => {
    const d = new AdaptiveDebouncer({ ...adaptive, mode: 'fixed', fixedMs: 0 });
    expect(d.delayMs({ trigger: 'automatic', linePrefix: 'a', lineSuffix: '' })).toBe(0);
  });
});
