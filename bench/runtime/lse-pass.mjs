#!/usr/bin/env node
// The log Σ exp of a logits row (issue 15): the graph's (runtime/last-logits.ts addLogitsLse, LoadedModel.rowLse)
// against the host's float64 pass (decoding/span.ts scanRow), and the host pass's time per row, over a prompt and N
// greedy decode steps. Prints one line per step, the median pass time and the largest difference.
//   npm run build && node bench/runtime/lse-pass.mjs --model DIR [--prompt 700] [--steps 16]
import '../lib/help.mjs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const { loadModel } = await import(path.join(root, 'server/dist/runtime/index.js'));
const { scanRow } = await import(path.join(root, 'server/dist/decoding/span.js'));
const MODEL = path.resolve(arg('model', path.join(root, 'models/default')));
const PROMPT = Number(arg('prompt', 700));
const STEPS = Number(arg('steps', 16));
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${MODEL}`);
const m = await loadModel({ modelDir: MODEL, device: 'cpu' });
if (!m.computesLse) console.log('this graph computes no log Σ exp (logitsLse off, float16 logits or uncut logits)');
const c = m.createCache();
let out = await m.forward(Array.from({ length: PROMPT }, (_, i) => ((i * 37) % Math.min(5000, m.vocabSize - 10)) + 10), c);
const none = new Set();
const diffs = [];
const passMs = [];
for (let s = 0; s < STEPS; s++) {
  const g = m.rowLse(out)?.[0];
  const t0 = performance.now();
  const { lse, best } = scanRow(out, null, none);
  const ms = performance.now() - t0;
  if (s > 0) passMs.push(ms); // the first call runs unoptimized
  if (g !== undefined) diffs.push(Math.abs(g - lse));
  console.log(`step ${s}: graph ${g ?? '-'} host ${lse} diff ${g === undefined ? '-' : (g - lse).toExponential(2)} host pass ${ms.toFixed(3)} ms`);
  out = await m.forward([best], c);
}
const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
console.log(`vocab ${out.length}: host pass median ${med(passMs).toFixed(3)} ms per row; |graph − host| max ${diffs.length ? Math.max(...diffs).toExponential(2) : '-'}`);
c.dispose();
await m.dispose();
console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
