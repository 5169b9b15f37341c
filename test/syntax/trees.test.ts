// SyntaxTrees: per-document trees re-parsed incrementally must equal a full parse of the same text, edit after edit.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { SyntaxTrees, analyzeCursor, coveringEdit, parseText } from '../../server/src/syntax/index.js';
import { seededRandom as rng } from '../documents/random.js';

// Frozen copies of three of this repository's own source files (real code that does not move under the test).
const ROOT = path.join(import.meta.dirname, '../fixtures/syntax/incremental');

const SNIPPETS = ['x', ' ', '\n', '{', '}', '(', ')', '"', "'", '`', '/*', '*/', '#', '//', 'ä', '😀', '\n  return ', 'def f():\n    ', 'const a = [1, 2', ':', '\r\n', '\t'];

/** One random edit: an insertion (typing), a deletion or a replacement, somewhere in the text. */
function randomEdit(text: string, r: () => number): string {
  const at = Math.floor(r() * (text.length + 1));
  const kind = r();
  const snippet = SNIPPETS[Math.floor(r() * SNIPPETS.length)]!;
  if (kind < 0.6) return text.slice(0, at) + snippet + text.slice(at);
  const len = Math.floor(r() * 40);
  if (kind < 0.85) return text.slice(0, at) + text.slice(at + len);
  return text.slice(0, at) + snippet + text.slice(at + len);
}

// tree-sitter's contract for incremental parsing: where the text parses without errors the reused tree equals a fresh
// parse; where it has errors, error recovery may settle differently (seen on ~5% of random garbage edits of a TS file),
// but both trees report errors and cover the same text. The tests check exactly that, plus exact equality whenever a
// file returns to valid code (typed-in statements, undone edits).
const CASES = [
  { file: 'engine.ts.txt', languageId: 'typescript', grammar: 'typescript' as const, statement: '  const total = items.reduce((sum, x) => sum + x.price, 0);\n' },
  { file: 'model.py.txt', languageId: 'python', grammar: 'python' as const, statement: 'TOTAL = sum(x * 2 for x in range(10))\n' },
  { file: 'gpu.mjs.txt', languageId: 'javascript', grammar: 'javascript' as const, statement: 'const total = [1, 2].map((x) => x * 2);\n' },
];

describe('SyntaxTrees', () => {
  for (const c of CASES) {
    test(`${c.languageId}: random edits of ${c.file} — incremental trees agree with full parses`, () => {
      const trees = new SyntaxTrees();
      const r = rng(c.file.length * 7919);
      const original = fs.readFileSync(path.join(ROOT, c.file), 'utf8');
      let text = original;
      expect(trees.update('doc', c.languageId, text).parse).toBe('full');
      expect(trees.update('doc', c.languageId, text).parse).toBe('unchanged');
      let exact = 0;
      for (let i = 0; i < 80; i++) {
        const before = text;
        // every 10th step undoes everything: the file is valid again
        text = i % 10 === 9 ? original : randomEdit(text, r);
        const u = trees.update('doc', c.languageId, text);
        expect(u.parse).toBe(text === before ? 'unchanged' : 'incremental');
        const full = parseText(c.grammar, text)!;
        expect(u.tree!.rootNode.hasError, `edit ${i}`).toBe(full.rootNode.hasError);
        expect(u.tree!.rootNode.endIndex).toBe(full.rootNode.endIndex);
        if (!full.rootNode.hasError) {
          expect(u.tree!.rootNode.toString(), `edit ${i}`).toBe(full.rootNode.toString());
          exact++;
        }
      }
      expect(exact).toBeGreaterThanOrEqual(8);
    });

    test(`${c.languageId}: typing a statement character by character, then deleting it, in ${c.file}`, () => {
      const trees = new SyntaxTrees();
      const original = fs.readFileSync(path.join(ROOT, c.file), 'utf8');
      // at the start of a line in the middle of the file
      const at = original.indexOf('\n', Math.floor(original.length / 2)) + 1;
      trees.update('doc', c.languageId, original);
      let text = original;
      for (let n = 1; n <= c.statement.length; n++) {
        text = original.slice(0, at) + c.statement.slice(0, n) + original.slice(at);
        const u = trees.update('doc', c.languageId, text);
        expect(u.parse).toBe('incremental');
        const full = parseText(c.grammar, text)!;
        expect(u.tree!.rootNode.hasError).toBe(full.rootNode.hasError);
        // The cursor facts right after the typed text do not depend on where the tree came from.
        expect(analyzeCursor(text, at + n, c.languageId, u.tree)).toEqual(analyzeCursor(text, at + n, c.languageId));
      }
      const typed = trees.update('doc', c.languageId, text).tree!;
      expect(typed.rootNode.toString()).toBe(parseText(c.grammar, text)!.rootNode.toString());
      for (let n = c.statement.length - 1; n >= 0; n--) {
        text = original.slice(0, at) + c.statement.slice(0, n) + original.slice(at);
        trees.update('doc', c.languageId, text);
      }
      expect(text).toBe(original);
      expect(trees.update('doc', c.languageId, text).tree!.rootNode.toString()).toBe(parseText(c.grammar, original)!.rootNode.toString());
    });
  }

  test('documents are independent, a language change re-parses fully, no grammar gives no tree', () => {
    const trees = new SyntaxTrees();
    expect(trees.update('a', 'typescript', 'let a = 1;').parse).toBe('full');
    expect(trees.update('b', 'python', 'a = 1\n').parse).toBe('full');
    expect(trees.update('a', 'typescript', 'let a = 12;').parse).toBe('incremental');
    expect(trees.update('a', 'python', 'a = 12\n').parse).toBe('full');
    expect(trees.update('c', 'plaintext', 'hello')).toEqual({ tree: undefined, parse: 'none' });
    trees.delete('a');
    expect(trees.update('a', 'python', 'a = 12\n').parse).toBe('full');
  });

  test('the document count is bounded', () => {
    const trees = new SyntaxTrees({ maxDocuments: 3 });
    for (let i = 0; i < 10; i++) trees.update(`d${i}`, 'typescript', `let v${i} = ${i};`);
    expect(trees.size).toBe(3);
  });
});

describe('coveringEdit', () => {
  test('the range between the common prefix and suffix, never splitting a surrogate pair', () => {
    expect(coveringEdit('abc', 'abc')).toBeNull();
    expect(coveringEdit('abc', 'abXc')).toEqual({ start: 2, oldEnd: 2, newEnd: 3 });
    expect(coveringEdit('abcdef', 'abef')).toEqual({ start: 2, oldEnd: 4, newEnd: 2 });
    expect(coveringEdit('aaaa', 'aaaaa')).toEqual({ start: 4, oldEnd: 4, newEnd: 5 });
    // '😀' and '😃' share their high surrogate: the edit starts before it.
    expect(coveringEdit('x😀y', 'x😃y')).toEqual({ start: 1, oldEnd: 3, newEnd: 3 });
    for (const [a, b] of [['x😀y', 'x😃y'], ['😀', '😀😀'], ['a😀b', 'ab'], ['', 'q'], ['q', '']] as const) {
      const e = coveringEdit(a, b)!;
      expect(a.slice(0, e.start) + b.slice(e.start, e.newEnd) + a.slice(e.oldEnd)).toBe(b);
    }
  });
});
