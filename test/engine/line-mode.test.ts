// Issue 12 item 7: several lines at the start of an empty block; inside a block that goes on, the lines before the model
// loops or rewrites the code after the cursor (decode-plan.ts keepLines).

import { describe, expect, test } from 'vitest';
import { keepLines, lineSimilarity, MAX_KEPT_LINES, planDecode } from '../../server/src/engine/decode-plan.js';
import { isTruncated, TRUNCATING_STOPS } from '../../server/src/engine/decode.js';
import { postprocess } from '../../server/src/postprocess/index.js';

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
  test('code after the cursor on its line, or after code, whatever the trigger: one line', () => {
    for (const trigger of ['automatic', 'manual'] as const) {
      expect(plan('data = numpy.array(║)\n', 'python', trigger).lineModeReason).toBe('code-after-cursor');
      expect(plan('const x = ║\nfoo();\n', 'typescript', trigger).lineModeReason).toBe('after-code');
      expect(plan('const x = ║\nfoo();\n', 'typescript', trigger).lineMode).toBe('single');
    }
  });
  test("at a code line's indentation (HumanEval-infilling's layout), whatever the trigger: one line", () => {
    const doc = 'def f(xs):\n    total = 0\n║        total += x\n    return total\n';
    for (const trigger of ['automatic', 'manual'] as const) {
      const p = plan(doc, 'python', trigger);
      expect([p.lineMode, p.lineModeReason]).toEqual(['single', 'code-after-cursor']);
      expect(p.around.below).toEqual(['total += x', 'return total']);
    }
  });
  test('a caller that asks for several lines there (eval with a task kind) keeps the lines that open the suffix blocks', () => {
    const prefix = 'def has_pair(numbers):\n    """Doc."""\n';
    const suffix = '        for b in numbers:\n            if a != b:\n                return True\n    return False\n';
    const p = planDecode({ prefix, suffix, languageId: 'python', trigger: 'manual', lineMode: 'multi' });
    expect([p.lineMode, p.lineModeReason, p.onlyIfEnded]).toEqual(['multi', 'caller', false]);
    const completion = '    seen = 0\n    for a in numbers:\n        for b in numbers:\n            if a != b:\n';
    expect(completion.slice(0, p.stopAt(completion) ?? undefined)).toBe('    seen = 0\n    for a in numbers:');
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

describe('keepLines inside a block whose code continues below', () => {
  // HumanEval-style: one line missing from a function body (`for` loop's header), cursor at column 0 of its line.
  const doc = 'def f(xs):\n    total = 0\n║\n        total += x\n    return total\n';
  test('the plan: several lines only as keepLines cuts them, compared with the code around the cursor', () => {
    const p = plan(doc, 'python');
    expect([p.lineMode, p.onlyIfEnded]).toEqual(['multi', true]);
    expect(p.around).toEqual({ above: 'total = 0', below: ['total += x', 'return total'] });
  });
  test('a line that rewrites one of the next two code lines ends the middle, whatever ended the decode', () => {
    const p = plan(doc, 'python');
    // Line 2 is the suffix's first line again (similarity 1): the missing part was one line.
    for (const reason of ['stop-token', 'stop-at', 'max-tokens']) expect(keepLines('    for x in xs:\n        total += x\n', reason, p)).toBe('    for x in xs:');
    // Close enough (similarity of `total += x * 1` and `total += x` is 10/14 >= 0.5) counts too; so does the line after it.
    expect(keepLines('    for x in xs:\n        total += x * 1', 'stop-token', p)).toBe('    for x in xs:');
    expect(keepLines('    for x in xs:\n    return total * 2', 'stop-token', p)).toBe('    for x in xs:');
  });
  test('lines unlike the code that follows stay: the missing part was likely several lines', () => {
    const p = plan(doc, 'python');
    const text = '    xs = sorted(xs)\n    n = len(xs)\n    for x in xs:';
    expect(keepLines(text, 'max-tokens', p)).toBe(text);
    expect(keepLines(text, 'stop-token', p)).toBe(text);
  });
  test('a line that repeats an earlier one of the middle, or the code line above the cursor, ends it (the model loops)', () => {
    const p = plan(doc, 'python');
    expect(keepLines('    n = len(xs)\n    m = 0\n    n = len(xs)\n    m = 0', 'max-tokens', p)).toBe('    n = len(xs)\n    m = 0');
    const q = plan('def f(xs):\n    seen = set()\n║\n    return len(seen)\n', 'python');
    expect(keepLines('    xs = list(xs)\n    seen = set()\n    m = 1', 'max-tokens', q)).toBe('    xs = list(xs)');
    expect(keepLines('    xs = list(xs)\n    seen = {}\n    m = 1', 'max-tokens', q)).toBe('    xs = list(xs)\n    seen = {}\n    m = 1');
  });
  test('at most MAX_KEPT_LINES lines', () => {
    const p = plan(doc, 'python');
    const lines = Array.from({ length: MAX_KEPT_LINES + 3 }, (_, i) => `    v${i} = sqrt(${i})`);
    expect(keepLines(lines.join('\n'), 'max-tokens', p)).toBe(lines.slice(0, MAX_KEPT_LINES).join('\n'));
    expect(MAX_KEPT_LINES).toBe(5);
  });
  test("after an opener's line the middle starts with a line break; its first code line is line 1", () => {
    const p = plan('function f(xs) {\n  let total = 0;\n  for (const x of xs) {║\n    total += x;\n  }\n  return total;\n}\n', 'typescript');
    expect([p.lineMode, p.lineModeReason, p.onlyIfEnded]).toEqual(['multi', 'opener', true]);
    expect(keepLines('\n    if (x < 0) continue;\n    total += x;', 'max-tokens', p)).toBe('\n    if (x < 0) continue;');
  });
  test('the stop rules run once more on the final text: a last line that left the empty block goes', () => {
    const p = plan('def f(x):\n    if x:\n        ║\n    return 0\n', 'python');
    expect(keepLines("return '0'\n    return xor(xor(xor(", 'max-tokens', p)).toBe("return '0'");
  });
  test('an empty block, a caller-chosen line mode or an unknown stop keeps everything', () => {
    const inBlock = { lineMode: 'multi' as const, onlyIfEnded: true, stopAt: () => null, around: { above: null, below: ['total += 1'] } };
    const text = '    a = 1\n    total += 1';
    expect(keepLines(text, 'max-tokens', { ...inBlock, onlyIfEnded: false })).toBe(text);
    expect(keepLines(text, undefined, inBlock)).toBe(text);
    expect(keepLines(text, 'max-tokens', inBlock)).toBe('    a = 1');
  });
});

describe('lineSimilarity', () => {
  test('1 - Levenshtein distance / the longer length', () => {
    expect(lineSimilarity('total += x', 'total += x')).toBe(1);
    expect(lineSimilarity('abc', 'abd')).toBeCloseTo(2 / 3, 12);
    expect(lineSimilarity('kitten', 'sitting')).toBeCloseTo(1 - 3 / 7, 12);
    expect(lineSimilarity('', 'x')).toBe(0);
  });
});

// decode.ts isTruncated: which candidates post-processing cuts back to a balanced end (postprocess cutTruncated).
describe('a candidate cut off by the token limit or the time budget is truncated', () => {
  const doc = 'def f(xs):\n    total = 0\n║\n        total += x\n    return total\n';
  const p = plan(doc, 'python');
  test('max-tokens and time-budget alike, when keepLines left the text whole', () => {
    expect([...TRUNCATING_STOPS].sort()).toEqual(['max-tokens', 'time-budget']);
    const text = '    xs = sorted(xs)\n    n = len(xs)\n    for x in xs:';
    for (const reason of ['max-tokens', 'time-budget']) expect(isTruncated(reason, text, keepLines(text, reason, p)), reason).toBe(true);
    // keepLines ended it at a complete line already (the model looped): not truncated.
    const looped = '    n = len(xs)\n    m = 0\n    n = len(xs)\n    m = 0';
    for (const reason of ['max-tokens', 'time-budget']) expect(isTruncated(reason, looped, keepLines(looped, reason, p)), reason).toBe(false);
  });
  test('every other stop reason, or none, ended the text where someone chose: not truncated', () => {
    const text = '    xs = sorted(xs)\n    n = len(xs)\n    for x in xs:';
    for (const reason of ['stop-token', 'stop-at', 'constraint', 'interrupted', 'cancelled', 'stop-string', undefined]) expect(isTruncated(reason, text, text), String(reason)).toBe(false);
  });
  test('a time-budget answer that ends mid-expression is shown cut back, as a max-tokens one', () => {
    const at = doc.indexOf('║');
    const ctx = { prefix: doc.slice(0, at), suffix: doc.slice(at + 1), languageId: 'python', lineMode: 'multi' as const };
    const text = '    xs = sorted(xs)\n    n = max(len(xs), ';
    const kept = keepLines(text, 'time-budget', p);
    expect(kept).toBe(text);
    expect(postprocess(kept, { ...ctx, truncated: isTruncated('time-budget', text, kept) })).toBe('    xs = sorted(xs)');
    expect(postprocess(kept, ctx)).toContain('max(len(xs),');
  });
});
