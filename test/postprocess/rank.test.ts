// rankCandidates: candidates that add no syntax error first, input order otherwise.

import { describe, expect, test } from 'vitest';
import { rankCandidates, rankWithDeltas } from '../../server/src/postprocess/index.js';

const ts = { prefix: 'function f(a: number) {\n  return ', suffix: ';\n}\n', languageId: 'typescript' };

describe('rankCandidates', () => {
  test('a candidate adding errors moves behind one that does not, keeping its own object', () => {
    const a = { text: 'a +', score: -0.1 };
    const b = { text: 'a + 1', score: -0.5 };
    expect(rankCandidates([a, b], ts)).toEqual([b, a]);
  });

  test('stable: equal validity keeps the input (score) order', () => {
    expect(rankCandidates(['a * 2', 'a +', 'a - 1', ')', 'a'], ts)).toEqual(['a * 2', 'a - 1', 'a', 'a +', ')']);
  });

  test('python, and the deltas it computed', () => {
    const py = { prefix: 'def f(x):\n    return ', suffix: '\n', languageId: 'python' };
    const rows = rankWithDeltas(['x +', 'x + 1'], py);
    expect(rows.map((r) => r.candidate)).toEqual(['x + 1', 'x +']);
    expect(rows[0]!.check).toMatchObject({ treeDelta: 0, addsErrors: false });
    expect(rows[1]!.check!.addsErrors).toBe(true);
  });

  test('a language without a grammar keeps the order; an empty list stays empty', () => {
    expect(rankCandidates(['b(', 'a'], { prefix: 'x', suffix: '', languageId: 'rust' })).toEqual(['b(', 'a']);
    expect(rankCandidates([], ts)).toEqual([]);
  });

  test('broken surroundings do not throw', () => {
    const broken = { prefix: 'class { (( "x\n', suffix: ']]] `', languageId: 'typescriptreact' };
    expect(rankCandidates(['}', '', '`'], broken)).toHaveLength(3);
  });
});
