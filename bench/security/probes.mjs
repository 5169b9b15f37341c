#!/usr/bin/env node
// Issue 13's probes, kept so anyone can rerun them against the built server (a hostile local user and a careless
// client): telemetry and files written (strace when installed), /tmp symlinks, the token file, LSP and WebSocket
// protocol edges, language ids that are Object.prototype keys, per-connection limits. Each probe prints PASS or
// FAIL with what it saw; the exit code is the number of failures.
//
//   npm run build && node bench/security/probes.mjs [--out bench/results/security-probes]
import '../lib/help.mjs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/infill-ls.js');
const OUT = path.resolve(root, process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : 'bench/results/security-probes');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
function record(item, name, pass, seen) {
  results.push({ item, name, pass, seen });
  console.log(`${pass ? 'PASS' : 'FAIL'}  [${item}] ${name}: ${seen}`);
}
const tmp = (p) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const hasStrace = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const baseEnv = () => {
  const env = { ...process.env };
  delete env.ORT_DISABLE_TELEMETRY;
  delete env.INFILL_LS_TOKEN;
  return env;
};

/** An LSP client over a child's stdio speaking raw frames. */
function lspChild(args, env, wrapStrace) {
  const cmd = wrapStrace ? 'strace' : process.execPath;
  const argv = wrapStrace ? [...wrapStrace, process.execPath, bin, ...args] : [bin, ...args];
  const child = spawn(cmd, argv, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const messages = [];
  let buf = Buffer.alloc(0);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  child.stdout.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())?.[1]);
      if (buf.length < end + 4 + len) return;
      messages.push(JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()));
      buf = buf.subarray(end + 4 + len);
    }
  });
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    messages,
    exited,
    stderr: () => stderr,
    frame: (body, header) => child.stdin.write(`${header ?? `Content-Length: ${Buffer.byteLength(body)}`}\r\n\r\n${body}`),
    send(m) {
      this.frame(JSON.stringify(m));
    },
    async next(pred, ms = 60_000) {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        const m = messages.find(pred);
        if (m) return m;
        await sleep(20);
      }
      return undefined;
    },
  };
}
const INIT = (id = 'init') => ({ jsonrpc: '2.0', id, method: 'initialize', params: { processId: null, rootUri: null, capabilities: { textDocument: { inlineCompletion: {} } }, initializationOptions: { 'infill-ls': { debounce: 0, maxNewTokens: 4 } } } });

async function telemetryAndFiles() {
  const home = tmp('infill-probe-home-');
  const trace = path.join(home, 'trace.txt');
  const c = lspChild(['serve', '--stdio'], { ...baseEnv(), HOME: home, XDG_CACHE_HOME: '', XDG_STATE_HOME: '' }, hasStrace ? ['-f', '-qq', '-e', 'trace=openat,open,creat,connect,socket,sendto', '-o', trace] : null);
  c.send(INIT());
  await c.next((m) => m.id === 'init');
  c.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
  await c.next((m) => m.method === 'infill-ls/status' && (m.params.state === 'ready' || m.params.state === 'degraded'), 180_000);
  c.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///p/a.py', languageId: 'python', version: 1, text: 'def add(a, b):\n    return ' } } });
  c.send({ jsonrpc: '2.0', id: 'c', method: 'textDocument/inlineCompletion', params: { textDocument: { uri: 'file:///p/a.py' }, position: { line: 1, character: 11 }, context: { triggerKind: 1 } } });
  const done = await c.next((m) => m.id === 'c', 180_000);
  c.send({ jsonrpc: '2.0', id: 's', method: 'shutdown' });
  await c.next((m) => m.id === 's');
  c.send({ jsonrpc: '2.0', method: 'exit' });
  await c.exited;
  // The server's own /tmp/mat-debug-<pid>.log (its pid is known now; the library opens it when it loads). Links are
  // not planted for future pids here: on a shared machine other processes take those pids.
  const serverPid = hasStrace ? Number(/^(\d+) .*infill-ls\.js/m.exec(fs.readFileSync(trace, 'utf8'))?.[1] ?? c.child.pid) : c.child.pid;
  const matLog = path.join(os.tmpdir(), `mat-debug-${serverPid}.log`);
  const homeFiles = fs.readdirSync(home, { recursive: true }).filter((f) => f !== 'trace.txt' && f !== 'victim.txt');
  record(1, 'a completion ran', done !== undefined && done.result !== undefined, done ? `${done.result?.items?.length ?? 'no'} items` : 'no answer');
  record(1, 'no file written under HOME (telemetry event store, deviceid)', homeFiles.length === 0, homeFiles.length ? homeFiles.join(', ') : 'none');
  if (hasStrace) {
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    const net = lines.filter((l) => /socket\(AF_INET|connect\(|sendto\(/.test(l) && !/AF_UNIX|ENOENT/.test(l));
    record(1, 'no network socket or connect (strace, all threads)', net.length === 0, net.length ? net.slice(0, 3).join(' | ') : `0 of ${lines.length} traced calls`);
    const mat = lines.filter((l) => l.includes('mat-debug'));
    record(2, 'no /tmp/mat-debug-<pid>.log opened by any thread (strace; O_TRUNC without O_NOFOLLOW when telemetry is on)', mat.length === 0, mat.length ? mat[0] : 'none');
  } else record(1, 'strace not installed: network not traced', false, 'apt-get install strace');
  record(2, `no /tmp/mat-debug-${serverPid}.log left by the server`, !fs.existsSync(matLog), fs.existsSync(matLog) ? 'exists' : 'absent');
  fs.rmSync(home, { recursive: true, force: true });
}

function tokenProbes() {
  const dir = tmp('infill-probe-token-');
  const run = (args, env = {}) => spawnSync(process.execPath, [bin, 'serve', '--ws', '--port', '0', ...args], { cwd: root, env: { ...baseEnv(), ...env }, encoding: 'utf8', timeout: 20_000 });
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const link = path.join(dir, 'token-link');
  fs.symlinkSync(victim, link);
  for (const extra of [[], ['--new-token']]) {
    const r = run(['--token-file', link, ...extra]);
    record(3, `token path is a symlink${extra.length ? ' (--new-token)' : ''}: refused`, r.status === 2 && /symbolic link/.test(r.stderr) && fs.readFileSync(victim, 'utf8') === 'precious\n' && (fs.statSync(victim).mode & 0o777) === 0o644, `exit ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
  }
  const loose = path.join(dir, 'loose');
  fs.writeFileSync(loose, 'a-token-of-at-least-16-chars\n', { mode: 0o644 });
  fs.chmodSync(loose, 0o644);
  const r2 = run(['--token-file', loose]);
  record(3, 'token file open to others: refused', r2.status === 2 && /readable by other users/.test(r2.stderr), `exit ${r2.status}: ${r2.stderr.trim().split('\n')[0]}`);
  if (process.getuid?.() === 0) {
    const theirs = path.join(dir, 'theirs');
    fs.writeFileSync(theirs, 'a-token-somebody-else-chose\n', { mode: 0o600 });
    fs.chownSync(theirs, 65534, 65534);
    const r3 = run(['--token-file', theirs]);
    record(3, "another user's 0600 token file: refused", r3.status === 2 && /owned by another user/.test(r3.stderr), `exit ${r3.status}: ${r3.stderr.trim().split('\n')[0]}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

async function hostWarning() {
  const child = spawn(process.execPath, [bin, 'serve', '--ws', '--port', '0', '--host', '0.0.0.0', '--model-dir', '/nonexistent'], { cwd: root, env: { ...baseEnv(), INFILL_LS_TOKEN: 'probe-token-0123456789' } });
  let err = '';
  child.stderr.on('data', (d) => (err += d.toString()));
  for (let i = 0; i < 100 && !/reachable from the network/.test(err); i++) await sleep(100);
  child.kill('SIGTERM');
  record(3, '--host 0.0.0.0 warns', /reachable from the network/.test(err), err.split('\n').find((l) => /reachable/.test(l)) ?? err.slice(0, 200));
}

async function lspProtocol() {
  const c = lspChild(['serve', '--stdio', '--model-dir', '/nonexistent'], baseEnv());
  c.send({ jsonrpc: '2.0', id: 1, method: 'textDocument/inlineCompletion', params: { textDocument: { uri: 'file:///a' }, position: { line: 0, character: 0 } } });
  const pre = await c.next((m) => m.id === 1, 10_000);
  record(7, 'LSP request before initialize → -32002', pre?.error?.code === -32002, JSON.stringify(pre?.error ?? null));
  c.send(INIT());
  await c.next((m) => m.id === 'init');
  c.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
  c.frame('{"jsonrpc":"2.0","id":2,"method":');
  const parse = await c.next((m) => m.error?.code === -32700, 10_000);
  record(7, 'LSP invalid JSON body → -32700', parse !== undefined && parse.id === null, JSON.stringify(parse ?? null));
  c.send({ jsonrpc: '2.0', id: 3 });
  const nomethod = await c.next((m) => m.id === 3, 10_000);
  record(7, 'LSP request without method → -32600', nomethod?.error?.code === -32600, JSON.stringify(nomethod?.error ?? null));
  c.frame('[]');
  const empty = await c.next((m) => !Array.isArray(m) && m.id === null && /empty batch/.test(m.error?.message ?? ''), 10_000);
  record(7, 'LSP [] → -32600', empty !== undefined, JSON.stringify(empty ?? null));
  c.send(Array.from({ length: 1000 }, (_, i) => ({ jsonrpc: '2.0', id: `b${i}`, method: 'textDocument/inlineCompletion', params: {} })));
  const batch = await c.next((m) => Array.isArray(m), 20_000);
  record(7, 'LSP 1,000-request batch → 1,000 errors', batch?.length === 1000 && batch.every((x, i) => x.id === `b${i}`), `${batch?.length ?? 0} replies`);
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  c.frame(`{"jsonrpc":"2.0","id":4,"method":"textDocument/inlineCompletion","params":{"textDocument":{"uri":"file:///a"},"position":${deep}}}`);
  const d = await c.next((m) => m.id === 4, 20_000);
  record(7, 'LSP 100k-deep position → -32600 with its id', d?.error?.code === -32600, JSON.stringify(d?.error ?? null));
  c.send({ jsonrpc: '2.0', id: 5, method: 'textDocument/inlineCompletion', params: null });
  const nul = await c.next((m) => m.id === 5, 10_000);
  record(7, 'LSP params null → -32602', nul?.error?.code === -32602, JSON.stringify(nul?.error ?? null));
  c.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///p/c.ts', languageId: 'constructor', version: 1, text: 'x' } } });
  c.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///p/c.ts', version: 0 }, contentChanges: [{ text: 'y' }] } });
  c.send({ jsonrpc: '2.0', id: 6, method: 'textDocument/inlineCompletion', params: { textDocument: { uri: 'file:///p/c.ts' }, position: { line: 0, character: 1 } } });
  const sync = await c.next((m) => m.id === 6, 10_000);
  record(7, 'LSP completion after a rejected didChange → out-of-sync error', sync?.error?.code === -32803 && /out of sync/.test(sync.error.message), JSON.stringify(sync?.error ?? null));
  c.frame('{}', 'Content-Length: twelve');
  const code = await Promise.race([c.exited, sleep(10_000).then(() => 'alive')]);
  record(7, 'LSP malformed header → exit non-zero', code === 1, `exit ${code}`);
  if (code === 'alive') c.child.kill('SIGKILL');
}

async function apiProbes() {
  const token = 'probe-token-0123456789';
  const child = spawn(process.execPath, [bin, 'serve', '--ws', '--port', '0', '--model-dir', '/nonexistent'], { cwd: root, env: { ...baseEnv(), INFILL_LS_TOKEN: token } });
  let out = '';
  child.stdout.on('data', (d) => (out += d.toString()));
  for (let i = 0; i < 200 && !/listening on/.test(out); i++) await sleep(50);
  const url = /listening on (ws:\/\/\S+)/.exec(out)?.[1];
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
  await new Promise((r) => ws.on('open', r));
  const replies = [];
  ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
  const wait = async (id) => {
    for (let i = 0; i < 400; i++) {
      const m = replies.find((x) => x.id === id);
      if (m) return m;
      await sleep(25);
    }
  };
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  ws.send(`{"jsonrpc":"2.0","id":1,"method":"complete","params":{"uri":"mem://a","position":${deep}}}`);
  const d = await wait(1);
  record(7, 'API 100k-deep position → -32600 with its id, nothing echoed', d?.error?.code === -32600 && JSON.stringify(d).length < 300, JSON.stringify(d?.error ?? null));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'complete', params: null }));
  const n = await wait(2);
  record(7, 'API params null → -32602', n?.error?.code === -32602, JSON.stringify(n?.error ?? null));
  let accepted = 0;
  let refused;
  for (let i = 0; i < 70 && !refused; i++) {
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 100 + i, method: 'document/open', params: { uri: `mem://d${i}`, languageId: 'toString', text: 'x' } }));
    const r = await wait(100 + i);
    if (r?.error) refused = r.error;
    else accepted++;
  }
  record(5, 'API per-connection document limit → -32001', refused?.code === -32001, `${accepted} accepted, then ${JSON.stringify(refused ?? null)}`);
  ws.close();
  child.kill('SIGTERM');
}

await telemetryAndFiles();
tokenProbes();
await hostWarning();
await lspProtocol();
await apiProbes();
const failed = results.filter((r) => !r.pass).length;
fs.mkdirSync(path.dirname(OUT), { recursive: true });
const meta = { command: 'node bench/security/probes.mjs', date: new Date().toISOString(), strace: hasStrace, uid: process.getuid?.(), load: os.loadavg().map((x) => Number(x.toFixed(2))) };
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, results }, null, 2) + '\n');
fs.writeFileSync(
  `${OUT}.md`,
  [`# Security probes (issue 13)`, '', `\`${meta.command}\` — ${meta.date}; strace ${hasStrace ? 'on' : 'not installed'}; uid ${meta.uid}; load ${meta.load.join(' ')}. ${results.length - failed} of ${results.length} passed.`, '', '| item | probe | result | seen |', '|---|---|---|---|', ...results.map((r) => `| ${r.item} | ${r.name} | ${r.pass ? 'pass' : '**FAIL**'} | ${String(r.seen).replace(/\|/g, '\\|').slice(0, 300)} |`), ''].join('\n'),
);
console.log(`${results.length - failed}/${results.length} passed; wrote ${path.relative(root, OUT)}.{json,md}`);
process.exit(failed);
