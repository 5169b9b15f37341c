// KV-Runahead's speed (issue 17, arXiv 2405.05329): cold-prefill time to first token of N prompt tokens, the plain
// chunked prefill (one session, --plain-threads intra-op threads, runs of --chunk tokens on one KV cache, the last run's
// logits → the first token) against KV-Runahead (runtime `kvRunahead`: --workers worker threads × --worker-threads
// intra-op threads, each owning sessions over the model's layer groups onnx/model*_runahead{k}of{n}.onnx, the prompt
// split into partitions balanced for the causal cost, each run in runs of --chunk tokens, K/V handed forward per
// group). One process holds both; for each N they alternate ABBA over --reps; the median of each side is reported.
// Also checked per N: the first tokens agree, max |Δlogit|, max |ΔK/V| of the two caches (parity at scale).
// Wall time is the number to read (the point is parallelism); the process's CPU time (all threads) shows the work.
// Run: node bench/accelerators/kv-runahead.mjs --model DIR [--tokens 2048,4096] [--workers 2] [--worker-threads 1]
//      [--plain-threads 2] [--chunk 256] [--reps 2] [--span 2048] [--out bench/results/accelerators-kv-runahead-<name>]
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../server/dist/runtime/model.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const modelDir = arg('model');
if (!modelDir) throw new Error('--model DIR (a model directory with onnx/model*_runahead{k}of{n}.onnx next to its graph)');
const TOKENS = String(arg('tokens', '2048,4096')).split(',').map(Number);
const CHUNK = Number(arg('chunk', 256));
const REPS = Number(arg('reps', 2));
const WORKERS = Number(arg('workers', 2));
const WORKER_THREADS = Number(arg('worker-threads', 1));
const PLAIN_THREADS = Number(arg('plain-threads', 2));
const SPAN = Number(arg('span', 2048));
const out = arg('out', null);
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();
const status = (m) => process.stderr.write(`${m}\n`);
const plain = await loadModel({ modelDir, device: 'cpu', intraOpNumThreads: PLAIN_THREADS, kvRunahead: 0, onStatus: status });
const ra = await loadModel({
  modelDir, device: 'cpu', intraOpNumThreads: WORKER_THREADS, kvRunahead: WORKERS, kvRunaheadThreads: WORKER_THREADS,
  kvRunaheadMinTokens: 2, kvRunaheadChunk: CHUNK, kvRunaheadSpan: SPAN, onStatus: status,
});
if (!ra.kvRunahead) throw new Error(`${modelDir}: KV-Runahead did not start (see the status above)`);
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const ids = Array.from({ length: Math.max(...TOKENS) }, () => 10 + Math.floor(rand() * 8000));

function argmax(l) {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i] > l[best]) best = i;
  return best;
}

async function cold(which, n) {
  const model = which === 'plain' ? plain : ra;
  const cache = model.createCache();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let logits;
  if (which === 'plain') {
    for (let p = 0; p < n; p += CHUNK) {
      const last = p + CHUNK >= n;
      const l = await model.forward(ids.slice(p, Math.min(n, p + CHUNK)), cache, { logits: last ? 'last' : 'none' });
      if (last) logits = Float32Array.from(l);
    }
  } else {
    logits = Float32Array.from(await model.forward(ids.slice(0, n), cache));
  }
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  if (cache.length !== n) throw new Error(`cache length ${cache.length}, expected ${n}`);
  return { ms, cpuMs: (cu.user + cu.system) / 1000, logits, first: argmax(logits), cache, run: which === 'plain' ? undefined : ra.kvRunaheadLast };
}

function kvDiff(a, b) {
  const fa = {};
  const fb = {};
  a.fill(fa);
  b.fill(fb);
  let m = 0;
  for (const name of Object.keys(fa)) {
    const x = fa[name].data;
    const y = fb[name].data;
    if (x.length !== y.length || fa[name].dims.join() !== fb[name].dims.join()) throw new Error(`${name}: dims ${fa[name].dims} vs ${fb[name].dims}`);
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

await cold('plain', 256).then((r) => r.cache.dispose()); // warm-up: first-run allocations
await cold('runahead', 512).then((r) => r.cache.dispose());
const rows = [];
for (const n of TOKENS) {
  const samples = { plain: [], runahead: [] };
  let parity = null;
  for (let rep = 0; rep < REPS; rep++) {
    for (const which of rep % 2 === 0 ? ['plain', 'runahead', 'runahead', 'plain'] : ['runahead', 'plain', 'plain', 'runahead']) {
      const r = await cold(which, n);
      samples[which].push(r);
      process.stderr.write(`${n} ${which}: ${Math.round(r.ms)} ms wall, ${Math.round(r.cpuMs)} ms CPU${r.run ? `, partitions ${r.run.partitions}, worker ms ${r.run.workerMs}, waited ${r.run.waitMs}` : ''} (load ${uptime()[0]})\n`);
      if (!parity && samples.plain.length && samples.runahead.length) {
        const p = samples.plain[0];
        const q = samples.runahead[0];
        let dl = 0;
        for (let i = 0; i < p.logits.length; i++) dl = Math.max(dl, Math.abs(p.logits[i] - q.logits[i]));
        parity = { sameFirstToken: p.first === q.first, maxLogitDiff: +dl.toExponential(2), maxKvDiff: +kvDiff(p.cache, q.cache).toExponential(2) };
      }
    }
  }
  for (const s of [...samples.plain, ...samples.runahead]) s.cache.dispose();
  const pw = median(samples.plain.map((s) => s.ms));
  const rw = median(samples.runahead.map((s) => s.ms));
  const row = {
    tokens: n,
    plainWallMs: Math.round(pw), runaheadWallMs: Math.round(rw), speedupWall: +(pw / rw).toFixed(3),
    plainCpuMs: Math.round(median(samples.plain.map((s) => s.cpuMs))), runaheadCpuMs: Math.round(median(samples.runahead.map((s) => s.cpuMs))),
    plainWallSamples: samples.plain.map((s) => Math.round(s.ms)), runaheadWallSamples: samples.runahead.map((s) => Math.round(s.ms)),
    partitions: samples.runahead[0].run.partitions,
    workerMs: samples.runahead.map((s) => s.run.workerMs), waitMs: samples.runahead.map((s) => s.run.waitMs),
    ...parity, load: uptime(),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
await plain.dispose();
await ra.dispose();
const result = {
  command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`,
  model: modelDir, workers: WORKERS, workerThreads: WORKER_THREADS, plainThreads: PLAIN_THREADS, groups: ra.kvRunahead.groups, chunk: CHUNK, span: SPAN, reps: REPS,
  cpus: os.cpus().length, cpu: os.cpus()[0]?.model, nice: os.getPriority(), loadStart, loadEnd: uptime(), date: new Date().toISOString(), rows,
};
if (out) {
  fs.writeFileSync(`${out}.json`, JSON.stringify(result, null, 1) + '\n');
  process.stderr.write(`wrote ${out}.json\n`);
} else console.log(JSON.stringify(result));
