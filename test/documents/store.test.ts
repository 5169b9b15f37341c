// Tests of the versioned document store: versions, snapshots, atomic changes, batched edits, errors.

import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DocumentError, DocumentStore, PositionError } from '../../server/src/documents/index.js';
import { randomEdit, randomText, seededRandom } from './random.js';

describe('DocumentStore', () => {
  it('opens, changes and closes documents with monotonic versions', () => {
    const store = new DocumentStore();
    store.open('file:///a.ts', 'typescript', 1, 'const a = 1;\n');
    const next = store.change('file:///a.ts', 2, [{ range: { start: { line: 0, character: 6 }, end: { line: 0, character: 7 } }, text: 'b' }]);
    expect(next.text).toBe('const b = 1;\n');
    expect(next.version).toBe(2);
    expect(next.languageId).toBe('typescript');
    expect(store.change('file:///a.ts', undefined, [{ text: 'x' }]).version).toBe(3);
    store.close('file:///a.ts');
    expect(store.get('file:///a.ts')).toBeUndefined();
  });

  it('keeps old snapshots immutable', () => {
    const store = new DocumentStore();
    const first = store.open('u', 'python', 1, 'a\nb');
    store.change('u', 2, [{ text: 'zzz' }]);
    expect(first.text).toBe('a\nb');
    expect(first.lineCount).toBe(2);
    expect(first.lineText(1)).toBe('b');
  });

  it('rejects stale versions, unknown documents and bad arguments with DocumentError codes', () => {
    const store = new DocumentStore();
    store.open('u', 'python', 5, '');
    expect(() => store.change('u', 5, [{ text: 'x' }])).toThrowError(expect.objectContaining({ code: 'stale-version' }));
    expect(() => store.change('v', 1, [])).toThrowError(expect.objectContaining({ code: 'unknown-document' }));
    expect(() => store.close('v')).toThrowError(DocumentError);
    expect(() => store.open('', 'python', 1, '')).toThrowError(/uri must be a non-empty string/);
    expect(() => store.open('w', 'python', 1.5, '')).toThrowError(/version must be an integer/);
  });

  it('is atomic: an out-of-range change in a batch leaves the document unchanged', () => {
    const store = new DocumentStore();
    store.open('u', 'python', 1, 'abc');
    expect(() =>
      store.change('u', 2, [
        { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'X' },
        { range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, text: 'Y' },
      ]),
    ).toThrowError(PositionError);
    expect(store.require('u').text).toBe('abc');
    expect(store.require('u').version).toBe(1);
  });

  it('notifies listeners on open, change and close', () => {
    const store = new DocumentStore();
    const seen: Array<[string, number | undefined]> = [];
    store.onDidChange((uri, snap) => seen.push([uri, snap?.version]));
    store.open('u', 'python', 1, '');
    store.change('u', 2, [{ text: 'x' }]);
    store.close('u');
    expect(seen).toEqual([['u', 1], ['u', 2], ['u', undefined]]);
  });

  it('property: batched random edits equal vscode-languageserver-textdocument (seeded)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rand = seededRandom(seed * 31);
      const initial = randomText(rand, 20);
      const store = new DocumentStore();
      store.open('u', 'plaintext', 0, initial);
      let reference = TextDocument.create('u', 'plaintext', 0, initial);
      let shadow = initial;
      for (let version = 1; version <= 25; version++) {
        const batch = [];
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
          const edit = randomEdit(rand, shadow);
          shadow = shadow.slice(0, edit.startOffset) + edit.text + shadow.slice(edit.endOffset);
          batch.push({ range: edit.range, text: edit.text });
        }
        store.change('u', version, batch);
        reference = TextDocument.update(reference, batch, version);
        expect(store.require('u').text, `seed ${seed} version ${version}`).toBe(shadow);
        expect(reference.getText()).toBe(shadow);
      }
    }
  });
});
