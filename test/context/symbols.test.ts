// Imports, definitions and nearby identifiers read with tree-sitter (pure, fixtures inline).
import { describe, expect, test } from 'vitest';
import { extractDefinitions, identifiersNear, importsOf } from '../../server/src/context/index.js';

describe('importsOf', () => {
  test('ES modules: named (with alias), default, namespace; CommonJS require (whole and destructured)', () => {
    const ts = [
      "import { foo, bar as baz } from './util.js';",
      "import Def, * as ns from '../x';",
      "const path = require('path');",
      "const { a, b: c } = require('./cjs');",
      'export function go() { return foo(1); }',
    ].join('\n');
    expect(importsOf(ts, 'typescript')).toEqual([
      { source: './util.js', bindings: [{ local: 'foo', imported: 'foo' }, { local: 'baz', imported: 'bar' }] },
      { source: '../x', bindings: [{ local: 'Def', imported: 'default' }, { local: 'ns', imported: '*' }] },
      { source: 'path', bindings: [{ local: 'path', imported: '*' }] },
      { source: './cjs', bindings: [{ local: 'a', imported: 'a' }, { local: 'c', imported: 'b' }] },
    ]);
  });

  test('Python: relative and absolute from-imports, import with alias', () => {
    const py = 'from .util import foo, bar as baz\nfrom ..pkg.mod import X\nimport numpy as np\nimport os.path\n';
    expect(importsOf(py, 'python')).toEqual([
      { source: '.util', bindings: [{ local: 'foo', imported: 'foo' }, { local: 'baz', imported: 'bar' }] },
      { source: '..pkg.mod', bindings: [{ local: 'X', imported: 'X' }] },
      { source: 'numpy', bindings: [{ local: 'np', imported: '*' }] },
      { source: 'os.path', bindings: [{ local: 'os', imported: '*' }] },
    ]);
  });

  test('broken code gives what parses, never throws', () => {
    expect(importsOf("import { a from './x'\nconst = (", 'typescript')).toBeInstanceOf(Array);
    expect(importsOf('from . import (\n', 'python')).toBeInstanceOf(Array);
    expect(importsOf('', 'javascript')).toEqual([]);
  });
});

describe('extractDefinitions', () => {
  const lib = [
    "import x from 'y';",
    'export function add(a: number, b = 2): number {',
    '  return a + b;',
    '}',
    'export const len = (s: string) => s.length;',
    'export class Bag {',
    '  private n = 0;',
    '  constructor(readonly name: string) {}',
    '  put(x: number): this {',
    '    this.n += x;',
    '    return this;',
    '  }',
    '  take(x: number): void {',
    '    this.n -= x;',
    '  }',
    '}',
    'export type Id = string | number;',
    'export default Bag;',
  ].join('\n');

  test('small definitions whole, large ones as signatures with member signatures; default export resolved', () => {
    const defs = extractDefinitions(lib, 'typescript', ['add', 'len', 'Bag', 'Id', 'default', 'missing'], 6);
    const byName = Object.fromEntries(defs.map((d) => [d.name, d.text]));
    expect(byName['add']).toBe('export function add(a: number, b = 2): number {\n  return a + b;\n}');
    expect(byName['len']).toBe('export const len = (s: string) => s.length;');
    expect(byName['Id']).toBe('export type Id = string | number;');
    expect(byName['Bag']).toBe(
      ['export class Bag {', '  private n = 0', '  constructor(readonly name: string) { … }', '  put(x: number): this { … }', '  take(x: number): void { … }', '}'].join('\n'),
    );
    expect(byName['default']).toBe(byName['Bag']);
    expect(byName['missing']).toBeUndefined();
    // File order.
    expect(defs.map((d) => d.line)).toEqual([...defs.map((d) => d.line)].sort((a, b) => a - b));
  });

  test('a member under its class line', () => {
    const [put] = extractDefinitions(lib, 'typescript', ['Bag.put']);
    expect(put!.text).toBe('export class Bag {\n  put(x: number): this {\n    this.n += x;\n    return this;\n  }\n}');
  });

  test('CommonJS: module.exports target, prototype members, exports.x', () => {
    const cjs = [
      'function Thing(opts) {',
      '  this.opts = opts;',
      '}',
      'Thing.prototype.run = function (x) {',
      '  return x * 2;',
      '};',
      'exports.helper = function helper(a, b) { return a + b; };',
      'module.exports = Thing;',
    ].join('\n');
    const defs = extractDefinitions(cjs, 'javascript', ['default', 'default.run', 'helper']);
    expect(defs.map((d) => [d.name, d.line])).toEqual([
      ['default', 0],
      ['default.run', 3],
      ['helper', 6],
    ]);
    expect(defs[1]!.text).toContain('Thing.prototype.run = function (x)');
  });

  test('Python: functions, classes (signatures when long), module constants', () => {
    const py = ['MAX = 10', 'def foo(a, b=2):', '    return a + b', '', 'class Big:', '    def __init__(self, name):', '        self.name = name', '    def add(self, x):', '        return x'].join('\n');
    const defs = extractDefinitions(py, 'python', ['MAX', 'foo', 'Big'], 3);
    expect(defs.map((d) => d.text)).toEqual(['MAX = 10', 'def foo(a, b=2):\n    return a + b', 'class Big:\n    def __init__(self, name): ...']);
  });

  test('broken code never throws', () => {
    expect(() => extractDefinitions('export function (( {', 'typescript', ['x'])).not.toThrow();
    expect(() => extractDefinitions('def f(:\n  class', 'python', ['f'])).not.toThrow();
  });
});

test('identifiersNear: nearest lines first, member accesses as a.b, deduplicated', () => {
  const ids = identifiersNear('far = 1\nconst x = 1;\nconst y = ns.call(foo', ')\nnext();', 1, 1);
  expect(ids).toEqual(['const', 'y', 'ns', 'ns.call', 'foo', 'x', 'next']);
  expect(ids).not.toContain('far');
});
