// Our WGSL decode step inside the runtime (LoadModelOptions.wgslDecode, issue 15) against onnxruntime's WebGPU decode
// of the same model, in one process: the same prompt (--past random token ids, or golden.json's prompts with
// --golden) prefilled by onnxruntime in both, then --steps greedy decode steps each, the onnxruntime model's tokens
// fed to both (teacher forcing, so one parting does not change every later step). Reports per step the largest
// |logit difference|, whether the top-1 tokens agree where onnxruntime's top-2 margin is clear of that difference, the
// log Σ exp difference, and each path's ms per step (median; the WGSL path's first step includes the K/V hand-over).
//   node bench/realmodels/wgsl-engine-check.mjs --model DIR [--past 2048] [--steps 32] [--golden] [--max-context N]
// Needs a WebGPU adapter (the GPU machine, or Mesa's lavapipe here) and the `webgpu` package. Prints one JSON line.
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({ options: { model: { type: 'string' }, past: { type: 'string', default: '2048' }, steps: { type: 'string', default: '32' }, golden: { type: 'boolean', default: false }, 'max-context': { type: 'string' } } });
if (!o.model) {
  console.error('usage: node bench/realmodels/wgsl-engine-check.mjs --model DIR [--past N] [--steps N] [--golden] [--max-context N]');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadModel } = await import(pathToFileURL(path.join(root, 'server/dist/runtime/index.js')).href);
const modelDir = path.resolve(o.model);
const notes = [];
const wgsl = await loadModel({ modelDir, device: 'webgpu', wgslDecode: true, ...(o['max-context'] ? { wgslMaxContext: Number(o['max-context']) } : {}), onStatus: (m) => /^wgslDecode/.test(m) && notes.push(m) });
if (!wgsl.wgslDecode) {
  console.error(`wgsl-engine-check: ${notes.join('; ') || 'the WGSL decoder did not start'}`);
  process.exit(1);
}
const ort = await loadModel({ modelDir, device: 'webgpu', wgslDecode: false });
const V = ort.vocabSize;
const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };
const lseOf = (a) => { let m = -Infinity; for (const x of a) m = Math.max(m, x); let s = 0; for (const x of a) s += Math.exp(x - m); return m + Math.log(s); };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
const prompts = o.golden
  ? JSON.parse(fs.readFileSync(path.join(modelDir, 'golden.json'), 'utf8')).cases.map((c) => ({ ids: c.input_ids, steps: c.greedy.length, greedy: c.greedy }))
  : [{ ids: Array.from({ length: Number(o.past) }, () => 100 + (rnd() % (V - 200))), steps: Number(o.steps) }];

const rows = [];
const ms = { wgsl: [], ort: [] };
let goldenAgree = 0, goldenTotal = 0;
for (const p of prompts) {
  const cw = wgsl.createCache();
  const co = ort.createCache();
  let lw = await wgsl.forward(p.ids, cw);
  let lo = await ort.forward(p.ids, co);
  for (let s = 0; s < p.steps; s++) {
    // step s compares the rows after the same tokens; the next token is onnxruntime's choice
    let d = 0;
    for (let i = 0; i < V; i++) d = Math.max(d, Math.abs(lw[i] - lo[i]));
    const top = argmax(lo);
    let second = -Infinity;
    for (let i = 0; i < V; i++) if (i !== top && lo[i] > second) second = lo[i];
    const lseW = wgsl.rowLse(lw)?.[0];
    if (s > 0) rows.push({ maxAbsDiff: d, margin: lo[top] - second, agree: argmax(lw) === top, lseDiff: lseW === undefined ? null : Math.abs(lseW - lseOf(lw)) });
    if (p.greedy) { goldenTotal++; if (argmax(lw) === p.greedy[s]) goldenAgree++; }
    let t = performance.now();
    lw = await wgsl.forward([top], cw);
    ms.wgsl.push(performance.now() - t);
    t = performance.now();
    lo = await ort.forward([top], co);
    ms.ort.push(performance.now() - t);
  }
  cw.dispose();
  co.dispose();
}
const maxDiff = Math.max(...rows.map((r) => r.maxAbsDiff));
const clear = rows.filter((r) => r.margin > 2 * maxDiff);
const out = {
  model: path.relative(process.cwd(), modelDir), device: wgsl.wgslDecode.adapter, host: os.cpus()[0]?.model, load: os.loadavg().map((x) => +x.toFixed(2)),
  prompts: prompts.length, past: o.golden ? null : Number(o.past), stepsCompared: rows.length, wgslSteps: wgsl.wgslSteps, wgslCounts: wgsl.wgslDecode.counts, lastHandOver: wgsl.wgslDecode.lastHandOver, maxContext: wgsl.wgslDecode.maxContext,
  maxAbsLogitDiff: +maxDiff.toExponential(3), tokensAgree: rows.filter((r) => r.agree).length, clearMarginSteps: clear.length, clearMarginAgree: clear.filter((r) => r.agree).length,
  maxLseDiff: rows.some((r) => r.lseDiff !== null) ? +Math.max(...rows.map((r) => r.lseDiff ?? 0)).toExponential(3) : null,
  ...(o.golden ? { goldenAgree, goldenTotal } : {}),
  msPerStep: { wgslFirst: +ms.wgsl[0].toFixed(2), wgslMedian: +median(ms.wgsl.slice(1)).toFixed(3), onnxruntimeMedian: +median(ms.ort.slice(1)).toFixed(3) },
};
console.log(JSON.stringify(out));
await wgsl.dispose();
await ort.dispose();
process.exit(0);
