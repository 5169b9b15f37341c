// An answer stopped by the token limit must not leave a bracket it opened unclosed (postprocess/bracket-balance.ts
// cutTruncated, run by the chain when the engine passes `truncated`).

import { describe, expect, test } from 'vitest';
import { cutTruncated, postprocess, type PostprocessContext } from '../../server/src/postprocess/index.js';

const ts = (prefix: string, suffix: string, truncated = true): PostprocessContext => ({ prefix, suffix, languageId: 'typescript', truncated });
const py = (prefix: string, suffix: string, truncated = true): PostprocessContext => ({ prefix, suffix, languageId: 'python', truncated });

describe('cutTruncated', () => {
  test('a multi-line TS answer that stops inside an array literal goes back to its last balanced line end', () => {
    const prefix = 'export function setup() {\n  const port = 8080;\n';
    const suffix = '\n}\n';
    const raw = '  const host = "localhost";\n  const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10,\n    11, 12, 13, 14, 15, 16, 17, 18,';
    expect(cutTruncated(raw, ts(prefix, suffix))).toBe('  const host = "localhost";');
  });

  test('without the truncated flag the answer is left alone', () => {
    const raw = '  const ids = [1, 2, 3,';
    expect(cutTruncated(raw, ts('function f() {\n', '\n}\n', false))).toBe(raw);
  });

  test('a single-line answer keeps the last balanced cut that still has code', () => {
    const prefix = 'const total = ';
    const raw = 'sum(values) + weights.reduce((a, b) => a + b, [0, 1,';
    expect(cutTruncated(raw, ts(prefix, '\n'))).toBe('sum(values) + weights.reduce');
  });

  test('a single-line answer with nothing balanced to keep becomes empty', () => {
    expect(cutTruncated('[1, 2, 3, 4, 5,', ts('const xs = ', '\n'))).toBe('');
  });

  test('an answer that continues a bracket the prefix opens and the suffix closes is kept to its last full line', () => {
    const prefix = 'const config = {\n';
    const suffix = '\n};\n';
    const raw = '  name: "app",\n  port: 8080,\n  hosts: ["a", "b",';
    expect(cutTruncated(raw, ts(prefix, suffix))).toBe('  name: "app",\n  port: 8080,');
  });

  test('Python: a call left open by the token limit goes, the complete lines before it stay', () => {
    const prefix = 'def main():\n    items = load()\n';
    const raw = '    total = sum(items)\n    print(format_report(total, items,\n        width=80,';
    expect(cutTruncated(raw, py(prefix, ''))).toBe('    total = sum(items)');
  });

  test('a multi-line answer whose last line is complete and balanced still loses that possibly unfinished line', () => {
    const prefix = 'function f() {\n';
    const raw = '  const a = 1;\n  const b = a + 2';
    expect(cutTruncated(raw, ts(prefix, '\n}\n'))).toBe('  const a = 1;');
  });

  test('a multi-line answer that stops right after its closing line is kept whole', () => {
    const prefix = 'export function defaultThreads()';
    const suffix = '\n\nexport const MAX = 4;\n';
    expect(cutTruncated(' {\n  return 0;\n}', ts(prefix, suffix))).toBe(' {\n  return 0;\n}');
    // The same answer one token earlier leaves its `{` open: nothing of it is kept.
    expect(cutTruncated(' {\n  return 0;\n', ts(prefix, suffix))).toBe('');
  });

  test('the chain applies it when the context says truncated', () => {
    const prefix = 'export function setup() {\n  const port = 8080;\n';
    const raw = '  const host = "localhost";\n  const ids = [1, 2, 3,';
    expect(postprocess(raw, ts(prefix, '\n}\n'))).toBe('  const host = "localhost";');
    expect(postprocess(raw, ts(prefix, '\n}\n', false))).toContain('[1, 2, 3,');
  });

  test('broken input never throws', () => {
    for (const raw of ['\n\n', ')))', '"unterminated', '  \n  ', '({[', '\n(']) {
      expect(() => cutTruncated(raw, ts('x(', ''))).not.toThrow();
      expect(() => cutTruncated(raw, py('', '"""'))).not.toThrow();
    }
  });
});
