// dropStatementBreak: a completion that begins a new statement in the middle of an unfinished line is dropped (the
// bug of session 12: `from collections import ║` answered `from contextlib import contextmanager`).

import { describe, expect, test } from 'vitest';
import { FILTERS, dropStatementBreak, postprocess, startsStatement, startsStatementMidLine } from '../../server/src/postprocess/index.js';

const py = (prefix: string, suffix = '\n') => ({ prefix, suffix, languageId: 'python' });
const ts = (prefix: string, suffix = '\n') => ({ prefix, suffix, languageId: 'typescript' });
const dropped = (text: string, ctx: { prefix: string; suffix: string; languageId: string }) => dropStatementBreak(text, ctx) === '';

describe('dropStatementBreak', () => {
  test('the bug: a new import statement after `from collections import ` is dropped; names are kept', () => {
    const ctx = py('import os\nfrom collections import ');
    expect(dropped('from contextlib import contextmanager', ctx)).toBe(true);
    expect(dropped('import urllib', ctx)).toBe(true);
    expect(dropped('defaultdict', ctx)).toBe(false);
    expect(dropped('defaultdict, OrderedDict', ctx)).toBe(false);
    // Also at the end of the document, in a function body, and with the space typed by the completion.
    expect(dropped('from itertools import chain', py('from collections import ', ''))).toBe(true);
    expect(dropped('from contextlib import contextmanager', py('def f():\n    from collections import ', '\n    return 1\n'))).toBe(true);
    expect(dropped(' from contextlib import contextmanager', py('from collections import'))).toBe(true);
  });

  test('a statement keyword that completes the unfinished line is kept', () => {
    expect(dropped('import defaultdict', py('from collections '))).toBe(false);
    expect(dropped('const x of xs) {', ts('function f(xs: number[]) {\n  for (', '\n    g(x);\n  }\n}\n'))).toBe(false);
    expect(dropped('else {', ts('if (a) {\n  f();\n} ', '\n  g();\n}\n'))).toBe(false);
  });

  test('error recovery that puts the error on the next line still counts (`y = ║` above `return y`)', () => {
    expect(dropped('return x', py('class A:\n    def f(self, x):\n        y = ', '\n        return y\n'))).toBe(true);
    expect(dropped('x + 1', py('class A:\n    def f(self, x):\n        y = ', '\n        return y\n'))).toBe(false);
    const body = ts('function f() {\n  const y = ', '\n  return y;\n}\n');
    expect(dropped('const z = 3;', body)).toBe(true);
    expect(dropped('return 1;', body)).toBe(true);
    expect(dropped('g(1);', body)).toBe(false);
    expect(dropped('await import("fs");', body)).toBe(false);
    expect(dropped('import b from "b";', ts('import { a } from '))).toBe(true);
  });

  test('keywords that also continue an expression are never dropped', () => {
    const ctx = py('x = foo(a, ');
    expect(dropped('import os', ctx)).toBe(true);
    for (const text of ['if a else b)', 'lambda y: y)', 'not b)', 'await g())', 'b for b in c)']) expect(dropped(text, ctx)).toBe(false);
    const tsCtx = ts('const f = ');
    for (const text of ['function () {', 'class {', 'async () => {', 'new Map();', 'import("x");', 'import.meta.url;', 'typeof x;']) expect(dropped(text, tsCtx)).toBe(false);
  });

  test('nothing is dropped at a line start, in a comment or string, after a complete statement, or without a grammar', () => {
    expect(dropped('from x import y', py('import os\n'))).toBe(false);
    expect(dropped('from x import y', py('import os\n    '))).toBe(false);
    expect(dropped('from the env', py('x = 1  # Add flags '))).toBe(false);
    expect(dropped('from the given offset."""', py('def f():\n    """Starts ', '\n    return 1\n'))).toBe(false);
    expect(dropped('return x', py('x = 1; '))).toBe(false);
    expect(dropped('import os', { prefix: 'x = foo(a, ', suffix: '\n', languageId: 'rust' })).toBe(false);
  });

  test('code broken from further up (an ERROR node across the line start) concludes nothing', () => {
    // An unclosed call three lines up: error recovery marks every line after it.
    const ctx = py('x = foo(1,\n  2,\ny = bar(a, ', '\n');
    expect(dropped('import os', ctx)).toBe(false);
  });

  test('startsStatement and startsStatementMidLine read the grammar files', () => {
    expect(startsStatement('  from x import y', 'python')).toBe(true);
    expect(startsStatement('fromage', 'python')).toBe(false);
    expect(startsStatement('from.x', 'python')).toBe(false);
    expect(startsStatement('\nfrom x import y', 'python')).toBe(false);
    expect(startsStatement('export const a = 1', 'typescriptreact')).toBe(true);
    expect(startsStatement('let x = 1', 'javascript')).toBe(true);
    expect(startsStatement('import(x)', 'javascript')).toBe(false);
    expect(startsStatement('return x', 'plaintext')).toBe(false);
    expect(startsStatementMidLine('return x', { prefix: 'y = ', languageId: 'python' })).toBe(true);
    expect(startsStatementMidLine('return x', { prefix: 'y = 1\n  ', languageId: 'python' })).toBe(false);
  });

  test('in the chain: postprocess drops it whole; CRLF documents too', () => {
    expect(FILTERS.map((f) => f.name)).toContain('statementBreak');
    expect(postprocess('from contextlib import contextmanager', { ...py('import os\nfrom collections import '), lineMode: 'single' })).toBe('');
    expect(postprocess('from contextlib import contextmanager', { ...py('import os\r\nfrom collections import ', '\r\n'), lineMode: 'single' })).toBe('');
    expect(postprocess('defaultdict', { ...py('import os\r\nfrom collections import ', '\r\n'), lineMode: 'single' })).toBe('defaultdict');
  });

  test('never throws on broken input', () => {
    const broken = [
      { prefix: 'class { (( "x\n  return ', suffix: ']]] `', languageId: 'typescriptreact' },
      { prefix: 'def (((:\n  from ', suffix: '"""', languageId: 'python' },
      { prefix: '\u0000\uD800 import ', suffix: '\uDC00', languageId: 'javascript' },
      { prefix: 'x = ', suffix: '', languageId: '__proto__' },
    ];
    for (const ctx of broken) for (const text of ['return x', 'import os', 'from a import b', '']) expect(() => dropStatementBreak(text, ctx)).not.toThrow();
  });
});
