// Issue 12 item 7: several lines only at the start of an empty block, or where the model ended the middle itself.

import { describe, expect, test } from 'vitest';
import { keepLines, planDecode } from '../../server/src/engine/decode-plan.js';

const plan = (document: string, languageId: string, trigger: 'automatic' | 'manual' = 'automatic') => {
  const at = document.indexOf('║');
  return planDecode({ prefix: document.slice(0, at), suffix: document.slice(at + 1), languageId, trigger });
};

describe('line mode follows the block structure', () => {
  test('a blank line inside a block whose code continues below: multi-line only if the middle ends', () => {
    const p = plan('def f(xs):\n    total = 0\n    ║\n    return total\n', 'python');
    expect([p.lineMode, p.lineModeReason, p.onlyIfEnded]).toEqual(['multi', 'blank-line', true]);
    const m = plan('function f(xs) {\n  let total = 0;\n  ║\n  return total;\n}\n', 'typescript', 'manual');
    expect([m.lineMode, m.onlyIfEnded]).toEqual(['multi', true]);
  });
  test('the start of an empty block: several lines, whatever the model does', () => {
    const p = plan('def f(xs):\n    ║\n\nprint(1)\n', 'python');
    expect([p.lineMode, p.lineModeReason, p.onlyIfEnded]).toEqual(['multi', 'empty-block', false]);
    const t = plan('function f(xs) {\n  ║\n}\n', 'typescript');
    expect([t.lineMode, t.onlyIfEnded]).toEqual(['multi', false]);
  });
  test('code after the cursor on its line, or after code with an automatic trigger: one line', () => {
    expect(plan('data = numpy.array(║)\n', 'python').lineMode).toBe('single');
    expect(plan('const x = ║\nfoo();\n', 'typescript').lineMode).toBe('single');
  });
});

describe('stop rules at the start of an empty block', () => {
  test('a line dedented below the block body ends the completion, even at the level of the code that follows', () => {
    const p = plan('def f(x):\n    if x:\n        ║\n    return 0\n', 'python');
    expect([p.lineMode, p.lineModeReason]).toEqual(['multi', 'empty-block']);
    // (Judged once the line is complete: a dedented `}` may still become `} else {`.)
    const text = 'x += 1\n        return x\n    return xor(x, x)\n';
    expect(p.stopAt(text.slice(0, -1))).toBeNull();
    expect(p.stopAt(text)).toBe(text.indexOf('\n    return xor'));
    // `else:` continues the block's statement: the completion goes on until a line leaves it.
    const withElse = 'return 1\n    else:\n        return 2\n    return 3\n';
    expect(p.stopAt(withElse)).toBe(withElse.indexOf('\n    return 3'));
  });
});

describe('keepLines with a plan and a syntax check', () => {
  test("an ended middle whose lines break the code after it keeps the line that fits", () => {
    const inBlock = { lineMode: 'multi' as const, onlyIfEnded: true, stopAt: () => null };
    const breaks = (t: string) => (t.includes('return all') ? 2 : 1);
    expect(keepLines('    if not xs:\n        return False\n    return all(xs)', 'stop-token', inBlock, breaks)).toBe('    if not xs:');
    expect(keepLines('    total = 0\n    count = 0', 'stop-token', inBlock, breaks)).toBe('    total = 0\n    count = 0');
  });
  test('the stop rules run once more on the final text: a last line that left the empty block goes', () => {
    const p = plan('def f(x):\n    if x:\n        ║\n    return 0\n', 'python');
    expect(keepLines("return '0'\n    return xor(xor(xor(", 'max-tokens', p)).toBe("return '0'");
  });
});

describe('keepLines', () => {
  const inBlock = { lineMode: 'multi' as const, onlyIfEnded: true, stopAt: () => null };
  const text = '    total += x\n    count += 1\n    avg = total / count';
  test('a middle the model ended (its end-of-middle token) keeps its lines', () => {
    expect(keepLines(text, 'stop-token', inBlock)).toBe(text);
  });
  test('a middle a stop rule had to cut, or that ran out of tokens or time, keeps its first line', () => {
    expect(keepLines(text, 'stop-at', inBlock)).toBe('    total += x');
    expect(keepLines(text, 'max-tokens', inBlock)).toBe('    total += x');
    expect(keepLines(text, 'time-budget', inBlock)).toBe('    total += x');
    // After an opener's line, the middle starts with a line break: its first code line is kept.
    expect(keepLines('\n    return a\n    b = 1', 'max-tokens', inBlock)).toBe('\n    return a');
  });
  test('an empty block, a caller-chosen line mode or an unknown stop keeps everything', () => {
    expect(keepLines(text, 'max-tokens', { ...inBlock, onlyIfEnded: false })).toBe(text);
    expect(keepLines(text, undefined, inBlock)).toBe(text);
  });
});
