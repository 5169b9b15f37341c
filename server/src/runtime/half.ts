// IEEE 754 binary16 → binary32 on the host (pure): float16 logits rows, and float16 weights for runtime/wgsl-decode.ts.

/**
 * IEEE 754 binary16 values `src[start .. start + n)` → a new Float32Array [n], exactly (every binary16 value is a
 * binary32 value). Normal numbers are re-biased bit by bit (exponent + 112, mantissa shifted by 13) through a
 * Uint32Array view; zeros, subnormals, infinities and NaNs go through halfToFloat. Per-element arithmetic with powers
 * of two took ~8 ms for one 151,936-entry logits row (Qwen2.5-Coder's vocabulary, every fp16-logits forward on the
 * GPU); this takes ~0.6 ms. Checked against halfToFloat for all 65,536 inputs (test/runtime/half.test.ts).
 */
export function halvesToFloats(src: Uint16Array, start: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = src[start + i]!;
    const e = h & 0x7c00;
    if (e !== 0 && e !== 0x7c00) bits[i] = (((h & 0x8000) << 16) | ((e + 0x1c000) << 13) | ((h & 0x3ff) << 13)) >>> 0;
    else out[i] = halfToFloat(h);
  }
  return out;
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
