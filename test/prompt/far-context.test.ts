// Same-file far context (prompt/far-context.ts): which snippets of the text outside the prompt's window are chosen.
import { describe, expect, test } from 'vitest';
import { farSnippets, identifierSet, jaccard } from '../../server/src/prompt/far-context.js';

const filler = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `value_${tag}_${i} = compute_${tag}(${i})`).join('\n');

describe('farSnippets', () => {
  const before = [
    filler(20, 'a'),
    'def load_config(config_path, environment):',
    '    settings = read_settings(config_path)',
    '    return merge_environment(settings, environment)',
    filler(20, 'b'),
  ].join('\n');
  const windowPrefix = 'def main(argv):\n    config_path = argv[1]\n    environment = argv[2]\n    settings = ';
  const windowSuffix = '\n    run(settings)\n';

  test('the snippet sharing the cursor neighbourhood\'s identifiers comes first', () => {
    const s = farSnippets(before, '', windowPrefix, windowSuffix);
    expect(s.length).toBeGreaterThan(0);
    expect(s[0]!.text).toContain('def load_config(config_path, environment):');
    expect(s[0]!.side).toBe('before');
    // Ranked best first, every one at or above the threshold, at most maxChunks (default 4).
    for (let i = 1; i < s.length; i++) expect(s[i]!.similarity).toBeLessThanOrEqual(s[i - 1]!.similarity);
    expect(s.every((x) => x.similarity >= 0.1)).toBe(true);
    expect(s.length).toBeLessThanOrEqual(4);
    // Its line is where it starts within `before` (snippets start every 4 lines).
    expect(before.split('\n').slice(s[0]!.line, s[0]!.line + 8).join('\n')).toBe(s[0]!.text);
  });

  test('text below the window is searched too', () => {
    const after = `${filler(12, 'c')}\ndef save(settings, config_path):\n    write_settings(settings, config_path)\n${filler(12, 'd')}`;
    const s = farSnippets('', after, windowPrefix, windowSuffix, { maxChunks: 1 });
    expect(s).toHaveLength(1);
    expect(s[0]!.side).toBe('after');
    expect(s[0]!.text).toContain('write_settings(settings, config_path)');
  });

  test('nothing outside the window, nothing similar, or odd input: no snippets', () => {
    expect(farSnippets('', '', windowPrefix, windowSuffix)).toEqual([]);
    expect(farSnippets('\n\n  \n', '', windowPrefix, windowSuffix)).toEqual([]);
    expect(farSnippets(filler(30, 'z'), '', windowPrefix, windowSuffix)).toEqual([]);
    expect(farSnippets(before, '', windowPrefix, windowSuffix, { maxChunks: 0 })).toEqual([]);
    expect(farSnippets(undefined as unknown as string, '', windowPrefix, windowSuffix)).toEqual([]);
    expect(farSnippets(before, null as unknown as string, windowPrefix, windowSuffix)).toEqual([]);
  });

  test('only the nearest maxChars of each side are searched', () => {
    // parse-like lines far above (beyond 200 characters from the window) are not found; near ones are.
    const far = 'def load_config(config_path, environment):\n    settings = read_settings(config_path)\n';
    const text = `${far}${filler(40, 'q')}`;
    expect(farSnippets(text, '', windowPrefix, windowSuffix, { maxChars: 200 })).toEqual([]);
    expect(farSnippets(text, '', windowPrefix, windowSuffix, { maxChars: 100_000 })[0]!.text).toContain('load_config');
    const below = `${filler(40, 'r')}\n${far}`;
    expect(farSnippets('', below, windowPrefix, windowSuffix, { maxChars: 200 })).toEqual([]);
    expect(farSnippets('', below, windowPrefix, windowSuffix)[0]!.text).toContain('load_config');
  });

  test('snippets longer than maxSnippetChars are left out (a minified giant line is never a snippet)', () => {
    const giant = `def load_config(config_path, environment): return read_settings(config_path) ${'x = 1; '.repeat(2000)}`;
    expect(farSnippets(giant, '', windowPrefix, windowSuffix)[0]!.text).toBe(giant);
    expect(farSnippets(giant, '', windowPrefix, windowSuffix, { maxSnippetChars: 4096 })).toEqual([]);
  });

  test('chunkLines and minSimilarity are honoured', () => {
    const s = farSnippets(before, '', windowPrefix, windowSuffix, { chunkLines: 2, minSimilarity: 0 });
    expect(s.every((x) => x.text.split('\n').length <= 2)).toBe(true);
    const strict = farSnippets(before, '', windowPrefix, windowSuffix, { minSimilarity: 0.99 });
    expect(strict).toEqual([]);
  });
});

test('identifierSet and jaccard', () => {
  expect([...identifierSet('a.b_1 = $c + 2d')].sort()).toEqual(['$c', 'a', 'b_1', 'd']);
  expect(jaccard(new Set(['a', 'b']), new Set(['b', 'c']))).toBeCloseTo(1 / 3, 12);
  expect(jaccard(new Set(), new Set())).toBe(0);
});
