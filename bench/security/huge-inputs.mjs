#!/usr/bin/env node
// Huge inputs and cache growth against the built server on models/default (issue 13, items 4 and 5): latency of
// completions on giant lines and documents, whether other connections wait meanwhile, and the server's RSS as
// caches grow or are released. Optionally the same scenarios on another build (--baseline DIR: a `git archive` of
// an older commit built with tsc), each scenario in a fresh server process, new and baseline alternating (ABBA).
//
//   npm run build && node bench/security/huge-inputs.mjs [--scenarios small,line256k,api3_5m,min5mb,doc50mb,prefixes,cycles,docs]
//        [--baseline DIR] [--baseline-scenarios LIST] [--order abba|ab] [--max-new-tokens 8] [--out bench/results/security-huge]
//
// Scenarios:
//   line256k  LSP: one document holding a 256 KiB line; a completion at its end.
//   api3_5m   API: `complete` with a 3.5 MiB one-line prefix while a second connection sends `status` every 50 ms
//             (its worst latency says whether other connections wait).
//   min5mb    LSP: a 5 MB minified file (one line); the first completion, then 5 keystrokes with a completion each.
//   doc50mb   LSP: a 50 MB document; a completion, RSS, didClose, RSS 3 s later.
//   prefixes  API: 78 completions with distinct 3 MiB prefixes (distinct documentKeys, 2 connections x 39), the
//             server run with a 256 MiB JS heap (--max-old-space-size=256): does it survive, RSS.
//   small     LSP: a 2 KB file, the same requests as min5mb (the model's own cost at the machine's load).
//   cycles    API: 40 x (connect, open a 3 MiB document, complete, disconnect without document/close), RSS.
//   docs      API: 60 documents of 3 MiB opened on one connection: how many are accepted, RSS.
// RSS is VmRSS (and the peak, VmHWM) of the server process from /proc. Results: <out>.json and <out>.md.
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rpc from 'vscode-jsonrpc/node';
import { WebSocket } from 'ws';
const { createMessageConnection, StreamMessageReader, StreamMessageWriter } = rpc;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const SCENARIOS = arg('scenarios', 'small,line256k,api3_5m,min5mb,doc50mb,prefixes,cycles,docs').split(',');
const BASELINE = arg('baseline', undefined);
const ORDER = arg('order', 'abba');
const MAX_NEW = arg('max-new-tokens', '8');
const OUT = path.resolve(root, arg('out', 'bench/results/security-huge'));
const TOKEN = 'bench-token-0123456789abcdef';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function mem(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
    return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return { rssMb: null, peakMb: null, exited: true };
  }
}

/** A deterministic minified-looking line of `bytes` ASCII characters. */
function minified(bytes) {
  const unit = 'function a(b,c){return b.map(function(d){return d*c+1})};var e=a([1,2,3],4),f={g:e,h:"i"};';
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}

function spawnServer(build, args, nodeArgs = []) {
  const serverRoot = build === 'baseline' ? path.resolve(BASELINE) : root;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-bench-home-'));
  const child = spawn(process.execPath, [...nodeArgs, path.join(serverRoot, 'bin/infill-ls.js'), 'serve', ...args, '--max-new-tokens', MAX_NEW], {
    cwd: serverRoot,
    // The baseline predates the telemetry switch: set it for both so neither writes to this HOME.
    env: { ...process.env, HOME: home, ORT_DISABLE_TELEMETRY: '1', INFILL_LS_TOKEN: TOKEN },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-20000)));
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exited, stderr: () => stderr, cleanup: () => fs.rmSync(home, { recursive: true, force: true }) };
}

async function lspServer(build) {
  const s = spawnServer(build, ['--stdio']);
  const conn = createMessageConnection(new StreamMessageReader(s.child.stdout), new StreamMessageWriter(s.child.stdin));
  let ready;
  const readyP = new Promise((r) => (ready = r));
  const messages = [];
  conn.onNotification('infill-ls/status', (st) => st.state === 'ready' && ready());
  conn.onNotification('window/showMessage', (p) => messages.push(p.message));
  conn.onNotification(() => {});
  conn.onRequest(() => null);
  conn.onError(() => {});
  conn.listen();
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: { textDocument: { inlineCompletion: {} } }, initializationOptions: { 'infill-ls': { debounce: 0 } } });
  conn.sendNotification('initialized', {});
  await Promise.race([readyP, sleep(120_000)]);
  const complete = async (uri, position) => {
    const t0 = performance.now();
    try {
      const r = await Promise.race([
        conn.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } }),
        s.exited.then((e) => Promise.reject(new Error(`server exited ${JSON.stringify(e)}`))),
      ]);
      return { ms: Math.round(performance.now() - t0), items: r?.items?.length ?? 0 };
    } catch (err) {
      return { ms: Math.round(performance.now() - t0), error: String(err.message ?? err).slice(0, 160) };
    }
  };
  return {
    ...s,
    conn,
    messages,
    complete,
    async stop() {
      try {
        await Promise.race([conn.sendRequest('shutdown'), sleep(5000)]);
        conn.sendNotification('exit');
      } catch {}
      await Promise.race([s.exited, sleep(5000)]);
      s.child.kill('SIGKILL');
      s.cleanup();
    },
  };
}

async function apiServer(build, nodeArgs = []) {
  const s = spawnServer(build, ['--ws', '--port', '0'], nodeArgs);
  let out = '';
  const url = await new Promise((resolve, reject) => {
    s.child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    s.exited.then(() => reject(new Error(`server exited: ${s.stderr()}`)));
  });
  const connect = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${TOKEN}` }, maxPayload: 64 << 20 });
      let id = 0;
      const pending = new Map();
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      });
      ws.on('error', reject);
      ws.on('close', () => {
        for (const p of pending.values()) p({ error: { code: 'closed' } });
      });
      ws.on('open', () =>
        resolve({
          ws,
          call(method, params) {
            const my = ++id;
            return new Promise((r) => {
              pending.set(my, r);
              ws.send(JSON.stringify({ jsonrpc: '2.0', id: my, method, params }));
            });
          },
          close: () => new Promise((r) => (ws.once('close', r), ws.close())),
        }),
      );
    });
  const probe = await connect();
  for (let i = 0; i < 600; i++) {
    const st = await probe.call('status', {});
    if (st.result?.state === 'ready' || st.result?.state === 'degraded') break;
    await sleep(200);
  }
  await probe.close();
  return {
    ...s,
    connect,
    async stop() {
      s.child.kill('SIGTERM');
      await Promise.race([s.exited, sleep(5000)]);
      s.child.kill('SIGKILL');
      s.cleanup();
    },
  };
}

const scenarios = {
  async line256k(build) {
    const srv = await lspServer(build);
    const line = minified(256 * 1024);
    srv.conn.sendNotification('textDocument/didOpen', { textDocument: { uri: 'file:///b/line.js', languageId: 'javascript', version: 1, text: `${line}\n` } });
    const first = await srv.complete('file:///b/line.js', { line: 0, character: line.length });
    const m = mem(srv.child.pid);
    await srv.stop();
    return { firstMs: first.ms, items: first.items, error: first.error, ...m };
  },
  async api3_5m(build) {
    const srv = await apiServer(build);
    const [a, b] = [await srv.connect(), await srv.connect()];
    let worst = 0;
    let polls = 0;
    let stop = false;
    const poller = (async () => {
      while (!stop) {
        const t0 = performance.now();
        await b.call('status', {});
        worst = Math.max(worst, performance.now() - t0);
        polls++;
        await sleep(50);
      }
    })();
    const t0 = performance.now();
    const r = await a.call('complete', { prefix: minified(3.5 * 1024 * 1024), suffix: '', languageId: 'javascript' });
    const ms = Math.round(performance.now() - t0);
    stop = true;
    await poller;
    const m = mem(srv.child.pid);
    await srv.stop();
    return { ms, ok: r.result !== undefined, candidates: r.result?.candidates?.length ?? 0, degraded: r.result?.degraded, error: r.error?.message?.slice(0, 160), otherConnectionWorstMs: Math.round(worst), polls, ...m };
  },
  async small(build) {
    return scenarios.min5mb(build, 2000);
  },
  async min5mb(build, size = 5 * 1000 * 1000) {
    const srv = await lspServer(build);
    const text = minified(size);
    const uri = 'file:///b/app.min.js';
    const at = Math.floor(text.length / 2);
    srv.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'javascript', version: 1, text } });
    const first = await srv.complete(uri, { line: 0, character: at });
    const keys = [];
    for (let k = 0; k < 5; k++) {
      srv.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 + k }, contentChanges: [{ range: { start: { line: 0, character: at + k }, end: { line: 0, character: at + k } }, text: 'x' }] });
      keys.push(await srv.complete(uri, { line: 0, character: at + k + 1 }));
    }
    const m = mem(srv.child.pid);
    await srv.stop();
    return { firstMs: first.ms, firstItems: first.items, firstError: first.error, keystrokeMs: keys.map((k) => k.ms), keystrokeErrors: keys.filter((k) => k.error).length, ...m };
  },
  async doc50mb(build) {
    const srv = await lspServer(build);
    const before = mem(srv.child.pid);
    const lines = [];
    let size = 0;
    for (let i = 0; size < 50 * 1000 * 1000; i++) {
      const l = `export const value${i} = compute(${i}, "${'abcdefghij'.repeat(4)}");\n`;
      lines.push(l);
      size += l.length;
    }
    const text = lines.join('');
    const uri = 'file:///b/big.ts';
    const t0 = performance.now();
    srv.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text } });
    const r = await srv.complete(uri, { line: Math.floor(lines.length / 2), character: 10 });
    const withDoc = mem(srv.child.pid);
    srv.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
    await sleep(3000);
    const afterClose = mem(srv.child.pid);
    const message = srv.messages.find((x) => /too large/.test(x));
    await srv.stop();
    return { completeMs: r.ms, items: r.items, error: r.error, totalMs: Math.round(performance.now() - t0), rssBeforeMb: before.rssMb, rssOpenMb: withDoc.rssMb, peakMb: withDoc.peakMb, rssAfterCloseMb: afterClose.rssMb, tooLargeMessage: message ?? null };
  },
  async prefixes(build) {
    // A 256 MiB JS heap, as in the issue: the completion cache's strings live on the heap (the KV caches do not).
    const srv = await apiServer(build, ['--max-old-space-size=256']);
    const before = mem(srv.child.pid);
    const conns = [await srv.connect(), await srv.connect()];
    const outcomes = {};
    const t0 = performance.now();
    for (let i = 0; i < 78; i++) {
      const c = conns[i % 2];
      const prefix = `// ${i}\n${minified(3 * 1024 * 1024 - 8)}`;
      const r = await c.call('complete', { prefix, suffix: '\n', languageId: 'javascript', documentKey: `k${i}` });
      const key = r.error ? `error ${r.error.code}` : 'ok';
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (!fs.existsSync(`/proc/${srv.child.pid}`)) break;
    }
    const after = mem(srv.child.pid);
    for (const c of conns) await c.close();
    await srv.stop();
    return { outcomes, totalMs: Math.round(performance.now() - t0), rssBeforeMb: before.rssMb, rssAfterMb: after.rssMb, peakMb: after.peakMb, exited: after.exited ?? false };
  },
  async cycles(build) {
    const srv = await apiServer(build);
    const before = mem(srv.child.pid);
    const text = minified(3 * 1024 * 1024);
    for (let i = 0; i < 40; i++) {
      const c = await srv.connect();
      const uri = `file:///b/cycle${i}.js`;
      await c.call('document/open', { uri, languageId: 'javascript', text });
      await c.call('complete', { uri, position: { line: 0, character: text.length - i } });
      await c.close();
    }
    await sleep(1000);
    const after = mem(srv.child.pid);
    await srv.stop();
    return { rssBeforeMb: before.rssMb, rssAfterMb: after.rssMb, peakMb: after.peakMb };
  },
  async docs(build) {
    const srv = await apiServer(build);
    const before = mem(srv.child.pid);
    const c = await srv.connect();
    const outcomes = {};
    for (let i = 0; i < 60; i++) {
      const r = await c.call('document/open', { uri: `file:///b/doc${i}.js`, languageId: 'javascript', text: `// ${i}\n${minified(3 * 1024 * 1024 - 8)}` });
      const key = r.error ? `error ${r.error.code}` : 'ok';
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    await sleep(1000);
    const after = mem(srv.child.pid);
    await c.close();
    await srv.stop();
    return { outcomes, rssBeforeMb: before.rssMb, rssAfterMb: after.rssMb, peakMb: after.peakMb };
  },
};

for (const s of SCENARIOS) if (!scenarios[s]) throw new Error(`unknown scenario ${s} (${Object.keys(scenarios).join(', ')})`);
// --baseline-scenarios: the scenarios the baseline also runs (default all; the old build takes minutes on some).
const BASELINE_SCENARIOS = arg('baseline-scenarios', SCENARIOS.join(',')).split(',');
const results = [];
for (const scenario of SCENARIOS) {
  const withBaseline = BASELINE !== undefined && BASELINE_SCENARIOS.includes(scenario);
  const builds = withBaseline ? (ORDER === 'abba' ? ['new', 'baseline', 'baseline', 'new'] : ['new', 'baseline']) : ['new'];
  // ABBA per scenario: load drift hits both builds alike; the second run of each build is kept beside the first.
  // The long scenarios run once per build.
  const order = scenario === 'doc50mb' || scenario === 'prefixes' || scenario === 'cycles' || scenario === 'docs' ? [...new Set(builds)] : builds;
  for (const build of order) {
    const load = os.loadavg()[0];
    const t0 = Date.now();
    let r;
    try {
      r = await scenarios[scenario](build);
    } catch (err) {
      r = { failed: String(err.message ?? err).slice(0, 300) };
    }
    const row = { scenario, build, load1: Number(load.toFixed(2)), wallS: Math.round((Date.now() - t0) / 1000), ...r };
    console.log(JSON.stringify(row));
    results.push(row);
    write(); // after every row: a run stopped early still leaves what it measured
  }
}

function write() {
const command = `node bench/security/huge-inputs.mjs --scenarios ${SCENARIOS.join(',')}${BASELINE ? ` --baseline ${BASELINE} --baseline-scenarios ${BASELINE_SCENARIOS.join(',')} --order ${ORDER}` : ''} --max-new-tokens ${MAX_NEW}${arg('out', null) ? ` --out ${arg('out')}` : ''}`;
const meta = { command, date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, uptimeLoad: os.loadavg().map((x) => Number(x.toFixed(2))) };
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, results }, null, 2) + '\n');
const md = [
  `# Huge inputs and cache growth (issue 13)`,
  '',
  `\`${command}\` — ${meta.date}, ${meta.cpus} × ${meta.cpu}; load average at the end ${meta.uptimeLoad.join(' ')} (a shared machine: load1 per row).`,
  '',
  '| scenario | build | load1 | result |',
  '|---|---|---|---|',
  ...results.map((r) => {
    const { scenario, build, load1, ...rest } = r;
    return `| ${scenario} | ${build} | ${load1} | ${Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ').replace(/\|/g, '\\|')} |`;
  }),
  '',
];
fs.writeFileSync(`${OUT}.md`, md.join('\n'));
}
console.log(`wrote ${path.relative(root, OUT)}.{json,md}`);
