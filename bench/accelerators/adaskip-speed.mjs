// AdaSkip graphs' speed against the shipped graph (bench/accelerators/adaskip.py writes them): cold prefill of
// --prefill tokens in 256-token runs (the scheduler's CPU chunk) and --decode greedy steps after it, per model, the
// models in lockstep (each rep runs every model once, the order rotating), medians over --reps.
// Run: node bench/accelerators/adaskip-speed.mjs --variants /tmp/adaskip/skip-1,/tmp/adaskip/skip-2 [--prefill 1024]
//      [--decode 64] [--reps 3] [--threads N] [--out bench/results/accelerators-adaskip-speed]
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../../server/dist/runtime/model.js';
import { defaultModelDir } from '../../server/dist/util/paths.js';

const root = path.resolve(import.meta.dirname, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const PREFILL = Number(arg('prefill', 1024));
const DECODE = Number(arg('decode', 64));
const REPS = Number(arg('reps', 3));
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const dirs = [defaultModelDir, ...String(arg('variants', '')).split(',').filter(Boolean)];
const out = arg('out', null);
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();
const models = [];
for (const d of dirs) models.push(await loadModel({ modelDir: d, device: 'cpu', intraOpNumThreads: threads }));
let seed = 99;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const ids = Array.from({ length: PREFILL }, () => 10 + Math.floor(rand() * 8000));

async function once(model) {
  const cache = model.createCache();
  const t0 = performance.now();
  let logits = null;
  for (let at = 0; at < ids.length; at += 256) {
    const end = Math.min(ids.length, at + 256);
    logits = await model.forward(ids.slice(at, end), cache, { logits: end === ids.length ? 'last' : 'none' });
  }
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  for (let k = 0; k < DECODE; k++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    logits = await model.forward([best], cache);
  }
  const decodeMs = (performance.now() - t1) / DECODE;
  cache.dispose();
  return { prefillMs, decodeMs };
}

// --parity FILE (adaskip.py's parity_ids.json): teacher-forced mean next-token loss of each graph over those
// sequences, one token per run; adaskip.py reports the same loss from PyTorch with the same sublayers skipped.
const parityFile = arg('parity', null);
const parity = [];
if (parityFile) {
  const seqs = JSON.parse(fs.readFileSync(parityFile, 'utf8'));
  for (const m of models) {
    let loss = 0;
    let n = 0;
    for (const seq of seqs) {
      const cache = m.createCache();
      for (let i = 0; i + 1 < seq.length; i++) {
        const row = await m.forward([seq[i]], cache);
        let max = -Infinity;
        for (const v of row) max = Math.max(max, v);
        let z = 0;
        for (const v of row) z += Math.exp(v - max);
        loss += max + Math.log(z) - row[seq[i + 1]];
        n++;
      }
      cache.dispose();
    }
    parity.push(+(loss / n).toFixed(4));
  }
}

const samples = models.map(() => []);
for (let rep = 0; rep <= REPS; rep++) {
  for (let k = 0; k < models.length; k++) {
    const i = (rep + k) % models.length;
    const r = await once(models[i]);
    if (rep > 0) samples[i].push(r); // rep 0: warm-up
  }
  process.stderr.write(`rep ${rep} load ${uptime().join(' ')}\n`);
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
const rows = dirs.map((d, i) => ({
  model: i === 0 ? 'models/default (shipped)' : path.basename(d),
  prefillMs: Math.round(median(samples[i].map((s) => s.prefillMs))),
  decodeMsPerToken: +median(samples[i].map((s) => s.decodeMs)).toFixed(2),
  ...(parity.length ? { parityLoss: parity[i] } : {}),
}));
for (const r of rows) {
  r.prefillSpeedup = +(rows[0].prefillMs / r.prefillMs).toFixed(2);
  r.decodeSpeedup = +(rows[0].decodeMsPerToken / r.decodeMsPerToken).toFixed(2);
}
const doc = { command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`, prefill: PREFILL, decode: DECODE, reps: REPS, loadavgStart: loadStart, loadavgEnd: uptime(), rows };
console.log(JSON.stringify(rows, null, 1));
if (out) fs.writeFileSync(`${out}.json`, JSON.stringify(doc, null, 1) + '\n');
for (const m of models) await m.dispose();
