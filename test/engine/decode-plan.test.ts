// Golden tests for the syntax plan of a request (test/fixtures/syntax/decode-plan/*.txt): line mode, the self-infilling
// suffix prompt, and where a completion (and a self-written suffix) is cut; plus its contract on broken input.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { blockBodyIndent, planDecode } from '../../server/src/engine/decode-plan.js';
import { SyntaxTrees } from '../../server/src/syntax/index.js';
import { loadFixtures, splitAtCursor } from '../postprocess/fixture.js';

const ROOT = join(import.meta.dirname, '../fixtures/syntax/decode-plan');
const cut = (text: string, at: number | null) => (at === null ? text : text.slice(0, at));

describe('decode plan fixtures', () => {
  for (const fx of loadFixtures(ROOT)) {
    test(fx.file.slice(ROOT.length + 1), () => {
      const { prefix, suffix } = splitAtCursor(fx.file, fx.sections.document ?? '');
      const trigger = fx.header.trigger === 'manual' ? 'manual' : 'automatic';
      const plan = planDecode({ prefix, suffix, languageId: fx.header.language ?? 'typescript', trigger });
      expect(plan.lineMode).toBe(fx.header.lineMode);
      expect(plan.suffixPrompt).toEqual(JSON.parse(fx.header.suffixPrompt ?? 'null'));
      const { completion, expected, selfSuffix, selfSuffixExpected } = fx.sections;
      if (completion === undefined || expected === undefined) throw new Error(`${fx.file}: needs completion and expected`);
      expect(cut(completion, plan.stopAt(completion))).toBe(expected);
      // Decoding checks after every token: every prefix of the completion cuts the same way or not yet.
      for (let n = 1; n <= completion.length; n++) {
        const c = plan.stopAt(completion.slice(0, n));
        if (c !== null) {
          expect(completion.slice(0, c)).toBe(expected);
          break;
        }
      }
      if (selfSuffix !== undefined) expect(cut(selfSuffix, plan.suffixStopAt(selfSuffix))).toBe(selfSuffixExpected);
    });
  }
});

describe('decode plan with per-document trees', () => {
  test('re-parsing the window incrementally (the engine SyntaxTrees) plans every fixture as a fresh parse does', () => {
    const trees = new SyntaxTrees();
    for (const fx of loadFixtures(ROOT)) {
      const { prefix, suffix } = splitAtCursor(fx.file, fx.sections.document ?? '');
      const languageId = fx.header.language ?? 'typescript';
      const trigger = fx.header.trigger === 'manual' ? 'manual' : 'automatic';
      const completion = fx.sections.completion ?? '';
      // The same document one keystroke earlier first, so the fixture's own plan comes from an incremental parse.
      planDecode({ prefix: prefix.slice(0, -1), suffix, languageId, trigger, documentKey: 'doc' }, trees);
      const incremental = planDecode({ prefix, suffix, languageId, trigger, documentKey: 'doc' }, trees);
      const fresh = planDecode({ prefix, suffix, languageId, trigger });
      expect(incremental.lineMode, fx.file).toBe(fresh.lineMode);
      expect(incremental.suffixPrompt).toEqual(fresh.suffixPrompt);
      expect(incremental.stopAt(completion)).toBe(fresh.stopAt(completion));
    }
  });
});

describe('decode plan contract', () => {
  test('never throws on broken code or odd input', () => {
    const inputs = ['', '}}}', '"""', 'def f(:\n\t  \n', '\u0000\uD800', '{'.repeat(500)];
    for (const prefix of inputs) {
      for (const suffix of inputs) {
        for (const languageId of ['typescript', 'python', 'plaintext']) {
          const plan = planDecode({ prefix, suffix, languageId, trigger: 'automatic' });
          expect(() => plan.stopAt(prefix + '\n' + suffix)).not.toThrow();
          expect(() => plan.suffixStopAt(suffix + '\n}')).not.toThrow();
        }
      }
    }
  });

  test('a block closed far below the cursor (beyond the analysis window) is not an empty suffix', () => {
    const body = Array.from({ length: 400 }, (_, i) => `  const v${i} = ${i} * 2;\n`).join('');
    const prefix = 'class Big {\n  run() {\n';
    const closed = planDecode({ prefix, suffix: `\n${body}  }\n}\n`, languageId: 'typescript', trigger: 'manual' });
    expect(closed.suffixPrompt).toBeNull();
    const open = planDecode({ prefix: prefix + '    const a = 1;\n    ', suffix: '', languageId: 'typescript', trigger: 'manual' });
    expect(open.suffixPrompt).toBe('  }');
  });

  test('the caller decides the line mode when it says', () => {
    expect(planDecode({ prefix: 'const a = f(', suffix: ');', languageId: 'typescript', trigger: 'automatic', lineMode: 'multi' }).lineMode).toBe('multi');
  });

  test('block body indentation: own whitespace, previous code line, one unit deeper after an opener', () => {
    expect(blockBodyIndent('def f():\n    x = 1\n      ', '    ', 'indent')).toBe('      ');
    expect(blockBodyIndent('def f():\n    x = 1\n', '    ', 'indent')).toBe('    ');
    expect(blockBodyIndent('def f():\n', '    ', 'indent')).toBe('    ');
    expect(blockBodyIndent('if (x) {', '  ', 'braces')).toBe('  ');
  });
});
