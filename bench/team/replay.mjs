// N-user replay against one real llama-server with N parallel slots (issue 18): N infill-ls clients (each its own
// llama-server backend engine, as N editors would run, each with its own API key) type at the same time into their
// own held-out dev file, and their completion requests go to the one server.
//
//   npm run build && node bench/team/replay.mjs [--users 1,2,4] [--slots document,server] [--chars 60] [--reps 1]
//                                               [--threads 1] [--debounce 150] [--pause 1500] [--max-new 32] [--seed 1]
//                                               [--spm 0] [--out bench/results/team-replay]
//
// Each user replays bench/replay's typing session (a stretch of --chars characters retyped at 80-200 ms per
// character, with typos and two jumps elsewhere), pausing --pause ms after each line end and every 15 characters (to
// read the suggestion). A request goes out --debounce ms after the last keystroke (a fixed debounce, as the LSP's
// `debounce: N`); the next keystroke cancels the request in flight (the HTTP request is aborted: llama-server cancels
// the task). llama-server runs with --parallel N (one slot per user), -c N × 2048, models/default as GGUF (f32).
// Modes: `slots: document` (each client pins its document to a slot by id_slot, as for a personal server: the N
// clients' slot numbers collide) and `slots: server` (no id_slot: llama-server picks the idle slot whose cached prompt
// is most similar). Cache hit rate = prompt tokens llama-server reused from a slot's KV cache (timings.cache_n) over
// all prompt tokens of the answered requests. Each (users, slots) cell alternates its order per repetition (ABBA).
// Writes bench/results/team-replay.{json,md} (override with --out PREFIX); `uptime` at start and end goes in.
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { rng } from '../lib/data.mjs';
import { arg, keystrokes, makeSession, replayFiles } from '../replay/session.mjs';
import { ROOT, startLlamaServer } from './llama-server.mjs';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  // The usage is this file's header comment: print it instead of starting a run.
  const header = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  console.log(header.slice(0, header.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

const { createLlamaServerEngine } = await import(path.join(ROOT, 'server/dist/backend/llama-server.js'));

const USERS = String(arg('users', '1,2,4')).split(',').map(Number);
const SLOTS = String(arg('slots', 'document,server')).split(',');
const NCHARS = Number(arg('chars', 60));
const REPS = Number(arg('reps', 1));
const THREADS = Number(arg('threads', 1));
const DEBOUNCE = Number(arg('debounce', 150));
const PAUSE = Number(arg('pause', 1500));
const MAX_NEW = Number(arg('max-new', 32));
const SEED = Number(arg('seed', 1));
const SPM = arg('spm', '1') !== '0'; // llama-server --spm-infill (suffix first); --spm 0 for PSM order
const OUT = arg('out', path.join(ROOT, 'bench/results/team-replay'));
const command = `node bench/team/replay.mjs --users ${USERS.join(',')} --slots ${SLOTS.join(',')} --chars ${NCHARS} --reps ${REPS} --threads ${THREADS} --debounce ${DEBOUNCE} --pause ${PAUSE} --max-new ${MAX_NEW} --seed ${SEED}${SPM ? '' : ' --spm 0'}`;
const uptime = () => execSync('uptime').toString().trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

const files = replayFiles(ROOT, Math.max(...USERS));

/** One user's session against `url`: resolves with its requests' records. */
async function user(index, url, apiKey, slots) {
  const engine = createLlamaServerEngine({ url, apiKey, maxNewTokens: MAX_NEW, slots, timeoutMs: 60_000 });
  const rand = rng(SEED * 1000 + index);
  const session = makeSession(files[index], rand, NCHARS);
  const documentKey = `file:///user${index}/${files[index].path ?? 'file.ts'}`;
  const records = [];
  let inflight = null;
  let timer = null;
  let typedSincePause = 0;
  const fire = (text, cursor) => {
    const controller = new AbortController();
    const t0 = performance.now();
    const rec = { t0 };
    const p = engine
      .complete({ documentKey, version: 0, languageId: 'typescript', prefix: text.slice(0, cursor), suffix: text.slice(cursor), trigger: 'automatic' }, controller.signal)
      .then((r) => {
        rec.ms = performance.now() - t0;
        rec.kind = r.kind;
        if (r.kind === 'ok') {
          rec.cache = r.cache;
          rec.promptTokens = r.timings.promptTokens;
          rec.prefillTokens = r.timings.prefillTokens;
          rec.generated = r.timings.generatedTokens;
        } else if (r.kind === 'degraded') rec.reason = r.reason;
        if (inflight?.controller === controller) inflight = null;
      });
    rec.p = p;
    records.push(rec);
    inflight = { controller, p };
  };
  for (const { text, cursor } of keystrokes(session)) {
    clearTimeout(timer);
    inflight?.controller.abort();
    timer = setTimeout(() => fire(text, cursor), DEBOUNCE);
    typedSincePause++;
    const ch = text[cursor - 1];
    const pause = ch === '\n' || typedSincePause >= 15;
    if (pause) typedSincePause = 0;
    await sleep(pause ? PAUSE : 80 + Math.floor(rand() * 120));
  }
  await sleep(DEBOUNCE + 10);
  await Promise.all(records.map((r) => r.p));
  for (const r of records) delete r.p;
  await engine.dispose();
  return records;
}

async function cell(n, slots) {
  const keys = Array.from({ length: n }, (_, i) => `user-${i}-key`);
  const server = await startLlamaServer({ parallel: n, ctxPerSlot: 2048, threads: THREADS, apiKey: keys.join(','), spm: SPM, extra: ['--metrics'] });
  try {
    const t0 = performance.now();
    const all = (await Promise.all(keys.map((k, i) => user(i, server.url, k, slots)))).flat();
    const wallS = (performance.now() - t0) / 1000;
    await sleep(200);
    // Server-wide counters (llama-server --metrics, Prometheus text): every prompt it processed, cancelled ones included.
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${keys[0]}` } }).then((r) => (r.ok ? r.text() : ''), () => '');
    const counter = (name) => Number(new RegExp(`^llamacpp:${name} ([\\d.e+]+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    const serverCached = counter('prompt_tokens_cached_total');
    const serverProcessed = counter('prompt_tokens_total');
    const answered = all.filter((r) => r.kind === 'ok');
    const remote = answered.filter((r) => String(r.cache).startsWith('remote'));
    const reuse = answered.filter((r) => String(r.cache).startsWith('completion-reuse'));
    const cachedTok = remote.reduce((s, r) => s + (r.promptTokens - r.prefillTokens), 0);
    const promptTok = remote.reduce((s, r) => s + r.promptTokens, 0);
    const degraded = all.filter((r) => r.kind === 'degraded');
    return {
      users: n,
      slots,
      requests: all.length,
      answered: answered.length,
      cancelled: all.filter((r) => r.kind === 'cancelled').length,
      degraded: degraded.length,
      degradedReasons: [...new Set(degraded.map((r) => r.reason))].slice(0, 3),
      fromCompletionCache: reuse.length,
      serverAnswered: remote.length,
      p50Ms: pct(remote.map((r) => r.ms), 50),
      p95Ms: pct(remote.map((r) => r.ms), 95),
      cacheHitRate: promptTok ? cachedTok / promptTok : null,
      serverPromptTokensCached: serverCached,
      serverPromptTokensProcessed: serverProcessed,
      serverCacheHitRate: serverCached + serverProcessed > 0 ? serverCached / (serverCached + serverProcessed) : null,
      meanPromptTokens: remote.length ? promptTok / remote.length : null,
      meanPrefillTokens: remote.length ? remote.reduce((s, r) => s + r.prefillTokens, 0) / remote.length : null,
      wallS,
    };
  } finally {
    await server.stop();
  }
}

const results = { command, started: new Date().toISOString(), uptimeStart: uptime(), rows: [] };
const write = () => {
  const fmt = (x, d = 0) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
  const md = [
    '# N-user replay against llama-server (issue 18)',
    '',
    `\`${command}\``,
    '',
    `Started ${results.started}; load at start: \`${results.uptimeStart}\`${results.uptimeEnd ? `; at end: \`${results.uptimeEnd}\`` : ' (run cut short)'}.`,
    'llama-server: llama.cpp from node-llama-cpp 3.22.1 (`.ci/llama-server.sh`), CPU, models/default as GGUF f32, `--parallel N -c N×2048 -t ' + THREADS + (SPM ? ' --spm-infill' : '') + '`, one API key per user.',
    'Latency: request sent (after the debounce) → answer, for requests llama-server answered (not cancelled, not served by the typed-ahead cache).',
    'Cache hit rate: prompt tokens reused from a slot\'s KV cache / all prompt tokens of those requests; server-wide: the same from llama-server\'s `/metrics` counters (`prompt_tokens_cached_total` / (that + `prompt_tokens_total`)), which also count the prompts of requests cancelled after their prefill.',
    '',
    '| users | slots | requests | answered by server | from our cache | cancelled | degraded | p50 ms | p95 ms | cache hit rate (answered) | cache hit rate (server-wide) | prompt tok | prefilled tok |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.rows.map((r) => `| ${r.users} | ${r.slots} | ${r.requests} | ${r.serverAnswered} | ${r.fromCompletionCache} | ${r.cancelled} | ${r.degraded} | ${fmt(r.p50Ms)} | ${fmt(r.p95Ms)} | ${r.cacheHitRate === null ? '–' : `${(100 * r.cacheHitRate).toFixed(1)}%`} | ${r.serverCacheHitRate === null || Number.isNaN(r.serverCacheHitRate) ? '–' : `${(100 * r.serverCacheHitRate).toFixed(1)}%`} | ${fmt(r.meanPromptTokens)} | ${fmt(r.meanPrefillTokens)} |`),
    '',
  ].join('\n');
  writeFileSync(`${OUT}.json`, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(`${OUT}.md`, md);
};

for (const n of USERS) {
  for (let rep = 0; rep < REPS; rep++) {
    const order = (rep + USERS.indexOf(n)) % 2 === 0 ? SLOTS : [...SLOTS].reverse();
    for (const slots of order) {
      const row = { ...(await cell(n, slots)), rep, uptime: uptime() };
      results.rows.push(row);
      console.log(JSON.stringify(row));
      write();
    }
  }
}
results.uptimeEnd = uptime();
write();
