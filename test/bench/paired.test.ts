// bench/quality/score.mjs --per-task and bench/quality/paired.mjs --right-a/--right-b: execution-scored tasks
// (HumanEval's kind) are paired by whether each completion passed its tests, not by exact match with the reference.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCORE = fileURLToPath(new URL('../../bench/quality/score.mjs', import.meta.url));
const PAIRED = fileURLToPath(new URL('../../bench/quality/paired.mjs', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-paired-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (name: string, rows: object[]) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
};
const node = (script: string, args: string[]) => {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
};

describe('paired comparison of execution-scored tasks', () => {
  const test = 'def check(f):\n    assert f(1) == 2\n    assert f(5) == 6\n';
  const task = (id: string) => ({ id, kind: 'single', language: 'python', prefix: 'def inc(x):\n', suffix: '', reference: '    return x + 1', test, entry_point: 'inc' });
  const tasks = write('tasks.jsonl', [task('t1'), task('t2'), task('t3')]);
  // A: right, right (textually equal), wrong. B: wrong, right but not the reference's text, wrong.
  const a = write('a.jsonl', [{ id: 't1', raw: '    return x + 1' }, { id: 't2', raw: '    return x + 1' }, { id: 't3', raw: '    return x' }]);
  const b = write('b.jsonl', [{ id: 't1', raw: '    return x - 1' }, { id: 't2', raw: '    return 1 + x' }, { id: 't3', raw: '    return 0' }]);

  it('score.mjs writes one {id, right} line per task, right = passed its tests', () => {
    const ra = path.join(tmp, 'ra.jsonl');
    const rb = path.join(tmp, 'rb.jsonl');
    expect(node(SCORE, ['--tasks', tasks, '--pred', a, '--field', 'raw', '--per-task', ra]).pass_at_1).toBeCloseTo(2 / 3, 4);
    expect(node(SCORE, ['--tasks', tasks, '--pred', b, '--field', 'raw', '--per-task', rb]).pass_at_1).toBeCloseTo(1 / 3, 4);
    const rows = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).sort((x, y) => x.id.localeCompare(y.id));
    expect(rows(ra)).toEqual([{ id: 't1', right: true }, { id: 't2', right: true }, { id: 't3', right: false }]);
    expect(rows(rb)).toEqual([{ id: 't1', right: false }, { id: 't2', right: true }, { id: 't3', right: false }]);
  });

  it('paired.mjs counts by the recorded outcome with --right-a/--right-b, by exact match without', () => {
    const args = ['--tasks', tasks, '--a', a, '--b', b];
    const recorded = node(PAIRED, [...args, '--right-a', path.join(tmp, 'ra.jsonl'), '--right-b', path.join(tmp, 'rb.jsonl')]);
    expect({ both: recorded.both, only_a: recorded.only_a, only_b: recorded.only_b, neither: recorded.neither }).toEqual({ both: 1, only_a: 1, only_b: 0, neither: 1 });
    // Exact match does not know that `1 + x` passes: it counts t2 for A only.
    const exact = node(PAIRED, args);
    expect({ both: exact.both, only_a: exact.only_a, only_b: exact.only_b, neither: exact.neither }).toEqual({ both: 0, only_a: 2, only_b: 0, neither: 1 });
  });

  it('refuses one of --right-a/--right-b without the other', () => {
    const r = spawnSync(process.execPath, [PAIRED, '--tasks', tasks, '--a', a, '--b', b, '--right-a', path.join(tmp, 'ra.jsonl')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--right-a and --right-b go together');
  });
});
