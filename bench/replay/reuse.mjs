#!/usr/bin/env node
// Latency of answers that never reach the model (issue 11: the keystroke replay's "all" mode, whose p50 is such
// answers), quiet and with N CPU-bound background processes, against a baseline build in the same run.
// Per trial and server: open a document (this repository's scheduler source) at a line start, ask an automatic
// inline completion there (runs the model), then type that completion's text character by character (one
// didChange + one automatic textDocument/inlineCompletion per character, CHAR_GAP_MS apart, as the replay does):
// each of those requests is answered from the completion cache ("typed-ahead reuse"). The latency of each such
// answer is timed from send to answer; answers that were not the rest of the typed text are counted apart.
// Servers run interleaved trial by trial in ABBA order, so load drift hits both; one phase per load level.
//
//   npm run build && node bench/replay/reuse.mjs [--trials 12] [--load 0,2] [--baseline DIR] [--out bench/results/replay-reuse]
//
// Writes OUT.json (every answer) and OUT.md (p50/p90/p95 per server and phase, the load average).
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLspServer } from '../lib/lsp.mjs';
import { positionAt } from './session.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const TRIALS = Number(arg('trials', 12));
const LOADS = String(arg('load', '0,2')).split(',').map(Number);
const BASELINE = arg('baseline', undefined);
const OUT = path.resolve(root, arg('out', 'bench/results/replay-reuse'));
const CHAR_GAP_MS = 60;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 10) / 10;
};

const TEXT = fs.readFileSync(path.join(root, 'server/src/scheduler/scheduler.ts'), 'utf8');
// Cursor positions: line starts inside function bodies (indented code lines), spread over the file.
const LINE_STARTS = [];
for (let i = TEXT.indexOf('\n'); i !== -1; i = TEXT.indexOf('\n', i + 1)) if (/^ {4,}\w/.test(TEXT.slice(i + 1, i + 12))) LINE_STARTS.push(i + 1);

async function startServer(name, serverRoot) {
  const { child, conn } = await startLspServer({ name, serverRoot, initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 0 } } } });
  return { name, child, conn, n: 0 };
}

const insertText = (res) => {
  const items = Array.isArray(res) ? res : res?.items ?? [];
  const t = items[0]?.insertText;
  return t === undefined ? '' : String(typeof t === 'string' ? t : t.value);
};

async function trial(server, phase, i) {
  const uri = `file:///bench/reuse-${phase}-${i}-${server.n++}.ts`;
  const { conn } = server;
  const rows = [];
  // The first cursor (of a few tried) where the model suggests at least 6 characters.
  for (let attempt = 0; attempt < 4; attempt++) {
    const at = LINE_STARTS[(i * 7 + attempt * 13) % LINE_STARTS.length];
    let text = TEXT.slice(0, at) + TEXT.slice(TEXT.indexOf('\n', at)); // the line's content removed: the user retypes it
    let version = 1;
    conn.sendNotification('textDocument/didOpen', { textDocument: { uri: `${uri}.${attempt}`, languageId: 'typescript', version, text } });
    const first = insertText(await conn.sendRequest('textDocument/inlineCompletion', { textDocument: { uri: `${uri}.${attempt}` }, position: positionAt(text, at), context: { triggerKind: 2 } }));
    if (first.length < 6 || first.includes('\n')) {
      conn.sendNotification('textDocument/didClose', { textDocument: { uri: `${uri}.${attempt}` } });
      continue;
    }
    for (let k = 1; k < first.length; k++) {
      await sleep(CHAR_GAP_MS);
      const cursor = at + k - 1;
      const p = positionAt(text, cursor);
      text = text.slice(0, cursor) + first[k - 1] + text.slice(cursor);
      conn.sendNotification('textDocument/didChange', { textDocument: { uri: `${uri}.${attempt}`, version: ++version }, contentChanges: [{ range: { start: p, end: p }, text: first[k - 1] }] });
      const t0 = performance.now();
      const got = insertText(await conn.sendRequest('textDocument/inlineCompletion', { textDocument: { uri: `${uri}.${attempt}` }, position: positionAt(text, at + k), context: { triggerKind: 2 } }));
      rows.push({ server: server.name, phase, trial: i, k, ms: performance.now() - t0, reused: got === first.slice(k) });
    }
    conn.sendNotification('textDocument/didClose', { textDocument: { uri: `${uri}.${attempt}` } });
    break;
  }
  return rows;
}

function startLoad(n) {
  const procs = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'const end = Date.now() + 900000; while (Date.now() < end) {}'], { stdio: 'ignore' }));
  return () => procs.forEach((p) => p.kill('SIGKILL'));
}

const servers = [await startServer('current', root)];
if (BASELINE) servers.push(await startServer('baseline', path.resolve(BASELINE)));
const rows = [];
const phases = [];
for (const load of LOADS) {
  const phase = `load${load}`;
  const stop = startLoad(load);
  const loadavgAtStart = Math.round(os.loadavg()[0] * 100) / 100;
  try {
    await sleep(load ? 1000 : 0);
    for (let i = 0; i < TRIALS; i++) {
      const order = i % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) rows.push(...(await trial(s, phase, i)));
    }
  } finally {
    stop();
  }
  phases.push({ phase, load, loadavgAtStart, loadavgAtEnd: Math.round(os.loadavg()[0] * 100) / 100 });
  await sleep(1000);
}
for (const s of servers) {
  await s.conn.sendRequest('shutdown').catch(() => {});
  s.conn.sendNotification('exit');
  s.child.kill();
}

const summary = [];
for (const ph of phases) {
  for (const s of servers) {
    const rs = rows.filter((r) => r.phase === ph.phase && r.server === s.name);
    const ms = rs.filter((r) => r.reused).map((r) => r.ms);
    summary.push({ phase: ph.phase, server: s.name, answers: rs.length, reused: ms.length, p50: pct(ms, 0.5), p90: pct(ms, 0.9), p95: pct(ms, 0.95) });
  }
}
const meta = { date: new Date().toISOString(), command: `node bench/replay/reuse.mjs --trials ${TRIALS} --load ${LOADS.join(',')}${BASELINE ? ` --baseline ${BASELINE}` : ''}`, cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, phases };
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, summary, rows }, null, 1) + '\n');
const md = [
  '# Typed-ahead reuse answers over LSP, quiet and loaded (`bench/replay/reuse.mjs`)',
  '',
  `${meta.date}: \`${meta.command}\`, ${meta.cpu}, ${meta.cores} cores, Node ${meta.node}. 1-min load average per phase (start → end): ${phases.map((p) => `${p.phase} ${p.loadavgAtStart} → ${p.loadavgAtEnd}`).join('; ')}.`,
  '',
  '| phase | server | answers | reused (timed) | p50 ms | p90 ms | p95 ms |',
  '|---|---|---|---|---|---|---|',
  ...summary.map((r) => `| ${r.phase} | ${r.server} | ${r.answers} | ${r.reused} | ${r.p50} | ${r.p90} | ${r.p95} |`),
];
for (const s of servers) {
  const q = summary.find((r) => r.server === s.name && r.phase === 'load0');
  for (const r of summary.filter((x) => x.server === s.name && x.phase !== 'load0')) if (q?.p50) md.push('', `${s.name}: ${r.phase} p50 / load0 p50 = ${Math.round((r.p50 / q.p50) * 100) / 100}x`);
}
fs.writeFileSync(`${OUT}.md`, md.join('\n') + '\n');
console.log(md.join('\n'));
