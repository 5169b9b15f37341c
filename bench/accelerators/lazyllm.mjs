// LazyLLM's speed (issue 17): cold-prefill time to first token of N prompt tokens, the plain chunked prefill
// against the same model with its LazyLLM twin on (runtime `lazyLlm`: prefill runs of --min-tokens+ go to the twin;
// every run here is --chunk tokens, the same run size on both sides). One process holds both models; for each N the
// two alternate ABBA over --reps. A cold
// prefill here is what the scheduler does for a new document: runs of --chunk tokens on one KV cache, the last run's
// logits → the first token (argmax). Random-weight models (bench/realmodels) measure speed only: the first tokens'
// agreement and the logits' difference are printed but say nothing about quality (see lazyllm-quality.sh); the twin's
// TopK choice is arbitrary on random weights, but its cost does not depend on which rows it keeps.
// Wall time and the process's CPU time (process.cpuUsage) are both recorded: with 1 onnxruntime thread the CPU time
// is the work itself and much less disturbed by a loaded machine than wall time (as bench/realmodels/cpu.mjs).
// Run: node bench/accelerators/lazyllm.mjs --model DIR [--tokens 2048,4096,8192] [--chunk 256] [--reps 2]
//      [--threads 1] [--min-tokens 128] [--device cpu|webgpu] [--out bench/results/accelerators-lazyllm-<name>]
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
if (!modelDir) throw new Error('--model DIR (a model directory with onnx/model*_lazyllm.onnx next to its graph)');
const TOKENS = String(arg('tokens', '2048,4096,8192')).split(',').map(Number);
const CHUNK = Number(arg('chunk', 256));
const REPS = Number(arg('reps', 2));
const device = arg('device', 'cpu');
const threads = arg('threads', undefined) === undefined ? undefined : Number(arg('threads'));
const out = arg('out', null);
const MIN = Number(arg('min-tokens', 128));
const uptime = () => os.loadavg().map((x) => +x.toFixed(2));
const loadStart = uptime();
const common = { modelDir, device, intraOpNumThreads: threads, onStatus: (m) => process.stderr.write(`${m}\n`) };
const plain = await loadModel({ ...common, lazyLlm: false, critiPrefill: false, kvRunahead: 0 });
const lazy = await loadModel({ ...common, lazyLlm: true, lazyLlmMinTokens: MIN, critiPrefill: false, kvRunahead: 0 });
if (!lazy.lazyLlm) throw new Error(`${modelDir}: no LazyLLM twin was opened (see the status above)`);
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const ids = Array.from({ length: Math.max(...TOKENS) }, () => 10 + Math.floor(rand() * Math.min(8000, plain.vocabSize - 10)));

async function cold(model, n) {
  const cache = model.createCache();
  const runs = [];
  const before = model.lazyLlmRuns;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let logits = null;
  for (let p = 0; p < n; p += CHUNK) {
    const t = performance.now();
    const last = p + CHUNK >= n;
    const l = await model.forward(ids.slice(p, Math.min(n, p + CHUNK)), cache, { logits: last ? 'last' : 'none' });
    if (last) logits = Float32Array.from(l);
    runs.push(Math.round(performance.now() - t));
  }
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const cpuMs = (cu.user + cu.system) / 1000;
  if (cache.length !== n) throw new Error(`cache length ${cache.length}, expected ${n}`);
  cache.dispose();
  return { ms, cpuMs, runs, first: best, logits, twinRuns: model.lazyLlmRuns - before };
}

await cold(plain, CHUNK); // warm-up
await cold(lazy, CHUNK);
const rows = [];
for (const n of TOKENS) {
  const s = { plain: [], lazy: [] }; // lazy: the LazyLLM side
  let agree = null;
  let maxDiff = 0;
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? ['plain', 'lazy'] : ['lazy', 'plain'];
    const got = {};
    for (const v of order) {
      got[v] = await cold(v === 'plain' ? plain : lazy, n);
      s[v].push(got[v]);
      process.stderr.write(`${n} tokens, ${v === 'lazy' ? 'lazyllm' : v}: ${got[v].ms.toFixed(0)} ms wall, ${got[v].cpuMs.toFixed(0)} ms CPU (${got[v].twinRuns} twin runs), load ${uptime().join(' ')}\n`);
    }
    agree = got.plain.first === got.lazy.first;
    for (let i = 0; i < got.plain.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got.plain.logits[i] - got.lazy.logits[i]));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const pm = median(s.plain.map((x) => x.ms));
  const cm = median(s.lazy.map((x) => x.ms));
  const pc = median(s.plain.map((x) => x.cpuMs));
  const cc = median(s.lazy.map((x) => x.cpuMs));
  rows.push({
    tokens: n, plainMs: Math.round(pm), lazyLlmMs: Math.round(cm), speedup: +(pm / cm).toFixed(2),
    plainCpuMs: Math.round(pc), lazyLlmCpuMs: Math.round(cc), cpuSpeedup: +(pc / cc).toFixed(2),
    plainCpuSamplesMs: s.plain.map((x) => Math.round(x.cpuMs)), lazyLlmCpuSamplesMs: s.lazy.map((x) => Math.round(x.cpuMs)),
    plainSamplesMs: s.plain.map((x) => Math.round(x.ms)), lazyLlmSamplesMs: s.lazy.map((x) => Math.round(x.ms)),
    twinRuns: s.lazy[0].twinRuns, runs: s.plain[0].runs.length,
    plainRunMs: s.plain[0].runs, lazyLlmRunMs: s.lazy[0].runs,
    randomWeights: { sameFirstToken: agree, maxAbsLogitDiff: +maxDiff.toFixed(4) }, loadavg: uptime(),
  });
  const doc = {
    command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`, model: modelDir, device, threads: threads ?? 'default',
    chunk: CHUNK, reps: REPS, lazyLlm: lazy.lazyLlm, loadavgStart: loadStart, loadavgEnd: uptime(), cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`, rows,
  };
  if (out) fs.writeFileSync(`${out}.json`, JSON.stringify(doc, null, 1) + '\n');
  console.log(JSON.stringify(rows.at(-1)));
}
await plain.dispose();
await lazy.dispose();
