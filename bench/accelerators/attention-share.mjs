// How much of a cold chunked prefill grows with the past (attention over the cached context): the time of one
// --chunk-token prefill run at past lengths 0 and P (the past KV filled with small random values of the right shape,
// so a run at past 8k needs no 8k prefill first). Runs at each past alternate (ABBA), medians over --reps.
// From t(P) (linear in P between the measured points, as attention's QK^T and AV are), it estimates the cold TTFT of a
// plain chunked prefill of 2k / 4k / 8k tokens (the sum of its chunks' times) and the share of it that grows with the
// past: the most that pruning attention alone (CritiPrefill's segment/block selection) could save.
// Run: node bench/accelerators/attention-share.mjs [--model DIR] [--pasts 0,1792,3840,7936] [--chunk 256] [--reps 2]
//      [--threads N] [--out bench/results/accelerators-attention-share-<name>]
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../server/dist/runtime/model.js';
import { createTensor } from '../../server/dist/runtime/ort.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const modelDir = arg('model', defaultModelDir);
const PASTS = String(arg('pasts', '0,1792,3840,7936')).split(',').map(Number);
const CHUNK = Number(arg('chunk', 256));
const REPS = Number(arg('reps', 2));
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const out = arg('out', null);
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();
const model = await loadModel({ modelDir, device: 'cpu', intraOpNumThreads: threads });
let seed = 5;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const ids = Array.from({ length: CHUNK }, () => 10 + Math.floor(rand() * 8000));

function pastCache(p) {
  const cache = model.createCache();
  if (p === 0) return cache;
  const outs = {};
  for (const s of model.layout.slots) {
    const dims = [...s.emptyDims];
    dims[s.pastAxis] = p;
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (rand() - 0.5) * 0.2;
    outs[s.presentName] = createTensor('float32', data, dims);
  }
  cache.replace(outs, p);
  return cache;
}

async function run(p) {
  const cache = pastCache(p);
  const t0 = performance.now();
  await model.forward(ids, cache, { logits: 'none' });
  const ms = performance.now() - t0;
  cache.dispose();
  return ms;
}

await run(0); // warm-up
const samples = Object.fromEntries(PASTS.map((p) => [p, []]));
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? PASTS : [...PASTS].reverse();
  for (const p of order) {
    samples[p].push(await run(p));
    process.stderr.write(`past ${p}: ${samples[p].at(-1).toFixed(0)} ms, load ${uptime().join(' ')}\n`);
  }
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
const points = PASTS.map((p) => ({ past: p, runMs: Math.round(median(samples[p])) }));
// t(P): piecewise linear through the measured points (extrapolated from the last two).
const t = (p) => {
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (p <= b.past || i === points.length - 1) return a.runMs + ((b.runMs - a.runMs) * (p - a.past)) / (b.past - a.past);
  }
  return points[0].runMs;
};
const estimates = [2048, 4096, 8192].map((n) => {
  let total = 0;
  let grows = 0;
  for (let p = 0; p < n; p += CHUNK) {
    total += t(p);
    grows += Math.max(0, t(p) - t(0));
  }
  return { tokens: n, chunkedPrefillMs: Math.round(total), pastDependentShare: +(grows / total).toFixed(3), attentionOnlyPruningMaxSpeedup: +(total / (total - grows)).toFixed(2) };
});
const doc = { command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`, model: modelDir, chunk: CHUNK, reps: REPS, loadavgStart: loadStart, loadavgEnd: uptime(), points, estimates };
console.log(JSON.stringify({ points, estimates }, null, 1));
if (out) fs.writeFileSync(`${out}.json`, JSON.stringify(doc, null, 1) + '\n');
await model.dispose();
