// Helpers to run the built infill-ls binary as a child process and talk LSP to it over stdio.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createProtocolConnection, type ProtocolConnection } from 'vscode-languageserver/node';
import { Waiters } from '../support/waiters.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'infill-ls.js');
export const FIXTURE_MODEL = path.join(ROOT, 'test', 'fixtures', 'models', 'llama');

export interface LspProcess {
  child: ChildProcessWithoutNullStreams;
  client: ProtocolConnection;
  notifications: Array<{ method: string; params: any }>;
  stderr: () => string;
  waitFor(method: string, predicate?: (params: any) => boolean, timeoutMs?: number): Promise<any>;
  exited: Promise<number | null>;
}

export function spawnLsp(args: string[], env: NodeJS.ProcessEnv = {}): LspProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const client = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const notifications: LspProcess['notifications'] = [];
  const waiters = new Waiters();
  client.onNotification((method: string, params: unknown) => {
    notifications.push({ method, params });
    waiters.notify();
  });
  client.onRequest(() => null);
  client.listen();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    client,
    notifications,
    stderr: () => err,
    exited,
    waitFor(method, predicate = () => true, timeoutMs = 15_000) {
      return waiters
        .until(
          () => notifications.find((n) => n.method === method && predicate(n.params)),
          timeoutMs,
          () => new Error(`timed out waiting for ${method}; got ${JSON.stringify(notifications).slice(0, 800)}; stderr: ${err.slice(-800)}`),
        )
        .then((hit) => hit.params);
    },
  };
}

/** Starts `serve --ws` and resolves with the URL it prints. */
export function spawnWs(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stdout: () => string; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--ws', '--port', '0', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed; stdout: ${out}; stderr: ${err}`)), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening on (ws:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], stdout: () => out, stderr: () => err, exited });
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}; stdout: ${out}; stderr: ${err}`)));
  });
}
