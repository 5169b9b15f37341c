// The README's Quick start as a user runs it: `npm start` (the server the first command leaves running), then the
// README's WebSocket example, extracted from README.md and run as written against it. This is how CI exercises
// `npm start`, which cannot run in CI's foreground (.ci/run says why).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './spawn.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-quick-start-'));
// Inside the checkout (an ignored folder) so that the example's `import WebSocket from 'ws'` resolves as it does
// for a user who saves it in the infill-ls folder.
fs.mkdirSync(path.join(ROOT, '.work'), { recursive: true });
const exampleDir = fs.mkdtempSync(path.join(ROOT, '.work', 'quick-start-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  fs.rmSync(stateHome, { recursive: true, force: true });
  fs.rmSync(exampleDir, { recursive: true, force: true });
});

/** The first fenced block of `lang` after the line that starts with `heading`. */
function blockAfter(heading: string, lang: string): string {
  const at = README.split('\n').findIndex((l) => l.startsWith(heading));
  expect(at, `README line starting with ${JSON.stringify(heading)}`).toBeGreaterThanOrEqual(0);
  const rest = README.split('\n').slice(at + 1).join('\n');
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(rest);
  expect(m, `a \`\`\`${lang} block after ${heading}`).not.toBeNull();
  return m![1];
}

/** A user's environment: no token variable; the token lives under a fresh state folder. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: stateHome };
  delete env.INFILL_LS_TOKEN;
  delete env.INFILL_LS_LOG;
  return env;
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: userEnv(), detached: true });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} still running after ${timeoutMs} ms (the socket was not closed?)\nstdout: ${stdout}\nstderr: ${stderr}`)), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('README Quick start', () => {
  it('is two commands, and .ci/run runs them', () => {
    const commands = blockAfter('## Quick start', 'sh')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean);
    expect(commands).toEqual(['npm install && npm start', 'npm test']);
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8').split('\n').filter((l) => /^npm /.test(l));
    expect(ci).toEqual(['npm install', 'npm test']);
  });

  it('npm start serves the API quietly, and the README\'s WebSocket example gets candidates from it and exits', async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    // `-- --port 0`: the README's port 7733 may be taken on a shared machine; the example's URL is rewritten below.
    const server = spawn(npm, ['start', '--', '--port', '0'], { cwd: ROOT, env: userEnv(), detached: true });
    children.push(server);
    let out = '';
    let err = '';
    server.stdout.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 150_000;
    while (!(/listening on ws:\/\/\S+/.test(out) && /^infill-ls model: /m.test(err))) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`npm start did not get ready\nstdout: ${out}\nstderr: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /listening on (ws:\/\/\S+)/.exec(out)![1];
    // The banner says where the token is: generated on this first start, stored 0600 under XDG_STATE_HOME.
    const tokenFile = path.join(stateHome, 'infill-ls', 'token');
    expect(out).toContain(`saved with mode 0600 in ${tokenFile}`);
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);

    const example = blockAfter('Example (Node', 'js');
    expect(example).toContain("'ws://127.0.0.1:7733'");
    const file = path.join(exampleDir, 'example.mjs');
    fs.writeFileSync(file, example.replace("'ws://127.0.0.1:7733'", `'${url}'`));
    const result = await run(process.execPath, [file], 60_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // console.log of the candidates' texts: a non-empty array of strings (a manual trigger asks for three).
    expect(result.stdout).toMatch(/^\[ ['"`].+['"`] \]\n$/s);

    // A quiet, honest start: one status line (model, device, why), no provider-probe errors or warnings.
    const statusLines = err.split('\n').filter((l) => l.startsWith('infill-ls model: '));
    expect(statusLines).toHaveLength(1);
    expect(statusLines[0]).toMatch(/^infill-ls model: ready: models\/default: .+ on (cpu|webgpu)/);
    expect(err.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('infill-ls model: '))).toEqual([]);

    process.kill(-server.pid!, 'SIGINT'); // what Ctrl+C sends to the terminal's process group
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
    expect(stopped, 'npm start stops on Ctrl+C').toBe(true);
  }, 240_000);
});
