// Every command script under native/ and bench/ answers `--help` with its usage and exit 0, without doing anything
// else: no model loaded, no benchmark started, no file written (Python's without its ML packages imported, as
// train_tokenizer.py and prepare.py first did).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Scripts that are not commands: libraries, worker children, files other scripts source, Python unit tests. */
const NOT_COMMANDS = new Set([
  'bench/lib/data.mjs',
  'bench/lib/help.mjs',
  'bench/lib/lsp.mjs',
  'bench/lib/similarity.mjs',
  'bench/lib/stats.mjs',
  'bench/lib/top2.mjs',
  'bench/replay/session.mjs', // options of replay.mjs / fim-tokens.mjs / keystroke-profile.mjs
  'bench/crossfile/tasks.mjs', // shared by run.mjs and typing.mjs
  'bench/team/llama-server.mjs', // used by team/replay.mjs and a test
  'bench/realmodels/worker-llama.mjs',
  'bench/realmodels/worker-ort.mjs',
  'bench/runtime/worker-llama.mjs',
  'bench/runtime/worker-ort.mjs',
  'bench/accelerators/twin-prefill.mjs', // imported by critiprefill.mjs / lazyllm.mjs
  'bench/realmodels/gpu-rt.sh', // sourced by the GPU jobs
  'bench/device/setup.sh', // sourced
  'native/py/data.py',
  'native/py/dedup.py',
  'native/py/model.py',
  'native/py/onnx_builder.py',
  'native/py/e2e_adapt_repo.py', // python3 -m unittest
]);

function scripts(): string[] {
  const listed = spawnSync('git', ['ls-files', 'native', 'bench'], { cwd: root, encoding: 'utf8' }).stdout.split('\n');
  return listed.filter((f) => /\.(mjs|sh|py)$/.test(f) && !f.startsWith('bench/results/') && !/(^|\/)test_[^/]+\.py$/.test(f) && !NOT_COMMANDS.has(f));
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-help-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', HOME: home, XDG_STATE_HOME: path.join(home, 'state'), XDG_CACHE_HOME: path.join(home, 'cache') };
const status = () => spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: root, encoding: 'utf8' }).stdout;

/** The script's leading comment (docstring for Python), first line: what a header-printing --help starts with. */
function headerFirstLine(file: string): string {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n').filter((l, i) => !(i === 0 && l.startsWith('#!')));
  return (lines[0] ?? '').replace(/^(\/\/|#) ?/, '').trim();
}

describe('--help of native/ and bench/ scripts', () => {
  const all = scripts();

  it('finds the scripts (a sanity check of the listing)', () => {
    expect(all).toContain('native/py/bpe.py');
    expect(all).toContain('native/py/v2_shape.py');
    expect(all).toContain('native/py/dequant_graph.py');
    expect(all).toContain('bench/quality/score.mjs');
    expect(all).toContain('bench/cpu/avx2.sh');
    expect(all.length).toBeGreaterThan(90);
  });

  it.each(all)('%s --help prints its usage, exits 0 and writes nothing', (file) => {
    const before = status();
    const interpreter = file.endsWith('.py') ? 'python3' : file.endsWith('.sh') ? 'bash' : process.execPath;
    const run = spawnSync(interpreter, [file, '--help'], { cwd: root, env, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    expect(run.error, run.stderr).toBeUndefined();
    expect(run.status, run.stderr.slice(-800)).toBe(0);
    const out = run.stdout.trimStart();
    if (!/^usage: /i.test(out)) expect(out.startsWith(headerFirstLine(file)), out.slice(0, 300)).toBe(true);
    expect(out.length).toBeGreaterThan(20);
    expect(status()).toBe(before);
  }, 40_000);
});
