// Golden tests for analyzeCursor (test/fixtures/syntax/cursor/*.txt: document with ║, expected JSON subset) and its contract.

import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { analyzeCursor } from '../../server/src/syntax/index.js';
import { loadFixtures, splitAtCursor } from '../postprocess/fixture.js';

const ROOT = join(import.meta.dirname, '../fixtures/syntax/cursor');

describe('analyzeCursor fixtures', () => {
  for (const fx of loadFixtures(ROOT)) {
    test(fx.file.slice(ROOT.length + 1), () => {
      const { prefix, suffix } = splitAtCursor(fx.file, fx.sections.document ?? '');
      const text = prefix + suffix;
      const got = analyzeCursor(text, prefix.length, fx.header.language ?? 'typescript');
      // statementEndAfter / blockEndAfter: the document text right before the reported end offset.
      const { statementEndAfter, blockEndAfter, ...expected } = JSON.parse(fx.sections.expected ?? '{}') as Record<string, unknown>;
      expect(got).toMatchObject(expected);
      if (statementEndAfter !== undefined) expect(text.slice(0, got.enclosingStatementEnd ?? 0)).toMatch(new RegExp(`${escape(String(statementEndAfter))}$`));
      if (blockEndAfter !== undefined) expect(text.slice(0, got.enclosingBlockEnd ?? 0)).toMatch(new RegExp(`${escape(String(blockEndAfter))}$`));
    });
  }
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('analyzeCursor contract', () => {
  test('an offset outside the text is a caller bug with a precise message', () => {
    expect(() => analyzeCursor('abc', 4, 'typescript')).toThrow('analyzeCursor: utf16Offset 4 is outside 0..3');
    expect(() => analyzeCursor('abc', -1, 'python')).toThrow(RangeError);
  });

  test('every offset of broken snippets in every language answers plain data', () => {
    const snippets = ['', '"', '`${', '/* open', '}{)(][', "def f(:\n  '''x", 'x = [1, (2, {3', '\r\n\r\n\t', 'a😀b "😀', 'class { m( { if ( '];
    for (const languageId of ['typescript', 'typescriptreact', 'javascript', 'python', 'plaintext']) {
      for (const s of snippets) {
        for (let i = 0; i <= s.length; i++) {
          const r = analyzeCursor(s, i, languageId);
          expect(typeof r.inComment).toBe('boolean');
          expect(JSON.parse(JSON.stringify(r))).toEqual(r);
        }
      }
    }
  });
});
