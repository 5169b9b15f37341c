// Sticky prefix trimming and tokenization stability while typing, with the default model's tokenizer and template.
import { describe, expect, test } from 'vitest';
import { stickyTrimPrefix } from '../../server/src/cache/index.js';
import { trimPrefix } from '../../server/src/prompt/trim.js';
import { buildFimPrompt } from '../../server/src/prompt/index.js';
import { loadBundle } from '../../server/src/engine/load.js';
import { defaultModelDir } from '../../server/src/util/paths.js';
import fs from 'node:fs';
import path from 'node:path';

// A toy encoder: one token per character.
const chars = (t: string) => Array.from(t, (c) => c.charCodeAt(0));

function lcp(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('stickyTrimPrefix', () => {
  test('a prefix within the budget is kept whole (the prompt is prompt/trim\'s)', () => {
    const p = 'a\nbb\nccc';
    expect(stickyTrimPrefix(p, null, chars, { budget: 100 })).toEqual({ text: p, startLine: 0 });
    expect(stickyTrimPrefix(p, 1, chars, { budget: 100 })).toEqual({ text: p, startLine: 0 });
  });

  test('over the budget: the start moves by blocks, not on every keystroke, and the kept text always fits', () => {
    const line = 'x'.repeat(9) + '\n'; // 10 tokens a line
    let prefix = line.repeat(20); // 200 tokens
    let state: number | null = null;
    const starts: number[] = [];
    for (let i = 0; i < 300; i++) {
      prefix += i % 10 === 9 ? '\n' : 'y';
      const r = stickyTrimPrefix(prefix, state, chars, { budget: 100, slack: 20 });
      expect(prefix.endsWith(r.text)).toBe(true);
      expect(chars(r.text).length).toBeLessThanOrEqual(100);
      expect(chars(r.text).length).toBeGreaterThanOrEqual(100 - 2 * 20 - 10);
      state = r.startLine;
      starts.push(r.startLine);
    }
    const moves = starts.filter((s, i) => i > 0 && s !== starts[i - 1]).length;
    // plain trimming would move on every new line (30 times); sticky moves about once per 20 tokens of slack
    expect(moves).toBeLessThanOrEqual(300 / 20 + 1);
    // plain trimming moves the start much more often
    const plain = [];
    prefix = line.repeat(20);
    for (let i = 0; i < 300; i++) {
      prefix += i % 10 === 9 ? '\n' : 'y';
      plain.push(prefix.length - trimPrefix(prefix, 100, chars).text.length);
    }
    expect(plain.filter((s, i) => i > 0 && s !== plain[i - 1]).length).toBeGreaterThan(moves);
  });

  test('a cursor line longer than the budget keeps only that line', () => {
    const r = stickyTrimPrefix('a\n' + 'z'.repeat(50), null, chars, { budget: 10 });
    expect(r.text).toBe('z'.repeat(50));
  });
});

describe('tokenization while typing (default model, SPM)', async () => {
  const bundle = await loadBundle({ modelDir: defaultModelDir, device: 'cpu' });
  const { tokenizer, template } = bundle;
  await bundle.model.dispose();
  const src = fs.readFileSync(path.join(import.meta.dirname, '../../server/src/runtime/model.ts'), 'utf8');

  test('typing a character at the end of the prefix changes only the last few prompt tokens', () => {
    // Retype a 300-character stretch of a real file, one character at a time.
    const start = src.indexOf('export async function loadModel');
    const end = start + 300;
    const suffix = src.slice(end);
    let state: number | null = null;
    let prev: number[] | null = null;
    const changed: number[] = [];
    for (let cut = start; cut <= end; cut++) {
      const t = stickyTrimPrefix(src.slice(0, cut), state, (x) => tokenizer.encode(x), { budget: 768 });
      state = t.startLine;
      const ids = buildFimPrompt({ prefix: t.text, suffix }, template!, tokenizer).ids;
      if (prev) changed.push(ids.length - lcp(prev, ids));
      prev = ids;
    }
    changed.sort((a, b) => a - b);
    const median = changed[changed.length >> 1]!;
    expect(median).toBeLessThanOrEqual(4);
    expect(changed[Math.floor(changed.length * 0.99)]!).toBeLessThan(100);
  });
});
