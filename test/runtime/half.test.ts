// runtime/model.ts `halvesToFloats` (issue 15): float16 logits rows (every forward of a model with fp16 logits, i.e.
// the GPU layouts) are widened to float32 by re-biasing bits instead of per-element arithmetic. It must give exactly
// what the arithmetic reference `halfToFloat` gives, for every one of the 65,536 binary16 bit patterns (signed zeros,
// subnormals, infinities and NaNs included), and read the slice it is asked for.
import { describe, expect, test } from 'vitest';
import { halfToFloat, halvesToFloats } from '../../server/src/runtime/model.js';

describe('halvesToFloats', () => {
  test('equals halfToFloat bit for bit on all 65,536 binary16 values', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = halvesToFloats(all, 0, all.length);
    const differ: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const ref = halfToFloat(h);
      const got = out[h]!;
      if (!(Object.is(Math.fround(ref), got) || (Number.isNaN(ref) && Number.isNaN(got)))) differ.push(h);
    }
    expect(differ).toEqual([]);
    // spot values: 1, -2, the largest finite half, the smallest subnormal, -0, +Inf
    expect([out[0x3c00], out[0xc000], out[0x7bff], out[0x0001], out[0x8000], out[0x7c00]]).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity]);
  });

  test('reads n values from start, into a fresh array', () => {
    const src = Uint16Array.of(0x3c00, 0x4000, 0x4200, 0x4400, 0xbc00);
    const got = halvesToFloats(src, 1, 3);
    expect(Array.from(got)).toEqual([2, 3, 4]);
    expect(got.length).toBe(3);
    expect(halvesToFloats(src, 5, 0).length).toBe(0);
  });
});
