#!/usr/bin/env node
// Keystroke replay benchmark: spawns the real server (`node bin/infill-ls.js serve --stdio`), talks LSP over stdio
// as an editor would (incremental didChange per keystroke, then textDocument/inlineCompletion, cancelling the
// previous request when the next keystroke comes), replays seeded typing over real dev files from
// bench/quality/data/, once with the per-document KV prefix caches off and once on.
//
//   npm run build && node bench/replay/replay.mjs [--files 3] [--chars 120] [--seed 1] [--out bench/results/replay-cpu]
//
// Per request it records the latency to the answer, whether it was cancelled, and (from the engine's debug line
// on stderr, INFILL_LS_LOG=debug) prompt tokens, new prefill tokens and the cache outcome; RSS is sampled from
// /proc. Debounce is set to 0 ms (fixed), so latencies exclude it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rpc from 'vscode-jsonrpc/node';
import { readJsonl, rng } from '../lib/data.mjs';
const { createMessageConnection, StreamMessageReader, StreamMessageWriter, CancellationTokenSource } = rpc;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const NFILES = Number(arg('files', 3));
const NCHARS = Number(arg('chars', 120));
const SEED = Number(arg('seed', 1));
const OUT = path.resolve(root, arg('out', 'bench/results/replay-cpu'));
const MODES = (arg('modes', 'off,on')).split(',');


// Real TypeScript dev files (held out from training), picked deterministically: the first NFILES of 4-12k chars.
const files = [];
for (const r of readJsonl(path.join(root, 'bench/quality/data/npm-dev.jsonl.xz'))) {
  if (r.lang === 'typescript' && r.text.length >= 4000 && r.text.length <= 12000 && !r.text.includes('\r')) files.push(r);
  if (files.length >= NFILES) break;
}

/** Offset → LSP position (UTF-16, '\n' only). */
function positionAt(text, offset) {
  let line = 0;
  let last = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i + 1;
  }
  return { line, character: offset - last };
}

/**
 * The session for one file: the editor opens the file with a stretch of code removed at a line start in the
 * middle, and the user types it back: characters at 80-200 ms, a typo fixed with backspace now and then, and
 * twice a jump elsewhere in the file (10 characters typed there, then removed) and back.
 */
function makeSession(file, rand) {
  const text = file.text;
  const mid = Math.floor(text.length * (0.4 + 0.2 * rand()));
  const start = text.lastIndexOf('\n', mid) + 1;
  const typed = text.slice(start, start + NCHARS);
  const initial = text.slice(0, start) + text.slice(start + NCHARS);
  const events = []; // {kind:'insert'|'delete', at, ch?, gapMs}
  const gap = () => 80 + Math.floor(rand() * 120);
  let cursor = start;
  const jumpsAt = new Set([Math.floor(NCHARS / 3), Math.floor((2 * NCHARS) / 3)]);
  for (let i = 0; i < typed.length; i++) {
    if (jumpsAt.has(i)) {
      // Jump to another line start in the file, type 10 characters of a comment, delete them, come back.
      const far = initial.length * rand();
      let at = initial.lastIndexOf('\n', far) + 1;
      if (at > cursor) at += i; // positions after the typed region shift by what was typed
      const junk = '// note: x';
      for (let j = 0; j < junk.length; j++) events.push({ kind: 'insert', at: at + j, ch: junk[j], gapMs: gap() });
      for (let j = junk.length; j > 0; j--) events.push({ kind: 'delete', at: at + j - 1, gapMs: gap() });
    }
    if (rand() < 0.05 && /\w/.test(typed[i])) {
      events.push({ kind: 'insert', at: cursor, ch: 'q', gapMs: gap() });
      events.push({ kind: 'delete', at: cursor, gapMs: 150 + Math.floor(rand() * 150) });
    }
    events.push({ kind: 'insert', at: cursor, ch: typed[i], gapMs: gap() });
    cursor++;
  }
  return { initial, events };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function runMode(mode) {
  const child = spawn(process.execPath, [path.join(root, 'bin/infill-ls.js'), 'serve', '--stdio'], {
    cwd: root,
    env: { ...process.env, INFILL_LS_LOG: 'debug', INFILL_LS_PREFIX_CACHE: mode === 'on' ? '1' : '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const engineLines = new Map(); // `${uri}@${version}` → record
  let errBuf = '';
  child.stderr.on('data', (d) => {
    errBuf += d.toString('utf8');
    let nl;
    while ((nl = errBuf.indexOf('\n')) !== -1) {
      const line = errBuf.slice(0, nl);
      errBuf = errBuf.slice(nl + 1);
      const m = /completion (\{.*\})$/.exec(line);
      if (m) {
        const rec = JSON.parse(m[1]);
        engineLines.set(`${rec.doc}@${rec.version}`, rec);
      }
    }
  });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  let ready;
  const readyP = new Promise((r) => (ready = r));
  conn.onNotification('infill-ls/status', (s) => {
    if (s.state === 'ready') ready();
  });
  conn.onNotification(() => {});
  conn.onRequest(() => null);
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: { textDocument: { inlineCompletion: { dynamicRegistration: false }, synchronization: {} } },
    initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 0 } } },
  });
  conn.sendNotification('initialized', {});
  const t0 = Date.now();
  await Promise.race([readyP, sleep(60_000)]);
  const loadMs = Date.now() - t0;
  const rand = rng(SEED);
  const requests = [];
  const rss = [];
  const rssTimer = setInterval(() => {
    const v = rssKb(child.pid);
    if (v) rss.push(v);
  }, 250);
  for (let f = 0; f < files.length; f++) {
    const uri = `file:///replay/${f}/${path.basename(files[f].path)}`;
    const { initial, events } = makeSession(files[f], rand);
    let text = initial;
    let version = 1;
    conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version, text } });
    let pending = null; // {promise, source}
    for (const ev of events) {
      await sleep(ev.gapMs);
      if (pending) pending.source.cancel(); // an editor cancels the outstanding inline request on the next keystroke
      version++;
      let change;
      let cursor;
      if (ev.kind === 'insert') {
        const p = positionAt(text, ev.at);
        change = { range: { start: p, end: p }, text: ev.ch };
        text = text.slice(0, ev.at) + ev.ch + text.slice(ev.at);
        cursor = ev.at + 1;
      } else {
        change = { range: { start: positionAt(text, ev.at), end: positionAt(text, ev.at + 1) }, text: '' };
        text = text.slice(0, ev.at) + text.slice(ev.at + 1);
        cursor = ev.at;
      }
      conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [change] });
      const source = new CancellationTokenSource();
      const rec = { file: f, version, kind: ev.kind, sentAt: performance.now() };
      requests.push(rec);
      const promise = conn
        .sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: positionAt(text, cursor), context: { triggerKind: 2 } }, source.token)
        .then(
          (res) => {
            rec.latencyMs = performance.now() - rec.sentAt;
            rec.outcome = 'ok';
            const items = Array.isArray(res) ? res : res?.items ?? [];
            rec.chars = items[0]?.insertText ? String(typeof items[0].insertText === 'string' ? items[0].insertText : items[0].insertText.value).length : 0;
          },
          (err) => {
            rec.latencyMs = performance.now() - rec.sentAt;
            rec.outcome = err?.code === -32800 || err?.code === -32801 ? 'cancelled' : `error ${err?.code}: ${err?.message}`;
          },
        );
      pending = { promise, source };
    }
    if (pending) await pending.promise;
    await sleep(300);
  }
  clearInterval(rssTimer);
  await sleep(200);
  for (const r of requests) {
    const e = engineLines.get(`file:///replay/${r.file}/${path.basename(files[r.file].path)}@${r.version}`);
    if (e) Object.assign(r, { promptTokens: e.promptTokens, prefillTokens: e.prefillTokens, cache: e.cache, engineOutcome: e.outcome, engineMs: e.totalMs, generated: e.generated });
  }
  await conn.sendRequest('shutdown').catch(() => {});
  conn.sendNotification('exit');
  await Promise.race([new Promise((r) => child.on('exit', r)), sleep(3000)]);
  child.kill();
  return { mode, loadMs, requests, rssMaxMb: Math.max(...rss) / 1024, rssLastMb: rss.at(-1) / 1024 };
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const round = (x, d = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);

function summarize(run) {
  const rs = run.requests;
  const ok = rs.filter((r) => r.outcome === 'ok');
  const firstOfFile = new Set();
  const warm = ok.filter((r) => {
    if (firstOfFile.has(r.file)) return true;
    firstOfFile.add(r.file);
    return false;
  });
  const withTokens = warm.filter((r) => typeof r.prefillTokens === 'number');
  const hits = ok.filter((r) => typeof r.cache === 'string' && r.cache.startsWith('kv-prefix'));
  return {
    mode: run.mode,
    requests: rs.length,
    answered: ok.length,
    cancelled: rs.filter((r) => r.outcome === 'cancelled').length,
    errors: rs.filter((r) => r.outcome !== 'ok' && r.outcome !== 'cancelled').length,
    latencyP50Ms: round(pct(ok.map((r) => r.latencyMs), 0.5)),
    latencyP95Ms: round(pct(ok.map((r) => r.latencyMs), 0.95)),
    medianPromptTokens: pct(withTokens.map((r) => r.promptTokens), 0.5),
    medianNewPrefillTokensWarm: pct(withTokens.map((r) => r.prefillTokens), 0.5),
    medianNewPrefillPctWarm: round(pct(withTokens.map((r) => (100 * r.prefillTokens) / r.promptTokens), 0.5)),
    p95NewPrefillPctWarm: round(pct(withTokens.map((r) => (100 * r.prefillTokens) / r.promptTokens), 0.95)),
    cacheHitRate: ok.length ? round(hits.length / ok.length, 3) : null,
    rssMaxMb: round(run.rssMaxMb),
    rssLastMb: round(run.rssLastMb),
    loadMs: run.loadMs,
  };
}

const runs = [];
for (const m of MODES) {
  process.stderr.write(`replay: mode ${m} ...\n`);
  runs.push(await runMode(m));
}
const summaries = runs.map(summarize);
const meta = {
  date: new Date().toISOString(),
  command: `node bench/replay/replay.mjs --files ${NFILES} --chars ${NCHARS} --seed ${SEED}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  loadavgAtEnd: os.loadavg().map((x) => round(x, 2)),
  node: process.version,
  files: files.map((f) => `${f.pkg}/${f.path} (${f.text.length} chars)`),
  debounce: 'fixed 0 ms (latency excludes debounce)',
  targets: { medianNewPrefillPctWarm: '≤ 5', latencyP50Ms: '≤ 200', latencyP95Ms: '≤ 500' },
};
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, summaries, runs }, null, 1) + '\n');
const cols = ['mode', 'requests', 'answered', 'cancelled', 'errors', 'latencyP50Ms', 'latencyP95Ms', 'medianPromptTokens', 'medianNewPrefillTokensWarm', 'medianNewPrefillPctWarm', 'p95NewPrefillPctWarm', 'cacheHitRate', 'rssMaxMb', 'loadMs'];
const md = [
  `# Keystroke replay (${meta.date})`,
  '',
  `\`${meta.command}\` — ${meta.cpus} × ${meta.cpuModel}, node ${meta.node}, load average at end ${meta.loadavgAtEnd.join(' ')}; ${meta.debounce}.`,
  '',
  `Files: ${meta.files.join('; ')}.`,
  '',
  `| ${cols.join(' | ')} |`,
  `| ${cols.map(() => '---').join(' | ')} |`,
  ...summaries.map((s) => `| ${cols.map((c) => s[c]).join(' | ')} |`),
  '',
  'Latency: request sent → answer, answered requests only. New prefill %: prompt tokens that needed a model run, warm (not the first) answered requests. Hit rate: answered requests that reused a KV prefix. Targets (issue 5): median new prefill ≤ 5% of the prompt, p50 ≤ 200 ms, p95 ≤ 500 ms.',
  '',
];
fs.writeFileSync(`${OUT}.md`, md.join('\n'));
console.log(md.join('\n'));
