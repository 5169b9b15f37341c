// Shared driver of the twin-graph accelerators' speed benchmarks (critiprefill.mjs, lazyllm.mjs; issue 17): cold
// prefills of N prompt tokens on the plain model against the same model with its twin on, ABBA over `reps`, wall time
// and the process's CPU time (process.cpuUsage: with 1 onnxruntime thread, the work itself, far less disturbed by a
// loaded machine than wall time). A cold prefill is what the scheduler does for a new document: runs of `chunk` tokens
// on one KV cache, the last run's logits → the first token (argmax). Writes `${out}.json` after every row and prints
// each row as a JSON line. Not a command: the two scripts above import it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { queryHeads, webgpuScoreCappedRun } from '../../server/dist/runtime/index.js';

const root = path.resolve(import.meta.dirname, '../..');
export const loadavg = () => os.loadavg().map((x) => +x.toFixed(2));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/**
 * plain / twin: loaded models (runtime `loadModel`); name: the twin's key in the JSON rows ('critiPrefill' → fields
 * critiPrefillMs, critiPrefillCpuMs, …), label: its name in the progress lines; twinRuns(model): the model's counter
 * of runs that went to the twin; tokens: prompt lengths; doc: the JSON document's other fields (command, model, …).
 * Token ids: a fixed pseudo-random sequence in [10, min(8010, vocabulary)). runCap (optional): (run, past) → the tokens of
 * the next run, as the engine's Generator `prefillRunCap` (both sides use it; see scoreCap).
 */
export async function benchTwinPrefill({ plain, twin, name, label, twinRuns, tokens, chunk, reps, out, doc, runCap }) {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ids = Array.from({ length: Math.max(...tokens) }, () => 10 + Math.floor(rand() * Math.min(8000, plain.vocabSize - 10)));
  const loadStart = loadavg();

  async function cold(model, n) {
    const cache = model.createCache();
    const runs = [];
    const before = twinRuns(model);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let logits = null;
    for (let p = 0, end; p < n; p = end) {
      const t = performance.now();
      end = Math.min(n, p + (runCap ? runCap(chunk, cache.length) : chunk));
      const last = end >= n;
      const l = await model.forward(ids.slice(p, end), cache, { logits: last ? 'last' : 'none' });
      if (last) logits = Float32Array.from(l);
      runs.push(Math.round(performance.now() - t));
    }
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    const ms = performance.now() - t0;
    const cu = process.cpuUsage(c0);
    if (cache.length !== n) throw new Error(`cache length ${cache.length}, expected ${n}`);
    cache.dispose();
    return { ms, cpuMs: (cu.user + cu.system) / 1000, runs, first: best, logits, twinRuns: twinRuns(model) - before };
  }

  await cold(plain, chunk); // warm-up
  await cold(twin, chunk);
  const rows = [];
  for (const n of tokens) {
    const s = { plain: [], twin: [] };
    let agree = null;
    let maxDiff = 0;
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? ['plain', 'twin'] : ['twin', 'plain'];
      const got = {};
      for (const v of order) {
        got[v] = await cold(v === 'plain' ? plain : twin, n);
        s[v].push(got[v]);
        process.stderr.write(`${n} tokens, ${v === 'twin' ? label : v}: ${got[v].ms.toFixed(0)} ms wall, ${got[v].cpuMs.toFixed(0)} ms CPU (${got[v].twinRuns} twin runs), load ${loadavg().join(' ')}\n`);
      }
      agree = got.plain.first === got.twin.first;
      for (let i = 0; i < got.plain.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got.plain.logits[i] - got.twin.logits[i]));
    }
    const pm = median(s.plain.map((x) => x.ms));
    const tm = median(s.twin.map((x) => x.ms));
    const pc = median(s.plain.map((x) => x.cpuMs));
    const tc = median(s.twin.map((x) => x.cpuMs));
    rows.push({
      tokens: n, plainMs: Math.round(pm), [`${name}Ms`]: Math.round(tm), speedup: +(pm / tm).toFixed(2),
      plainCpuMs: Math.round(pc), [`${name}CpuMs`]: Math.round(tc), cpuSpeedup: +(pc / tc).toFixed(2),
      plainCpuSamplesMs: s.plain.map((x) => Math.round(x.cpuMs)), [`${name}CpuSamplesMs`]: s.twin.map((x) => Math.round(x.cpuMs)),
      plainSamplesMs: s.plain.map((x) => Math.round(x.ms)), [`${name}SamplesMs`]: s.twin.map((x) => Math.round(x.ms)),
      twinRuns: s.twin[0].twinRuns, runs: s.plain[0].runs.length,
      plainRunMs: s.plain[0].runs, [`${name}RunMs`]: s.twin[0].runs,
      randomWeights: { sameFirstToken: agree, maxAbsLogitDiff: +maxDiff.toFixed(4) }, loadavg: loadavg(),
    });
    const full = {
      command: `node ${process.argv.slice(1).map((a) => path.relative(root, a) || a).join(' ')}`, ...doc, chunk, reps,
      loadavgStart: loadStart, loadavgEnd: loadavg(), cpu: `${os.cpus()[0]?.model} x${os.cpus().length}`, rows,
    };
    if (out) fs.writeFileSync(`${out}.json`, JSON.stringify(full, null, 1) + '\n');
    console.log(JSON.stringify(rows.at(-1)));
  }
  return rows;
}

/**
 * The engine's WebGPU run cap for a MatMul + Softmax graph (runtime/device-rule.ts webgpuScoreCappedRun, what
 * engine/model-side.ts gives the Generator), for `model`'s query heads (config.json num_attention_heads); the
 * `--score-cap` flag of critiprefill.mjs / lazyllm.mjs. Throws when the config has no head count.
 */
export function scoreCap(model) {
  const heads = queryHeads(model.files.config);
  if (heads === undefined) throw new Error('--score-cap: the model config has no num_attention_heads');
  return (run, past) => webgpuScoreCappedRun(run, past, heads);
}
