#!/usr/bin/env node
// Whole-process RSS of the built server on models/default, the way each launcher starts it (issue 11, "memory of the
// fold"): `npm start`'s server (`serve --ws`, WebSocket API), an editor's LSP server (`serve --stdio`) and the CLI
// (`complete FILE`), each with the weight dequantization folded by runtime/fold.ts (the default) and by onnxruntime
// (INFILL_LS_FOLD=0: the load path before the change), and each with glibc's mmap threshold left alone (npm start, the
// CLI, other clients) or fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_=131072, as the VS Code extension and the Neovim
// plugin start it). Servers: VmRSS (/proc/PID/status) when the status first says ready ("after load") and after the
// first completion has been answered; the CLI runs one completion and exits, so its VmRSS is sampled every 10 ms
// (peak and last sample). Variants alternate in ABBA order rep by rep; one process per measurement.
//
//   npm run build && node bench/memory/launch-rss.mjs [--reps 2] [--out bench/results/memory-load]
//
// Writes OUT.json (every measurement, with the load average) and OUT.md (medians).
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startLspServer } from '../lib/lsp.mjs';
import { positionAt } from '../replay/session.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const REPS = Number(arg('reps', 2));
const OUT = path.resolve(root, arg('out', 'bench/results/memory-load'));
const BIN = path.join(root, 'bin/infill-ls.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid) => {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);
  } catch {
    return null;
  }
};
const median = (xs) => {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

// The document: this repository's scheduler source, cursor after ~6,000 characters at a line start.
const TEXT = fs.readFileSync(path.join(root, 'server/src/scheduler/scheduler.ts'), 'utf8');
const CURSOR = TEXT.lastIndexOf('\n', 6000) + 1;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-ls-rss-'));
const DOC = path.join(tmp, 'scheduler.ts');
fs.writeFileSync(DOC, TEXT);

function envFor(v) {
  const env = { ...process.env, XDG_STATE_HOME: tmp, INFILL_LS_TOKEN: 'bench-memory-token', INFILL_LS_FOLD: v.fold ? '1' : '0' };
  delete env.MALLOC_MMAP_THRESHOLD_;
  delete env.MALLOC_TRIM_THRESHOLD_;
  if (v.mmap) env.MALLOC_MMAP_THRESHOLD_ = '131072';
  return env;
}

async function ws(v) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [BIN, 'serve', '--ws', '--port', String(port), '--device', 'cpu'], { env: envFor(v), stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.resume();
  try {
    let sock;
    for (let i = 0; i < 200 && !sock; i++) {
      await sleep(50);
      sock = await new Promise((resolve) => {
        const s = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { Authorization: 'Bearer bench-memory-token' } });
        s.once('open', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
    }
    if (!sock) throw new Error('ws server did not start');
    let id = 0;
    const pending = new Map();
    sock.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.id !== undefined && pending.has(m.id)) pending.get(m.id)(m);
    });
    const call = (method, params) => new Promise((r) => {
      pending.set(++id, r);
      sock.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
    let status;
    for (;;) {
      status = (await call('status')).result;
      if (status.state !== 'loading') break;
      await sleep(50);
    }
    if (status.state !== 'ready') throw new Error(`ws: ${JSON.stringify(status)}`);
    const afterLoad = rssMb(child.pid);
    const res = await call('complete', { prefix: TEXT.slice(0, CURSOR), suffix: TEXT.slice(CURSOR), languageId: 'typescript' });
    if (res.error) throw new Error(`ws complete: ${JSON.stringify(res.error)}`);
    const afterCompletion = rssMb(child.pid);
    sock.close();
    return { afterLoad, afterCompletion };
  } finally {
    child.kill('SIGKILL');
  }
}

async function lsp(v) {
  const { child, conn } = await startLspServer({ serverRoot: root, env: envFor(v) });
  try {
    const afterLoad = rssMb(child.pid);
    const uri = 'file:///bench/memory.ts';
    conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: TEXT } });
    await conn.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: positionAt(TEXT, CURSOR), context: { triggerKind: 1 } });
    const afterCompletion = rssMb(child.pid);
    return { afterLoad, afterCompletion };
  } finally {
    conn.dispose();
    child.kill('SIGKILL');
  }
}

async function cli(v) {
  const { line, character } = positionAt(TEXT, CURSOR);
  const child = spawn(process.execPath, [BIN, 'complete', DOC, '--line', String(line + 1), '--column', String(character + 1), '--device', 'cpu'], {
    env: envFor(v),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.resume();
  child.stderr.resume();
  const samples = [];
  const timer = setInterval(() => {
    const r = rssMb(child.pid);
    if (r !== null) samples.push(r);
  }, 10);
  const code = await new Promise((r) => child.once('exit', r));
  clearInterval(timer);
  if (code !== 0) throw new Error(`cli exited ${code}`);
  return { peak: Math.max(...samples), last: samples.at(-1) ?? null };
}

const variants = [];
for (const mmap of [false, true]) for (const fold of [false, true]) variants.push({ fold, mmap, name: `${fold ? 'fold in JS (new)' : 'fold by onnxruntime (before)'}${mmap ? ', MALLOC_MMAP_THRESHOLD_=131072' : ''}` });
const launchers = { 'npm start (serve --ws)': ws, 'LSP (serve --stdio)': lsp, 'CLI (complete)': cli };
const rows = [];
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? variants : [...variants].reverse();
  for (const [launcher, fn] of Object.entries(launchers)) {
    for (const v of order) {
      const loadavg = os.loadavg()[0];
      const r = await fn(v);
      rows.push({ launcher, variant: v.name, fold: v.fold, mmap: v.mmap, rep, loadavg1: Math.round(loadavg * 100) / 100, ...r });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
}
fs.rmSync(tmp, { recursive: true, force: true });

const loads = rows.map((r) => r.loadavg1);
const meta = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, reps: REPS, loadavg1: [Math.min(...loads), Math.max(...loads)] };
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, rows }, null, 1) + '\n');
const md = [
  '# Process RSS on models/default by launcher (`node bench/memory/launch-rss.mjs`)',
  '',
  `${meta.date}, ${meta.cpu}, ${meta.cores} cores, Node ${meta.node}, ${REPS} reps (ABBA), 1-min load average ${meta.loadavg1.join('–')}. Medians, MB.`,
  '',
  '| launcher | dequantization folded by | glibc mmap threshold | after load | after the first completion |',
  '|---|---|---|---|---|',
];
for (const launcher of Object.keys(launchers)) {
  for (const v of variants) {
    const rs = rows.filter((r) => r.launcher === launcher && r.variant === v.name);
    const a = launcher.startsWith('CLI') ? `peak ${median(rs.map((r) => r.peak))}` : median(rs.map((r) => r.afterLoad));
    const b = launcher.startsWith('CLI') ? `last sample ${median(rs.map((r) => r.last))}` : median(rs.map((r) => r.afterCompletion));
    md.push(`| ${launcher} | ${v.fold ? 'runtime/fold.ts (new)' : 'onnxruntime (before)'} | ${v.mmap ? '128 KiB (VS Code, Neovim)' : 'glibc default'} | ${a} | ${b} |`);
  }
}
fs.writeFileSync(`${OUT}.md`, md.join('\n') + '\n');
console.log(md.join('\n'));
