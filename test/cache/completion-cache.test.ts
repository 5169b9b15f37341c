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
