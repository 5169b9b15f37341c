// The completion cache (pure): typed-ahead lookup, replacement at the same cursor, bounds, ids.
import { describe, expect, test } from 'vitest';
import { CompletionCache } from '../../server/src/cache/index.js';

const entry = (prefix: string, text: string, suffix = '\n}\n', documentKey = 'a') => ({ documentKey, languageId: 'typescript', prefix, suffix, text, speculative: false, score: -1 });

describe('CompletionCache', () => {
  test('answers the rest of a completion while the user types through it, and nothing once it diverges', () => {
    const c = new CompletionCache();
    const e = c.add(entry('function f(', 'a, b) {'));
    expect(c.lookup('a', 'function f(', '\n}\n')).toEqual({ entry: e, remaining: 'a, b) {', typed: 0 });
    expect(c.lookup('a', 'function f(a, ', '\n}\n')).toMatchObject({ remaining: 'b) {', typed: 3 });
    expect(c.lookup('a', 'function f(a, c', '\n}\n')).toBeNull(); // diverged
    expect(c.lookup('a', 'function f(a, b) {', '\n}\n')).toBeNull(); // typed all of it
    expect(c.lookup('a', 'function f(a', '}\n')).toBeNull(); // the suffix changed
    expect(c.lookup('b', 'function f(a', '\n}\n')).toBeNull(); // another document
    expect(c.lookup('a', 'function g(a', '\n}\n')).toBeNull(); // the prefix changed
  });

  test('a newer completion at the same cursor replaces the older; ids resolve until the entry leaves', () => {
    const c = new CompletionCache({ perDocument: 2, documents: 2 });
    const old = c.add(entry('x', '1'));
    const young = c.add(entry('x', '2'));
    expect(c.get(old.id)).toBeUndefined();
    expect(c.lookup('a', 'x', '\n}\n')?.entry).toBe(young);
    c.add(entry('y', '3'));
    c.add(entry('z', '4'));
    expect(c.get(young.id)).toBeUndefined(); // two per document
    c.add(entry('p', '5', '', 'b'));
    c.add(entry('q', '6', '', 'c'));
    expect(c.lookup('a', 'z', '\n}\n')).toBeNull(); // two documents: 'a' left
    expect(c.size).toBe(2);
    expect(c.add(entry('r', '')).text).toBe(''); // empty texts are not kept
    expect(c.size).toBe(2);
    c.deleteDocument('c');
    expect(c.size).toBe(1);
  });
});

describe('CompletionCache byte budget', () => {
  const big = (docKey: string, prefix: string, text = 'x + 1') => ({ documentKey: docKey, languageId: 'python', prefix, suffix: '\n', text, speculative: false, score: -1 });

  test('distinct keys with large prefixes stay within maxBytes (least recently used documents go first)', () => {
    const maxBytes = 8 * 1024 * 1024;
    const c = new CompletionCache({ maxBytes });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      // 512 Ki code units = 1 MiB counted per entry: at most 7 fit.
      ids.push(c.add(big(`k${i}`, `${i}`.padEnd(512 * 1024, 'p'))).id);
      expect(c.bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(c.size).toBe(7);
    expect(c.get(ids[39]!)).toBeDefined();
    expect(c.get(ids[0]!)).toBeUndefined();
    expect(c.lookup('k39', '39'.padEnd(512 * 1024, 'p'), '\n')).toMatchObject({ remaining: 'x + 1' });
    expect(c.lookup('k0', '0'.padEnd(512 * 1024, 'p'), '\n')).toBeNull();
  });

  test('an entry larger than the whole budget is not kept, nor are its document\'s older entries', () => {
    const c = new CompletionCache({ maxBytes: 64 * 1024 });
    const small = c.add(big('a', 'def f('));
    const huge = c.add(big('a', 'y'.repeat(64 * 1024)));
    expect(c.get(huge.id)).toBeUndefined();
    expect(c.lookup('a', 'y'.repeat(64 * 1024), '\n')).toBeNull();
    expect(c.get(small.id)).toBeUndefined(); // its document's list could not be stored with the huge entry
    expect(c.bytes).toBe(0);
    const again = c.add(big('a', 'def g('));
    expect(c.lookup('a', 'def g(', '\n')).toMatchObject({ entry: again });
  });
});
