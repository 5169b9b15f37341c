// The repository-adaptation command (native/adapt-repo.sh), the parts that need no PyTorch: which files of a
// repository it trains on (the corpus filters, no links followed, nothing read outside the repository) and its
// refusals to write into the repository, into the base model or over a non-empty directory, none of which
// touches a file. PyTorch is not a CI dependency: the training run itself (loss decreases on the repository's
// text, the output loads and completes, the repository unchanged) is native/py/e2e_adapt_repo.py, run where
// Debian's python3-torch is installed (native/README.md, "Adapt the model to one repository").

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
let tmp: string;
let repo: string;

const TS = `export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function sub(a: number, b: number): number {\n  return a - b;\n}\n\n// more text so that the file is over the corpus's 200-byte minimum\nexport const answer = add(40, 2);\n`;
const PY = `def mean(xs):\n    """Arithmetic mean of a non-empty list."""\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n\n\ndef median(xs):\n    s = sorted(xs)\n    n = len(s)\n    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n`;

function write(rel: string, text: string) {
  fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  fs.writeFileSync(path.join(repo, rel), text);
}

/** path -> sha256 of every file (and link target) under dir: the repository's state. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isSymbolicLink()) out[r] = `link:${fs.readlinkSync(path.join(dir, r))}`;
      else out[r] = createHash('sha256').update(fs.readFileSync(path.join(dir, r))).digest('hex');
    }
  };
  walk('');
  return out;
}

function repoFiles(dir: string, ...args: string[]) {
  const run = spawnSync('node', ['native/tools/repo-files.mjs', dir, ...args], { cwd: root, encoding: 'utf8' });
  const records = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pkg: string; path: string; lang: string; text: string });
  return { run, records };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adapt-repo-test-'));
  repo = path.join(tmp, 'tiny-repo');
  write('src/math.ts', TS);
  write('src/stats.py', PY);
  write('src/math.d.ts', 'export declare function add(a: number, b: number): number;\n'.repeat(5));
  write('dist/app.min.js', 'var a=1;'.repeat(200));
  write('node_modules/dep/index.js', TS.replace('add', 'depAdd'));
  write('src/gen.ts', `// This file is auto-generated. Do not edit.\n${TS}`);
  write('tiny.ts', 'export const x = 1;\n');
  fs.writeFileSync(path.join(tmp, 'outside.ts'), TS.replace('add', 'outsideSecret'));
  fs.symlinkSync(path.join(tmp, 'outside.ts'), path.join(repo, 'src/link.ts'));
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('native/tools/repo-files.mjs', () => {
  it('keeps the sources the training corpus would keep, follows no link, and changes nothing', () => {
    const before = snapshot(repo);
    const { run, records } = repoFiles(repo, '--name', 'tiny-repo');
    expect(run.status, run.stderr).toBe(0);
    expect(records.map((r) => r.path).sort()).toEqual(['src/math.ts', 'src/stats.py']);
    expect(records.find((r) => r.path === 'src/math.ts')).toMatchObject({ pkg: 'tiny-repo', lang: 'typescript', text: TS });
    expect(records.find((r) => r.path === 'src/stats.py')).toMatchObject({ lang: 'python', text: PY });
    expect(run.stdout).not.toContain('outsideSecret');
    expect(run.stderr).toMatch(/dts/);
    expect(run.stderr).toMatch(/generated/);
    expect(snapshot(repo)).toEqual(before);
  });

  it('refuses a hard-excluded package name and a missing directory with a clear error', () => {
    const ex = repoFiles(repo, '--name', 'rxjs');
    expect(ex.run.status).toBe(2);
    expect(ex.run.stderr).toMatch(/rxjs is excluded/);
    expect(ex.records).toEqual([]);
    const missing = repoFiles(path.join(tmp, 'no-such-dir'));
    expect(missing.run.status).toBe(2);
    expect(missing.run.stderr).toMatch(/not a directory/);
  });
});

describe('native/adapt-repo.sh refusals (before any training)', () => {
  function adapt(out: string, ...args: string[]) {
    return spawnSync('bash', ['native/adapt-repo.sh', repo, out, '--steps', '1', ...args], { cwd: root, encoding: 'utf8' });
  }

  it('will not write into the repository, into the base model or over a non-empty directory', () => {
    const before = snapshot(repo);
    const base = snapshot(path.join(root, 'models/default'));
    const inRepo = adapt(path.join(repo, 'adapted'));
    expect(inRepo.status).not.toBe(0);
    expect(inRepo.stderr).toMatch(/overlaps the repository/);
    const inBase = adapt(path.join(root, 'models/default/adapted'));
    expect(inBase.status).not.toBe(0);
    expect(inBase.stderr).toMatch(/overlaps the base model directory/);
    const full = path.join(tmp, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'notes.txt'), 'mine');
    const notEmpty = adapt(full);
    expect(notEmpty.status).not.toBe(0);
    expect(notEmpty.stderr).toMatch(/exists and is not empty/);
    expect(fs.readdirSync(full)).toEqual(['notes.txt']);
    expect(fs.readFileSync(path.join(full, 'notes.txt'), 'utf8')).toBe('mine');
    const noData = adapt(path.join(tmp, 'fresh'), '--replay', '0.25');
    expect(noData.status).not.toBe(0);
    expect(noData.stderr).toMatch(/--replay needs --replay-data/);
    expect(fs.existsSync(path.join(tmp, 'fresh'))).toBe(false);
    expect(fs.existsSync(path.join(repo, 'adapted'))).toBe(false);
    expect(snapshot(repo)).toEqual(before);
    expect(snapshot(path.join(root, 'models/default'))).toEqual(base);
  }, 180_000); // each call starts node and a python that may import torch (seconds on a loaded machine)

  it('prints its usage without the two directories', () => {
    const run = spawnSync('bash', ['native/adapt-repo.sh', repo], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/adapt-repo\.sh REPO_DIR OUT_DIR/);
  });
});
