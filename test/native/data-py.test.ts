// native/py's unit tests, test_*.py (issue 16's repository-level training sequences: <repo_name>/<file_sep> with FIM in the
// last file; the corpus builders' deduplication) run inside `npm test`, so the toolchain's data layout is checked where the server's prompt layout is.
// Python with numpy comes from .ci/test-deps.sh (.ci/llama-server.sh --gguf installs Debian's python3-numpy).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

function pythonWithNumpy(): string {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !fs.existsSync(py)) continue;
    if (spawnSync(py, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0) return py;
  }
  throw new Error('native/py tests need python3 with numpy (Debian: apt-get install python3-numpy)');
}

it('native/py/test_*.py pass: repository-level sequences with FIM in the last file, corpus deduplication', () => {
  const run = spawnSync(pythonWithNumpy(), ['-m', 'unittest', 'discover', '-s', 'native/py', '-p', 'test_*.py', '-v'], { cwd: root, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  // unittest prints "Ran N tests"; all of their cases (5 in test_data.py, 1 in test_dedup.py) must have run, not an empty discovery.
  const ran = Number(/Ran (\d+) tests?/.exec(run.stderr)?.[1] ?? 0);
  expect(ran).toBeGreaterThanOrEqual(6);
}, 60_000);
