// syntaxErrorCount / addsSyntaxErrors on TS, TSX, JS and Python, the parse window, and parse timing on a 2000-line file.

import { describe, expect, test } from 'vitest';
import { addsSyntaxErrors, analyzeCursor, errorWindow, parseText, syntaxChecker, syntaxErrorCount, syntaxErrorDelta } from '../../server/src/syntax/index.js';

describe('syntaxErrorCount', () => {
  test('valid code has none, broken code has ERROR or MISSING nodes', () => {
    expect(syntaxErrorCount('const a: number = 1;\n', 'typescript')).toBe(0);
    expect(syntaxErrorCount('function f( {\n', 'typescript')).toBeGreaterThan(0);
    expect(syntaxErrorCount('const v = <div>{x}</div>;\n', 'typescriptreact')).toBe(0);
    expect(syntaxErrorCount('const v = <div>{x}</div>;\n', 'javascriptreact')).toBe(0);
    expect(syntaxErrorCount('def f(x):\n    return x\n', 'python')).toBe(0);
    expect(syntaxErrorCount('def f(x:\n    return x\n', 'python')).toBeGreaterThan(0);
  });

  test('a language without a grammar counts 0', () => {
    expect(syntaxErrorCount('fn main( {', 'rust')).toBe(0);
    expect(syntaxErrorDelta('a', ')', 'b', 'rust')).toBeNull();
  });
});

describe('addsSyntaxErrors', () => {
  const ts = { prefix: 'function f(a: number, b: number) {\n  return ', suffix: ';\n}\n' };
  test.each([
    ['a + b', false],
    ['a +', true],
    ['a)', true],
  ])('typescript %j → %s', (candidate, adds) => {
    expect(addsSyntaxErrors(ts.prefix, candidate, ts.suffix, 'typescript')).toBe(adds);
  });

  const py = { prefix: 'def f(x):\n    return ', suffix: '\n\nprint(f(1))\n' };
  test.each([
    ['x * 2', false],
    ['x *', true],
    ['(x * 2', true],
  ])('python %j → %s', (candidate, adds) => {
    expect(addsSyntaxErrors(py.prefix, candidate, py.suffix, 'python')).toBe(adds);
  });

  test('a candidate that repairs broken code lowers the count', () => {
    expect(syntaxErrorDelta('const xs = [1, 2', ']', ';\n', 'typescript')).toBeLessThan(0);
  });

  test('a windowed check ignores errors far from the cursor', () => {
    const far = 'function broken( {\n' + 'const filler = 1;\n'.repeat(2000);
    const prefix = far + 'function g() {\n  return ';
    const suffix = ';\n}\n' + 'const tail = 2;\n'.repeat(2000);
    expect(addsSyntaxErrors(prefix, '1 + 2', suffix, 'typescript')).toBe(false);
    expect(addsSyntaxErrors(prefix, '1 +', suffix, 'typescript')).toBe(true);
    const w = errorWindow(prefix, suffix, 1000);
    expect(w.prefix.length).toBeLessThan(3000);
    expect(w.prefix.startsWith('const filler') || w.prefix.startsWith('function g')).toBe(true);
    expect(w.suffix.length).toBeLessThan(3000);
  });
});

describe('syntaxChecker', () => {
  test('incremental re-parses across a sequence of candidates agree with fresh parses', () => {
    const prefix = 'export function f(xs: number[]) {\n  let total = 0;\n  ';
    const suffix = '\n  return total;\n}\n\nexport const g = () => f([1, 2]);\n';
    const check = syntaxChecker(prefix, suffix, 'typescript')!;
    for (const c of ['for (const x of xs) total += x;', 'for (const x of xs) {', '', 'total = xs.reduce((a, b) => a + b, 0);', '}\n}', 'if (xs.length)\n    total = 1;']) {
      const fresh = syntaxErrorCount(prefix + c + suffix, 'typescript') - syntaxErrorCount(prefix + suffix, 'typescript');
      expect(check(c).treeDelta, JSON.stringify(c)).toBe(fresh);
    }
  });

  test('unfinished: the cursor line has code before the cursor where the syntax breaks', () => {
    const unfinished = (prefix: string, suffix: string, languageId = 'python') => syntaxChecker(prefix, suffix, languageId)!('').unfinished;
    expect(unfinished('import os\nfrom collections import ', '\n')).toBe(true);
    expect(unfinished('x = foo(a, ', '\n')).toBe(true);
    // The error recovery puts the error on the next line with code.
    expect(unfinished('def f(x):\n    y = ', '\n\n    return y\n')).toBe(true);
    expect(unfinished('function f() {\n  const y = ', '\n  return y;\n}\n', 'typescript')).toBe(true);
    // Complete code, a line start, a comment, code broken from above, the same for every candidate.
    expect(unfinished('x = 1 ', '\n')).toBe(false);
    expect(unfinished('import os\n', 'from x import\n')).toBe(false);
    expect(unfinished('x = 1  # see ', '\n')).toBe(false);
    expect(unfinished('x = foo(1,\n  2,\ny = bar(a, ', '\n')).toBe(false);
    const check = syntaxChecker('from collections import ', '\n', 'python')!;
    expect([check('defaultdict'), check('from x import y')].map((c) => c.unfinished)).toEqual([true, true]);
  });
});

describe('speed', () => {
  test('full parse and cursor analysis of a 2000-line TypeScript file', () => {
    const lines: string[] = ['export class Store {'];
    for (let i = 0; i < 1998; i++) {
      lines.push(i % 3 === 0 ? `  m${i}(a: number): string { return \`v\${a + ${i}}\`; } // ${i}` : `  f${i}: Map<string, number[]> = new Map([["k${i}", [${i}, 2]]]);`);
    }
    lines.push('}');
    const text = lines.join('\n') + '\n';
    parseText('typescript', text); // warm-up: grammar load
    const runs = 5;
    let t0 = performance.now();
    for (let i = 0; i < runs; i++) parseText('typescript', text);
    const parseMs = (performance.now() - t0) / runs;
    t0 = performance.now();
    const at = text.indexOf('m999');
    for (let i = 0; i < runs; i++) analyzeCursor(text, at, 'typescript');
    const analyzeMs = (performance.now() - t0) / runs;
    t0 = performance.now();
    const check = syntaxChecker(text.slice(0, at), text.slice(at), 'typescript')!;
    const checkerMs = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < runs; i++) check(`x${i}`);
    const candidateMs = (performance.now() - t0) / runs;
    console.log(`2000 lines (${text.length} UTF-16 units): parse ${parseMs.toFixed(1)} ms, analyzeCursor ${analyzeMs.toFixed(1)} ms, syntaxChecker baseline ${checkerMs.toFixed(1)} ms + ${candidateMs.toFixed(1)} ms per valid candidate (incremental)`);
    expect(parseMs).toBeLessThan(1000);
  });
});
