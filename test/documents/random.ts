// A small seeded random generator and random-edit builder shared by the property tests.

import type { Position } from '../../server/src/documents/index.js';

/** mulberry32: a tiny deterministic PRNG; same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Alphabet with the awkward cases: CRLF, lone CR, astral characters (surrogate pairs), tabs. */
const PIECES = ['a', 'b', 'x', ' ', '\t', '(', ')', '{', '}', ';', '\n', '\r\n', '\r', '😀', '𝒳', 'é', '中'];

export function randomText(rand: () => number, maxPieces: number): string {
  const n = Math.floor(rand() * (maxPieces + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

/** Reference position of a UTF-16 offset, written independently of documents/text.ts (naive scan). */
export function naivePosition(text: string, offset: number): Position {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    const c = text[i];
    if (c === '\r' && text[i + 1] === '\n') {
      if (i + 1 < offset) {
        i++;
        line++;
        lineStart = i + 1;
      }
    } else if (c === '\n' || c === '\r') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: offset - lineStart };
}

/** A random offset in [0, text.length] that is not between the `\r` and `\n` of a CRLF. */
export function randomOffset(rand: () => number, text: string): number {
  let offset = Math.floor(rand() * (text.length + 1));
  if (offset > 0 && text[offset - 1] === '\r' && text[offset] === '\n') offset--;
  return offset;
}

export interface RandomEdit {
  startOffset: number;
  endOffset: number;
  range: { start: Position; end: Position };
  text: string;
}

/** A random range edit on `text` with its LSP range computed by the naive reference. */
export function randomEdit(rand: () => number, text: string): RandomEdit {
  const a = randomOffset(rand, text);
  const b = rand() < 0.4 ? a : randomOffset(rand, text);
  const startOffset = Math.min(a, b);
  const endOffset = Math.max(a, b);
  return {
    startOffset,
    endOffset,
    range: { start: naivePosition(text, startOffset), end: naivePosition(text, endOffset) },
    text: randomText(rand, 6),
  };
}
