// bench/quality/run.sh as a fresh clone meets it: --help is help (not a model folder), and HumanEval suites whose data
// is absent are skipped with a message while the results file is still written.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../bench/quality/run.sh', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-quality-run-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('bench/quality/run.sh', () => {
  it('--help and -h print the usage and exit 0; another option is refused with exit code 2', () => {
    for (const flag of ['--help', '-h']) {
      const r = run([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: bash bench\/quality\/run\.sh \[MODEL_DIR\] \[NAME\] \[SUITES\.\.\.\]/);
    }
    const bad = run(['--model', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown option --model/);
  });

  it('skips HumanEval suites whose data is absent, says why, and still writes the results file', () => {
    const tasks = path.join(tmp, 'tasks');
    const results = path.join(tmp, 'results');
    const r = run(['models/default', 'skiptest', 'humaneval-single', 'humaneval-multi'], {
      QUALITY_TASKS_DIR: tasks,
      QUALITY_RESULTS_DIR: results,
      HUMANEVAL_DIR: path.join(tmp, 'no-humaneval'),
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`skip humaneval-single: HumanEval infilling data not found under ${path.join(tmp, 'no-humaneval')} (set HUMANEVAL_DIR)`);
    expect(r.stderr).not.toMatch(/file not found/);
    const written = JSON.parse(fs.readFileSync(path.join(results, 'quality-skiptest.json'), 'utf8'));
    expect(written.suites).toEqual({});
    expect(written.skipped).toHaveLength(2);
    expect(written.skipped[1]).toMatch(/^humaneval-multi: HumanEval infilling data not found/);
    // The dev suites were built for later runs.
    expect(fs.readdirSync(tasks).sort()).toEqual(['dev-py-multi.jsonl', 'dev-py-single.jsonl', 'dev-ts-multi.jsonl', 'dev-ts-single.jsonl']);
  });
});
