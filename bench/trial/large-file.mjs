#!/usr/bin/env node
// A 5,000-line TypeScript file opened cold over the WebSocket API (the s6 fresh-user trial): the time to its first
// completion, and how long a small file's completion on a second connection, sent 200 ms later, waits meanwhile —
// with `maxStallMs` off (the default) and at 100 (`serve --max-stall-ms 100`, README's advice for a shared server).
// Both servers run side by side on models/default; the rounds alternate A B B A so the machine's load hits both.
//
//   npm run build && node bench/trial/large-file.mjs [--rounds 2] [--out bench/results/trial-large-file]
//
// The file is server/src/**/*.ts (sorted by path) cut at 5,000 lines; each round opens it under a new URI (cold KV
// cache) and asks for an automatic completion at the end of line 2,601 (0-based 2,600). Results: <out>.json, <out>.md.
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const ROUNDS = Number(arg('rounds', '2'));
const OUT = path.resolve(root, arg('out', 'bench/results/trial-large-file'));
const TOKEN = 'bench-trial-large-file-token-0123456789';
const LINE = 2600;

function tsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}
const lines = tsFiles(path.join(root, 'server', 'src')).map((f) => fs.readFileSync(f, 'utf8')).join('').split('\n').slice(0, 5000);
const bigText = lines.join('\n');

function startServer(extra) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'infill-ls.js'), 'serve', '--ws', '--port', '0', '--device', 'cpu', ...extra], {
    env: { ...process.env, INFILL_LS_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not get ready in 120 s: ${out}`)), 120_000);
    const check = () => {
      const port = /ws:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (port && /model: ready/.test(out)) {
        clearTimeout(timer);
        resolve({ port: Number(port), child });
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
  });
}

async function connect(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let next = 1;
  const pending = new Map();
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (m.id !== undefined && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    }
  });
  const call = (method, params) => {
    const id = next++;
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return new Promise((resolve) => pending.set(id, resolve));
  };
  return { ws, call };
}

async function round(port, n) {
  const a = await connect(port);
  const b = await connect(port);
  const uri = `file:///bench/large-${n}.ts`;
  const t0 = performance.now();
  a.call('document/open', { uri, languageId: 'typescript', text: bigText });
  const big = a.call('complete', { uri, position: { line: LINE, character: lines[LINE].length }, trigger: 'automatic' }).then((r) => ({ ms: performance.now() - t0, r }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const small = `file:///bench/small-${n}.py`;
  await b.call('document/open', { uri: small, languageId: 'python', text: 'def add(a, b):\n    return \n', warmOffset: 0 });
  const t1 = performance.now();
  const other = b.call('complete', { uri: small, position: { line: 1, character: 11 }, trigger: 'automatic' }).then((r) => ({ ms: performance.now() - t1, r }));
  const [x, y] = await Promise.all([big, other]);
  for (const c of [a, b]) c.ws.close();
  if (x.r.error || y.r.error) throw new Error(`a request failed: ${JSON.stringify(x.r.error ?? y.r.error)}`);
  return { firstCompletionMs: x.ms, bigPrefillTokens: x.r.result.timings?.prefillTokens, otherWaitMs: y.ms };
}

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(', ');
const servers = { off: await startServer([]), stall100: await startServer(['--max-stall-ms', '100']) };
const results = { off: [], stall100: [] };
let n = 0;
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 === 0 ? ['off', 'stall100', 'stall100', 'off'] : ['stall100', 'off', 'off', 'stall100']) {
      results[name].push(await round(servers[name].port, n++));
    }
  }
} finally {
  for (const s of Object.values(servers)) s.child.kill();
}
const loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(', ');
const summary = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, {
  runs: v.length,
  firstCompletionMsMedian: Math.round(median(v.map((x) => x.firstCompletionMs))),
  otherWaitMsMedian: Math.round(median(v.map((x) => x.otherWaitMs))),
  firstCompletionMs: v.map((x) => Math.round(x.firstCompletionMs)),
  otherWaitMs: v.map((x) => Math.round(x.otherWaitMs)),
  bigPrefillTokens: v[0]?.bigPrefillTokens,
}]));
const meta = { date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadBefore, loadAfter, lines: lines.length, chars: bigText.length, command: `node bench/trial/large-file.mjs --rounds ${ROUNDS}` };
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, summary, results }, null, 2) + '\n');
const md = [
  '# A 5,000-line file opened cold (WebSocket API, models/default)',
  '',
  `\`${meta.command}\` — ${meta.date}, ${meta.cpus} × ${meta.cpu}, load average before ${loadBefore}, after ${loadAfter}.`,
  `File: server/src/**/*.ts cut at ${lines.length} lines (${meta.chars} characters); automatic completion at the end of line ${LINE + 1};`,
  'a second connection asks for a small file\'s completion 200 ms later. Times from sending each request to its answer.',
  '',
  '| maxStallMs | runs | first completion in the large file, median (each) | small file on another connection, median (each) |',
  '|---|---|---|---|',
  ...Object.entries(summary).map(([k, s]) => `| ${k === 'off' ? '0 (default)' : '100'} | ${s.runs} | ${s.firstCompletionMsMedian} ms (${s.firstCompletionMs.join(', ')}) | ${s.otherWaitMsMedian} ms (${s.otherWaitMs.join(', ')}) |`),
  '',
  `The prompt holds ${summary.off.bigPrefillTokens} tokens of the large file (the prompt budgets, not the file's size, bound a cold request).`,
  '',
];
fs.writeFileSync(`${OUT}.md`, md.join('\n'));
console.log(md.join('\n'));
