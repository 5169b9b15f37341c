// The recent-chunks ring: Jaccard similarity, deduplication, capacity and ranking.
import { describe, expect, test } from 'vitest';
import { ChunkRing, jaccard } from '../../server/src/context/index.js';

const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i} = compute${prefix}(${i});`).join('\n');

test('jaccard', () => {
  expect(jaccard(new Set(['a', 'b']), new Set(['b', 'c']))).toBeCloseTo(1 / 3, 12);
  expect(jaccard(new Set(), new Set())).toBe(0);
  expect(jaccard(new Set(['a']), new Set(['a']))).toBe(1);
});

describe('ChunkRing', () => {
  test('a chunk is the lines around the given line, clamped to the text', () => {
    const ring = new ChunkRing({ chunkLines: 4 });
    const c = ring.add('u', 'u.ts', lines('a', 10), 5)!;
    expect(c.startLine).toBe(3);
    expect(c.text.split('\n')).toHaveLength(4);
    expect(ring.add('u2', 'u2.ts', lines('b', 10), 100)!.startLine).toBe(6);
    expect(ring.add('u3', 'u3.ts', '\n\n  \n', 0)).toBeUndefined();
  });

  test('overlapping chunks of one document replace each other; far ones stay', () => {
    const ring = new ChunkRing({ chunkLines: 4 });
    const text = lines('a', 40);
    ring.add('u', 'u.ts', text, 5);
    ring.add('u', 'u.ts', text, 6);
    expect(ring.size).toBe(1);
    ring.add('u', 'u.ts', text, 30);
    expect(ring.size).toBe(2);
  });

  test('near-identical chunks of different documents are kept once (the newest)', () => {
    const ring = new ChunkRing({ chunkLines: 8 });
    ring.add('u1', 'u1.ts', lines('a', 8), 0);
    ring.add('u2', 'u2.ts', lines('a', 8), 0);
    expect(ring.size).toBe(1);
    expect(ring.rank(new Set(['computea']), undefined, 5).map((c) => c.uri)).toEqual(['u2']);
  });

  test('capacity drops the oldest; rank orders by similarity and leaves out the current document', () => {
    const ring = new ChunkRing({ capacity: 2, chunkLines: 8 });
    ring.add('u1', 'u1.ts', lines('a', 8), 0);
    ring.add('u2', 'u2.ts', lines('b', 8), 0);
    ring.add('u3', 'u3.ts', lines('c', 8), 0);
    expect(ring.size).toBe(2);
    expect(ring.rank(new Set(['computea', 'a1']), undefined, 5)).toEqual([]); // u1 was dropped
    const q = new Set(['computec', 'c1', 'c2', 'c3', 'computeb', 'b1']);
    expect(ring.rank(q, undefined, 5).map((c) => c.uri)).toEqual(['u3', 'u2']);
    expect(ring.rank(q, 'u3', 5).map((c) => c.uri)).toEqual(['u2']);
    expect(ring.rank(q, undefined, 1).map((c) => c.uri)).toEqual(['u3']);
  });
});
