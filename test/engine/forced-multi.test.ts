// A forced multi-line answer (the caller's lineMode 'multi': the API's `lineMode`, eval's multi-line tasks, a
// speculation after such an accept) may finish the code around the cursor's block, but ends before a new definition
// dedented below that block (decode-plan.ts lineStop rule (c)) instead of running on into the next method/class/function.
import { describe, expect, test } from 'vitest';
import { keepLines, planDecode } from '../../server/src/engine/decode-plan.js';

const cut = (text: string, at: number | null) => (at === null ? text : text.slice(0, at));

describe('forced multi-line answers stop before a new definition after the cursor block', () => {
  test('Python: blank line at the end of a method body, the next method below', () => {
    const prefix = 'class Cart:\n    def __init__(self):\n        self.items = []\n\n    def total(self):\n        s = 0\n        ';
    const suffix = '\n\n    def clear(self):\n        self.items = []\n';
    const plan = planDecode({ prefix, suffix, languageId: 'python', trigger: 'manual', lineMode: 'multi' });
    expect(plan.lineMode).toBe('multi');
    const completion = 'for item in self.items:\n            s += item.price\n        return s\n\n    def count(self):\n        return len(self.items)\n';
    expect(cut(completion, plan.stopAt(completion))).toBe('for item in self.items:\n            s += item.price\n        return s\n');
    // keepLines (the final text of a decode that stopped for another reason) cuts the same way.
    expect(keepLines(completion, 'max-tokens', plan)).toBe('for item in self.items:\n            s += item.price\n        return s\n');
  });

  test('Python: a new top-level class after the method is cut too', () => {
    const prefix = 'class A:\n    def run(self):\n        ';
    const suffix = '\n\n    def stop(self):\n        pass\n';
    const plan = planDecode({ prefix, suffix, languageId: 'python', trigger: 'manual', lineMode: 'multi' });
    const completion = 'self.running = True\n        self.loop()\n\nclass B:\n    pass\n';
    expect(cut(completion, plan.stopAt(completion))).toBe('self.running = True\n        self.loop()\n');
  });

  test('Python: an else/except line continues the statement and is kept', () => {
    const prefix = 'class A:\n    def run(self):\n        ';
    const suffix = '\n\n    def stop(self):\n        pass\n';
    const plan = planDecode({ prefix, suffix, languageId: 'python', trigger: 'manual', lineMode: 'multi' });
    const completion = 'try:\n            self.loop()\n        except KeyError:\n            pass\n    def other(self):\n';
    expect(cut(completion, plan.stopAt(completion))).toBe('try:\n            self.loop()\n        except KeyError:\n            pass');
  });

  test('Python: past the end of the cursor block, down to the indentation of the code that follows, when no definition starts', () => {
    // The cursor ends an if-body; the enclosing loop body goes on. Stopping at the block's end cut the dev multi-line
    // tasks' answers after one line (bench/results/quality-forced-block.md); rule (a) still stops at the suffix's code.
    const prefix = 'def scan(lines):\n    total = 0\n    for line in lines:\n        if not line:\n            ';
    const suffix = '\n        total += 1\n    return total\n';
    const plan = planDecode({ prefix, suffix, languageId: 'python', trigger: 'manual', lineMode: 'multi' });
    const completion = 'continue\n        if line.startswith("#"):\n            continue\n        total += 1\n    return total\n';
    expect(cut(completion, plan.stopAt(completion))).toBe('continue\n        if line.startswith("#"):\n            continue');
  });

  test('TypeScript: the method closer and the next method are left to the document', () => {
    const prefix = 'class Cart {\n  items: number[] = [];\n\n  total(): number {\n    let s = 0;\n    ';
    const suffix = '\n  }\n\n  clear(): void {\n    this.items = [];\n  }\n}\n';
    const plan = planDecode({ prefix, suffix, languageId: 'typescript', trigger: 'manual', lineMode: 'multi' });
    const completion = 'for (const x of this.items) s += x;\n    return s;\n  }\n\n  count(): number {\n    return this.items.length;\n  }\n';
    expect(cut(completion, plan.stopAt(completion))).toBe('for (const x of this.items) s += x;\n    return s;');
  });

  test('at top level with an empty suffix, a forced answer may write the next function', () => {
    const prefix = 'function a() {\n  return 1;\n}\n\n';
    const plan = planDecode({ prefix, suffix: '', languageId: 'typescript', trigger: 'manual', lineMode: 'multi' });
    const completion = 'function b() {\n  return 2;\n}\n\nfunction c() {\n  return 3;\n}\n';
    expect(plan.stopAt(completion)).toBeNull();
  });

  test('a forced answer after an opener whose closer the suffix lacks keeps its closing line', () => {
    const prefix = 'const xs = f(';
    const suffix = '\nconsole.log(xs);\n';
    const plan = planDecode({ prefix, suffix, languageId: 'typescript', trigger: 'manual', lineMode: 'multi' });
    const completion = '\n  1,\n  2,\n);\n';
    expect(cut(completion, plan.stopAt(completion))).toBe(completion);
  });
});
