// Shared by the VS Code tests: finding code-server + playwright-core + Chromium (installed by
// .ci/install-editors.sh), packaging the extension, and running code-server on loopback with its own dirs.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './spawn.js';

/** Where .ci/install-editors.sh puts code-server (same default and variable as the script). */
export function editorsDir(): string {
  return process.env.INFILL_LS_EDITORS_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'infill-ls-editors');
}

/** The part of playwright-core's API the tests use (it is loaded from the editors folder, not a dependency). */
export interface Playwright {
  chromium: { launch(options: { executablePath: string; args: string[]; headless: boolean }): Promise<any> };
}

export interface Editors {
  codeServer: string;
  chromium: string;
  playwright: Playwright;
  version: string;
}

/** code-server, Chromium and playwright-core, or a failure that names the install script: these tests never skip. */
export function requireEditors(testFile: string): Editors {
  const dir = editorsDir();
  const codeServer = path.join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const problems: string[] = [];
  if (!fs.existsSync(path.join(dir, 'installed.txt'))) problems.push(`no finished install in ${dir}`);
  if (!fs.existsSync(codeServer)) problems.push(`${codeServer} is missing`);
  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
  if (chromium === undefined) problems.push('chromium is not installed');
  let playwright: Playwright | undefined;
  try {
    playwright = createRequire(path.join(dir, 'package.json'))('playwright-core') as Playwright;
  } catch (err) {
    problems.push(`playwright-core does not load from ${dir} (${(err as Error).message.split('\n')[0]})`);
  }
  let version = '';
  if (problems.length === 0) {
    const probe = spawnSync(process.execPath, [codeServer, '--version'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status !== 0) problems.push(`code-server --version failed: ${probe.error?.message ?? probe.stderr.slice(-500)}`);
    version = probe.stdout.split('\n', 1)[0] ?? '';
  }
  if (problems.length > 0 || playwright === undefined || chromium === undefined) {
    throw new Error(
      `${testFile} needs code-server 4.100.3, playwright-core and Chromium, and ${problems.join('; ')}. ` +
        'Install them with: bash .ci/install-editors.sh (apt packages + about 6 minutes of npm; .ci/run does this; ' +
        'INFILL_LS_EDITORS_DIR picks the folder).',
    );
  }
  return { codeServer, chromium, playwright, version };
}

/**
 * Builds the self-contained .vsix with the repository's own packaging script; returns its path. The server
 * in it is the server/dist that test/global-setup.ts built (recompiling it here would race with other
 * test files starting the server from server/dist).
 */
export function packageVsix(outDir: string): Promise<string> {
  const out = path.join(outDir, 'infill-ls.vsix');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'client', 'vscode', 'scripts', 'package.mjs'), '--no-server-build', '--out', out], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`packaging the extension failed: ${err.message}\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
      else resolve(out);
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface CodeServerDirs {
  userDataDir: string;
  extensionsDir: string;
  configFile: string;
}

function baseArgs(dirs: CodeServerDirs): string[] {
  return [
    '--config', dirs.configFile,
    '--user-data-dir', dirs.userDataDir,
    '--extensions-dir', dirs.extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
  ];
}

/** `code-server --install-extension VSIX` into the test's own dirs. */
export function installExtension(editors: Editors, dirs: CodeServerDirs, vsix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [editors.codeServer, ...baseArgs(dirs), '--install-extension', vsix], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`code-server --install-extension failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

export interface RunningCodeServer {
  url: string;
  child: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/** Starts code-server on a free loopback port without auth, opening `folder`; resolves once it listens. */
export async function startCodeServer(editors: Editors, dirs: CodeServerDirs, folder: string, extraArgs: string[] = []): Promise<RunningCodeServer> {
  const port = await freePort();
  fs.writeFileSync(dirs.configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const child = spawn(process.execPath, [editors.codeServer, ...baseArgs(dirs), ...extraArgs, folder], {
    env: { ...process.env, PASSWORD: '', CS_DISABLE_GETTING_STARTED_OVERRIDE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() ends the extension host and the language server too
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not listen within 60 s; log: ${log.slice(-3000)}`)), 60_000);
    const check = (): void => {
      if (/HTTP server listening on/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code} before listening; log: ${log.slice(-3000)}`));
    });
  });
  return { url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`, child, log: () => log, stop };
}

/** Chromium flags for a headless, quiet, offline browser (editors.md). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
