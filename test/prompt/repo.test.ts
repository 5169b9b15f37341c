// Cross-file context in the prompt on a real (tiny byte-level BPE) tokenizer with StarCoder's sentinels: the
// repository-level layout, the comment layout, the token budget and a stable cache prefix.
import { describe, expect, test } from 'vitest';
import { Tokenizer } from '../../server/src/tokenizer/index.js';
import { buildContextPrompt, buildFimPrompt, detectTemplate } from '../../server/src/prompt/index.js';
import { fimLayout } from '../../server/src/decoding/self-infill.js';
import { tinyTokenizer } from '../runtime/helpers/tiny-tokenizer.js';

const tiny = tinyTokenizer();
const tok = Tokenizer.fromObjects(tiny.json, tiny.config);
const id = (s: string) => tok.tokenToId(s)!;
const spm = detectTemplate(tok, { override: { mode: 'spm' } })!;
const psm = detectTemplate(tok)!;
const [P, S, M, REPO, SEP] = ['<fim_prefix>', '<fim_suffix>', '<fim_middle>', '<repo_name>', '<file_sep>'].map(id) as [number, number, number, number, number];
const enc = (s: string) => tok.encode(s);

const crossFile = {
  repoName: 'shop',
  path: 'src/main.ts',
  chunks: [
    { path: 'src/price.ts', text: 'export function netPrice(g: number): number {\n  return g;\n}', kind: 'definition' as const },
    { path: 'src/cart.ts', text: 'const total = netPrice(1);', kind: 'recent' as const },
  ],
};

describe('repository-level layout', () => {
  test('detectTemplate finds <repo_name>/<file_sep>', () => {
    expect(spm.repoNameId).toBe(REPO);
    expect(spm.fileSepId).toBe(SEP);
  });

  test('SPM: <repo_name>name<file_sep>path\\ncode\\n…<file_sep>current\\n before <fim_suffix>', () => {
    const r = buildFimPrompt({ prefix: 'const a = ', suffix: ';\n', crossFile: { ...crossFile, format: 'repo', maxTokens: 10_000 } }, spm, tok);
    const head = [REPO, ...enc('shop'), SEP, ...enc(`src/price.ts\n${crossFile.chunks[0]!.text}\n`), SEP, ...enc(`src/cart.ts\n${crossFile.chunks[1]!.text}\n`), SEP, ...enc('src/main.ts\n')];
    expect(r.ids).toEqual([...head, S, ...enc(';\n'), P, ...enc('const a = '), M]);
    expect(r.headIds).toEqual(head);
    expect(r.contextTokens).toBe(head.length);
    expect(r.contextChunks).toBe(2);
    // Self-infilling's shapes keep the head (the same leading tokens as the base prompt).
    const layout = fimLayout({ ...spm, middleId: spm.middleId!, head: r.headIds });
    expect(layout.infill(r.prefixIds, r.suffixIds)).toEqual(r.ids);
  });

  test('PSM: the head precedes <fim_prefix>', () => {
    const r = buildFimPrompt({ prefix: 'x', suffix: 'y', crossFile: { ...crossFile, format: 'repo', maxTokens: 10_000 } }, psm, tok);
    expect(r.ids[0]).toBe(REPO);
    expect(r.ids.indexOf(P)).toBe(r.headIds.length);
  });

  test("the default format is the repository-level one where the vocabulary has it", () => {
    expect(buildContextPrompt({ ...crossFile, maxTokens: 10_000 }, spm, enc).format).toBe('repo');
  });

  test('a template without repository sentinels falls back to comments', () => {
    const bare = { ...spm, repoNameId: undefined, fileSepId: undefined };
    const r = buildContextPrompt({ ...crossFile, format: 'repo', maxTokens: 10_000 }, bare, enc, 'typescript');
    expect(r.format).toBe('comment');
  });
});

describe('comment layout', () => {
  test('chunks as line comments at the start of the prefix (Python uses #)', () => {
    const r = buildFimPrompt({ prefix: 'a = ', suffix: '', crossFile: { ...crossFile, format: 'comment', maxTokens: 10_000 }, languageId: 'python' }, spm, tok);
    const text = '# Path: src/price.ts\n# export function netPrice(g: number): number {\n#   return g;\n# }\n# Path: src/cart.ts\n# const total = netPrice(1);\n';
    expect(r.ids).toEqual([S, P, ...enc(text), ...enc('a = '), M]);
    expect(r.prefixIds).toEqual([...enc(text), ...enc('a = ')]);
    expect(r.headIds).toEqual([]);
    expect(r.prefixTokens).toBe(enc('a = ').length);
  });
});

describe('budget and cache stability', () => {
  test('chunks that do not fit are skipped; zero budget or no chunks add nothing', () => {
    const all = buildContextPrompt({ ...crossFile, format: 'repo', maxTokens: 10_000 }, spm, enc);
    const one = buildContextPrompt({ ...crossFile, format: 'repo', maxTokens: all.tokens - 1 }, spm, enc);
    expect(one.chunks).toBe(1);
    expect(one.tokens).toBeLessThanOrEqual(all.tokens - 1);
    expect(buildContextPrompt({ ...crossFile, maxTokens: 0 }, spm, enc).tokens).toBe(0);
    expect(buildContextPrompt({ ...crossFile, chunks: [] }, spm, enc).format).toBe('none');
    expect(buildContextPrompt(undefined, spm, enc).tokens).toBe(0);
    // Untrusted shapes are ignored, not thrown on.
    expect(buildContextPrompt({ ...crossFile, chunks: [null as never, { path: 1, text: 'x' } as never] }, spm, enc).tokens).toBe(0);
  });

  test('typing at the cursor with the same context keeps every token before the new text (SPM)', () => {
    for (const format of ['repo', 'comment'] as const) {
      const cf = { ...crossFile, format, maxTokens: 10_000 };
      const a = buildFimPrompt({ prefix: 'x = 1;\nreturn', suffix: '\n}\n', crossFile: cf }, spm, tok, { maxHealTokens: 0 });
      const b = buildFimPrompt({ prefix: 'x = 1;\nreturn a', suffix: '\n}\n', crossFile: cf }, spm, tok, { maxHealTokens: 0 });
      const common = a.ids.slice(0, -1);
      expect(b.ids.slice(0, common.length)).toEqual(common);
      expect(a.contextTokens).toBeGreaterThan(0);
    }
  });
});
