// CPU runtime benchmark: our runtime (server/dist, int8 models/default) vs llama.cpp (node-llama-cpp, Q8_0 GGUF of
// the same checkpoint), side by side in one run, 2 threads each. See bench/runtime/README.md.
//   node bench/runtime/cpu.mjs [--reps 7] [--warmup 2] [--steps 16] [--threads 2] [--max-load 1.5] [--wait-s 900]
//                              [--out bench/results/runtime-cpu] [--no-write]
// Each engine runs in its own child process (RSS of our runtime alone; no thread pools competing); the parent
// alternates them rep by rep so that background load drifts hit both alike. Reports medians.
import '../lib/help.mjs';
import { fork, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const REPS = Number(opt('reps', 7));
const WARMUP = Number(opt('warmup', 2));
const STEPS = Number(opt('steps', 16));
const THREADS = Number(opt('threads', 2));
const MAX_LOAD = Number(opt('max-load', 1.5));
const WAIT_S = Number(opt('wait-s', 900));
const OUT = path.resolve(root, opt('out', 'bench/results/runtime-cpu'));
const WRITE = !argv.includes('--no-write');
const PREFILL = [256, 512, 1024];
const PAST = [256, 512, 1024];
const CHUNKED = [512, 1024];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const r2 = (x) => Math.round(x * 100) / 100;
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// Deterministic token ids (cost does not depend on the ids; specials 0..6 avoided).
function tokenIds(n) {
  let s = 12345;
  return Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) % 2147483648; return 7 + (s % (8192 - 7)); });
}

// ---- load: wait for a quiet machine, measure CPU used by others during the run ----
function cpuJiffies() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  return { busy: f.reduce((a, b) => a + b, 0) - idle, total: f.reduce((a, b) => a + b, 0) };
}
function procJiffies(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
  } catch { return 0; }
}
async function busyCores(ms) {
  const a = cpuJiffies(); await sleep(ms); const b = cpuJiffies();
  return (b.busy - a.busy) / 100 / (ms / 1000);
}
// Quiet = load1 < --max-load and, over 5 s, other processes keep less than 0.3 of a core busy.
async function waitQuiet() {
  const t0 = Date.now();
  let l = os.loadavg()[0], busy = await busyCores(5000);
  while ((l >= MAX_LOAD || busy >= 0.3) && Date.now() - t0 < WAIT_S * 1000) {
    log(`load1 ${l.toFixed(2)}, ${busy.toFixed(2)} cores busy; waiting for load1 < ${MAX_LOAD} and < 0.3 busy cores`);
    await sleep(10000);
    l = os.loadavg()[0]; busy = await busyCores(5000);
  }
  return { load1: l, busyCores: busy, waitedS: Math.round((Date.now() - t0) / 1000), quiet: l < MAX_LOAD && busy < 0.3 };
}

// ---- workers ----
function worker(file, env) {
  const child = fork(path.join(here, file), [], { env: { ...process.env, BENCH_THREADS: String(THREADS), ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const pending = new Map();
  let ready;
  const readyP = new Promise((r) => { ready = r; });
  child.on('message', (m) => {
    if (m.ready) return ready();
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) p.reject(new Error(`${file}: ${m.error}`)); else p.resolve(m.result);
  });
  child.on('exit', (code) => { for (const p of pending.values()) p.reject(new Error(`${file} exited (${code})`)); });
  return {
    child,
    ready: readyP,
    call: (op, args = {}) => new Promise((resolve, reject) => { const id = ++seq; pending.set(id, { resolve, reject }); child.send({ id, op, ...args }); }),
  };
}

const start = await waitQuiet();
log(`load1 ${start.load1.toFixed(2)} (waited ${start.waitedS}s)`);
const j0 = cpuJiffies();
const t0 = Date.now();
const ort = worker('worker-ort.mjs');
const lcp = worker('worker-llama.mjs');
// llama.cpp at 1 thread as well: on this 2-vCPU machine its 2-thread decode is spiky (see the findings).
const lcp1 = worker('worker-llama.mjs', { BENCH_THREADS: '1' });
await Promise.all([ort.ready, lcp.ready, lcp1.ready]);
const info = { ours: await ort.call('info'), llamaCpp: await lcp.call('info'), llamaCpp1t: await lcp1.call('info') };
log(`ours: ${info.ours.onnx} rss ${(info.ours.rss.afterLoad / 2 ** 20).toFixed(0)} MiB; llama.cpp: ${info.llamaCpp.gguf}`);
const ids = tokenIds(1024 + STEPS + 8);
const loadSamples = [];

// One rep = ours once, then llama.cpp once. A rep during which other processes kept >= 0.3 of a core busy
// (from /proc/stat minus our own processes' CPU time) is discarded and redone, up to 3x --reps attempts.
const discarded = {};
function ownJiffies() { return procJiffies(ort.child.pid) + procJiffies(lcp.child.pid) + procJiffies(lcp1.child.pid) + procJiffies(process.pid); }
async function both(opOurs, opLlama, args, collect, label) {
  const res = { ours: [], llamaCpp: [], llamaCpp1t: [] };
  let attempts = 0, dropped = 0, forced = 0;
  for (let r = 0; r < WARMUP; r++) {
    if (opOurs) await ort.call(opOurs, args);
    if (opLlama) await lcp.call(opLlama, args);
    if (opLlama) await lcp1.call(opLlama, args);
  }
  while (res.ours.length < REPS && attempts < 3 * REPS) {
    attempts++;
    loadSamples.push(os.loadavg()[0]);
    const j0 = cpuJiffies(), o0 = ownJiffies(), t0 = performance.now();
    const a = opOurs ? await ort.call(opOurs, args) : null;
    await sleep(50);
    const b = opLlama ? await lcp.call(opLlama, args) : null;
    await sleep(50);
    const c = opLlama ? await lcp1.call(opLlama, args) : null;
    const j1 = cpuJiffies(), o1 = ownJiffies(), dt = (performance.now() - t0) / 1000;
    await sleep(50);
    const foreign = (j1.busy - j0.busy - (o1 - o0)) / 100 / dt;
    if (foreign >= 0.3) { if (attempts < 3 * REPS) { dropped++; continue; } forced++; }
    if (a) res.ours.push(collect(a));
    if (b) res.llamaCpp.push(collect(b));
    if (c) res.llamaCpp1t.push(collect(c));
  }
  discarded[label] = { kept: res.ours.length, dropped, keptDespiteLoad: forced };
  if (dropped) log(`${label}: ${dropped} rep(s) dropped for foreign CPU use`);
  return res;
}

const results = { prefill: {}, prefillChunked: {}, decode: {} };
for (const n of PREFILL) {
  const r = await both('prefill', 'prefill', { ids: ids.slice(0, n) }, (x) => x.ms, `prefill ${n}`);
  results.prefill[n] = Object.fromEntries(Object.entries(r).filter(([, v]) => v.length).map(([k, v]) => [k, { ms: r2(median(v)), tokPerS: Math.round(n / (median(v) / 1000)), min: r2(Math.min(...v)), samplesMs: v.map(r2) }]));
  log(`prefill ${n}: ours ${results.prefill[n].ours.ms} ms, llama.cpp ${results.prefill[n].llamaCpp.ms} ms`);
}
for (const n of CHUNKED) {
  const r = await both('prefillChunked', null, { ids: ids.slice(0, n) }, (x) => x.ms, `prefillChunked ${n}`);
  results.prefillChunked[n] = { ours: { ms: r2(median(r.ours)), tokPerS: Math.round(n / (median(r.ours) / 1000)), samplesMs: r.ours.map(r2) } };
  log(`prefill ${n} via Generator (256-token chunks): ours ${results.prefillChunked[n].ours.ms} ms`);
}
for (const p of PAST) {
  const r = await both('decode', 'decode', { ids: ids.slice(0, p), steps: STEPS }, (x) => x.ms, `decode ${p}`);
  results.decode[p] = Object.fromEntries(Object.entries(r).filter(([, v]) => v.length).map(([k, reps]) => {
    const all = reps.flat();
    return [k, { msPerToken: r2(median(reps.map(median))), p90: r2(pct(all, 0.9)), min: r2(Math.min(...all)), repMedians: reps.map((x) => r2(median(x))) }];
  }));
  log(`decode @${p} past (+${STEPS} steps): ours ${results.decode[p].ours.msPerToken} ms/tok, llama.cpp ${results.decode[p].llamaCpp.msPerToken} ms/tok`);
}
const j1 = cpuJiffies();
const ownJ = ownJiffies();
info.ours.rss.end = (await ort.call('info')).rss.now;
await ort.call('exit').catch(() => {});
await lcp.call('exit').catch(() => {});
await lcp1.call('exit').catch(() => {});
const elapsedS = (Date.now() - t0) / 1000;
const hz = 100;
const foreignCores = Math.max(0, (j1.busy - j0.busy - ownJ) / hz / elapsedS);
const maxSample = Math.max(...loadSamples);
const quiet = start.quiet && Object.values(discarded).every((d) => d.keptDespiteLoad === 0);
const totalDropped = Object.values(discarded).reduce((a, d) => a + d.dropped, 0);

// ---- report ----
const git = (...a) => { try { return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim(); } catch { return null; } };
const cpuModel = os.cpus()[0]?.model ?? 'unknown';
const out = {
  date: new Date().toISOString(),
  command: `node bench/runtime/cpu.mjs ${argv.join(' ')}`.trim(),
  machine: { cpu: cpuModel, logicalCpus: os.cpus().length, memGiB: r2(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version },
  repo: { commit: git('rev-parse', '--short', 'HEAD'), distBuilt: fs.statSync(path.join(root, 'server/dist/runtime/model.js')).mtime.toISOString() },
  settings: { threads: THREADS, reps: REPS, warmup: WARMUP, decodeSteps: STEPS, tokenIds: 'deterministic pseudo-random ids in [7, 8192)' },
  load: { load1AtStart: r2(start.load1), busyCoresAtStart: r2(start.busyCores), waitedS: start.waitedS, maxLoad1During: r2(maxSample), foreignBusyCoresDuring: r2(foreignCores), quiet, repsKeptDropped: discarded,
    note: 'load1 during the run includes the benchmark itself (2 threads); foreignBusyCores = CPU used by other processes, from /proc/stat minus our processes' },
  engines: info,
  rss: { oursAfterLoadMiB: r2(info.ours.rss.afterLoad / 2 ** 20), oursNodeBaselineMiB: r2(info.ours.rss.afterImport / 2 ** 20), oursEndMiB: r2(info.ours.rss.end / 2 ** 20),
    onnxMiB: r2(info.ours.onnxBytes / 2 ** 20), targetMiB: r2(info.ours.onnxBytes / 2 ** 20 + 150) },
  results,
};
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(1)}x` : '-');
const P = results.prefill, D = results.decode;
const md = [];
md.push('# CPU runtime benchmark: our runtime vs llama.cpp, same weights', '');
md.push(`- date: ${out.date}`, `- command: \`${out.command}\``);
md.push(`- machine: ${cpuModel}, ${out.machine.logicalCpus} logical CPUs, ${out.machine.memGiB} GiB, Linux ${out.machine.kernel}, Node ${process.version}`);
md.push(`- ours: ${info.ours.engine} ${info.ours.ortVersion}, server/dist runtime (\`loadModel\` + \`forward\`, dist built ${out.repo.distBuilt}), \`${info.ours.onnx}\` (${info.ours.dtype}, ${(info.ours.onnxBytes / 2 ** 20).toFixed(1)} MiB), intraOpNumThreads ${THREADS}`);
md.push(`- llama.cpp: node-llama-cpp ${info.llamaCpp.nodeLlamaCppVersion} (${info.llamaCpp.buildType} CPU binaries, llama.cpp release ${info.llamaCpp.llamaCpp?.release}), \`${info.llamaCpp.gguf}\` (Q8_0, ${(info.llamaCpp.ggufBytes / 2 ** 20).toFixed(1)} MiB, from native/py/gguf_export.py), ${THREADS} threads, batch ${info.llamaCpp.batchSize}, context ${info.llamaCpp.contextSize}, flash attention ${info.llamaCpp.flashAttention ? 'on' : 'off'}`);
md.push(`- method: each engine in its own child process, alternated rep by rep; ${WARMUP} warm-up + ${REPS} reps, medians. Prefill = one run of N tokens from an empty cache, last-position logits. Decode = ${STEPS} greedy single-token steps after a prefill of P tokens (ms/token: median over reps of the per-rep median). A rep during which other processes used >= 0.3 core is dropped and redone (kept/dropped per row in the JSON: load.repsKeptDropped).`);
md.push(`- load: load1 ${out.load.load1AtStart} and ${out.load.busyCoresAtStart} busy cores at start (waited ${start.waitedS}s), other processes used ${out.load.foreignBusyCoresDuring} cores on average during the whole run; ${totalDropped} rep(s) dropped and redone for foreign load → kept reps ${quiet ? 'quiet' : '**NOT all quiet: numbers may be inflated**'}`);
md.push('');
md.push('| | ours (ORT int8), 2 threads | llama.cpp Q8_0, 2 threads | ours / llama.cpp | llama.cpp Q8_0, 1 thread |', '|---|---|---|---|---|');
for (const n of PREFILL) md.push(`| prefill ${n} | ${P[n].ours.ms} ms (${P[n].ours.tokPerS} tok/s; min ${P[n].ours.min}) | ${P[n].llamaCpp.ms} ms (${P[n].llamaCpp.tokPerS} tok/s; min ${P[n].llamaCpp.min}) | ${ratio(P[n].ours.ms, P[n].llamaCpp.ms)} | ${P[n].llamaCpp1t.ms} ms (${P[n].llamaCpp1t.tokPerS} tok/s) |`);
for (const p of PAST) md.push(`| decode @${p} past | ${D[p].ours.msPerToken} ms/tok (min ${D[p].ours.min}, p90 ${D[p].ours.p90}) | ${D[p].llamaCpp.msPerToken} ms/tok (min ${D[p].llamaCpp.min}, p90 ${D[p].llamaCpp.p90}) | ${ratio(D[p].ours.msPerToken, D[p].llamaCpp.msPerToken)} | ${D[p].llamaCpp1t.msPerToken} ms/tok (min ${D[p].llamaCpp1t.min}, p90 ${D[p].llamaCpp1t.p90}) |`);
md.push('');
md.push(`Ours through the Generator with the default 256-token prefill chunks (what the engine does): ${CHUNKED.map((n) => `prefill ${n}: ${results.prefillChunked[n].ours.ms} ms (${results.prefillChunked[n].ours.tokPerS} tok/s)`).join('; ')}.`);
md.push('');
md.push(`RSS of our runtime's process after loading the model: ${out.rss.oursAfterLoadMiB} MiB (Node + onnxruntime-node imported, before load: ${out.rss.oursNodeBaselineMiB} MiB; after the benchmark: ${out.rss.oursEndMiB} MiB); model file ${out.rss.onnxMiB} MiB → target ≤ ${out.rss.targetMiB} MiB: ${out.rss.oursAfterLoadMiB <= out.rss.targetMiB ? 'met' : 'NOT met'} after load, ${out.rss.oursEndMiB <= out.rss.targetMiB ? 'met' : 'NOT met'} after the benchmark.`);
md.push('');
const text = md.join('\n') + '\n';
if (WRITE) {
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(`${OUT}.json`, JSON.stringify(out, null, 1) + '\n');
  // Keep a hand-written findings section (below the marker) across reruns.
  const marker = '<!-- findings: kept across reruns -->';
  let tail = '';
  try { const old = fs.readFileSync(`${OUT}.md`, 'utf8'); const i = old.indexOf(marker); if (i >= 0) tail = old.slice(i); } catch {}
  fs.writeFileSync(`${OUT}.md`, text + (tail ? '\n' + tail : ''));
  log(`wrote ${path.relative(root, OUT)}.json and .md`);
}
process.stdout.write(text);
