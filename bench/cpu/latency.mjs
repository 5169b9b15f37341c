// CPU latency of model variants side by side in one process (bench/cpu/make-variants.sh builds them): prefill of
// PREFILL tokens in one run, then decode steps at that past, per variant, in alternating order rep by rep
// (A B C, C B A, ...) so that background load drifts hit every variant alike. Reports medians and the load average.
//   node bench/cpu/latency.mjs DIR... [--threads 2] [--reps 5] [--prefill 512] [--steps 16] [--out FILE.json]
// (needs npm run build; timing under bench/cpu/avx2.sh's emulation is meaningless)
import '../lib/help.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { loadBundle } = await import(path.join(root, 'server/dist/engine/load.js'));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const dirs = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const THREADS = Number(opt('threads', 2));
const REPS = Number(opt('reps', 5));
const PREFILL = Number(opt('prefill', 512));
const STEPS = Number(opt('steps', 16));
const out = opt('out');
if (!dirs.length) {
  console.error('usage: node bench/cpu/latency.mjs DIR... [--threads 2] [--reps 5] [--prefill 512] [--steps 16] [--out FILE]');
  process.exit(2);
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const bundles = [];
for (const d of dirs) bundles.push(await loadBundle({ modelDir: d, device: 'cpu', intraOpNumThreads: THREADS }));
// Real code as the prompt (token ids do not change the cost, but keep it honest).
const text = fs.readFileSync(path.join(root, 'server/src/runtime/model.ts'), 'utf8').repeat(4);
const ids = bundles[0].tokenizer.encode(text).slice(0, PREFILL);
const rss0 = process.memoryUsage().rss;
const res = dirs.map(() => ({ prefill: [], decode: [] }));
const load = [os.loadavg()[0]];
for (let rep = -1; rep < REPS; rep++) {
  const order = dirs.map((_, i) => i);
  if (rep % 2) order.reverse();
  for (const i of order) {
    const m = bundles[i].model;
    const c = m.createCache();
    let t = performance.now();
    await m.forward(ids, c);
    const pre = performance.now() - t;
    t = performance.now();
    for (let k = 0; k < STEPS; k++) await m.forward([ids[k]], c);
    const dec = (performance.now() - t) / STEPS;
    c.dispose();
    if (rep >= 0) {
      res[i].prefill.push(pre);
      res[i].decode.push(dec);
    }
  }
  load.push(os.loadavg()[0]);
}
const report = {
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model,
  threads: THREADS,
  reps: REPS,
  prefill_tokens: PREFILL,
  decode_steps: STEPS,
  load1_during: [Math.min(...load), Math.max(...load)].map((x) => +x.toFixed(2)),
  process_rss_mb_after_loading_all: +(rss0 / 2 ** 20).toFixed(0),
  variants: dirs.map((d, i) => ({
    dir: d,
    prefill_ms_median: +median(res[i].prefill).toFixed(1),
    decode_ms_per_token_median: +median(res[i].decode).toFixed(2),
    prefill_ms: res[i].prefill.map((x) => +x.toFixed(1)),
    decode_ms_per_token: res[i].decode.map((x) => +x.toFixed(2)),
  })),
};
console.log(JSON.stringify(report, null, 1));
if (out) fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
for (const b of bundles) await b.model.dispose();
