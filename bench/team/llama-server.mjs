// Starts a real llama-server (built by .ci/llama-server.sh from node-llama-cpp's llama.cpp source) on a free
// loopback port, serving models/default converted to GGUF. Used by bench/team/replay.mjs and
// test/e2e/llama-server-backend.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Paths of the cached llama-server binary and of models/default's GGUF; builds/converts them when missing
 * (the build takes minutes; later calls well under a second).
 * @returns {{ bin: string, gguf: string }}
 */
export function llamaServerPaths(model = path.join(ROOT, 'models', 'default')) {
  const run = (args) => execFileSync('bash', [path.join(ROOT, '.ci', 'llama-server.sh'), ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
  return { bin: run([]), gguf: run(['--gguf', model]) };
}

/**
 * Starts llama-server on 127.0.0.1 (port chosen by the server) and resolves once its /health answers 200.
 * @param {{ parallel?: number, ctxPerSlot?: number, threads?: number, spm?: boolean, apiKey?: string, extra?: string[] }} [o]
 *   parallel: slots (`--parallel`); ctxPerSlot: context tokens per slot (`-c` = parallel × this); threads: `-t`.
 * @returns {Promise<{ url: string, child: import('node:child_process').ChildProcess, log: () => string, stop: () => Promise<void> }>}
 */
export async function startLlamaServer(o = {}) {
  const { bin, gguf } = llamaServerPaths();
  const parallel = o.parallel ?? 1;
  const args = ['-m', gguf, '--host', '127.0.0.1', '--port', '0', '--parallel', String(parallel), '-c', String(parallel * (o.ctxPerSlot ?? 2048)),
    '-t', String(o.threads ?? 1), '--no-webui', '--no-warmup', ...(o.spm ? ['--spm-infill'] : []), ...(o.apiKey ? ['--api-key', o.apiKey] : []), ...(o.extra ?? [])];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 120_000;
  let url = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`llama-server exited with ${child.exitCode}: ${log.slice(-2000)}`);
    const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
    if (m) url = m[1];
    if (url) {
      const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (ok) return { url, child, log: () => log, stop };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`llama-server did not become healthy in 120 s: ${log.slice(-2000)}`);
}
