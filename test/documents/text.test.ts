// Tests of the pure UTF-16 geometry: line starts, positions ↔ offsets, CRLF, astral characters, errors.

import { describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PositionError, applyChanges, computeLineStarts, offsetAt, positionAt } from '../../server/src/documents/index.js';
import { naivePosition, randomEdit, randomText, seededRandom } from './random.js';

describe('computeLineStarts', () => {
  it.each([
    ['', [0]],
    ['a', [0]],
    ['a\nb', [0, 2]],
    ['a\r\nb', [0, 3]],
    ['a\rb', [0, 2]],
    ['\n\n', [0, 1, 2]],
    ['\r\n\r\n', [0, 2, 4]],
    ['\r\r\n\n', [0, 1, 3, 4]],
    ['x\r', [0, 2]],
  ])('%j → %j', (text, starts) => {
    expect(computeLineStarts(text)).toEqual(starts);
  });
});

describe('offsetAt / positionAt', () => {
  const text = 'let 😀 = 1;\r\n\tfoo(𝒳)\rbar\n';
  const starts = computeLineStarts(text);

  it('counts astral characters as two UTF-16 code units', () => {
    // 'let ' is 4 units, the emoji 2, so ' = 1;' starts at character 6.
    expect(offsetAt(text, starts, { line: 0, character: 6 })).toBe(6);
    expect(text.slice(6, 9)).toBe(' = ');
    expect(positionAt(text, starts, text.indexOf('𝒳') + 2)).toEqual({ line: 1, character: 7 });
  });

  it('handles CRLF, lone CR and LF line ends', () => {
    expect(offsetAt(text, starts, { line: 1, character: 0 })).toBe(text.indexOf('\tfoo'));
    expect(offsetAt(text, starts, { line: 2, character: 0 })).toBe(text.indexOf('bar'));
    expect(offsetAt(text, starts, { line: 3, character: 0 })).toBe(text.length);
    expect(positionAt(text, starts, text.indexOf('\r\n'))).toEqual({ line: 0, character: 11 });
  });

  it('maps an offset between \\r and \\n to the end of the line content', () => {
    expect(positionAt(text, starts, text.indexOf('\r\n') + 1)).toEqual({ line: 0, character: 11 });
  });

  it('agrees with vscode-languageserver-textdocument and a naive scan on random texts', () => {
    const rand = seededRandom(7);
    for (let round = 0; round < 300; round++) {
      const t = randomText(rand, 30);
      const s = computeLineStarts(t);
      const reference = TextDocument.create('file:///x', 'plaintext', 1, t);
      for (let offset = 0; offset <= t.length; offset++) {
        if (t[offset - 1] === '\r' && t[offset] === '\n') continue;
        const position = positionAt(t, s, offset);
        expect(position).toEqual(naivePosition(t, offset));
        expect(position).toEqual(reference.positionAt(offset));
        expect(offsetAt(t, s, position)).toBe(offset);
      }
    }
  });

  it('throws a PositionError for lines past the end, with the line count', () => {
    expect(() => offsetAt(text, starts, { line: 4, character: 0 })).toThrowError(PositionError);
    expect(() => offsetAt(text, starts, { line: 4, character: 0 })).toThrowError(/document has 4 lines/);
    expect(() => offsetAt(text, starts, { line: 4, character: 0 }, 'clamp')).toThrowError(/out of range/);
  });

  it('takes the column after a CRLF line\'s \\r (a client splitting on \\n alone) as the line end; one more is still refused', () => {
    // line 0 is 'let 😀 = 1;' (11 units) + CRLF; line 1 ends in a lone CR, which gets no such allowance
    expect(offsetAt(text, starts, { line: 0, character: 12 })).toBe(11);
    expect(() => offsetAt(text, starts, { line: 0, character: 13 })).toThrowError(/line 0 has 11 UTF-16 code units/);
    expect(() => offsetAt(text, starts, { line: 1, character: 9 })).toThrowError(PositionError);
  });

  it('throws for characters past the end of the line in strict mode and clamps in clamp mode', () => {
    expect(() => offsetAt(text, starts, { line: 2, character: 4 })).toThrowError(/line 2 has 3 UTF-16 code units/);
    expect(offsetAt(text, starts, { line: 2, character: 99 }, 'clamp')).toBe(text.indexOf('bar') + 3);
  });

  it('rejects negative, fractional and missing fields', () => {
    for (const bad of [{ line: -1, character: 0 }, { line: 0, character: 1.5 }, { line: 0 }, null, 'x']) {
      expect(() => offsetAt(text, starts, bad as never)).toThrowError(/non-negative integers/);
    }
  });
});

describe('applyChanges', () => {
  it('applies a full replacement and range edits in order', () => {
    expect(applyChanges('abc', [{ text: 'xyz' }])).toBe('xyz');
    expect(
      applyChanges('ab\r\ncd', [
        { range: { start: { line: 1, character: 0 }, end: { line: 1, character: 1 } }, text: 'C' },
        { range: { start: { line: 0, character: 2 }, end: { line: 1, character: 0 } }, text: '' },
      ]),
    ).toBe('abCd');
  });

  it('can split a surrogate pair with a UTF-16 range (the client asked for it)', () => {
    const t = '😀';
    expect(applyChanges(t, [{ range: { start: { line: 0, character: 1 }, end: { line: 0, character: 1 } }, text: 'x' }])).toBe('\ud83dx\ude00');
  });

  it('joins a CR and a LF inserted next to each other into one line break', () => {
    const t = applyChanges('a\r', [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: '\nb' }]);
    expect(t).toBe('a\r\nb');
    expect(computeLineStarts(t)).toEqual([0, 3]);
  });

  it('rejects a range whose end precedes its start', () => {
    expect(() =>
      applyChanges('abc', [{ range: { start: { line: 0, character: 2 }, end: { line: 0, character: 1 } }, text: '' }]),
    ).toThrowError(/end is before start/);
  });

  it('property: random incremental edit sequences equal the spliced full text (seeded)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = seededRandom(seed);
      let expected = randomText(rand, 20);
      let actual = expected;
      for (let step = 0; step < 40; step++) {
        const edit = randomEdit(rand, expected);
        expected = expected.slice(0, edit.startOffset) + edit.text + expected.slice(edit.endOffset);
        actual = applyChanges(actual, [{ range: edit.range, text: edit.text }]);
        expect(actual, `seed ${seed} step ${step}`).toBe(expected);
      }
    }
  });
});
