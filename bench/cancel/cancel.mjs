#!/usr/bin/env node
// Cancel and other-request latency while a long cold prefill runs (issue 11): spawns the built server
// (`node bin/infill-ls.js serve --stdio`), and per trial opens a new document (2,831 prompt tokens: the prefix budget
// is raised with INFILL_LS_MAX_PREFIX_TOKENS), sends a manual textDocument/inlineCompletion, and 150-250 ms later —
// while the prefill runs — sends `$/cancelRequest` for it and, at the same instant, another request
// (workspace/executeCommand of the accept command for an unknown id: it needs no model). It times both answers from
// that instant, then closes the document (which drops its prefill) and waits 300 ms.
// Phases: quiet, then with `--load N` CPU-bound background processes (`node -e` busy loops, killed after the phase;
// each also exits by itself after 15 minutes). Several servers (--baseline DIR: another build, e.g. the pre-worker
// commit from `git archive`, built with tsc) run interleaved, trial by trial in ABBA order, so load drift hits both.
//
//   npm run build && node bench/cancel/cancel.mjs [--trials 20] [--load 2] [--baseline DIR] [--out bench/results/cancel-cpu]
//
// Writes OUT.json and OUT.md: p50/p95/max of both latencies per server and phase, the prompt tokens of the cancelled
// requests (from the engine's debug line), and how many requests finished before their cancel (excluded).
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rpc from 'vscode-jsonrpc/node';
import { startLspServer } from '../lib/lsp.mjs';
import { positionAt } from '../replay/session.mjs';
const { CancellationTokenSource } = rpc;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const TRIALS = Number(arg('trials', 20));
const LOAD = Number(arg('load', 2));
const BASELINE = arg('baseline', undefined);
const OUT = path.resolve(root, arg('out', 'bench/results/cancel-cpu'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
};

// The document: this repository's scheduler and engine sources (deterministic), cursor after ~9,000 characters.
const TEXT = ['server/src/scheduler/scheduler.ts', 'server/src/engine/model-side.ts']
  .map((f) => fs.readFileSync(path.join(root, f), 'utf8'))
  .join('\n');
const CURSOR = TEXT.lastIndexOf('\n', 9000) + 1;

async function startServer(name, serverRoot) {
  const debug = [];
  let buf = '';
  const { child, conn } = await startLspServer({
    name,
    serverRoot,
    env: { ...process.env, INFILL_LS_LOG: 'debug', INFILL_LS_MAX_PREFIX_TOKENS: '4096', INFILL_LS_WARM: '0', INFILL_LS_SPECULATIVE: '0' },
    initializationOptions: { 'infill-ls': { debounce: 0 } },
    onStderr(text) {
      buf += text;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /completion (\{.*\})$/.exec(line);
        if (m) {
          try {
            debug.push(JSON.parse(m[1]));
          } catch {
            // not a debug line
          }
        }
      }
    },
  });
  return { name, child, conn, debug, n: 0 };
}

async function trial(server, phase, i) {
  const uri = `file:///bench/cancel-${phase}-${i}-${server.n++}.ts`;
  server.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: TEXT } });
  const source = new CancellationTokenSource();
  const sent = performance.now();
  let finished = false;
  const completion = server.conn
    .sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: positionAt(TEXT, CURSOR), context: { triggerKind: 1 } }, source.token)
    .then(
      () => ({ code: 'ok', at: performance.now() }),
      (e) => ({ code: e?.code ?? String(e), at: performance.now() }),
    )
    .finally(() => (finished = true));
  await sleep(150 + ((i * 37) % 100));
  const before = finished;
  const t0 = performance.now();
  source.cancel();
  const other = server.conn.sendRequest('workspace/executeCommand', { command: 'infill-ls.didAcceptCompletion', arguments: ['bench-unknown-id'] }).then(
    () => performance.now(),
    () => performance.now(),
  );
  const [c, o] = await Promise.all([completion, other]);
  server.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
  await sleep(300);
  return { server: server.name, phase, i, finishedBeforeCancel: before, code: c.code, cancelMs: c.at - t0, otherMs: o - t0, sinceSentMs: t0 - sent };
}

function startLoad(n) {
  const procs = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'const end = Date.now() + 900000; while (Date.now() < end) {}'], { stdio: 'ignore' }));
  return () => procs.forEach((p) => p.kill('SIGKILL'));
}

const servers = [await startServer('worker', root)];
if (BASELINE) servers.push(await startServer('baseline', path.resolve(BASELINE)));
const results = [];
const phases = [];
for (const [phase, load] of [
  ['quiet', 0],
  [`load${LOAD}`, LOAD],
]) {
  const stop = startLoad(load);
  const loadavgAtStart = os.loadavg().map((x) => round(x, 2));
  try {
    await sleep(load ? 1000 : 0);
    for (let i = 0; i < TRIALS; i++) {
      const order = i % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const r = await trial(s, phase, i);
        results.push(r);
        process.stderr.write(`${phase} ${s.name} #${i}: ${r.code} cancel ${r.cancelMs.toFixed(1)} ms, other ${r.otherMs.toFixed(1)} ms${r.finishedBeforeCancel ? ' (finished before the cancel)' : ''}\n`);
      }
    }
  } finally {
    stop();
  }
  phases.push({ phase, load, loadavgAtStart, loadavgAtEnd: os.loadavg().map((x) => round(x, 2)) });
}
const summaries = [];
for (const p of phases) {
  for (const s of servers) {
    const rs = results.filter((r) => r.phase === p.phase && r.server === s.name);
    const valid = rs.filter((r) => !r.finishedBeforeCancel);
    const promptTokens = s.debug.filter((d) => d.outcome === 'cancelled' && typeof d.promptTokens === 'number').map((d) => d.promptTokens);
    summaries.push({
      server: s.name,
      phase: p.phase,
      loadavg: `${p.loadavgAtStart.join(' ')} → ${p.loadavgAtEnd.join(' ')}`,
      trials: valid.length,
      finishedBeforeCancel: rs.length - valid.length,
      notCancelled: valid.filter((r) => r.code !== -32800).length,
      cancelP50Ms: round(pct(valid.map((r) => r.cancelMs), 0.5)),
      cancelP95Ms: round(pct(valid.map((r) => r.cancelMs), 0.95)),
      cancelMaxMs: round(Math.max(...valid.map((r) => r.cancelMs))),
      otherP50Ms: round(pct(valid.map((r) => r.otherMs), 0.5)),
      otherP95Ms: round(pct(valid.map((r) => r.otherMs), 0.95)),
      otherMaxMs: round(Math.max(...valid.map((r) => r.otherMs))),
      medianPromptTokens: pct(promptTokens, 0.5),
    });
  }
}
for (const s of servers) {
  await s.conn.sendRequest('shutdown').catch(() => {});
  s.conn.sendNotification('exit');
}
const meta = {
  date: new Date().toISOString(),
  command: `node bench/cancel/cancel.mjs --trials ${TRIALS} --load ${LOAD}${BASELINE ? ` --baseline ${BASELINE}` : ''}${arg('out', null) ? ` --out ${arg('out')}` : ''}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  node: process.version,
  document: `${TEXT.length} chars, cursor at ${CURSOR}`,
  target: 'p95 ≤ 50 ms for both, quiet and with 2 background processes',
};
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, `${JSON.stringify({ meta, summaries, results }, null, 1)}\n`);
const cols = ['server', 'phase', 'loadavg', 'trials', 'finishedBeforeCancel', 'notCancelled', 'medianPromptTokens', 'cancelP50Ms', 'cancelP95Ms', 'cancelMaxMs', 'otherP50Ms', 'otherP95Ms', 'otherMaxMs'];
const md = [
  `# Cancel latency during a long cold prefill (${meta.date})`,
  '',
  `\`${meta.command}\` — ${meta.cpus} × ${meta.cpuModel} (shared with other work), node ${meta.node}. Document: ${meta.document}.`,
  '',
  `| ${cols.join(' | ')} |`,
  `| ${cols.map(() => '---').join(' | ')} |`,
  ...summaries.map((s) => `| ${cols.map((c) => s[c]).join(' | ')} |`),
  '',
  'cancel: `$/cancelRequest` sent → the request answered (-32800). other: workspace/executeCommand sent at the same instant → answered. Both sent 150-250 ms after the completion request, while its prefill runs. medianPromptTokens: of the cancelled requests, from the engine debug line (the baseline build ignores INFILL_LS_MAX_PREFIX_TOKENS: its prompt is cut to 768 prefix + 256 suffix tokens). Target (issue 11): p95 ≤ 50 ms, quiet and with 2 CPU-bound background processes.',
  '',
];
fs.writeFileSync(`${OUT}.md`, md.join('\n'));
console.log(md.join('\n'));
process.exit(0);
