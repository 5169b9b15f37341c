// AdaSkip at the real shapes (issue 17): cold-prefill time to first token of N prompt tokens, the plain graph against
// graphs with sublayers skipped (bench/accelerators/adaskip_graph.py writes them: same inputs, outputs and KV layout),
// then --decode greedy steps after the prefill (decode ms/token at that past). One process holds every model; for each
// N the models take turns, the order reversed every other rep (ABBA for two models, A B C C B A for three). A cold
// prefill is what the scheduler does for a new document: runs of --chunk tokens on one KV cache, the last run's logits
// → the first token. Random-weight shapes (bench/realmodels) measure speed only. Wall time and the process's CPU time
// (process.cpuUsage; with 1 onnxruntime thread the work itself, less disturbed by a loaded machine) are both recorded.
// Run: node bench/accelerators/adaskip-prefill.mjs --base DIR --variants DIR1,DIR2 [--tokens 2048,4096] [--chunk 256]
//      [--reps 2] [--decode 16] [--threads 1] [--device cpu|webgpu] [--out bench/results/accelerators-adaskip-<name>]
// Writes --out.json after every sample (so a time limit keeps what finished; a row's samplesPerGraph says how many).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../server/dist/runtime/model.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const base = arg('base');
if (!base) throw new Error('--base DIR (the plain model directory) and --variants DIR,... (adaskip_graph.py outputs)');
const dirs = [base, ...String(arg('variants', '')).split(',').filter(Boolean)];
const TOKENS = String(arg('tokens', '2048,4096')).split(',').map(Number);
const CHUNK = Number(arg('chunk', 256));
const REPS = Number(arg('reps', 2));
const DECODE = Number(arg('decode', 16));
const device = arg('device', 'cpu');
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const out = arg('out', null);
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();
const models = [];
for (const d of dirs) models.push(await loadModel({ modelDir: d, device, intraOpNumThreads: threads, onStatus: (m) => process.stderr.write(`${m}\n`) }));
const names = dirs.map((d, i) => (i === 0 ? 'plain' : path.basename(d)));
// adaskip_graph.py leaves adaskip.json (the sublayers skipped) in each variant directory.
const skipped = dirs.map((d) => {
  const f = path.join(d, 'adaskip.json');
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null;
});
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const span = Math.min(8000, models[0].vocabSize - 20); // 8,000 at the real shapes; the tiny fixtures' vocabulary is smaller
const ids = Array.from({ length: Math.max(...TOKENS) }, () => 10 + Math.floor(rand() * span));

async function cold(model, n, decode) {
  const cache = model.createCache();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let logits = null;
  for (let p = 0; p < n; p += CHUNK) {
    const last = p + CHUNK >= n;
    const l = await model.forward(ids.slice(p, Math.min(n, p + CHUNK)), cache, { logits: last ? 'last' : 'none' });
    if (last) logits = l;
  }
  const argmax = (row) => {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  };
  let tok = argmax(logits);
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const cpuMs = (cu.user + cu.system) / 1000;
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  for (let k = 0; k < decode; k++) tok = argmax(await model.forward([tok], cache));
  const decodeMs = decode > 0 ? (performance.now() - t1) / decode : null;
  const du = process.cpuUsage(c1);
  const decodeCpuMs = decode > 0 ? (du.user + du.system) / 1000 / decode : null;
  if (cache.length !== n + decode) throw new Error(`cache length ${cache.length}, expected ${n + decode}`);
  cache.dispose();
  return { ms, cpuMs, decodeMs, decodeCpuMs };
}

for (const m of models) await cold(m, CHUNK, 2); // warm-up
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const rows = [];
function summarize(n, s) {
  // Medians over the samples so far (each model's list; a model without a sample yet is left out).
  const pick = (i, k) => median(s[i].map((x) => x[k]));
  const row = { tokens: n, runs: Math.ceil(n / CHUNK), samplesPerGraph: Math.min(...s.map((x) => x.length)), loadavg: uptime(), graphs: [] };
  for (let i = 0; i < models.length; i++) {
    if (!s[i].length || !s[0].length) continue;
    row.graphs.push({
      graph: names[i], dir: dirs[i], skipped: skipped[i]?.sublayers ?? [], fraction: skipped[i]?.fraction ?? 0,
      ms: Math.round(pick(i, 'ms')), cpuMs: Math.round(pick(i, 'cpuMs')),
      speedup: +(pick(0, 'ms') / pick(i, 'ms')).toFixed(2), cpuSpeedup: +(pick(0, 'cpuMs') / pick(i, 'cpuMs')).toFixed(2),
      decodeMsPerToken: DECODE > 0 ? +pick(i, 'decodeMs').toFixed(2) : null,
      decodeSpeedup: DECODE > 0 ? +(pick(0, 'decodeMs') / pick(i, 'decodeMs')).toFixed(2) : null,
      decodeCpuMsPerToken: DECODE > 0 ? +pick(i, 'decodeCpuMs').toFixed(2) : null,
      decodeCpuSpeedup: DECODE > 0 ? +(pick(0, 'decodeCpuMs') / pick(i, 'decodeCpuMs')).toFixed(2) : null,
      samplesMs: s[i].map((x) => Math.round(x.ms)), cpuSamplesMs: s[i].map((x) => Math.round(x.cpuMs)),
      decodeSamplesMs: s[i].map((x) => (x.decodeMs === null ? null : +x.decodeMs.toFixed(2))),
    });
  }
  return row;
}
function save(current) {
  const doc = {
    command: `node ${process.argv.slice(1).map((a) => (a.startsWith(root) ? path.relative(root, a) || a : a)).join(' ')}`, device, threads: threads ?? 'default',
    chunk: CHUNK, reps: REPS, decode: DECODE, loadavgStart: loadStart, loadavgEnd: uptime(),
    cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`, rows: current ? [...rows, current] : rows,
  };
  if (out) fs.writeFileSync(`${out}.json`, JSON.stringify(doc, null, 1) + '\n');
}
for (const n of TOKENS) {
  const s = models.map(() => []);
  for (let rep = 0; rep < REPS; rep++) {
    const order = models.map((_, i) => i);
    if (rep % 2 === 1) order.reverse();
    for (const i of order) {
      const r = await cold(models[i], n, DECODE);
      s[i].push(r);
      process.stderr.write(`${n} tokens, ${names[i]}: ${r.ms.toFixed(0)} ms wall, ${r.cpuMs.toFixed(0)} ms CPU, decode ${r.decodeMs?.toFixed(1)} ms/token, load ${uptime().join(' ')}\n`);
      if (s[0].length) save(summarize(n, s)); // a time limit keeps every finished sample
    }
  }
  const row = summarize(n, s);
  rows.push(row);
  save(null);
  console.log(JSON.stringify({ tokens: n, graphs: row.graphs.map((g) => ({ graph: g.graph, ms: g.ms, cpuMs: g.cpuMs, speedup: g.speedup, cpuSpeedup: g.cpuSpeedup, decode: g.decodeMsPerToken })) }));
}
for (const m of models) await m.dispose();
