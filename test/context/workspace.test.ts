// Workspace containment with real files and symlinks in a temp dir, and import-specifier resolution.
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { WorkspaceFiles, isWithin, moduleCandidates } from '../../server/src/context/index.js';

const base = mkdtempSync(path.join(tmpdir(), 'infill-ls-ws-'));
const root = path.join(base, 'repo');
const outside = path.join(base, 'secret');
mkdirSync(path.join(root, 'src'), { recursive: true });
mkdirSync(outside, { recursive: true });
writeFileSync(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
writeFileSync(path.join(outside, 'key.ts'), 'export const key = "hunter2";\n');
writeFileSync(path.join(root, 'big.ts'), 'x'.repeat(5000));
writeFileSync(path.join(root, 'bin.ts'), 'a\u0000b');
symlinkSync(path.join(outside, 'key.ts'), path.join(root, 'src', 'link-out.ts'));
symlinkSync(outside, path.join(root, 'dir-out'));
symlinkSync(path.join(root, 'src', 'a.ts'), path.join(root, 'link-in.ts'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('WorkspaceFiles', () => {
  const files = new WorkspaceFiles([root], { maxFileBytes: 1024 });

  test('reads a file under the root and a symlink that stays inside it', async () => {
    expect(await files.read(path.join(root, 'src', 'a.ts'))).toBe('export const a = 1;\n');
    expect(await files.read(path.join(root, 'link-in.ts'))).toBe('export const a = 1;\n');
    expect(files.relative(path.join(root, 'src', 'a.ts'))).toBe('src/a.ts');
  });

  test('never reads outside: ../ paths, symlinked files and directories pointing out, other absolute paths', async () => {
    expect(await files.read(path.join(root, '..', 'secret', 'key.ts'))).toBeUndefined();
    expect(await files.read(path.join(root, 'src', 'link-out.ts'))).toBeUndefined();
    expect(await files.read(path.join(root, 'dir-out', 'key.ts'))).toBeUndefined();
    expect(await files.read(path.join(outside, 'key.ts'))).toBeUndefined();
    expect(files.relative(path.join(outside, 'key.ts'))).toBeUndefined();
  });

  test('bounded: too large, binary, missing and directories give undefined', async () => {
    expect(await files.read(path.join(root, 'big.ts'))).toBeUndefined();
    expect(await files.read(path.join(root, 'bin.ts'))).toBeUndefined();
    expect(await files.read(path.join(root, 'nope.ts'))).toBeUndefined();
    expect(await files.read(path.join(root, 'src'))).toBeUndefined();
  });

  test('no roots: nothing is read; relative roots are ignored', async () => {
    expect(await new WorkspaceFiles([]).read(path.join(root, 'src', 'a.ts'))).toBeUndefined();
    expect(new WorkspaceFiles(['repo']).roots).toEqual([]);
  });

  test('isWithin', () => {
    expect(isWithin('/a/b', '/a/b/c')).toBe(true);
    expect(isWithin('/a/b', '/a/b')).toBe(true);
    expect(isWithin('/a/b', '/a/bc')).toBe(false);
    expect(isWithin('/a/b', '/a')).toBe(false);
  });
});

describe('moduleCandidates', () => {
  test('TS/JS: relative only, .js maps to .ts first, index files', () => {
    const c = moduleCandidates('/r/src/a.ts', './util.js', 'typescript', ['/r']);
    expect(c.slice(0, 3)).toEqual(['/r/src/util.ts', '/r/src/util.tsx', '/r/src/util.js']);
    const d = moduleCandidates('/r/src/a.ts', '../lib/x', 'typescript', ['/r']);
    expect(d).toContain('/r/lib/x.ts');
    expect(d).toContain('/r/lib/x/index.ts');
    expect(moduleCandidates('/r/src/a.ts', 'lodash', 'typescript', ['/r'])).toEqual([]);
  });

  test('Python: relative from the package, absolute from the roots', () => {
    expect(moduleCandidates('/r/pkg/a.py', '.util', 'python', ['/r'])).toEqual(['/r/pkg/util.py', '/r/pkg/util/__init__.py']);
    expect(moduleCandidates('/r/pkg/sub/a.py', '..m', 'python', ['/r'])).toEqual(['/r/pkg/m.py', '/r/pkg/m/__init__.py']);
    expect(moduleCandidates('/r/pkg/a.py', 'pkg.util', 'python', ['/r'])[0]).toBe('/r/pkg/util.py');
  });
});
