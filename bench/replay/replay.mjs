#!/usr/bin/env node
// Keystroke replay benchmark: spawns the real server (`node bin/infill-ls.js serve --stdio`), talks LSP over stdio
// as an editor would (incremental didChange per keystroke, then textDocument/inlineCompletion, cancelling the
// previous request when the next keystroke comes), replays seeded typing over real dev files from
// bench/quality/data/, once per mode:
//   off    — every cache off (INFILL_LS_PREFIX_CACHE=0, no warming, no completion reuse, no speculation);
//   prefix — the per-document KV prefix caches and the scheduler's hand-over of running prefills (issue 5, part 1);
//   all    — prefix + background warming + typed-ahead completion reuse + the speculative next completion;
//   baseline — another build's server (--baseline DIR) with its prefix cache on, measured in the same run.
// (`on` is the old name of `prefix`.) A mode may be listed twice (e.g. an ABBA order against load drift).
//
//   npm run build && node bench/replay/replay.mjs [--files 3] [--chars 120] [--seed 1] [--modes off,prefix,all]
//        [--fim psm|spm|psm,spm] [--accept 1] [--chunk N] [--device D] [--model DIR] [--max-new-tokens N] [--patient MS] [--out bench/results/replay-cpu]
//        [--variant NAME:K=V,K=V] (repeatable: a mode NAME that runs `prefix` with these environment variables added,
//        e.g. --variant nofar:INFILL_LS_FAR_CONTEXT_TOKENS=0 --modes prefix,nofar,nofar,prefix)
//
// --load N (or a list, e.g. --load 0,2): every mode runs once per load level with N CPU-bound background processes
// (`node -e` busy loops, started before the mode's server and killed after it; each also stops itself after 15 min),
// rows named mode@loadN; the summary compares each mode's loaded p50 with its quiet (load 0) p50 (issue 11's
// target: within 3x).
// --fim forces the FIM template mode (INFILL_LS_FIM_MODE); a list runs every mode once per FIM mode. --accept 1 (default): when the suggestion on screen is
// at least 2 characters and is exactly what the user is about to type, the user accepts it (Tab: one didChange
// inserting it, then infill-ls/didAcceptCompletion) instead of typing it; the same rule in every mode, so a mode
// whose suggestions arrive in time is accepted more often. --chunk sets INFILL_LS_PREFILL_CHUNK.
//
// Per request it records the latency to the answer, whether it was cancelled, and (from the engine's debug line
// on stderr, INFILL_LS_LOG=debug) prompt tokens, new prefill tokens and the cache outcome; RSS is sampled from
// /proc. Debounce is set to 0 ms (fixed), so latencies exclude it.
import '../lib/help.mjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rpc from 'vscode-jsonrpc/node';
import { rng } from '../lib/data.mjs';
import { arg, makeSession as makeSessionOf, positionAt, replayFiles, sessionArgs } from './session.mjs';
const { createMessageConnection, StreamMessageReader, StreamMessageWriter, CancellationTokenSource } = rpc;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { nfiles: NFILES, nchars: NCHARS, seed: SEED } = sessionArgs();
const OUT = path.resolve(root, arg('out', 'bench/results/replay-cpu'));
const MODES = arg('modes', 'off,prefix,all').split(',').map((m) => (m === 'on' ? 'prefix' : m));
const FIMS = arg('fim', '').split(',').filter(Boolean); // several: every mode runs once per FIM mode
for (const f of FIMS) if (f !== 'psm' && f !== 'spm') throw new Error(`unknown FIM mode ${f} (psm, spm)`);
const FIM = FIMS.join(',') || undefined;
const ACCEPT = arg('accept', '1') !== '0';
const CHUNK = arg('chunk', undefined);
const LOADS = String(arg('load', '0')).split(',').map(Number);
for (const n of LOADS) if (!Number.isInteger(n) || n < 0) throw new Error(`--load wants counts of background processes, got ${arg('load')}`);
const MODEL = arg('model', undefined); // --model DIR: the server's modelDir setting (e.g. a Qwen2.5-Coder-shaped model, bench/realmodels)
// --max-new-tokens N: the server's maxNewTokens. Random-weight models (the Qwen shapes) never emit a stop token, so
// every completion would run to the default 64 tokens; a cap near a trained model's single-line length measures that.
const MAX_NEW = Number(arg('max-new-tokens', 0)) || undefined;
const PATIENT = Number(arg('patient', 0)) || 0;
/** The servers' ready status messages (template and device), for the report's header. */
const serverStatuses = new Set();
const DEVICE = arg('device', undefined); // --device D: the server's `serve --device D` (e.g. webgpu on the GPU machine)
// --baseline DIR: mode 'baseline' runs DIR/bin/infill-ls.js (an older build, e.g. a `git archive` of the commit
// before the scheduler, built with tsc) with its prefix cache on, in the same run as the other modes.
const BASELINE = arg('baseline', undefined);
const MODE_ENV = {
  off: { INFILL_LS_PREFIX_CACHE: '0', INFILL_LS_WARM: '0', INFILL_LS_COMPLETION_REUSE: '0', INFILL_LS_SPECULATIVE: '0' },
  prefix: { INFILL_LS_PREFIX_CACHE: '1', INFILL_LS_WARM: '0', INFILL_LS_COMPLETION_REUSE: '0', INFILL_LS_SPECULATIVE: '0' },
  all: { INFILL_LS_PREFIX_CACHE: '1', INFILL_LS_WARM: '1', INFILL_LS_COMPLETION_REUSE: '1', INFILL_LS_SPECULATIVE: '1' },
  // The prefix mode's switches (an older build ignores those it lacks), so both sides run the same cache policy.
  baseline: { INFILL_LS_PREFIX_CACHE: '1', INFILL_LS_WARM: '0', INFILL_LS_COMPLETION_REUSE: '0', INFILL_LS_SPECULATIVE: '0' },
};
// --variant NAME:K=V,K=V (repeatable): a mode NAME that runs `prefix` with these environment variables added (e.g.
// INFILL_LS_THREADS=1), for side-by-side levers in one invocation: --modes prefix,NAME,NAME,prefix.
for (let i = process.argv.indexOf('--variant'); i !== -1; i = process.argv.indexOf('--variant', i + 1)) {
  const [name, kvs = ''] = String(process.argv[i + 1]).split(':');
  if (!name || MODE_ENV[name]) throw new Error(`--variant ${process.argv[i + 1]}: want NEW_NAME:K=V,K=V`);
  MODE_ENV[name] = { ...MODE_ENV.prefix, ...Object.fromEntries(kvs.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) };
}
for (const m of MODES) if (!MODE_ENV[m]) throw new Error(`unknown mode ${m} (off, prefix, all)`);


const files = replayFiles(root, NFILES);
const makeSession = (file, rand) => makeSessionOf(file, rand, NCHARS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts n CPU-bound background processes (bounded: each exits after 15 minutes); returns their stop function. */
function startLoad(n) {
  const procs = Array.from({ length: n }, () =>
    spawn(process.execPath, ['-e', 'const end = Date.now() + 900000; while (Date.now() < end) {}'], { stdio: 'ignore' }),
  );
  return () => procs.forEach((p) => p.kill('SIGKILL'));
}

/**
 * Linux per-thread scheduler counters (/proc/PID/task/TID/schedstat: ns on the CPU, ns runnable but waiting for a
 * CPU) summed over `tids` (default: every thread of `pid`); null elsewhere. Per request, the server's main thread,
 * the server's other threads (the model worker and onnxruntime's) and this client's main thread show where a
 * request's time went: running, or waiting for a CPU (load).
 */
function schedstat(pid, tids) {
  try {
    let run = 0;
    let wait = 0;
    for (const tid of tids ?? fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const [r, w] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
        run += Number(r);
        wait += Number(w);
      } catch {
        // the thread ended
      }
    }
    return { run, wait };
  } catch {
    return null;
  }
}
const SCHED = process.platform === 'linux';
const schedNow = (serverPid) =>
  SCHED ? { main: schedstat(serverPid, [serverPid]), all: schedstat(serverPid), client: schedstat(process.pid, [process.pid]) } : null;
const schedDelta = (a, b) =>
  a?.main && b?.main && a.all && b.all && a.client && b.client
    ? {
        serverMainRunMs: (b.main.run - a.main.run) / 1e6,
        serverMainWaitMs: (b.main.wait - a.main.wait) / 1e6,
        serverOtherRunMs: (b.all.run - b.main.run - (a.all.run - a.main.run)) / 1e6,
        serverOtherWaitMs: (b.all.wait - b.main.wait - (a.all.wait - a.main.wait)) / 1e6,
        clientRunMs: (b.client.run - a.client.run) / 1e6,
        clientWaitMs: (b.client.wait - a.client.wait) / 1e6,
      }
    : null;

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function runMode(mode, fim) {
  if (mode === 'baseline' && !BASELINE) throw new Error('mode baseline needs --baseline DIR');
  const serverRoot = mode === 'baseline' ? path.resolve(BASELINE) : root;
  const child = spawn(process.execPath, [path.join(serverRoot, 'bin/infill-ls.js'), 'serve', '--stdio', ...(DEVICE ? ['--device', DEVICE] : [])], {
    cwd: serverRoot,
    env: { ...process.env, INFILL_LS_LOG: 'debug', ...MODE_ENV[mode], ...(fim ? { INFILL_LS_FIM_MODE: fim } : {}), ...(CHUNK ? { INFILL_LS_PREFILL_CHUNK: CHUNK } : {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const engineLines = new Map(); // `${uri}@${version}` → record
  const background = { speculative: 0, speculativeOk: 0, warmPacked: 0, modelPrefillTokens: null };
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
        // Cumulative in the engine (background work included); builds before the scheduler do not log it.
        if (typeof rec.modelPrefillTokens === 'number') background.modelPrefillTokens = Math.max(background.modelPrefillTokens ?? 0, rec.modelPrefillTokens);
        if (rec.speculative) {
          background.speculative++;
          if (rec.outcome === 'ok') background.speculativeOk++;
        } else engineLines.set(`${rec.doc}@${rec.version}`, rec);
      }
      const w = /warm (\{.*\})$/.exec(line);
      if (w) background.warmPacked += JSON.parse(w[1]).packed ?? 0;
    }
  });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  let ready;
  const readyP = new Promise((r) => (ready = r));
  conn.onNotification('infill-ls/status', (s) => {
    if (s.state === 'ready') {
      // The ready status names the FIM template and the device (e.g. "qwen PSM, q4 on cpu"): kept for the report.
      if (typeof s.message === 'string') serverStatuses.add(s.message);
      ready();
    }
  });
  conn.onNotification(() => {});
  conn.onRequest(() => null);
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: { textDocument: { inlineCompletion: { dynamicRegistration: false }, synchronization: {} } },
    initializationOptions: { 'infill-ls': { debounce: { mode: 'fixed', fixedMs: 0 }, ...(MODEL ? { modelDir: path.resolve(MODEL) } : {}), ...(MAX_NEW ? { maxNewTokens: MAX_NEW } : {}) } },
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
  let accepts = 0;
  let acceptedChars = 0;
  for (let f = 0; f < files.length; f++) {
    const uri = `file:///replay/${f}/${path.basename(files[f].path)}`;
    const { initial, start, typed, steps } = makeSession(files[f], rand);
    let text = initial;
    let version = 1;
    let done = 0; // characters of `typed` in the text
    conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version, text } });
    let pending = null; // {promise, source}
    let shown = null; // {version, text, completionId}: the suggestion on screen
    const edit = async (gapMs, kind, at, ch) => {
      await sleep(gapMs);
      // --patient MS: the user waits up to MS for the suggestion before the next keystroke (the latency of a model
      // too slow for the typing speed, measured as if each keystroke were followed by a pause).
      if (PATIENT && pending) await Promise.race([pending.promise, sleep(PATIENT)]);
      if (pending) pending.source.cancel(); // an editor cancels the outstanding inline request on the next keystroke
      version++;
      let change;
      let cursor;
      if (kind === 'insert') {
        const p = positionAt(text, at);
        change = { range: { start: p, end: p }, text: ch };
        text = text.slice(0, at) + ch + text.slice(at);
        cursor = at + ch.length;
      } else {
        change = { range: { start: positionAt(text, at), end: positionAt(text, at + 1) }, text: '' };
        text = text.slice(0, at) + text.slice(at + 1);
        cursor = at;
      }
      conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [change] });
      return cursor;
    };
    const request = (cursor, kind) => {
      const source = new CancellationTokenSource();
      const s0 = schedNow(child.pid);
      const rec = { file: f, version, kind, sentAt: performance.now() };
      requests.push(rec);
      const v = version;
      const promise = conn
        .sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position: positionAt(text, cursor), context: { triggerKind: 2 } }, source.token)
        .then(
          (res) => {
            rec.latencyMs = performance.now() - rec.sentAt;
            rec.outcome = 'ok';
            const sched = schedDelta(s0, schedNow(child.pid));
            if (sched) rec.sched = sched;
            const items = Array.isArray(res) ? res : res?.items ?? [];
            const insert = items[0]?.insertText;
            const s = insert === undefined ? '' : String(typeof insert === 'string' ? insert : insert.value);
            rec.chars = s.length;
            if (v === version) shown = { version: v, text: s, completionId: items[0]?.command?.arguments?.[0]?.completionId };
          },
          (err) => {
            rec.latencyMs = performance.now() - rec.sentAt;
            rec.outcome = err?.code === -32800 || err?.code === -32801 ? 'cancelled' : `error ${err?.code}: ${err?.message}`;
          },
        );
      pending = { promise, source };
    };
    const base = () => start; // the typed region starts here; positions after it shift by what is typed
    // (session.mjs keystrokes() replays the same edits without accepts, for fim-tokens.mjs.)
    for (const step of steps) {
      if (step.i < done) continue; // typed by an accept
      if (step.jump) {
        // Jump to another line start in the file, type 10 characters of a comment, delete them, come back.
        const at = step.jump.atInitial > base() ? step.jump.atInitial + done : step.jump.atInitial;
        const junk = '// note: x';
        for (let j = 0; j < junk.length; j++) request(await edit(step.jump.gaps[j], 'insert', at + j, junk[j]), 'insert');
        for (let j = junk.length; j > 0; j--) request(await edit(step.jump.gaps[junk.length + j - 1], 'delete', at + j - 1), 'delete');
      }
      const cursor = start + done;
      if (step.typo) {
        request(await edit(step.typo.gaps[0], 'insert', cursor, 'q'), 'insert');
        request(await edit(step.typo.gaps[1], 'delete', cursor), 'delete');
      }
      await sleep(step.gapMs); // the user sees what arrived during the pause, then types or accepts
      const rest = typed.slice(done);
      if (ACCEPT && shown && shown.version === version && shown.text.length >= 2 && rest.startsWith(shown.text)) {
        // Tab: the suggestion on screen is what the user was about to type.
        const accepted = shown;
        const c = await edit(0, 'insert', cursor, accepted.text);
        if (accepted.completionId) conn.sendNotification('infill-ls/didAcceptCompletion', { completionId: accepted.completionId, uri });
        accepts++;
        acceptedChars += accepted.text.length;
        done += accepted.text.length;
        shown = null;
        request(c, 'accept');
        continue;
      }
      shown = null;
      request(await edit(0, 'insert', cursor, typed[step.i]), 'insert');
      done++;
    }
    if (pending) await pending.promise;
    if (text !== files[f].text) throw new Error(`replay bug: the final text of ${uri} differs from the file`);
    await sleep(300);
  }
  clearInterval(rssTimer);
  await sleep(200);
  for (const r of requests) {
    const e = engineLines.get(`file:///replay/${r.file}/${path.basename(files[r.file].path)}@${r.version}`);
    if (e) {
      Object.assign(r, { promptTokens: e.promptTokens, prefillTokens: e.prefillTokens, cache: e.cache, engineOutcome: e.outcome, engineMs: e.totalMs, generated: e.generated });
      // Where the engine's time went (builds that log them): see TIME_PARTS.
      for (const k of ['startMs', 'promptMs', 'schedMs', 'planMs', 'prefillMs', 'decodeMs', 'modelRuns', 'modelRunMs', 'postMs', 'lineMode', 'drafted', 'accepted']) if (e[k] !== undefined) r[k] = e[k];
    }
  }
  await conn.sendRequest('shutdown').catch(() => {});
  conn.sendNotification('exit');
  await Promise.race([new Promise((r) => child.on('exit', r)), sleep(3000)]);
  child.kill();
  return { mode: fim ? `${mode}/${fim}` : mode, loadMs, requests, accepts, acceptedChars, background, rssMaxMb: Math.max(...rss) / 1024, rssLastMb: rss.at(-1) / 1024 };
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
  const firstOfFile = new Map();
  for (const r of ok) if (!firstOfFile.has(r.file)) firstOfFile.set(r.file, r);
  const warm = ok.filter((r) => firstOfFile.get(r.file) !== r);
  const withTokens = warm.filter((r) => typeof r.prefillTokens === 'number' && r.promptTokens > 0);
  const outcome = (r) => (typeof r.cache !== 'string' ? 'unknown' : r.cache.startsWith('kv-prefix') ? 'kv-prefix' : r.cache);
  const outcomes = {};
  for (const r of ok) outcomes[outcome(r)] = (outcomes[outcome(r)] ?? 0) + 1;
  const engineRuns = rs.filter((r) => typeof r.prefillTokens === 'number');
  return {
    mode: run.mode,
    requests: rs.length,
    answered: ok.length,
    cancelled: rs.filter((r) => r.outcome === 'cancelled').length,
    errors: rs.filter((r) => r.outcome !== 'ok' && r.outcome !== 'cancelled').length,
    latencyP50Ms: round(pct(ok.map((r) => r.latencyMs), 0.5)),
    latencyP95Ms: round(pct(ok.map((r) => r.latencyMs), 0.95)),
    // Answered requests that ran the model (completion-reuse answers excluded): the latency load acts on.
    modelLatencyP50Ms: round(pct(ok.filter((r) => typeof r.cache === 'string' && !r.cache.startsWith('completion-reuse')).map((r) => r.latencyMs), 0.5)),
    modelLatencyP95Ms: round(pct(ok.filter((r) => typeof r.cache === 'string' && !r.cache.startsWith('completion-reuse')).map((r) => r.latencyMs), 0.95)),
    // Answers from the completion cache (no model run), and their share of the answers: the "all" mode's p50 sits in
    // them, so when load cancels more model answers (fewer texts to type through) the overall p50 moves into their tail.
    reuseLatencyP50Ms: round(pct(ok.filter((r) => typeof r.cache === 'string' && r.cache.startsWith('completion-reuse')).map((r) => r.latencyMs), 0.5)),
    reuseLatencyP90Ms: round(pct(ok.filter((r) => typeof r.cache === 'string' && r.cache.startsWith('completion-reuse')).map((r) => r.latencyMs), 0.9)),
    // Where the answers without the model spent their time (medians over them, ms; Linux schedstat): the server's main
    // thread on a CPU / runnable but waiting for one, the server's other threads (model worker, onnxruntime) on a CPU
    // meanwhile, this client's thread waiting for a CPU.
    ...(() => {
      const reuse = ok.filter((r) => typeof r.cache === 'string' && r.cache.startsWith('completion-reuse') && r.sched);
      const med = (k) => round(pct(reuse.map((r) => r.sched[k]), 0.5), 2);
      return reuse.length ? { reuseServerMainRunMs: med('serverMainRunMs'), reuseServerMainWaitMs: med('serverMainWaitMs'), reuseServerOtherRunMs: med('serverOtherRunMs'), reuseClientWaitMs: med('clientWaitMs') } : {};
    })(),
    reuseShare: ok.length ? round(ok.filter((r) => typeof r.cache === 'string' && r.cache.startsWith('completion-reuse')).length / ok.length, 2) : null,
    medianPromptTokens: pct(withTokens.map((r) => r.promptTokens), 0.5),
    medianNewPrefillTokensWarm: pct(withTokens.map((r) => r.prefillTokens), 0.5),
    medianNewPrefillPctWarm: round(pct(withTokens.map((r) => (100 * r.prefillTokens) / r.promptTokens), 0.5)),
    p95NewPrefillPctWarm: round(pct(withTokens.map((r) => (100 * r.prefillTokens) / r.promptTokens), 0.95)),
    // Every prompt token a request's own model runs prefilled (answered and cancelled requests; background work excluded).
    newPrefillTokensTotal: engineRuns.reduce((a, r) => a + (r.prefillTokens ?? 0), 0),
    // Every prompt token the model prefilled, background work (orphaned prefills, warming, speculation) included.
    modelPrefillTokens: run.background.modelPrefillTokens ?? 'n/a',
    firstRequestNewPrefill: [...firstOfFile.values()].map((r) => r.prefillTokens ?? null).join('/'),
    outcomes: Object.entries(outcomes)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    accepts: run.accepts,
    acceptedChars: run.acceptedChars,
    speculative: `${run.background.speculativeOk}/${run.background.speculative}`,
    warmPacked: run.background.warmPacked,
    rssMaxMb: round(run.rssMaxMb),
    loadMs: run.loadMs,
  };
}

const loadavgAtStart = os.loadavg().map((x) => round(x, 2));
const runs = [];
for (const fim of FIMS.length ? FIMS : [undefined]) {
  for (const load of LOADS) {
    for (const m of MODES) {
      process.stderr.write(`replay: mode ${m}${fim ? ` (${fim})` : ''}${load ? `, ${load} background processes` : ''} ...\n`);
      const stop = startLoad(load);
      try {
        const loadavg = os.loadavg().map((x) => round(x, 2));
        const run = await runMode(m, fim);
        run.load = load;
        run.loadavg = loadavg;
        if (LOADS.length > 1 || load > 0) run.mode = `${run.mode}@load${load}`;
        runs.push(run);
      } finally {
        stop();
      }
    }
  }
}
const summaries = runs.map((r) => ({ ...summarize(r), ...(r.loadavg ? { loadavg1m: r.loadavg[0] } : {}) }));
// Where an answered request's time goes (medians over the answered requests after each file's first that ran the
// model; the engine's debug line, builds that log it): latency = transport + engine totalMs; totalMs = startMs + promptMs
// (sticky trimming + tokenization) + schedMs (waits behind other jobs + the scheduler's chunks) + prefillMs' last run
// + decodeMs + planMs + postMs; modelRunMs: the forward passes of the decode (its prefill run included).
const TIME_PARTS = ['latencyMs', 'engineMs', 'transportMs', 'startMs', 'promptMs', 'schedMs', 'planMs', 'prefillMs', 'decodeMs', 'modelRuns', 'modelRunMs', 'msPerDecodeStep', 'jsMs', 'postMs', 'prefillTokens', 'generated', 'drafted', 'accepted'];
const breakdowns = runs.map((run) => {
  const ok = run.requests.filter((r) => r.outcome === 'ok' && typeof r.modelRunMs === 'number');
  const firsts = new Set();
  const warm = ok.filter((r) => (firsts.has(r.file) ? true : (firsts.add(r.file), false)));
  const row = { mode: run.mode, n: warm.length };
  const val = (r, k) =>
    k === 'transportMs' ? r.latencyMs - r.engineMs
    : k === 'msPerDecodeStep' ? (r.modelRuns > 1 ? r.decodeMs / (r.modelRuns - 1) : undefined)
    : k === 'jsMs' ? r.prefillMs - (r.startMs ?? 0) - r.schedMs - r.promptMs + r.decodeMs - r.modelRunMs
    : r[k];
  for (const k of TIME_PARTS) row[k] = round(pct(warm.map((r) => val(r, k)).filter((v) => typeof v === 'number'), 0.5));
  return row;
});
// Loaded p50 against the same mode's quiet p50 (issue 11: within 3x).
const loadRatios = [];
if (LOADS.includes(0) && LOADS.some((n) => n > 0)) {
  for (const s of summaries) {
    const [mode, level] = s.mode.split('@load');
    if (level === '0') continue;
    const quiet = summaries.find((q) => q.mode === `${mode}@load0`);
    if (quiet?.latencyP50Ms) {
      loadRatios.push({
        mode,
        load: Number(level),
        quietP50Ms: quiet.latencyP50Ms,
        loadedP50Ms: s.latencyP50Ms,
        ratio: round(s.latencyP50Ms / quiet.latencyP50Ms, 2),
        quietP95Ms: quiet.latencyP95Ms,
        loadedP95Ms: s.latencyP95Ms,
        modelRatio: quiet.modelLatencyP50Ms ? round(s.modelLatencyP50Ms / quiet.modelLatencyP50Ms, 2) : null,
        quietModelP50Ms: quiet.modelLatencyP50Ms,
        loadedModelP50Ms: s.modelLatencyP50Ms,
        reuseRatio: quiet.reuseLatencyP50Ms && s.reuseLatencyP50Ms ? round(s.reuseLatencyP50Ms / quiet.reuseLatencyP50Ms, 2) : null,
        quietReuseP50Ms: quiet.reuseLatencyP50Ms,
        loadedReuseP50Ms: s.reuseLatencyP50Ms,
        quietReuseP90Ms: quiet.reuseLatencyP90Ms,
        loadedReuseP90Ms: s.reuseLatencyP90Ms,
        quietReuseShare: quiet.reuseShare,
        loadedReuseShare: s.reuseShare,
      });
    }
  }
}
const meta = {
  date: new Date().toISOString(),
  command: `node bench/replay/replay.mjs --files ${NFILES} --chars ${NCHARS} --seed ${SEED} --modes ${MODES.join(',')}${FIM ? ` --fim ${FIM}` : ''}${ACCEPT ? '' : ' --accept 0'}${CHUNK ? ` --chunk ${CHUNK}` : ''}${MAX_NEW ? ` --max-new-tokens ${MAX_NEW}` : ''}${PATIENT ? ` --patient ${PATIENT}` : ''}${DEVICE ? ` --device ${DEVICE}` : ''}${MODEL ? ` --model ${MODEL}` : ''}${BASELINE ? ` --baseline ${BASELINE}` : ''}${process.argv.flatMap((a, i) => (a === '--variant' ? [` --variant ${process.argv[i + 1]}`] : [])).join('')}${LOADS.some((n) => n > 0) ? ` --load ${LOADS.join(',')}` : ''}${arg('out', null) ? ` --out ${arg('out')}` : ''}`,
  fim: FIM ?? `detected (server: ${[...serverStatuses].join(' | ') || 'no status message'})`,
  accept: ACCEPT,
  loadavgAtStart,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  loadavgAtEnd: os.loadavg().map((x) => round(x, 2)),
  node: process.version,
  files: files.map((f) => `${f.pkg}/${f.path} (${f.text.length} chars)`),
  debounce: 'fixed 0 ms (latency excludes debounce)',
  targets: { medianNewPrefillPctWarm: '≤ 5', latencyP50Ms: '≤ 200', latencyP95Ms: '≤ 500' },
};
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(`${OUT}.json`, JSON.stringify({ meta, summaries, breakdowns, loadRatios, runs }, null, 1) + '\n');
const cols = ['mode', ...(summaries.some((s) => s.loadavg1m !== undefined) ? ['loadavg1m'] : []), 'requests', 'answered', 'cancelled', 'errors', 'latencyP50Ms', 'latencyP95Ms', 'modelLatencyP50Ms', 'modelLatencyP95Ms', 'medianPromptTokens', 'medianNewPrefillTokensWarm', 'medianNewPrefillPctWarm', 'p95NewPrefillPctWarm', 'newPrefillTokensTotal', 'modelPrefillTokens', 'firstRequestNewPrefill', 'accepts', 'acceptedChars', 'speculative', 'warmPacked', 'rssMaxMb', 'loadMs'];
const md = [
  `# Keystroke replay (${meta.date})`,
  '',
  `\`${meta.command}\` — ${meta.cpus} × ${meta.cpuModel} (shared), node ${meta.node}, load average at start ${meta.loadavgAtStart.join(' ')}, at end ${meta.loadavgAtEnd.join(' ')}; FIM ${meta.fim}; accepts ${meta.accept ? 'on' : 'off'}; ${meta.debounce}.`,
  '',
  `Files: ${meta.files.join('; ')}.`,
  '',
  `| ${cols.join(' | ')} |`,
  `| ${cols.map(() => '---').join(' | ')} |`,
  ...summaries.map((s) => `| ${cols.map((c) => s[c]).join(' | ')} |`),
  '',
  'Cache outcomes of answered requests:',
  '',
  ...summaries.map((s) => `- ${s.mode}: ${s.outcomes}`),
  '',
  ...(breakdowns.some((b) => b.n > 0)
    ? [
        `Where the time goes (medians over answered requests after the first of each file; ms unless named): transportMs = latency − engine totalMs (LSP, main thread, the answer back to the main thread); startMs: the request's start on the main thread → the model side taking it (worker message, its event loop); promptMs: sticky trimming + tokenization; schedMs: waits in the scheduler + its chunks; planMs: the syntax plan; prefillMs: from the request's start to the first logits; decodeMs: the steps after it; modelRuns / modelRunMs: forward passes of the decode (prefill run included); msPerDecodeStep: decodeMs / (modelRuns − 1); jsMs: the decode's time outside forward passes (sampling, streaming, garbage collection); postMs: post-processing and validation.`,
        '',
        `| mode | n | ${TIME_PARTS.join(' | ')} |`,
        `| --- | --- | ${TIME_PARTS.map(() => '---').join(' | ')} |`,
        ...breakdowns.map((b) => `| ${b.mode} | ${b.n} | ${TIME_PARTS.map((k) => b[k]).join(' | ')} |`),
        '',
      ]
    : []),
  ...(loadRatios.length
    ? ['Under load (loaded p50 / quiet p50; target ≤ 3):', '', ...loadRatios.map((r) => `- ${r.mode}, ${r.load} background processes: p50 ${r.quietP50Ms} → ${r.loadedP50Ms} ms (${r.ratio}x), p95 ${r.quietP95Ms} → ${r.loadedP95Ms} ms; requests that ran the model: p50 ${r.quietModelP50Ms} → ${r.loadedModelP50Ms} ms (${r.modelRatio}x)${r.reuseRatio !== null ? `; answers without the model: p50 ${r.quietReuseP50Ms} → ${r.loadedReuseP50Ms} ms (${r.reuseRatio}x), p90 ${r.quietReuseP90Ms} → ${r.loadedReuseP90Ms} ms, share of answers ${r.quietReuseShare} → ${r.loadedReuseShare}` : ''}`), '']
    : []),
  ...(summaries.some((s) => s.reuseServerMainRunMs !== undefined)
    ? [
        'Answers without the model (completion reuse), where their time went — medians over them, ms, from Linux schedstat between send and answer: the server\'s main thread on a CPU / runnable but waiting for a CPU; the server\'s other threads (model worker, onnxruntime pool) on a CPU meanwhile; this client\'s thread waiting for a CPU:',
        '',
        ...summaries.filter((s) => s.reuseServerMainRunMs !== undefined).map((s) => `- ${s.mode}: p50 ${s.reuseLatencyP50Ms} ms; server main on CPU ${s.reuseServerMainRunMs}, waiting ${s.reuseServerMainWaitMs}; server other threads on CPU ${s.reuseServerOtherRunMs}; client waiting ${s.reuseClientWaitMs}`),
        '',
      ]
    : []),
  'Latency: request sent → answer, answered requests only. New prefill %: prompt tokens that needed a model run, answered requests after the first of each file, requests that ran the model (a completion-reuse answer runs none). newPrefillTokensTotal: prompt tokens run by requests themselves, cancelled ones included (background warming and speculation excluded; for the baseline build, which has no background prefill, it is all its prefill work). modelPrefillTokens: every prompt token the model prefilled, background work (the prefill of aborted requests that went on, warming, speculation) included (not logged by the baseline build). firstRequestNewPrefill: per file. accepts: suggestions accepted by the replay rule (the suggestion on screen is what the user types next). speculative: speculative completions finished/started. warmPacked: documents warmed by a packed prefill. Targets (issue 5): median new prefill ≤ 5% of the prompt, p50 ≤ 200 ms, p95 ≤ 500 ms.',
  '',
];
fs.writeFileSync(`${OUT}.md`, md.join('\n'));
console.log(md.join('\n'));
