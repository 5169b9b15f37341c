// Shared by the headless-Neovim tests: the sample buffer and keys, the "Neovim must be there" check, and running
// `nvim --headless --clean -u INIT FILE` with a hard timeout.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

/** The file Neovim opens; the tests type a second function below it. */
export const ORIGINAL = '// Small math helpers.\n\nexport function square(x: number): number {\n  return x * x;\n}\n';
/** Keys typed in Neovim (normal mode → `o` opens lines → insert mode); indenting is Neovim's own. */
export const KEYS = 'Go<CR>export function add(a: number, b: number): number {<CR>return ';

/** `nvim --version`'s first line, or a failure that says how to get Neovim: these tests never skip. */
export function requireNvim(testFile: string): string {
  const probe = spawnSync('nvim', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `${testFile} needs Neovim (nvim) on PATH, and it is missing or broken (${probe.error?.message ?? `exit ${probe.status}`}). ` +
        'Install Debian\'s package: apt-get install -y neovim (.ci/install-editors.sh does this).',
    );
  }
  return probe.stdout.split('\n', 1)[0]!;
}

/** Runs headless Neovim on `file` with the init script `init`; kills it after `timeoutMs`. */
export function runNvim(init: string, file: string, env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('nvim', ['--headless', '--clean', '-u', init, file], {
      cwd: path.dirname(file),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Neovim did not finish within ${timeoutMs} ms and was killed; stdout: ${stdout.slice(-2000)}; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
