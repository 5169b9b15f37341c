// Issue 13 items 1–2: loading the runtime makes no network calls and writes nothing outside the workspace (traced).
//
// A child process loads onnxruntime-node through server/dist/runtime/ort.js (the server's only route to it) with an
// empty temporary HOME and creates a session on a fixture model. Under strace (when installed) every openat,
// connect and socket call is recorded. The control run loads onnxruntime-node directly, without the
// ORT_DISABLE_TELEMETRY switch, and must show the telemetry files: it proves the probe sees telemetry on this platform.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const model = path.join(root, 'test/fixtures/models/llama/onnx/model.onnx');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Probe {
  pid: number;
  homeFiles: string[];
  /** strace lines, [] without strace. */
  trace: string[];
  matDebugLog: boolean;
}

/** Runs `importLine` then creates a session on the fixture model, in a child with an empty HOME. */
function probe(importLine: string, env: NodeJS.ProcessEnv): Probe {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-home-'));
  dirs.push(home);
  const script = path.join(home, 'probe.mjs');
  fs.writeFileSync(script, `${importLine}\nconst s = await ort.InferenceSession.create(${JSON.stringify(model)});\nif (s.inputNames.length === 0) process.exit(3);\nconsole.log(process.pid);\n`);
  const traceFile = path.join(home, 'trace.txt');
  const strace = hasStrace();
  const cmd = strace ? 'strace' : process.execPath;
  const args = strace ? ['-f', '-qq', '-e', 'trace=openat,open,creat,connect,socket', '-o', traceFile, process.execPath, script] : [script];
  const started = Date.now();
  const run = spawnSync(cmd, args, { env: { ...env, HOME: home, XDG_CACHE_HOME: '' }, encoding: 'utf8', cwd: root });
  expect(run.status, run.stderr).toBe(0);
  const pid = Number(run.stdout.trim().split('\n').pop());
  const homeFiles = (fs.readdirSync(home, { recursive: true }) as string[]).filter((f) => f !== 'probe.mjs' && f !== 'trace.txt');
  const trace = strace ? fs.readFileSync(traceFile, 'utf8').split('\n') : [];
  const matLog = path.join(os.tmpdir(), `mat-debug-${pid}.log`);
  // With strace, what any thread opened; without, a log for this pid written since the child started (an old
  // process with the same pid may have left one).
  const fresh = fs.existsSync(matLog) && fs.statSync(matLog).mtimeMs >= started - 1000;
  const matDebugLog = strace ? trace.some((l) => l.includes('mat-debug-')) : fresh;
  if (fresh) fs.rmSync(matLog);
  return { pid, homeFiles, trace, matDebugLog };
}

/**
 * The variables onnxruntime's native library reads to detect a CI service (their names are in its strings, next
 * to the telemetry code): with any of them set it stays quiet, so both runs drop them to behave as on a user's
 * machine. Without this the control fails under CI=true, and the first test would pass without proving anything.
 */
const CI_VARIABLES = ['CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID', 'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER'];

const baseEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.ORT_DISABLE_TELEMETRY;
  for (const name of CI_VARIABLES) delete env[name];
  return env;
};

describe('onnxruntime telemetry', () => {
  it('is off when the runtime is loaded through runtime/ort.ts: no network, no files under HOME, no /tmp/mat-debug log', () => {
    const ortModule = pathToFileURL(path.join(root, 'server/dist/runtime/ort.js')).href;
    const p = probe(`import { InferenceSession } from ${JSON.stringify(ortModule)}; const ort = { InferenceSession };`, baseEnv());
    expect(p.homeFiles).toEqual([]);
    expect(p.matDebugLog).toBe(false);
    // Network: no socket of an internet family, no connect at all (the trace covers every thread and child).
    expect(p.trace.filter((l) => /\bconnect\(|socket\(AF_INET/.test(l))).toEqual([]);
    expect(p.trace.filter((l) => /Microsoft|\.onnxruntime/.test(l))).toEqual([]);
  });

  it('control: onnxruntime-node loaded without the switch writes its event store (the probe can fail)', () => {
    const ortEntry = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
    const p = probe(`import ortModule from ${JSON.stringify(ortEntry)}; const ort = ortModule;`, baseEnv());
    expect(p.homeFiles.some((f) => f.includes(path.join('.cache', 'Microsoft')))).toBe(true);
    expect(p.matDebugLog).toBe(true);
  });
});
