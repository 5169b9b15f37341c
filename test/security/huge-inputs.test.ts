// Issue 13 item 4, correctness side (the timings are in bench/security/): huge lines and documents cost a bounded
// window, the tokenizer takes arrays past the spread limit, and the engine never sees more than the window.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineHost } from '../../server/src/config/engine-host.js';
import { DEFAULT_SETTINGS, cloneSettings } from '../../server/src/config/settings.js';
import { CONTEXT_WINDOW_CHARS, windowPrefix, windowSuffix } from '../../server/src/documents/index.js';
import { LINE_CUT_STEP, MAX_CHARS_PER_TOKEN, trimPrefix, trimSuffix } from '../../server/src/prompt/trim.js';
import { errorWindow } from '../../server/src/syntax/index.js';
import { GIANT_LINE_CHARS } from '../../server/src/syntax/errors.js';
import { Tokenizer } from '../../server/src/tokenizer/tokenizer.js';
import { seededRandom } from '../documents/random.js';
import { fakeFactory } from '../support/fake-engine.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/models/qwen2');

describe('tokenizer', () => {
  it('encodes text of more than 200k tokens with special-token text in it (no spread of a huge array)', () => {
    const tok = Tokenizer.fromFiles(path.join(fixtures, 'tokenizer.json'), path.join(fixtures, 'tokenizer_config.json'));
    const text = `${'a = [1, 2, 3]; '.repeat(40_000)}<|fim_middle|>${'b(x) '.repeat(40_000)}`;
    const ids = tok.encode(text);
    expect(ids.length).toBeGreaterThan(200_000);
    expect(tok.decode(ids)).toBe(text);
    expect(ids).not.toContain(tok.tokenToId('<|fim_middle|>'));
  });
});

describe('prompt trimming', () => {
  it('encodes at most a bounded number of characters, whatever the length of the cursor line', () => {
    let encoded = 0;
    const encode = (s: string): number[] => {
      encoded += s.length;
      return Array.from({ length: Math.ceil(s.length / 4) }, (_, i) => i); // 4 characters per token
    };
    const budget = 768;
    const line = 'x'.repeat(5 * 1024 * 1024); // a 5 MB minified line
    const p = trimPrefix(`first\n${line}`, budget, encode);
    expect(p.ids.length).toBeLessThanOrEqual(budget);
    // The start sits on a LINE_CUT_STEP boundary: up to a step's characters (4 per token here) below the budget.
    expect(p.ids.length).toBeGreaterThanOrEqual(budget - LINE_CUT_STEP / 4 - 1);
    expect(line.endsWith(p.text)).toBe(true);
    // ~log2(cap) binary-search steps over at most cap characters, plus the line and the join.
    const cap = budget * MAX_CHARS_PER_TOKEN;
    expect(encoded).toBeLessThan(30 * cap);
    encoded = 0;
    const s = trimSuffix(`${line}\nlast`, 256, encode);
    expect(line.startsWith(s.text)).toBe(true);
    expect(encoded).toBeLessThan(30 * 256 * MAX_CHARS_PER_TOKEN);
  });

  it('keeps the start of a cut line in place while the user types at its end', () => {
    const encode = (s: string): number[] => Array.from({ length: Math.ceil(s.length / 4) }, (_, i) => i);
    const line = 'w'.repeat(2_000_000);
    const starts = new Set<number>();
    for (let typed = 0; typed < LINE_CUT_STEP; typed += 3) {
      const prefix = line + 'q'.repeat(typed);
      starts.add(prefix.length - trimPrefix(prefix, 768, encode).text.length);
    }
    // LINE_CUT_STEP keystrokes cross at most one step boundary.
    expect(starts.size).toBeLessThanOrEqual(2);
    for (const s of starts) expect(s % LINE_CUT_STEP).toBe(0);
  });

  it('gives the same result as before on ordinary text (the cut is far beyond the budget)', () => {
    const rand = seededRandom(7);
    const lines = Array.from({ length: 3000 }, () => `${' '.repeat(Math.floor(rand() * 8))}let v${Math.floor(rand() * 1e6)} = f(${Math.floor(rand() * 100)});\n`);
    const text = lines.join('');
    const encode = (t: string): number[] => t.split(/(?<=[ ;(=\n])/).map((_, i) => i);
    const trimmed = trimPrefix(text, 768, encode);
    // Whole lines, the cursor's last: the same lines a trimmer without the cut keeps.
    expect(text.endsWith(trimmed.text)).toBe(true);
    expect(text[text.length - trimmed.text.length - 1]).toBe('\n'); // whole lines: the cut did not reach them
    expect(trimmed.ids.length).toBeLessThanOrEqual(768);
    expect(trimmed.ids.length).toBeGreaterThan(700);
  });
});

describe('context window', () => {
  it('keeps at most a window and a quarter of the prefix, whole lines where there are line ends', () => {
    const rand = seededRandom(11);
    const doc = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'y'.repeat(Math.floor(rand() * 40))}\n`).join('');
    const p = windowPrefix(doc);
    expect(doc.endsWith(p)).toBe(true);
    expect(p.length).toBeLessThanOrEqual(CONTEXT_WINDOW_CHARS + CONTEXT_WINDOW_CHARS / 4);
    expect(p.length).toBeGreaterThanOrEqual(CONTEXT_WINDOW_CHARS - CONTEXT_WINDOW_CHARS / 4);
    expect(doc[doc.length - p.length - 1]).toBe('\n');
    const s = windowSuffix(doc);
    expect(doc.startsWith(s)).toBe(true);
    expect(s.endsWith('\n')).toBe(true);
    expect(s.length).toBeLessThanOrEqual(CONTEXT_WINDOW_CHARS);
    expect(windowPrefix('short')).toBe('short');
  });

  it('keeps the prefix start while the user types (it moves in quarter-window steps), and cuts giant lines', () => {
    const line = 'z'.repeat(1_000_000);
    const starts = new Set<number>();
    for (let typed = 0; typed < 2000; typed += 97) {
      const prefix = line + 'q'.repeat(typed);
      starts.add(prefix.length - windowPrefix(prefix).length);
    }
    expect(starts.size).toBe(1);
    const cut = windowPrefix(line);
    expect(cut.length).toBeLessThanOrEqual(CONTEXT_WINDOW_CHARS + CONTEXT_WINDOW_CHARS / 4);
    // Never a lone low surrogate at the cut.
    const emoji = '😀'.repeat(600_000);
    for (const w of [1000, 1001, 4096, 4097]) {
      expect(windowPrefix(emoji, w).charCodeAt(0)).toBe(0xd83d);
      expect(windowSuffix(emoji, w).charCodeAt(windowSuffix(emoji, w).length - 1)).toBe(0xde00);
    }
  });

  it('bounds the syntax window of a giant line', () => {
    for (const windowChars of [6000, Infinity]) {
      const w = errorWindow('a'.repeat(3_000_000), 'b'.repeat(3_000_000), windowChars);
      expect(w.prefix.length).toBe(GIANT_LINE_CHARS / 2);
      expect(w.suffix.length).toBe(GIANT_LINE_CHARS / 2);
    }
    // Ordinary lines keep the line-based window.
    const lines = 'let x = 1;\n'.repeat(5000);
    expect(errorWindow(lines, lines, Infinity)).toEqual({ prefix: lines, suffix: lines });
  });

  it('is what the engine sees: a 5 MB document costs the engine a window, not the document', async () => {
    const engines = fakeFactory();
    const host = new EngineHost({ factory: engines.factory, settings: cloneSettings(DEFAULT_SETTINGS), baseDir: '/pkg' });
    const prefix = 'p'.repeat(5_000_000);
    const suffix = 's'.repeat(5_000_000);
    const result = await host.complete({ documentKey: 'k', version: 1, languageId: 'javascript', prefix, suffix, trigger: 'automatic' }, new AbortController().signal);
    expect(result.kind).toBe('ok');
    const seen = engines.last.contexts[0]!;
    expect(seen.prefix.length).toBeLessThanOrEqual(CONTEXT_WINDOW_CHARS + CONTEXT_WINDOW_CHARS / 4);
    expect(prefix.endsWith(seen.prefix)).toBe(true);
    expect(seen.suffix).toBe(suffix.slice(0, CONTEXT_WINDOW_CHARS));
    await host.dispose();
  });
});
